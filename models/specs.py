"""What each model is: registered name, feature service, target and the metric the gate compares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models.config import ModelKind


@dataclass(frozen=True)
class Metric:
    """A metric and which way is better."""

    name: str
    higher_is_better: bool

    def improvement(self, candidate: float, reference: float) -> float:
        """Relative improvement of candidate over reference (> 0 means candidate is better)."""
        scale = abs(reference) if reference != 0 else 1.0
        delta = candidate - reference if self.higher_is_better else reference - candidate
        return delta / scale


@dataclass(frozen=True)
class ModelSpec:
    kind: ModelKind
    registered_name: str
    feature_service: str
    experiment: str
    task: Literal["regression", "classification"]
    target: str
    primary: Metric
    description: str


SPECS: dict[str, ModelSpec] = {
    "price": ModelSpec(
        kind="price",
        registered_name="price_forecaster",
        feature_service="price_forecaster_v1",
        experiment="price_forecaster",
        task="regression",
        target="price_eur_mwh",
        primary=Metric("mae", higher_is_better=False),
        description="Day-ahead price per zone and delivery hour, issued 12:00 Europe/Stockholm "
        "the day before delivery",
    ),
    "cancellation": ModelSpec(
        kind="cancellation",
        registered_name="cancellation_classifier",
        # v2: without the protected attributes (the default feature policy, models/config.py)
        feature_service="cancellation_classifier_v2",
        experiment="cancellation_classifier",
        task="classification",
        target="is_canceled",
        primary=Metric("log_loss", higher_is_better=False),
        description="Probability that a booking is cancelled, scored at booking time",
    ),
}

BY_REGISTERED_NAME: dict[str, ModelSpec] = {s.registered_name: s for s in SPECS.values()}


def spec_for(name: str) -> ModelSpec:
    """The spec of a model kind (price, cancellation) or registered model name."""
    if name in SPECS:
        return SPECS[name]
    if name in BY_REGISTERED_NAME:
        return BY_REGISTERED_NAME[name]
    known = ", ".join([*SPECS, *BY_REGISTERED_NAME])
    raise KeyError(f"unknown model {name!r}; known: {known}")


# `fti train cancellation --compare-sensitive`: the same model with and without the protected
# attributes (age band, home country), on the same rows and split.
SENSITIVE_COMPARISON: dict[str, str] = {
    "with_protected": "cancellation_classifier_v1",
    "without_protected": "cancellation_classifier_v2",
}
