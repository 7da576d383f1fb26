"""The one feature preparation shared by training and inference: raw retrieved frame -> model input.

Training logs the model's signature from exactly the frame these functions return, and batch
inference calls the same function on its retrieved features, so both see the same columns and
types (MLflow's schema enforcement refuses int64 where the signature says double: every
numeric input is cast to float64 here). Nothing here is fitted: encodings and scaling that learn
from data live inside the logged sklearn Pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from models.config import ModelKind

TIMEZONE = "Europe/Stockholm"
MISSING_CATEGORY = "missing"

# Columns the price frame carries besides the feature service's features (see models/data.py).
PRICE_CONTEXT: tuple[str, ...] = ("zone", "issue_time", "delivery_time")
# Same-hour prices as known at issue time, retrieved through the same feature service.
PRICE_LAGS: tuple[str, ...] = (
    "same_hour_last_day",  # price of the delivery hour's clock hour on the latest day known
    "same_hour_day_before",  # the same clock hour one day before that
    "same_hour_last_week",  # the delivery hour one week earlier
    "same_hour_age_h",  # hours between that latest known same hour and the delivery hour
)
PRICE_CALENDAR: tuple[str, ...] = (
    "hour",
    "weekday",
    "month",
    "is_weekend",
    "day_of_year",
    "hours_ahead",
)

# Entity columns of the cancellation frame; only the hotel is an input (known at booking time).
BOOKING_CONTEXT: tuple[str, ...] = (
    "booking_id",
    "hotel",
    "stay_week_start",
    "guest_id",
    "event_timestamp",
)
BOOKING_INPUT_CONTEXT: tuple[str, ...] = ("hotel",)
# Lineage columns of feature tables: versions, not signals (logged with the run instead).
LINEAGE_SUFFIX = "_version"
# Outcome of a booking: never an input (a test checks every model's signature against this).
OUTCOME_COLUMNS: frozenset[str] = frozenset(
    {
        "is_canceled",
        "reservation_status",
        "reservation_status_date",
        "booking_changes",
        "assigned_room_type",
        "days_in_waiting_list",
    }
)
# Group attributes retrieved for per-group evaluation only (models/fairness.py): never inputs.
AUDIT_PREFIX = "audit_"
# Bookkeeping columns of a training frame: never inputs.
NON_INPUTS: frozenset[str] = frozenset({"label", "label_time", "split_time", "event_timestamp"})


def _typed(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Numbers and flags as float64, everything else as str with missing -> MISSING_CATEGORY."""
    out: dict[str, pd.Series] = {}
    for column in columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            raise TypeError(f"{column!r} is a timestamp: derive numbers from it, never pass it in")
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            out[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            text = values.astype("object")
            out[column] = text.where(text.notna(), MISSING_CATEGORY).astype(str).astype(object)
    return pd.DataFrame(out, index=frame.index)


def prepare_price(raw: pd.DataFrame) -> pd.DataFrame:
    """Model input of the price forecaster: zone, issue-time features, same-hour lags, calendar.

    Calendar features describe the delivery hour in local time (Europe/Stockholm), where the
    daily and weekly load patterns live; `hours_ahead` is the distance from issue time.
    """
    skip = {*PRICE_CONTEXT, *PRICE_LAGS, *NON_INPUTS}
    features = [c for c in raw.columns if c not in skip and not c.endswith(LINEAGE_SUFFIX)]
    features = [c for c in features if not c.endswith("station_id")]
    out = _typed(raw, ["zone", *features, *PRICE_LAGS])
    delivery = pd.to_datetime(raw["delivery_time"], utc=True)
    local = delivery.dt.tz_convert(TIMEZONE)
    issue = pd.to_datetime(raw["issue_time"], utc=True)
    calendar = pd.DataFrame(
        {
            "hour": local.dt.hour,
            "weekday": local.dt.weekday,
            "month": local.dt.month,
            "is_weekend": (local.dt.weekday >= 5).astype(int),
            "day_of_year": local.dt.dayofyear,
            "hours_ahead": (delivery - issue).dt.total_seconds() / 3600.0,
        },
        index=raw.index,
    ).astype("float64")
    return pd.concat([out, calendar], axis=1)


def prepare_cancellation(raw: pd.DataFrame) -> pd.DataFrame:
    """Model input of the cancellation classifier: the hotel and the feature service's features."""
    skip = {*BOOKING_CONTEXT, *OUTCOME_COLUMNS, *NON_INPUTS}
    features = [
        c
        for c in raw.columns
        if c not in skip and not c.endswith(LINEAGE_SUFFIX) and not c.startswith(AUDIT_PREFIX)
    ]
    return _typed(raw, [*BOOKING_INPUT_CONTEXT, *features])


def prepare_features(kind: ModelKind, raw: pd.DataFrame) -> pd.DataFrame:
    """The model input frame of a model kind, from the frame its feature service returned."""
    if kind == "price":
        return prepare_price(raw)
    if kind == "cancellation":
        return prepare_cancellation(raw)
    raise ValueError(f"unknown model kind {kind!r}")


def _template_value(dtype: str) -> object:
    if dtype.lower().startswith(("float", "int", "bool")):
        return np.nan if not dtype.lower().startswith("bool") else False
    return "x"


def raw_template(kind: ModelKind, service_fields: dict[str, str]) -> pd.DataFrame:
    """A one-row raw frame with the columns a retrieval through the service would return.

    service_fields maps feature name -> Feast value type name (Float64, Int64, String, ...).
    """
    row: dict[str, object] = {}
    ts = pd.Timestamp("2024-01-02 11:00", tz="UTC")
    if kind == "price":
        row.update({"zone": "SE3", "issue_time": ts, "delivery_time": ts + pd.Timedelta(hours=13)})
        row.update({c: np.nan for c in PRICE_LAGS})
    else:
        row.update({c: "x" for c in BOOKING_CONTEXT if c != "event_timestamp"})
        row["event_timestamp"] = ts
    for name, dtype in service_fields.items():
        row[name] = _template_value(dtype)
    frame = pd.DataFrame([row])
    for name, dtype in service_fields.items():
        if dtype.lower().startswith(("float", "int")):
            frame[name] = frame[name].astype("float64")
    return frame


def input_schema(prepared: pd.DataFrame) -> dict[str, str]:
    """Column -> MLflow column type of a prepared frame ("double" or "string")."""
    return {
        c: "double" if pd.api.types.is_float_dtype(prepared[c]) else "string"
        for c in prepared.columns
    }


def expected_input_schema(kind: ModelKind, service_fields: dict[str, str]) -> dict[str, str]:
    """The input schema a model trained today on the feature service would have."""
    return input_schema(prepare_features(kind, raw_template(kind, service_fields)))
