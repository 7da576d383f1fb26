"""Feature pipeline: lake tables turned into the offline feature tables Feast serves.

Every feature table of a run is validated with its view's suite before anything is written;
the window replacements of all tables are staged and committed together (validation/run.py).
A rejected table fails the run and leaves the offline store exactly as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from fti import lake
from fti.settings import Settings
from fti.tables import LAKE
from validation.run import GateRun

# Feature views computed together because they share their input.
GROUPS: dict[str, tuple[str, ...]] = {
    "prices": ("zone_prices",),
    "bookings": ("booking_details", "hotel_weekly_vacancy"),
    "guests": ("guest_age_band", "guest_home_country", "guest_session_embedding"),
    "weather": ("weather_daily", "weather_sunshine"),
}
ALL_TIME = (pd.Timestamp("1800-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC"))


def _bounds(start: datetime | None, end: datetime | None) -> tuple[pd.Timestamp, pd.Timestamp]:
    def utc(value: datetime | None, default: pd.Timestamp) -> pd.Timestamp:
        if value is None:
            return default
        ts = pd.Timestamp(value)
        return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")

    return utc(start, ALL_TIME[0]), utc(end, ALL_TIME[1])


def compute_group(
    group: str, settings: Settings, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """Feature tables of one group with event_timestamp in [start, end), from the lake."""

    def read(name: str) -> pd.DataFrame:
        return lake.read_table(LAKE[name].root(settings))

    if group == "prices":
        from features.prices import price_features_window

        prices = read("prices")
        if prices.empty:
            return {}
        return {
            "zone_prices": price_features_window(
                prices, start, end, window_hours=settings.price_window_hours
            )
        }
    if group == "bookings":
        from features.bookings import DEFAULT_CAPACITY, booking_features, weekly_vacancy

        bookings = read("bookings")
        if bookings.empty:
            return {}
        capacity = settings.hotel_capacity or DEFAULT_CAPACITY
        out = {
            "booking_details": booking_features(bookings),
            "hotel_weekly_vacancy": weekly_vacancy(bookings, capacity),
        }
    elif group == "guests":
        from features.guests import (
            SessionReducer,
            age_band_features,
            country_features,
            session_embedding_features,
        )

        guests, sessions = read("guests"), read("sessions")
        if guests.empty:
            return {}
        out = {
            # Band rows only up to the newest booking: never a row beyond the data.
            "guest_age_band": age_band_features(guests, until=guests["first_seen"].max()),
            "guest_home_country": country_features(guests),
            "guest_session_embedding": session_embedding_features(sessions, SessionReducer()),
        }
    else:
        from features.weather import sunshine_features, weather_daily_features

        weather = read("weather")
        if weather.empty:
            return {}
        out = {
            "weather_daily": weather_daily_features(weather),
            "weather_sunshine": sunshine_features(weather),
        }
    return {
        name: frame[(frame["event_timestamp"] >= start) & (frame["event_timestamp"] < end)]
        for name, frame in out.items()
    }


@task(name="compute-feature-group", cache_policy=NO_CACHE)
def compute_feature_group(
    group: str, state_dir: str, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    return compute_group(group, Settings(state_dir=state_dir), start, end)


@task(name="validate-feature-table", cache_policy=NO_CACHE)
def validate_feature_table(
    run: GateRun, name: str, frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Validate one feature table of the window; returns the rows the gate lets through."""
    from validation.suites import REFERENCES

    references = {
        ref: lake.read_table(LAKE[table].root(run.settings))
        for ref, table in REFERENCES.get(name, {}).items()
    }
    decision = run.check(name, frame, kind="feature", references=references, window=(start, end))
    return decision.write


@task(name="write-offline-features", cache_policy=NO_CACHE)
def write_offline_features(
    run: GateRun, name: str, frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> int:
    """Stage the replacement of the window's rows (committed with the run)."""
    return run.replace_window(name, frame, start, end)


@task(name="commit-run", cache_policy=NO_CACHE)
def commit_run(run: GateRun) -> dict[str, Any]:
    lake.fault_point("flow.commit")
    return run.finish()


@flow(name="features", flow_run_name="features-{groups}")
def features_flow(
    groups: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Any:
    """Recompute the feature tables for [start, end): a backfill and a scheduled run alike.

    The window's rows are replaced, so running a window twice leaves the same rows. Every table
    passes the gate first; if one is rejected nothing is written and the run ends Failed.
    """
    from flows.ingestion import _flow_run_id, gate_failure
    from validation.runcard import publish

    settings = Settings()
    lo, hi = _bounds(start, end)
    for group in groups or list(GROUPS):
        if group not in GROUPS:
            raise ValueError(f"unknown feature group {group!r}; choose from {', '.join(GROUPS)}")
    run = GateRun(settings, "features", _flow_run_id())
    written: dict[str, int] = {}
    try:
        computed: dict[str, pd.DataFrame] = {}
        for group in groups or list(GROUPS):
            computed.update(compute_feature_group(group, str(settings.state_dir), lo, hi))
        passed = {
            name: validate_feature_table(run, name, frame, lo, hi)
            for name, frame in computed.items()
        }
        if not run.failed:
            for name, frame in passed.items():
                written[name] = write_offline_features(run, name, frame, lo, hi)
        report = commit_run(run)
    except BaseException:
        run.abort()
        raise
    publish(report, "features")
    if report["failed"]:
        return gate_failure(report, run.error())
    return {
        "window": [str(lo), str(hi)],
        "rows": written,
        "validation": {k: report[k] for k in ("run_id", "rows_written", "quarantine")},
    }


if __name__ == "__main__":
    features_flow()
