"""The fast online stores against Feast's own: same stored bytes, same reads, on the same data."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fti.feast_offline import STORE_TYPE as OFFLINE_TYPE
from fti.feast_online import ENGINE_TYPE, REDIS_TYPE, SQLITE_TYPE
from tests.conftest import skip_or_fail

T0 = pd.Timestamp("2024-03-01", tz="UTC")
START = datetime(2000, 1, 1, tzinfo=UTC)
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


# --------------------------------------------------------------------------------------------
# Column encoders against Feast's per-value conversion
# --------------------------------------------------------------------------------------------


def _feast_bytes(array: pa.Array, value_type: Any) -> tuple[list[bytes], list[Any]]:
    from feast.infra.online_stores.helpers import extract_text_and_num
    from feast.type_map import python_values_to_proto_values

    protos = python_values_to_proto_values(array.to_numpy(zero_copy_only=False), value_type)
    return (
        [p.SerializeToString() for p in protos],
        [extract_text_and_num(p, False)[0] for p in protos],
    )


BIG = 2**62 + 12345
CASES = [
    # (arrow array, Feast value type name); a comment per case says what it exercises.
    (
        pa.array([0.0, -1.5, 1e300, float("nan"), None, 1e-7, -0.0], pa.float64()),
        "DOUBLE",
    ),  # NaN, null, -0
    (pa.array([float("nan"), None], pa.float64()), "DOUBLE"),  # no usable value at all
    (pa.array([1.1, None, 3.25, float("inf")], pa.float32()), "FLOAT"),  # float32 repr, inf
    (pa.array([0, 1, -1, 127, 128, 300, -(2**63), 2**63 - 1], pa.int64()), "INT64"),  # varints
    (pa.array([5, None, -7, 2**40], pa.int64()), "INT64"),  # nulls: Feast goes through float
    (pa.array([BIG, None], pa.int64()), "INT64"),  # beyond 2**53 with nulls: Feast's own path
    (pa.array([0, -5, 2**31 - 1, -(2**31)], pa.int32()), "INT32"),  # negative int32: 10 bytes
    (pa.array([3, 4], pa.int32()), "INT64"),  # narrower ints widen
    (pa.array(["a", "", None, "åäö ☃", "x" * 300], pa.string()), "STRING"),  # utf-8, 2-byte len
    (pa.array(["l1", None], pa.large_string()), "STRING"),  # large offsets
    (pa.array([None, None], pa.string()), "STRING"),  # all null
    (pa.array([True, False, None], pa.bool_()), "BOOL"),
    (pa.array([b"\x00\x01", b"", None], pa.binary()), "BYTES"),
    (pa.array([1.5, 2.5], pa.float32()), "DOUBLE"),  # Feast refuses float32 as Float64
    (pa.array([1, 2**60], pa.int64()), "DOUBLE"),  # ints declared Float64: Feast's own path
    (pa.array([1, None, 3], pa.int64()), "STRING"),  # declared string over ints: str(x)
    (
        pa.array([T0.to_pydatetime(), None], pa.timestamp("us", "UTC")),
        "UNIX_TIMESTAMP",
    ),  # no vectorized encoder
]


@pytest.mark.parametrize(("array", "type_name"), CASES)
def test_encode_values_equals_feast(array: pa.Array, type_name: str) -> None:
    from feast.value_type import ValueType

    from fti.feast_online import encode_values

    value_type = ValueType[type_name]
    try:
        expected, expected_texts = _feast_bytes(array, value_type)
    except Exception as exc:  # Feast refuses the column: so do we, the same way
        with pytest.raises(type(exc)):
            encode_values(array, value_type, want_text=True)
        return
    values, texts = encode_values(array, value_type, want_text=True)
    assert list(values) == expected
    assert list(texts) == expected_texts  # type: ignore[arg-type]
    # Chunked input gives the same bytes.
    chunked = pa.chunked_array([array.slice(0, 1), array.slice(1)])
    assert list(encode_values(chunked, value_type)[0]) == expected


def test_encode_entity_keys_equals_feast() -> None:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value
    from feast.value_type import ValueType

    from fti.feast_online import encode_entity_keys

    table = pa.table(
        {
            "zone": ["SE1", "åäö", "", "x" * 200],
            "station_id": pa.array([1, -2, 2**62, 0], pa.int64()),
            "hotel": ["H1", "H2", "H1", "H3"],
        }
    )
    # One string key, one int key, and two keys whose order differs from sorted order.
    for join_keys in (
        {"zone": ValueType.STRING},
        {"station_id": ValueType.INT64},
        {"zone": ValueType.STRING, "hotel": ValueType.STRING, "station_id": ValueType.INT64},
    ):
        got = list(encode_entity_keys(table, join_keys))
        expected = []
        for i in range(table.num_rows):
            values = []
            for key, vt in join_keys.items():
                raw = table.column(key)[i].as_py()
                values.append(
                    Value(string_val=raw) if vt == ValueType.STRING else Value(int64_val=raw)
                )
            proto = EntityKey(join_keys=list(join_keys), entity_values=values)
            expected.append(serialize_entity_key(proto, entity_key_serialization_version=3))
        assert got == expected, join_keys


# --------------------------------------------------------------------------------------------
# A small repo materialized into Feast's stores and into ours
# --------------------------------------------------------------------------------------------


def _frames(seed: int, hours: int) -> dict[str, pd.DataFrame]:
    """Three feature tables; values include NaN, nulls, unicode and sub-second timestamps."""
    rng = np.random.default_rng(seed)
    zones = [f"Z{i}" for i in range(12)] + ["Zö"]
    n = len(zones) * hours
    stamp = T0 + pd.to_timedelta(np.repeat(np.arange(hours), len(zones)), unit="h")
    stamp = stamp + pd.to_timedelta(rng.integers(0, 10**9, n), unit="ns")  # sub-second parts
    price = rng.normal(50, 20, n)
    price[rng.random(n) < 0.1] = np.nan
    zone = pd.DataFrame(
        {
            "zone": np.tile(zones, hours),
            "event_timestamp": stamp,
            "price": price,
            "price32": rng.normal(size=n).astype(np.float32),
            "volume": pd.array(
                np.where(rng.random(n) < 0.1, None, rng.integers(-500, 10**6, n)), "Int64"
            ),
            "count32": rng.integers(-100, 100, n).astype(np.int32),
            "label": pd.array(
                np.where(rng.random(n) < 0.1, None, rng.choice(["low", "högt", ""], n)), "string"
            ),
            "active": rng.random(n) < 0.5,
            "blob": [bytes([i % 256, 7]) for i in range(n)],
            "seen_at": stamp.floor("s"),
        }
    )
    stations = [98210, 71420, -1]
    station = pd.DataFrame(
        {
            "station_id": np.tile(stations, hours),
            "event_timestamp": T0 + pd.to_timedelta(np.repeat(np.arange(hours), 3), unit="h"),
            "temperature_c": rng.normal(5, 8, 3 * hours),
        }
    )
    weeks = ["2024-03-04", "2024-03-11"]
    pairs = [(h, w) for h in ("H1", "H2") for w in weeks]
    vacancy = pd.DataFrame(
        {
            "hotel": [p[0] for p in pairs] * hours,
            "stay_week_start": [p[1] for p in pairs] * hours,
            "event_timestamp": T0 + pd.to_timedelta(np.repeat(np.arange(hours), 4), unit="h"),
            "booked": rng.integers(0, 70, 4 * hours),
            "level": rng.random(4 * hours),
        }
    )
    return {"zone_stats": zone, "station_obs": station, "hotel_week": vacancy}


def _write(root: Path, frames: dict[str, pd.DataFrame], part: str) -> None:
    for name, frame in frames.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(folder / f"{part}.parquet", index=False)


def _objects() -> list[Any]:
    from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
    from feast.types import Bool, Bytes, Float32, Float64, Int32, Int64, String, UnixTimestamp

    zone = Entity(name="zone", join_keys=["zone"], value_type=ValueType.STRING)
    station = Entity(name="station", join_keys=["station_id"], value_type=ValueType.INT64)
    hotel = Entity(name="hotel", join_keys=["hotel"], value_type=ValueType.STRING)
    week = Entity(name="stay_week", join_keys=["stay_week_start"], value_type=ValueType.STRING)

    def source(name: str) -> FileSource:
        return FileSource(name=f"{name}_source", path=name, timestamp_field="event_timestamp")

    zone_stats = FeatureView(
        name="zone_stats",
        entities=[zone],
        ttl=timedelta(days=2),
        schema=[
            Field(name="price", dtype=Float64),
            Field(name="price32", dtype=Float32),
            Field(name="volume", dtype=Int64),
            Field(name="count32", dtype=Int32),
            Field(name="label", dtype=String),
            Field(name="active", dtype=Bool),
            Field(name="blob", dtype=Bytes),
            Field(name="seen_at", dtype=UnixTimestamp),
        ],
        source=source("zone_stats"),
    )
    station_obs = FeatureView(
        name="station_obs",
        entities=[station],
        ttl=timedelta(days=3),
        schema=[Field(name="temperature_c", dtype=Float64)],
        source=source("station_obs"),
    )
    hotel_week = FeatureView(
        name="hotel_week",
        entities=[hotel, week],
        ttl=timedelta(0),
        schema=[Field(name="booked", dtype=Int64), Field(name="level", dtype=Float64)],
        source=source("hotel_week"),
    )
    service = FeatureService(
        name="svc",
        features=[
            zone_stats[["price", "label", "active"]],
            station_obs.with_join_key_map({"station_id": "weather_station_id"}),
            hotel_week,
        ],
    )
    return [zone, station, hotel, week, zone_stats, station_obs, hotel_week, service]


def _store(
    root: Path, name: str, online: dict[str, Any], fast: bool, project: str = "fti_unit"
) -> Any:
    from feast import FeatureStore, RepoConfig

    extra = {"batch_engine": {"type": ENGINE_TYPE}} if fast else {}
    config = RepoConfig(
        project=project,
        provider="local",
        registry=str(root / f"registry_{name}.db"),
        online_store=online,
        offline_store={"type": OFFLINE_TYPE, "root": str(root)},
        repo_path=root,
        entity_key_serialization_version=3,
        **extra,
    )
    store = FeatureStore(config=config)
    store.apply(_objects())
    return store


def _materialize(store: Any, end: datetime) -> None:
    store.materialize(start_date=START, end_date=end)


def _sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row (all columns), by key, and within a key in rowid order.

    Our bulk write inserts entities in key order, so rowids differ from Feast's across keys;
    the rows, their bytes and the order of a key's rows (what Feast's read sees) are the same.
    """
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: con.execute(f'SELECT * FROM "{t}" ORDER BY entity_key, rowid').fetchall()
            for t in tables
        }
    finally:
        con.close()


REQUESTS: list[tuple[str, Any, Any, bool]] = [
    # (what, features, entity rows, full_feature_names)
    ("one view", ["zone_stats:price", "zone_stats:volume"], [{"zone": "Z1"}], False),
    (
        "all types, duplicates and a missing key",
        [
            f"zone_stats:{f}"
            for f in ("price", "price32", "volume", "count32", "label", "active", "blob", "seen_at")
        ],
        [{"zone": z} for z in ("Z3", "Zö", "nope", "Z3", "Z0")],
        False,
    ),
    ("int key", ["station_obs:temperature_c"], {"station_id": [98210, -1, 5]}, True),
    (
        "two keys",
        ["hotel_week:booked", "hotel_week:level"],
        [{"hotel": "H1", "stay_week_start": "2024-03-11"}, {"hotel": "H9", "stay_week_start": "x"}],
        False,
    ),
    (
        "service with a join key map",
        "svc",
        [
            {"zone": z, "weather_station_id": s, "hotel": "H2", "stay_week_start": "2024-03-04"}
            for z, s in (("Z2", 71420), ("Z5", 1), ("Z2", 71420))
        ],
        False,
    ),
    (
        "service, full names",
        "svc",
        [{"zone": "Z7", "weather_station_id": -1, "hotel": "H1", "stay_week_start": "2024-03-04"}],
        True,
    ),
    (
        "entity name instead of join key: Feast's own path",
        ["station_obs:temperature_c"],
        [{"station_id": 98210.0}],
        False,
    ),
]


def _responses(store: Any) -> list[tuple[dict[str, Any], dict[str, Any], bytes, pd.DataFrame]]:
    from fti.feast_online import FastOnlineResponse

    ours = store.config.online_store.type in (SQLITE_TYPE, REDIS_TYPE)
    out = []
    for what, features, rows, full in REQUESTS:
        feats = store.get_feature_service(features) if isinstance(features, str) else features
        response = store.get_online_features(
            features=feats, entity_rows=rows, full_feature_names=full
        )
        # Our stores answer plain requests themselves and hand the rest to Feast.
        assert isinstance(response, FastOnlineResponse) == (ours and "Feast's" not in what), what
        out.append(
            (
                response.to_dict(),
                response.to_dict(include_event_timestamps=True),
                response.proto.SerializeToString(deterministic=True),
                response.to_df(),
            )
        )
    return out


def _assert_same_responses(got: list[Any], expected: list[Any]) -> None:
    for (what, *_), a, b in zip(REQUESTS, got, expected, strict=True):
        assert a[0] == b[0], what
        assert a[1] == b[1], what
        assert a[2] == b[2], what
        pd.testing.assert_frame_equal(a[3], b[3], obj=what)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _write(tmp_path, _frames(0, 30), "a")
    return tmp_path


def _no_proto_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if our materialization falls back to Feast's Arrow-to-proto rows."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the Arrow write path fell back to proto rows")

    monkeypatch.setattr("fti.feast_online._convert_arrow_to_proto", refuse)


def test_sqlite_store_is_byte_identical_to_feast(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proto_rows(monkeypatch)
    stock = _store(repo, "stock", {"type": "sqlite", "path": str(repo / "stock.db")}, fast=False)
    fast = _store(repo, "fast", {"type": SQLITE_TYPE, "path": str(repo / "fast.db")}, fast=True)
    first = T0.to_pydatetime() + timedelta(hours=20)
    for store in (stock, fast):
        _materialize(store, first)
    assert _sqlite_rows(repo / "fast.db") == _sqlite_rows(repo / "stock.db")

    # A later batch overwrites part of the keys (incremental run, as the platform does).
    later = _frames(1, 40)
    _write(
        repo,
        {k: v[v["event_timestamp"] >= T0 + pd.Timedelta(hours=25)] for k, v in later.items()},
        "b",
    )
    for store in (stock, fast):
        store.materialize(
            start_date=first - timedelta(hours=1), end_date=datetime(2030, 1, 1, tzinfo=UTC)
        )
    rows = _sqlite_rows(repo / "stock.db")
    assert sum(len(r) for r in rows.values()) == 13 * 8 + 3 + 4 * 2
    assert _sqlite_rows(repo / "fast.db") == rows

    # Reads: ours equal Feast's, through every response accessor.
    _assert_same_responses(_responses(fast), _responses(stock))


def test_sqlite_proto_write_path_is_byte_identical(repo: Path) -> None:
    """write_to_online_store (protos, not Arrow) goes through our executemany write."""
    frames = _frames(2, 5)
    stores = {
        "stock": _store(repo, "stock", {"type": "sqlite", "path": str(repo / "stock.db")}, False),
        "fast": _store(repo, "fast", {"type": SQLITE_TYPE, "path": str(repo / "fast.db")}, True),
    }
    for store in stores.values():
        store.write_to_online_store("station_obs", frames["station_obs"])
        store.write_to_online_store("hotel_week", frames["hotel_week"])
    assert _sqlite_rows(repo / "fast.db") == _sqlite_rows(repo / "stock.db")


def test_fast_sqlite_reads_feast_written_data(repo: Path) -> None:
    """Our reader on a file Feast wrote (and Feast's reader on ours): same answers."""
    stock = _store(repo, "stock", {"type": "sqlite", "path": str(repo / "stock.db")}, fast=False)
    _materialize(stock, datetime(2030, 1, 1, tzinfo=UTC))
    reader = _store(repo, "reader", {"type": SQLITE_TYPE, "path": str(repo / "stock.db")}, False)
    _assert_same_responses(_responses(reader), _responses(stock))


def _redis_reachable() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_projects() -> Iterator[tuple[str, str]]:
    """Two Feast project names of our own on Redis db 0; their keys are deleted afterwards."""
    if not _redis_reachable():
        skip_or_fail(f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT}")
    import redis

    tag = uuid.uuid4().hex[:10]
    names = (f"fti_unit_stock_{tag}", f"fti_unit_fast_{tag}")
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    try:
        yield names
    finally:
        for name in names:
            keys = list(client.scan_iter(match=b"*" + name.encode(), count=10_000))
            if keys:
                client.delete(*keys)
        client.close()


def _redis_dump(project: str) -> dict[bytes, dict[bytes, bytes]]:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    try:
        keys = client.scan_iter(match=b"*" + project.encode(), count=10_000)
        return {k[: -len(project)]: client.hgetall(k) for k in keys}
    finally:
        client.close()


@pytest.mark.services
def test_redis_store_is_byte_identical_to_feast(
    repo: Path, redis_projects: tuple[str, str]
) -> None:
    stock_name, fast_name = redis_projects
    connection = f"{REDIS_HOST}:{REDIS_PORT},db=0"
    stock = _store(
        repo, "stock", {"type": "redis", "connection_string": connection}, False, stock_name
    )
    fast = _store(
        repo, "fast", {"type": REDIS_TYPE, "connection_string": connection}, True, fast_name
    )
    first = T0.to_pydatetime() + timedelta(hours=20)
    for store in (stock, fast):
        _materialize(store, first)
    expected = _redis_dump(stock_name)
    assert len(expected) > 10
    assert _redis_dump(fast_name) == expected

    # Later rows win, older rows never overwrite newer ones (Feast's timestamp check).
    later = _frames(1, 40)
    _write(
        repo,
        {k: v[v["event_timestamp"] >= T0 + pd.Timedelta(hours=10)] for k, v in later.items()},
        "b",
    )
    for store in (stock, fast):
        store.materialize(start_date=START, end_date=datetime(2030, 1, 1, tzinfo=UTC))
    assert _redis_dump(fast_name) == _redis_dump(stock_name)
    _assert_same_responses(_responses(fast), _responses(stock))


def test_arrow_write_with_repeated_keys_keeps_the_last_row(repo: Path) -> None:
    """A batch naming a key twice: rows sorted by key stay in input order, the last wins."""
    from feast.utils import _convert_arrow_to_proto

    frame = _frames(3, 3)["station_obs"].sample(frac=1.0, random_state=1)  # keys repeat
    stores = {
        "stock": _store(repo, "stock", {"type": "sqlite", "path": str(repo / "stock.db")}, False),
        "fast": _store(repo, "fast", {"type": SQLITE_TYPE, "path": str(repo / "fast.db")}, True),
    }
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name, store in stores.items():
        view = store.get_feature_view("station_obs")
        join_keys = {e.name: e.dtype.to_value_type() for e in view.entity_columns}
        online = store._get_provider().online_store
        if name == "fast":
            online.online_write_arrow(store.config, view, table, join_keys, None)
        else:
            rows = _convert_arrow_to_proto(table, view, join_keys)
            online.online_write_batch(store.config, view, rows, None)
    assert _sqlite_rows(repo / "fast.db") == _sqlite_rows(repo / "stock.db")


def test_key_order_is_stable_and_sorted() -> None:
    from fti.feast_online import key_order

    keys = np.empty(6, dtype=object)
    keys[:] = [b"b\x01", b"a", b"b\x01", b"a\x00\x01", b"", b"a"]
    order = key_order(keys)
    assert [keys[i] for i in order] == [b"", b"a", b"a", b"a\x00\x01", b"b\x01", b"b\x01"]
    assert list(order[1:3]) == [1, 5] and list(order[4:]) == [0, 2]  # equal keys: input order


@pytest.mark.services
def test_stored_timestamps_by_script_equal_the_pipelined_hmget() -> None:
    """The one-call read of every key's `_ts:<view>` field returns what HMGETs return."""
    if not _redis_reachable():
        skip_or_fail(f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT}")
    import redis

    from fti.feast_online import FastRedisOnlineStore

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=11)
    prefix = f"fti_unit_ts_{uuid.uuid4().hex[:8]}".encode()
    keys = [prefix + bytes([i]) + b"\x00key" for i in range(6)]
    try:
        client.hset(keys[0], mapping={b"_ts:v": b"\x08\x01", b"f": b"x"})
        client.hset(keys[2], mapping={b"_ts:v": b"", b"f": b"y"})  # empty: treated as absent
        client.hset(keys[3], mapping={b"f": b"z"})  # no timestamp field
        client.hset(keys[5], mapping={b"_ts:v": b"\x08\x02\x10\x03"})
        by_script = FastRedisOnlineStore._stored_stamps(client, b"_ts:v", keys, one_call=True)
        piped = FastRedisOnlineStore._stored_stamps(client, b"_ts:v", keys, one_call=False)
        assert by_script == [b"\x08\x01", None, None, None, None, b"\x08\x02\x10\x03"]
        assert [p or None for p in piped] == by_script
    finally:
        client.delete(*keys)
        client.close()


def _fail_on_view(monkeypatch: pytest.MonkeyPatch, cls: Any, view: str) -> None:
    """The store's Arrow write raises for `view` (after the views before it were written)."""
    original = cls.online_write_arrow

    def write(self: Any, config: Any, table: Any, *args: Any, **kwargs: Any) -> None:
        if table.name == view:
            raise ConnectionError(f"lost while writing {view}")
        original(self, config, table, *args, **kwargs)

    monkeypatch.setattr(cls, "online_write_arrow", write)


def _ends(store: Any) -> dict[str, Any]:
    return {v.name: v.most_recent_end_time for v in store.list_feature_views()}


def test_sqlite_materialization_is_all_or_nothing_across_views(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view failing after others were written: no view written, no interval recorded."""
    from fti.feast_online import FastSqliteOnlineStore

    fast = _store(repo, "fast", {"type": SQLITE_TYPE, "path": str(repo / "fast.db")}, fast=True)
    first = T0.to_pydatetime() + timedelta(hours=20)
    _materialize(fast, first)
    before, ends = _sqlite_rows(repo / "fast.db"), _ends(fast)
    _write(repo, _frames(1, 40), "b")
    _fail_on_view(monkeypatch, FastSqliteOnlineStore, "hotel_week")  # the last of the three
    with pytest.raises(ConnectionError, match="hotel_week"):
        _materialize(fast, datetime(2030, 1, 1, tzinfo=UTC))
    assert _sqlite_rows(repo / "fast.db") == before
    assert _ends(fast) == ends
    monkeypatch.undo()
    _materialize(fast, datetime(2030, 1, 1, tzinfo=UTC))
    assert _sqlite_rows(repo / "fast.db") != before
    assert all(e == datetime(2030, 1, 1, tzinfo=UTC) for e in _ends(fast).values())


@pytest.mark.services
@pytest.mark.parametrize("atomic", [True, False])
def test_redis_materialization_is_all_or_nothing_across_views(
    repo: Path, redis_projects: tuple[str, str], monkeypatch: pytest.MonkeyPatch, atomic: bool
) -> None:
    """The views before the failing one were queued in MULTI: discarded, Redis unchanged
    (with `atomic_writes: false` they stay written)."""
    from fti.feast_online import FastRedisOnlineStore

    name = redis_projects[1]
    online = {"type": REDIS_TYPE, "connection_string": f"{REDIS_HOST}:{REDIS_PORT},db=0"}
    fast = _store(repo, "fast", {**online, "atomic_writes": atomic}, True, name)
    _materialize(fast, T0.to_pydatetime() + timedelta(hours=20))
    before, ends = _redis_dump(name), _ends(fast)
    _write(repo, _frames(1, 40), "b")
    _fail_on_view(monkeypatch, FastRedisOnlineStore, "hotel_week")
    with pytest.raises(ConnectionError, match="hotel_week"):
        _materialize(fast, datetime(2030, 1, 1, tzinfo=UTC))
    assert (_redis_dump(name) == before) is atomic
    assert _ends(fast) == ends
    if not atomic:
        return
    monkeypatch.undo()
    _materialize(fast, datetime(2030, 1, 1, tzinfo=UTC))
    assert _redis_dump(name) != before
