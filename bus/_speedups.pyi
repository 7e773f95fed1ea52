from collections.abc import Callable
from typing import Any

def write_fields(out: bytearray, datum: dict[str, Any], names: tuple[str, ...], kinds: bytes,
                 defaults: tuple[Any, ...]) -> None: ...
def pairs_uuid5(prefix: Any, sha256: Callable[[bytes], Any], key: str,
                fragments: tuple[str, ...], values: tuple[str | None, ...]) -> str: ...
