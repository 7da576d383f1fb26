"""A gated run: every batch of a flow run validated, decided, staged and committed together.

`GateRun` wraps one `fti.lake.Transaction`. The flow hands it each batch (`check`), each reader
error (`reader_error`) and each write (`write_lake`, `replace_window`, `stage_file`); nothing
reaches a store before `finish`. If any batch was rejected, `finish` commits only the
quarantine entries, the GX results and the validation records (the stores stay exactly as
they were) and the run reports failure; otherwise it commits everything at once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from features.common import RawFormatError
from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES, LAKE
from validation import quarantine, records
from validation.gate import (
    DEFAULT_POLICY,
    FEATURE_POLICY,
    POLICIES,
    Decision,
    ExpectationResult,
    ValidationOutcome,
    decide,
    defects_of,
    explain_empty,
    validate_frame,
)

log = logging.getLogger(__name__)
STORES = ("lake/", "offline/", "feast/", "raw/")


class RawBatchRejected(RawFormatError):
    """A raw file that was read but failed its suite; one line: file, problem, where."""


class BatchRejected(ValueError):
    """A feature (or online) batch that failed its suite; one line: table, problem, where."""


def policy_for(settings: Settings, table: str, overrides: Mapping[str, str] | None = None) -> str:
    """The gate policy of a table: override, then settings, then the documented default."""
    configured = dict(getattr(settings, "validation_policy", {}) or {})
    policy = (overrides or {}).get(table) or configured.get(table)
    if policy is None:
        policy = DEFAULT_POLICY.get(table, FEATURE_POLICY)
    if policy not in POLICIES:
        raise ValueError(f"unknown validation policy {policy!r} for {table}")
    return policy


def describe_row(table: str, frame: pd.DataFrame, position: int) -> str:
    """Where a row is: its key values (and its data row in the raw file when known)."""
    spec = LAKE.get(table) or FEATURES.get(table)
    keys = list(spec.key) if spec else list(frame.columns[:2])
    row = frame.iloc[position]
    parts = []
    if "source_row" in frame.columns:
        parts.append(f"data row {int(row['source_row'])}")
    for key in keys:
        if key in frame.columns:
            value = row[key]
            if isinstance(value, pd.Timestamp):
                value = value.strftime("%Y-%m-%d %H:%M %Z").strip()
            parts.append(f"{key}={value}")
    return ", ".join(parts) if parts else f"row {position + 1}"


def _where(outcome: ValidationOutcome, failure: ExpectationResult, frame: pd.DataFrame) -> str:
    if failure.rows is not None and len(failure.rows):
        return describe_row(outcome.table, frame, int(failure.rows[0]))
    sample = failure.sample[0] if failure.sample else None
    if isinstance(sample, dict):
        if "local" in sample:
            return f"{sample.get('key')}, first missing hour {sample['local']}"
        if "local_day" in sample:
            return (
                f"{sample.get('key')}, local day {sample['local_day']}: "
                f"{sample['hours']} of {sample['expected']} hours"
            )
        return ", ".join(f"{k}={v}" for k, v in list(sample.items())[:4])
    if sample is not None:
        return str(sample)[:120]
    return "whole batch"


def one_line(text: str) -> str:
    return " ".join(str(text).split())


@dataclass
class BatchReport:
    """What happened to one batch (kept for the run card and the flow's summary)."""

    table: str
    kind: str
    source: str | None
    policy: str
    rows_in: int
    rows_written: int
    rows_quarantined: int
    success: bool
    rejected: bool
    failed: list[str]
    warnings: dict[str, int]
    quarantine_id: str | None
    message: str | None
    seconds: float


@dataclass
class GateRun:
    settings: Settings
    flow: str
    flow_run_id: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    now: pd.Timestamp | None = None
    txn: lake.Transaction = field(init=False)
    run_id: str = field(init=False)
    batches: list[BatchReport] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)
    _records: list[dict[str, Any]] = field(default_factory=list)
    _written: dict[str, tuple[str, bool]] = field(default_factory=dict)
    _suites: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.txn = lake.Transaction.begin(self.settings.state_dir, self.flow)
        self.run_id = self.txn.id

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def policy(self, table: str, kind: str) -> str:
        if kind == "online":
            return self.overrides.get(table) or FEATURE_POLICY
        return policy_for(self.settings, table, self.overrides)

    # ---- validation -------------------------------------------------------------------------

    def check(
        self,
        table: str,
        frame: pd.DataFrame,
        *,
        kind: str,
        source: Path | None = None,
        dropped: pd.DataFrame | None = None,
        references: Mapping[str, pd.DataFrame] | None = None,
        window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    ) -> Decision:
        """Validate one batch, apply its policy, stage its record and any quarantine entry."""
        policy = self.policy(table, kind)
        defects = defects_of(dropped)
        outcome = explain_empty(
            validate_frame(table, frame, references=references, now=self.now), defects
        )
        decision = decide(outcome, frame, policy, dropped)
        batch_id = f"{table}-{uuid.uuid4().hex[:12]}"
        result_rel = records.result_path(self.run_id, batch_id)
        self.txn.put(result_rel).write_text(json.dumps(outcome.result, default=str))
        self._stage_suite(table, outcome.suite_version)
        qid = None
        message = None
        failed_names = [f.name for f in outcome.failures]
        if policy != "warn" and not defects.empty:
            failed_names += [f"reader: {r}" for r in sorted(set(defects["reason"]))]
        if decision.rejected or decision.quarantined_count:
            reason = self._reason(outcome, frame, defects)
            qid = quarantine.stage(
                self.txn,
                self.settings,
                table=table,
                kind="batch" if decision.rejected else "rows",
                reason=reason,
                policy=policy,
                run_id=self.run_id,
                flow=self.flow,
                flow_run_id=self.flow_run_id,
                source=source,
                batch=decision.quarantined if decision.rejected else None,
                rows=None if decision.rejected else decision.quarantined,
                defects=defects,
                failed=[f.as_dict() for f in outcome.failures]
                + [
                    {"expectation": "reader", "protects": r, "unexpected_count": int(n)}
                    for r, n in defects["reason"].value_counts().items()
                ],
                result=outcome.result,
                suite=outcome.suite,
                suite_version=outcome.suite_version,
                window=[records.iso(w) for w in window] if window else None,
                copy_raw=decision.rejected and source is not None,
            )
            if decision.rejected:
                message = f"{reason}; quarantined as {qid}"
                self._fail(table, source, message, outcome, frame, defects)
        time_column = (LAKE.get(table) or FEATURES[table]).time_column
        times = frame[time_column] if time_column in frame and len(frame) else None
        record = {
            "batch_id": batch_id,
            "table": table,
            "kind": kind,
            "window_start": records.iso(times.min()) if times is not None else None,
            "window_end": records.iso(times.max()) if times is not None else None,
            "rows_in": len(frame) + len(defects),
            "rows_written": len(decision.write),
            "rows_quarantined": decision.quarantined_count,
            "suite": outcome.suite,
            "suite_version": outcome.suite_version,
            "success": outcome.success and (defects.empty or policy == "warn"),
            "policy": policy,
            "result_path": result_rel,
            "flow_run_id": self.flow_run_id,
            "written_at": None,
            "run_id": self.run_id,
            "source": source.name if source is not None else None,
            "failed_expectations": failed_names,
            "warnings": {w.name: int(w.unexpected_count or 0) for w in outcome.warnings},
            "quarantine_id": qid,
        }
        if window is not None:
            record["replaced_start"], record["replaced_end"] = (records.iso(w) for w in window)
        if self.note:
            record["note"] = self.note
        self._records.append(record)
        self.batches.append(
            BatchReport(
                table=table,
                kind=kind,
                source=source.name if source is not None else None,
                policy=policy,
                rows_in=len(frame) + len(defects),
                rows_written=len(decision.write),
                rows_quarantined=decision.quarantined_count,
                success=bool(record["success"]),
                rejected=decision.rejected,
                failed=failed_names,
                warnings={w.name: int(w.unexpected_count or 0) for w in outcome.warnings},
                quarantine_id=qid,
                message=message,
                seconds=round(outcome.seconds, 3),
            )
        )
        for warning in outcome.warnings:
            log.info("%s: warning: %s", source.name if source else table, warning.describe())
        return decision

    def _reason(
        self, outcome: ValidationOutcome, frame: pd.DataFrame, defects: pd.DataFrame
    ) -> str:
        if outcome.failures:
            first = outcome.failures[0]
            more = f" and {len(outcome.failures) - 1} more" if len(outcome.failures) > 1 else ""
            return one_line(f"{first.describe()}{more}")
        counts = defects["reason"].value_counts()
        reason, n = str(counts.index[0]), int(counts.iloc[0])
        return f"{n} row(s) dropped by the reader: {reason}"

    def _fail(
        self,
        table: str,
        source: Path | None,
        message: str,
        outcome: ValidationOutcome,
        frame: pd.DataFrame,
        defects: pd.DataFrame,
    ) -> None:
        if outcome.failures:
            where = _where(outcome, outcome.failures[0], frame)
        else:
            where = f"line {int(defects['line'].iloc[0])}"
        if source is not None:
            self.errors.append(RawBatchRejected(source, one_line(message), one_line(where)))
        else:
            self.errors.append(BatchRejected(f"{table}: {one_line(message)} ({one_line(where)})"))

    def reader_error(self, table: str, path: Path, error: RawFormatError) -> str:
        """A raw file its reader could not read: quarantined whole, with the one-line reason."""
        reason = error.problem + (f" ({error.where})" if error.where else "")
        qid = quarantine.stage(
            self.txn,
            self.settings,
            table=table,
            kind="file",
            reason=one_line(reason),
            policy=self.policy(table, "lake"),
            run_id=self.run_id,
            flow=self.flow,
            flow_run_id=self.flow_run_id,
            source=path,
            copy_raw=True,
        )
        batch_id = f"{table}-{uuid.uuid4().hex[:12]}"
        self._records.append(
            {
                "batch_id": batch_id,
                "table": table,
                "kind": "lake",
                "window_start": None,
                "window_end": None,
                "rows_in": 0,
                "rows_written": 0,
                "rows_quarantined": 0,
                "suite": table,
                "suite_version": None,
                "success": False,
                "policy": self.policy(table, "lake"),
                "result_path": None,
                "flow_run_id": self.flow_run_id,
                "written_at": None,
                "run_id": self.run_id,
                "source": path.name,
                "failed_expectations": [f"reader: {one_line(reason)}"],
                "warnings": {},
                "quarantine_id": qid,
            }
        )
        self.batches.append(
            BatchReport(
                table,
                "lake",
                path.name,
                self.policy(table, "lake"),
                0,
                0,
                0,
                False,
                True,
                [f"reader: {one_line(reason)}"],
                {},
                qid,
                str(error),
                0.0,
            )
        )
        self.errors.append(error)
        return qid

    def _stage_suite(self, table: str, version: str) -> None:
        if (table, version) in self._suites:
            return
        self._suites.add((table, version))
        rel = records.suite_path(table, version)
        if not (self.settings.state_dir / rel).exists():
            from validation.gate import engine
            from validation.suites import suite_json

            suite, _ = engine().suite(table)
            self.txn.put(rel).write_text(json.dumps(suite_json(suite), indent=1, default=str))

    # ---- staged writes ----------------------------------------------------------------------

    def lake_root(self, table: str) -> Path:
        return self.txn.stage_dir(LAKE[table].root(self.settings))

    def read_lake(self, table: str) -> pd.DataFrame:
        """The lake table as this run sees it (its own staged writes included)."""
        root = LAKE[table].root(self.settings)
        rel = self.txn._rel(root)
        source = self.txn._dirs.get(rel, root)
        return lake.read_table(source)

    def write_lake(self, table: str, frame: pd.DataFrame) -> int:
        spec = LAKE[table]
        self._written[table] = (spec.time_column, False)
        return lake.upsert(frame, self.lake_root(table), spec.key, spec.partition, sort=spec.key)

    def replace_window(
        self, view: str, frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
    ) -> int:
        spec = FEATURES[view]
        self._written[view] = (spec.time_column, True)
        root = self.txn.stage_dir(spec.root(self.settings))
        return lake.replace_window(
            frame, root, spec.time_column, start, end, spec.partition, spec.key
        )

    def stage_file(self, path: Path) -> Path:
        return self.txn.stage_file(path)

    # ---- finish -----------------------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        """Commit: everything if no batch was rejected, else only quarantine and records."""
        written_at = records.now_iso()
        if self.failed:
            self.txn.drop(STORES)
        for record in self._records:
            record["written_at"] = written_at
            if self.failed:
                record["rows_written"] = 0
                record["committed"] = False
        if self._records:
            lines = "".join(json.dumps(r, default=str) + "\n" for r in self._records)
            self.txn.append(records.RECORDS, lines)
        changed = self.txn.commit()
        report = self.report()
        report["files_changed"] = changed
        report["freshness"] = {} if self.failed else self._freshness()
        return report

    def abort(self) -> None:
        self.txn.abort()

    def _freshness(self) -> dict[str, dict[str, Any]]:
        out = {}
        now = datetime.now(UTC)
        for table, (column, offline) in self._written.items():
            spec = FEATURES[table] if offline else LAKE[table]
            frame = lake.read_table(spec.root(self.settings), columns=[column])
            if frame.empty:
                continue
            newest = pd.Timestamp(frame[column].max())
            newest = newest.tz_localize("UTC") if newest.tzinfo is None else newest
            out[table] = {
                "newest": newest.isoformat(),
                "age_hours": round((now - newest).total_seconds() / 3600, 1),
                "rows": len(frame),
            }
        return out

    def report(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "flow": self.flow,
            "flow_run_id": self.flow_run_id,
            "failed": self.failed,
            "message": str(self.errors[0]) if self.errors else None,
            "rows_in": sum(b.rows_in for b in self.batches),
            "rows_written": sum(b.rows_written for b in self.batches) if not self.failed else 0,
            "rows_quarantined": sum(b.rows_quarantined for b in self.batches),
            "quarantine": sorted({b.quarantine_id for b in self.batches if b.quarantine_id}),
            "batches": [b.__dict__ for b in self.batches],
        }

    def error(self) -> Exception | None:
        return self.errors[0] if self.errors else None
