"""Published JSON schemas of the standards the bus documents itself in, fetched once and cached.

The AsyncAPI 3.0 schema comes from npm (``@asyncapi/specs``, the AsyncAPI Initiative's own
package) into ``~/.cache/rongtong``, like the Kafka jars come from Maven Central.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from bus.settings import load_settings

ASYNCAPI_SPECS_VERSION = "6.11.1"


def asyncapi_json_schema(version: str = "3.0.0") -> dict[str, Any]:
    """The AsyncAPI ``version`` JSON schema with local references (``-without-$id``)."""
    cache = load_settings().cache_dir / f"asyncapi-specs-{ASYNCAPI_SPECS_VERSION}"
    target = cache / f"{version}-without-$id.json"
    if not target.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed once to fetch @asyncapi/specs (apt install npm)")
        with tempfile.TemporaryDirectory() as scratch:
            subprocess.run([npm, "pack", f"@asyncapi/specs@{ASYNCAPI_SPECS_VERSION}", "--silent"],
                           cwd=scratch, check=True, capture_output=True, timeout=300)
            archive = next(Path(scratch).glob("asyncapi-specs-*.tgz"))
            with tarfile.open(archive) as tar:
                member = tar.getmember(f"package/schemas/{version}-without-$id.json")
                extracted = tar.extractfile(member)
                assert extracted is not None
                cache.mkdir(parents=True, exist_ok=True)
                target.write_bytes(extracted.read())
    schema: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return schema
