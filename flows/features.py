"""Feature pipeline: lake tables turned into the offline feature tables Feast serves.

Every feature table of a run is validated with its view's suite before anything is written;
the window replacements of all tables are staged and committed together (validation/run.py).
A rejected table fails the run and leaves the offline store exactly as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from fti import lake
from fti.prefect_env import as_is
from fti.settings import Settings
from fti.tables import FEATURES, LAKE
from validation.run import GateRun

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame

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
) -> dict[str, Any]:
    """Feature tables of one group with event_timestamp in [start, end), from the lake.

    pandas frames with the pandas engine; Spark DataFrames (not computed yet) with
    settings.feature_engine "spark", which the flow gates and writes year by year.
    """
    if settings.feature_engine == "spark":
        return compute_group_spark(group, settings, start, end)

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


# How the pandas path types each offline table's string and integer columns (the offline
# parquet keeps pandas' dtypes); the Spark batches are converted to the same. The tests that
# compare the offline tables of both engines check this table against the pandas path.
_PANDAS_TYPES: dict[str, tuple[str | type, str]] = {
    "zone_prices": (object, "int64"),
    "booking_details": ("string", "Int64"),
}
_DEFAULT_TYPES: tuple[str, str] = ("string", "int64")


def compute_group_spark(
    group: str, settings: Settings, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, SparkFrame]:
    """compute_group on Spark (settings.spark_master): the features.spark mirrors, not run yet."""
    from pyspark.sql import functions as F

    from features.spark.io import read_lake_table
    from features.spark.session import get_session

    spark = get_session(settings, app_name="fti-features")

    def read(name: str) -> SparkFrame | None:
        try:
            return read_lake_table(spark, LAKE[name].root(settings))
        except FileNotFoundError:  # no table yet: nothing to compute, as for an empty one
            return None

    out: dict[str, SparkFrame]
    if group == "prices":
        from features.spark.prices import price_features_window

        prices = read("prices")
        if prices is None:
            return {}
        window = settings.price_window_hours
        return {"zone_prices": price_features_window(prices, start, end, window_hours=window)}
    if group == "bookings":
        from features.bookings import DEFAULT_CAPACITY
        from features.spark.bookings import booking_features, weekly_vacancy

        bookings = read("bookings")
        if bookings is None:
            return {}
        capacity = settings.hotel_capacity or DEFAULT_CAPACITY
        out = {
            "booking_details": booking_features(bookings),
            "hotel_weekly_vacancy": weekly_vacancy(bookings, capacity),
        }
    elif group == "guests":
        from features.spark.guests import (
            age_band_features,
            country_features,
            session_embedding_features,
        )

        guests, sessions = read("guests"), read("sessions")
        if guests is None or sessions is None:
            return {}
        newest = guests.agg(F.max("first_seen")).first()
        assert newest is not None  # an aggregate without grouping has one row
        out = {
            # Band rows only up to the newest guest, as in the pandas path.
            "guest_age_band": age_band_features(guests, until=pd.Timestamp(newest[0])),
            "guest_home_country": country_features(guests),
            "guest_session_embedding": session_embedding_features(sessions),
        }
    else:
        from features.spark.weather import sunshine_features, weather_daily_features

        weather = read("weather")
        if weather is None:
            return {}
        out = {
            "weather_daily": weather_daily_features(weather),
            "weather_sunshine": sunshine_features(weather),
        }
    stamp = F.col("event_timestamp")
    lo, hi = F.lit(start.to_pydatetime()), F.lit(end.to_pydatetime())
    return {name: frame.where((stamp >= lo) & (stamp < hi)) for name, frame in out.items()}


def _year_window(
    year: int, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The part of [start, end) in one calendar year (UTC): one year partition's window."""
    first = pd.Timestamp(year=year, month=1, day=1, tz="UTC")
    return max(start, first), min(end, first + pd.DateOffset(years=1))


@task(name="gate-spark-feature-table", cache_policy=NO_CACHE)
def gate_spark_table(
    run: GateRun, name: str, frame: SparkFrame, start: pd.Timestamp, end: pd.Timestamp
) -> int:
    """Validate and stage a Spark feature table year by year; returns the rows staged.

    Each year of the window is one pandas batch (a year partition of the offline table):
    validated by the view's suite with run.check as in the pandas path, then handed to
    run.replace_window for that year's part of the window. Why pandas batches through the
    run's writer rather than Spark writing into the staged folder: the gate validates pandas
    frames, and writing exactly the validated frame with the one writer gives the same files
    as the pandas engine (layout year=YYYY[/zone=..]/data.parquet, sort order, dtypes,
    microsecond timestamps), so Feast, materialize and training read them unchanged; the
    transaction stages every year and a rejection anywhere drops them all. Memory is one
    year's rows. Every year is validated even after a rejection (the report names them all);
    nothing more is staged once the run failed.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from features.spark.io import to_pandas
    from validation.suites import REFERENCES

    spec = FEATURES[name]
    strings, ints = _PANDAS_TYPES.get(name, _DEFAULT_TYPES)
    references = {
        ref: lake.read_table(LAKE[table].root(run.settings))
        for ref, table in REFERENCES.get(name, {}).items()
    }
    year = F.year(spec.time_column)
    # Computed once, then read a year at a time (spark.local.dir is in the state folder).
    frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        years = sorted(int(r[0]) for r in frame.select(year).distinct().collect())
        # Years the table holds rows of: a year the new result lacks is cleared in the window.
        root = run.txn.stage_dir(spec.root(run.settings))
        held = {int(p.name.removeprefix("year=")) for p in root.glob("year=*")}
        written = 0
        for y in sorted(set(years) | held):
            lo, hi = _year_window(y, start, end)
            if lo >= hi:
                continue
            if y not in years:
                if not run.failed:
                    run.replace_window(name, _empty_like(frame, strings, ints), lo, hi)
                continue
            batch = to_pandas(frame.where(year == y), strings, ints)
            batch = batch.sort_values(list(spec.key), kind="stable", ignore_index=True)
            decision = run.check(
                name, batch, kind="feature", references=references, window=(lo, hi)
            )
            if not run.failed:
                written += run.replace_window(name, decision.write, lo, hi)
        crossing = _keys_across_years(name, frame, year)
        if crossing is not None:
            # A key the suite wants unique, in rows of two years: each year passed alone, so
            # the rows of those keys are checked as one more batch (rejected: nothing is
            # written), never staged themselves.
            batch = to_pandas(crossing, strings, ints)
            run.check(name, batch, kind="feature", references=references, window=(start, end))
        return written
    finally:
        frame.unpersist()


def _keys_across_years(name: str, frame: SparkFrame, year: Any) -> SparkFrame | None:
    """The rows whose suite-unique key occurs in more than one year partition, or None.

    Year batches cannot see such a duplicate (e.g. guest_home_country is unique per
    guest_id); keys that contain the partition's time column cannot cross years.
    """
    from pyspark.sql import functions as F

    from validation.suites import unique_keys

    time_column = FEATURES[name].time_column
    for key in unique_keys(name):
        if time_column in key:
            continue
        spread = (
            frame.groupBy(*key)
            .agg(F.countDistinct(year).alias("_years"))
            .where(F.col("_years") > 1)
            .drop("_years")
        )
        if spread.limit(1).count():
            return frame.join(spread, on=list(key), how="left_semi")
    return None


def _empty_like(frame: SparkFrame, strings: str | type, ints: str) -> pd.DataFrame:
    from features.spark.io import to_pandas

    return to_pandas(frame.limit(0), strings, ints)


@task(name="compute-feature-group", cache_policy=NO_CACHE)
def compute_feature_group(
    group: str, state_dir: str, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, Any]:
    return compute_group(group, Settings(state_dir=state_dir), start, end)


@task(name="gate-feature-table", cache_policy=NO_CACHE)
def gate_feature_table(
    run: GateRun, name: str, frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> int:
    """Validate one feature table of the window and stage the replacement of the window's rows
    with what the gate lets through; returns the rows staged.

    Staged rows are committed with the run, only when no table of the run was rejected, so
    validating and staging table by table writes what validating every table first would.
    """
    from validation.suites import REFERENCES

    references = {
        ref: lake.read_table(LAKE[table].root(run.settings))
        for ref, table in REFERENCES.get(name, {}).items()
    }
    decision = run.check(name, frame, kind="feature", references=references, window=(start, end))
    if run.failed:
        return 0
    return run.replace_window(name, decision.write, start, end)


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
    from flows.ingestion import _flow_run_id, freeze_start_up_heap, gate_failure
    from validation.runcard import publish

    freeze_start_up_heap()
    settings = Settings()
    lo, hi = _bounds(start, end)
    for group in groups or list(GROUPS):
        if group not in GROUPS:
            raise ValueError(f"unknown feature group {group!r}; choose from {', '.join(GROUPS)}")
    run = GateRun(settings, "features", _flow_run_id())
    written: dict[str, int] = {}
    try:
        computed: dict[str, Any] = {}
        for group in groups or list(GROUPS):
            computed.update(compute_feature_group(group, str(settings.state_dir), lo, hi))
        # quote(): Prefect would otherwise walk the run and every frame (task inputs) per call.
        for name, frame in computed.items():
            if isinstance(frame, pd.DataFrame):
                written[name] = gate_feature_table(as_is(run), name, as_is(frame), lo, hi)
            else:  # Spark (FTI_FEATURE_ENGINE=spark): gated and staged a year at a time
                written[name] = gate_spark_table(as_is(run), name, as_is(frame), lo, hi)
        report = commit_run(as_is(run))
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
