"""Train, log, register and gate one model: the steps the training flow runs, as plain calls."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from fti.settings import Settings
from models.config import ModelKind, TrainingConfig
from models.data import Boundaries, TrainingData, load_training_data
from models.gate import Decision
from models.lineage import Lineage, collect_lineage, service_fields
from models.specs import SPECS
from models.training import TrainedModel, fit_model

if TYPE_CHECKING:
    from feast import FeatureStore

    from models.registry import RunRecord


@dataclass
class TrainOutcome:
    trained: TrainedModel
    lineage: Lineage
    record: RunRecord
    decision: Decision
    seconds: dict[str, float]

    def summary(self) -> dict[str, Any]:
        t = self.trained
        primary = t.spec.primary.name
        return {
            "model": t.spec.registered_name,
            "version": self.record.version,
            "run_id": self.record.run_id,
            "decision": "promoted" if self.decision.promoted else "refused",
            "reason": self.decision.reason,
            f"test_{primary}": t.test_metric,
            "test": t.metrics["test"],
            "baselines_test": t.baselines["test"],
            "rows": {s: len(y) for s, y in t.labels.items()},
            "seconds": self.seconds,
        }


def load(
    settings: Settings,
    store: FeatureStore,
    kind: ModelKind,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    feature_service: str | None = None,
) -> tuple[TrainingData, Lineage]:
    """Training frame through the feature service, with the lineage of what it read."""
    spec = SPECS[kind]
    if feature_service:
        spec = dataclasses.replace(spec, feature_service=feature_service)
    data = load_training_data(settings, store, spec, start, end)
    lineage = collect_lineage(
        settings, store, spec.feature_service, data.feature_views, data.start, data.end
    )
    return data, lineage


def train_and_register(
    settings: Settings,
    kind: ModelKind,
    config: TrainingConfig | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    bounds: Boundaries | None = None,
    feature_service: str | None = None,
    reproduces: str | None = None,
    plots: bool = True,
    store: FeatureStore | None = None,
) -> TrainOutcome:
    """Everything `fti train` does, without Prefect."""
    from fti.store import open_store
    from models.registry import log_training_run, run_gate
    from models.tracking import Tracking

    store = store or open_store(settings)
    config = config or TrainingConfig(kind=kind, seed=settings.seed)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    data, lineage = load(settings, store, kind, start, end, feature_service)
    lineage.reproduces = reproduces
    seconds["load"] = time.perf_counter() - started
    started = time.perf_counter()
    trained = fit_model(data, config, bounds)
    seconds["fit"] = time.perf_counter() - started
    tracking = Tracking(settings)
    started = time.perf_counter()
    record = log_training_run(tracking, trained, lineage, plots=plots)
    seconds["log"] = time.perf_counter() - started
    started = time.perf_counter()
    fields = service_fields(store.get_feature_service(lineage.feature_service))
    decision = run_gate(tracking, trained, record.version, lineage, fields)
    seconds["gate"] = time.perf_counter() - started
    return TrainOutcome(trained, lineage, record, decision, seconds)
