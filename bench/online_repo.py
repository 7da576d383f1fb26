"""A Feast repo of booking features (20 per entity) for the online benchmarks (MAT, ON).

The rows are the real bookings through the platform's reader and `booking_features`, copied
with suffixed ids to reach a million entities. One view holds all 20 features; three views
split them 7/7/6 for the multi-view reads.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench import data
from features.bookings import BOOKING_FEATURE_COLUMNS

# The first 20 of the booking feature table's columns (the "x 20 features").
FEATURES: tuple[str, ...] = BOOKING_FEATURE_COLUMNS[:20]
REDIS = "127.0.0.1:6379,db=0"


def booking_rows(n: int) -> pd.DataFrame:
    """n bookings (booking_id, event_timestamp, the 20 features): real rows, then copies."""
    real = data.real_bookings().tables["booking_details"]
    copies = -(-n // len(real))
    parts = []
    for k in range(copies):
        part = real if k == 0 else real.assign(booking_id=real["booking_id"] + f" #{k}")
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True).iloc[:n]
    return frame[["booking_id", "event_timestamp", *FEATURES]].reset_index(drop=True)


def write_source(root: Path, view: str, frame: pd.DataFrame, part: str = "part-0") -> None:
    folder = root / view
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, folder / f"{part}.parquet", compression="zstd")


def _types(frame: pd.DataFrame) -> dict[str, Any]:
    from feast.types import Float64, Int64, String

    out = {}
    for col in FEATURES:
        dtype = frame[col].dtype
        if pd.api.types.is_float_dtype(dtype):
            out[col] = Float64
        elif pd.api.types.is_integer_dtype(dtype):
            out[col] = Int64
        else:
            out[col] = String
    return out


def objects(frame: pd.DataFrame, views: int) -> list[Any]:
    """The booking entity and 1 view (`bookings`) or 3 views (`bookings_a/b/c`)."""
    from feast import Entity, FeatureView, Field, FileSource, ValueType

    booking = Entity(name="booking", join_keys=["booking_id"], value_type=ValueType.STRING)
    types = _types(frame)
    groups = [FEATURES] if views == 1 else [FEATURES[:7], FEATURES[7:14], FEATURES[14:]]
    names = ["bookings"] if views == 1 else ["bookings_a", "bookings_b", "bookings_c"]
    out: list[Any] = [booking]
    for name, group in zip(names, groups, strict=True):
        out.append(
            FeatureView(
                name=name,
                entities=[booking],
                ttl=timedelta(0),
                schema=[Field(name=f, dtype=types[f]) for f in group],
                source=FileSource(
                    name=f"{name}_source", path="bookings", timestamp_field="event_timestamp"
                ),
                online=True,
            )
        )
    return out


def feature_refs(views: int) -> list[str]:
    if views == 1:
        return [f"bookings:{f}" for f in FEATURES]
    names = ["bookings_a"] * 7 + ["bookings_b"] * 7 + ["bookings_c"] * 6
    return [f"{v}:{f}" for v, f in zip(names, FEATURES, strict=True)]


@dataclass
class Store:
    store: Any
    kind: str  # sqlite | redis
    fast: bool
    project: str
    path: Path | None  # SQLite file

    def cleanup(self) -> None:
        if self.kind == "redis":
            delete_redis_project(self.project)
        elif self.path is not None:
            self.store._get_provider().online_store.teardown(self.store.config, [], [])


def open_store(
    root: Path, kind: str, fast: bool, frame: pd.DataFrame, views: int = 1, tag: str = ""
) -> Store:
    """A FeatureStore on `root` (offline parquet under root/bookings), applied in-process."""
    from feast import FeatureStore, RepoConfig

    from fti.feast_offline import STORE_TYPE
    from fti.feast_online import ENGINE_TYPE, REDIS_TYPE, SQLITE_TYPE

    name = f"{kind}_{'fast' if fast else 'stock'}{tag}"
    project = f"fti_bench_{uuid.uuid4().hex[:8]}"
    path = None
    if kind == "sqlite":
        path = root / f"{name}.db"
        online: dict[str, Any] = {"type": SQLITE_TYPE if fast else "sqlite", "path": str(path)}
    else:
        online = {"type": REDIS_TYPE if fast else "redis", "connection_string": REDIS}
    extra = {"batch_engine": {"type": ENGINE_TYPE}} if fast else {}
    config = RepoConfig(
        project=project,
        provider="local",
        registry={"path": str(root / f"registry_{name}.db"), "cache_ttl_seconds": 0},
        online_store=online,
        offline_store={"type": STORE_TYPE, "root": str(root)},
        repo_path=root,
        entity_key_serialization_version=3,
        **extra,
    )
    store = FeatureStore(config=config)
    store.apply(objects(frame, views))
    return Store(store, kind, fast, project, path)


def redis_client() -> Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=6379, db=0)


def delete_redis_project(project: str) -> int:
    """Delete every key of a Feast project (keys end with the project name)."""
    client = redis_client()
    deleted = 0
    try:
        batch = []
        for key in client.scan_iter(match=b"*" + project.encode(), count=10_000):
            batch.append(key)
            if len(batch) >= 10_000:
                deleted += client.unlink(*batch)
                batch = []
        if batch:
            deleted += client.unlink(*batch)
    finally:
        client.close()
    return deleted
