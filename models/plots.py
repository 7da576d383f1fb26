"""Figures a reviewer looks at, drawn with matplotlib's Agg backend (no display, no network)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _pyplot(cache_dir: Path) -> Any:
    # matplotlib writes its font cache under MPLCONFIGDIR: keep it in the state folder.
    os.environ.setdefault("MPLCONFIGDIR", str(cache_dir))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def importance_figure(plt: Any, importance: pd.DataFrame, title: str) -> Figure:
    top = importance.sort_values("importance_mean").tail(20)
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(top) + 1.5))
    ax.barh(top["feature"], top["importance_mean"], xerr=top["importance_std"], color="#4c72b0")
    ax.set_xlabel("permutation importance (increase of the test loss)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def price_figures(
    cache_dir: Path,
    test: pd.DataFrame,
    y: np.ndarray,
    pred: np.ndarray,
    naive: np.ndarray,
    importance: pd.DataFrame,
) -> dict[str, Figure]:
    """Predicted vs actual, residuals, a fortnight of one zone, feature importance."""
    plt = _pyplot(cache_dir)
    out: dict[str, Figure] = {}

    fig, ax = plt.subplots(figsize=(6, 6))
    # A seeded sample of 5,000 points draws the same picture as 50,000, ten times faster.
    shown = np.random.default_rng(0).permutation(len(y))[:5000]
    ax.scatter(y[shown], pred[shown], s=3, alpha=0.3)
    lo, hi = float(np.nanmin([y.min(), pred.min()])), float(np.nanmax([y.max(), pred.max()]))
    ax.plot([lo, hi], [lo, hi], color="black", lw=1)
    ax.set_xlabel("actual price (EUR/MWh)")
    ax.set_ylabel("predicted price (EUR/MWh)")
    ax.set_title("Test split: predicted vs actual")
    fig.tight_layout()
    out["predicted_vs_actual.png"] = fig

    residual = y - pred
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].hist(residual, bins=80, color="#4c72b0")
    axes[0].set_xlabel("residual (actual - predicted)")
    axes[0].set_title("Residuals")
    hours = test["hour"].to_numpy()
    by_hour = pd.DataFrame({"hour": hours, "abs": np.abs(residual), "naive": np.abs(y - naive)})
    grouped = by_hour.groupby("hour")[["abs", "naive"]].mean()
    axes[1].plot(grouped.index, grouped["abs"], label="model")
    axes[1].plot(grouped.index, grouped["naive"], label="naive (same hour, last day)")
    axes[1].set_xlabel("delivery hour (Europe/Stockholm)")
    axes[1].set_ylabel("MAE")
    axes[1].legend()
    axes[1].set_title("Absolute error by hour")
    fig.tight_layout()
    out["residuals.png"] = fig

    zone = str(test["zone"].iloc[-1])
    mask = (test["zone"] == zone).to_numpy()
    last = slice(max(0, int(mask.sum()) - 14 * 24), None)
    fig, ax = plt.subplots(figsize=(11, 4))
    x = np.arange(int(mask.sum()))[last]
    ax.plot(x, y[mask][last], label="actual", color="black", lw=1)
    ax.plot(x, pred[mask][last], label="model")
    ax.plot(x, naive[mask][last], label="naive (same hour, last day)", alpha=0.6)
    ax.set_xlabel("hour of the last two test weeks")
    ax.set_ylabel("EUR/MWh")
    ax.set_title(f"{zone}: last two weeks of the test split")
    ax.legend()
    fig.tight_layout()
    out["last_two_weeks.png"] = fig

    out["feature_importance.png"] = importance_figure(plt, importance, "Price forecaster")
    return out


def cancellation_figures(
    cache_dir: Path,
    y: np.ndarray,
    proba: np.ndarray,
    baselines: dict[str, np.ndarray],
    importance: pd.DataFrame,
) -> dict[str, Figure]:
    """ROC curves (model and baselines), calibration curve, score histogram, importance."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    plt = _pyplot(cache_dir)
    out: dict[str, Figure] = {}

    fig, ax = plt.subplots(figsize=(6, 6))
    for label, scores in {"model": proba, **baselines}.items():
        if len(np.unique(scores)) > 1:
            fpr, tpr, _ = roc_curve(y, scores)
            ax.plot(fpr, tpr, label=label)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("Test split: ROC")
    ax.legend()
    fig.tight_layout()
    out["roc_curve.png"] = fig

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    frac, mean = calibration_curve(y, proba, n_bins=10, strategy="quantile")
    axes[0].plot(mean, frac, marker="o", label="model")
    axes[0].plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfectly calibrated")
    axes[0].set_xlabel("mean predicted probability")
    axes[0].set_ylabel("observed cancellation rate")
    axes[0].set_title("Calibration (quantile bins)")
    axes[0].legend()
    axes[1].hist([proba[y == 0], proba[y == 1]], bins=40, label=["kept", "cancelled"], stacked=True)
    axes[1].set_xlabel("predicted probability")
    axes[1].set_title("Scores by outcome")
    axes[1].legend()
    fig.tight_layout()
    out["calibration_curve.png"] = fig

    out["feature_importance.png"] = importance_figure(plt, importance, "Cancellation classifier")
    return out


def group_figure(cache_dir: Path, tables: dict[str, pd.DataFrame], threshold: float) -> Figure:
    """Per group of each attribute: ROC AUC, false positive and false negative rates."""
    plt = _pyplot(cache_dir)
    metrics = (
        ("roc_auc", "ROC AUC"),
        ("fpr", "false positive rate"),
        ("fnr", "false negative rate"),
    )
    fig, axes = plt.subplots(
        len(tables), len(metrics), figsize=(12, 3.2 * len(tables)), squeeze=False
    )
    for row, (attribute, table) in enumerate(tables.items()):
        labels = [f"{g} ({n})" for g, n in zip(table["group"], table["n"], strict=True)]
        for col, (metric, title) in enumerate(metrics):
            ax = axes[row][col]
            ax.barh(labels, table[metric].to_numpy(dtype=float), color="#4c72b0")
            ax.set_xlim(0, 1)
            ax.set_title(title + ("" if metric == "roc_auc" else f" at {threshold:g}"))
            if col == 0:
                ax.set_ylabel(attribute)
    fig.tight_layout()
    return fig


def close(figures: dict[str, Figure]) -> None:
    import matplotlib.pyplot as plt

    for fig in figures.values():
        plt.close(fig)
