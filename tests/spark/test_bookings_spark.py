"""The Spark booking features equal the pandas ones, value for value (real and synthetic data)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from features.bookings import (
    BOOKING_FEATURE_COLUMNS,
    RAW_COLUMNS,
    booking_features,
    read_bookings,
    weekly_vacancy,
)
from features.spark import bookings as spark_bookings
from features.spark.io import read_lake_table
from features.synthetic import BOOKINGS_DIR, SyntheticSpec, generate_raw
from fti import lake

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = pytest.mark.spark


def _lake(spark: SparkSession, bookings: pd.DataFrame, folder: Path) -> DataFrame:
    """The lake table as Spark reads it: written by fti.lake (year partitions, nanosecond
    timestamps, sorted by key) as the pipelines write it."""
    root = folder / "lake" / "bookings"
    lake.upsert(bookings, root, ["booking_id"], lake.by_year("booking_time"))
    return read_lake_table(spark, root)


def _as_pandas(frame: DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Spark's result in the pandas path's dtypes (a value that does not convert fails)."""
    out = pd.DataFrame(frame.toPandas())
    assert list(out.columns) == list(like.columns)
    for col, dtype in like.dtypes.items():
        if isinstance(dtype, pd.DatetimeTZDtype):
            # toPandas gives naive wall times in the session time zone, UTC.
            out[col] = pd.to_datetime(out[col]).dt.tz_localize("UTC").astype(dtype)
        else:
            out[col] = out[col].astype(dtype)
    return out


def _assert_features_equal(spark: SparkSession, bookings: pd.DataFrame, folder: Path) -> None:
    lake = _lake(spark, bookings, folder)
    expected = booking_features(bookings).sort_values("booking_id", ignore_index=True)
    got = _as_pandas(spark_bookings.booking_features(lake), expected)
    got = got.sort_values("booking_id", ignore_index=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)

    expected_v = weekly_vacancy(bookings)
    got_v = _as_pandas(spark_bookings.weekly_vacancy(lake), expected_v)
    pd.testing.assert_frame_equal(got_v, expected_v, check_exact=True)


@pytest.mark.realdata
def test_real_bookings_equal_pandas(
    spark: SparkSession, real_bookings: pd.DataFrame, tmp_path: Path
) -> None:
    assert len(real_bookings) > 100_000
    _assert_features_equal(spark, real_bookings, tmp_path)


def test_synthetic_bookings_equal_pandas(spark: SparkSession, tmp_path: Path) -> None:
    files = generate_raw(tmp_path / "raw", SyntheticSpec.sized("tiny"))
    frames = [read_bookings(p).frame for p in files[BOOKINGS_DIR]]
    bookings = pd.concat(frames, ignore_index=True)
    assert len(bookings) > 100
    _assert_features_equal(spark, bookings, tmp_path)


def _csv(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    base = {c: "0" for c in RAW_COLUMNS}
    base.update(
        hotel="Resort Hotel",
        arrival_date_year="2016",
        arrival_date_month="March",
        arrival_date_week_number="10",
        arrival_date_day_of_month="5",
        meal="BB",
        country="PRT",
        market_segment="Online TA",
        distribution_channel="TA/TO",
        reserved_room_type="A",
        assigned_room_type="A",
        deposit_type="No Deposit",
        agent="9",
        company="NULL",
        customer_type="Transient",
        adr="75.5",
        reservation_status="Check-Out",
        reservation_status_date="2016-03-09",
    )
    lines = [",".join(RAW_COLUMNS)]
    lines += [",".join({**base, **r}[c] for c in RAW_COLUMNS) for r in rows]
    path = tmp_path / "hotels.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_edge_cases_equal_pandas(spark: SparkSession, tmp_path: Path) -> None:
    """Stays over several weeks and a year end, same-day and later cancellations, no nights,
    changes that cancel out within a day, missing children/agent, both hotels."""
    rows = [
        # Saturday arrival, 17 nights: four weeks.
        {"stays_in_weekend_nights": "6", "stays_in_week_nights": "11", "lead_time": "30"},
        # Over the ISO year end (week 53 of 2015 / week 52 of 2016).
        {
            "arrival_date_year": "2015",
            "arrival_date_month": "December",
            "arrival_date_day_of_month": "30",
            "stays_in_week_nights": "4",
            "hotel": "City Hotel",
            "reservation_status_date": "2016-01-03",
        },
        # Cancelled the day it was booked (lead_time 10: booked 2016-02-24).
        {
            "is_canceled": "1",
            "lead_time": "10",
            "stays_in_week_nights": "3",
            "reservation_status": "Canceled",
            "reservation_status_date": "2016-02-24",
        },
        # Cancelled later; and a booking the same day that cancels its nights out.
        {
            "is_canceled": "1",
            "lead_time": "20",
            "stays_in_week_nights": "2",
            "reservation_status": "Canceled",
            "reservation_status_date": "2016-02-20",
        },
        {"lead_time": "14", "stays_in_week_nights": "2", "children": "NA", "agent": "NULL"},
        # No nights: a feature row, no vacancy change.
        {"lead_time": "3", "children": "2", "company": "40"},
    ]
    bookings = read_bookings(_csv(tmp_path, rows)).frame
    assert len(bookings) == len(rows)
    _assert_features_equal(spark, bookings, tmp_path)


def test_unknown_hotel_capacity_is_an_error(spark: SparkSession, tmp_path: Path) -> None:
    bookings = read_bookings(_csv(tmp_path, [{"stays_in_week_nights": "1"}])).frame
    lake = _lake(spark, bookings, tmp_path)
    with pytest.raises(ValueError, match="no capacity for hotels: Resort Hotel"):
        spark_bookings.weekly_vacancy(lake, {"City Hotel": 10})


def test_shares_the_pandas_definitions() -> None:
    """Only the derived columns are spelled out in the Spark module; the rest is imported."""
    assert set(spark_bookings.DERIVED_FEATURE_COLUMNS) <= set(BOOKING_FEATURE_COLUMNS)
    assert spark_bookings.BOOKING_FEATURE_COLUMNS is BOOKING_FEATURE_COLUMNS
