"""Partitioned parquet tables under the state folder: idempotent upserts and window replacement."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

Partitioner = Callable[[pd.DataFrame], pd.Series]


def by_year(column: str) -> Partitioner:
    """Partition name `year=YYYY` from a timestamp column."""

    def partition(frame: pd.DataFrame) -> pd.Series:
        return "year=" + frame[column].dt.year.astype("string")

    return partition


def by_column_and_year(key: str, column: str) -> Partitioner:
    """Partition name `year=YYYY/<key>=<value>`, e.g. one file per zone and year."""

    def partition(frame: pd.DataFrame) -> pd.Series:
        year = frame[column].dt.year.astype("string")
        return "year=" + year + "/" + key + "=" + frame[key].astype("string")

    return partition


def _atomic_write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def partition_file(root: Path, partition: str) -> Path:
    return root / partition / "data.parquet"


def read_table(root: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """All partitions of a table as one frame (empty frame when the table does not exist)."""
    files = sorted(root.glob("**/data.parquet"))
    if not files:
        return pd.DataFrame(columns=list(columns) if columns else None)
    frames = [pd.read_parquet(f, columns=list(columns) if columns else None) for f in files]
    return pd.concat(frames, ignore_index=True)


def upsert(
    frame: pd.DataFrame,
    root: Path,
    key: Sequence[str],
    partition: Partitioner,
    sort: Sequence[str] | None = None,
) -> int:
    """Insert or replace rows by key; re-writing the same rows changes nothing. Returns rows written."""
    if frame.empty:
        return 0
    parts = partition(frame)
    for name, new in frame.groupby(parts, sort=True):
        path = partition_file(root, str(name))
        merged = new
        if path.exists():
            merged = pd.concat([pd.read_parquet(path), new], ignore_index=True)
        merged = merged.drop_duplicates(subset=list(key), keep="last")
        merged = merged.sort_values(list(sort or key), kind="stable").reset_index(drop=True)
        _atomic_write(merged, path)
    return len(frame)


def replace_window(
    frame: pd.DataFrame,
    root: Path,
    time_column: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    partition: Partitioner,
    sort: Sequence[str],
) -> int:
    """Make the rows with start <= time < end exactly `frame` (a backfill or a re-run of a window).

    Rows outside the window are kept; rows inside it that `frame` no longer has are removed, so a
    re-run never duplicates and a corrected computation replaces the old one.
    """
    outside = (frame[time_column] < start) | (frame[time_column] >= end)
    if outside.any():
        raise ValueError(f"{int(outside.sum())} rows fall outside the window [{start}, {end})")
    touched = set(partition(frame).unique()) if not frame.empty else set()
    for path in root.glob("**/data.parquet"):
        old = pd.read_parquet(path, columns=[time_column])
        if ((old[time_column] >= start) & (old[time_column] < end)).any():
            touched.add(str(path.parent.relative_to(root)))
    parts = partition(frame) if not frame.empty else pd.Series([], dtype="string")
    for name in sorted(touched):
        path = partition_file(root, name)
        kept = pd.read_parquet(path) if path.exists() else frame.iloc[0:0]
        in_window = (kept[time_column] >= start) & (kept[time_column] < end)
        merged = pd.concat([kept[~in_window], frame[parts == name]], ignore_index=True)
        if merged.empty:
            path.unlink(missing_ok=True)
            continue
        merged = merged.sort_values(list(sort), kind="stable").reset_index(drop=True)
        _atomic_write(merged, path)
    return len(frame)
