"""Fetch an Apache Kafka distribution from Maven Central into a cache, with Maven and the JDK.

No tarball download is needed: ``kafka_2.13`` and its runtime dependencies resolved by
``mvn dependency:copy-dependencies`` form a complete classpath for the broker and its tools.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bus.stack.errors import StackError

LOG4J_VERSION = "2.25.3"
SLF4J_VERSION = "2.0.17"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>rongtong.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>{kafka}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>{slf4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId><version>{log4j}</version></dependency>
  </dependencies>
</project>
"""


def require_tool(name: str, install_hint: str) -> str:
    """Path of an executable on PATH, or a StackError saying how to install it."""
    path = shutil.which(name)
    if path is None:
        raise StackError(f"'{name}' not found on PATH: install {install_hint}")
    return path


def java_executable() -> str:
    return require_tool("java", "a JDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless)")


def kafka_home(cache_dir: Path, version: str) -> Path:
    return cache_dir / f"kafka-{version}"


def ensure_kafka_jars(cache_dir: Path, version: str) -> Path:
    """Directory with Kafka's runtime jars, fetched with Maven on first use and then reused."""
    home = kafka_home(cache_dir, version)
    lib = home / "lib"
    complete_marker = home / ".complete"
    if complete_marker.exists():
        return lib
    java_executable()
    mvn = require_tool("mvn", "Apache Maven 3 (Debian: apt-get install maven)")
    home.mkdir(parents=True, exist_ok=True)
    if lib.exists():
        shutil.rmtree(lib)  # a half-finished earlier fetch
    (home / "pom.xml").write_text(
        _POM.format(kafka=version, slf4j=SLF4J_VERSION, log4j=LOG4J_VERSION), encoding="utf-8"
    )
    result = subprocess.run(
        [mvn, "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={lib}"],
        cwd=home, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0 or not any(lib.glob("kafka_2.13-*.jar")):
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise StackError(
            f"Maven could not fetch Apache Kafka {version} from Maven Central: " + " | ".join(tail)
        )
    complete_marker.write_text(version, encoding="utf-8")
    return lib
