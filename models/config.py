"""Hyperparameters, split fractions, promotion thresholds: typed, apart from Settings, logged."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Family = Literal["hgb", "linear"]
ModelKind = Literal["price", "cancellation"]
# The sensitivity classes of feature_repo/feature_views.py (tag `sensitivity` of every field).
Sensitivity = Literal["none", "personal", "protected"]

# Where weather for a bidding zone comes from. No SMHI station of the data sets lies in SE1 or
# SE2: the northernmost available stations stand in (Uppsala for daily observations, Svenska
# Hogarna for sunshine). SE3 uses Stockholm and Svenska Hogarna (Stockholm archipelago); SE4
# uses the southernmost ones, Goteborg and Olands norra udde. A zone missing here gets no weather.
ZONE_STATIONS: dict[str, tuple[int, int]] = {
    "SE1": (97530, 99275),
    "SE2": (97530, 99275),
    "SE3": (98210, 99275),
    "SE4": (71420, 77215),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Frozen):
    """Time-ordered train / validation / test split (no shuffling across time)."""

    validation_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    test_fraction: float = Field(default=0.15, gt=0, lt=0.5)


class GateConfig(_Frozen):
    """Promotion thresholds. Improvements are relative to the compared metric (0.01 = 1 %)."""

    min_improvement_over_champion: float = Field(
        default=0.005, ge=0, description="Challenger must beat the champion by this relative margin"
    )
    min_improvement_over_baseline: float = Field(
        default=0.0,
        ge=0,
        description="Challenger must beat the best baseline by this relative margin",
    )
    require_validation: bool = Field(
        default=True,
        description="Every feature batch read must have a successful validation record",
    )


class FeaturePolicy(_Frozen):
    """Which sensitivity classes a model may read; training refuses a feature service that
    serves anything else (a feature without a sensitivity tag counts as unclassified)."""

    allowed: tuple[Sensitivity, ...]


# Defaults (README "Responsible features"): the price forecaster reads no personal data at
# all; the cancellation classifier may read personal data (the session embedding) but not
# protected attributes (age band, home country), whose gain on the real bookings does not
# justify deciding about guests by their age or nationality.
DEFAULT_POLICY: dict[str, tuple[Sensitivity, ...]] = {
    "price": ("none",),
    "cancellation": ("none", "personal"),
}


class FairnessConfig(_Frozen):
    """Per-group evaluation of the cancellation model and the gate's limits on the gaps."""

    threshold: float = Field(
        default=0.5, gt=0, lt=1, description="Decision threshold for false positive/negative rates"
    )
    # A group's ROC AUC from 30 rows has a standard error near 0.1: gaps between many small
    # groups would be noise, and a gate refusing on noise decides nothing.
    min_group_size: int = Field(
        default=200, ge=1, description="Smaller groups are reported but not compared"
    )
    max_gap_roc_auc: float | None = Field(
        default=0.10, ge=0, description="Largest allowed ROC AUC gap between groups (None: any)"
    )
    max_gap_fpr: float | None = Field(default=0.25, ge=0, description="... of false positive rates")
    max_gap_fnr: float | None = Field(default=0.25, ge=0, description="... of false negative rates")


class HGBParams(_Frozen):
    """HistGradientBoosting (regressor or classifier)."""

    max_iter: int = Field(default=300, ge=1)
    learning_rate: float = Field(default=0.1, gt=0)
    max_leaf_nodes: int = Field(default=31, ge=2)
    min_samples_leaf: int = Field(default=40, ge=1)
    l2_regularization: float = Field(default=1.0, ge=0)
    max_bins: int = Field(default=255, ge=2, le=255)
    early_stopping_rounds: int = Field(
        default=20,
        ge=0,
        description="Stop when the loss on the time-ordered validation split has not improved "
        "for this many iterations (0: always max_iter)",
    )
    min_validation_rows: int = Field(default=50, ge=1, description="Fewer: no early stopping")


class LinearParams(_Frozen):
    """Ridge regression (price) or logistic regression (cancellation) on scaled inputs."""

    alpha: float = Field(default=1.0, gt=0, description="Ridge alpha / inverse of logistic C")
    max_iter: int = Field(default=2000, ge=10)


class EncodingParams(_Frozen):
    """One-hot encoding of categorical inputs, fitted on the training split only."""

    min_frequency: float = Field(
        default=0.002, ge=0, lt=1, description="Rarer categories pool together"
    )
    max_categories: int = Field(default=24, ge=2)


class TrainingConfig(_Frozen):
    """Everything that decides a trained model besides the data: logged as run parameters."""

    kind: ModelKind
    family: Family = "hgb"
    seed: int = 0
    split: SplitConfig = SplitConfig()
    gate: GateConfig = GateConfig()
    hgb: HGBParams = HGBParams()
    linear: LinearParams = LinearParams()
    encoding: EncodingParams = EncodingParams()
    # Default per kind (DEFAULT_POLICY), filled in by _default_policy.
    feature_policy: FeaturePolicy = FeaturePolicy(allowed=("none",))
    fairness: FairnessConfig = FairnessConfig()
    # Price model only: the squared error is the textbook choice, but day-ahead prices have
    # spikes and the model is judged on MAE, for which the absolute error is the matching loss.
    price_loss: Literal["squared_error", "absolute_error"] = "absolute_error"
    # Price model, gradient boosting only: learn prices relative to the trailing weekly mean
    # (models.estimators.RelativeToLevel), so regimes outside the training range stay in reach.
    # The ratio carries the training period's trend, which on a few weeks of falling prices
    # biases every later forecast: "auto" fits both and keeps the one with the lower MAE on the
    # time-ordered validation split (relative when there is none).
    price_relative: bool | Literal["auto"] = "auto"
    price_level_floor: float = Field(default=10.0, gt=0, description="EUR/MWh")
    permutation_sample: int = Field(
        default=2000, ge=100, description="Rows for permutation importance"
    )
    # One OpenMP thread: on a shared 2-core machine HistGradientBoosting with 2 busy-waiting
    # threads ran 5x slower than with one (measured: 26.6 s against 4.9 s), and one thread
    # gives bit-identical results run after run.
    n_threads: int = Field(default=1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _default_policy(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("feature_policy") is None and "kind" in data:
            data = {**data, "feature_policy": {"allowed": DEFAULT_POLICY.get(data["kind"], ())}}
        return data

    @classmethod
    def for_kind(cls, kind: ModelKind, **overrides: Any) -> TrainingConfig:
        return cls(kind=kind, **overrides)

    def flat(self) -> dict[str, str]:
        """Parameters as MLflow wants them: dotted keys, string values."""
        out: dict[str, str] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), item)
            elif isinstance(value, list | tuple):
                out[prefix] = json.dumps(list(value))
            else:
                out[prefix] = str(value)

        walk("", self.model_dump())
        return out

    @classmethod
    def from_flat(cls, params: dict[str, str]) -> TrainingConfig:
        """Inverse of flat(): rebuild the config from a run's parameters (extra keys ignored)."""
        tree: dict[str, Any] = {}
        fields = cls.model_fields
        for key, value in params.items():
            head, _, rest = key.partition(".")
            if head not in fields:
                continue
            parsed: Any = value
            if value.startswith("["):
                parsed = json.loads(value)
            elif value == "None":
                parsed = None
            if rest:
                tree.setdefault(head, {})[rest] = parsed
            else:
                tree[head] = parsed
        return cls.model_validate(tree)
