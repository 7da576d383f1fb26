"""A gated run: every batch of a flow run validated, decided, staged and committed together.

`GateRun` wraps one `fti.lake.Transaction`. The flow hands it each batch (`check`), each reader
error (`reader_error`) and each write (`write_lake`, `replace_window`, `stage_file`); nothing
reaches a store before `finish`. If any batch was rejected, `finish` commits only the
quarantine entries, the GX results and the validation records (the stores stay exactly as
they were) and the run reports failure; otherwise it commits everything at once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.common import ParseResult, RawFormatError
from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES, LAKE
from validation import quarantine, records
from validation.gate import (
    DEFAULT_POLICY,
    FEATURE_POLICY,
    POLICIES,
    SAMPLE,
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


# Table-level expectations whose verdict on a group of files equals the verdict on each file
# once the files share columns and types and have rows; the hourly grid is checked file by file
# (`_boundary_checks_hold`). A suite with any other table-level expectation is never grouped.
_GROUPABLE_TABLE_EXPECTATIONS = {
    "expect_table_columns_to_match_set",
    "expect_table_dtypes_to_match",
    "expect_table_row_count_to_be_between",
    "expect_hourly_grid_to_be_complete",
}


def _groupable(table: str) -> bool:
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    from validation.gate import engine

    row_level = (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)
    suite, _ = engine().suite(table)
    # A `mostly` below 1 lets a group pass that one of its files would fail.
    return all(
        (isinstance(e, row_level) or e.expectation_type in _GROUPABLE_TABLE_EXPECTATIONS)
        and (getattr(e, "mostly", None) in (None, 1, 1.0))
        for e in suite.expectations
    )


def _same_dtypes(a: pd.Series, b: pd.Series) -> bool:
    return list(a.index) == list(b.index) and all(
        str(x) == str(y) for x, y in zip(a, b, strict=True)
    )


def _boundary_checks_hold(table: str, frame: pd.DataFrame) -> bool:
    """The critical hourly-grid expectations of the suite, on one file alone."""
    from validation.expectations import ExpectHourlyGridToBeComplete, hourly_grid_report
    from validation.gate import engine

    suite, _ = engine().suite(table)
    for e in suite.expectations:
        if not isinstance(e, ExpectHourlyGridToBeComplete):
            continue
        if str(getattr(e.severity, "value", e.severity)) != "critical":
            continue
        report = hourly_grid_report(
            frame[e.key_column], frame[e.time_column], e.timezone, bool(e.allow_partial_edges)
        )
        if report["missing_hours"] or report["short_days"]:
            return False
    return True


def _slice(outcome: ValidationOutcome, lo: int, hi: int, frame: pd.DataFrame) -> ValidationOutcome:
    """One file's share of a group's outcome (rows lo..hi of the group): its own row-level
    warnings, counts and samples; table-level warnings stay as the group's."""
    warnings = []
    for warning in outcome.warnings:
        if warning.rows is None:
            warnings.append(warning)
            continue
        rows = warning.rows[(warning.rows >= lo) & (warning.rows < hi)] - lo
        if not len(rows):
            continue
        sample = warning.sample
        if len(warning.columns) == 1 and warning.columns[0] in frame:
            sample = frame[warning.columns[0]].iloc[rows[:SAMPLE]].tolist()
        warnings.append(
            dataclasses.replace(
                warning,
                rows=rows,
                unexpected_count=len(rows),
                element_count=hi - lo,
                sample=sample,
            )
        )
    share = (hi - lo) / max(outcome.rows, 1)
    return dataclasses.replace(
        outcome, rows=hi - lo, warnings=warnings, seconds=outcome.seconds * share
    )


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
        defects = defects_of(dropped)
        outcome = explain_empty(
            validate_frame(table, frame, references=references, now=self.now), defects
        )
        return self._decide(
            table, frame, outcome, kind=kind, source=source, dropped=dropped, window=window
        )

    def check_files(
        self, table: str, files: Sequence[tuple[Path, ParseResult]]
    ) -> list[pd.DataFrame]:
        """Gate the parsed raw files of one source, each file its own batch; the rows to write.

        The files are validated together in one GX run (the per-run cost of GX dominates small
        files). Each file still gets its own record (pointing at the shared result JSON) and
        decision. The shared run stands for every file only when it cannot differ from the
        file's own run: every file read without defects, with rows and the same columns and
        types, no critical failure in the group, and every critical table-level expectation
        that depends on the batch's boundaries (the hourly grid) holding file by file.
        Otherwise each file is validated alone exactly as `check` does, so a bad file is the one
        rejected or quarantined, with its own one-line reason.
        """
        out: dict[int, pd.DataFrame] = {}
        group = [
            i
            for i, (_, parsed) in enumerate(files)
            if len(parsed.frame) and defects_of(parsed.dropped).empty
        ]
        if group:
            first = files[group[0]][1].frame.dtypes
            group = [i for i in group if _same_dtypes(files[i][1].frame.dtypes, first)]
        if len(group) > 1 and _groupable(table):
            frames = [files[i][1].frame for i in group]
            combined = pd.concat(frames, ignore_index=True)
            outcome = validate_frame(table, combined, now=self.now)
            del combined
            if outcome.success and all(_boundary_checks_hold(table, f) for f in frames):
                result_rel = records.result_path(self.run_id, f"{table}-{uuid.uuid4().hex[:12]}")
                self.txn.put(result_rel).write_text(json.dumps(outcome.result, default=str))
                bounds = np.cumsum([0, *[len(f) for f in frames]])
                for k, i in enumerate(group):
                    path, parsed = files[i]
                    part = _slice(outcome, int(bounds[k]), int(bounds[k + 1]), parsed.frame)
                    out[i] = self._decide(
                        table,
                        parsed.frame,
                        part,
                        kind="lake",
                        source=path,
                        dropped=parsed.dropped,
                        result_rel=result_rel,
                        together=len(group),
                    ).write
        for i, (path, parsed) in enumerate(files):
            if i not in out:
                out[i] = self.check(
                    table, parsed.frame, kind="lake", source=path, dropped=parsed.dropped
                ).write
        return [out[i] for i in range(len(files))]

    def _decide(
        self,
        table: str,
        frame: pd.DataFrame,
        outcome: ValidationOutcome,
        *,
        kind: str,
        source: Path | None = None,
        dropped: pd.DataFrame | None = None,
        window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
        result_rel: str | None = None,
        together: int = 1,
    ) -> Decision:
        """Apply the policy to a validated batch; stage its record and any quarantine entry."""
        policy = self.policy(table, kind)
        defects = defects_of(dropped)
        decision = decide(outcome, frame, policy, dropped)
        batch_id = f"{table}-{uuid.uuid4().hex[:12]}"
        if result_rel is None:
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
        if together > 1:
            # Validated in one GX run with other files of the run (the shared result JSON).
            record["validated_together"] = together
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
            rows, newest = lake.table_stats(spec.root(self.settings), column)
            if not rows or newest is None:
                continue
            out[table] = {
                "newest": newest.isoformat(),
                "age_hours": round((now - newest).total_seconds() / 3600, 1),
                "rows": rows,
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
