"""DuckDB ASOF offline store: as-of semantics, parity with Feast's file store, materialization."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

# One `import feast` (~10 s) for the whole module.
from feast import FeatureStore
from feast.errors import FeastEntityDFMissingColumnsError
from feast.infra.offline_stores.file_source import FileSource, SavedDatasetFileStorage
from feast.repo_config import load_repo_config
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fti.feast_offline import (
    STORE_TYPE,
    DuckDBAsofOfflineStore,
    DuckDBAsofOfflineStoreConfig,
)
from tests.feast_fixtures import (
    HOTEL,
    HOTEL_PATH,
    HOTEL_TYPES,
    T0,
    ZONE,
    ZONE_PATH,
    ZONE_TYPES,
    brute_force,
    feast_objects,
    hotel_frame,
    repo_config,
    write_hotel,
    write_zone,
    zone_frame,
)

ZONE_FEATURES = [f"zone_stats:{name}" for _, name in ZONE.features]
HOTEL_FEATURES = [f"hotel_week:{name}" for _, name in HOTEL.features]
ALL_FEATURES = ZONE_FEATURES + HOTEL_FEATURES


def _store(tmp: Path, offline: dict[str, Any] | None = None, apply: bool = True) -> FeatureStore:
    store = FeatureStore(config=repo_config(tmp, offline))
    if apply:
        store.apply(feast_objects())
    return store


def _normalised(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True).dt.as_unit("ns")
    return frame.sort_values(by, kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FeatureStore]:
    """One applied repo for the read-only tests; each test writes the data it needs."""
    tmp = tmp_path_factory.mktemp("feast_repo")
    write_zone(tmp, zone_frame([("a", 0, 0)]))
    write_hotel(tmp, hotel_frame([("h1", "w1", 0)]))
    return tmp, _store(tmp)


# ------------------------------------------------------------------ brute-force equality

_zone_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 10).map(lambda h: 60 * h),  # hourly grid: ties and TTL edges happen
        st.one_of(st.none(), st.integers(0, 2)),  # created: ties and NULLs
    ),
    min_size=1,
    max_size=14,
)
_hotel_rows = st.lists(
    st.tuples(
        st.sampled_from(["h1", "h2"]),
        st.sampled_from(["w1", "w2"]),
        st.integers(0, 10).map(lambda h: 60 * h),
    ),
    min_size=1,
    max_size=10,
)
_entity_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "zz"]),  # zz has no feature rows
        st.sampled_from(["h1", "h2", "h9"]),
        st.sampled_from(["w1", "w2"]),
        st.integers(-2, 26).map(lambda m: 30 * m),  # before the first row, on and between rows
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@example(
    # created breaks the tie at 60 min (NULL lowest); the hotel tie goes to the later row;
    # entity rows at 60 (exact), 240 (TTL edge, kept), 270 (expired), 30 (before any row)
    zone_rows=[("a", 60, 2), ("a", 60, 1), ("a", 60, None), ("b", 0, 0)],
    hotel_rows=[("h1", "w1", 0), ("h1", "w1", 0), ("h2", "w2", 60)],
    entity_rows=[("a", "h1", "w1", m) for m in (60, 240, 270, 30)],
    duplicate=True,
    full_feature_names=False,
)
@given(
    zone_rows=_zone_rows,
    hotel_rows=_hotel_rows,
    entity_rows=_entity_rows,
    duplicate=st.booleans(),
    full_feature_names=st.booleans(),
)
def test_matches_brute_force_asof(
    repo: tuple[Path, FeatureStore],
    zone_rows: list[tuple[str, int, int | None]],
    hotel_rows: list[tuple[str, str, int]],
    entity_rows: list[tuple[str, str, str, int]],
    duplicate: bool,
    full_feature_names: bool,
) -> None:
    tmp, store = repo
    zones, hotels = zone_frame(zone_rows), hotel_frame(hotel_rows)
    write_zone(tmp, zones)
    write_hotel(tmp, hotels)
    if duplicate:
        entity_rows = entity_rows + entity_rows[:2]
    entity_df = pd.DataFrame(
        {
            "row_tag": np.arange(len(entity_rows)),
            "zone": [r[0] for r in entity_rows],
            "hotel": [r[1] for r in entity_rows],
            "stay_week_start": [r[2] for r in entity_rows],
            "event_timestamp": [T0 + timedelta(minutes=r[3]) for r in entity_rows],
        }
    )

    got = store.get_historical_features(
        entity_df=entity_df, features=ALL_FEATURES, full_feature_names=full_feature_names
    ).to_df()

    expected = brute_force(
        entity_df,
        [(ZONE, zones, ZONE_TYPES), (HOTEL, hotels, HOTEL_TYPES)],
        full_feature_names,
    )
    pd.testing.assert_frame_equal(got, expected)


# ------------------------------------------------------------------ parity with Feast's file store


def _parity_data(tmp: Path) -> pd.DataFrame:
    """Hourly zones and 6-hourly hotels; every entity row has a row inside the TTL window."""
    rng = np.random.default_rng(0)
    hours = range(48)
    zones = zone_frame([(z, 60 * h, 60 * h) for h in hours for z in ["a", "b", "c"]])
    hotels = hotel_frame(
        [
            (hotel, week, 360 * k)
            for k in range(8)
            for hotel in ["h1", "h2"]
            for week in ["w1", "w2"]
        ]
    )
    write_zone(tmp, zones)
    write_hotel(tmp, hotels)
    n = 300
    entity_df = pd.DataFrame(
        {
            "zone": rng.choice(["a", "b", "c", "zz"], n),
            "hotel": rng.choice(["h1", "h2"], n),
            "stay_week_start": rng.choice(["w1", "w2"], n),
            "event_timestamp": T0 + pd.to_timedelta(rng.integers(60, 47 * 60, n), unit="min"),
        }
    )
    # The file store collapses duplicate entity rows, so compare on unique ones.
    return entity_df.drop_duplicates(ignore_index=True)


@pytest.mark.parametrize(
    "full_feature_names",
    [
        False,  # plain feature names
        True,  # view__feature names
    ],
)
def test_matches_feast_file_store(tmp_path: Path, full_feature_names: bool) -> None:
    entity_df = _parity_data(tmp_path)
    ours = _store(tmp_path)
    dask = _store(tmp_path, {"type": "file"}, apply=False)  # same registry and files

    got = ours.get_historical_features(
        entity_df=entity_df, features=ALL_FEATURES, full_feature_names=full_feature_names
    ).to_df()
    theirs = dask.get_historical_features(
        entity_df=entity_df, features=ALL_FEATURES, full_feature_names=full_feature_names
    ).to_df()

    assert len(got) == len(theirs) == len(entity_df)
    key = ["zone", "hotel", "stay_week_start", "event_timestamp"]
    theirs = _normalised(theirs, key)
    # hive partition columns come back categorical from dask; values are what we compare
    theirs["hotel"] = theirs["hotel"].astype(object)
    pd.testing.assert_frame_equal(_normalised(got, key), theirs[got.columns])


def test_file_store_drops_expired_rows_we_keep_them(tmp_path: Path) -> None:
    write_zone(tmp_path, zone_frame([("a", 0, 0), ("b", 0, 0), ("b", 600, 0)]))
    write_hotel(tmp_path, hotel_frame([("h1", "w1", 0)]))
    entity_df = pd.DataFrame(
        {
            "zone": ["a", "b"],  # a's only row is 10 h old, beyond the 3 h TTL
            "event_timestamp": [T0 + timedelta(hours=10), T0 + timedelta(hours=10)],
        }
    )
    ours = _store(tmp_path)
    dask = _store(tmp_path, {"type": "file"}, apply=False)

    got = ours.get_historical_features(entity_df=entity_df, features=ZONE_FEATURES).to_df()
    theirs = dask.get_historical_features(entity_df=entity_df, features=ZONE_FEATURES).to_df()

    assert list(theirs["zone"]) == ["b"]  # Feast's file store silently loses zone a
    assert list(got["zone"]) == ["a", "b"]
    assert got["price"].isna().tolist() == [True, False]
    assert got.loc[1, "label"] == "l2"


# ------------------------------------------------------------------ materialization


def test_materialize_and_incremental_into_sqlite(tmp_path: Path) -> None:
    rows = [("a", 0, 0), ("a", 60, 0), ("a", 60, 5), ("b", 30, 0), ("a", 120, 0)]
    write_zone(tmp_path, zone_frame(rows))
    write_hotel(tmp_path, hotel_frame([("h1", "w1", 0), ("h1", "w1", 90), ("h2", "w2", 30)]))
    store = _store(tmp_path)

    def online() -> pd.DataFrame:
        return store.get_online_features(
            features=["zone_stats:label", "zone_stats:volume", "hotel_week:booked"],
            entity_rows=[
                {"zone": "a", "hotel": "h1", "stay_week_start": "w1"},
                {"zone": "b", "hotel": "h2", "stay_week_start": "w2"},
            ],
        ).to_df()

    # [start, end) excludes a's row at 120 min; the created column breaks the tie at 60 min.
    store.materialize(T0, T0 + timedelta(minutes=120))
    first = online()
    assert first["label"].tolist() == ["l2", "l3"]
    assert first["booked"].tolist() == [10, 20]

    # New rows arrive; materialize_incremental picks up from the last end date.
    write_zone(tmp_path, zone_frame([*rows, ("b", 150, 0)]))
    store.materialize_incremental(T0 + timedelta(hours=3))
    second = online()
    assert second["label"].tolist() == ["l4", "l5"]
    assert second["volume"].tolist() == [4, 5]


# ------------------------------------------------------------------ entity_df edge cases


@pytest.mark.parametrize(
    "convert",
    [
        lambda s: s.dt.tz_localize(None),  # naive, read as UTC
        lambda s: s.dt.tz_convert("Europe/Berlin"),  # aware, not UTC
        lambda s: s.dt.tz_convert("America/New_York").dt.as_unit("us"),  # other zone and unit
    ],
)
def test_entity_timestamp_zones(repo: tuple[Path, FeatureStore], convert: Any) -> None:
    tmp, store = repo
    write_zone(tmp, zone_frame([("a", 0, 0), ("a", 60, 0), ("a", 120, 0)]))
    utc = pd.Series(pd.to_datetime([T0 + timedelta(minutes=m) for m in (59, 60, 150)], utc=True))
    entity_df = pd.DataFrame({"zone": ["a"] * 3, "event_timestamp": convert(utc)})

    got = store.get_historical_features(entity_df=entity_df, features=ZONE_FEATURES).to_df()

    assert str(got["event_timestamp"].dtype) == "datetime64[ns, UTC]"
    assert got["event_timestamp"].tolist() == utc.dt.as_unit("ns").tolist()
    assert got["label"].tolist() == ["l0", "l1", "l2"]


def test_join_key_map_from_feature_service(repo: tuple[Path, FeatureStore]) -> None:
    from feast import FeatureService

    tmp, store = repo
    write_zone(tmp, zone_frame([("a", 0, 0), ("b", 0, 0)]))
    zone_stats = store.get_feature_view("zone_stats")
    service = FeatureService(
        name="by_origin",
        features=[zone_stats[["label"]].with_join_key_map({"zone": "origin_zone"})],
    )
    store.apply([service])
    entity_df = pd.DataFrame(
        {
            "zone": ["a", "a"],  # ignored: the projection joins on origin_zone
            "origin_zone": ["b", "zz"],
            "event_timestamp": [T0 + timedelta(minutes=1)] * 2,
        }
    )
    got = store.get_historical_features(entity_df=entity_df, features=service).to_df()
    assert got["label"].tolist() == ["l1", None]


def test_empty_entity_df(repo: tuple[Path, FeatureStore]) -> None:
    _, store = repo
    entity_df = pd.DataFrame(
        {"zone": pd.Series([], dtype=object), "event_timestamp": pd.to_datetime([], utc=True)}
    )
    got = store.get_historical_features(entity_df=entity_df, features=ZONE_FEATURES).to_df()
    assert got.empty
    assert list(got.columns) == ["zone", "event_timestamp", "price", "volume", "label", "active"]
    assert str(got["event_timestamp"].dtype) == "datetime64[ns, UTC]"


def test_missing_join_key_is_a_clear_error(repo: tuple[Path, FeatureStore]) -> None:
    _, store = repo
    entity_df = pd.DataFrame({"zone": ["a"], "event_timestamp": [T0]})
    with pytest.raises(FeastEntityDFMissingColumnsError, match="stay_week_start"):
        store.get_historical_features(entity_df=entity_df, features=ALL_FEATURES)


def test_sql_entity_df_is_not_supported(repo: tuple[Path, FeatureStore]) -> None:
    _, store = repo
    with pytest.raises(NotImplementedError, match="pandas DataFrame"):
        store.get_historical_features(entity_df="SELECT 1", features=ZONE_FEATURES)


# ------------------------------------------------------------------ ODFVs, saved datasets, config


def test_on_demand_view_and_saved_dataset(repo: tuple[Path, FeatureStore]) -> None:
    tmp, store = repo
    write_zone(tmp, zone_frame([("a", 0, 0), ("b", 0, 0)]))
    entity_df = pd.DataFrame(
        {
            "zone": ["b", "a", "zz"],
            "event_timestamp": [T0 + timedelta(minutes=5)] * 3,
            "factor": [10.0, 2.0, 3.0],
        }
    )
    job = store.get_historical_features(
        entity_df=entity_df, features=["zone_stats:price", "zone_scaled:scaled_price"]
    )
    got = job.to_df()
    assert got["scaled_price"].tolist()[:2] == [15.0, 1.0]
    assert np.isnan(got["scaled_price"].iloc[2])

    saved = store.create_saved_dataset(
        from_=job,
        name="zone_snapshot",
        storage=SavedDatasetFileStorage(path="saved/zone_snapshot.parquet"),
        allow_overwrite=True,
    )
    assert (tmp / "saved" / "zone_snapshot.parquet").exists()
    back = store.get_saved_dataset(saved.name).to_df()
    assert sorted(back["scaled_price"].dropna().tolist()) == [1.0, 15.0]


def test_feature_store_yaml_selects_the_store(tmp_path: Path) -> None:
    (tmp_path / "feature_store.yaml").write_text(
        "project: fti_test\n"
        "provider: local\n"
        "registry: registry.db\n"
        "online_store:\n  type: sqlite\n  path: online.db\n"
        "offline_store:\n"
        f"  type: {STORE_TYPE}\n"
        "  root: offline\n"
        "  memory_limit: 1GB\n"
        "  threads: 1\n"
        "entity_key_serialization_version: 3\n"
    )
    config = load_repo_config(tmp_path, tmp_path / "feature_store.yaml")
    assert isinstance(config.offline_store, DuckDBAsofOfflineStoreConfig)
    assert config.offline_store.memory_limit == "1GB"


# ------------------------------------------------------------------ pulls and source paths


@pytest.mark.parametrize(
    "path",
    [
        ZONE_PATH,  # file relative to root
        "{root}/" + ZONE_PATH,  # absolute file
        HOTEL_PATH,  # folder of hive-partitioned files
        "data/hotel_week/hotel=*/*.parquet",  # glob, hive partitions still read
    ],
)
def test_pull_all_reads_every_path_kind(repo: tuple[Path, FeatureStore], path: str) -> None:
    tmp, store = repo
    write_zone(tmp, zone_frame([("a", 0, 0), ("b", 60, 0), ("c", 120, 0)]))
    write_hotel(tmp, hotel_frame([("h1", "w1", 0), ("h2", "w1", 60), ("h2", "w2", 120)]))
    source = FileSource(path=path.format(root=tmp), timestamp_field="event_timestamp")
    keys = ["hotel"] if "hotel" in path else ["zone"]

    table = DuckDBAsofOfflineStore.pull_all_from_table_or_query(
        config=store.config,
        data_source=source,
        join_key_columns=keys,
        feature_name_columns=[],
        timestamp_field="event_timestamp",
        start_date=T0 + timedelta(minutes=30),
        end_date=T0 + timedelta(minutes=120),  # exclusive
    ).to_arrow()

    assert table.column_names == [*keys, "event_timestamp"]
    assert table.num_rows == 1
    assert str(table.schema.field("event_timestamp").type) == "timestamp[ns, tz=UTC]"


def test_pull_latest_breaks_ties_by_created(repo: tuple[Path, FeatureStore]) -> None:
    tmp, store = repo
    write_zone(tmp, zone_frame([("a", 0, 9), ("a", 60, 1), ("a", 60, 3), ("a", 60, None)]))
    table = DuckDBAsofOfflineStore.pull_latest_from_table_or_query(
        config=store.config,
        data_source=FileSource(path=ZONE_PATH, timestamp_field="event_timestamp"),
        join_key_columns=["zone"],
        feature_name_columns=["label"],
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
        start_date=T0,
        end_date=T0 + timedelta(hours=1, seconds=1),
    ).to_arrow()
    assert table.column("label").to_pylist() == ["l2"]
    assert table.column_names == ["zone", "label", "event_timestamp", "created"]


def test_offline_write_batch_is_refused(repo: tuple[Path, FeatureStore]) -> None:
    _, store = repo
    with pytest.raises(NotImplementedError, match="read-only"):
        DuckDBAsofOfflineStore.offline_write_batch(store.config, None, None, None)  # type: ignore[arg-type]


def test_schema_inference_and_validation_resolve_against_root(tmp_path: Path) -> None:
    from feast import Entity, FeatureView, ValueType

    write_zone(tmp_path, zone_frame([("a", 0, 0)]))
    store = _store(tmp_path, {"type": STORE_TYPE, "root": str(tmp_path / "data")}, apply=False)
    source = FileSource(path="zone_stats.parquet", timestamp_field="event_timestamp")
    zone = Entity(name="zone", join_keys=["zone"], value_type=ValueType.STRING)
    # No schema: Feast asks the offline store for the columns of the source.
    view = FeatureView(name="inferred", entities=[zone], source=source)
    store.apply([zone, view])
    inferred = {f.name: str(f.dtype) for f in store.get_feature_view("inferred").features}
    assert inferred == {
        "created": "UnixTimestamp",  # not declared as the created column here
        "price": "Float64",
        "volume": "Int64",
        "label": "String",
        "active": "Bool",
    }

    offline = DuckDBAsofOfflineStore()
    offline.validate_data_source(store.config, source)
    with pytest.raises(ValueError, match="not in the source"):
        offline.validate_data_source(
            store.config, FileSource(path="zone_stats.parquet", timestamp_field="ts")
        )
    with pytest.raises(FileNotFoundError, match=r"missing\.parquet"):
        offline.validate_data_source(
            store.config, FileSource(path="missing.parquet", timestamp_field="event_timestamp")
        )


@pytest.mark.parametrize(
    "unit,tz",
    [("ns", "UTC"), ("us", None), ("ms", "Europe/Stockholm"), ("s", None)],  # parquet types
)
def test_pull_window_is_exact_whatever_the_timestamp_type(
    tmp_path: Path, unit: str, tz: str | None
) -> None:
    """[start, end) to the nanosecond: the scan-level prefilter never changes the answer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    start = pd.Timestamp("2024-03-01 12:00:00", tz="UTC")
    end = start + pd.Timedelta(hours=1)
    step = pd.Timedelta(1, unit=unit)  # the column's precision
    stamps = [start - step, start, end - step, end, start - pd.Timedelta(days=400)]
    path = tmp_path / "events.parquet"
    column = pd.Series(stamps).dt.as_unit(unit)
    column = column.dt.tz_convert(tz) if tz else column.dt.tz_localize(None)
    frame = pd.DataFrame({"k": ["a", "b", "c", "d", "e"], "event_timestamp": column})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    store = _store(tmp_path, apply=False)

    table = DuckDBAsofOfflineStore.pull_all_from_table_or_query(
        config=store.config,
        data_source=FileSource(path=str(path), timestamp_field="event_timestamp"),
        join_key_columns=["k"],
        feature_name_columns=[],
        timestamp_field="event_timestamp",
        start_date=start.to_pydatetime(),
        end_date=end.to_pydatetime(),
    ).to_arrow()
    assert sorted(table.column("k").to_pylist()) == ["b", "c"]
