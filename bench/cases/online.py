"""ON: online reads through Feast (our stores) vs the matching direct store read, call by call.

Ours: `FeatureStore.get_online_features(features, entity_rows).to_dict()` on
FastSqliteOnlineStore / FastRedisOnlineStore, 20 features from 1 view or from 3 views.
Baseline: the same keys read straight from the store and decoded to Python values, as a
hand-written client would: SQLite one `SELECT ... WHERE entity_key IN (...)` per view on a
plain connection; Redis one pipeline of `HMGET` per view and entity with the field hashes
computed once; values parsed with ValueProto. The two calls alternate, on the same keys.
"""

from __future__ import annotations

import gc
import logging
import random
import sqlite3
import struct
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import online_repo
from bench.common import Row, median, percentile

log = logging.getLogger(__name__)
ENTITIES = 50_000
P99_TARGET_MS = {1: 1.0, 100: 15.0}


def _key(booking_id: str) -> bytes:
    encoded = booking_id.encode()
    return (
        struct.pack("<III", 1, 2, len(b"booking_id"))
        + b"booking_id"
        + struct.pack("<II", 2, len(encoded))
        + encoded
    )


def _decode(blob: bytes, parse: Any) -> Any:
    value = parse(blob)
    member = value.WhichOneof("val")
    return None if member is None else getattr(value, member)


class SqliteDirect:
    def __init__(self, path: Path, project: str, views: dict[str, list[str]]) -> None:
        self.con = sqlite3.connect(path, check_same_thread=False)
        self.tables = [(f'"{project}_{view}"', names) for view, names in views.items()]

    def __call__(self, ids: list[str]) -> dict[str, list[Any]]:
        from feast.protos.feast.types.Value_pb2 import Value

        parse = Value.FromString
        keys = [_key(i) for i in ids]
        position = {k: i for i, k in enumerate(keys)}
        out: dict[str, list[Any]] = {}
        marks = ",".join("?" * len(keys))
        for table, names in self.tables:
            for name in names:
                out[name] = [None] * len(keys)
            sql = (
                f"SELECT entity_key, feature_name, value FROM {table} WHERE entity_key IN ({marks})"
            )
            for key, name, blob in self.con.execute(sql, keys):
                out[name][position[key]] = _decode(blob, parse)
        return out


class RedisDirect:
    def __init__(self, project: str, views: dict[str, list[str]]) -> None:
        from feast.infra.online_stores.helpers import _mmh3

        self.client = online_repo.redis_client()
        self.suffix = project.encode()
        self.views = [
            (names, [_mmh3(f"{view}:{n}") for n in names]) for view, names in views.items()
        ]

    def __call__(self, ids: list[str]) -> dict[str, list[Any]]:
        from feast.protos.feast.types.Value_pb2 import Value

        parse = Value.FromString
        keys = [_key(i) + self.suffix for i in ids]
        with self.client.pipeline(transaction=False) as pipe:
            for _, fields in self.views:
                for key in keys:
                    pipe.hmget(key, fields)
            replies = pipe.execute()
        out: dict[str, list[Any]] = {}
        offset = 0
        for names, _ in self.views:
            block = replies[offset : offset + len(keys)]
            offset += len(keys)
            for j, name in enumerate(names):
                out[name] = [_decode(r[j], parse) if r[j] else None for r in block]
        return out


def _views(count: int) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for ref in online_repo.feature_refs(count):
        view, name = ref.split(":")
        groups.setdefault(view, []).append(name)
    return groups


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    entities = 2_000 if quick else ENTITIES
    calls = {1: 200, 10: 100, 100: 40} if quick else {1: 2000, 10: 1000, 100: 500}
    frame = online_repo.booking_rows(entities)
    kinds = ["sqlite"]
    notes = [f"{entities:,} bookings materialized, 20 features each (1-view and 3-view tables)"]
    try:
        online_repo.redis_client().ping()
        kinds.append("redis")
    except Exception as exc:
        notes.append(f"Redis not reachable ({exc}): Redis rows skipped")
    ids = frame["booking_id"].astype(str).tolist()
    end = datetime(2100, 1, 1, tzinfo=UTC)
    rows = []
    for kind in kinds:
        root = workdir / kind
        online_repo.write_source(root, "bookings", frame)
        handles = {
            count: online_repo.open_store(root, kind, True, frame, views=count, tag=f"_{count}v")
            for count in (1, 3)
        }
        try:
            for count, handle in handles.items():
                handle.store.materialize(start_date=datetime(1990, 1, 1, tzinfo=UTC), end_date=end)
                views = _views(count)
                direct: Any = (
                    SqliteDirect(handle.path, handle.project, views)  # type: ignore[arg-type]
                    if kind == "sqlite"
                    else RedisDirect(handle.project, views)
                )
                refs = online_repo.feature_refs(count)
                for n, repeat in calls.items():
                    rows.append(
                        _measure(kind, count, n, repeat, handle.store, refs, direct, ids, quick)
                    )
        finally:
            for handle in handles.values():
                handle.cleanup()
    return {"rows": rows, "notes": notes}


def _measure(
    kind: str,
    views: int,
    n: int,
    repeat: int,
    store: Any,
    refs: list[str],
    direct: Any,
    ids: list[str],
    quick: bool,
) -> Row:
    rng = random.Random(n * 31 + views)
    ours: list[float] = []
    base: list[float] = []
    identical = True
    warmup = 20
    gc.collect()
    gc.disable()  # a collection inside one call would land on one side only
    try:
        for i in range(repeat + warmup):
            sample = rng.sample(ids, n)
            rows = [{"booking_id": b} for b in sample]
            order = (0, 1) if i % 2 else (1, 0)
            for side in order:
                start = time.perf_counter()
                if side == 0:
                    got = store.get_online_features(features=refs, entity_rows=rows).to_dict()
                else:
                    expected = direct(sample)
                elapsed = time.perf_counter() - start
                if i >= warmup:
                    (ours if side == 0 else base).append(elapsed * 1000)
            if i < 3:
                got.pop("booking_id")
                identical = identical and got == expected
            if i % 50 == 0:
                gc.collect()
    finally:
        gc.enable()
    p99, base_p99 = percentile(ours, 99), percentile(base, 99)
    ratio = median(ours) / median(base)
    limit = P99_TARGET_MS.get(n)
    p99_ok = limit is None or p99 < limit
    target = "<= 2x" + (f", p99 < {limit:g} ms" if limit else "")
    return Row(
        case="ON",
        what=f"{kind}, {n} entit{'y' if n == 1 else 'ies'} x 20 features, {views} view"
        + ("s" if views > 1 else ""),
        figure=p99,
        unit="ms p99",
        baseline=base_p99,
        ratio=ratio,
        ratio_means="median / direct median",
        target=target,
        met=ratio <= 2.0 and (quick or p99_ok),
        details={
            "identical": identical,
            "median_ms": median(ours),
            "baseline_median_ms": median(base),
            "calls": repeat,
            "p99_met": p99_ok,
        },
    )
