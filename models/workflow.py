"""Train, log, register and gate one model: the steps the training flow runs, as plain calls."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from fti.settings import Settings
from models.config import DEFAULT_POLICY, FeaturePolicy, ModelKind, TrainingConfig
from models.data import Boundaries, TrainingData, boundaries_for, load_training_data
from models.gate import Decision
from models.lineage import Lineage, collect_lineage, service_fields, service_metadata
from models.policy import check as check_policy
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
    policy: FeaturePolicy | None = None,
) -> tuple[TrainingData, Lineage]:
    """Training frame through the feature service, with the lineage of what it read.

    The service must keep to the model's feature policy (default: models.config.DEFAULT_POLICY)
    before anything is read: FeaturePolicyViolation names the features that break it.
    """
    spec = SPECS[kind]
    if feature_service:
        spec = dataclasses.replace(spec, feature_service=feature_service)
    policy = policy or FeaturePolicy(allowed=DEFAULT_POLICY[kind])
    service = store.get_feature_service(spec.feature_service)
    check_policy(kind, spec.feature_service, service_metadata(service), policy)
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
    data, lineage = load(settings, store, kind, start, end, feature_service, config.feature_policy)
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


@dataclass
class Comparison:
    """The cancellation model with and without the protected attributes, on the same split."""

    experiment: str
    trained: dict[str, TrainedModel]  # variant -> model
    run_ids: dict[str, str]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"experiment": self.experiment, "variants": {}}
        for variant, t in self.trained.items():
            report = t.groups.get("test")
            out["variants"][variant] = {
                "run_id": self.run_ids.get(variant, ""),
                "feature_service": t.data.feature_service,
                "test": t.metrics["test"],
                "baselines_test": t.baselines["test"],
                "largest_gaps": {m: vars(g) for m, g in report.largest.items()} if report else {},
                "groups": {a: tb.to_dict(orient="records") for a, tb in report.tables.items()}
                if report
                else {},
                "rows": {s: len(y) for s, y in t.labels.items()},
            }
        return out


def compare_sensitive(
    settings: Settings,
    config: TrainingConfig | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    plots: bool = True,
    store: FeatureStore | None = None,
) -> Comparison:
    """Train the cancellation model through the service with the protected attributes and the
    one without, on the same rows and split, and log both runs side by side in MLflow (their
    own experiment, not registered: a comparison is evidence for the policy, not a candidate).

    The run with protected attributes is allowed to read them for this comparison only; its
    parameters record the widened policy.
    """
    from fti.store import open_store
    from models.registry import log_training_run
    from models.specs import SENSITIVE_COMPARISON
    from models.tracking import Tracking

    store = store or open_store(settings)
    base = config or TrainingConfig(kind="cancellation", seed=settings.seed)
    widened = FeaturePolicy(
        allowed=tuple(dict.fromkeys((*base.feature_policy.allowed, "protected")))
    )
    configs = {
        "with_protected": base.model_copy(update={"feature_policy": widened}),
        "without_protected": base,
    }
    loaded = {
        v: load(
            settings, store, "cancellation", start, end, SENSITIVE_COMPARISON[v], c.feature_policy
        )
        for v, c in configs.items()
    }
    frames = [data.frame for data, _ in loaded.values()]
    if not frames[0]["booking_id"].equals(frames[1]["booking_id"]):
        raise RuntimeError("the two feature services returned different rows")
    bounds = boundaries_for(frames[0], base.split)
    trained = {v: fit_model(loaded[v][0], configs[v], bounds) for v in configs}

    tracking = Tracking(settings)
    experiment = f"{SPECS['cancellation'].experiment}_compare_sensitive"
    comparison = f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    run_ids: dict[str, str] = {}
    for variant, model in trained.items():
        record = log_training_run(
            tracking,
            model,
            loaded[variant][1],
            plots=plots,
            register=False,
            extra_tags={"comparison": comparison, "comparison.variant": variant},
            experiment=experiment,
            run_name=f"{variant}-{comparison}",
        )
        run_ids[variant] = record.run_id
    for variant, run_id in run_ids.items():
        others = {k: v for k, v in run_ids.items() if k != variant}
        tracking.set_run_tags(run_id, {f"comparison.{k}_run": v for k, v in others.items()})
    return Comparison(experiment=experiment, trained=trained, run_ids=run_ids)
