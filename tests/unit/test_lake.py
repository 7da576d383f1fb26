"""The lake's partitioned parquet tables: upserts are idempotent, windows are replaced exactly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fti import lake


def _frame(hours: range, zone: str = "SE3", value: float = 1.0) -> pd.DataFrame:
    ts = pd.date_range("2020-12-31 22:00", periods=len(hours), freq="h", tz="UTC")
    return pd.DataFrame({"zone": zone, "ts": ts, "v": [value + h for h in hours]})


PART = lake.by_column_and_year("zone", "ts")


def test_upsert_twice_changes_nothing(tmp_path: Path) -> None:
    frame = _frame(range(5))
    lake.upsert(frame, tmp_path, ["zone", "ts"], PART)
    first = lake.read_table(tmp_path).sort_values("ts").reset_index(drop=True)
    lake.upsert(frame, tmp_path, ["zone", "ts"], PART)
    again = lake.read_table(tmp_path).sort_values("ts").reset_index(drop=True)
    pd.testing.assert_frame_equal(first, again)
    # The window crosses a year boundary: two partition files.
    assert len(list(tmp_path.glob("**/data.parquet"))) == 2


def test_upsert_replaces_by_key(tmp_path: Path) -> None:
    lake.upsert(_frame(range(3)), tmp_path, ["zone", "ts"], PART)
    lake.upsert(_frame(range(3), value=10.0).iloc[1:], tmp_path, ["zone", "ts"], PART)
    got = lake.read_table(tmp_path).sort_values("ts")["v"].tolist()
    assert got == [1.0, 11.0, 12.0]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # A window in the middle: only its rows are replaced.
        ("2020-12-31 23:00", "2021-01-01 01:00", [0.0, 101.0, 102.0, 3.0, 4.0]),
        # A window that covers everything.
        ("2020-01-01", "2022-01-01", [100.0, 101.0, 102.0, 103.0, 104.0]),
    ],
)
def test_replace_window(tmp_path: Path, start: str, end: str, expected: list[float]) -> None:
    lake.upsert(_frame(range(5), value=0.0), tmp_path, ["zone", "ts"], PART)
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    new = _frame(range(5), value=100.0)
    new = new[(new["ts"] >= lo) & (new["ts"] < hi)]
    lake.replace_window(new, tmp_path, "ts", lo, hi, PART, ["zone", "ts"])
    lake.replace_window(new, tmp_path, "ts", lo, hi, PART, ["zone", "ts"])  # a re-run
    assert lake.read_table(tmp_path).sort_values("ts")["v"].tolist() == expected


def test_replace_window_removes_rows_that_disappeared(tmp_path: Path) -> None:
    lake.upsert(_frame(range(5)), tmp_path, ["zone", "ts"], PART)
    lo, hi = pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2022-01-01", tz="UTC")
    lake.replace_window(_frame(range(5)).iloc[:0], tmp_path, "ts", lo, hi, PART, ["zone", "ts"])
    assert lake.read_table(tmp_path).empty


def test_replace_window_refuses_rows_outside(tmp_path: Path) -> None:
    lo, hi = pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2021-01-02", tz="UTC")
    with pytest.raises(ValueError, match="outside the window"):
        lake.replace_window(_frame(range(5)), tmp_path, "ts", lo, hi, PART, ["zone", "ts"])
