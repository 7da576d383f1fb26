"""The shared feature preparation: types, calendar, what never becomes an input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.prepare import (
    MISSING_CATEGORY,
    OUTCOME_COLUMNS,
    expected_input_schema,
    input_schema,
    prepare_cancellation,
    prepare_price,
)

PRICE_FIELDS = {"price_eur_mwh": "Float64", "price_lag_24h": "Float64", "sunshine_s": "Float64"}


def _price_raw(delivery: pd.DatetimeIndex) -> pd.DataFrame:
    n = len(delivery)
    return pd.DataFrame(
        {
            "zone": "SE3",
            "issue_time": pd.Timestamp("2024-03-30 11:00", tz="UTC"),
            "delivery_time": delivery,
            "weather_station_id": np.int64(98210),
            "sunshine_station_id": np.int64(99275),
            "price_eur_mwh": np.arange(n, dtype="int64"),  # int on purpose: must become float
            "price_lag_24h": np.linspace(1, 2, n),
            "sunshine_s": pd.array([None] * n, dtype="Float64"),
            "same_hour_last_day": 1.0,
            "same_hour_day_before": 2.0,
            "same_hour_last_week": 3.0,
            "same_hour_age_h": 24.0,
            "label": 5.0,
            "label_time": delivery,
            "split_time": pd.Timestamp("2024-03-30 11:00", tz="UTC"),
        }
    )


def test_price_calendar_is_local_and_every_input_is_typed() -> None:
    # 2024-03-31 is the spring-forward day in Stockholm: 23 local hours, 22:00 UTC .. 21:00 UTC.
    delivery = pd.date_range("2024-03-30 23:00", "2024-03-31 21:00", freq="h", tz="UTC")
    prepared = prepare_price(_price_raw(delivery))
    assert len(prepared) == 23
    assert list(prepared["hour"]) == [0, 1, *range(3, 24)]  # 02:00 does not exist that day
    assert prepared["hours_ahead"].iloc[0] == 12.0
    assert set(prepared["weekday"]) == {6.0} and set(prepared["is_weekend"]) == {1.0}
    schema = input_schema(prepared)
    assert schema.pop("zone") == "string"
    assert set(schema.values()) == {"double"}
    for dropped in (
        "issue_time",
        "delivery_time",
        "label",
        "label_time",
        "split_time",
        "weather_station_id",
        "sunshine_station_id",
    ):
        assert dropped not in prepared.columns


def test_price_template_schema_equals_a_real_frame() -> None:
    delivery = pd.date_range("2024-04-01 22:00", periods=24, freq="h", tz="UTC")
    real = input_schema(prepare_price(_price_raw(delivery)))
    assert expected_input_schema("price", PRICE_FIELDS) == real


def _booking_raw() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "booking_id": ["b1", "b2"],
            "hotel": ["City Hotel", "Resort Hotel"],
            "stay_week_start": ["2024-01-01", "2024-01-08"],
            "guest_id": ["g1", "g2"],
            "event_timestamp": pd.to_datetime(["2023-12-01", "2023-12-02"], utc=True),
            "lead_time": pd.array([31, 37], dtype="Int64"),
            "agent": ["9", None],
            "age_band": ["25-34", None],
            "country_PRT": np.array([1, 0], dtype="int64"),
            "country_vocab_version": ["v1", "v1"],
            # Outcome columns that must never become inputs, even if a frame carried them.
            "is_canceled": [1, 0],
            "reservation_status": ["Canceled", "Check-Out"],
            "reservation_status_date": pd.to_datetime(["2023-12-10", "2024-01-03"]),
            "label": [1, 0],
        }
    )


def test_cancellation_inputs_exclude_ids_outcomes_and_versions() -> None:
    prepared = prepare_cancellation(_booking_raw())
    assert list(prepared.columns) == ["hotel", "lead_time", "agent", "age_band", "country_PRT"]
    assert not OUTCOME_COLUMNS & set(prepared.columns)
    assert prepared["lead_time"].dtype == "float64"
    assert prepared["country_PRT"].dtype == "float64"
    assert list(prepared["agent"]) == ["9", MISSING_CATEGORY]
    assert list(prepared["age_band"]) == ["25-34", MISSING_CATEGORY]


def test_cancellation_template_matches_service_types() -> None:
    fields = {
        "lead_time": "Int64",
        "agent": "String",
        "age_band": "String",
        "country_PRT": "Int64",
        "country_vocab_version": "String",
    }
    expected = expected_input_schema("cancellation", fields)
    assert expected == input_schema(prepare_cancellation(_booking_raw()))


def test_a_timestamp_input_is_an_error() -> None:
    raw = _booking_raw().assign(booked_at=pd.Timestamp("2024-01-01", tz="UTC"))
    with pytest.raises(TypeError, match="booked_at"):
        prepare_cancellation(raw)


def test_relative_to_level_learns_shapes_beyond_the_training_range() -> None:
    """Trained on prices around 50, asked about a week whose level is 200: the level wrapper
    scales its answer, a plain booster would stay within what it saw."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from models.estimators import RelativeToLevel

    rng = np.random.default_rng(0)
    hour = rng.integers(0, 24, 2000).astype(float)
    level = rng.uniform(40, 60, 2000)
    x = pd.DataFrame({"hour": hour, "price_mean_168h": level, "same_hour_last_day": level})
    y = level * (1 + 0.3 * np.sin(hour / 24 * 2 * np.pi))
    model = RelativeToLevel(
        HistGradientBoostingRegressor(max_iter=50, random_state=0),
        relative=("same_hour_last_day",),
    ).fit(x, y)
    high = pd.DataFrame({"hour": [6.0], "price_mean_168h": [200.0], "same_hour_last_day": [200.0]})
    assert model.predict(high)[0] == pytest.approx(200 * (1 + 0.3 * np.sin(np.pi / 2)), rel=0.05)
    plain = HistGradientBoostingRegressor(max_iter=50, random_state=0).fit(x, y)
    assert plain.predict(high)[0] < 80
