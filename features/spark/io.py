"""Parquet both engines read: Spark reads microsecond timestamps, not pandas' nanoseconds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write a pandas frame as parquet Spark can read: timestamps in microseconds.

    Raises (pyarrow) rather than truncate a timestamp with sub-microsecond digits.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, coerce_timestamps="us", allow_truncated_timestamps=False)
    return path
