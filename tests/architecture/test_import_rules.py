"""Imports point one way (import-linter) and every module imports alone, doing nothing on import.

Like aiohttp's ``tests/test_circular_imports.py``: each module is imported by itself in a fresh
interpreter, so a circular import hidden by the order other tests import things still fails.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

# ~270 fresh interpreters, each importing its module's whole dependency tree: minutes on a busy
# two-core machine, so more than the suite's default 300 s for the module's setup.
pytestmark = pytest.mark.timeout(900)

PACKAGES = ("bus", "adapters", "schemas", "projections")
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Runs in the fresh interpreter before the import: any network use or started thread is loud.
PROBE = """
import socket, sys, threading

def refuse(*args, **kwargs):
    raise RuntimeError(f"network I/O at import time: {args[1:]!r}")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.socket.bind = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

import importlib
importlib.import_module(sys.argv[1])
extra = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
if extra:
    raise SystemExit(f"threads started at import time: {extra}")
"""


def package_modules() -> list[str]:
    """Every module of the project packages, found on disk without importing any of them.

    ``__main__`` modules are left out: running the CLI when imported is their purpose.
    """
    modules = []
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations, package
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(root.rglob("*.py")):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            if parts[-1] != "__main__":
                modules.append(".".join(parts))
    return modules


MODULES = package_modules()


def import_alone(module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-W", "error", "-c", PROBE, module],
        capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT,
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")},
    )


@pytest.fixture(scope="module")
def import_results() -> dict[str, subprocess.CompletedProcess[str]]:
    """Import every module alone, several interpreters at a time."""
    with ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 1) * 2)) as pool:
        return dict(zip(MODULES, pool.map(import_alone, MODULES), strict=True))


def test_module_discovery_finds_every_package_and_its_leaves() -> None:
    for expected in ("bus", "bus.envelope", "bus.web.app", "adapters.capture.sql_source",
                     "schemas.avro_schemas", "projections.profiles.store"):
        assert expected in MODULES
    assert "bus.__main__" not in MODULES
    assert len(MODULES) == len(set(MODULES))


@pytest.mark.parametrize("module", MODULES)
def test_the_module_imports_alone_without_network_or_threads(
    module: str, import_results: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = import_results[module]

    assert result.returncode == 0, f"importing {module} alone failed:\n{result.stderr}"


def test_the_probe_would_catch_network_io_at_import_time(tmp_path: Path) -> None:
    (tmp_path / "dials_out.py").write_text(
        "import socket\nsocket.create_connection(('127.0.0.1', 9))\n", encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n{PROBE}",
         "dials_out"],
        capture_output=True, text=True, timeout=60,
    )

    assert result.returncode != 0
    assert "network I/O at import time" in result.stderr


def test_import_linter_keeps_every_contract() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"

    result = subprocess.run([str(lint_imports), "--no-cache"], capture_output=True, text=True,
                            timeout=120, cwd=PROJECT_ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert "BROKEN" not in result.stdout
    assert result.stdout.count(" KEPT") >= 4
