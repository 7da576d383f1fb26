"""Orchestrator: the whole platform end to end: raw data -> lake -> features -> online store ->
training -> batch inference -> monitoring."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from prefect import flow, task

from flows.features import features_flow
from flows.ingestion import ingestion_flow
from flows.materialize import materialize_flow
from fti.settings import Settings

RAW_FOLDERS = {
    "prices": "entsoe_day_ahead",
    "bookings": "hotel_bookings",
    "weather": "smhi_weather",
}


@task(name="generate-synthetic-raw")
def generate_synthetic_raw(state_dir: str, size: str, seed: int, until_today: bool) -> str:
    """Seeded raw files in the real formats; with until_today they end yesterday (looks current)."""
    from features.synthetic import SyntheticSpec, generate_raw

    spec = dataclasses.replace(SyntheticSpec.sized(size), seed=seed)
    if until_today:
        today = datetime.now(UTC).date()
        spec = dataclasses.replace(spec, start=today - timedelta(days=spec.days))
    out = Settings(state_dir=state_dir).raw_dir / "synthetic"
    generate_raw(out, spec)
    return str(out)


@flow(name="platform", flow_run_name="platform-{data}")
def platform_flow(
    data: Literal["synthetic", "real"] = "synthetic",
    size: str = "default",
    seed: int = 0,
    until_today: bool = True,
) -> dict[str, Any]:
    """Ingest every source, compute every feature view, materialize: one call, idempotent."""
    settings = Settings()
    if data == "synthetic":
        raw = Path(generate_synthetic_raw(str(settings.state_dir), size, seed, until_today))
    else:
        raw = settings.shared_data
    summary: dict[str, Any] = {"raw": str(raw), "ingested": {}}
    for source, folder in RAW_FOLDERS.items():
        summary["ingested"][source] = ingestion_flow(source, [str(raw / folder)], seed=seed)  # type: ignore[call-overload]
    summary["features"] = features_flow()
    summary["materialized"] = materialize_flow()
    from flows.training import training_flow  # training reads what the feature flows wrote

    summary["trained"] = {m: training_flow(m, seed=seed) for m in ("price", "cancellation")}
    now = datetime.now(UTC)
    summary["predicted"] = {m: predict_latest(m, now) for m in ("price", "cancellation")}
    from flows.monitoring import monitoring_flow

    # As of the same time as the forecasts: now, or the end of data that ends long ago.
    as_of = pd.Timestamp(summary["predicted"]["price"].get("as_of") or now).to_pydatetime()
    summary["monitoring"] = monitoring_flow(as_of=as_of)
    return summary


# Days of predictions the platform run backfills, so monitoring has outcomes to compare with.
BACKFILL_DAYS = {"price": 14.0, "cancellation": 28.0}


def predict_latest(model: str, now: datetime) -> dict[str, Any]:
    """Batch inference as of now, or, when the data ends too long ago for that (the real data
    sets end years ago), as of the end of the data; a model without champion is skipped."""
    from flows.batch_inference import InferenceStopped, batch_inference_flow, data_end
    from models.specs import SPECS
    from models.tracking import Tracking

    settings = Settings()
    if Tracking(settings).alias_version(SPECS[model].registered_name, "champion") is None:
        return {"model": model, "stopped": "no champion (the gate refused every version)"}
    as_of = now
    end = data_end(settings, model)
    if end is not None and now - end > timedelta(days=2):
        as_of = end
    try:
        return batch_inference_flow(model, as_of=as_of, window_days=BACKFILL_DAYS[model])  # type: ignore[call-overload]
    except InferenceStopped as err:
        return {"model": model, "stopped": str(err), "as_of": as_of.isoformat()}


if __name__ == "__main__":
    from fti.prefect_env import in_process_runs

    with in_process_runs():
        platform_flow()
