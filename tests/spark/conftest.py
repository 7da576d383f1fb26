"""One local Spark session for the Spark tests (local[2], UI off, files in a temporary state)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
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
    session = get_session(settings, app_name="fti-tests", shuffle_partitions=2)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def real_bookings(shared_data: Path) -> pd.DataFrame:
    """The lake `bookings` table of the real Hotel booking demand file (read once)."""
    from features.bookings import read_bookings

    return read_bookings(shared_data / "hotel_bookings" / "hotels.csv.gz").frame
