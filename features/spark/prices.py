"""Zone price features on Spark: the mirror of features/prices.py (`zone_prices`).

Input is the lake `prices` table (zone, ts, price_eur_mwh, ...) as a Spark DataFrame, ts a UTC
timestamp on the hour; the session time zone must be UTC. Window widths, lags and columns are
the pandas module's. Windows are in time, not rows: range frames over the hour number.

Value for value: pandas sums each window over its hourly grid in a fixed order (the newest hour
first, from 0.0) and takes the sample std in two passes. Spark's own window `sum` adds in frame
order and `stddev` is one-pass, which round differently; so each row collects its 168-hour
window (hour, price) and folds it with `aggregate` in the pandas order. Minimum, maximum and lags
are exact whatever the order and use plain window functions.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from features.prices import (
    _LONG_WINDOW_HOURS,
    _SHORT_WINDOW_HOURS,
    FEATURE_COLUMNS,
    _utc_bound,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, WindowSpec

_NAN = float("nan")


def _check(prices: DataFrame) -> None:
    """The pandas path's input checks: no missing value, hour starts, one row per zone-hour."""
    from pyspark.sql import functions as F

    missing = [c for c in ("zone", "ts", "price_eur_mwh") if c not in prices.columns]
    if missing:
        raise ValueError(f"prices lacks columns {missing}")
    row = prices.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col("ts").isNull() | F.col("price_eur_mwh").isNull()).alias("missing"),
        F.count_if(F.isnan(F.col("price_eur_mwh"))).alias("nan"),
        F.count_if(F.col("ts") != F.date_trunc("hour", F.col("ts"))).alias("off_hour"),
        F.count_distinct(F.col("zone"), F.col("ts")).alias("distinct"),
    ).first()
    assert row is not None
    if row["missing"] or row["nan"]:
        raise ValueError("prices has missing ts or price_eur_mwh")
    if row["off_hour"]:
        raise ValueError("prices.ts must be hour starts")
    if row["distinct"] != row["rows"]:
        raise ValueError("prices has duplicate (zone, ts)")


def _hours(back: int, to: int = 0) -> WindowSpec:
    """The zone's rows with hour in [hour - back, hour - to] (a range frame, gaps stay gaps)."""
    from pyspark.sql import Window

    return Window.partitionBy("zone").orderBy("hour").rangeBetween(-back, -to)


def _fold_sum(values: Column) -> Column:
    """Sum from 0.0 in array order (pandas' _window_sum order when newest first)."""
    from pyspark.sql import functions as F

    return F.aggregate(values, F.lit(0.0), lambda acc, x: acc + x)


def price_features(prices: DataFrame, window_hours: int = 168) -> DataFrame:
    """The `zone_prices` rows of every price (features.prices.price_features on Spark).

    Same columns in the same order; NaN (not null) where a lag hour or a std is missing.
    Rows are not in a defined order.
    """
    from pyspark.sql import functions as F

    if window_hours < 1:
        raise ValueError(f"window_hours must be >= 1, got {window_hours}")
    _check(prices)
    price = F.col("price_eur_mwh")
    long_w = _hours(_LONG_WINDOW_HOURS - 1)
    scale_w = _hours(window_hours - 1)
    low, high = F.col("_low"), F.col("_high")
    scaled = F.when(high - low > 0, (price - low) / (high - low)).otherwise(F.lit(0.5))

    def lag(hours: int) -> Column:
        return F.coalesce(F.first(price).over(_hours(hours, hours)), F.lit(_NAN))

    # Newest first: the order pandas adds a window in. A frame is collected in the window's
    # order (hour ascending, one row per hour: no tie), so reversing it is enough.
    window = F.reverse(F.collect_list(F.struct(F.col("hour"), price.alias("price"))).over(long_w))
    recent = F.filter(F.col("_window"), lambda s: s["hour"] > F.col("hour") - _SHORT_WINDOW_HOURS)
    # One step per select: each array and mean is computed once per row, then referenced
    # (an expression inlined into a lambda would be evaluated once per array element).
    steps = (
        prices.select(
            F.col("zone").cast("string").alias("zone"),
            F.col("ts").alias("event_timestamp"),
            price.cast("double").alias("price_eur_mwh"),
            F.expr("unix_seconds(ts) div 3600").alias("hour"),
        )
        .select(
            "zone",
            "event_timestamp",
            "price_eur_mwh",
            "hour",
            lag(_SHORT_WINDOW_HOURS).alias("price_lag_24h"),
            lag(_LONG_WINDOW_HOURS).alias("price_lag_168h"),
            F.min(price).over(long_w).alias("price_min_168h"),
            F.max(price).over(long_w).alias("price_max_168h"),
            F.min(price).over(scale_w).alias("_low"),
            F.max(price).over(scale_w).alias("_high"),
            window.alias("_window"),
        )
        .withColumn("price_scaled", F.least(F.lit(1.0), F.greatest(F.lit(0.0), scaled)))
        .withColumn("_p168", F.transform(F.col("_window"), lambda s: s["price"]))
        .withColumn("_p24", F.transform(recent, lambda s: s["price"]))
        .withColumn("price_mean_168h", _fold_sum(F.col("_p168")) / F.size("_p168"))
        .withColumn("price_mean_24h", _fold_sum(F.col("_p24")) / F.size("_p24"))
    )
    # Sample std (ddof=1) of the 24 hours, two-pass around the mean as pandas does.
    values, mean, count = F.col("_p24"), F.col("price_mean_24h"), F.size("_p24")
    squares = F.aggregate(values, F.lit(0.0), lambda acc, x: acc + (x - mean) * (x - mean))
    # A flat window has std exactly 0 (pandas: rolling min == max), not a rounding residue.
    flat = F.array_min(values) == F.array_max(values)
    std = (
        F.when(count <= 1, F.lit(_NAN))
        .when(flat, F.lit(0.0))
        .otherwise(F.sqrt(squares / (count - 1)))
    )
    return steps.withColumn("price_std_24h", std).select(*FEATURE_COLUMNS)


def price_features_window(
    prices: DataFrame,
    start: pd.Timestamp | datetime | str,
    end: pd.Timestamp | datetime | str,
    window_hours: int = 168,
) -> DataFrame:
    """`price_features` rows with start <= event_timestamp < end, from the lookback only.

    Reads prices with ts in [start - max(168h, window_hours), end), as the pandas path does.
    """
    from pyspark.sql import functions as F

    lo, hi = _utc_bound(start, "start"), _utc_bound(end, "end")
    lookback = pd.Timedelta(hours=max(_LONG_WINDOW_HOURS, window_hours))
    ts = F.col("ts")
    subset = prices.where((ts >= F.lit((lo - lookback).to_pydatetime())) & (ts < _lit(hi)))
    features = price_features(subset, window_hours=window_hours)
    stamp = F.col("event_timestamp")
    return features.where((stamp >= _lit(lo)) & (stamp < _lit(hi)))


def _lit(stamp: pd.Timestamp) -> Column:
    """A UTC instant as a Spark timestamp literal (a tz-aware datetime keeps its instant)."""
    from pyspark.sql import functions as F

    return F.lit(stamp.to_pydatetime())
