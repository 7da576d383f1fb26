"""Feature policy: which sensitivity classes a model may read, checked before any data is read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from models.config import FeaturePolicy

UNCLASSIFIED = "unclassified"


class FeaturePolicyViolation(ValueError):
    """A feature service serves features the model's policy does not allow."""


def violations(
    features: Sequence[Mapping[str, str]], policy: FeaturePolicy
) -> dict[str, list[str]]:
    """Sensitivity class -> the served features of that class the policy does not allow.

    features: rows of models.lineage.service_metadata (view, feature, dtype, sensitivity).
    """
    out: dict[str, list[str]] = {}
    for row in features:
        sensitivity = row.get("sensitivity") or UNCLASSIFIED
        if sensitivity not in policy.allowed:
            out.setdefault(sensitivity, []).append(f"{row['view']}:{row['feature']}")
    return out


def check(
    model: str, service: str, features: Sequence[Mapping[str, str]], policy: FeaturePolicy
) -> None:
    """Raise FeaturePolicyViolation naming every disallowed feature of the service."""
    found = violations(features, policy)
    if not found:
        return
    listed = "; ".join(f"{cls}: {', '.join(names)}" for cls, names in sorted(found.items()))
    allowed = ", ".join(policy.allowed) or "nothing"
    raise FeaturePolicyViolation(
        f"feature service {service} breaks the feature policy of the {model} model "
        f"(allowed: {allowed}): {listed}"
    )
