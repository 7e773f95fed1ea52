"""The C speedups (bus/_speedups*.c); everything else is declared in pyproject.toml.

The extension is optional: where it cannot be compiled the pure-Python code it mirrors runs
(bus/speedups.py), byte for byte the same, only slower.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("bus._speedups", ["bus/_speedups.c", "bus/_speedups_binlog.c",
                                              "bus/_speedups_csv.c", "bus/_speedups_extract.c",
                                              "bus/_speedups_kafka.c"],
                             depends=["bus/_speedups.h"], optional=True,
                             extra_compile_args=["-O2"])])
