"""Custom Great Expectations 1.x expectations the domain needs and GX does not ship.

Each one is a real GX expectation backed by a metric provider on the pandas engine, so it runs
inside the same validation, lands in the same result JSON and is versioned with its suite.
Everything is vectorised (one pass of numpy/pandas per batch): the gate validates a million
rows in well under two seconds.

Row-level expectations (map expectations) report the failing rows, which the gate can
quarantine one by one. Table-level ones (the hourly grid, the schema) describe the whole batch;
the weekly-aggregate check also names the rows that disagree.

Two values are not part of a suite but of an evaluation: the current time (for "not in the
future") and reference inputs (the bookings the weekly aggregates come from). The gate sets
them with `evaluation_context`; without it `now` is the wall clock and the reference-based
expectation reports that it had nothing to compare with (and fails: silence is no pass).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    BatchExpectation,
    ColumnMapExpectation,
    ColumnPairMapExpectation,
    MulticolumnMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    MulticolumnMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
    multicolumn_condition_partial,
)
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider

_NOW: ContextVar[pd.Timestamp | None] = ContextVar("fti_validation_now", default=None)
_REFERENCES: ContextVar[Mapping[str, pd.DataFrame] | None] = ContextVar(
    "fti_validation_references", default=None
)
_HOUR_NS = 3_600_000_000_000
SAMPLE = 10


@contextlib.contextmanager
def evaluation_context(
    now: pd.Timestamp | None = None, references: Mapping[str, pd.DataFrame] | None = None
) -> Iterator[None]:
    """The time and the reference inputs the expectations of one validation see."""
    t1 = _NOW.set(None if now is None else _utc(pd.Timestamp(now)))
    t2 = _REFERENCES.set(references)
    try:
        yield
    finally:
        _NOW.reset(t1)
        _REFERENCES.reset(t2)


def current_time() -> pd.Timestamp:
    now = _NOW.get()
    return now if now is not None else pd.Timestamp.now(tz="UTC")


def _utc(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def utc_ns(values: pd.Series) -> np.ndarray:
    """int64 nanoseconds since the epoch in UTC; naive values are taken as UTC; NaT -> min."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(values.dtype):
        values = pd.to_datetime(values, utc=True).dt.tz_localize(None)
    return values.to_numpy(dtype="datetime64[ns]").view(np.int64)


def int_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Non-negative int64 codes of a column (equal values, equal codes) and their range.

    Cheap where it can be: category codes, timestamps and integers as offsets from their
    minimum; everything else is factorised. Missing values share one code.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(dtype=np.int64) + 1, len(values.cat.categories) + 1
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or (
        pd.api.types.is_integer_dtype(values.dtype) and not values.hasnans
    ):
        raw = utc_ns(values) if pd.api.types.is_datetime64_any_dtype(values.dtype) else None
        if raw is None:
            raw = values.to_numpy(dtype=np.int64)
        if len(raw) == 0:
            return raw.astype(np.int64), 1
        lo, hi = int(raw.min()), int(raw.max())
        return raw - lo, hi - lo + 1
    codes = pd.factorize(values, use_na_sentinel=True)[0].astype(np.int64) + 1
    return codes, int(codes.max(initial=0)) + 1


def combined_codes(columns: list[pd.Series] | pd.DataFrame) -> np.ndarray:
    """One int64 code per row for the combination of the columns' values."""
    series = [columns[c] for c in columns.columns] if isinstance(columns, pd.DataFrame) else columns
    key: np.ndarray | None = None
    span = 1
    for column in series:
        codes, width = int_codes(column)
        if key is None:
            key, span = codes, width
        elif span * width < 2**62:
            key, span = key * width + codes, span * width
        else:  # too wide for mixed radix: densify both sides (each < rows, so no overflow)
            key = pd.factorize(key)[0].astype(np.int64)
            dense = pd.factorize(codes)[0].astype(np.int64)
            width = int(dense.max(initial=0)) + 1
            key, span = key * width + dense, (int(key.max(initial=0)) + 1) * width
    return np.zeros(0, dtype=np.int64) if key is None else key


def _dup_mask(frame: pd.DataFrame) -> np.ndarray:
    """True for every row whose combination of values occurs more than once (vectorised)."""
    return pd.Series(combined_codes(frame)).duplicated(keep=False).to_numpy()


# ---- row-level: single columns -------------------------------------------------------------


class ColumnValuesFinite(ColumnMapMetricProvider):
    condition_metric_name = "column_values.fti_finite"
    # NaN is a failure here, not a value to skip.
    filter_column_isnull = False

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        return pd.Series(np.isfinite(values), index=column.index)


class ExpectColumnValuesToBeFinite(ColumnMapExpectation):
    """Every value is a finite number: no NaN, no missing value, no +-inf."""

    map_metric = "column_values.fti_finite"


class ColumnValuesInRange(ColumnMapMetricProvider):
    condition_metric_name = "column_values.fti_in_range"
    condition_value_keys = ("min_value", "max_value")
    # Missing values pass (not-null expectations own them): no null filtering, no frame copy.
    filter_column_isnull = False

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column: pd.Series,
        min_value: float | None = None,
        max_value: float | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        ok = np.ones(len(values), dtype=bool)
        with np.errstate(invalid="ignore"):
            if min_value is not None:
                ok &= ~(values < min_value)
            if max_value is not None:
                ok &= ~(values > max_value)
        return pd.Series(ok, index=column.index)


class ExpectColumnValuesToBeInRange(ColumnMapExpectation):
    """Numbers within [min_value, max_value]; missing values pass (vectorised, no copies).

    GX's expect_column_values_to_be_between does the same but filters (copies) the whole
    batch once per expectation to drop missing values: on a million rows of a wide feature
    table that copy costs more than the check.
    """

    min_value: float | None = None
    max_value: float | None = None
    map_metric = "column_values.fti_in_range"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "min_value", "max_value")


class ColumnValuesNotInFuture(ColumnMapMetricProvider):
    condition_metric_name = "column_values.fti_not_in_future"
    condition_value_keys = ("tolerance_hours",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, tolerance_hours: float = 0.0, **kwargs: Any) -> pd.Series:
        limit = current_time() + pd.Timedelta(hours=float(tolerance_hours or 0.0))
        stamps = utc_ns(column)
        return pd.Series(stamps <= limit.value, index=column.index)


class ExpectColumnValuesToNotBeInTheFuture(ColumnMapExpectation):
    """No timestamp after now (plus a tolerance, e.g. day-ahead prices known a day early)."""

    tolerance_hours: float = 0.0
    map_metric = "column_values.fti_not_in_future"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "tolerance_hours")


class ColumnTimestampsBetween(ColumnMapMetricProvider):
    condition_metric_name = "column_values.fti_timestamps_between"
    condition_value_keys = ("min_value", "max_value")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column: pd.Series,
        min_value: str | None = None,
        max_value: str | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        stamps = utc_ns(column)
        ok = np.ones(len(stamps), dtype=bool)
        if min_value is not None:
            ok &= stamps >= _utc(pd.Timestamp(min_value)).value
        if max_value is not None:
            ok &= stamps <= _utc(pd.Timestamp(max_value)).value
        return pd.Series(ok, index=column.index)


class ExpectColumnTimestampsToBeBetween(ColumnMapExpectation):
    """Timestamps (or dates; naive taken as UTC) within [min_value, max_value] (ISO strings)."""

    min_value: str | None = None
    max_value: str | None = None
    map_metric = "column_values.fti_timestamps_between"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "min_value", "max_value")


class ColumnValuesIsoMonday(ColumnMapMetricProvider):
    condition_metric_name = "column_values.fti_iso_monday"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        text = column.astype(str)
        days = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        return pd.Series((days.dt.weekday == 0).to_numpy(), index=column.index)


class ExpectColumnValuesToBeIsoMondays(ColumnMapExpectation):
    """Values are ISO dates (YYYY-MM-DD) that fall on a Monday (the start of a stay week)."""

    map_metric = "column_values.fti_iso_monday"


# ---- row-level: several columns -------------------------------------------------------------


class CompoundKeyUnique(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.fti_compound_key_unique"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        return pd.Series(~_dup_mask(column_list), index=column_list.index)


class ExpectCompoundKeyToBeUnique(MulticolumnMapExpectation):
    """No two rows share the key (entity columns + event time); every copy is reported."""

    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    map_metric = "multicolumn_values.fti_compound_key_unique"


class UniqueHourPerKey(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.fti_unique_hour"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        # The last column is the timestamp, the others the entity.
        stamps = utc_ns(column_list.iloc[:, -1])
        on_hour = stamps % _HOUR_NS == 0
        parts = [column_list[c] for c in column_list.columns[:-1]]
        parts.append(pd.Series(stamps // _HOUR_NS))
        duplicated = pd.Series(combined_codes(parts)).duplicated(keep=False).to_numpy()
        return pd.Series(on_hour & ~duplicated, index=column_list.index)


class ExpectHourStartsToBeUniquePerKey(MulticolumnMapExpectation):
    """Timestamps are hour starts and each (entity, hour) appears once: no duplicate hour."""

    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    map_metric = "multicolumn_values.fti_unique_hour"


class MulticolumnSumBetween(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.fti_sum_between"
    condition_value_keys = ("min_value", "max_value")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column_list: pd.DataFrame,
        min_value: float | None = None,
        max_value: float | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        total = np.zeros(len(column_list))
        for name in column_list.columns:
            total += pd.to_numeric(column_list[name], errors="coerce").to_numpy(
                dtype="float64", na_value=0.0
            )
        ok = np.ones(len(column_list), dtype=bool)
        if min_value is not None:
            ok &= total >= min_value
        if max_value is not None:
            ok &= total <= max_value
        return pd.Series(ok, index=column_list.index)


class ExpectMulticolumnSumToBeBetween(MulticolumnMapExpectation):
    """The row-wise sum of the columns (missing counts as 0) lies in [min_value, max_value]."""

    min_value: float | None = None
    max_value: float | None = None
    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    map_metric = "multicolumn_values.fti_sum_between"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "min_value", "max_value")


class MulticolumnNotNull(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.fti_not_null"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        return ~column_list.isna().any(axis=1)


class ExpectColumnsToNotBeNull(MulticolumnMapExpectation):
    """No missing value in any of the columns (one pass over all of them)."""

    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    map_metric = "multicolumn_values.fti_not_null"


def _float_block(frame: pd.DataFrame) -> np.ndarray:
    return np.column_stack(
        [
            pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            for c in frame.columns
        ]
    )


class MulticolumnFinite(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.fti_finite"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        return pd.Series(
            np.isfinite(_float_block(column_list)).all(axis=1), index=column_list.index
        )


class ExpectMulticolumnValuesToBeFinite(MulticolumnMapExpectation):
    """Every value of every column is a finite number (no NaN, no inf): e.g. an embedding."""

    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    map_metric = "multicolumn_values.fti_finite"


class MulticolumnInRange(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.fti_in_range"
    condition_value_keys = ("min_value", "max_value")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column_list: pd.DataFrame,
        min_value: float | None = None,
        max_value: float | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        values = _float_block(column_list)
        ok = np.ones(values.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            if min_value is not None:
                ok &= ~(values < min_value)
            if max_value is not None:
                ok &= ~(values > max_value)
        return pd.Series(ok.all(axis=1), index=column_list.index)


class ExpectMulticolumnValuesToBeInRange(MulticolumnMapExpectation):
    """Every value of every column within [min_value, max_value]; missing values pass."""

    min_value: float | None = None
    max_value: float | None = None
    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    map_metric = "multicolumn_values.fti_in_range"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "min_value", "max_value")


class OneHot(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.fti_one_hot"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        values = _float_block(column_list)
        binary = ((values == 0) | (values == 1)).all(axis=1)
        return pd.Series(binary & (np.nansum(values, axis=1) == 1), index=column_list.index)


class ExpectColumnsToBeOneHot(MulticolumnMapExpectation):
    """Every column is 0 or 1 and exactly one of them is 1 in each row."""

    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    map_metric = "multicolumn_values.fti_one_hot"


class ColumnPairInOrder(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.fti_in_order"
    condition_value_keys = ("or_equal",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls, column_A: pd.Series, column_B: pd.Series, or_equal: bool = True, **kwargs: Any
    ) -> pd.Series:
        missing = (column_A.isna() | column_B.isna()).to_numpy()
        if pd.api.types.is_datetime64_any_dtype(column_A.dtype):
            a, b = utc_ns(column_A), utc_ns(column_B)
        else:
            a = pd.to_numeric(column_A, errors="coerce").to_numpy(dtype="float64", na_value=0.0)
            b = pd.to_numeric(column_B, errors="coerce").to_numpy(dtype="float64", na_value=0.0)
        ok = (a <= b) if or_equal else (a < b)
        # A missing side cannot be compared; not-null expectations catch those.
        return pd.Series(ok | missing, index=column_A.index)


class ExpectColumnPairValuesToBeInOrder(ColumnPairMapExpectation):
    """column_A <= column_B row by row (or <), for numbers or timestamps (naive taken as UTC)."""

    or_equal: bool = True
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "neither"
    )
    map_metric = "column_pair_values.fti_in_order"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "or_equal", "ignore_row_if")


class ColumnPairRangeByKey(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.fti_range_by_key"
    condition_value_keys = ("ranges",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column_A: pd.Series,
        column_B: pd.Series,
        ranges: Mapping[str, list[float]] | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        ranges = ranges or {}
        keys = column_A.astype(str).to_numpy()
        values = pd.to_numeric(column_B, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        low = np.full(len(values), np.nan)
        high = np.full(len(values), np.nan)
        for key, (lo, hi) in ranges.items():
            mask = keys == key
            low[mask], high[mask] = lo, hi
        # A key without a range or a value that is NaN fails: both are wrong data here.
        ok = (values >= low) & (values <= high)
        return pd.Series(ok, index=column_A.index)


class ExpectColumnPairValuesWithinRangeByKey(ColumnPairMapExpectation):
    """column_B lies within the [low, high] range given for the value of column_A in `ranges`."""

    ranges: dict[str, list[float]]
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "neither"
    )
    map_metric = "column_pair_values.fti_range_by_key"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "ranges", "ignore_row_if")


# ---- table-level -----------------------------------------------------------------------------


def _records(execution_engine: PandasExecutionEngine, domain: dict) -> pd.DataFrame:
    return execution_engine.get_domain_records(domain_kwargs=domain)


def dtype_family(dtype: Any) -> str:
    """Coarse type of a pandas dtype: str, int, float, bool, datetime_utc, datetime, other."""
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "datetime_utc" if str(dtype.tz) == "UTC" else f"datetime[{dtype.tz}]"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return dtype_family(dtype.categories.dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        return "str"
    return str(dtype)


class TableDtypeFamilies(TableMetricProvider):
    metric_name = "table.fti_dtype_families"

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        execution_engine: PandasExecutionEngine,
        metric_domain_kwargs: dict,
        metric_value_kwargs: dict,
        metrics: dict,
        runtime_configuration: dict,
    ) -> dict[str, str]:
        frame = _records(execution_engine, metric_domain_kwargs)
        return {str(c): dtype_family(frame[c].dtype) for c in frame.columns}


class ExpectTableDtypesToMatch(BatchExpectation):
    """Each named column has the expected type family (str, int, float, datetime_utc, ...)."""

    dtypes: dict[str, str]
    metric_dependencies: ClassVar[tuple[str, ...]] = ("table.fti_dtype_families",)
    success_keys: ClassVar[tuple[str, ...]] = ("dtypes",)

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        found = metrics["table.fti_dtype_families"]
        wrong = {
            column: {"expected": family, "found": found.get(column, "missing")}
            for column, family in self.dtypes.items()
            if found.get(column) != family
        }
        return {
            "success": not wrong,
            "result": {"observed_value": found, "details": {"mismatched": wrong}},
        }


class HourlyGrid(TableMetricProvider):
    metric_name = "table.fti_hourly_grid"
    value_keys = ("key_column", "time_column", "timezone", "allow_partial_edges")

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        execution_engine: PandasExecutionEngine,
        metric_domain_kwargs: dict,
        metric_value_kwargs: dict,
        metrics: dict,
        runtime_configuration: dict,
    ) -> dict[str, Any]:
        frame = _records(execution_engine, metric_domain_kwargs)
        return hourly_grid_report(
            frame[metric_value_kwargs["key_column"]],
            frame[metric_value_kwargs["time_column"]],
            metric_value_kwargs["timezone"],
            bool(metric_value_kwargs["allow_partial_edges"]),
        )


def hourly_grid_report(
    keys: pd.Series, stamps: pd.Series, timezone: str, allow_partial_edges: bool = True
) -> dict[str, Any]:
    """Missing hours per key between its first and last hour, and local days that are short.

    A local day has 23, 24 or 25 hours (daylight-saving days). With allow_partial_edges the
    first and last local day of each key may be partial (a batch that starts or ends mid-day),
    but never have a hole: every hour between a key's first and last one must be present.
    """
    ns = utc_ns(stamps)
    valid = ns % _HOUR_NS == 0
    hours = ns[valid] // _HOUR_NS
    if isinstance(keys.dtype, pd.CategoricalDtype):
        codes, names = keys.cat.codes.to_numpy()[valid], keys.cat.categories
    else:
        codes, names = pd.factorize(keys.to_numpy()[valid])
    if len(hours) == 0:
        return {"missing_hours": 0, "short_days": [], "sample": [], "keys": 0}
    order = np.lexsort((hours, codes))
    codes, hours = codes[order], hours[order]
    same = codes[1:] == codes[:-1]
    step = np.diff(hours)
    gap = same & (step > 1)
    missing = int((step[gap] - 1).sum())
    sample = []
    for i in np.flatnonzero(gap)[:SAMPLE]:
        first_missing = pd.Timestamp((int(hours[i]) + 1) * _HOUR_NS, tz="UTC")
        sample.append(
            {
                "key": str(names[codes[i]]),
                "first_missing": first_missing.isoformat(),
                "local": first_missing.tz_convert(timezone).strftime("%Y-%m-%d %H:%M %Z"),
                "hours_missing": int(step[i] - 1),
            }
        )
    short_days: list[dict[str, Any]] = []
    if not allow_partial_edges or missing:
        local = pd.DatetimeIndex(hours * _HOUR_NS, tz="UTC").tz_convert(timezone)
        day = local.normalize().tz_localize(None).to_numpy()
        counts = pd.DataFrame({"key": codes, "day": day}).value_counts(sort=False)
        frame = counts.rename("have").reset_index()
        start = pd.DatetimeIndex(frame["day"]).tz_localize(timezone)
        end = (pd.DatetimeIndex(frame["day"]) + pd.Timedelta(days=1)).tz_localize(timezone)
        frame["expected"] = ((end - start) / pd.Timedelta(hours=1)).astype(int)
        if allow_partial_edges:
            edge = frame.groupby("key")["day"].transform("min").eq(frame["day"]) | frame.groupby(
                "key"
            )["day"].transform("max").eq(frame["day"])
            frame = frame[~edge]
        short = frame[frame["have"] != frame["expected"]].head(SAMPLE)
        short_days = [
            {
                "key": str(names[r.key]),
                "local_day": pd.Timestamp(r.day).strftime("%Y-%m-%d"),
                "hours": int(r.have),
                "expected": int(r.expected),
            }
            for r in short.itertuples()
        ]
    return {
        "missing_hours": missing,
        "short_days": short_days,
        "sample": sample,
        "keys": len(names),
    }


class ExpectHourlyGridToBeComplete(BatchExpectation):
    """Every hour between each key's first and last hour is present (23/24/25 per local day)."""

    key_column: str
    time_column: str
    timezone: str = "UTC"
    allow_partial_edges: bool = True
    metric_dependencies: ClassVar[tuple[str, ...]] = ("table.fti_hourly_grid",)
    success_keys: ClassVar[tuple[str, ...]] = (
        "key_column",
        "time_column",
        "timezone",
        "allow_partial_edges",
    )

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        report = metrics["table.fti_hourly_grid"]
        success = report["missing_hours"] == 0 and not report["short_days"]
        return {
            "success": success,
            "result": {
                "observed_value": report["missing_hours"],
                "unexpected_count": report["missing_hours"],
                "details": report,
            },
        }


class WeeklyRoomNights(TableMetricProvider):
    metric_name = "table.fti_weekly_room_nights"
    value_keys = ("reference",)

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        execution_engine: PandasExecutionEngine,
        metric_domain_kwargs: dict,
        metric_value_kwargs: dict,
        metrics: dict,
        runtime_configuration: dict,
    ) -> dict[str, Any]:
        frame = _records(execution_engine, metric_domain_kwargs)
        references = _REFERENCES.get() or {}
        name = metric_value_kwargs["reference"]
        if name not in references:
            return {"checked": False, "reason": f"reference input {name!r} not provided"}
        return weekly_room_nights_report(frame, references[name])


def room_nights_as_known(bookings: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Room nights of each (hotel, stay_week_start) of `rows` as known at its event_timestamp.

    An independent recomputation from the daily inputs, one row per night (not the week
    arithmetic of features.bookings.weekly_vacancy): a night counts when its booking was made at
    or before the time and it was not cancelled by then (a cancellation is known from the day
    after reservation_status_date, 00:00 UTC).
    """
    b = bookings
    weekend = pd.to_numeric(b["stays_in_weekend_nights"], errors="coerce").fillna(0)
    week = pd.to_numeric(b["stays_in_week_nights"], errors="coerce").fillna(0)
    nights = np.maximum((weekend + week).to_numpy(dtype=np.int64), 0)
    idx = np.repeat(np.arange(len(b)), nights)
    k = np.arange(len(idx)) - np.repeat(np.cumsum(nights) - nights, nights)
    night = b["arrival_date"].to_numpy("datetime64[D]")[idx] + k.astype("timedelta64[D]")
    weekday = (night.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    monday = night - weekday.astype("timedelta64[D]")
    canceled = pd.to_numeric(b["is_canceled"], errors="coerce").fillna(0).to_numpy() == 1
    removed = utc_ns(pd.Series(pd.to_datetime(b["reservation_status_date"]))) + 86_400 * 10**9
    nights_frame = pd.DataFrame(
        {
            "hotel": b["hotel"].astype(str).to_numpy()[idx],
            "stay_week_start": pd.DatetimeIndex(monday).strftime("%Y-%m-%d"),
            "added": utc_ns(b["booking_time"])[idx],
            "removed": np.where(canceled, removed, np.iinfo(np.int64).max)[idx],
        }
    )
    wanted = pd.DataFrame(
        {
            "hotel": rows["hotel"].astype(str).to_numpy(),
            "stay_week_start": rows["stay_week_start"].astype(str).to_numpy(),
            "t": utc_ns(rows["event_timestamp"]),
            "row": np.arange(len(rows)),
        }
    )
    joined = wanted.merge(nights_frame, on=["hotel", "stay_week_start"], how="left")
    known = (joined["added"] <= joined["t"]) & (joined["removed"] > joined["t"])
    counts = known.groupby(joined["row"]).sum()
    return counts.reindex(np.arange(len(rows)), fill_value=0).to_numpy(dtype=np.int64)


def weekly_room_nights_report(frame: pd.DataFrame, bookings: pd.DataFrame) -> dict[str, Any]:
    """Compare booked_room_nights of the latest row per (hotel, week) with the bookings."""
    if frame.empty:
        return {"checked": True, "weeks": 0, "mismatched": 0, "rows": [], "sample": []}
    order = frame.sort_values("event_timestamp", kind="stable")
    latest = order.drop_duplicates(["hotel", "stay_week_start"], keep="last")
    expected = room_nights_as_known(bookings, latest)
    got = latest["booked_room_nights"].to_numpy(dtype=np.int64)
    bad = got != expected
    rows = latest.index[bad]
    sample = [
        {
            "hotel": str(r.hotel),
            "stay_week_start": str(r.stay_week_start),
            "event_timestamp": pd.Timestamp(r.event_timestamp).isoformat(),
            "booked_room_nights": int(g),
            "from_bookings": int(e),
        }
        for r, g, e in zip(
            latest[bad].head(SAMPLE).itertuples(),
            got[bad][:SAMPLE],
            expected[bad][:SAMPLE],
            strict=False,
        )
    ]
    return {
        "checked": True,
        "weeks": len(latest),
        "mismatched": int(bad.sum()),
        "rows": [int(i) for i in rows],
        "sample": sample,
    }


class ExpectWeeklyRoomNightsToMatchBookings(BatchExpectation):
    """The latest booked_room_nights of each (hotel, week) equals the bookings known then."""

    reference: str = "bookings"
    metric_dependencies: ClassVar[tuple[str, ...]] = ("table.fti_weekly_room_nights",)
    success_keys: ClassVar[tuple[str, ...]] = ("reference",)

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        report = metrics["table.fti_weekly_room_nights"]
        if not report.get("checked"):
            return {"success": False, "result": {"observed_value": None, "details": report}}
        return {
            "success": report["mismatched"] == 0,
            "result": {
                "observed_value": report["mismatched"],
                "element_count": report["weeks"],
                "unexpected_count": report["mismatched"],
                "unexpected_index_list": report["rows"],
                "details": {"sample": report["sample"]},
            },
        }
