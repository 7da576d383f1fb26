"""Ingestion pipeline: raw files (prices, bookings, weather) gated and parsed into the lake tables.

Every file is a batch: read by its reader, validated by its source's suite, decided by the
source's policy (validation/gate.py), and staged. Nothing reaches the lake before the run
commits, and the run commits everything or (if a batch was rejected or a file unreadable) only
the quarantine entries and validation records: the flow run then ends Failed with the one-line
reason `<file>: <problem> (<where>)`.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.states import Failed, State

from features.common import ParseResult, RawFormatError
from features.raw import expand, read_raw
from fti.lake import fault_point
from fti.prefect_env import as_is
from fti.settings import Settings
from validation.run import GateRun

Source = Literal["prices", "bookings", "weather"]
TIME_COLUMN = {"prices": "ts", "bookings": "booking_time", "weather": "period_end"}


def _log() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except Exception:  # called outside a run (task.fn in unit tests)
        return logging.getLogger(__name__)


_heap_frozen = False


def freeze_start_up_heap() -> None:
    """Leave the objects alive before the first flow run of the process (imports, Prefect, the
    gate's GX context: ~400k) out of every later garbage collection.

    Readers and feature functions allocate millions of short-lived objects, and each full
    collection walked that whole start-up heap again: +0.7 s parsing the 36 price files, ~2 s
    over the feature pipelines (profiled). Only the first run freezes, so nothing a run creates
    is ever kept out of collection. (A flag, not gc.get_freeze_count(): that walks the frozen
    objects, 40-50 ms per call here.)
    """
    global _heap_frozen
    if not _heap_frozen:
        gc.freeze()
        _heap_frozen = True


def parse(source: Source, path: Path) -> ParseResult:
    """Dispatch a raw file to the reader of its source."""
    return read_raw(source, path)


def _flow_run_id() -> str | None:
    try:
        from prefect.runtime import flow_run

        return str(flow_run.id) if flow_run.id else None
    except Exception:
        return None


def parse_raw_file(source: Source, path: Path) -> ParseResult | RawFormatError:
    """The parsed file, or its one-line format error (returned, not raised: it is data here)."""
    try:
        result = parse(source, path)
    except RawFormatError as err:
        _log().error("%s", err)
        return err
    if not result.dropped.empty:
        _log().info(
            "%s: kept %d rows, dropped %s", path.name, len(result.frame), result.dropped_by_reason
        )
    return result


@task(name="parse-raw-files", cache_policy=NO_CACHE)
def parse_raw_files(
    source: Source, paths: list[Path]
) -> list[tuple[Path, ParseResult | RawFormatError]]:
    """Every file of the batch parsed (one task, not one per file: a task run costs Prefect
    0.1 s here), each with its result or its one-line format error."""
    return [(path, parse_raw_file(source, path)) for path in paths]


@task(name="validate-raw-batch", cache_policy=NO_CACHE)
def validate_raw_batch(
    run: GateRun, source: Source, path: Path, result: ParseResult
) -> pd.DataFrame:
    """Validate one parsed file with its source's suite; returns the rows the gate lets through."""
    decision = run.check(source, result.frame, kind="lake", source=path, dropped=result.dropped)
    return decision.write


@task(name="validate-raw-batches", cache_policy=NO_CACHE)
def validate_raw_batches(
    run: GateRun, source: Source, parsed: list[tuple[Path, ParseResult]]
) -> list[pd.DataFrame]:
    """Validate the parsed files of a source (each file a batch, checked in one GX run where
    that gives each file's own verdict, see GateRun.check_files); the rows the gate lets
    through, file by file."""
    return run.check_files(source, parsed)


@task(name="write-lake-table", cache_policy=NO_CACHE)
def write_lake_table(run: GateRun, name: str, frame: pd.DataFrame) -> int:
    """Stage an upsert of rows into a lake table (visible to this run, committed at the end)."""
    return run.write_lake(name, frame)


@task(name="generate-guest-companions", cache_policy=NO_CACHE)
def generate_guest_companions(run: GateRun, seed: int, new: pd.DataFrame) -> dict[str, int]:
    """Guests and web sessions for every booking, generated, gated and staged.

    The companions are derived data (seeded, rebuilt from the bookings), held in memory in the
    exact frames their readers return (tests/unit/test_guests.py round-trips them): each goes
    through the gate like a raw batch, without a detour through a CSV / JSON-lines file.
    """
    from features.guests import generate_companions

    bookings = pd.concat([run.read_lake("bookings"), new], ignore_index=True)
    bookings = bookings.drop_duplicates("booking_id", keep="last").reset_index(drop=True)
    if "guest_id" in bookings:
        bookings = bookings.drop(columns="guest_id")
    guests, sessions, guest_of_booking = generate_companions(bookings, seed=seed)
    out = {}
    for name, frame in (("guests", guests), ("sessions", sessions)):
        decision = run.check(name, frame, kind="lake")
        out[name] = run.write_lake(name, decision.write)
    bookings["guest_id"] = bookings["booking_id"].map(guest_of_booking)
    out["bookings"] = run.write_lake("bookings", bookings)
    return out


@task(name="commit-run", cache_policy=NO_CACHE)
def commit_run(run: GateRun) -> dict[str, Any]:
    """Swap every staged write in (or, after a rejection, only quarantine and records)."""
    fault_point("flow.commit")
    return run.finish()


def gate_failure(report: dict[str, Any], error: Exception | None) -> State[Any]:
    """The flow's Failed state: the one-line reason, the exception for callers to catch."""
    message = str(error) if error else report.get("message") or "validation failed"
    return Failed(message=message, data=error or RuntimeError(message))


@flow(name="ingestion", flow_run_name="ingest-{source}")
def ingestion_flow(
    source: Source,
    paths: list[str],
    seed: int = 0,
    policy: str | None = None,
    note: str | None = None,
) -> Any:
    """Gate raw files of one source into the lake; re-ingesting a file changes nothing.

    `policy` overrides the source's gate policy for this run (``warn`` is how
    `fti quarantine release --accept` writes an accepted batch; `note` records why).
    """
    from validation.runcard import publish

    freeze_start_up_heap()
    settings = Settings()
    files = expand(paths)
    if not files:
        raise FileNotFoundError(f"no {source} files in {', '.join(paths)}")
    overrides: dict[str, str] = {source: policy} if policy else {}
    if policy and source == "bookings":
        overrides.update(booking_labels=policy, guests=policy, sessions=policy)
    run = GateRun(settings, "ingestion", _flow_run_id(), overrides=overrides, note=note)
    summary: dict[str, Any] = {"source": source, "files": len(files), "rows": 0, "dropped": {}}
    try:
        parsed: list[tuple[Path, ParseResult]] = []
        for path, result in parse_raw_files(source, files):
            if isinstance(result, RawFormatError):
                run.reader_error(source, path, result)
                continue
            parsed.append((path, result))
            for reason, count in result.dropped_by_reason.items():
                summary["dropped"][reason] = summary["dropped"].get(reason, 0) + count
        frames = [result.frame for _, result in parsed if len(result.frame)]
        if frames:
            # From each file's own bounds: no concatenated copy of every file for a summary.
            column = TIME_COLUMN[source]
            summary["rows"] = sum(len(f) for f in frames)
            lows = [f[column].min() for f in frames]
            highs = [f[column].max() for f in frames]
            summary["window"] = [str(min(lows)), str(max(highs))]
        del frames
        passed = validate_raw_batches(as_is(run), source, as_is(parsed))
        if not run.failed:
            good = pd.concat(passed, ignore_index=True) if passed else pd.DataFrame()
            if source == "bookings":
                from features.bookings import booking_labels

                if len(good):
                    labels = booking_labels(good)
                    decision = run.check("booking_labels", labels, kind="lake")
                    write_lake_table(as_is(run), "booking_labels", as_is(decision.write))
                    summary["companions"] = generate_guest_companions(as_is(run), seed, as_is(good))
                else:
                    summary["companions"] = {}
            elif len(good):
                write_lake_table(as_is(run), source, as_is(good))
        report = commit_run(as_is(run))
    except BaseException:
        run.abort()
        raise
    summary["validation"] = {
        k: report[k] for k in ("run_id", "rows_written", "rows_quarantined", "quarantine")
    }
    publish(report, "ingestion")
    if report["failed"]:
        return gate_failure(report, run.error())
    _log().info("ingested %s: %s", source, summary)
    return summary


if __name__ == "__main__":
    import sys

    ingestion_flow(sys.argv[1], sys.argv[2:])  # type: ignore[call-overload]
