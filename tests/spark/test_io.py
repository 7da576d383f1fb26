"""Spark reads the lake as fti.lake writes it, and the parquet write_parquet writes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from features.spark.io import read_lake_table, write_parquet
from fti import lake

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": pd.array(["a", "b", "c"], dtype="string"),
            "t": pd.to_datetime(
                ["2015-12-31T23:00:00Z", "2016-01-01T00:00:01Z", "1969-07-20T20:17:40Z"], utc=True
            ).astype("datetime64[ns, UTC]"),
            "day": pd.to_datetime(["2016-01-02", "1950-02-28", None]).astype("datetime64[ns]"),
            "n": pd.array([1, None, 3], dtype="Int64"),
        }
    )


def _spark_frame(spark: SparkSession, frame: object) -> pd.DataFrame:
    out = pd.DataFrame(frame.toPandas())  # type: ignore[attr-defined]
    out["t"] = pd.to_datetime(out["t"]).dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    out["day"] = pd.to_datetime(out["day"]).astype("datetime64[ns]")
    out["key"] = out["key"].astype("string")
    out["n"] = out["n"].astype("Int64")
    return out.sort_values("key", ignore_index=True)


def test_read_lake_table(spark: SparkSession, tmp_path: Path) -> None:
    root = tmp_path / "table"
    lake.upsert(_frame(), root, ["key"], lake.by_year("t"))
    assert len(list(root.glob("year=*/data.parquet"))) == 3
    (root / "year=2016" / ".data.parquet.0123.tmp").write_bytes(b"not parquet")
    got = read_lake_table(spark, root)
    assert got.columns == ["key", "t", "day", "n"]  # no partition column
    expected = lake.read_table(root).sort_values("key", ignore_index=True)
    pd.testing.assert_frame_equal(_spark_frame(spark, got), expected, check_exact=True)


def test_read_lake_table_without_table(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no lake table"):
        read_lake_table(spark, tmp_path / "missing")


def test_write_parquet_is_read_by_both(spark: SparkSession, tmp_path: Path) -> None:
    path = write_parquet(_frame(), tmp_path / "f.parquet")
    got = _spark_frame(spark, spark.read.parquet(str(path)))
    # pandas reads the microsecond file back as datetime64[us]: the same values.
    back = pd.read_parquet(path).astype({"t": "datetime64[ns, UTC]", "day": "datetime64[ns]"})
    pd.testing.assert_frame_equal(got, back.sort_values("key", ignore_index=True))
    pd.testing.assert_frame_equal(got, _frame().sort_values("key", ignore_index=True))
