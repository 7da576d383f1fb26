"""Drift between a reference (training) sample and a current (inference) sample, per feature."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PSI_THRESHOLD = 0.25  # > 0.25: a significant population shift (common rule of thumb)
KS_THRESHOLD = 0.2  # KS statistic (max CDF distance) beyond which a feature has drifted
_EPS = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index over the reference's quantile bins (NaN values ignored)."""
    ref = np.asarray(reference, dtype="float64")
    cur = np.asarray(current, dtype="float64")
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:  # a constant reference: one bin for it, one for everything else
        expected = np.array([1.0, 0.0])
        actual = np.array([np.mean(cur == edges[0]), np.mean(cur != edges[0])])
    else:
        edges[0], edges[-1] = -np.inf, np.inf
        expected = np.histogram(ref, edges)[0] / len(ref)
        actual = np.histogram(cur, edges)[0] / len(cur)
    expected = np.clip(expected, _EPS, None)
    actual = np.clip(actual, _EPS, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest distance between the two CDFs."""
    ref = np.sort(np.asarray(reference, dtype="float64"))
    cur = np.sort(np.asarray(current, dtype="float64"))
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    grid = np.concatenate([ref, cur])
    cdf_ref = np.searchsorted(ref, grid, side="right") / len(ref)
    cdf_cur = np.searchsorted(cur, grid, side="right") / len(cur)
    return float(np.max(np.abs(cdf_ref - cdf_cur)))


def shifted(psi_value: float, ks_value: float, psi_threshold: float, ks_threshold: float) -> bool:
    """Both statistics past their thresholds. PSI alone over-reacts on samples with few distinct
    values (a day-ahead batch repeats its issue-time features over 24 delivery hours, so two
    weeks of forecasts hold ~14 values per zone), KS alone on large smooth samples."""
    return bool(
        np.isfinite(psi_value)
        and np.isfinite(ks_value)
        and psi_value > psi_threshold
        and ks_value > ks_threshold
    )


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # numeric or categorical
    psi: float
    ks: float
    out_of_range: int  # scaled features outside [0, 1]
    unseen: int  # categories never seen in the reference
    drifted: bool

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


def drift_table(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    psi_threshold: float = PSI_THRESHOLD,
    ks_threshold: float = KS_THRESHOLD,
    scaled_suffix: str = "_scaled",
) -> list[FeatureDrift]:
    """PSI and KS per shared numeric column; unseen categories per text column.

    A numeric feature drifts when PSI and KS both pass their thresholds (see shifted); a scaled
    feature (name ending with scaled_suffix) outside [0, 1] or a category unseen in training also
    counts as drift: the transformation's inputs have left the range it was fitted on.
    """
    out = []
    for column in [c for c in reference.columns if c in current.columns]:
        ref, cur = reference[column], current[column]
        if pd.api.types.is_numeric_dtype(ref) and pd.api.types.is_numeric_dtype(cur):
            p, k = psi(ref.to_numpy(), cur.to_numpy()), ks(ref.to_numpy(), cur.to_numpy())
            outside = 0
            if column.endswith(scaled_suffix):
                values = cur.to_numpy(dtype="float64")
                outside = int(np.sum((values < 0) | (values > 1)))
            drifted = bool(shifted(p, k, psi_threshold, ks_threshold) or outside > 0)
            out.append(FeatureDrift(column, "numeric", p, k, outside, 0, drifted))
        else:
            seen = set(ref.dropna().astype(str))
            unseen = int((~cur.dropna().astype(str).isin(seen)).sum())
            out.append(
                FeatureDrift(
                    column, "categorical", float("nan"), float("nan"), 0, unseen, unseen > 0
                )
            )
    return out


def markdown(rows: list[FeatureDrift]) -> str:
    """The drift table as markdown (a Prefect artifact)."""
    lines = [
        "| feature | PSI | KS | outside [0,1] | unseen categories | drifted |",
        "|---|---:|---:|---:|---:|---|",
    ]

    def fmt(x: float) -> str:
        return "-" if not np.isfinite(x) else f"{x:.3f}"

    for r in rows:
        flag = "**yes**" if r.drifted else "no"
        lines.append(
            f"| {r.feature} | {fmt(r.psi)} | {fmt(r.ks)} | {r.out_of_range} | {r.unseen} | {flag} |"
        )
    return "\n".join(lines)
