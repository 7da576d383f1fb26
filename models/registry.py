"""Training runs in MLflow, the promotion gate on the registry, human overrides and rollbacks.

Every trained model becomes a new registered version with the `challenger` alias. The gate
(models.gate) decides whether it becomes `champion`; the decision, both metrics, the delta and
the reason are version tags, so a refused challenger stays registered with its reason. The
order in which versions held `champion` is kept in the registered model's `champion.history`
tag (a JSON list): promotion pushes, rollback pops.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from models.config import TrainingConfig
from models.data import SPLITS, Boundaries, utc
from models.evaluation import best_baseline, metrics_for
from models.fairness import gap_check, gap_tags
from models.gate import Check, Decision, GateInputs, decide
from models.lineage import Lineage, frame_digest
from models.pipelines import SKOPS_TRUSTED_TYPES
from models.prepare import expected_input_schema
from models.specs import ModelSpec
from models.tracking import Tracking, VersionInfo, logged_model_id
from models.training import TrainedModel, feature_importance, iterations, predict

log = logging.getLogger(__name__)

CHALLENGER, CHAMPION = "challenger", "champion"
HISTORY_TAG = "champion.history"
CONFIG_PREFIX = "config."


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    version: str
    model_uri: str

    def as_dict(self) -> dict[str, str]:
        return {"run_id": self.run_id, "version": self.version, "model_uri": self.model_uri}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _split_range(trained: TrainedModel, split: str) -> tuple[str, str]:
    times = pd.to_datetime(trained.data.frame["split_time"], utc=True)
    b = trained.bounds
    lo = {"train": times.min(), "validation": b.validation_start, "test": b.test_start}[split]
    hi = {"train": b.validation_start, "validation": b.test_start, "test": times.max()}[split]
    return str(lo), str(hi)


def run_params(trained: TrainedModel, lineage: Lineage) -> dict[str, str]:
    """Everything needed to re-train the model: config, entity time range, splits, service."""
    params = {f"{CONFIG_PREFIX}{k}": v for k, v in trained.config.flat().items()}
    params.update(
        {
            "model_kind": trained.spec.kind,
            "registered_model": trained.spec.registered_name,
            "feature_service": lineage.feature_service,
            "data.start": trained.data.start.isoformat(),
            "data.end": trained.data.end.isoformat(),
            "data.rows": str(len(trained.data.frame)),
            "data.dropped": json.dumps(trained.data.dropped),
            "inputs.count": str(trained.inputs["train"].shape[1]),
            "inputs.unused": ",".join(trained.unused_inputs) or "-",
            **{f"selected.{k}": v for k, v in trained.selection.items()},
            **trained.bounds.as_params(),
            **{f"rows.{s}": str(len(trained.labels[s])) for s in SPLITS},
            **{f"feature_view.{k}.version": v for k, v in lineage.feature_views.items()},
        }
    )
    return params


def log_training_run(
    tracking: Tracking,
    trained: TrainedModel,
    lineage: Lineage,
    plots: bool = True,
    register: bool = True,
    extra_tags: dict[str, str] | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
) -> RunRecord:
    """Log a trained model's run (params, metrics, datasets, lineage, plots, model) and register
    it as a new version with the `challenger` alias (register=False: the run only, version "")."""
    spec, data = trained.spec, trained.data
    tags = {
        "model_kind": spec.kind,
        "feature_service": lineage.feature_service,
        "validation.status": "passed" if lineage.validation.ok else "not passed",
        "validation.detail": lineage.validation.detail,
        **lineage.code,
    }
    if lineage.reproduces:
        tags["reproduces_run"] = lineage.reproduces
    tags.update(extra_tags or {})
    run_name = run_name or f"{spec.kind}-{trained.config.family}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    with tracking.run(experiment or spec.experiment, run_name, tags) as run_id:
        tracking.log_params(run_id, run_params(trained, lineage))
        source = {
            "retrieval": "feast get_historical_features (point in time)",
            "feature_service": lineage.feature_service,
            "entity_start": data.start.isoformat(),
            "entity_end": data.end.isoformat(),
        }
        masks_frame = {
            s: trained.inputs[s].assign(label=trained.labels[s].astype("float64")) for s in SPLITS
        }
        for split, context in zip(SPLITS, ("training", "validation", "test"), strict=True):
            lo, hi = _split_range(trained, split)
            frame = masks_frame[split]
            tracking.log_dataset(
                frame,
                name=f"{spec.kind}_{split}",
                digest=frame_digest(frame),
                source=source,
                context=context,
                targets="label",
                tags={"time_start": lo, "time_end": hi, "rows": str(len(frame))},
            )
        tracking.log_dict(
            run_id,
            {
                "feature_service": lineage.feature_service,
                "feature_views": lineage.feature_views,
                "features": lineage.service_features,
                "entity_time_range": [data.start.isoformat(), data.end.isoformat()],
                "splits": {s: _split_range(trained, s) for s in SPLITS},
                "dropped_rows": data.dropped,
                "seed": trained.config.seed,
                "code": lineage.code,
            },
            "lineage/lineage.json",
        )
        tracking.log_dict(
            run_id,
            {
                "status": lineage.validation.detail,
                "passed": lineage.validation.ok,
                "records": lineage.validation_records,
            },
            "lineage/validation_records.json",
        )
        for split, report in trained.groups.items():
            tracking.log_dict(run_id, report.as_dict(), f"fairness/groups_{split}.json")
        if plots:
            _log_plots(tracking, run_id, trained)
        sample = trained.inputs["train"].head(200)
        outputs = (
            trained.pipeline.predict_proba(sample)
            if spec.task == "classification"
            else trained.pipeline.predict(sample)
        )
        model_uri = tracking.log_model(
            trained.pipeline,
            trained.inputs["train"],
            outputs,
            predict_fn="predict_proba" if spec.task == "classification" else "predict",
            trusted_types=SKOPS_TRUSTED_TYPES,
        )
        # After the model, linked to it in the same write: MLflow's log_model would otherwise
        # copy every metric already on the run to the model, one history request per metric.
        tracking.log_metrics(
            run_id,
            {
                **trained.flat_metrics(),
                "fit_seconds": trained.fit_seconds,
                "model_iterations": float(iterations(trained.pipeline) or 0),
                "retrieval_seconds": data.retrieval_seconds,
            },
            model_id=logged_model_id(model_uri),
        )
    if not register:
        return RunRecord(run_id=run_id, version="", model_uri=model_uri)
    primary = spec.primary.name
    version = tracking.register(
        spec.registered_name,
        model_uri,
        run_id,
        tags={
            "model_kind": spec.kind,
            "feature_service": lineage.feature_service,
            "family": trained.config.family,
            f"test_{primary}": f"{trained.test_metric:.6g}",
            "data_digest": frame_digest(trained.data.frame),
            "trained_at": _now(),
        },
        description=spec.description,
    )
    tracking.set_alias(spec.registered_name, CHALLENGER, version)
    log.info("%s: run %s registered as version %s (challenger)", spec.kind, run_id, version)
    return RunRecord(run_id=run_id, version=version, model_uri=model_uri)


def _log_plots(tracking: Tracking, run_id: str, trained: TrainedModel) -> None:
    from models import plots

    cache = tracking.settings.state_dir / "cache" / "matplotlib"
    importance = feature_importance(trained)
    tracking.log_text(run_id, importance.to_csv(index=False), "plots/feature_importance.csv")
    y, pred = trained.labels["test"], trained.predictions["test"]
    if trained.spec.task == "regression":
        figures = plots.price_figures(
            cache,
            trained.inputs["test"],
            y,
            pred,
            trained.baseline_predictions["naive_day"],
            importance,
        )
    else:
        figures = plots.cancellation_figures(
            cache, y, pred, trained.baseline_predictions, importance
        )
        report = trained.groups.get("test")
        if report is not None:
            figures["groups.png"] = plots.group_figure(
                cache, report.tables, trained.config.fairness.threshold
            )
    for name, fig in figures.items():
        tracking.log_figure(run_id, fig, f"plots/{name}")
    plots.close(figures)


def _champion_on_test(
    tracking: Tracking, spec: ModelSpec, trained: TrainedModel, version: str
) -> tuple[str | None, float | None, str]:
    """The current champion scored on the challenger's test rows (None if it cannot be)."""
    current = tracking.alias_version(spec.registered_name, CHAMPION)
    if current is None:
        return None, None, "no champion yet"
    if current == version:
        return None, None, f"v{version} is already the champion"
    try:
        model = tracking.load_model(spec.registered_name, current)
        with threadpool_limits(trained.config.n_threads):
            pred = predict(model, spec.task, trained.inputs["test"])
    except Exception as err:  # a champion that cannot read today's features loses its claim
        note = f"champion v{current} cannot score the current features ({type(err).__name__}: "
        return current, None, note + f"{str(err)[:200]})"
    value = metrics_for(spec.task, trained.labels["test"], pred)[spec.primary.name]
    return current, value, ""


def run_gate(
    tracking: Tracking,
    trained: TrainedModel,
    version: str,
    lineage: Lineage,
    current_fields: dict[str, str],
    extra: tuple[Check, ...] = (),
) -> Decision:
    """Decide whether `version` (just trained) replaces the champion; record it on the version.

    current_fields: the feature service's features as the registry defines them now
    (lineage.service_fields(store.get_feature_service(...))), which the signature must match.
    """
    spec = trained.spec
    expected = expected_input_schema(spec.kind, current_fields)
    actual = tracking.input_schema(spec.registered_name, version)
    baseline_name, baseline_value = best_baseline(
        trained.baselines["test"], spec.primary.name, spec.primary.higher_is_better
    )
    champion_version, champion_value, note = _champion_on_test(tracking, spec, trained, version)
    report = trained.groups.get("test")
    if spec.task == "classification":
        extra = (*extra, gap_check(report, trained.config.fairness))
    decision = decide(
        GateInputs(
            metric=spec.primary,
            challenger=trained.test_metric,
            baseline_name=baseline_name,
            baseline=baseline_value,
            signature=actual,
            expected_signature=expected,
            validation=lineage.validation,
            config=trained.config.gate,
            champion_version=champion_version,
            champion=champion_value,
            champion_note=note,
            extra=extra,
        )
    )
    decision = dataclasses.replace(decision, extra_tags=gap_tags(report))
    tracking.set_version_tags(
        spec.registered_name, version, {**decision.tags(), "gate.decided_at": _now()}
    )
    if decision.promoted:
        promote(tracking, spec.registered_name, version, decision.reason, actor="gate")
    log.info("%s v%s: %s", spec.registered_name, version, decision.reason)
    return decision


def champion_history(tracking: Tracking, name: str) -> list[str]:
    raw = tracking.model_tags(name).get(HISTORY_TAG, "[]")
    return [str(v) for v in json.loads(raw)]


def promote(tracking: Tracking, name: str, version: str, reason: str, actor: str) -> str | None:
    """Point `champion` at version; returns the version it replaced."""
    previous = tracking.alias_version(name, CHAMPION)
    tracking.set_alias(name, CHAMPION, version)
    history = champion_history(tracking, name)
    if not history or history[-1] != version:
        history.append(version)
    tracking.set_model_tag(name, HISTORY_TAG, json.dumps(history))
    tracking.set_version_tags(
        name,
        version,
        {
            "champion.promoted_at": _now(),
            "champion.promoted_by": actor,
            "champion.reason": reason,
            "champion.replaced": previous or "",
        },
    )
    return previous


def override_promote(tracking: Tracking, name: str, version: str, reason: str) -> str | None:
    """A human decision to make `version` champion whatever the gate said, recorded as such."""
    if not reason.strip():
        raise ValueError("a promotion override needs a reason")
    info = tracking.version(name, version)  # raises for an unknown version
    user = getpass.getuser()
    tracking.set_version_tags(
        name,
        info.version,
        {
            "override.decision": "promoted",
            "override.reason": reason,
            "override.by": user,
            "override.at": _now(),
            "override.gate_decision": info.tags.get("gate.decision", "none"),
        },
    )
    return promote(tracking, name, info.version, f"override by {user}: {reason}", f"human:{user}")


def rollback(tracking: Tracking, name: str, reason: str = "") -> tuple[str, str]:
    """The previous champion returns; returns (version rolled back, version restored)."""
    history = champion_history(tracking, name)
    current = tracking.alias_version(name, CHAMPION)
    if current is None:
        raise ValueError(f"{name} has no champion to roll back")
    if history and history[-1] != current:  # alias moved outside these commands: trust the alias
        history.append(current)
    if len(history) < 2:
        raise ValueError(f"{name} v{current} is the only champion it ever had: nothing to restore")
    history.pop()
    restored = history[-1]
    tracking.set_alias(name, CHAMPION, restored)
    tracking.set_model_tag(name, HISTORY_TAG, json.dumps(history))
    user = getpass.getuser()
    tracking.set_version_tags(
        name,
        current,
        {
            "rollback.at": _now(),
            "rollback.by": user,
            "rollback.reason": reason or "-",
            "rollback.restored": restored,
        },
    )
    tracking.set_version_tags(
        name, restored, {"champion.restored_at": _now(), "champion.restored_from": current}
    )
    return current, restored


def list_versions(tracking: Tracking, names: list[str] | None = None) -> list[VersionInfo]:
    out: list[VersionInfo] = []
    for name in names or tracking.registered_models():
        out.extend(tracking.versions(name))
    return out


@dataclass(frozen=True)
class RecordedLineage:
    """What a run recorded that decides its model: enough to train it again."""

    kind: str
    feature_service: str
    start: pd.Timestamp
    end: pd.Timestamp
    bounds: Boundaries
    config: TrainingConfig
    metrics: dict[str, float]


def recorded_lineage(tracking: Tracking, run_id: str) -> RecordedLineage:
    params, metrics, _ = tracking.run_data(run_id)
    config = TrainingConfig.from_flat(
        {k.removeprefix(CONFIG_PREFIX): v for k, v in params.items() if k.startswith(CONFIG_PREFIX)}
    )
    return RecordedLineage(
        kind=params["model_kind"],
        feature_service=params["feature_service"],
        start=utc(params["data.start"]),
        end=utc(params["data.end"]),
        bounds=Boundaries(
            validation_start=utc(params["split.validation_start"]),
            test_start=utc(params["split.test_start"]),
        ),
        config=config,
        metrics=metrics,
    )


def smoke_predict(tracking: Tracking, name: str, alias: str, inputs: pd.DataFrame) -> Any:
    """Load `models:/name@alias` as pyfunc (schema enforcing) into a temporary folder, predict."""
    tracking.download_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tracking.download_root) as tmp:
        model = tracking.load_pyfunc(name, alias, Path(tmp))
        return model.predict(inputs)
