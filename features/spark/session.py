"""One SparkSession configured from the settings: master, files in the state folder, UI off."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fti.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Where Debian/Ubuntu put Java 17 (Spark 4 needs Java 17 or newer).
_JAVA_CANDIDATES = (Path("/usr/lib/jvm/java-17-openjdk-amd64"),)


def java_home() -> Path | None:
    """JAVA_HOME, a known Java 17 install, or the folder of `java` on PATH; None without Java."""
    env = os.environ.get("JAVA_HOME")
    if env and (Path(env) / "bin" / "java").exists():
        return Path(env)
    for candidate in _JAVA_CANDIDATES:
        if (candidate / "bin" / "java").exists():
            return candidate
    java = shutil.which("java")
    return Path(java).resolve().parents[1] if java else None


def spark_dirs(settings: Settings) -> dict[str, Path]:
    """Every folder Spark writes to, all under the state folder."""
    state = settings.state_dir.resolve()  # Spark and Ivy need absolute paths
    root = state / "spark"
    return {
        "local": state / "cache" / "spark" / "local",
        "warehouse": root / "warehouse",
        "derby": root / "derby",
        "ivy": state / "cache" / "spark" / "ivy",
    }


def spark_conf(settings: Settings, shuffle_partitions: int = 8) -> dict[str, str]:
    """The configuration of every session: local files, UTC, no UI, no event log, loopback."""
    dirs = spark_dirs(settings)
    # No JVM file outside the state folder: Derby's home, the temp dir, no /tmp/hsperfdata.
    derby = f"-Dderby.system.home={dirs['derby']} -Djava.io.tmpdir={dirs['local']} -XX:-UsePerfData"
    return {
        "spark.local.dir": str(dirs["local"]),
        "spark.sql.warehouse.dir": str(dirs["warehouse"]),
        "spark.driver.extraJavaOptions": derby,
        "spark.executor.extraJavaOptions": derby,
        "spark.jars.ivy": str(dirs["ivy"]),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.eventLog.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.catalogImplementation": "in-memory",
    }


def prepare_driver(settings: Settings) -> None:
    """Environment and folders of a Spark driver in this process (ours or one Feast starts).

    PySpark takes these from the process environment, not the session configuration: Java,
    the Python its workers run (`python3` from PATH may lack pyarrow and Feast), the launcher's
    JVM options. Values the caller already set win.
    """
    home = java_home()
    if home is not None:
        os.environ.setdefault("JAVA_HOME", str(home))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # The short-lived launcher JVM of spark-submit: no /tmp/hsperfdata either.
    os.environ.setdefault("SPARK_LAUNCHER_OPTS", "-XX:-UsePerfData")
    if settings.spark_master.startswith("local"):
        # A local driver listens on loopback only.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    for path in spark_dirs(settings).values():
        path.mkdir(parents=True, exist_ok=True)


def get_session(
    settings: Settings | None = None, app_name: str = "fti", shuffle_partitions: int = 8
) -> SparkSession:
    """The session on settings.spark_master (FTI_SPARK_MASTER); raises without Java."""
    settings = settings or Settings()
    if java_home() is None:
        raise RuntimeError("Spark needs Java 17: set JAVA_HOME or put java on PATH")
    prepare_driver(settings)

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(settings.spark_master).appName(app_name)
    for key, value in spark_conf(settings, shuffle_partitions).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
