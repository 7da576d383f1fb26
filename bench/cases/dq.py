"""DQ: the validation gate on 1M feature rows vs vectorized pandas checks of the same rules.

Ours: `validation.gate.validate_frame("zone_prices", frame)` (Great Expectations suite of the
zone_prices feature view). Baseline: the same rules of that suite written as numpy/pandas
expressions (schema, not-null, zone set, unique zone-hour on the hour, complete hourly grid,
finite and in-range prices, ordered window min/max, not in the future). Frame: price features
of 14 zones (real SE1-SE4 and offset copies under other bidding zones' names), 2016-2024.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import data
from bench.common import Row, best_of

log = logging.getLogger(__name__)
ZONES = 14
FLOATS = (
    "price_eur_mwh",
    "price_scaled",
    "price_lag_24h",
    "price_lag_168h",
    "price_mean_24h",
    "price_std_24h",
    "price_mean_168h",
    "price_min_168h",
    "price_max_168h",
)
WINDOW = ("price_lag_24h", "price_lag_168h", "price_mean_24h", "price_mean_168h")


def pandas_checks(frame: pd.DataFrame, now: pd.Timestamp) -> dict[str, int]:
    """Failing rows per rule of the zone_prices suite (0 everywhere: the batch passes)."""
    from validation import reference as ref

    lo, hi = ref.DAY_AHEAD_MIN_EUR_MWH, ref.DAY_AHEAD_MAX_EUR_MWH
    expected = ["zone", "event_timestamp", *FLOATS]
    zone = frame["zone"]
    ts = frame["event_timestamp"]
    ns = ts.to_numpy(dtype="datetime64[ns]").view(np.int64)
    out = {
        "columns": int(sorted(frame.columns) != sorted(expected)),
        "dtypes": int(
            not isinstance(ts.dtype, pd.DatetimeTZDtype)
            or not all(pd.api.types.is_float_dtype(frame[c]) for c in FLOATS)
        ),
        "not_null": int((zone.isna() | ts.isna()).sum()),
        "zone_in_set": int((~zone.isin(ref.BIDDING_ZONES)).sum()),
    }
    codes, _ = pd.factorize(zone)
    order = np.lexsort((ns, codes))
    same_zone = codes[order][1:] == codes[order][:-1]
    step = np.diff(ns[order])
    hour = 3_600_000_000_000
    out["hour_start_unique"] = int((ns % hour != 0).sum() + (same_zone & (step == 0)).sum())
    out["hourly_grid_complete"] = int((same_zone & (step != hour)).sum())
    values = {c: frame[c].to_numpy(dtype="float64") for c in FLOATS}
    price, scaled = values["price_eur_mwh"], values["price_scaled"]
    out["price_finite_in_range"] = int((~np.isfinite(price) | (price < lo) | (price > hi)).sum())
    out["scaled_finite_in_range"] = int((~np.isfinite(scaled) | (scaled < 0) | (scaled > 1)).sum())
    window = np.stack([values[c] for c in (*WINDOW, "price_min_168h", "price_max_168h")])
    out["window_in_range"] = int(np.any((window < lo) | (window > hi), axis=0).sum())
    std = values["price_std_24h"]
    out["std_in_range"] = int(((std < 0) | (std > hi - lo)).sum())
    out["min_le_price"] = int((values["price_min_168h"] > price).sum())
    out["price_le_max"] = int((price > values["price_max_168h"]).sum())
    limit = (now + pd.Timedelta(hours=ref.PRICE_LEAD_HOURS)).value
    out["not_in_future"] = int((ns > limit).sum())
    return out


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    try:
        gate = importlib.import_module("validation.gate")
        validate_frame = gate.validate_frame
    except (ImportError, AttributeError) as exc:
        return {"rows": [], "pending": f"pending validation gate ({exc})"}
    from features.prices import price_features

    first_year = 2024 if quick else 2016
    frame = price_features(data.scaled_prices(data.real_prices(first_year), ZONES))
    now = pd.Timestamp.now(tz="UTC")
    validate_frame("zone_prices", frame.iloc[:1000], now=now)  # GX context and suite built once
    ours_s, outcome = best_of(lambda: validate_frame("zone_prices", frame, now=now), 2)
    base_s, checks = best_of(lambda: pandas_checks(frame, now), 2)
    critical = {k: v for k, v in checks.items() if k != "hourly_grid_complete"}
    same = outcome.success == (sum(critical.values()) == 0)
    n = len(frame)
    label = f"{n / 1e6:.2f}M" if n >= 1_000_000 else f"{n // 1000}k"
    return {
        "rows": [
            Row(
                case="DQ",
                what=f"validate_frame('zone_prices'), {label} rows",
                figure=ours_s,
                unit="s",
                baseline=base_s,
                ratio=ours_s / base_s,
                ratio_means="x pandas checks",
                target="under 2 s",
                met=ours_s < 2.0,
                gates_quick=False,
                details={
                    "identical": same,
                    "gate_success": outcome.success,
                    "gate_failures": [f.expectation for f in outcome.failures],
                    "gate_warnings": [f.expectation for f in outcome.warnings],
                    "pandas_checks": checks,
                    "expectations": outcome.evaluated,
                },
            )
        ],
        "notes": [
            f"{ZONES} zones x {first_year}-2024, {n:,} rows, {outcome.evaluated} expectations"
        ],
    }
