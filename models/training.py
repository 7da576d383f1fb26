"""Fit and evaluate one model on a time-split training frame (pure: no MLflow, no Feast)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from models.config import TrainingConfig
from models.data import (
    SPLITS,
    Boundaries,
    InsufficientData,
    TrainingData,
    boundaries_for,
    split_masks,
)
from models.estimators import RelativeToLevel
from models.evaluation import CancellationBaselines, metrics_for, price_baselines
from models.fairness import GroupReport, evaluate_groups
from models.pipelines import build_pipeline, unused_columns
from models.prepare import prepare_features
from models.specs import SPECS, ModelSpec

log = logging.getLogger(__name__)


@dataclass
class TrainedModel:
    """A fitted Pipeline with everything needed to log, gate and reproduce it."""

    spec: ModelSpec
    config: TrainingConfig
    data: TrainingData
    bounds: Boundaries
    pipeline: Pipeline
    inputs: dict[str, pd.DataFrame]  # prepared model inputs per split
    labels: dict[str, np.ndarray]
    predictions: dict[str, np.ndarray]
    metrics: dict[str, dict[str, float]]  # split -> metric -> value
    baselines: dict[str, dict[str, dict[str, float]]]  # split -> baseline -> metric -> value
    baseline_predictions: dict[str, np.ndarray]  # baseline -> test predictions
    fit_seconds: float
    unused_inputs: list[str] = field(default_factory=list)
    selection: dict[str, str] = field(default_factory=dict)  # choices made on validation
    groups: dict[str, GroupReport] = field(default_factory=dict)  # split -> per-group report

    @property
    def test_metric(self) -> float:
        return self.metrics["test"][self.spec.primary.name]

    def flat_metrics(self) -> dict[str, float]:
        """`<split>_<metric>` for the model, `baseline_<name>_<split>_<metric>` for baselines,
        `<split>_group_...` per group (models.fairness.GroupReport.metrics)."""
        out = {f"{s}_{k}": v for s, m in self.metrics.items() for k, v in m.items()}
        for split, report in self.groups.items():
            out.update(report.metrics(split))
        for split, per in self.baselines.items():
            for name, values in per.items():
                out.update({f"baseline_{name}_{split}_{k}": v for k, v in values.items()})
        return out


def predict(pipeline: Pipeline, task: str, inputs: pd.DataFrame) -> np.ndarray:
    """Point predictions (regression) or the positive class probability (classification)."""
    if task == "classification":
        return np.asarray(pipeline.predict_proba(inputs)[:, 1], dtype=float)
    return np.asarray(pipeline.predict(inputs), dtype=float)


def _fit(
    pipeline: Pipeline,
    config: TrainingConfig,
    inputs: dict[str, pd.DataFrame],
    labels: dict[str, np.ndarray],
) -> None:
    """Fit on the training split. Gradient boosting stops early on the validation split (the
    encoder, fitted on train only, transforms it), never on a shuffled slice of train."""
    p = config.hgb
    early = (
        config.family == "hgb"
        and p.early_stopping_rounds > 0
        and len(labels["validation"]) >= p.min_validation_rows
    )
    if not early:
        pipeline.fit(inputs["train"], labels["train"])
        return
    prepare, model = pipeline.named_steps["prepare"], pipeline.named_steps["model"]
    booster = model.estimator if isinstance(model, RelativeToLevel) else model
    booster.set_params(
        early_stopping=True, n_iter_no_change=p.early_stopping_rounds, scoring="loss"
    )
    x_train = prepare.fit_transform(inputs["train"], labels["train"])
    x_val = prepare.transform(inputs["validation"])
    model.fit(x_train, labels["train"], X_val=x_val, y_val=labels["validation"])


def iterations(pipeline: Pipeline) -> int | None:
    """Boosting iterations the fitted model kept (None for other families)."""
    model = pipeline.named_steps["model"]
    if not hasattr(model, "n_trees_per_iteration_"):  # linear models' n_iter_ means solver steps
        return None
    return int(model.n_iter_)


def fit_model(
    data: TrainingData, config: TrainingConfig, bounds: Boundaries | None = None
) -> TrainedModel:
    """Split by time, fit the Pipeline on train only, score model and baselines on every split."""
    spec = SPECS[data.kind]
    frame = data.frame
    bounds = bounds or boundaries_for(frame, config.split)
    masks = split_masks(frame, bounds)
    prepared = prepare_features(data.kind, frame)
    label = frame["label"].to_numpy()
    inputs = {s: prepared[masks[s]].reset_index(drop=True) for s in SPLITS}
    labels = {s: label[masks[s]] for s in SPLITS}
    raw = {s: frame[masks[s]].reset_index(drop=True) for s in SPLITS}
    for split in ("train", "test"):
        if len(labels[split]) == 0:
            raise InsufficientData(f"the {split} split of the {data.kind} model is empty")
    if len(labels["validation"]) == 0:
        log.warning("%s: the validation split is empty (too little data)", data.kind)
    if spec.task == "classification" and len(np.unique(labels["train"])) < 2:
        raise InsufficientData("the training split of the cancellation model has one class")

    train_times = pd.to_datetime(frame["split_time"], utc=True)[masks["train"]]
    train_days = (train_times.max() - train_times.min()) / pd.Timedelta(days=1)
    variants: list[bool | None] = [None]
    auto = spec.kind == "price" and config.family == "hgb" and config.price_relative == "auto"
    if auto and len(labels["validation"]):
        variants = [True, False]
    candidates: list[tuple[float, bool | None, Pipeline, dict[str, np.ndarray]]] = []
    with threadpool_limits(config.n_threads):
        started = time.perf_counter()
        for relative in variants:
            pipeline = build_pipeline(config, inputs["train"], train_days, relative)
            _fit(pipeline, config, inputs, labels)
            predictions = {
                s: predict(pipeline, spec.task, inputs[s]) if len(inputs[s]) else np.array([])
                for s in SPLITS
            }
            score = (
                metrics_for(spec.task, labels["validation"], predictions["validation"])[
                    spec.primary.name
                ]
                if len(labels["validation"])
                else float("nan")
            )
            candidates.append((score, relative, pipeline, predictions))
        fit_seconds = time.perf_counter() - started
    # Lower is better for both primary metrics (MAE, log loss); the first wins a tie.
    _, relative, pipeline, predictions = min(
        candidates, key=lambda f: f[0] if np.isfinite(f[0]) else np.inf
    )
    selection: dict[str, str] = {}
    if len(variants) > 1:
        selection["price_relative"] = str(relative)
        selection.update(
            {
                f"validation_{spec.primary.name}.relative_{r}": f"{v:.6g}"
                for v, r, _, _ in candidates
            }
        )
    log.info(
        "%s: fitted %s on %d rows in %.1f s",
        data.kind,
        config.family,
        len(labels["train"]),
        fit_seconds,
    )
    scored = [s for s in SPLITS if len(labels[s])]
    metrics = {s: metrics_for(spec.task, labels[s], predictions[s]) for s in scored}

    baselines: dict[str, dict[str, dict[str, float]]] = {}
    baseline_predictions: dict[str, np.ndarray] = {}
    if spec.task == "regression":
        for split in scored:
            preds = price_baselines(raw[split])
            baselines[split] = {
                n: metrics_for(spec.task, labels[split], p) for n, p in preds.items()
            }
            if split == "test":
                baseline_predictions = preds
    else:
        fitted = CancellationBaselines(inputs["train"], labels["train"], seed=config.seed)
        for split in scored:
            preds = fitted.predict(inputs[split])
            baselines[split] = {
                n: metrics_for(spec.task, labels[split], p) for n, p in preds.items()
            }
            if split == "test":
                baseline_predictions = preds
    groups: dict[str, GroupReport] = {}
    if spec.task == "classification":
        for split in scored:
            report = evaluate_groups(raw[split], labels[split], predictions[split], config.fairness)
            if report is not None:
                groups[split] = report
    return TrainedModel(
        spec=spec,
        config=config,
        data=data,
        bounds=bounds,
        pipeline=pipeline,
        inputs=inputs,
        labels=labels,
        predictions=predictions,
        metrics=metrics,
        baselines=baselines,
        baseline_predictions=baseline_predictions,
        fit_seconds=fit_seconds,
        unused_inputs=unused_columns(inputs["train"], train_days),
        selection=selection,
        groups=groups,
    )


def feature_importance(trained: TrainedModel) -> pd.DataFrame:
    """Permutation importance of every model input on a seeded sample of the test split."""
    x, y = trained.inputs["test"], trained.labels["test"]
    n = min(len(x), trained.config.permutation_sample)
    rng = np.random.default_rng(trained.config.seed)
    rows = np.sort(rng.choice(len(x), size=n, replace=False))
    scoring = "neg_mean_absolute_error" if trained.spec.task == "regression" else "neg_log_loss"
    with threadpool_limits(trained.config.n_threads):
        result = permutation_importance(
            trained.pipeline,
            x.iloc[rows],
            y[rows],
            scoring=scoring,
            n_repeats=3,
            random_state=trained.config.seed,
        )
    return (
        pd.DataFrame(
            {
                "feature": list(x.columns),
                "importance_mean": result["importances_mean"],
                "importance_std": result["importances_std"],
            }
        )
        .sort_values("importance_mean", ascending=False)
        .reset_index(drop=True)
    )
