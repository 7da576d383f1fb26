"""The Spark guest features (age bands, home country, session embedding) equal the pandas ones."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from features.bookings import read_bookings
from features.guests import (
    AGE_BANDS,
    COUNTRY_VOCAB_V1,
    PAGES,
    age_band_features,
    country_features,
    generate_companions,
    session_embedding_features,
)
from features.spark import guests as spark_guests
from features.spark.io import write_parquet
from features.synthetic import BOOKINGS_DIR, SyntheticSpec, generate_raw

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = pytest.mark.spark


def _lake(spark: SparkSession, guests: pd.DataFrame, folder: Path) -> DataFrame:
    return spark.read.parquet(str(write_parquet(guests, folder / "guests.parquet")))


def _as_pandas(frame: DataFrame, like: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(frame.toPandas())
    assert list(out.columns) == list(like.columns)
    for col, dtype in like.dtypes.items():
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[col] = pd.to_datetime(out[col]).dt.tz_localize("UTC").astype(dtype)
        else:
            out[col] = out[col].astype(dtype)
    return out.sort_values(keys, ignore_index=True)


def _assert_equal(
    spark: SparkSession,
    guests: pd.DataFrame,
    folder: Path,
    until: pd.Timestamp | None = None,
    vocab: tuple[str, ...] = COUNTRY_VOCAB_V1,
) -> None:
    lake = _lake(spark, guests, folder)
    keys = ["guest_id", "event_timestamp"]
    expected = age_band_features(guests, until).sort_values(keys, ignore_index=True)
    got = _as_pandas(spark_guests.age_band_features(lake, until), expected, keys)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)

    expected_c = country_features(guests, vocab).sort_values(keys, ignore_index=True)
    got_c = _as_pandas(spark_guests.country_features(lake, vocab), expected_c, keys)
    pd.testing.assert_frame_equal(got_c, expected_c, check_exact=True)


@pytest.mark.realdata
def test_real_guests_equal_pandas(
    spark: SparkSession, real_bookings: pd.DataFrame, tmp_path: Path
) -> None:
    guests = generate_companions(real_bookings)[0]
    assert len(guests) > 100_000
    _assert_equal(spark, guests, tmp_path)


def test_synthetic_guests_equal_pandas(spark: SparkSession, tmp_path: Path) -> None:
    files = generate_raw(tmp_path / "raw", SyntheticSpec.sized("tiny"))
    bookings = pd.concat([read_bookings(p).frame for p in files[BOOKINGS_DIR]], ignore_index=True)
    guests = generate_companions(bookings, seed=3)[0]
    assert len(guests) > 50
    _assert_equal(spark, guests, tmp_path)
    _assert_equal(spark, guests, tmp_path, vocab=("GBR", "PRT", "CN"))


def test_edge_cases_equal_pandas(spark: SparkSession, tmp_path: Path) -> None:
    """Born on 29 February, a band start exactly at `until`, missing and unlisted countries."""
    guests = pd.DataFrame(
        {
            "guest_id": pd.array(["g-a", "g-b", "g-c", "g-d", "g-e"], dtype="string"),
            "date_of_birth": pd.to_datetime(
                ["2000-02-29", "1996-02-29", "1955-01-01", "1980-12-31", None]
            ).astype("datetime64[ns]"),
            "country": pd.array(["PRT", None, "CN", "XYZ", "ESP"], dtype="string"),
            "first_seen": pd.to_datetime(
                [
                    "2016-03-01T10:00:00Z",
                    "2017-01-01T00:00:00Z",
                    "2016-06-01T00:00:00Z",
                    "2015-07-01T23:59:59Z",
                    "2016-01-01T00:00:00Z",
                ],
                utc=True,
            ).astype("datetime64[ns, UTC]"),
        }
    )
    _assert_equal(spark, guests, tmp_path)
    # g-c turns 65 on 2020-01-01 00:00 UTC: a band start at `until` is kept, one after is not.
    _assert_equal(spark, guests, tmp_path, until=pd.Timestamp("2020-01-01", tz="UTC"))
    lake = _lake(spark, guests, tmp_path)
    bands = pd.DataFrame(spark_guests.age_band_features(lake).toPandas())
    born_29 = bands[bands["guest_id"] == "g-a"].sort_values("event_timestamp")
    # 18 in 2018 (not a leap year): 1 March.
    assert str(born_29["event_timestamp"].iloc[1].date()) == "2018-03-01"
    assert list(born_29["age_band"])[:2] == list(AGE_BANDS[:2])


def test_duplicate_vocabulary_is_an_error(spark: SparkSession, tmp_path: Path) -> None:
    guests = pd.DataFrame(
        {
            "guest_id": pd.array(["g-a"], dtype="string"),
            "date_of_birth": pd.to_datetime(["1990-01-01"]).astype("datetime64[ns]"),
            "country": pd.array(["PRT"], dtype="string"),
            "first_seen": pd.to_datetime(["2016-01-01"], utc=True).astype("datetime64[ns, UTC]"),
        }
    )
    with pytest.raises(ValueError, match="duplicates"):
        spark_guests.country_features(_lake(spark, guests, tmp_path), ("PRT", "PRT"))


EMBEDDING = [f"session_emb_{i}" for i in range(8)]


def _assert_embedding_equal(
    spark: SparkSession, sessions: pd.DataFrame, folder: Path, buckets: int | None = None
) -> None:
    """Every column exact except the embedding: the pandas projection is a BLAS product whose
    last bit depends on the batch (spark_guests.session_embedding_features)."""
    table = spark.read.parquet(str(write_parquet(sessions, folder / "sessions.parquet")))
    keys = ["guest_id", "event_timestamp"]
    expected = session_embedding_features(sessions).sort_values(keys, ignore_index=True)
    assert len(expected) > 0
    got = spark_guests.session_embedding_features(table, buckets=buckets)
    got = _as_pandas(got, expected, keys)
    exact = [c for c in expected.columns if c not in EMBEDDING]
    pd.testing.assert_frame_equal(got[exact], expected[exact], check_exact=True)
    pd.testing.assert_frame_equal(
        got[EMBEDDING], expected[EMBEDDING], check_exact=False, rtol=1e-12, atol=1e-15
    )


@pytest.mark.realdata
def test_real_session_embedding_equal_pandas(
    spark: SparkSession, real_bookings: pd.DataFrame, tmp_path: Path
) -> None:
    sessions = generate_companions(real_bookings)[1]
    assert len(sessions) > 100_000
    _assert_embedding_equal(spark, sessions, tmp_path)


def test_session_embedding_edge_cases_equal_pandas(spark: SparkSession, tmp_path: Path) -> None:
    """Two sessions of a guest ending at the same instant (one row holding both), a session
    without pages, one guest alone in its bucket and many guests in one bucket."""
    ended = pd.to_datetime(
        ["2024-01-01T10:00Z", "2024-01-01T10:00Z", "2024-01-02T08:30Z", "2024-01-01T09:00Z"]
    )
    sessions = pd.DataFrame(
        {
            "guest_id": pd.array(["g-a", "g-a", "g-a", "g-b"], dtype="string"),
            "session_id": pd.array(["s1", "s2", "s3", "s4"], dtype="string"),
            "started_at": ended - pd.Timedelta(minutes=5),
            "ended_at": ended,
            "pages": pd.array(
                [" ".join(PAGES[:3]), PAGES[3], "", f"{PAGES[0]} {PAGES[0]}"], dtype="string"
            ),
        }
    )
    for buckets in (1, 3):
        _assert_embedding_equal(spark, sessions, tmp_path, buckets)
