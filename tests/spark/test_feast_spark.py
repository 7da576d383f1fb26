"""Feast's Spark offline store and Spark compute engine (the Spark profile) on the real repo.

One state folder per profile holds the same offline tables, written by fti.lake (year and zone
partition folders, microsecond timestamps). Retrieval through the feature services must equal
the brute-force as-of join (tests/feast_fixtures.brute_force, as for the DuckDB store) and the
DuckDB store's answer, value for value; materialization through Feast's Spark compute engine
must leave the same online values as the default engine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES
from tests.feast_fixtures import ViewSpec, brute_force

if TYPE_CHECKING:
    from feast import FeatureStore
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark

log = logging.getLogger(__name__)

T0 = pd.Timestamp("2023-12-30", tz="UTC")  # the tables cross a new year: two year partitions
ZONES = ["SE1", "SE2", "SE3"]
DAILY_STATIONS = [98210, 97400]
SUNSHINE_STATIONS = [99275, 98735]
HOTELS = ["City Hotel", "Resort Hotel"]
WEEKS = ["2023-12-25", "2024-01-01", "2024-01-08"]
SERVICES = ["price_forecaster_v1", "cancellation_classifier_v2"]
# Materialization window. No row may sit on its end: Feast's Spark engine reads
# start <= t <= end (SQL BETWEEN), the default engine start <= t < end.
MAT_START, MAT_END = T0 - timedelta(days=1), T0 + timedelta(days=2, minutes=30)


# ------------------------------------------------------------------ data


def _values(rng: np.random.Generator, dtype: str, n: int) -> Any:
    """Seeded values of a Feast type, about one in eight missing."""
    missing = rng.random(n) < 0.125
    if dtype == "Float64":
        values = rng.normal(50, 20, n).round(3)
        values[missing] = np.nan
        return values
    if dtype == "Int64":
        ints = pd.array(rng.integers(0, 40, n), dtype="Int64")
        ints[missing] = pd.NA
        return ints
    if dtype == "String":
        texts = rng.choice(["A", "B", "Online TA", "Direct"], n).astype(object)
        texts[missing] = None
        return texts
    raise AssertionError(f"no generator for {dtype}")


def _rows(rng: np.random.Generator, keys: pd.DataFrame, stamps: pd.Series) -> pd.DataFrame:
    """Key columns with event timestamps, unique per (keys, event_timestamp)."""
    frame = keys.reset_index(drop=True).assign(event_timestamp=stamps.to_numpy())
    return frame.drop_duplicates(ignore_index=True)


def offline_tables(views: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Seeded offline tables of the views the two services read (features by their types)."""
    rng = np.random.default_rng(0)
    hours = pd.date_range(T0, periods=72, freq="h")

    def grid(column: str, values: list[Any], stamps: pd.DatetimeIndex) -> pd.DataFrame:
        pairs = [(v, t) for v in values for t in stamps if rng.random() > 0.15]  # gaps
        return pd.DataFrame(pairs, columns=[column, "event_timestamp"])

    def scattered(keys: pd.DataFrame, per_key: int, days: int) -> pd.DataFrame:
        repeated = keys.loc[keys.index.repeat(per_key)]
        minutes = rng.integers(0, days * 24 * 60, len(repeated))
        return _rows(rng, repeated, pd.Series(T0 + pd.to_timedelta(minutes, unit="min")))

    bookings = pd.DataFrame({"booking_id": [f"b{i:02d}" for i in range(40)]})
    keys = {
        "zone_prices": grid("zone", ZONES, hours),
        "weather_daily": grid("station_id", DAILY_STATIONS, pd.date_range(T0, periods=4, freq="D")),
        "weather_sunshine": grid("station_id", SUNSHINE_STATIONS, hours),
        "booking_details": scattered(bookings, 1, 4).assign(
            hotel=lambda d: rng.choice(HOTELS, len(d)),
            stay_week_start=lambda d: rng.choice(WEEKS, len(d)),
        ),
        "hotel_weekly_vacancy": scattered(
            pd.MultiIndex.from_product(
                [HOTELS, WEEKS], names=["hotel", "stay_week_start"]
            ).to_frame(index=False),
            6,
            4,
        ),
        "guest_session_embedding": scattered(
            pd.DataFrame({"guest_id": [f"g{i:02d}" for i in range(15)]}), 3, 4
        ),
    }
    tables = {}
    for name, frame in keys.items():
        if "station_id" in frame:
            frame["station_id"] = frame["station_id"].astype("int64")
        frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
        for field in views[name].features:
            frame[field.name] = _values(rng, str(field.dtype), len(frame))
        tables[name] = frame
    return tables


def write_tables(settings: Settings, tables: dict[str, pd.DataFrame]) -> None:
    for name, frame in tables.items():
        table = FEATURES[name]
        lake.upsert(frame, table.root(settings), table.key, table.partition)


def entity_frames() -> dict[str, pd.DataFrame]:
    """Entity rows of each service: known and unknown keys, before, on, between and past rows."""
    rng = np.random.default_rng(1)

    def stamps(n: int) -> pd.Series:
        minutes = rng.integers(-120, 5 * 24 * 60, n)
        # A quarter exactly on the hour, where the hourly rows are (ties with the entity time).
        minutes[: n // 4] -= minutes[: n // 4] % 60
        return pd.Series(T0 + pd.to_timedelta(minutes, unit="min"))

    n = 120
    price = pd.DataFrame(
        {
            "zone": rng.choice([*ZONES, "SE4"], n),
            "weather_station_id": rng.choice([*DAILY_STATIONS, 1], n),
            "sunshine_station_id": rng.choice([*SUNSHINE_STATIONS, 2], n),
            "event_timestamp": stamps(n),
        }
    )
    m = 80
    cancellation = pd.DataFrame(
        {
            "booking_id": rng.choice([f"b{i:02d}" for i in range(44)], m),
            "hotel": rng.choice(HOTELS, m),
            "stay_week_start": rng.choice([*WEEKS, "2024-02-05"], m),
            "guest_id": rng.choice([f"g{i:02d}" for i in range(17)], m),
            "event_timestamp": stamps(m),
        }
    )
    out = {}
    for name, frame in (
        ("price_forecaster_v1", price),
        ("cancellation_classifier_v2", cancellation),
    ):
        frame = pd.concat([frame, frame.iloc[:3]], ignore_index=True)  # duplicate entity rows
        out[name] = frame.assign(__row=np.arange(len(frame)))
    return out


# ------------------------------------------------------------------ stores


@dataclass
class Stores:
    spark: FeatureStore
    duckdb: FeatureStore
    tables: dict[str, pd.DataFrame]
    spark_state: Path


@pytest.fixture(scope="module")
def stores(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """The repo applied twice over the same tables: Spark profile and the embedded default."""
    from fti.store import apply_definitions, load_definitions, open_store

    views = {fv.name: fv for fv in load_definitions().feature_views}
    tables = offline_tables(views)
    out = {}
    for engine in ("spark", "pandas"):
        state = tmp_path_factory.mktemp(f"state-{engine}")
        settings = Settings(state_dir=state, feature_engine=engine, spark_master="local[2]")
        write_tables(settings, tables)
        store = open_store(settings)
        apply_definitions(store)  # SparkSource paths from the config's state folder
        out[engine] = (store, state)
    yield Stores(out["spark"][0], out["pandas"][0], tables, out["spark"][1])


def _spec(store: FeatureStore, projection: Any) -> tuple[ViewSpec, dict[str, pa.DataType]]:
    """What brute_force needs to know about one feature view projection of a service."""
    types = {"Float64": pa.float64(), "Int64": pa.int64(), "String": pa.string()}
    view = store.get_feature_view(projection.name)
    key_map = projection.join_key_map or {}
    keys = [(c.name, key_map.get(c.name, c.name)) for c in view.entity_columns]
    features = [f.name for f in projection.features]
    spec = ViewSpec(
        name=projection.name_to_use(),
        keys=keys,
        created=None,
        features=[(f, f) for f in features],
        ttl=view.ttl or timedelta(0),
    )
    dtypes = {f.name: types[str(f.dtype)] for f in view.features}
    return spec, dtypes


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer columns as Python ints and None, as brute_force builds Arrow from them."""
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.Int64Dtype):
            frame[column] = pd.Series(
                [None if pd.isna(v) else int(v) for v in frame[column]], dtype=object
            )
    return frame


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """One representation for every engine: entity order, UTC nanoseconds, numbers as float64.

    Spark gives naive UTC wall times and may reorder rows; an int64 column with a missing value
    is float64 with NaN in every engine, without one it may stay int64: compare as float64.
    """
    frame = frame.sort_values("__row", kind="stable").reset_index(drop=True)
    stamp = pd.to_datetime(frame["event_timestamp"])
    if stamp.dt.tz is None:
        stamp = stamp.dt.tz_localize("UTC")
    frame["event_timestamp"] = stamp.dt.tz_convert("UTC").dt.as_unit("ns")
    for column in frame.columns:
        if column not in ("event_timestamp", "__row") and pd.api.types.is_numeric_dtype(
            frame[column]
        ):
            frame[column] = frame[column].astype("float64")
        elif frame[column].dtype == object:
            frame[column] = frame[column].where(frame[column].notna(), None)
    return frame


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    "profile,engine,offline,batch",
    [
        ("local", "pandas", "fti.feast_offline.DuckDBAsofOfflineStore", "fti.feast_online."),
        ("local", "spark", "spark", "spark.engine"),  # the Spark profile
        ("production", "pandas", "fti.feast_offline.DuckDBAsofOfflineStore", "fti.feast_online."),
        ("production", "spark", "spark", "spark.engine"),  # Spark on the production services
    ],
)
def test_the_profile_picks_the_stores(
    tmp_path: Path, profile: str, engine: str, offline: str, batch: str
) -> None:
    from fti.store import render_config

    settings = Settings(
        state_dir=tmp_path,
        profile=profile,
        feature_engine=engine,
        spark_master="spark://127.0.0.1:7077",
        registry_url="postgresql+psycopg://u@127.0.0.1:5432/fti",
        redis_connection="127.0.0.1:6379",
    )
    config = render_config(settings)
    assert config["offline_store"]["type"] == offline
    assert config["batch_engine"]["type"].startswith(batch)
    online = config["online_store"]["type"]
    assert online.endswith(
        "FastRedisOnlineStore" if profile == "production" else "SqliteOnlineStore"
    )
    if engine == "spark":
        spark_conf = config["offline_store"]["spark_conf"]
        assert spark_conf["spark.master"] == "spark://127.0.0.1:7077"
        assert spark_conf["spark.local.dir"] == f"{tmp_path}/cache/spark/local"
        assert config["batch_engine"]["spark_conf"] == spark_conf
        assert spark_conf["spark.fti.stateDir"] == str(tmp_path)  # where the SparkSources read


# ------------------------------------------------------------------ retrieval


@pytest.mark.parametrize("service_name", SERVICES)
def test_historical_features_match_brute_force_and_duckdb(
    stores: Stores, service_name: str
) -> None:
    entity_df = entity_frames()[service_name]
    service = stores.spark.get_feature_service(service_name)

    started = time.perf_counter()
    got = stores.spark.get_historical_features(entity_df=entity_df.copy(), features=service).to_df()
    spark_s = time.perf_counter() - started
    started = time.perf_counter()
    duck = stores.duckdb.get_historical_features(
        entity_df=entity_df.copy(), features=stores.duckdb.get_feature_service(service_name)
    ).to_df()
    log.warning(
        "%s, %d entity rows: Spark store %.2f s, DuckDB store %.2f s",
        service_name,
        len(entity_df),
        spark_s,
        time.perf_counter() - started,
    )

    sources = []
    for projection in service.feature_view_projections:
        spec, dtypes = _spec(stores.spark, projection)
        sources.append((spec, _plain(stores.tables[projection.name]), dtypes))
    expected = normalised(brute_force(entity_df, sources, full_feature_names=False))

    assert len(got) == len(entity_df)  # every entity row once, none dropped
    assert set(got.columns) == set(expected.columns)  # no `year` partition column leaks out
    got = normalised(got)[expected.columns]
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    pd.testing.assert_frame_equal(got, normalised(duck)[expected.columns], check_exact=True)
    # Missing values are there to compare: unknown keys, expired TTL, nulls in the tables.
    assert got.isna().any().any()


# ------------------------------------------------------------------ materialization


def _online(store: FeatureStore, service_name: str, tables: dict[str, pd.DataFrame]) -> Any:
    """Online values of every key the tables hold (and one unknown key) through a service."""
    if service_name == "price_forecaster_v1":
        rows = [
            {"zone": z, "weather_station_id": w, "sunshine_station_id": s}
            for z, w, s in zip(
                [*ZONES, "SE4"],
                [*DAILY_STATIONS, 98210, 1],
                [*SUNSHINE_STATIONS, 99275, 2],
                strict=True,
            )
        ]
    else:
        vacancy = tables["hotel_weekly_vacancy"][["hotel", "stay_week_start"]].drop_duplicates()
        bookings = sorted(tables["booking_details"]["booking_id"])
        guests = sorted(tables["guest_session_embedding"]["guest_id"].unique())
        rows = [
            {"booking_id": b, "hotel": h, "stay_week_start": w, "guest_id": guests[i % len(guests)]}
            for i, (b, (h, w)) in enumerate(
                zip([*bookings, "b99"], [*vacancy.itertuples(index=False)] * 8, strict=False)
            )
        ]
    return store.get_online_features(
        features=store.get_feature_service(service_name), entity_rows=rows
    ).to_dict()


def _latest(frame: pd.DataFrame, keys: list[str], start: Any, end: Any) -> pd.DataFrame:
    window = frame[(frame["event_timestamp"] >= start) & (frame["event_timestamp"] < end)]
    return window.sort_values("event_timestamp").drop_duplicates(keys, keep="last")


def test_spark_engine_materializes_what_the_default_engine_does(stores: Stores) -> None:
    views = sorted(stores.tables)
    assert not any((t["event_timestamp"] == MAT_END).any() for t in stores.tables.values())
    start, end = MAT_START.to_pydatetime(), MAT_END.to_pydatetime()
    started = time.perf_counter()
    stores.spark.materialize(start, end, feature_views=views)
    spark_s = time.perf_counter() - started
    started = time.perf_counter()
    stores.duckdb.materialize(start, end, feature_views=views)
    log.warning(
        "materialize %d views: Spark engine %.2f s, default engine %.2f s",
        len(views),
        spark_s,
        time.perf_counter() - started,
    )

    for service_name in SERVICES:
        got = _online(stores.spark, service_name, stores.tables)
        assert got == _online(stores.duckdb, service_name, stores.tables)

    # And the values are the latest row of each key in the window, read straight from the table.
    got = _online(stores.spark, "price_forecaster_v1", stores.tables)
    latest = _latest(stores.tables["zone_prices"], ["zone"], MAT_START, MAT_END).set_index("zone")
    for zone, price in zip(got["zone"], got["price_eur_mwh"], strict=True):
        if zone == "SE4":
            assert price is None
            continue
        want = latest.loc[zone, "price_eur_mwh"]
        assert (price is None and pd.isna(want)) or price == want
