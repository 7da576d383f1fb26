"""The real public data sets through the flows: everything ingests, retrieval is exact at scale."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES, LAKE
from tests.asof import asof_join

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def ingested(state: Settings, shared_data: Path) -> dict[str, Any]:
    from flows.features import features_flow
    from flows.ingestion import ingestion_flow

    summary = {
        source: ingestion_flow(source, [str(shared_data / folder)])
        for source, folder in (
            ("prices", "entsoe_day_ahead"),
            ("bookings", "hotel_bookings"),
            ("weather", "smhi_weather"),
        )
    }
    summary["features"] = features_flow()
    return summary


def test_prices_have_no_gap_and_no_duplicate_hour(
    ingested: dict[str, Any], state: Settings
) -> None:
    prices = lake.read_table(LAKE["prices"].root(state))
    assert set(prices["zone"]) == {"SE1", "SE2", "SE3", "SE4"}
    for zone, frame in prices.groupby("zone"):
        ts = frame["ts"].sort_values()
        assert ts.is_unique, zone
        assert (ts.diff().dropna() == pd.Timedelta(hours=1)).all(), f"{zone} has a gap"
    # 2016-01-01 00:00 CET to 2024-10-04 23:00 CEST (21:00 UTC), every hour, four zones.
    assert len(prices) == 4 * 76_799
    assert ingested["prices"]["dropped"] == {"not_published": 8452, "dst_nonexistent_hour": 36}


# ENTSO-E yearly averages (EUR/MWh, local calendar year) recomputed from the published hourly
# day-ahead prices; 2020's SE1/SE3 gap and 2022's southern spike are the known market history.
YEARLY = {
    ("SE1", 2020): 14.39,
    ("SE3", 2020): 21.19,
    ("SE3", 2022): 129.21,
    ("SE4", 2022): 152.10,
    ("SE3", 2016): 29.24,
}


def test_yearly_averages(ingested: dict[str, Any], state: Settings) -> None:
    prices = lake.read_table(LAKE["prices"].root(state))
    local_year = prices["ts"].dt.tz_convert("Europe/Stockholm").dt.year
    means = prices.groupby([prices["zone"], local_year])["price_eur_mwh"].mean()
    for key, expected in YEARLY.items():
        assert means[key] == pytest.approx(expected, abs=0.01), key


def test_all_bookings_ingest(ingested: dict[str, Any], state: Settings) -> None:
    bookings = lake.read_table(LAKE["bookings"].root(state))
    assert len(bookings) == 119_390
    assert bookings["booking_id"].is_unique
    assert bookings["guest_id"].notna().all()
    details = lake.read_table(FEATURES["booking_details"].root(state))
    assert len(details) == 119_390
    outcome = {"is_canceled", "reservation_status", "reservation_status_date"}
    assert not outcome & set(details.columns)


def test_weather_ingests(ingested: dict[str, Any], state: Settings) -> None:
    weather = lake.read_table(LAKE["weather"].root(state))
    assert not weather.duplicated(["station_id", "parameter", "period_end"]).any()
    assert set(weather["station_id"]) == {98210, 71420, 97530, 77215, 81525, 99275}


def test_full_history_retrieval_equals_asof(ingested: dict[str, Any], state: Settings) -> None:
    """All zone-hours 2016-2024 (~307k entity rows) through the price model's feature service."""
    from fti.store import apply_definitions, open_store

    store = open_store(state)
    apply_definitions(store)
    features = lake.read_table(FEATURES["zone_prices"].root(state))
    rng = np.random.default_rng(0)
    # Entity rows a little after each hour (as a forecaster would ask), in random order.
    entity_df = pd.DataFrame(
        {
            "zone": features["zone"].to_numpy(),
            "event_timestamp": features["event_timestamp"]
            + pd.to_timedelta(rng.integers(0, 3600, len(features)), unit="s"),
            "weather_station_id": 98210,
            "sunshine_station_id": 99275,
        }
    ).sample(frac=1.0, random_state=0)
    entity_df = entity_df.assign(row_id=np.arange(len(entity_df)))
    started = time.perf_counter()
    got = store.get_historical_features(
        entity_df=entity_df, features=store.get_feature_service("price_forecaster_v1")
    ).to_df()
    elapsed = time.perf_counter() - started
    print(f"full-history retrieval: {len(entity_df):,} entity rows in {elapsed:.2f} s")
    assert len(entity_df) > 300_000
    assert len(got) == len(entity_df)
    got = got.sort_values("row_id").reset_index(drop=True)
    columns = ["price_eur_mwh", "price_scaled", "price_lag_168h", "price_std_24h"]
    expected = asof_join(entity_df, features, ["zone"], columns, ttl=pd.Timedelta(days=2))
    for column in columns:
        np.testing.assert_array_equal(got[column].to_numpy(), expected[column].to_numpy())
    daily = lake.read_table(FEATURES["weather_daily"].root(state))
    expected = asof_join(
        entity_df,
        daily,
        ["station_id"],
        ["temperature_c"],
        pd.Timedelta(days=3),
        entity_keys=["weather_station_id"],
    )
    np.testing.assert_array_equal(
        got["temperature_c"].to_numpy(dtype=float), expected["temperature_c"].to_numpy(dtype=float)
    )
