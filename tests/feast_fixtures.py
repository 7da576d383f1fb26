"""Tiny in-process Feast repos and a brute-force as-of join for the offline store tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from fti.feast_offline import STORE_TYPE

PROJECT = "fti_test"
T0 = pd.Timestamp("2024-01-01", tz="UTC")
ZONE_TTL = timedelta(hours=3)

# Source files, relative to the offline root; hotel_week is a hive-partitioned folder.
ZONE_PATH = "data/zone_stats.parquet"
HOTEL_PATH = "data/hotel_week"


@dataclass(frozen=True)
class ViewSpec:
    """What the brute force needs to know about one feature view."""

    name: str
    keys: list[tuple[str, str]]  # (source column, entity_df column)
    created: str | None
    features: list[tuple[str, str]]  # (source column, feature name)
    ttl: timedelta


ZONE = ViewSpec(
    name="zone_stats",
    keys=[("zone", "zone")],
    created="created",
    features=[("price", "price"), ("volume", "volume"), ("label", "label"), ("active", "active")],
    ttl=ZONE_TTL,
)
# hotel_week renames a source column through field_mapping (booked_nights -> booked).
HOTEL = ViewSpec(
    name="hotel_week",
    keys=[("hotel", "hotel"), ("stay_week_start", "stay_week_start")],
    created=None,
    features=[("vacancy", "vacancy"), ("booked_nights", "booked")],
    ttl=timedelta(0),
)

ZONE_TYPES = {
    "zone": pa.string(),
    "event_timestamp": pa.timestamp("ns", "UTC"),
    "created": pa.timestamp("ns", "UTC"),
    "price": pa.float64(),
    "volume": pa.int64(),
    "label": pa.string(),
    "active": pa.bool_(),
}
HOTEL_TYPES = {
    "hotel": pa.string(),
    "stay_week_start": pa.string(),
    "event_timestamp": pa.timestamp("ns", "UTC"),
    "vacancy": pa.float64(),
    "booked_nights": pa.int64(),
}


def repo_config(tmp: Path, offline: dict[str, Any] | None = None) -> Any:
    """RepoConfig with a file registry and SQLite online store under tmp (root = tmp)."""
    from feast.repo_config import RepoConfig

    return RepoConfig(
        project=PROJECT,
        provider="local",
        registry=str(tmp / "registry.db"),
        online_store={"type": "sqlite", "path": str(tmp / "online.db")},
        offline_store=offline or {"type": STORE_TYPE, "root": str(tmp)},
        repo_path=tmp,
        entity_key_serialization_version=3,
    )


def feast_objects() -> list[Any]:
    """Entities, the two feature views and an on-demand view over zone_stats."""
    from feast import Entity, FeatureView, Field, FileSource, RequestSource, ValueType
    from feast.on_demand_feature_view import on_demand_feature_view
    from feast.types import Bool, Float64, Int64, String

    zone = Entity(name="zone", join_keys=["zone"], value_type=ValueType.STRING)
    hotel = Entity(name="hotel", join_keys=["hotel"], value_type=ValueType.STRING)
    week = Entity(name="stay_week", join_keys=["stay_week_start"], value_type=ValueType.STRING)
    zone_stats = FeatureView(
        name="zone_stats",
        entities=[zone],
        ttl=ZONE_TTL,
        schema=[
            Field(name="zone", dtype=String),
            Field(name="price", dtype=Float64),
            Field(name="volume", dtype=Int64),
            Field(name="label", dtype=String),
            Field(name="active", dtype=Bool),
        ],
        source=FileSource(
            name="zone_stats_source",
            path=ZONE_PATH,
            timestamp_field="event_timestamp",
            created_timestamp_column="created",
        ),
    )
    hotel_week = FeatureView(
        name="hotel_week",
        entities=[hotel, week],
        ttl=timedelta(0),
        schema=[
            Field(name="hotel", dtype=String),
            Field(name="stay_week_start", dtype=String),
            Field(name="vacancy", dtype=Float64),
            Field(name="booked", dtype=Int64),
        ],
        source=FileSource(
            name="hotel_week_source",
            path=HOTEL_PATH,
            timestamp_field="event_timestamp",
            field_mapping={"booked_nights": "booked"},
        ),
    )
    request = RequestSource(name="scale", schema=[Field(name="factor", dtype=Float64)])

    @on_demand_feature_view(
        sources=[zone_stats, request],
        schema=[Field(name="scaled_price", dtype=Float64)],
        mode="pandas",
    )
    def zone_scaled(inputs: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"scaled_price": inputs["price"] * inputs["factor"]})

    return [zone, hotel, week, zone_stats, hotel_week, request, zone_scaled]


def write_zone(tmp: Path, frame: pd.DataFrame) -> None:
    path = tmp / ZONE_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


def write_hotel(tmp: Path, frame: pd.DataFrame) -> None:
    """One parquet file per hotel under hotel=<name>/ (hive partitioning)."""
    root = tmp / HOTEL_PATH
    for old in root.glob("**/*.parquet"):
        old.unlink()
    for hotel, part in frame.groupby("hotel", sort=True):
        folder = root / f"hotel={hotel}"
        folder.mkdir(parents=True, exist_ok=True)
        part.drop(columns="hotel").to_parquet(folder / "part-0.parquet", index=False)


def zone_frame(rows: list[tuple[str, int, int | None]]) -> pd.DataFrame:
    """zone_stats rows from (zone, minute offset, created minute or None); values from the index."""
    n = len(rows)
    return pd.DataFrame(
        {
            "zone": pd.Series([r[0] for r in rows], dtype=object),
            "event_timestamp": pd.Series(
                [T0 + timedelta(minutes=r[1]) for r in rows], dtype="datetime64[ns, UTC]"
            ),
            "created": pd.Series(
                [None if r[2] is None else T0 + timedelta(minutes=r[2]) for r in rows],
                dtype="datetime64[ns, UTC]",
            ),
            "price": [i + 0.5 for i in range(n)],
            "volume": pd.Series(range(n), dtype="int64"),
            "label": pd.Series([f"l{i}" for i in range(n)], dtype=object),
            "active": pd.Series([i % 2 == 0 for i in range(n)], dtype=bool),
        }
    )


def hotel_frame(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    """hotel_week rows from (hotel, week, minute offset); rows of one hotel stay in order."""
    n = len(rows)
    return pd.DataFrame(
        {
            "hotel": pd.Series([r[0] for r in rows], dtype=object),
            "stay_week_start": pd.Series([r[1] for r in rows], dtype=object),
            "event_timestamp": pd.Series(
                [T0 + timedelta(minutes=r[2]) for r in rows], dtype="datetime64[ns, UTC]"
            ),
            "vacancy": [i / 100 for i in range(n)],
            "booked_nights": pd.Series([10 * i for i in range(n)], dtype="int64"),
        }
    )


def brute_force(
    entity_df: pd.DataFrame,
    sources: list[tuple[ViewSpec, pd.DataFrame, dict[str, pa.DataType]]],
    full_feature_names: bool,
) -> pd.DataFrame:
    """The as-of join by definition, one entity row at a time.

    Latest row with equal keys and timestamp <= the entity's (and >= entity - ttl when
    ttl > 0); ties to the greatest created (NULL lowest), then to the last row of the source.
    Feature columns go through Arrow with the source type, as the store's to_df does.
    """
    out = entity_df.reset_index(drop=True).copy()
    ts = pd.to_datetime(out["event_timestamp"], utc=True).dt.as_unit("ns")
    out["event_timestamp"] = ts
    for spec, frame, types in sources:
        frame = frame.reset_index(drop=True)
        values: dict[str, list[Any]] = {src: [] for src, _ in spec.features}
        for i in range(len(out)):
            when = ts.iloc[i]
            best = None
            for j in range(len(frame)):
                row = frame.iloc[j]
                if any(row[src] != out.at[i, ent] for src, ent in spec.keys):
                    continue
                if row["event_timestamp"] > when:
                    continue
                if spec.ttl and row["event_timestamp"] < when - spec.ttl:
                    continue
                created = row[spec.created] if spec.created else None
                rank = (
                    row["event_timestamp"],
                    pd.Timestamp.min.tz_localize("UTC") if pd.isna(created) else created,
                    j,
                )
                if best is None or rank > best[0]:
                    best = (rank, j)
            for src, _ in spec.features:
                values[src].append(None if best is None else frame.at[best[1], src])
        for src, name in spec.features:
            column = f"{spec.name}__{name}" if full_feature_names else name
            out[column] = pa.array(values[src], type=types[src]).to_pandas()
    return out
