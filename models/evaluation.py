"""Metrics and baselines: plain functions of labels and predictions (no MLflow, no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    roc_auc_score,
)

# Probabilities are clipped before log loss so one confident miss cannot make it infinite.
EPS = 1e-6


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    return {
        "mae": float(mean_absolute_error(y, pred)),
        "rmse": float(np.sqrt(mean_squared_error(y, pred))),
        "bias": float(np.mean(pred - y)),
    }


def classification_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, dtype=int)
    proba = np.clip(np.asarray(proba, dtype=float), EPS, 1 - EPS)
    both = len(np.unique(y)) == 2
    return {
        "roc_auc": float(roc_auc_score(y, proba)) if both else float("nan"),
        "log_loss": float(log_loss(y, proba, labels=[0, 1])),
        "brier": float(brier_score_loss(y, proba)),
        "average_precision": float(average_precision_score(y, proba)) if both else float("nan"),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
    }


def metrics_for(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    if task == "regression":
        return regression_metrics(y, pred)
    return classification_metrics(y, pred)


def price_baselines(test: pd.DataFrame) -> dict[str, np.ndarray]:
    """Seasonal naive forecasts of each delivery hour, as known at issue time."""
    return {
        "naive_day": test["same_hour_last_day"].to_numpy(dtype=float),
        "naive_week": test["same_hour_last_week"].to_numpy(dtype=float),
    }


class CancellationBaselines:
    """Two baselines fitted on the training split: the prior rate and lead time alone."""

    def __init__(self, train: pd.DataFrame, y_train: np.ndarray, seed: int = 0) -> None:
        self.prior = float(np.mean(y_train))
        self.lead = LogisticRegression(random_state=seed).fit(self._lead(train), y_train)

    @staticmethod
    def _lead(frame: pd.DataFrame) -> np.ndarray:
        # log1p: lead times are skewed (0 to 700+ days); missing means booked on the day.
        lead = frame["lead_time"].to_numpy(dtype=float)
        return np.log1p(np.nan_to_num(lead, nan=0.0).clip(min=0)).reshape(-1, 1)

    def predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return {
            "prior_rate": np.full(len(frame), self.prior),
            "lead_time_logistic": self.lead.predict_proba(self._lead(frame))[:, 1],
        }


def best_baseline(
    baseline_metrics: dict[str, dict[str, float]], metric: str, higher_is_better: bool
) -> tuple[str, float]:
    """Name and value of the best baseline on one metric."""
    scored = {k: v[metric] for k, v in baseline_metrics.items() if np.isfinite(v[metric])}
    if not scored:
        raise ValueError(f"no baseline has a finite {metric}")
    pick = max if higher_is_better else min
    name = pick(scored, key=lambda k: scored[k])
    return name, scored[name]
