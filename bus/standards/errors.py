"""One error hierarchy for every data-standard violation."""

from __future__ import annotations

__all__ = ["StandardViolation"]


class StandardViolation(Exception):
    """A value breaks a data standard.

    ``rule_id`` is stable (e.g. ``id.checksum``) and is what quarantine events,
    metrics and tests key on; the messages are for people.
    """

    def __init__(self, rule_id: str, message_zh: str, message_en: str, value: object = None) -> None:
        super().__init__(f"{rule_id}: {message_en}")
        self.rule_id = rule_id
        self.message_zh = message_zh
        self.message_en = message_en
        self.value = value

    def __reduce__(self) -> tuple[type[StandardViolation], tuple[str, str, str, object]]:
        return (type(self), (self.rule_id, self.message_zh, self.message_en, self.value))
