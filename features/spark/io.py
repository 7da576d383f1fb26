"""Parquet both engines read: Spark reads microsecond timestamps, not pandas' nanoseconds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write a pandas frame as parquet Spark can read: timestamps in microseconds.

    Raises (pyarrow) rather than truncate a timestamp with sub-microsecond digits.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, coerce_timestamps="us", allow_truncated_timestamps=False)
    return path


def read_lake_table(spark: SparkSession, root: Path) -> DataFrame:
    """A lake table (fti.lake: `<root>/<partition>/data.parquet`, nanosecond timestamps) on Spark.

    Spark does not read parquet nanosecond timestamps: they are read as longs
    (spark.sql.legacy.parquet.nanosAsLong) and turned back into timestamps here, to microseconds
    (the lake's timestamps are whole seconds or days). Partition folders are not turned into
    columns: the table's columns are the files' columns. Raises FileNotFoundError for no table.
    """
    from pyspark.sql import functions as F

    root = Path(root)
    files = sorted(root.glob("**/data.parquet"))
    if not files:
        raise FileNotFoundError(f"no lake table at {root}")
    schema = pq.read_schema(files[0])
    nanos = {
        f.name: f.type.tz is not None
        for f in schema
        if pa.types.is_timestamp(f.type) and f.type.unit == "ns"
    }
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    frame = spark.read.options(recursiveFileLookup="true", pathGlobFilter="data.parquet").parquet(
        str(root.resolve())
    )
    columns = []
    for name in schema.names:
        if name not in nanos:
            columns.append(F.col(name))
            continue
        instant = F.timestamp_micros(F.expr(f"`{name}` div 1000"))
        columns.append((instant if nanos[name] else instant.cast("timestamp_ntz")).alias(name))
    return frame.select(*columns)


def to_pandas(
    frame: DataFrame, strings: str | type = "string", ints: str = "int64"
) -> pd.DataFrame:
    """A Spark frame as the pandas path types it: timestamps UTC nanoseconds, doubles float64,
    strings `strings` (pandas "string" or object), integers `ints` ("int64" or nullable "Int64").

    Collected through Arrow; the session time zone must be UTC (timestamps arrive as its wall
    times). Raises if a value does not fit the dtype (e.g. a null in an "int64" column).
    """
    from pyspark.sql import types as T

    out = pd.DataFrame(frame.toPandas())
    for field in frame.schema.fields:
        column = out[field.name]
        if isinstance(field.dataType, (T.TimestampType, T.TimestampNTZType)):
            stamps = pd.to_datetime(column)
            stamps = (
                stamps.dt.tz_localize("UTC")
                if stamps.dt.tz is None
                else stamps.dt.tz_convert("UTC")
            )
            out[field.name] = stamps.astype("datetime64[ns, UTC]")
        elif isinstance(field.dataType, T.StringType):
            out[field.name] = column.astype(strings)
        elif isinstance(field.dataType, (T.LongType, T.IntegerType, T.ShortType)):
            out[field.name] = column.astype(ints)
        elif isinstance(field.dataType, (T.DoubleType, T.FloatType)):
            out[field.name] = column.astype("float64")
    return out
