"""Suites as code: one per table, every expectation explained, valid data passes, domain limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("great_expectations")

from fti import tables
from fti.tables import FEATURES, LAKE
from validation.gate import validate_frame
from validation.suites import BUILDERS, build_suite, suite_version, unique_keys

# Tables the feature pipelines write (batch predictions have suites of their own, tested there).
PIPELINE_TABLES = sorted(set(BUILDERS) - set(getattr(tables, "PREDICTION_VIEWS", ())))


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """Every lake table and feature view of the tiny synthetic data, as the flows build them."""
    from features.bookings import booking_features, booking_labels, read_bookings, weekly_vacancy
    from features.guests import (
        SessionReducer,
        age_band_features,
        country_features,
        generate_companions,
        read_guests,
        read_sessions,
        session_embedding_features,
        write_guests_csv,
        write_sessions_jsonl,
    )
    from features.prices import price_features, read_prices
    from features.synthetic import SyntheticSpec, generate_raw
    from features.weather import read_smhi, sunshine_features, weather_daily_features

    out = tmp_path_factory.mktemp("raw")
    generate_raw(out, SyntheticSpec.sized("tiny"))
    prices = pd.concat(
        [read_prices(f).frame for f in sorted((out / "entsoe_day_ahead").glob("*"))],
        ignore_index=True,
    )
    bookings = read_bookings(out / "hotel_bookings" / "hotels.csv.gz").frame
    weather = pd.concat(
        [read_smhi(f).frame for f in sorted((out / "smhi_weather").glob("*"))], ignore_index=True
    )
    guests, sessions, _guest_of = generate_companions(bookings)
    write_guests_csv(guests, out / "guests.csv")
    write_sessions_jsonl(sessions, out / "sessions.jsonl")
    guests = read_guests(out / "guests.csv").frame
    sessions = read_sessions(out / "sessions.jsonl").frame
    return {
        "prices": prices,
        "bookings": bookings,
        "booking_labels": booking_labels(bookings),
        "weather": weather,
        "guests": guests,
        "sessions": sessions,
        "zone_prices": price_features(prices),
        "booking_details": booking_features(bookings),
        "hotel_weekly_vacancy": weekly_vacancy(bookings),
        "guest_age_band": age_band_features(guests, until=guests["first_seen"].max()),
        "guest_home_country": country_features(guests),
        "guest_session_embedding": session_embedding_features(sessions, SessionReducer()),
        "weather_daily": weather_daily_features(weather),
        "weather_sunshine": sunshine_features(weather),
    }


def test_one_suite_per_raw_source_and_feature_view() -> None:
    assert set(BUILDERS) == set(LAKE) | set(FEATURES)


@pytest.mark.parametrize("table", sorted(BUILDERS))
def test_every_expectation_says_what_it_protects_against(table: str) -> None:
    suite = build_suite(table)
    assert len(suite.expectations) >= 5
    for expectation in suite.expectations:
        assert (expectation.meta or {}).get("protects"), expectation


def test_suite_version_is_stable_and_follows_the_content() -> None:
    a, b = build_suite("zone_prices"), build_suite("zone_prices")
    assert suite_version(a) == suite_version(b)
    assert len(suite_version(a)) == 12
    b.expectations[-1].tolerance_hours = 1.0  # type: ignore[attr-defined]
    assert suite_version(a) != suite_version(b)


@pytest.mark.parametrize("table", PIPELINE_TABLES)
def test_valid_data_passes(frames: dict[str, pd.DataFrame], table: str) -> None:
    references = {"bookings": frames["bookings"]} if table == "hotel_weekly_vacancy" else None
    outcome = validate_frame(table, frames[table], references=references)
    assert outcome.success, [f.describe() for f in outcome.failures]


def _break(frame: pd.DataFrame, column: str, value: object, row: int = 3) -> pd.DataFrame:
    out = frame.copy()
    out.loc[out.index[row], column] = value
    return out


# (table, column, bad value, failing expectation's protects text)
DOMAIN = [
    # Above the SDAC harmonised maximum.
    ("prices", "price_eur_mwh", 4000.01, "SDAC clearing limits"),
    # Below the SDAC harmonised minimum.
    ("zone_prices", "price_eur_mwh", -500.5, "SDAC clearing limits"),
    # A scaled price is a position in [0, 1].
    ("zone_prices", "price_scaled", 1.01, "scaled price outside [0, 1]"),
    # A vacancy level is a share of capacity.
    ("hotel_weekly_vacancy", "vacancy_level", -0.1, "vacancy level outside [0, 1]"),
    # Age bands come from the fixed set.
    ("guest_age_band", "age_band", "16-20", "age band outside the fixed set"),
    # Embeddings are finite.
    ("guest_session_embedding", "session_emb_3", np.inf, "a non-finite embedding"),
    # A zone nobody trades.
    ("prices", "zone", "SE5", "unknown bidding zone"),
    # Outcome labels are 0 or 1.
    ("booking_labels", "is_canceled", 3, "a label that is not 0/1"),
    # Sunshine beyond an hour.
    ("weather_sunshine", "sunshine_s", 3700.0, "more sunshine than an hour"),
]


@pytest.mark.parametrize(("table", "column", "value", "protects"), DOMAIN)
def test_domain_ranges(
    frames: dict[str, pd.DataFrame], table: str, column: str, value: object, protects: str
) -> None:
    references = {"bookings": frames["bookings"]} if table == "hotel_weekly_vacancy" else None
    outcome = validate_frame(table, _break(frames[table], column, value), references=references)
    matching = [f for f in outcome.failures if protects in f.protects]
    assert matching, [f.protects for f in outcome.failures]
    assert 3 in matching[0].rows.tolist()


def test_exactly_one_country_column_per_row(frames: dict[str, pd.DataFrame]) -> None:
    frame = frames["guest_home_country"].copy()
    first = frame.index[0]
    frame.loc[first, "country_SWE"] = 1 - frame.loc[first, "country_SWE"]  # now 0 or 2 set
    outcome = validate_frame("guest_home_country", frame)
    [failure] = [f for f in outcome.failures if "exactly one" in f.protects]
    assert failure.rows.tolist() == [0]


def test_labels_never_enter_the_booking_features(frames: dict[str, pd.DataFrame]) -> None:
    leaked = frames["booking_details"].assign(is_canceled=1)
    outcome = validate_frame("booking_details", leaked)
    assert any("extra columns" in f.protects for f in outcome.failures)


def test_validation_does_not_modify_the_frame(frames: dict[str, pd.DataFrame]) -> None:
    frame = frames["prices"]
    copy = frame.copy()
    validate_frame("prices", frame)
    pd.testing.assert_frame_equal(frame, copy)


def test_a_million_feature_rows(tmp_path: Path) -> None:
    """The benchmark's workload in small: 1M zone_prices rows through the full suite."""
    import time

    n = 1_000_000
    rng = np.random.default_rng(0)
    per = n // 4
    stamps = pd.date_range("1995-06-01", periods=per, freq="h", tz="UTC")
    price = rng.normal(50, 20, n)
    frame = pd.DataFrame(
        {
            "zone": np.repeat(np.array(["SE1", "SE2", "SE3", "SE4"], dtype=object), per),
            "event_timestamp": np.tile(stamps.tz_localize(None).to_numpy(), 4),
            "price_eur_mwh": price,
            "price_scaled": rng.random(n),
            "price_lag_24h": price,
            "price_lag_168h": price,
            "price_mean_24h": price,
            "price_std_24h": rng.random(n),
            "price_mean_168h": price,
            "price_min_168h": price - 1,
            "price_max_168h": price + 1,
        }
    )
    frame["event_timestamp"] = frame["event_timestamp"].dt.tz_localize("UTC")
    validate_frame("zone_prices", frame.head(1000))  # suite built, GX warm
    started = time.perf_counter()
    outcome = validate_frame("zone_prices", frame)
    elapsed = time.perf_counter() - started
    print(f"1M zone_prices rows validated in {elapsed:.2f} s")
    assert outcome.success and outcome.rows == n
    # The target is < 2 s (measured in the benchmark); a loaded CI machine gets slack here.
    assert elapsed < 8.0


@pytest.mark.parametrize("table", sorted(BUILDERS))
def test_every_table_has_a_unique_key_and_it_is_the_tables_key(table: str) -> None:
    """unique_keys reads the suites' key expectations (the Spark gate checks them across year
    batches): every table has one, and it is the key its rows are upserted by."""
    key = {**LAKE, **FEATURES}[table].key
    assert tuple(sorted(key)) in {tuple(sorted(k)) for k in unique_keys(table)} or (
        table == "guest_home_country" and unique_keys(table) == [("guest_id",)]
    )
