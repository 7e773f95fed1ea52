"""The Python SDK of the bus: typed publish, resumable subscriptions, profile reads.

```python
from bus.client import BusClient, ServiceCase

async with BusClient("http://127.0.0.1:8080", api_key="rtk_…") as bus:
    published = await bus.publish(ServiceCase(...))
    async for delivery in bus.subscribe(ServiceCase, subject="service_case/ZW2026…"):
        print(delivery.as_(ServiceCase).status_code)
```

Needs only ``aiohttp`` and ``pydantic``; the models (``bus.client.models``) are generated from
the bus's Avro schemas (``python -m bus.client.codegen``). See docs/sdk.md.
"""

from bus.client.client import BusClient, Subscription
from bus.client.errors import (
    BusError,
    FieldError,
    NotAuthorized,
    NotFound,
    RateLimited,
    Unavailable,
    ValidationFailed,
)
from bus.client.models import (
    ENTITY_MODELS,
    EVENT_MODELS,
    KEY_MODELS,
    BirthCertificate,
    NewbornCase,
    Person,
    ServiceCase,
)
from bus.client.reads import CitizenProfile, Delivery, EnterpriseProfile, Published, Read
from bus.client.stream import Backoff

__all__ = [
    "ENTITY_MODELS",
    "EVENT_MODELS",
    "KEY_MODELS",
    "Backoff",
    "BirthCertificate",
    "BusClient",
    "BusError",
    "CitizenProfile",
    "Delivery",
    "EnterpriseProfile",
    "FieldError",
    "NewbornCase",
    "NotAuthorized",
    "NotFound",
    "Person",
    "Published",
    "RateLimited",
    "Read",
    "ServiceCase",
    "Subscription",
    "Unavailable",
    "ValidationFailed",
]
