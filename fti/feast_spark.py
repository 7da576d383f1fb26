"""Glue for Feast's Spark offline store and compute engine (the Spark profile).

Feast starts its own Spark session from the yaml's ``spark_conf`` when none is active. A few
things PySpark takes from the process environment, not from the session configuration: the
Python its workers run (the compute engine writes the online store from them) and Java.
"""

from __future__ import annotations

import os
import sys

from fti.settings import Settings


def prepare_driver(settings: Settings) -> None:
    """Environment and folders for a Spark driver Feast may start in this process.

    Values the caller already set win. Spark's folders (``spark.local.dir``, warehouse) are
    those of features.spark.session, so both kinds of session share one layout.
    """
    from features.spark.session import java_home, spark_dirs

    home = java_home()
    if home is not None:
        os.environ.setdefault("JAVA_HOME", str(home))
    # PySpark workers run `python3` from PATH unless told: that may lack pyarrow and Feast.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LAUNCHER_OPTS", "-XX:-UsePerfData")
    if settings.spark_master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    for path in spark_dirs(settings).values():
        path.mkdir(parents=True, exist_ok=True)
