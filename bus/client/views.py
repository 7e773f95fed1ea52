"""Events as the client may see them: a model with the fields the bus left out unset.

The bus leaves out fields a client is not granted (by their classification) and masks others
(``110101********1234`` is still text). A view therefore may lack required fields: it is
validated field by field, the present ones typed as the model says, and the missing ones
listed in ``hidden`` and left unset on the model (reading one raises ``AttributeError``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

__all__ = ["parse_view"]

M = TypeVar("M", bound=BaseModel)


def parse_view(model: type[M], data: Mapping[str, Any]) -> tuple[M, tuple[str, ...]]:
    """``data`` as ``model``, and the paths of the required fields it lacks (``steps[].task``)."""
    try:
        return model.model_validate(data), ()
    except ValidationError as exc:
        if any(error["type"] != "missing" for error in exc.errors()):
            raise
    hidden: list[str] = []
    view = _partial(model, data, "", hidden)
    return view, tuple(dict.fromkeys(hidden))


def _partial(model: type[M], data: Mapping[str, Any], path: str, hidden: list[str]) -> M:
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in data:
            if info.is_required():
                hidden.append(f"{path}{name}")
            continue
        values[name] = _value(info.annotation, data[name], f"{path}{name}", hidden)
    extra = {k: v for k, v in data.items() if k not in model.model_fields}
    return model.model_construct(_fields_set=set(values) | set(extra), **values, **extra)


def _value(annotation: Any, value: Any, path: str, hidden: list[str]) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, Mapping):
        return _partial(annotation, value, f"{path}.", hidden)
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in arguments:
            return None
        branches = [a for a in arguments if a is not type(None)]
        if len(branches) == 1:
            return _value(branches[0], value, path, hidden)
    elif origin is list and isinstance(value, list):
        return [_value(arguments[0], item, f"{path}[]", hidden) for item in value]
    elif origin is dict and isinstance(value, Mapping):
        return {k: _value(arguments[1], v, f"{path}[]", hidden) for k, v in value.items()}
    return _adapter(annotation).validate_python(value)


@lru_cache(maxsize=256)
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)
