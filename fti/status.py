"""Rows, time range and freshness of every feature view, offline and online, without Feast."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from fti.settings import Settings
from fti.tables import FEATURES

PROJECT = "fti"


@dataclass
class ViewStatus:
    view: str
    offline_rows: int
    first_event: str | None
    last_event: str | None
    freshness_hours: float | None
    online_entities: int
    online_last_event: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _offline(settings: Settings, view: str) -> tuple[int, datetime | None, datetime | None]:
    root = FEATURES[view].root(settings)
    if not any(root.glob("**/*.parquet")):
        return 0, None, None
    con = duckdb.connect()
    try:
        row = con.execute(
            "SELECT count(*), min(event_timestamp), max(event_timestamp) FROM read_parquet(?)",
            [str(root / "**" / "*.parquet")],
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), row[1], row[2]


def _online(settings: Settings, view: str) -> tuple[int, str | None]:
    path = settings.feast_dir / "online_store.db"
    if not path.exists():
        return 0, None
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute(
            f'SELECT count(DISTINCT entity_key), max(event_ts) FROM "{PROJECT}_{view}"'
        ).fetchone()
    except sqlite3.OperationalError:  # not materialized yet
        return 0, None
    finally:
        con.close()
    if row[1] is None:
        return int(row[0]), None
    # Feast's SQLite store keeps event_ts as epoch seconds (or an ISO string on older versions).
    value = row[1]
    if isinstance(value, int | float) or str(value).isdigit():
        value = datetime.fromtimestamp(float(value), UTC).isoformat()
    return int(row[0]), str(value)


def collect(settings: Settings, now: datetime | None = None) -> list[ViewStatus]:
    now = now or datetime.now(UTC)
    out = []
    for view in FEATURES:
        rows, first, last = _offline(settings, view)
        entities, online_last = _online(settings, view)
        fresh = None
        if last is not None:
            last_utc = last if last.tzinfo else last.replace(tzinfo=UTC)
            fresh = round((now - last_utc).total_seconds() / 3600, 1)
        out.append(
            ViewStatus(
                view=view,
                offline_rows=rows,
                first_event=first.isoformat() if first else None,
                last_event=last.isoformat() if last else None,
                freshness_hours=fresh,
                online_entities=entities,
                online_last_event=online_last,
            )
        )
    return out
