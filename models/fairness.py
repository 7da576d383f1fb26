"""Per-group metrics of the cancellation model and the largest gaps between groups (pure).

Groups come from the guest's protected attributes as known at booking time (age band, home
country folded into regions), retrieved for evaluation only (`audit_*` columns of the training
frame, never model inputs): a model that does not read them is still measured on them.
Per group: ROC AUC, and the false positive and false negative rates at the decision threshold
(a booking is flagged as a likely cancellation when its probability is >= the threshold).
A gap is the largest minus the smallest value among the groups with at least
`min_group_size` rows (and, for each rate, at least one row it is defined on).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.config import FairnessConfig
from models.gate import Check
from models.prepare import AUDIT_PREFIX

GAP_METRICS: tuple[str, ...] = ("roc_auc", "fpr", "fnr")
ATTRIBUTES: dict[str, str] = {
    "age_band": f"{AUDIT_PREFIX}age_band",
    "region": f"{AUDIT_PREFIX}region",
}
UNKNOWN = "unknown"

# Home-country regions over the committed vocabulary (features.guests.COUNTRY_VOCAB_V1).
# Portugal is the hotels' home market; country_other holds every other or unknown country.
EUROPE: tuple[str, ...] = (
    *("ESP", "FRA", "DEU", "GBR", "IRL", "ITA", "BEL", "NLD"),
    *("CHE", "AUT", "SWE", "NOR", "DNK", "FIN", "POL", "RUS"),
)
REGIONS: dict[str, str] = {
    "PRT": "portugal",
    **{c: "europe" for c in EUROPE},
    **{c: "rest_of_world" for c in ("USA", "BRA", "CHN")},
}
OTHER_REGION = "other_or_unknown"


def region_of(one_hot: pd.DataFrame) -> pd.Series:
    """Region per row from the country_<ISO3> one-hot columns (country_other -> other)."""
    out = pd.Series(OTHER_REGION, index=one_hot.index, dtype=object)
    for code, region in REGIONS.items():
        column = f"country_{code}"
        if column in one_hot.columns:
            hit = pd.to_numeric(one_hot[column], errors="coerce").fillna(0).to_numpy() > 0
            out[hit] = region
    return out


def _rate(hits: np.ndarray, base: np.ndarray) -> float:
    return float(hits.sum() / base.sum()) if base.sum() else float("nan")


def group_table(
    y: np.ndarray, proba: np.ndarray, groups: pd.Series | np.ndarray, threshold: float
) -> pd.DataFrame:
    """One row per group: n, positives, ROC AUC, FPR and FNR at the threshold."""
    y = np.asarray(y, dtype=int)
    proba = np.asarray(proba, dtype=float)
    labels = pd.Series(np.asarray(groups, dtype=object)).fillna(UNKNOWN).astype(str).to_numpy()
    flagged = proba >= threshold
    rows = []
    for group in sorted(set(labels)):
        m = labels == group
        yg, fg = y[m], flagged[m]
        both = len(np.unique(yg)) == 2
        rows.append(
            {
                "group": group,
                "n": int(m.sum()),
                "positives": int(yg.sum()),
                "roc_auc": float(roc_auc_score(yg, proba[m])) if both else float("nan"),
                # false positive rate: kept bookings flagged as cancellations
                "fpr": _rate(fg & (yg == 0), yg == 0),
                # false negative rate: cancellations not flagged
                "fnr": _rate(~fg & (yg == 1), yg == 1),
                "flagged_rate": float(fg.mean()) if m.any() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Gap:
    metric: str
    value: float  # NaN when fewer than two groups qualify
    high: str = ""
    low: str = ""


def largest_gap(table: pd.DataFrame, metric: str, min_group_size: int) -> Gap:
    eligible = table[(table["n"] >= min_group_size) & table[metric].notna()]
    if len(eligible) < 2:
        return Gap(metric, float("nan"))
    hi = eligible.loc[eligible[metric].idxmax()]
    lo = eligible.loc[eligible[metric].idxmin()]
    return Gap(metric, float(hi[metric] - lo[metric]), str(hi["group"]), str(lo["group"]))


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.-]+", "_", text.replace("+", "plus")).strip("_")


@dataclass
class GroupReport:
    """Per-attribute group tables and gaps of one split."""

    tables: dict[str, pd.DataFrame]
    gaps: dict[str, dict[str, Gap]]  # attribute -> metric -> gap
    config: FairnessConfig
    largest: dict[str, Gap] = field(default_factory=dict)  # metric -> largest over attributes

    def metrics(self, prefix: str = "test") -> dict[str, float]:
        """MLflow metrics: `<prefix>_group_gap_<metric>` (largest over the attributes),
        `<prefix>_group_gap_<attribute>_<metric>`, `<prefix>_group_<attribute>_<group>_<metric>`."""
        out: dict[str, float] = {}
        for metric, gap in self.largest.items():
            out[f"{prefix}_group_gap_{metric}"] = gap.value
        for attribute, gaps in self.gaps.items():
            for metric, gap in gaps.items():
                out[f"{prefix}_group_gap_{attribute}_{metric}"] = gap.value
            for row in self.tables[attribute].itertuples(index=False):
                base = f"{prefix}_group_{attribute}_{_slug(str(row.group))}"
                out[f"{base}_n"] = float(row.n)
                for metric in GAP_METRICS:
                    out[f"{base}_{metric}"] = float(getattr(row, metric))
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "threshold": self.config.threshold,
            "min_group_size": self.config.min_group_size,
            "largest_gaps": {m: vars(g) for m, g in self.largest.items()},
            "attributes": {
                a: {
                    "groups": self.tables[a].to_dict(orient="records"),
                    "gaps": {m: vars(g) for m, g in self.gaps[a].items()},
                }
                for a in self.tables
            },
        }


def evaluate_groups(
    audit: pd.DataFrame, y: np.ndarray, proba: np.ndarray, config: FairnessConfig
) -> GroupReport | None:
    """Group tables and gaps for every attribute the audit frame holds (None: no attribute)."""
    tables: dict[str, pd.DataFrame] = {}
    gaps: dict[str, dict[str, Gap]] = {}
    for attribute, column in ATTRIBUTES.items():
        if column not in audit.columns:
            continue
        table = group_table(y, proba, audit[column].to_numpy(), config.threshold)
        tables[attribute] = table
        gaps[attribute] = {m: largest_gap(table, m, config.min_group_size) for m in GAP_METRICS}
    if not tables:
        return None
    largest: dict[str, Gap] = {}
    for metric in GAP_METRICS:
        found = [g[metric] for g in gaps.values() if math.isfinite(g[metric].value)]
        largest[metric] = max(found, key=lambda g: g.value) if found else Gap(metric, math.nan)
    return GroupReport(tables, gaps, config, largest)


def gap_check(report: GroupReport | None, config: FairnessConfig) -> Check:
    """The gate's check: every largest gap within its configured limit."""
    if report is None:
        return Check("group_gap", True, "no group attributes to compare")
    limits: Mapping[str, float | None] = {
        "roc_auc": config.max_gap_roc_auc,
        "fpr": config.max_gap_fpr,
        "fnr": config.max_gap_fnr,
    }
    over, parts = [], []
    for metric, gap in report.largest.items():
        limit = limits.get(metric)
        if not math.isfinite(gap.value):
            parts.append(f"{metric}: too few groups of >= {config.min_group_size} rows")
            continue
        text = f"{metric} gap {gap.value:.3f} ({gap.high} vs {gap.low})"
        if limit is not None and gap.value > limit:
            over.append(f"{text} > limit {limit:.3f}")
        else:
            parts.append(text + (f" <= {limit:.3f}" if limit is not None else ""))
    if over:
        return Check("group_gap", False, "; ".join(over))
    return Check("group_gap", True, "; ".join(parts))


def gap_tags(report: GroupReport | None) -> dict[str, str]:
    """Version tags recording the largest gaps (and between which groups)."""
    if report is None:
        return {}
    out = {}
    for metric, gap in report.largest.items():
        value = "" if not math.isfinite(gap.value) else f"{gap.value:.6g}"
        out[f"gate.group_gap_{metric}"] = value
        if gap.high:
            out[f"gate.group_gap_{metric}_groups"] = f"{gap.high} vs {gap.low}"
    return out
