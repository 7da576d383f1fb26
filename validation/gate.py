"""The validation gate: every batch is validated with its GX suite before any store sees it.

`validate_frame` is the pure core (no writes): a frame and a table name in, a
`ValidationOutcome` out. `decide` applies a source's policy to an outcome:

- ``reject``: any critical failure rejects the whole batch (nothing written, run fails);
- ``quarantine``: rows failing a row-level expectation are set aside, the others written; a
  batch-level failure (a hole in the hourly grid, a wrong schema) still rejects the batch;
- ``warn``: everything is written, failures are recorded (the batch's record says
  ``success: false``, so training refuses to use it).

Warnings (severity ``warning``) never block: they flag the real quirks of the data.
`GateRun` (validation/run.py) applies all of this for a flow run, inside its transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite

log = logging.getLogger(__name__)

Policy = Literal["reject", "quarantine", "warn"]
POLICIES: tuple[str, ...] = ("reject", "quarantine", "warn")
# Defaults, documented in the README ("Validation gate"); override per table with
# FTI_VALIDATION_POLICY='{"bookings": "reject"}'.
DEFAULT_POLICY: dict[str, Policy] = {
    # A price file is one consistent export: a bad row means a bad export, and a partial day
    # would leave holes in lags and rolling windows. Reject the file.
    "prices": "reject",
    # Bookings, guests, sessions and observations are independent rows: keep the good ones,
    # quarantine the bad ones (nothing is lost, everything is released or accepted later).
    "bookings": "quarantine",
    "booking_labels": "quarantine",
    "guests": "quarantine",
    "sessions": "quarantine",
    "weather": "quarantine",
}
# Feature views and the online store: derived data, written whole per window. A failure is a
# bug or an upstream problem: reject (quarantining rows would delete them from the window).
FEATURE_POLICY: Policy = "reject"
MAX_INDEXES = 1_000_000
SAMPLE = 10


@dataclass
class ExpectationResult:
    """One failed (or flagged) expectation of a batch, in plain Python."""

    expectation: str  # e.g. expect_column_values_to_be_between
    columns: list[str]
    severity: str  # critical | warning
    protects: str  # what it protects against (the suite's comment)
    unexpected_count: int | None
    element_count: int | None
    sample: list[Any]
    rows: np.ndarray | None  # positions of the failing rows; None: the batch as a whole
    details: dict[str, Any] = field(default_factory=dict)
    exception: str | None = None

    @property
    def name(self) -> str:
        return (
            f"{self.expectation}({', '.join(self.columns)})" if self.columns else self.expectation
        )

    def describe(self) -> str:
        """One line: what failed, how often, with sample values."""
        if self.exception:
            return f"{self.name} could not run: {self.exception}"
        parts = [self.protects or self.name]
        if self.unexpected_count is not None and self.element_count:
            parts.append(f"{self.unexpected_count} of {self.element_count} rows")
        elif self.unexpected_count:
            parts.append(f"{self.unexpected_count} found")
        scalars = [v for v in self.sample if not isinstance(v, dict)]
        if scalars:
            unique = list(dict.fromkeys(_short(v) for v in scalars))
            parts.append("e.g. " + ", ".join(unique[:3]))
        return ": ".join(parts[:1]) + (" (" + "; ".join(parts[1:]) + ")" if parts[1:] else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "columns": self.columns,
            "severity": self.severity,
            "protects": self.protects,
            "unexpected_count": self.unexpected_count,
            "element_count": self.element_count,
            "sample": [_jsonable(v) for v in self.sample[:SAMPLE]],
            "row_level": self.rows is not None,
            "details": _jsonable(self.details),
            "exception": self.exception,
        }


def _short(value: Any) -> str:
    text = repr(_jsonable(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


@dataclass
class ValidationOutcome:
    """The result of validating one batch: failures, warnings and the GX result JSON."""

    table: str
    suite: str
    suite_version: str
    rows: int
    failures: list[ExpectationResult]
    warnings: list[ExpectationResult]
    result: dict[str, Any]
    seconds: float
    evaluated: int

    @property
    def success(self) -> bool:
        """No critical expectation failed."""
        return not self.failures

    @property
    def batch_failures(self) -> list[ExpectationResult]:
        return [f for f in self.failures if f.rows is None]

    def failing_rows(self) -> np.ndarray:
        """Positions of rows that fail at least one critical row-level expectation."""
        mask = np.zeros(self.rows, dtype=bool)
        for failure in self.failures:
            if failure.rows is not None:
                mask[failure.rows[failure.rows < self.rows]] = True
        return np.flatnonzero(mask)

    def reasons_by_row(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for failure in self.failures:
            if failure.rows is None:
                continue
            for row in failure.rows.tolist():
                out.setdefault(int(row), []).append(failure.name)
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "suite": self.suite,
            "suite_version": self.suite_version,
            "rows": self.rows,
            "success": self.success,
            "evaluated": self.evaluated,
            "failed": [f.as_dict() for f in self.failures],
            "warnings": [w.as_dict() for w in self.warnings],
            "seconds": round(self.seconds, 3),
        }


# ---- GX plumbing -----------------------------------------------------------------------------


class _Engine:
    """One ephemeral GX context per process: a pandas data source and one definition per suite."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self.gx = gx
        # In memory, no Data Docs site (the default ephemeral context makes a temp folder for
        # one), no progress bars (they would go to stderr on every validation).
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            progress_bars=ProgressBarsConfig(globally=False),
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        asset = self.context.data_sources.add_pandas("fti").add_dataframe_asset("batch")
        self.batch = asset.add_batch_definition_whole_dataframe("whole")
        self.definitions: dict[str, Any] = {}
        self.suites: dict[str, tuple[ExpectationSuite, str]] = {}

    def suite(self, table: str) -> tuple[ExpectationSuite, str]:
        if table not in self.suites:
            from validation.suites import build_suite, suite_version

            suite = build_suite(table)
            version = suite_version(suite)
            self.suites[table] = (self.context.suites.add(suite), version)
        return self.suites[table]

    def definition(self, table: str) -> Any:
        if table not in self.definitions:
            suite, _ = self.suite(table)
            self.definitions[table] = self.context.validation_definitions.add(
                self.gx.ValidationDefinition(name=f"validate-{table}", data=self.batch, suite=suite)
            )
        return self.definitions[table]


_ENGINE: _Engine | None = None


def engine() -> _Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Engine()
    return _ENGINE


def suite_version(table: str) -> str:
    return engine().suite(table)[1]


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame GX sees: a positional index, consolidated blocks, repeated strings as categories.

    GX filters (copies) the batch for several expectations; consolidated blocks and categories
    keep those copies cheap. The caller's frame is never modified.
    """
    out = frame
    if not isinstance(out.index, pd.RangeIndex) or out.index.start != 0 or out.index.step != 1:
        out = out.reset_index(drop=True)
    # A deep copy only when the blocks need consolidating; else a shallow one is enough (no
    # column of the caller's frame is ever written to, columns are only replaced).
    out = out.copy(deep=not out._mgr.is_consolidated())
    for name in out.columns:
        column = out[name]
        if (column.dtype == object or isinstance(column.dtype, pd.StringDtype)) and len(column):
            head = column.iloc[: min(len(column), 10_000)]
            if head.nunique(dropna=True) <= max(64, len(head) // 20):
                out[name] = column.astype("category")
    return out


RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": SAMPLE,
    "return_unexpected_index_query": False,
}


def validate_frame(
    table_name: str,
    frame: pd.DataFrame,
    *,
    references: Mapping[str, pd.DataFrame] | None = None,
    now: pd.Timestamp | None = None,
) -> ValidationOutcome:
    """Validate a frame with the suite of `table_name` (a lake table or a feature view).

    Pure: nothing is written. `references` gives reference inputs some suites need (the
    bookings behind hotel_weekly_vacancy); `now` fixes the time "in the future" refers to.
    """
    from validation.expectations import evaluation_context

    started = time.perf_counter()
    eng = engine()
    suite, version = eng.suite(table_name)
    batch = _prepare(frame)
    with evaluation_context(now=now, references=references):
        result = eng.definition(table_name).run(
            batch_parameters={"dataframe": batch}, result_format=RESULT_FORMAT
        )
    protects = {str(e.id): (e.meta or {}).get("protects", "") for e in suite.expectations}
    failures: list[ExpectationResult] = []
    warnings: list[ExpectationResult] = []
    for item in result.results:
        if item.success:
            continue
        parsed = _parse(item, protects, len(batch))
        (warnings if parsed.severity == "warning" else failures).append(parsed)
    return ValidationOutcome(
        table=table_name,
        suite=table_name,
        suite_version=version,
        rows=len(frame),
        failures=failures,
        warnings=warnings,
        result=trim_result(result.to_json_dict()),
        seconds=time.perf_counter() - started,
        evaluated=len(result.results),
    )


def _parse(item: Any, protects: Mapping[str, str], n_rows: int) -> ExpectationResult:
    config = item.expectation_config
    kwargs = dict(config.kwargs)
    columns = [
        str(c)
        for c in (
            [kwargs["column"]]
            if "column" in kwargs
            else [kwargs["column_A"], kwargs["column_B"]]
            if "column_A" in kwargs
            else kwargs.get("column_list") or []
        )
    ]
    result = dict(item.result or {})
    severity = getattr(config, "severity", None)
    severity = str(getattr(severity, "value", severity) or "critical")
    exception = None
    info = item.exception_info or {}
    infos = [info] if "raised_exception" in info else list(info.values())
    for one in infos:
        if isinstance(one, dict) and one.get("raised_exception"):
            message = str(one.get("exception_message") or "exception").strip().splitlines()
            exception = message[-1] if message else "exception"
            break
    index = result.get("unexpected_index_list")
    rows = None
    if index is not None and exception is None:
        rows = np.asarray(
            [i["index"] if isinstance(i, dict) else i for i in index][:MAX_INDEXES], dtype=np.int64
        )
    elif (
        "unexpected_count" in result and result.get("unexpected_count") and "details" not in result
    ):
        # A map expectation whose indexes were not returned: treat as batch-level.
        rows = None
    sample = result.get("partial_unexpected_list") or []
    details = result.get("details") or {}
    if not sample and isinstance(details, dict):
        sample = details.get("sample") or []
        if not sample and details.get("short_days"):
            sample = details["short_days"]
        mismatched = details.get("mismatched")
        if not sample and isinstance(mismatched, dict):
            sample = [
                f"{k}: {v['found']} (expected {v['expected']})"
                if isinstance(v, dict) and "found" in v
                else f"{k}: {v}"
                for k, v in mismatched.items()
            ]
    if not sample and "observed_value" in result and config.type.startswith("expect_table"):
        sample = [result["observed_value"]]
    element = result.get("element_count")
    unexpected = result.get("unexpected_count")
    return ExpectationResult(
        expectation=str(config.type),
        columns=columns,
        severity=severity,
        protects=str(protects.get(str(config.id), "")),
        unexpected_count=None if unexpected is None else int(unexpected),
        element_count=None if element is None else int(element),
        sample=list(sample)[:SAMPLE],
        rows=rows,
        details=details if isinstance(details, dict) else {"details": details},
        exception=exception,
    )


def trim_result(result: dict[str, Any], keep: int = 100) -> dict[str, Any]:
    """The GX result JSON without the full unexpected lists (counts and samples are kept)."""
    for item in result.get("results", []):
        res = item.get("result") or {}
        for key in ("unexpected_list", "unexpected_index_list", "observed_value"):
            value = res.get(key)
            if isinstance(value, list) and len(value) > keep:
                res[key] = value[:keep]
                res[f"{key}_truncated"] = True
        details = res.get("details")
        if isinstance(details, dict) and isinstance(details.get("rows"), list):
            details["rows"] = details["rows"][:keep]
    return _jsonable(result)


# ---- policies --------------------------------------------------------------------------------


@dataclass
class Decision:
    """What the gate lets through of one batch, and what it sets aside."""

    policy: str
    write: pd.DataFrame  # rows to write
    quarantined: pd.DataFrame  # rows set aside (with a `_failed` column)
    rejected: bool  # the batch as a whole is refused
    defects: pd.DataFrame  # rows the reader dropped as defects (line, reason)

    @property
    def quarantined_count(self) -> int:
        return len(self.quarantined) + len(self.defects)


def defects_of(dropped: pd.DataFrame | None) -> pd.DataFrame:
    """Rows a reader dropped for a defect (not for a benign format quirk such as n/e)."""
    from validation.reference import BENIGN_DROP_REASONS

    if dropped is None or dropped.empty:
        return pd.DataFrame({"line": pd.Series([], dtype="int64"), "reason": []})
    return dropped[~dropped["reason"].isin(BENIGN_DROP_REASONS)].reset_index(drop=True)


def explain_empty(outcome: ValidationOutcome, defects: pd.DataFrame) -> ValidationOutcome:
    """A batch left empty because the reader dropped every row as a defect is not "an empty
    file": the rows exist, in the quarantine. Drop the row-count failure in that case."""
    if outcome.rows or defects.empty:
        return outcome
    kept = [f for f in outcome.failures if f.expectation != "expect_table_row_count_to_be_between"]
    return dataclasses.replace(outcome, failures=kept)


def decide(
    outcome: ValidationOutcome,
    frame: pd.DataFrame,
    policy: str,
    dropped: pd.DataFrame | None = None,
) -> Decision:
    """Apply a policy to a validated batch (see the module docstring)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
    defects = defects_of(dropped)
    outcome = explain_empty(outcome, defects)
    frame = frame.reset_index(drop=True)
    none = frame.iloc[0:0].assign(_failed=pd.Series([], dtype=object))
    if policy == "warn" or (outcome.success and defects.empty):
        return Decision(policy, frame, none, False, defects)
    if policy == "reject" or outcome.batch_failures:
        failed = frame.assign(_failed=_failed_column(outcome, len(frame)))
        return Decision(policy, frame.iloc[0:0], failed, True, defects)
    bad = outcome.failing_rows()
    keep = np.ones(len(frame), dtype=bool)
    keep[bad] = False
    quarantined = frame.iloc[bad].assign(_failed=_failed_column(outcome, len(frame))[bad])
    return Decision(policy, frame[keep].reset_index(drop=True), quarantined, False, defects)


def _failed_column(outcome: ValidationOutcome, n: int) -> np.ndarray:
    reasons = outcome.reasons_by_row()
    out = np.full(n, "", dtype=object)
    for row, names in reasons.items():
        if row < n:
            out[row] = "; ".join(names)
    return out
