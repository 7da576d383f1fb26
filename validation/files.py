"""Checking raw files without writing anything (`fti validate`); releasing quarantine entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from features.common import RawFormatError
from features.raw import read_raw
from fti.settings import Settings
from validation import quarantine
from validation.gate import ValidationOutcome, decide, defects_of, explain_empty, validate_frame
from validation.run import describe_row, one_line, policy_for

if TYPE_CHECKING:
    from prefect.states import State

RAW_SOURCES = ("prices", "bookings", "weather", "guests", "sessions")
_FOLDERS = {
    "entsoe_day_ahead": "prices",
    "hotel_bookings": "bookings",
    "smhi_weather": "weather",
}


def detect_source(path: Path) -> str:
    """The raw source of a file, from its folder, its name or its first line."""
    for part in reversed(path.parts[:-1]):
        if part in _FOLDERS:
            return _FOLDERS[part]
    name = path.name.lower()
    if "entsoe" in name:
        return "prices"
    if name.startswith("hotels") or "booking" in name:
        return "bookings"
    if name.startswith("param") and "station" in name:
        return "weather"
    for source in ("guests", "sessions"):
        if name.startswith(source):
            return source
    try:
        head = path.read_bytes()[:4096].decode("utf-8", errors="replace").lstrip("\ufeff")
    except OSError:
        head = ""
    first = head.split("\n", 1)[0]
    if "MTU" in first or "price_eur_mwh" in first:
        return "prices"
    if first.startswith("hotel,"):
        return "bookings"
    if first.startswith("Stationsnamn"):
        return "weather"
    raise ValueError(f"{path.name}: cannot tell its source; pass --source")


@dataclass
class FileCheck:
    """The gate's verdict on one raw file, computed without writing anything."""

    path: Path
    source: str
    policy: str
    rows: int = 0
    error: str | None = None  # the one-line reason when the file fails
    outcome: ValidationOutcome | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    written: int = 0
    quarantined: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def check_file(settings: Settings, path: Path, source: str | None = None) -> FileCheck:
    """Read and validate a raw file exactly as ingestion would, writing nothing."""
    source = source or detect_source(path)
    policy = policy_for(settings, source)
    check = FileCheck(path, source, policy)
    try:
        parsed = read_raw(source, path)
    except RawFormatError as err:
        check.error = str(err)
        return check
    except FileNotFoundError:
        check.error = f"{path.name}: file not found ({path})"
        return check
    check.rows = len(parsed.frame)
    check.dropped = parsed.dropped_by_reason
    defects = defects_of(parsed.dropped)
    outcome = explain_empty(validate_frame(source, parsed.frame), defects)
    check.outcome = outcome
    decision = decide(outcome, parsed.frame, policy, parsed.dropped)
    check.written = len(decision.write)
    check.quarantined = decision.quarantined_count
    if outcome.failures:
        first = outcome.failures[0]
        more = f" and {len(outcome.failures) - 1} more" if len(outcome.failures) > 1 else ""
        if first.rows is not None and len(first.rows):
            where = describe_row(source, parsed.frame.reset_index(drop=True), int(first.rows[0]))
        else:
            from validation.run import _where

            where = _where(outcome, first, parsed.frame)
        check.error = one_line(f"{path.name}: {first.describe()}{more} ({where})")
    elif not defects.empty:
        reason = str(defects["reason"].iloc[0])
        check.error = (
            f"{path.name}: {len(defects)} row(s) the reader drops as defects: {reason} "
            f"(line {int(defects['line'].iloc[0])})"
        )
    return check


# ---- release ---------------------------------------------------------------------------------


class ReleaseError(ValueError):
    """A quarantine entry that cannot be released as asked (one line)."""


def release(
    settings: Settings,
    qid: str,
    *,
    accept: bool = False,
    reason: str | None = None,
    path: Path | None = None,
) -> dict[str, Any]:
    """Re-run the gate on a quarantined batch after a fix, or accept it with a reason.

    Raw sources (prices, bookings, weather) go through the ingestion flow again: the fixed
    file given with `path`, else the original file, else the quarantined copy. With `accept`
    the batch is written under the ``warn`` policy (failures recorded, the reason noted in its
    validation record). Companion tables and feature views are re-validated from the stored
    rows. The entry is marked released / accepted only when the write succeeded.
    """
    entry = quarantine.load(settings, qid)
    if entry["status"] != "open":
        raise ReleaseError(f"{qid} is already {entry['status']}")
    if accept and not (reason and reason.strip()):
        raise ReleaseError("--accept needs --reason: say why the data is right")
    table = entry["table"]
    note = f"release of {qid}" + (f": accepted: {reason}" if accept else "")
    if table in ("prices", "bookings", "weather"):
        if accept and entry["kind"] == "file" and path is None:
            raise ReleaseError(
                f"{qid}: the reader cannot read the file, so there are no rows to accept; "
                "fix the file and release it with --path"
            )
        source = _release_source(settings, entry, path)
        from flows.ingestion import ingestion_flow

        state = cast(
            "State[Any]",
            ingestion_flow(
                table,
                [str(source)],
                policy="warn" if accept else None,
                note=note,
                return_state=True,
            ),
        )
        if state.is_failed():
            raise ReleaseError(f"{qid} stays quarantined: {state.message}")
        result: dict[str, Any] = state.result()
        run_id = result.get("validation", {}).get("run_id")
        detail = f"re-ingested {source.name}"
    elif not accept and entry.get("flow") in ("features", "materialize"):
        run_id, detail = _rerun_flow(entry)
    else:
        run_id, detail = _release_rows(settings, entry, accept, note)
    from fti.lake import transaction

    with transaction(settings.state_dir, "release") as txn:
        updated = quarantine.update_status(
            txn,
            settings,
            qid,
            "accepted" if accept else "released",
            reason=reason,
            run_id=run_id,
            note=detail,
        )
    return {"id": qid, "status": updated["status"], "run_id": run_id, "detail": detail}


def _release_source(settings: Settings, entry: dict[str, Any], path: Path | None) -> Path:
    if path is not None:
        if not path.exists():
            raise ReleaseError(f"{path}: no such file")
        return path
    original = entry.get("source", {}).get("path")
    if original and Path(original).exists():
        return Path(original)
    raw = entry.get("files", {}).get("raw")
    if raw:
        return quarantine.entry_dir(settings, entry["id"]) / raw
    raise ReleaseError(f"{entry['id']}: the original file is gone; give the fixed one with --path")


def _rerun_flow(entry: dict[str, Any]) -> tuple[str | None, str]:
    """Derived data: after a fix (of code or inputs) recompute it; the gate decides again."""
    table = entry["table"]
    if entry["flow"] == "materialize":
        from flows.materialize import materialize_flow

        end = pd.Timestamp(entry["window"][1]).to_pydatetime() if entry.get("window") else None
        state = cast("State[Any]", materialize_flow(end=end, views=[table], return_state=True))
        detail = f"re-materialized {table}"
    else:
        from flows.features import GROUPS, features_flow

        group = next(g for g, views in GROUPS.items() if table in views)
        lo, hi = (pd.Timestamp(w).to_pydatetime() for w in entry["window"])
        state = cast(
            "State[Any]", features_flow(groups=[group], start=lo, end=hi, return_state=True)
        )
        detail = f"recomputed {group} for [{lo}, {hi})"
    if state.is_failed():
        raise ReleaseError(f"{entry['id']} stays quarantined: {state.message}")
    result = state.result()
    validation = result.get("validation", {}) if isinstance(result, dict) else {}
    return validation.get("run_id"), detail


def _release_rows(
    settings: Settings, entry: dict[str, Any], accept: bool, note: str
) -> tuple[str, str]:
    """Companion lake tables and feature views: re-validate the stored rows and write them."""
    from fti.tables import FEATURES, LAKE
    from validation.run import GateRun

    table = entry["table"]
    frame = quarantine.read_frame(settings, entry, "rows")
    if frame is None:
        frame = quarantine.read_frame(settings, entry, "batch")
    if frame is None or frame.empty:
        raise ReleaseError(f"{entry['id']}: no stored rows to release")
    frame = frame.drop(columns=["_failed"], errors="ignore")
    kind = "feature" if table in FEATURES else "lake"
    run = GateRun(settings, "release", overrides={table: "warn"} if accept else {}, note=note)
    try:
        window = None
        if kind == "feature":
            lo, hi = (pd.Timestamp(w) for w in entry["window"])
            window = (lo, hi)
        references = None
        if table == "hotel_weekly_vacancy":
            from fti import lake

            references = {"bookings": lake.read_table(LAKE["bookings"].root(settings))}
        decision = run.check(table, frame, kind=kind, references=references, window=window)
        if not run.failed:
            if kind == "feature" and window is not None:
                run.replace_window(table, decision.write, *window)
            else:
                run.write_lake(table, decision.write)
        report = run.finish()
    except BaseException:
        run.abort()
        raise
    if report["failed"]:
        raise ReleaseError(f"{entry['id']} stays quarantined: {report['message']}")
    return run.run_id, f"wrote {report['rows_written']} rows to {table}"
