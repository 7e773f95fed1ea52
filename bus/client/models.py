# ruff: noqa: E501
"""Typed models of the bus's events, GENERATED from ``schemas/avro/*.avsc`` — do not edit.

Regenerate with ``python -m bus.client.codegen`` (a unit test fails when this file and the
schemas disagree). One model per record; field descriptions are the schemas' docs and each
field's classification is in its JSON schema (``json_schema_extra``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ENTITY_MODELS",
    "EVENT_MODELS",
    "KEY_MODELS",
    "BirthCertificate",
    "BirthCertificateKey",
    "CaseAnomaly",
    "CaseCause",
    "CaseStep",
    "Enterprise",
    "EnterpriseKey",
    "FacetItem",
    "FieldValue",
    "Household",
    "HouseholdKey",
    "HouseholdRegistration",
    "HouseholdRegistrationKey",
    "InsuranceEnrolment",
    "InsuranceEnrolmentKey",
    "Marriage",
    "MarriageKey",
    "NewbornCase",
    "NewbornCaseKey",
    "NewbornHousehold",
    "NewbornInsurance",
    "Person",
    "PersonKey",
    "Profile",
    "ProfileKey",
    "Provenance",
    "ServiceCase",
    "ServiceCaseKey",
    "SocialAssistance",
    "SocialAssistanceKey",
    "SocialInsurance",
    "SocialInsuranceKey",
    "SourceRecord",
    "TaxRegistration",
    "TaxRegistrationKey",
]


class SourceRecord(BaseModel):
    """Avro record rongtong.std.SourceRecord."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.SourceRecord'
    department: str = Field(description='Department code, e.g. gongan.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})
    table: str = Field(description='Legacy table name.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})
    record_key: str = Field(description='Key of the legacy row.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})
    event_id: str = Field(description='ce_id of the raw change event.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})
    op: str = Field(description='Operation of the raw change: c, u, d or r.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})
    updated_at: dt.datetime | None = Field(default=None, description='Update time the legacy row carried.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class BirthCertificate(BaseModel):
    """A birth certificate (出生医学证明) of the Health Commission (std.birth_certificate); the trigger of the newborn one-thing flow. The newborn has no identity number yet."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.BirthCertificate'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.std.birth_certificate.upserted', 'rongtong.std.birth_certificate.deleted')
    entity: ClassVar[str] = 'birth_certificate'
    certificate_number: str = Field(description='Birth certificate number (出生医学证明编号).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    mother_identity_number: str = Field(description='Identity number of the mother. 18 characters, GB 11643-1999 (15-digit numbers upgraded, full-width and lower-case x normalized).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm', 'standard': 'GB 11643-1999'})
    father_identity_number: str | None = Field(default=None, description='Identity number of the father; null when not registered. 18 characters, GB 11643-1999 (15-digit numbers upgraded, full-width and lower-case x normalized).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm', 'standard': 'GB 11643-1999'})
    newborn_sex_code: str = Field(description='Sex of the newborn, GB/T 2261.1 code. Personal information of a child under 14 is sensitive (PIPL art. 28).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm', 'code_table': 'GB/T 2261.1'})
    birth_date: dt.date = Field(description='Date of birth of the newborn. Personal information of a child under 14 is sensitive (PIPL art. 28).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    newborn_name: str = Field(description='Name of the newborn, normalized. Personal information of a child under 14 is sensitive (PIPL art. 28).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    birth_time: dt.time | None = Field(default=None, description="Time of birth, local time (the register's 08:35, 0835, 8时35分 read).", json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    mother_name: str = Field(description='Name of the mother, normalized.', json_schema_extra={'classification': 'personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    father_name: str | None = Field(default=None, description='Name of the father, normalized; null when not registered.', json_schema_extra={'classification': 'personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    birth_place: str | None = Field(default=None, description='Place of birth (出生地点), usually the hospital. Personal information of a child under 14 is sensitive (PIPL art. 28).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    issue_date: dt.date | None = Field(default=None, description='Date the certificate was issued (签发日期).', json_schema_extra={'classification': 'internal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    source: SourceRecord | None = Field(default=None, description='The legacy record this value was standardized from. Filled by the bus; leave it out when publishing.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class BirthCertificateKey(BaseModel):
    """Key of std.birth_certificate: one entry per certificate."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.BirthCertificateKey'
    certificate_number: str = Field(description='Birth certificate number (出生医学证明编号).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})


class Enterprise(BaseModel):
    """An enterprise as the market register records it (std.enterprise), one per unified social credit code."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.Enterprise'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.std.enterprise.upserted', 'rongtong.std.enterprise.deleted')
    entity: ClassVar[str] = 'enterprise'
    credit_code: str = Field(description='Unified social credit code (统一社会信用代码), 18 characters, GB 32100-2015, check character verified, upper case.', json_schema_extra={'classification': 'public', 'owner': 'scjg', 'authoritative_source': 'scjg.qy_jbxx', 'standard': 'GB 32100-2015'})
    name: str = Field(description='Registered name (企业名称), whitespace and full-width forms normalized.', json_schema_extra={'classification': 'public', 'owner': 'scjg', 'authoritative_source': 'scjg.qy_jbxx'})
    legal_rep_identity_number: str = Field(description='Identity number of the legal representative (法定代表人). 18 characters, GB 11643-1999 (15-digit numbers upgraded, full-width and lower-case x normalized).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'scjg', 'authoritative_source': 'scjg.qy_jbxx', 'standard': 'GB 11643-1999'})
    legal_rep_name: str = Field(description='Name of the legal representative, normalized; disclosed publicly with the enterprise register.', json_schema_extra={'classification': 'public', 'owner': 'scjg', 'authoritative_source': 'scjg.qy_jbxx'})
    registered_capital: Decimal | None = Field(default=None, description='Registered capital (注册资本) in 万元 (10,000 CNY), exact.', json_schema_extra={'classification': 'public', 'owner': 'scjg', 'authoritative_source': 'scjg.qy_jbxx', 'unit': '10000 CNY'})
    founding_date: dt.date = Field(description='Date of establishment (成立日期).', json_schema_extra={'classification': 'public', 'owner': 'scjg', 'authoritative_source': 'scjg.qy_jbxx'})
    status_code: str = Field(description='Registration status (登记状态), canonical code: existing, revoked, deregistered, moved_out, cancelled.', json_schema_extra={'classification': 'public', 'owner': 'scjg', 'authoritative_source': 'scjg.qy_jbxx', 'code_table': 'enterprise_status'})
    source: SourceRecord | None = Field(default=None, description='The legacy record this value was standardized from. Filled by the bus; leave it out when publishing.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class EnterpriseKey(BaseModel):
    """Key of std.enterprise: one compacted entry per credit code."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.EnterpriseKey'
    credit_code: str = Field(description='Unified social credit code (统一社会信用代码), 18 characters, GB 32100-2015, check character verified, upper case.', json_schema_extra={'classification': 'public', 'owner': 'scjg', 'authoritative_source': 'scjg.qy_jbxx', 'standard': 'GB 32100-2015'})


class Household(BaseModel):
    """A registered household (户) of the Public Security household register (std.household): its address and members. Derived from the register's person rows grouped by household."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.Household'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.std.household.upserted', 'rongtong.std.household.deleted')
    entity: ClassVar[str] = 'household'
    household_id: str = Field(description="Household number (户号) of the Public Security register. Registers without one (the reference hj_ryxx) use '<division_code>/<normalized household address>'.", json_schema_extra={'classification': 'internal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx'})
    division_code: str | None = Field(default=None, description='Administrative division of the household, GB/T 2260 six-digit code.', json_schema_extra={'classification': 'internal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx', 'code_table': 'GB/T 2260'})
    household_address: str = Field(description='Address of the household registration, whitespace and width normalized.', json_schema_extra={'classification': 'personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx'})
    head_identity_number: str | None = Field(default=None, description='Identity number of the head of household (户主), when recorded. 18 characters, GB 11643-1999 (15-digit numbers upgraded, full-width and lower-case x normalized).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx', 'standard': 'GB 11643-1999'})
    member_identity_numbers: list[str] = Field(default_factory=list, description='Identity numbers of the registered members, in register order. 18 characters, GB 11643-1999 (15-digit numbers upgraded, full-width and lower-case x normalized).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx', 'standard': 'GB 11643-1999'})
    source: SourceRecord | None = Field(default=None, description='The legacy record this value was standardized from. Filled by the bus; leave it out when publishing.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class HouseholdKey(BaseModel):
    """Key of std.household: one compacted entry per household."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.HouseholdKey'
    household_id: str = Field(description="Household number (户号) of the Public Security register. Registers without one (the reference hj_ryxx) use '<division_code>/<normalized household address>'.", json_schema_extra={'classification': 'internal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx'})


class HouseholdRegistration(BaseModel):
    """A request to Public Security (gongan) to register a person in the household register (户籍登记申请), e.g. a newborn (std.household_registration). Published by the newborn process manager or by a new application (POST /v1/events/household_registration); the write-back sink writes it into gongan.hj_ryxx as a row pending approval, and the clerk's approval comes back through capture as std.person."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.HouseholdRegistration'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.std.household_registration.upserted', 'rongtong.std.household_registration.deleted')
    entity: ClassVar[str] = 'household_registration'
    registration_id: str = Field(description='Identifier of the registration request, unique for ever: the write-back derives the legacy person number (RYBH) from it.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    case_id: str | None = Field(default=None, description='Case number of the service case (一件事) the request belongs to; null for a request outside a case.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    certificate_number: str | None = Field(default=None, description='Birth certificate number (出生医学证明编号) the registration rests on; null when not a birth.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    name: str = Field(description='Name of the person to register, normalized. Personal information of a child under 14 is sensitive (PIPL art. 28).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    sex_code: str = Field(description='Sex, GB/T 2261.1 code. Personal information of a child under 14 is sensitive (PIPL art. 28).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm', 'code_table': 'GB/T 2261.1'})
    birth_date: dt.date = Field(description='Date of birth. Personal information of a child under 14 is sensitive (PIPL art. 28).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    division_code: str | None = Field(default=None, description='Administrative division of the household register to join, GB/T 2260 (6 digits).', json_schema_extra={'classification': 'personal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case', 'code_table': 'GB/T 2260'})
    household_address: str | None = Field(default=None, description='Address of the household to join (户籍地址), normalized.', json_schema_extra={'classification': 'personal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    mother_identity_number: str | None = Field(default=None, description='Identity number of the mother; null when unknown. 18 characters, GB 11643-1999.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm', 'standard': 'GB 11643-1999'})
    father_identity_number: str | None = Field(default=None, description='Identity number of the father; null when not registered. 18 characters, GB 11643-1999.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm', 'standard': 'GB 11643-1999'})
    requested_at: dt.datetime = Field(description='When the request was made.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    source: SourceRecord | None = Field(default=None, description='The legacy record this value was standardized from. Filled by the bus; leave it out when publishing.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class HouseholdRegistrationKey(BaseModel):
    """Key of std.household_registration: one entry per registration request."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.HouseholdRegistrationKey'
    registration_id: str = Field(description='Identifier of the registration request, unique for ever: the write-back derives the legacy person number (RYBH) from it.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})


class InsuranceEnrolment(BaseModel):
    """A request to HRSS (rsj) to enrol a person in social insurance (参保登记申请), e.g. a newborn in residents' medical insurance (std.insurance_enrolment). Published by the newborn process manager or by a new application (POST /v1/events/insurance_enrolment); the write-back sink writes it into rsj.ac01 as a row pending approval, and the clerk's approval comes back through capture as std.social_insurance."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.InsuranceEnrolment'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.std.insurance_enrolment.upserted', 'rongtong.std.insurance_enrolment.deleted')
    entity: ClassVar[str] = 'insurance_enrolment'
    enrolment_id: str = Field(description='Identifier of the enrolment request, unique for ever: the write-back derives the legacy personal number (AAC001) from it.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    case_id: str | None = Field(default=None, description='Case number of the service case (一件事) the request belongs to; null for a request outside a case.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    certificate_number: str | None = Field(default=None, description='Birth certificate number (出生医学证明编号) of a newborn to enrol; null otherwise.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    identity_number: str | None = Field(default=None, description='Identity number of the person to enrol; null when not yet assigned (a newborn). 18 characters, GB 11643-1999.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx', 'standard': 'GB 11643-1999'})
    name: str = Field(description='Name of the person to enrol, normalized.', json_schema_extra={'classification': 'personal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    sex_code: str = Field(description='Sex, GB/T 2261.1 code.', json_schema_extra={'classification': 'personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm', 'code_table': 'GB/T 2261.1'})
    birth_date: dt.date = Field(description='Date of birth.', json_schema_extra={'classification': 'personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    employer_credit_code: str | None = Field(default=None, description='Unified social credit code of the employer (参保单位), GB 32100-2015; null for persons insured on their own (a newborn).', json_schema_extra={'classification': 'personal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case', 'standard': 'GB 32100-2015'})
    requested_at: dt.datetime = Field(description='When the request was made.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    source: SourceRecord | None = Field(default=None, description='The legacy record this value was standardized from. Filled by the bus; leave it out when publishing.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class InsuranceEnrolmentKey(BaseModel):
    """Key of std.insurance_enrolment: one entry per enrolment request."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.InsuranceEnrolmentKey'
    enrolment_id: str = Field(description='Identifier of the enrolment request, unique for ever: the write-back derives the legacy personal number (AAC001) from it.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})


class Marriage(BaseModel):
    """A marriage or divorce registration (婚姻登记) of Civil Affairs (std.marriage). A divorced couple has two registrations."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.Marriage'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.std.marriage.upserted', 'rongtong.std.marriage.deleted')
    entity: ClassVar[str] = 'marriage'
    registration_number: str = Field(description='Marriage registration number (登记编号) of Civil Affairs.', json_schema_extra={'classification': 'internal', 'owner': 'mz', 'authoritative_source': 'mz.hydj'})
    husband_identity_number: str = Field(description='Identity number of the husband (男方). 18 characters, GB 11643-1999 (15-digit numbers upgraded, full-width and lower-case x normalized).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'mz', 'authoritative_source': 'mz.hydj', 'standard': 'GB 11643-1999'})
    husband_name: str = Field(description='Name of the husband, normalized.', json_schema_extra={'classification': 'personal', 'owner': 'mz', 'authoritative_source': 'mz.hydj'})
    wife_identity_number: str = Field(description='Identity number of the wife (女方). 18 characters, GB 11643-1999 (15-digit numbers upgraded, full-width and lower-case x normalized).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'mz', 'authoritative_source': 'mz.hydj', 'standard': 'GB 11643-1999'})
    wife_name: str = Field(description='Name of the wife, normalized.', json_schema_extra={'classification': 'personal', 'owner': 'mz', 'authoritative_source': 'mz.hydj'})
    registration_type: str = Field(description='What was registered, canonical code: marriage (结婚) or divorce (离婚).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'mz', 'authoritative_source': 'mz.hydj', 'code_table': 'marriage_registration_type'})
    registration_date: dt.date = Field(description='Date of the registration (登记日期).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'mz', 'authoritative_source': 'mz.hydj'})
    source: SourceRecord | None = Field(default=None, description='The legacy record this value was standardized from. Filled by the bus; leave it out when publishing.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class MarriageKey(BaseModel):
    """Key of std.marriage: one entry per registration."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.MarriageKey'
    registration_number: str = Field(description='Marriage registration number (登记编号) of Civil Affairs.', json_schema_extra={'classification': 'internal', 'owner': 'mz', 'authoritative_source': 'mz.hydj'})


class NewbornHousehold(BaseModel):
    """The newborn's record in the Public Security household register, linked to the case."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.projection.NewbornHousehold'
    identity_number: str = Field(description='Identity number of the newborn in the register, GB 11643-1999.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx', 'standard': 'GB 11643-1999'})
    record_key: str = Field(description='Key of the register row (RYBH).', json_schema_extra={'classification': 'internal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx'})
    division_code: str | None = Field(default=None, description='Administrative division of the household registration, GB/T 2260.', json_schema_extra={'classification': 'personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx', 'standard': 'GB/T 2260'})
    link_rule: str = Field(description='Correlation rule that linked the row: identity_on_application or birth_and_parent_household.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})


class NewbornInsurance(BaseModel):
    """The newborn's enrolment in the HRSS register, linked to the case."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.projection.NewbornInsurance'
    insurance_number: str = Field(description='Personal insurance number (个人编号).', json_schema_extra={'classification': 'personal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01'})
    identity_number: str = Field(description='Identity number of the insured newborn, GB 11643-1999.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01', 'standard': 'GB 11643-1999'})
    status_code: str = Field(description='Insurance status: paying or suspended (terminated enrolments do not count).', json_schema_extra={'classification': 'internal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01', 'code_table': 'insurance_status'})


class CaseAnomaly(BaseModel):
    """An event the state machine refused (illegal transition), kept once."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.projection.CaseAnomaly'
    event: str = Field(description='Kind of the refused event, e.g. application_rejected.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    status: str = Field(description='Status the case had when the event came.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    reason: str = Field(description='Why it was refused.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    source: str = Field(description='The legacy record behind the event: department.table/record_key.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})


class CaseCause(BaseModel):
    """The input event that made this version."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.projection.CaseCause'
    topic: str = Field(description='Canonical topic of the event.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    partition: int = Field(description='Partition of the event.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    offset: int = Field(description='Offset of the event.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    source: str | None = Field(default=None, description='The legacy record behind the change: department.table/record_key.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})


class NewbornCase(BaseModel):
    """A version of a newborn case (新生儿出生“一件事”) on projection.newborn_case: compacted by birth certificate number. The process manager's view of one birth: the certificate, the citizen app's application, the household registration and the insurance enrolment as they came back through capture."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.projection.NewbornCase'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.projection.newborn_case.changed',)
    certificate_number: str = Field(description="Birth certificate number (出生医学证明编号): the case's key.", json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    version: int = Field(description='Version of the case; each change adds one.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    believed_at: dt.datetime = Field(description='When the bus came to believe this version (Kafka time of the event that caused it).', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    status: str = Field(description='State of the case: void, awaiting_certificate, born, applied, household_registered, insured, completed, rejected or cancelled (docs/newborn-case.md).', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    awaiting: list[str] = Field(default_factory=list, description="Departments' steps the case still waits for: register_household (gongan), enrol_insurance (rsj). Empty unless an application is active.", json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    case_id: str | None = Field(default=None, description='Case number of the application on the government service platform; null before the app applied.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    application_status: str | None = Field(default=None, description='Status of the application as the platform last reported it (service_case_status code).', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case', 'code_table': 'service_case_status'})
    applicant_identity_number: str | None = Field(default=None, description='Identity number of the applicant (a parent), GB 11643-1999.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case', 'standard': 'GB 11643-1999'})
    submitted_at: dt.datetime | None = Field(default=None, description='When the applicant submitted the application.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    birth_date: dt.date | None = Field(default=None, description="Date of birth of the newborn; null until Health's certificate is seen. Personal information of a child under 14 is sensitive (PIPL art. 28).", json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    newborn_name: str | None = Field(default=None, description='Name of the newborn on the certificate. Personal information of a child under 14 is sensitive (PIPL art. 28).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})
    newborn_sex_code: str | None = Field(default=None, description='Sex of the newborn, GB/T 2261.1 code.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm', 'code_table': 'GB/T 2261.1'})
    mother_identity_number: str | None = Field(default=None, description='Identity number of the mother, GB 11643-1999.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm', 'standard': 'GB 11643-1999'})
    father_identity_number: str | None = Field(default=None, description='Identity number of the father; null when not registered. GB 11643-1999.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm', 'standard': 'GB 11643-1999'})
    newborn_identity_number: str | None = Field(default=None, description='Identity number given to the newborn by the household registration (or recorded on the application), GB 11643-1999.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx', 'standard': 'GB 11643-1999'})
    household: NewbornHousehold | None = Field(default=None, description='The household registration (Public Security); null until its row came back.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx'})
    insurance: NewbornInsurance | None = Field(default=None, description='The social-insurance enrolment (HRSS); null until its row came back.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01'})
    anomalies: list[CaseAnomaly] = Field(default_factory=list, description='Refused transitions, oldest first.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})
    cause: CaseCause = Field(description='The input event that made this version.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.newborn_case'})


class NewbornCaseKey(BaseModel):
    """Key of projection.newborn_case: one compacted entry per birth certificate."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.projection.NewbornCaseKey'
    certificate_number: str = Field(description="Birth certificate number (出生医学证明编号): the case's key.", json_schema_extra={'classification': 'sensitive_personal', 'owner': 'wsjk', 'authoritative_source': 'wsjk.csyxzm'})


class Person(BaseModel):
    """A natural person as the national data standard describes them (std.person)."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.Person'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.std.person.upserted', 'rongtong.std.person.deleted')
    entity: ClassVar[str] = 'person'
    identity_number: str = Field(description='Citizen identity number, 18 characters, GB 11643-1999 (15-digit numbers upgraded).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx', 'standard': 'GB 11643-1999'})
    name: str = Field(description='Full name, normalized (half-width, no inner spaces, middle dot for minority names).', json_schema_extra={'classification': 'personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx'})
    sex_code: str = Field(description='Sex, GB/T 2261.1 code: 0 unknown, 1 male, 2 female, 9 not stated.', json_schema_extra={'classification': 'personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx', 'code_table': 'GB/T 2261.1'})
    birth_date: dt.date = Field(description='Date of birth.', json_schema_extra={'classification': 'personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx'})
    division_code: str | None = Field(default=None, description='Administrative division of the household register, GB/T 2260 six-digit code.', json_schema_extra={'classification': 'internal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx', 'code_table': 'GB/T 2260'})
    household_address: str | None = Field(default=None, description='Address of the household registration.', json_schema_extra={'classification': 'personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx'})
    source: SourceRecord | None = Field(default=None, description='The legacy record this value was standardized from. Filled by the bus; leave it out when publishing.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class PersonKey(BaseModel):
    """Key of std.person: one partition and one compacted entry per person."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.PersonKey'
    identity_number: str = Field(description='18-character GB 11643-1999 number.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'gongan', 'authoritative_source': 'gongan.hj_ryxx', 'standard': 'GB 11643-1999'})


class Provenance(BaseModel):
    """Where a value came from."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.projection.Provenance'
    department: str = Field(description='Department of the legacy record.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    table: str = Field(description='Legacy table of the record.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    record_key: str = Field(description='Key of the legacy row.', json_schema_extra={'classification': 'personal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    event_id: str = Field(description='ce_id of the raw change event the value came through.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    topic: str = Field(description='Canonical topic of the event.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    partition: int = Field(description='Partition of the event.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    offset: int = Field(description='Offset of the event.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    event_time: dt.datetime = Field(description="Update time of the legacy row (or the event's Kafka time).", json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    op: str = Field(description='Change behind the value: c, u or r (snapshot); empty if unknown.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})


class FieldValue(BaseModel):
    """A surviving value with its provenance."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.projection.FieldValue'
    value: str | None = Field(default=None, description='The value as text (dates ISO 8601, amounts exact).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    rule: str = Field(description='The survivorship rule that chose it: authoritative_source or most_recent.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    provenance: Provenance = Field(description='The record the value came from.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})


class FacetItem(BaseModel):
    """One record in a facet of the profile (e.g. one marriage)."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.projection.FacetItem'
    values: dict[str, str | None] = Field(description="The record's fields as text.", json_schema_extra={'classification': 'sensitive_personal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    provenance: Provenance = Field(description='The record the item came from.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})


class Profile(BaseModel):
    """A version of a profile (one file per citizen or enterprise) on projection.<name>: compacted by subject; a tombstone when the profile is gone."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.projection.Profile'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.projection.citizen_profile.changed', 'rongtong.projection.enterprise_profile.changed')
    subject: str = Field(description="The profile's key: identity number or credit code.", json_schema_extra={'classification': 'sensitive_personal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    version: int = Field(description='Version of the profile; each change of belief adds one.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    believed_at: dt.datetime = Field(description='When the bus came to believe this version (Kafka time of the event that caused it).', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    fields: dict[str, FieldValue] = Field(description='Surviving scalar fields by name.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})
    facets: dict[str, list[FacetItem]] = Field(description='Records of other departments about the subject, by facet name.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})


class ProfileKey(BaseModel):
    """Key of projection.<name> topics."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.projection.ProfileKey'
    subject: str = Field(description="The profile's key: identity number or credit code.", json_schema_extra={'classification': 'sensitive_personal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.projection'})


class CaseStep(BaseModel):
    """One department's part of the case."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.CaseStep'
    department: str = Field(description='Department code doing the step, e.g. gongan.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    task: str = Field(description='What the department does, e.g. household_registration.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    status_code: str = Field(description='State of the step (service_case_status code).', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case', 'code_table': 'service_case_status'})
    updated_at: dt.datetime | None = Field(default=None, description='When the step last changed state.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})


class ServiceCase(BaseModel):
    """A cross-department service case (一件事一次办), e.g. the newborn flow (std.service_case). Published by the government service platform (zwfw) and by the bus when departments' rows come back."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.ServiceCase'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.std.service_case.upserted', 'rongtong.std.service_case.deleted')
    entity: ClassVar[str] = 'service_case'
    case_id: str = Field(description='Case number given by the government service platform.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    case_type: str = Field(description='Kind of case, canonical code (newborn).', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case', 'code_table': 'service_case_type'})
    status_code: str = Field(description='State of the case, canonical code: submitted, in_progress, completed, rejected, cancelled.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case', 'code_table': 'service_case_status'})
    applicant_identity_number: str = Field(description='Identity number of the applicant. 18 characters, GB 11643-1999 (15-digit numbers upgraded, full-width and lower-case x normalized).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case', 'standard': 'GB 11643-1999'})
    applicant_name: str | None = Field(default=None, description='Name of the applicant, normalized.', json_schema_extra={'classification': 'personal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    subject_reference: str | None = Field(default=None, description="What the case is about, e.g. 'wsjk.csyxzm/<certificate number>' for a newborn case.", json_schema_extra={'classification': 'sensitive_personal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    steps: list[CaseStep] = Field(default_factory=list, description="The departments' steps, in the order the case needs them.", json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    submitted_at: dt.datetime = Field(description='When the applicant submitted the case.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    updated_at: dt.datetime = Field(description='When the case last changed state.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})
    source: SourceRecord | None = Field(default=None, description='The legacy record this value was standardized from. Filled by the bus; leave it out when publishing.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class ServiceCaseKey(BaseModel):
    """Key of std.service_case: one compacted entry per case."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.ServiceCaseKey'
    case_id: str = Field(description='Case number given by the government service platform.', json_schema_extra={'classification': 'internal', 'owner': 'zwfw', 'authoritative_source': 'zwfw.service_case'})


class SocialAssistance(BaseModel):
    """A social-assistance payment record (低保/特困救助) of Civil Affairs (std.social_assistance)."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.SocialAssistance'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.std.social_assistance.upserted', 'rongtong.std.social_assistance.deleted')
    entity: ClassVar[str] = 'social_assistance'
    assistance_number: str = Field(description='Assistance record number (救助编号) of Civil Affairs.', json_schema_extra={'classification': 'internal', 'owner': 'mz', 'authoritative_source': 'mz.dbjz'})
    identity_number: str = Field(description='Identity number of the recipient. 18 characters, GB 11643-1999 (15-digit numbers upgraded, full-width and lower-case x normalized).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'mz', 'authoritative_source': 'mz.dbjz', 'standard': 'GB 11643-1999'})
    name: str = Field(description='Name of the recipient, normalized.', json_schema_extra={'classification': 'personal', 'owner': 'mz', 'authoritative_source': 'mz.dbjz'})
    assistance_type: str = Field(description='Kind of assistance, canonical code: minimum_living (低保), extreme_poverty (特困), temporary.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'mz', 'authoritative_source': 'mz.dbjz', 'code_table': 'social_assistance_type'})
    amount: Decimal = Field(description='Amount paid, in yuan (CNY), exact.', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'mz', 'authoritative_source': 'mz.dbjz', 'unit': 'CNY'})
    payment_date: dt.date = Field(description='Date of payment (发放日期).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'mz', 'authoritative_source': 'mz.dbjz'})
    source: SourceRecord | None = Field(default=None, description='The legacy record this value was standardized from. Filled by the bus; leave it out when publishing.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class SocialAssistanceKey(BaseModel):
    """Key of std.social_assistance: one entry per assistance record."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.SocialAssistanceKey'
    assistance_number: str = Field(description='Assistance record number (救助编号) of Civil Affairs.', json_schema_extra={'classification': 'internal', 'owner': 'mz', 'authoritative_source': 'mz.dbjz'})


class SocialInsurance(BaseModel):
    """A person's social-insurance enrolment (参保) as HRSS records it (std.social_insurance). Identity fields are HRSS's copy; std.person (gongan.hj_ryxx) is authoritative for identity."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.SocialInsurance'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.std.social_insurance.upserted', 'rongtong.std.social_insurance.deleted')
    entity: ClassVar[str] = 'social_insurance'
    insurance_number: str = Field(description='Personal insurance number (个人编号) of the HRSS register; one person may hold two.', json_schema_extra={'classification': 'personal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01'})
    identity_number: str = Field(description='Identity number of the insured person. 18 characters, GB 11643-1999 (15-digit numbers upgraded, full-width and lower-case x normalized).', json_schema_extra={'classification': 'sensitive_personal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01', 'standard': 'GB 11643-1999'})
    name: str = Field(description='Name of the insured person, normalized.', json_schema_extra={'classification': 'personal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01'})
    sex_code: str = Field(description="Sex, GB/T 2261.1 code (the register's M/F and 男/女 mapped).", json_schema_extra={'classification': 'personal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01', 'code_table': 'GB/T 2261.1'})
    birth_date: dt.date = Field(description='Date of birth as HRSS records it.', json_schema_extra={'classification': 'personal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01'})
    employer_credit_code: str | None = Field(default=None, description='Unified social credit code of the employer (参保单位), GB 32100-2015; null for persons insured on their own.', json_schema_extra={'classification': 'personal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01', 'standard': 'GB 32100-2015'})
    status_code: str = Field(description='Insurance status (参保状态), canonical code: paying, suspended, terminated.', json_schema_extra={'classification': 'personal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01', 'code_table': 'insurance_status'})
    source: SourceRecord | None = Field(default=None, description='The legacy record this value was standardized from. Filled by the bus; leave it out when publishing.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class SocialInsuranceKey(BaseModel):
    """Key of std.social_insurance: one entry per insurance number."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.SocialInsuranceKey'
    insurance_number: str = Field(description='Personal insurance number (个人编号) of the HRSS register; one person may hold two.', json_schema_extra={'classification': 'personal', 'owner': 'rsj', 'authoritative_source': 'rsj.ac01'})


class TaxRegistration(BaseModel):
    """A tax registration (税务登记) of an enterprise taxpayer (std.tax_registration)."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.TaxRegistration'
    event_types: ClassVar[tuple[str, ...]] = ('rongtong.std.tax_registration.upserted', 'rongtong.std.tax_registration.deleted')
    entity: ClassVar[str] = 'tax_registration'
    taxpayer_id: str = Field(description='Taxpayer identification number (纳税人识别号): for enterprises the unified social credit code, GB 32100-2015, normalized (upper case, no spaces).', json_schema_extra={'classification': 'public', 'owner': 'sw', 'authoritative_source': 'sw.swdj', 'standard': 'GB 32100-2015'})
    taxpayer_name: str = Field(description='Taxpayer name (纳税人名称), whitespace and width normalized.', json_schema_extra={'classification': 'public', 'owner': 'sw', 'authoritative_source': 'sw.swdj'})
    legal_rep_name: str | None = Field(default=None, description='Legal representative as the tax register records the name.', json_schema_extra={'classification': 'personal', 'owner': 'sw', 'authoritative_source': 'sw.swdj'})
    status_code: str = Field(description="Registration status, canonical code: normal, abnormal, suspended, deregistered (the register's own 01/02/03/05 mapped).", json_schema_extra={'classification': 'internal', 'owner': 'sw', 'authoritative_source': 'sw.swdj', 'code_table': 'tax_registration_status'})
    registration_date: dt.date = Field(description='Date of the tax registration (登记日期).', json_schema_extra={'classification': 'internal', 'owner': 'sw', 'authoritative_source': 'sw.swdj'})
    source: SourceRecord | None = Field(default=None, description='The legacy record this value was standardized from. Filled by the bus; leave it out when publishing.', json_schema_extra={'classification': 'internal', 'owner': 'rongtong', 'authoritative_source': 'rongtong.standardize'})


class TaxRegistrationKey(BaseModel):
    """Key of std.tax_registration: one entry per taxpayer."""

    model_config = ConfigDict(extra="allow")
    avro_name: ClassVar[str] = 'rongtong.std.TaxRegistrationKey'
    taxpayer_id: str = Field(description='Taxpayer identification number (纳税人识别号): for enterprises the unified social credit code, GB 32100-2015, normalized (upper case, no spaces).', json_schema_extra={'classification': 'public', 'owner': 'sw', 'authoritative_source': 'sw.swdj', 'standard': 'GB 32100-2015'})


#: The model of each event type's data (``Delivery.data``).
EVENT_MODELS: dict[str, type[BaseModel]] = {
    'rongtong.projection.citizen_profile.changed': Profile,
    'rongtong.projection.enterprise_profile.changed': Profile,
    'rongtong.projection.newborn_case.changed': NewbornCase,
    'rongtong.std.birth_certificate.deleted': BirthCertificate,
    'rongtong.std.birth_certificate.upserted': BirthCertificate,
    'rongtong.std.enterprise.deleted': Enterprise,
    'rongtong.std.enterprise.upserted': Enterprise,
    'rongtong.std.household.deleted': Household,
    'rongtong.std.household.upserted': Household,
    'rongtong.std.household_registration.deleted': HouseholdRegistration,
    'rongtong.std.household_registration.upserted': HouseholdRegistration,
    'rongtong.std.insurance_enrolment.deleted': InsuranceEnrolment,
    'rongtong.std.insurance_enrolment.upserted': InsuranceEnrolment,
    'rongtong.std.marriage.deleted': Marriage,
    'rongtong.std.marriage.upserted': Marriage,
    'rongtong.std.person.deleted': Person,
    'rongtong.std.person.upserted': Person,
    'rongtong.std.service_case.deleted': ServiceCase,
    'rongtong.std.service_case.upserted': ServiceCase,
    'rongtong.std.social_assistance.deleted': SocialAssistance,
    'rongtong.std.social_assistance.upserted': SocialAssistance,
    'rongtong.std.social_insurance.deleted': SocialInsurance,
    'rongtong.std.social_insurance.upserted': SocialInsurance,
    'rongtong.std.tax_registration.deleted': TaxRegistration,
    'rongtong.std.tax_registration.upserted': TaxRegistration,
}
#: The value model of each canonical entity (``std.<entity>``).
ENTITY_MODELS: dict[str, type[BaseModel]] = {
    'birth_certificate': BirthCertificate,
    'enterprise': Enterprise,
    'household': Household,
    'household_registration': HouseholdRegistration,
    'insurance_enrolment': InsuranceEnrolment,
    'marriage': Marriage,
    'person': Person,
    'service_case': ServiceCase,
    'social_assistance': SocialAssistance,
    'social_insurance': SocialInsurance,
    'tax_registration': TaxRegistration,
}
#: The key model of each entity or projection.
KEY_MODELS: dict[str, type[BaseModel]] = {
    'birth_certificate': BirthCertificateKey,
    'enterprise': EnterpriseKey,
    'household': HouseholdKey,
    'household_registration': HouseholdRegistrationKey,
    'insurance_enrolment': InsuranceEnrolmentKey,
    'marriage': MarriageKey,
    'newborn_case': NewbornCaseKey,
    'person': PersonKey,
    'projection_profile': ProfileKey,
    'service_case': ServiceCaseKey,
    'social_assistance': SocialAssistanceKey,
    'social_insurance': SocialInsuranceKey,
    'tax_registration': TaxRegistrationKey,
}
