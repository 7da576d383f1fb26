"""The custom GX expectations, one at a time on tiny frames (each run inside GX)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pytest

gx = pytest.importorskip("great_expectations")

from validation import expectations as fx  # noqa: E402
from validation.gate import engine  # noqa: E402


def run(expectation: Any, frame: pd.DataFrame, **context: Any) -> Any:
    """Validate `frame` with a one-expectation suite; returns GX's expectation result."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    eng = engine()
    name = f"t-{uuid.uuid4().hex[:8]}"
    fresh = copy.copy(expectation)
    fresh.id = None  # an expectation belongs to one suite; tests reuse theirs
    suite = eng.context.suites.add(ExpectationSuite(name=name, expectations=[fresh]))
    definition = eng.context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=eng.batch, suite=suite)
    )
    with fx.evaluation_context(**context):
        result = definition.run(
            batch_parameters={"dataframe": frame}, result_format={"result_format": "COMPLETE"}
        )
    [item] = result.results
    return item


def hours(start: str, n: int, tz: str = "UTC") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="h", tz=tz).tz_convert("UTC")


@pytest.mark.parametrize(
    ("day", "n"),
    [
        ("2024-03-31", 23),  # spring forward: 23 local hours
        ("2024-10-27", 25),  # fall back: 25 local hours
        ("2024-06-01", 24),  # an ordinary day
    ],
)
def test_hourly_grid_knows_daylight_saving_days(day: str, n: int) -> None:
    start = pd.Timestamp(day, tz="Europe/Stockholm")
    day_offset = pd.DateOffset(days=1)  # a calendar day, not 24 hours
    stamps = pd.date_range(start, start + day_offset, freq="h", inclusive="left")
    assert len(stamps) == n
    # Three whole local days: the middle one must have exactly n hours.
    three = pd.date_range(start - day_offset, start + 2 * day_offset, freq="h", inclusive="left")
    frame = pd.DataFrame({"zone": "SE3", "ts": three.tz_convert("UTC")})
    expectation = fx.ExpectHourlyGridToBeComplete(
        key_column="zone", time_column="ts", timezone="Europe/Stockholm", allow_partial_edges=False
    )
    assert run(expectation, frame).success
    missing = frame.drop(index=30)
    result = run(expectation, missing)
    assert not result.success
    assert result.result["details"]["missing_hours"] == 1
    [short] = [d for d in result.result["details"]["short_days"] if d["local_day"] == day]
    assert (short["hours"], short["expected"]) == (n - 1, n)


def test_hourly_grid_allows_partial_edges_but_no_holes() -> None:
    frame = pd.DataFrame(
        {
            "zone": ["SE3"] * 5 + ["SE4"] * 3,
            "ts": [*hours("2024-01-01 05:00", 5), *hours("2024-01-01 20:00", 3)],
        }
    )
    expectation = fx.ExpectHourlyGridToBeComplete(key_column="zone", time_column="ts")
    assert run(expectation, frame).success
    result = run(expectation, frame.drop(index=2))
    assert not result.success
    assert result.result["details"]["sample"][0]["first_missing"] == "2024-01-01T07:00:00+00:00"


def test_unique_hour_per_key_catches_duplicates_and_half_hours() -> None:
    ts = list(hours("2024-01-01", 4))
    frame = pd.DataFrame(
        {
            "zone": ["SE3", "SE3", "SE3", "SE4", "SE3", "SE4"],
            "ts": [ts[0], ts[1], ts[2], ts[2], ts[1], ts[3] + pd.Timedelta(minutes=30)],
        }
    )
    result = run(fx.ExpectHourStartsToBeUniquePerKey(column_list=["zone", "ts"]), frame)
    assert sorted(result.result["unexpected_index_list"]) == [1, 4, 5]


def test_compound_key_reports_every_copy() -> None:
    frame = pd.DataFrame({"a": ["x", "x", "y", "x"], "t": pd.to_datetime([1, 1, 1, 2], utc=True)})
    result = run(fx.ExpectCompoundKeyToBeUnique(column_list=["a", "t"]), frame)
    assert sorted(result.result["unexpected_index_list"]) == [0, 1]


def test_finite_rejects_nan_and_inf() -> None:
    frame = pd.DataFrame({"e": [0.1, np.nan, np.inf, -2.0]})
    result = run(fx.ExpectColumnValuesToBeFinite(column="e"), frame)
    assert sorted(result.result["unexpected_index_list"]) == [1, 2]


def test_in_range_lets_missing_values_through() -> None:
    frame = pd.DataFrame({"p": [-500.0, 4000.0, np.nan, 4000.5, -500.01]})
    result = run(
        fx.ExpectColumnValuesToBeInRange(column="p", min_value=-500, max_value=4000), frame
    )
    assert sorted(result.result["unexpected_index_list"]) == [3, 4]


def test_not_in_the_future_uses_the_evaluation_time() -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 00:00", "2024-01-02 12:00"], utc=True)})
    now = pd.Timestamp("2024-01-01 06:00", tz="UTC")
    strict = fx.ExpectColumnValuesToNotBeInTheFuture(column="t")
    assert run(strict, frame, now=now).result["unexpected_index_list"] == [1]
    lenient = fx.ExpectColumnValuesToNotBeInTheFuture(column="t", tolerance_hours=36)
    assert run(lenient, frame, now=now).success


def test_pair_order_mixes_aware_and_naive_timestamps() -> None:
    frame = pd.DataFrame(
        {
            "booked": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-03"], utc=True),
            "arrival": pd.to_datetime(["2024-01-02", "2024-01-04", None]),
        }
    )
    result = run(fx.ExpectColumnPairValuesToBeInOrder(column_A="booked", column_B="arrival"), frame)
    assert result.result["unexpected_index_list"] == [1]


def test_multicolumn_sum_between_and_range_by_key() -> None:
    stays = pd.DataFrame({"we": [0, 1, 0], "wk": [0, 0, 3]})
    result = run(fx.ExpectMulticolumnSumToBeBetween(column_list=["we", "wk"], min_value=1), stays)
    assert result.result["unexpected_index_list"] == [0]
    weather = pd.DataFrame(
        {"parameter": ["sunshine_s", "temperature_c", "x"], "value": [3601.0, -10.0, 1.0]}
    )
    ranged = fx.ExpectColumnPairValuesWithinRangeByKey(
        column_A="parameter",
        column_B="value",
        ranges={"sunshine_s": [0, 3600], "temperature_c": [-60, 50]},
    )
    assert sorted(run(ranged, weather).result["unexpected_index_list"]) == [0, 2]


def test_iso_mondays_and_timestamp_bounds() -> None:
    weeks = pd.DataFrame({"w": ["2024-01-01", "2024-01-02", "2024-13-01"]})
    result = run(fx.ExpectColumnValuesToBeIsoMondays(column="w"), weeks)
    assert sorted(result.result["unexpected_index_list"]) == [1, 2]
    born = pd.DataFrame({"dob": pd.to_datetime(["1899-12-31", "1950-06-01"])})
    bounded = fx.ExpectColumnTimestampsToBeBetween(column="dob", min_value="1900-01-01")
    assert run(bounded, born).result["unexpected_index_list"] == [0]


def test_dtype_families() -> None:
    frame = pd.DataFrame(
        {
            "s": pd.array(["a"], dtype="string"),
            "i": pd.array([1], dtype="Int64"),
            "t": pd.to_datetime(["2024-01-01"], utc=True),
        }
    )
    good = fx.ExpectTableDtypesToMatch(dtypes={"s": "str", "i": "int", "t": "datetime_utc"})
    assert run(good, frame).success
    bad = run(fx.ExpectTableDtypesToMatch(dtypes={"i": "float", "t": "datetime"}), frame)
    assert set(bad.result["details"]["mismatched"]) == {"i", "t"}


def test_weekly_room_nights_match_the_bookings_as_known_then() -> None:
    from features.bookings import weekly_vacancy

    bookings = pd.DataFrame(
        {
            "hotel": ["Resort Hotel"] * 3,
            "booking_time": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True),
            "arrival_date": pd.to_datetime(["2024-01-10", "2024-01-12", "2024-01-13"]),
            "stays_in_weekend_nights": pd.array([1, 2, 0], dtype="Int64"),
            "stays_in_week_nights": pd.array([2, 3, 1], dtype="Int64"),
            "is_canceled": pd.array([0, 1, 0], dtype="Int64"),
            "reservation_status_date": pd.to_datetime(["2024-01-13", "2024-01-05", "2024-01-14"]),
        }
    )
    vacancy = weekly_vacancy(bookings, {"Resort Hotel": 10})
    expectation = fx.ExpectWeeklyRoomNightsToMatchBookings(reference="bookings")
    assert run(expectation, vacancy, references={"bookings": bookings}).success
    wrong = vacancy.copy()
    wrong.loc[wrong.index[-1], "booked_room_nights"] += 1
    result = run(expectation, wrong, references={"bookings": bookings})
    assert not result.success
    assert result.result["unexpected_index_list"] == [len(wrong) - 1]
    # Without its reference input the check fails loudly instead of passing silently.
    assert not run(expectation, vacancy).success
