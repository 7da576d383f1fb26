"""Batch inference pipeline: the champion model's predictions through its feature service.

Per model, one run loads `models:/<name>@champion` (the version it resolved to is recorded on
every row), reads the model's features through its Feast feature service point-in-time as of
the run's time (the default is now, a backfill names an earlier one), checks that the views it
reads are fresh and that the model's signature matches the prepared features, and writes the
predictions through the validation gate twice: as a dataset under <state>/predictions/<model>/
and as a Feast feature view (price_predictions, cancellation_predictions), then loads that view
into the online store. Both outputs replace the run's window, so a re-run never duplicates.

Windows
    price: the forecast issued at 12:00 Europe/Stockholm on the latest day whose issue time is
      <= as-of, for the 23-25 delivery hours of the next local day (models/data.py's horizon);
      window_days > 1 adds the delivery days before it (a backfill: each hour is predicted with
      what was known at its own issue time).
    cancellation: every booking made in [as-of - window_days, as-of), scored at booking time.

The exact model inputs of every prediction are kept too (<state>/inference_inputs/<model>/,
same window replacement): the monitoring flow compares them with the champion's training data.

The inputs are read from the offline store point-in-time even for "now": the price model needs
same-hour prices of earlier days (not in the online store, which holds one row per key) and a
booking is scored with what was known at its booking time. The online store serves the same
features to the prediction service (fti/api.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES, LAKE

if TYPE_CHECKING:
    from feast import FeatureStore

    from models.tracking import Tracking

log = logging.getLogger(__name__)

Model = Literal["price", "cancellation"]
VIEW = {"price": "price_predictions", "cancellation": "cancellation_predictions"}
OUTPUT = {"price": "predicted_price_eur_mwh", "cancellation": "cancel_probability"}


class InferenceStopped(RuntimeError):
    """A batch that must not predict: stale features or a model that does not fit them."""


def predictions_root(settings: Settings, model: str) -> Path:
    return settings.state_dir / "predictions" / model


def inputs_root(settings: Settings, model: str) -> Path:
    """The prepared model inputs of every prediction (what monitoring compares with training)."""
    return settings.state_dir / "inference_inputs" / model


def input_rows(predictions: pd.DataFrame, prepared: pd.DataFrame) -> pd.DataFrame:
    """The prediction rows' keys, time and lineage beside the exact inputs the model read."""
    lineage = [c for c in predictions.columns if c not in prepared.columns]
    return pd.concat(
        [predictions[lineage].reset_index(drop=True), prepared.reset_index(drop=True)], axis=1
    )


def stale_views(
    settings: Settings,
    views: dict[str, dict[str, str]],
    as_of: pd.Timestamp,
    crons: dict[str, str] | None = None,
) -> list[str]:
    """Why each view (name -> tags) is stale: its pipeline's newest row at or before as_of is
    older than the view's freshness objective (its tag, else twice its schedule)."""
    from monitoring.freshness import assess, newest_before, objective

    if crons is None:
        from flows.deployments import SCHEDULES

        crons = {s.name: settings.schedules.get(s.name, s.cron) for s in SCHEDULES}
    newest = {}
    for view in views:
        stamps = lake.read_table(FEATURES[view].root(settings), columns=["event_timestamp"])
        newest[view] = newest_before(stamps["event_timestamp"], as_of)
    goals = {view: objective(view, tags, crons) for view, tags in views.items()}
    return [f.message() for f in assess(newest, goals, as_of) if not f.ok]


def data_end(settings: Settings, model: str) -> datetime | None:
    """Just after the newest row of the view that drives a model's batches (prices, bookings)."""
    view = "zone_prices" if model == "price" else "booking_details"
    stamps = lake.read_table(FEATURES[view].root(settings), columns=["event_timestamp"])
    if stamps.empty:
        return None
    newest = pd.to_datetime(stamps["event_timestamp"], utc=True).max()
    return (newest + pd.Timedelta(seconds=1)).to_pydatetime()


def price_window(as_of: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """(issue time, first delivery hour, end of the delivery day) in UTC for an as-of time."""
    from models.data import ISSUE_HOUR
    from models.prepare import TIMEZONE

    local = as_of.tz_convert(TIMEZONE)
    issue = local.normalize() + pd.Timedelta(hours=ISSUE_HOUR)
    if issue > local:
        issue -= pd.Timedelta(days=1)
    # Local midnights through tz_localize: a DST day has 23 or 25 hours.
    day = (issue.tz_localize(None).normalize() + pd.Timedelta(days=1)).tz_localize(TIMEZONE)
    day_end = (day.tz_localize(None) + pd.Timedelta(days=1)).tz_localize(TIMEZONE)
    return issue.tz_convert("UTC"), day.tz_convert("UTC"), day_end.tz_convert("UTC")


def price_inputs(
    settings: Settings, store: FeatureStore, service: str, as_of: pd.Timestamp, days: int = 1
) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """Raw price frame (one row per zone and delivery hour) and its delivery window: the next
    delivery day of as_of and the days-1 before it (a backfill, each hour as of its own issue)."""
    from models.data import assemble_price_features, price_rows

    _, start, end = price_window(as_of)
    if days > 1:
        _, start, _ = price_window(as_of - pd.Timedelta(days=days - 1))
    zones = sorted(
        lake.read_table(LAKE["prices"].root(settings), columns=["zone"])["zone"].unique()
    )
    hours = pd.date_range(start, end, freq="h", inclusive="left", tz="UTC")
    grid = pd.MultiIndex.from_product([zones, hours], names=["zone", "ts"]).to_frame(index=False)
    rows = price_rows(grid["zone"], grid["ts"])
    return assemble_price_features(store, service, rows), start, end


def cancellation_inputs(
    settings: Settings,
    store: FeatureStore,
    service: str,
    as_of: pd.Timestamp,
    window: timedelta,
) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """Raw cancellation frame (one row per booking made in the window) and the window."""
    from models.data import booking_entities, retrieve

    start, end = as_of - pd.Timedelta(window), as_of
    rows = booking_entities(settings, start, end).drop(columns=["label_time"])
    if rows.empty:
        return rows, start, end
    return retrieve(store, service, rows), start, end


@dataclass
class Champion:
    name: str
    version: str
    model: Any
    schema: dict[str, str]


def load_champion(tracking: Tracking, name: str, download: Path) -> Champion:
    """The champion's pyfunc model and its input schema, pinned to the version the alias names."""
    version = tracking.alias_version(name, "champion")
    if version is None:
        raise InferenceStopped(f"{name} has no champion: train it first (fti train)")
    # Load by number, not alias: a promotion during the run cannot mix two versions.
    model = tracking.load_pyfunc(name, version, download)
    return Champion(name, version, model, tracking.input_schema(name, version))


def predict_frame(champion: Champion, kind: str, prepared: pd.DataFrame) -> np.ndarray:
    """The model's output as one float per row (the positive class probability for a classifier)."""
    from models.gate import signature_differences
    from models.prepare import input_schema

    diffs = signature_differences(input_schema(prepared), champion.schema)
    if diffs:
        raise InferenceStopped(
            f"{champion.name} v{champion.version}: its signature does not match the features: "
            + "; ".join(diffs)
        )
    out = champion.model.predict(prepared[list(champion.schema)])
    values = np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out, dtype="float64")
    if kind == "cancellation":
        return values[:, -1] if values.ndim == 2 else values
    return values.reshape(-1)


def prediction_rows(
    kind: str,
    raw: pd.DataFrame,
    values: np.ndarray,
    champion: Champion,
    service: str,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Prediction rows in the view's schema: keys, time, output and lineage of every row."""
    lineage = {
        "model_name": champion.name,
        "model_version": champion.version,
        "feature_service": service,
        "as_of": as_of.isoformat(),
    }
    if kind == "price":
        frame = pd.DataFrame(
            {
                "zone": raw["zone"].astype(str).to_numpy(dtype=object),
                "event_timestamp": pd.to_datetime(raw["delivery_time"], utc=True).array,
                OUTPUT[kind]: values,
                "issue_time": pd.to_datetime(raw["issue_time"], utc=True)
                .map(lambda t: t.isoformat())
                .to_numpy(dtype=object),
            }
        )
    else:
        frame = pd.DataFrame(
            {
                "booking_id": raw["booking_id"].astype(str).to_numpy(dtype=object),
                "event_timestamp": pd.to_datetime(raw["event_timestamp"], utc=True).array,
                OUTPUT[kind]: values,
            }
        )
    frame["event_timestamp"] = frame["event_timestamp"].astype("datetime64[ns, UTC]")
    for key, value in lineage.items():
        frame[key] = np.array([value] * len(frame), dtype=object)
    return frame


# -- tasks ----------------------------------------------------------------------------------


@task(name="check-feature-freshness", cache_policy=NO_CACHE)
def check_feature_freshness(state_dir: str, service: str, as_of: datetime) -> list[str]:
    """Stop the run when a view of the service is stale beyond its freshness objective."""
    from fti.store import open_store

    settings = Settings(state_dir=Path(state_dir))
    store = open_store(settings)
    views = {
        p.name: dict(store.get_feature_view(p.name).tags)
        for p in store.get_feature_service(service).feature_view_projections
    }
    stale = stale_views(settings, views, pd.Timestamp(as_of))
    if stale:
        raise InferenceStopped("stale features, not predicting: " + " | ".join(stale))
    return sorted(views)


@task(name="predict-batch", cache_policy=NO_CACHE)
def predict_batch(
    state_dir: str, model: Model, as_of: datetime, window_days: float
) -> dict[str, Any]:
    """Load the champion, read and prepare features, predict, write through the gate."""
    from flows.ingestion import _flow_run_id
    from fti.store import open_store
    from models.prepare import prepare_features
    from models.specs import SPECS
    from models.tracking import Tracking
    from validation.run import GateRun
    from validation.runcard import publish

    settings = Settings(state_dir=Path(state_dir))
    spec = SPECS[model]
    as_of_ts = pd.Timestamp(as_of)
    tracking = Tracking(settings)
    tracking.download_root.mkdir(parents=True, exist_ok=True)
    import tempfile

    with tempfile.TemporaryDirectory(dir=tracking.download_root) as tmp:
        champion = load_champion(tracking, spec.registered_name, Path(tmp))
        store = open_store(settings)
        if model == "price":
            days = max(1, int(np.ceil(window_days)))
            raw, start, end = price_inputs(settings, store, spec.feature_service, as_of_ts, days)
        else:
            raw, start, end = cancellation_inputs(
                settings, store, spec.feature_service, as_of_ts, timedelta(days=window_days)
            )
        if raw.empty:
            values = np.array([], dtype="float64")
            prepared = pd.DataFrame()
        else:
            prepared = prepare_features(model, raw)
            values = predict_frame(champion, model, prepared)
            prepared = prepared[list(champion.schema)]
    frame = prediction_rows(model, raw, values, champion, spec.feature_service, as_of_ts)
    view = VIEW[model]
    run = GateRun(settings, "batch-inference", _flow_run_id())
    rejected = False
    try:
        if not frame.empty:
            rejected = run.check(view, frame, kind="feature", window=(start, end)).rejected
        written = 0 if rejected else run.replace_window(view, frame, start, end)
        table = FEATURES[view]
        dataset = run.txn.stage_dir(predictions_root(settings, model))
        inputs = run.txn.stage_dir(inputs_root(settings, model))
        if not rejected:
            lake.replace_window(
                frame, dataset, table.time_column, start, end, table.partition, table.key
            )
            lake.replace_window(
                input_rows(frame, prepared) if len(prepared) else frame,
                inputs,
                table.time_column,
                start,
                end,
                table.partition,
                table.key,
            )
        report = run.finish()
    except BaseException:
        run.abort()
        raise
    publish(report, f"batch-inference-{model}")
    if rejected:
        raise InferenceStopped(f"{view}: predictions failed validation: {run.error()}")
    return {
        "model": spec.registered_name,
        "version": champion.version,
        "feature_service": spec.feature_service,
        "as_of": as_of_ts.isoformat(),
        "window": [start.isoformat(), end.isoformat()],
        "rows": int(written),
        "view": view,
        "dataset": str(predictions_root(settings, model)),
    }


@task(name="materialize-predictions", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def materialize_predictions(state_dir: str, view: str, start: str, end: str) -> None:
    """Load the window's predictions into the online store (served by Feast)."""
    from fti.store import apply_definitions, open_store

    store = open_store(Settings(state_dir=Path(state_dir)))
    apply_definitions(store)
    # Feast's end is inclusive of rows stamped before it: widen by a second for the last hour.
    store.materialize(
        start_date=pd.Timestamp(start).to_pydatetime(),
        end_date=(pd.Timestamp(end) + pd.Timedelta(seconds=1)).to_pydatetime(),
        feature_views=[view],
    )


@flow(name="batch-inference", flow_run_name="batch-inference-{model}")
def batch_inference_flow(
    model: Model,
    as_of: datetime | None = None,
    window_days: float = 1.0,
    online: bool = True,
) -> dict[str, Any]:
    """Predict with the champion of one model as of a time (default now); returns a summary."""
    from models.specs import SPECS

    settings = Settings()
    state_dir = str(settings.state_dir)
    as_of = as_of or datetime.now(UTC)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    as_of = pd.Timestamp(as_of).tz_convert("UTC").to_pydatetime()
    check_feature_freshness(state_dir, SPECS[model].feature_service, as_of)
    summary = predict_batch(state_dir, model, as_of, window_days)
    if online and summary["rows"]:
        materialize_predictions(state_dir, summary["view"], *summary["window"])
    log.info("%s v%s: %d predictions", summary["model"], summary["version"], summary["rows"])
    return summary


if __name__ == "__main__":
    import sys

    from fti.prefect_env import in_process_runs

    with in_process_runs():
        batch_inference_flow("cancellation" if sys.argv[1:] == ["cancellation"] else "price")
