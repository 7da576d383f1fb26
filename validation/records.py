"""Validation records: one JSON line per validated batch, the contract between gate and training.

`<state>/validation/batches.jsonl` (ARCHITECTURE.md, "Validation records"); each record links to
the GX result JSON of its batch under `<state>/validation/results/<run>/<batch>.json` and to the
suite JSON under `<state>/validation/suites/<suite>-<version>.json`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from fti.settings import Settings

RECORDS = "validation/batches.jsonl"
RESULTS = "validation/results"
SUITES = "validation/suites"
REPORT = "validation/report.html"


def result_path(run_id: str, batch_id: str) -> str:
    """State-relative path of a batch's GX result JSON."""
    return f"{RESULTS}/{run_id}/{batch_id}.json"


def suite_path(suite: str, version: str) -> str:
    return f"{SUITES}/{suite}-{version}.json"


def iso(value: Any) -> str | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        return None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.isoformat()


def read_records(settings: Settings) -> list[dict[str, Any]]:
    path = settings.state_dir / RECORDS
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def _utc(value: datetime | pd.Timestamp | str) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def batches_for(
    settings: Settings,
    tables: Sequence[str],
    start: datetime | pd.Timestamp | str,
    end: datetime | pd.Timestamp | str,
) -> list[dict[str, Any]]:
    """Records of the batches of `tables` whose data is in the store and overlaps [start, end).

    A batch counts when it wrote rows (a rejected batch wrote nothing and is not part of any
    training data); the checks of what materialization loaded online (kind ``online``) are not
    training data either. A feature batch whose window a later batch of the same table replaced
    entirely is superseded and left out. Each record keeps `success`: training's promotion gate
    requires every one of them to be true.
    """
    lo, hi = _utc(start), _utc(end)
    wanted = set(tables)
    records = [
        r
        for r in read_records(settings)
        if r.get("table") in wanted and r.get("rows_written", 0) and r.get("kind") != "online"
    ]
    out = []
    for i, record in enumerate(records):
        if not record.get("window_start") or not record.get("window_end"):
            continue
        w0, w1 = _utc(record["window_start"]), _utc(record["window_end"])
        if w1 < lo or w0 >= hi:
            continue
        if record.get("kind") == "feature" and _superseded(record, records[i + 1 :]):
            continue
        out.append(record)
    return out


def _superseded(record: dict[str, Any], later: list[dict[str, Any]]) -> bool:
    w0, w1 = _utc(record["window_start"]), _utc(record["window_end"])
    for other in later:
        if other.get("table") != record.get("table") or other.get("kind") != "feature":
            continue
        r0, r1 = other.get("replaced_start"), other.get("replaced_end")
        if r0 and r1 and _utc(r0) <= w0 and w1 < _utc(r1):
            return True
    return False


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def relative(settings: Settings, path: Path) -> str:
    return path.resolve().relative_to(settings.state_dir.resolve()).as_posix()
