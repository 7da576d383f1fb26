"""Training pipeline: features through the model's feature service, a tracked run, the gate."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE as NO_CACHE

from fti.settings import Settings

if TYPE_CHECKING:
    from models.config import FeaturePolicy, TrainingConfig
    from models.data import Boundaries, TrainingData
    from models.lineage import Lineage
    from models.training import TrainedModel

Model = Literal["price", "cancellation"]


def _log() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except Exception:  # called outside a run (task.fn in tests)
        return logging.getLogger(__name__)


@task(name="load-training-data", cache_policy=NO_CACHE)
def load_training_data(
    state_dir: str,
    model: Model,
    start: datetime | None,
    end: datetime | None,
    feature_service: str | None,
    policy: FeaturePolicy | None = None,
) -> tuple[TrainingData, Lineage]:
    """Point-in-time training frame through the feature service, with its lineage; refuses a
    service that breaks the model's feature policy (models.policy.FeaturePolicyViolation)."""
    import pandas as pd

    from fti.store import open_store
    from models.workflow import load

    settings = Settings(state_dir=Path(state_dir))
    lo = pd.Timestamp(start) if start is not None else None
    hi = pd.Timestamp(end) if end is not None else None
    return load(settings, open_store(settings), model, lo, hi, feature_service, policy)


@task(name="fit-model", cache_policy=NO_CACHE)
def fit_model(
    data: TrainingData, config: TrainingConfig, bounds: Boundaries | None
) -> TrainedModel:
    from models.training import fit_model as fit

    return fit(data, config, bounds)


@task(name="log-training-run", cache_policy=NO_CACHE)
def log_training_run(state_dir: str, trained: TrainedModel, lineage: Lineage) -> dict[str, str]:
    """Params, metrics, datasets, lineage, plots and the model; a new `challenger` version."""
    from models.registry import log_training_run as log_run
    from models.tracking import Tracking

    return log_run(Tracking(Settings(state_dir=Path(state_dir))), trained, lineage).as_dict()


@task(name="run-promotion-gate", cache_policy=NO_CACHE)
def run_promotion_gate(
    state_dir: str, trained: TrainedModel, version: str, lineage: Lineage
) -> dict[str, Any]:
    from fti.store import open_store
    from models.lineage import service_fields
    from models.registry import run_gate
    from models.tracking import Tracking

    settings = Settings(state_dir=Path(state_dir))
    # The signature is checked against the feature service as the registry defines it now.
    current = service_fields(open_store(settings).get_feature_service(lineage.feature_service))
    decision = run_gate(Tracking(settings), trained, version, lineage, current)
    return decision.as_dict()


@flow(name="training", flow_run_name="train-{model}")
def training_flow(
    model: Model,
    family: Literal["hgb", "linear"] = "hgb",
    seed: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    from_run: str | None = None,
    params: dict[str, Any] | None = None,
    feature_service: str | None = None,
) -> dict[str, Any]:
    """Train one model, log and register it as `challenger`, and run the promotion gate.

    params overrides fields of models.config.TrainingConfig (nested dicts, e.g.
    {"gate": {"min_improvement_over_champion": 0.02}, "hgb": {"max_iter": 500}}).
    With from_run, the entity time range, feature service, splits, parameters and seed are
    those recorded on that MLflow run (reproduction); the new run is tagged with its origin.
    feature_service replaces the model's default service; it must keep to the feature policy
    (models.policy.FeaturePolicyViolation otherwise, raised before any data is read).
    """
    from models.config import TrainingConfig
    from models.data import InsufficientData, utc

    settings = Settings()
    state_dir = str(settings.state_dir)
    bounds = None
    if from_run:
        from models.registry import recorded_lineage
        from models.tracking import Tracking

        recorded = recorded_lineage(Tracking(settings), from_run)
        if recorded.kind != model:
            raise ValueError(f"run {from_run} trained the {recorded.kind} model, not {model}")
        config = recorded.config
        start, end = recorded.start.to_pydatetime(), recorded.end.to_pydatetime()
        bounds, feature_service = recorded.bounds, recorded.feature_service
    else:
        config = TrainingConfig.model_validate(
            {
                "family": family,
                "seed": settings.seed if seed is None else seed,
                **(params or {}),
                "kind": model,
            }
        )
    try:
        data, lineage = load_training_data(
            state_dir,
            model,
            utc(start).to_pydatetime() if start else None,
            utc(end).to_pydatetime() if end else None,
            feature_service,
            config.feature_policy,
        )
        lineage.reproduces = from_run
        trained = fit_model(data, config, bounds)
    except InsufficientData as err:
        # A young or tiny data set is not an error of the platform: nothing is registered.
        _log().warning("not training the %s model: %s", model, err)
        return {"model": model, "decision": "skipped", "reason": str(err)}
    record = log_training_run(state_dir, trained, lineage)
    decision = run_promotion_gate(state_dir, trained, record["version"], lineage)
    primary = trained.spec.primary.name
    summary: dict[str, Any] = {
        "model": trained.spec.registered_name,
        **record,
        "decision": "promoted" if decision["promoted"] else "refused",
        "reason": decision["reason"],
        f"test_{primary}": trained.test_metric,
        "test": trained.metrics["test"],
        "baselines_test": trained.baselines["test"],
        "rows": {s: len(y) for s, y in trained.labels.items()},
        "fit_seconds": round(trained.fit_seconds, 2),
    }
    _log().info("trained %s v%s: %s", summary["model"], record["version"], decision["reason"])
    return summary


@flow(name="training-compare-sensitive", flow_run_name="compare-sensitive-cancellation")
def compare_sensitive_flow(
    seed: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The cancellation model with and without the protected attributes on the same split,
    both runs logged side by side in MLflow (experiment cancellation_classifier_compare_sensitive).
    """
    from models.config import TrainingConfig
    from models.data import utc
    from models.workflow import compare_sensitive

    settings = Settings()
    config = TrainingConfig.model_validate(
        {
            "seed": settings.seed if seed is None else seed,
            **(params or {}),
            "kind": "cancellation",
        }
    )
    comparison = compare_sensitive(
        settings, config, utc(start) if start else None, utc(end) if end else None
    )
    return comparison.summary()


if __name__ == "__main__":
    import sys

    from fti.prefect_env import in_process_runs

    with in_process_runs():
        training_flow("cancellation" if sys.argv[1:] == ["cancellation"] else "price")
