"""One local Spark session for the Spark tests (local[2], UI off, files in a temporary state)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from fti.settings import Settings
from tests.conftest import skip_or_fail

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    from features.spark.session import get_session, java_home

    if java_home() is None:
        skip_or_fail("Java 17 not found (set JAVA_HOME): the Spark tests need a JVM")
    state = tmp_path_factory.mktemp("spark-state")
    settings = Settings(state_dir=state, spark_master="local[2]")
    session = get_session(settings, app_name="fti-tests", shuffle_partitions=4)
    yield session
    session.stop()
