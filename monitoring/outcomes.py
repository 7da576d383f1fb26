"""Predictions joined with their outcomes once known, and realized metrics per model version."""

from __future__ import annotations

import numpy as np
import pandas as pd

TIMEZONE = "Europe/Stockholm"  # price days are local delivery days (models/prepare.py)
_EPS = 1e-15


def price_outcomes(predictions: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    """Price predictions with the realized price of their delivery hour (hours not yet known
    are left out). predictions: zone, event_timestamp, predicted_price_eur_mwh, model_version;
    prices: the lake table (zone, ts, price_eur_mwh)."""
    actual = prices[["zone", "ts", "price_eur_mwh"]].rename(
        columns={"ts": "event_timestamp", "price_eur_mwh": "actual"}
    )
    actual = actual.assign(
        zone=actual["zone"].astype(str),
        event_timestamp=pd.to_datetime(actual["event_timestamp"], utc=True).astype(
            "datetime64[ns, UTC]"
        ),
    )
    pred = predictions.assign(
        zone=predictions["zone"].astype(str),
        event_timestamp=pd.to_datetime(predictions["event_timestamp"], utc=True).astype(
            "datetime64[ns, UTC]"
        ),
    )
    joined = pred.merge(actual, on=["zone", "event_timestamp"], how="inner", validate="one_to_one")
    joined = joined.rename(columns={"predicted_price_eur_mwh": "predicted"})
    joined["day"] = (
        joined["event_timestamp"].dt.tz_convert(TIMEZONE).dt.tz_localize(None).dt.normalize()
    )
    return joined.sort_values(["event_timestamp", "zone"]).reset_index(drop=True)


def price_metrics(joined: pd.DataFrame) -> dict[str, float]:
    err = joined["predicted"].to_numpy(dtype="float64") - joined["actual"].to_numpy("float64")
    if len(err) == 0:
        return {}
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "bias": float(np.mean(err)),
        "n": float(len(err)),
    }


def cancellation_outcomes(
    predictions: pd.DataFrame, labels: pd.DataFrame, arrivals: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Cancellation predictions with their outcome, for bookings whose arrival date has passed
    by as_of (before that a booking can still be cancelled). labels: booking_id, is_canceled;
    arrivals: booking_id, arrival_date (naive local date)."""
    known = arrivals.assign(
        booking_id=arrivals["booking_id"].astype(str),
        arrival_date=pd.to_datetime(arrivals["arrival_date"]),
    )
    cutoff = as_of.tz_convert("UTC").tz_localize(None).normalize()
    known = known[known["arrival_date"] < cutoff]
    outcome = labels.assign(booking_id=labels["booking_id"].astype(str))[
        ["booking_id", "is_canceled"]
    ]
    pred = predictions.assign(booking_id=predictions["booking_id"].astype(str))
    joined = pred.merge(known[["booking_id", "arrival_date"]], on="booking_id", how="inner")
    joined = joined.merge(outcome, on="booking_id", how="inner", validate="one_to_one")
    joined = joined.rename(columns={"cancel_probability": "predicted"})
    joined["actual"] = joined["is_canceled"].astype("int64")
    joined["day"] = joined["arrival_date"].dt.normalize()
    return joined.sort_values(["arrival_date", "booking_id"]).reset_index(drop=True)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC by ranks (NaN with one class only)."""
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def cancellation_metrics(joined: pd.DataFrame) -> dict[str, float]:
    y = joined["actual"].to_numpy(dtype="float64")
    p = np.clip(joined["predicted"].to_numpy(dtype="float64"), _EPS, 1 - _EPS)
    if len(y) == 0:
        return {}
    return {
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "brier": float(np.mean((p - y) ** 2)),
        "roc_auc": _auc(y.astype("int64"), p),
        "predicted_rate": float(p.mean()),
        "actual_rate": float(y.mean()),
        "n": float(len(y)),
    }


METRICS = {"price": price_metrics, "cancellation": cancellation_metrics}


def by_period(kind: str, joined: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Realized metrics per model version and period (`D` days, `W-SUN` weeks ending Sunday)."""
    if joined.empty:
        return pd.DataFrame(columns=["model_version", "period"])
    periods = joined["day"].dt.to_period(freq).dt.start_time
    rows = []
    for (version, period), part in joined.groupby([joined["model_version"], periods]):
        rows.append({"model_version": str(version), "period": period, **METRICS[kind](part)})
    return pd.DataFrame(rows).sort_values(["model_version", "period"]).reset_index(drop=True)
