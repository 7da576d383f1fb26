"""Ingestion pipeline: raw files (prices, bookings, weather) parsed into the lake tables."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE as NO_CACHE

from features.common import ParseResult
from fti import lake
from fti.settings import Settings
from fti.tables import LAKE

Source = Literal["prices", "bookings", "weather"]


def _log() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except Exception:  # called outside a run (task.fn in unit tests)
        return logging.getLogger(__name__)


def parse(source: Source, path: Path) -> ParseResult:
    """Dispatch a raw file to the reader of its source."""
    if source == "prices":
        from features.prices import read_prices

        return read_prices(path)
    if source == "bookings":
        from features.bookings import read_bookings

        return read_bookings(path)
    from features.weather import read_smhi

    return read_smhi(path)


def expand(paths: list[str]) -> list[Path]:
    """Files named directly, and the files inside named folders (sorted, hidden ones skipped)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        else:
            out.append(path)
    return out


@task(name="parse-raw-file", cache_policy=NO_CACHE)
def parse_raw_file(source: Source, path: Path) -> ParseResult:
    result = parse(source, path)
    if not result.dropped.empty:
        _log().info("%s: kept %d rows, dropped %s", path.name, len(result.frame), result.dropped_by_reason)
    return result


@task(name="write-lake-table", cache_policy=NO_CACHE)
def write_lake_table(name: str, frame: pd.DataFrame, state_dir: Path) -> int:
    table = LAKE[name]
    settings = Settings(state_dir=state_dir)
    return lake.upsert(frame, table.root(settings), table.key, table.partition, sort=table.key)


@task(name="generate-guest-companions", cache_policy=NO_CACHE)
def generate_guest_companions(state_dir: Path, seed: int) -> dict[str, int]:
    """Guests and web sessions for every booking in the lake, written as raw files, then parsed."""
    from features.guests import (
        generate_companions,
        read_guests,
        read_sessions,
        write_guests_csv,
        write_sessions_jsonl,
    )

    settings = Settings(state_dir=state_dir)
    bookings = lake.read_table(LAKE["bookings"].root(settings))
    guests, sessions, guest_of_booking = generate_companions(bookings, seed=seed)
    raw = settings.raw_dir / "companions"
    raw.mkdir(parents=True, exist_ok=True)
    write_guests_csv(guests, raw / "guests.csv")
    write_sessions_jsonl(sessions, raw / "sessions.jsonl")
    # The companions go through the same parse path as any raw file.
    guests = read_guests(raw / "guests.csv").frame
    sessions = read_sessions(raw / "sessions.jsonl").frame
    bookings["guest_id"] = bookings["booking_id"].map(guest_of_booking)
    out = {}
    for name, frame in (("guests", guests), ("sessions", sessions), ("bookings", bookings)):
        table = LAKE[name]
        out[name] = lake.upsert(frame, table.root(settings), table.key, table.partition, table.key)
    return out


@flow(name="ingestion", flow_run_name="ingest-{source}")
def ingestion_flow(source: Source, paths: list[str], seed: int = 0) -> dict[str, Any]:
    """Parse raw files of one source into the lake; re-ingesting a file changes nothing."""
    settings = Settings()
    files = expand(paths)
    if not files:
        raise FileNotFoundError(f"no {source} files in {', '.join(paths)}")
    summary: dict[str, Any] = {"source": source, "files": len(files), "rows": 0, "dropped": {}}
    frames = []
    for path in files:
        result = parse_raw_file(source, path)
        frames.append(result.frame)
        for reason, count in result.dropped_by_reason.items():
            summary["dropped"][reason] = summary["dropped"].get(reason, 0) + count
    frame = pd.concat(frames, ignore_index=True)
    summary["rows"] = len(frame)
    if source == "prices":
        summary["window"] = [str(frame["ts"].min()), str(frame["ts"].max())]
        write_lake_table("prices", frame, settings.state_dir)
    elif source == "weather":
        summary["window"] = [str(frame["period_end"].min()), str(frame["period_end"].max())]
        write_lake_table("weather", frame, settings.state_dir)
    else:
        from features.bookings import booking_labels

        summary["window"] = [str(frame["booking_time"].min()), str(frame["booking_time"].max())]
        write_lake_table("bookings", frame, settings.state_dir)
        write_lake_table("booking_labels", booking_labels(frame), settings.state_dir)
        summary["companions"] = generate_guest_companions(settings.state_dir, seed)
    _log().info("ingested %s: %s", source, summary)
    return summary


if __name__ == "__main__":
    import sys

    ingestion_flow(sys.argv[1], sys.argv[2:])  # type: ignore[arg-type]
