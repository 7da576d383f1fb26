"""Schedules: one Prefect deployment per pipeline, served from one process by `fti serve`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fti.settings import Settings

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


@dataclass(frozen=True)
class Schedule:
    """A deployment: which flow, when (cron in an explicit time zone), with which parameters."""

    name: str
    flow: str  # "module:function"
    cron: str
    timezone: str
    parameters: dict[str, Any] = field(default_factory=dict)
    description: str = ""


SCHEDULES: tuple[Schedule, ...] = (
    # Nord Pool publishes the next day's day-ahead prices around 12:45-13:00 CET.
    Schedule(
        "feature-pipeline-prices",
        "flows.feature_pipeline:feature_pipeline_flow",
        "30 13 * * *",
        "Europe/Stockholm",
        {"source": "prices"},
        "Day-ahead prices after publication: ingest, features, materialize",
    ),
    # The hotels are in Portugal; the booking export of the previous day is ready at night.
    Schedule(
        "feature-pipeline-bookings",
        "flows.feature_pipeline:feature_pipeline_flow",
        "0 6 * * *",
        "Europe/Lisbon",
        {"source": "bookings"},
        "Yesterday's bookings: ingest, companions, features, materialize",
    ),
    # SMHI's daily values (temperature at 00 UTC, precipitation at 06 UTC) are in by 08:00.
    Schedule(
        "feature-pipeline-weather",
        "flows.feature_pipeline:feature_pipeline_flow",
        "0 8 * * *",
        "Europe/Stockholm",
        {"source": "weather"},
        "SMHI observations: ingest, features, materialize",
    ),
    # After the price features of 13:30: the forecast issued for tomorrow's delivery hours.
    Schedule(
        "batch-inference-price",
        "flows.batch_inference:batch_inference_flow",
        "0 14 * * *",
        "Europe/Stockholm",
        {"model": "price"},
        "Champion price forecasts for the next day, per zone and hour",
    ),
    # After the bookings pipeline of 06:00: score every booking of the previous day.
    Schedule(
        "batch-inference-cancellation",
        "flows.batch_inference:batch_inference_flow",
        "30 6 * * *",
        "Europe/Lisbon",
        {"model": "cancellation"},
        "Champion cancellation probabilities of yesterday's bookings",
    ),
    # Weekly retraining on everything the store holds, early on Monday before the day's
    # pipelines; the new version is a challenger and becomes champion only through the gate.
    Schedule(
        "training-price",
        "flows.training:training_flow",
        "0 3 * * 1",
        "Europe/Stockholm",
        {"model": "price"},
        "Weekly retraining of the price forecaster; the promotion gate decides",
    ),
    Schedule(
        "training-cancellation",
        "flows.training:training_flow",
        "0 4 * * 1",
        "Europe/Lisbon",
        {"model": "cancellation"},
        "Weekly retraining of the cancellation classifier; the promotion gate decides",
    ),
    # After both batch inferences: outcomes known since yesterday, drift, freshness, alerts.
    Schedule(
        "monitoring",
        "flows.monitoring:monitoring_flow",
        "0 15 * * *",
        "Europe/Stockholm",
        {},
        "Realized metrics, drift and freshness of both champions; alerts on failed checks",
    ),
)


def _load(target: str) -> Any:
    import importlib

    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def build(settings: Settings) -> list[RunnerDeployment]:
    """Runner deployments for `prefect.serve`; settings.schedules overrides crons by name."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    out = []
    for s in SCHEDULES:
        cron = settings.schedules.get(s.name, s.cron)
        flow = _load(s.flow)
        out.append(
            flow.to_deployment(
                name=s.name,
                schedules=[Cron(cron, timezone=s.timezone)],
                parameters=s.parameters,
                description=s.description,
                tags=["fti", settings.profile],
                # Import by module (flows.x), never as a script: features/ and flows/features.py
                # would otherwise shadow each other on sys.path.
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
    return out


def serve(settings: Settings) -> None:
    """Serve every deployment from this process until interrupted."""
    from prefect import serve as prefect_serve

    prefect_serve(*build(settings))


WORK_POOL = "fti-process"


def prefect_yaml() -> str:
    """The same deployments for a work pool (`prefect deploy --all`), generated, never hand-edited.

    Regenerate with `python -m flows.deployments > prefect.yaml`; a test keeps them equal.
    """
    import yaml

    doc = {
        "name": "fti-platform",
        "prefect-version": "3.9.1",
        "build": None,
        "push": None,
        # Workers run from the project folder (the image's /app, or a checkout).
        "pull": [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ $FTI_PROJECT_DIR }}"
                }
            }
        ],
        "deployments": [
            {
                "name": s.name,
                "description": s.description,
                "entrypoint": s.flow.replace(":", "."),
                "parameters": s.parameters,
                "schedules": [{"cron": s.cron, "timezone": s.timezone}],
                "tags": ["fti"],
                "work_pool": {"name": WORK_POOL},
            }
            for s in SCHEDULES
        ],
    }
    header = (
        "# Generated by `python -m flows.deployments > prefect.yaml`: edit flows/deployments.py.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, width=100)


if __name__ == "__main__":
    import sys

    sys.stdout.write(prefect_yaml())
