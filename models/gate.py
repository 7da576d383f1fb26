"""The promotion gate as a pure function: inputs in, a decision with its reasons out.

A challenger becomes champion only when every check passes:

1. validation: every feature batch its training data read has a successful validation record
   (and every feature view of the service has at least one);
2. signature: its input signature equals the one the feature service's current schema gives;
3. baseline: it beats the best baseline on the held-out test split by the configured margin;
4. champion: it beats the current champion, scored on the same held-out rows, by the configured
   margin (passes when there is no champion yet, or when the champion can no longer read the
   current features, which is recorded).

Further checks (for example per-group gaps) are passed in as `extra` and gate the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.config import GateConfig
from models.specs import Metric


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class ValidationStatus:
    ok: bool
    detail: str
    batches: int = 0


@dataclass(frozen=True)
class GateInputs:
    metric: Metric
    challenger: float
    baseline_name: str
    baseline: float
    signature: Mapping[str, str]
    expected_signature: Mapping[str, str]
    validation: ValidationStatus
    config: GateConfig
    champion_version: str | None = None
    champion: float | None = None
    champion_note: str = ""
    extra: Sequence[Check] = ()


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str
    checks: list[Check]
    metric: str
    challenger: float
    baseline_name: str
    baseline: float
    delta_baseline: float
    champion_version: str | None
    champion: float | None
    delta_champion: float | None
    extra_tags: dict[str, str] = field(default_factory=dict)

    def tags(self) -> dict[str, str]:
        """Version tags that record the decision (all strings, as the registry wants)."""

        def num(value: float | None) -> str:
            return "" if value is None else f"{value:.6g}"

        tags = {
            "gate.decision": "promoted" if self.promoted else "refused",
            "gate.reason": self.reason[:4900],
            "gate.metric": self.metric,
            f"gate.challenger_{self.metric}": num(self.challenger),
            "gate.baseline": self.baseline_name,
            f"gate.baseline_{self.metric}": num(self.baseline),
            "gate.delta_baseline": num(self.delta_baseline),
            "gate.champion_version": self.champion_version or "",
            f"gate.champion_{self.metric}": num(self.champion),
            "gate.delta_champion": num(self.delta_champion),
            "gate.checks": json.dumps(
                [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks]
            )[:4900],
        }
        tags.update(self.extra_tags)
        return tags

    def as_dict(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "reason": self.reason,
            "metric": self.metric,
            "challenger": self.challenger,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "champion": self.champion,
            "champion_version": self.champion_version,
            "delta_champion": self.delta_champion,
            "delta_baseline": self.delta_baseline,
        }


def signature_differences(actual: Mapping[str, str], expected: Mapping[str, str]) -> list[str]:
    """Human-readable differences between two input schemas (column -> type)."""
    out = [f"missing input {c!r}" for c in expected if c not in actual]
    out += [f"unexpected input {c!r}" for c in actual if c not in expected]
    out += [
        f"input {c!r} is {actual[c]}, the feature service gives {expected[c]}"
        for c in actual
        if c in expected and actual[c] != expected[c]
    ]
    return out


def validation_status(
    records: Sequence[Mapping[str, Any]] | None, required_tables: Sequence[str]
) -> ValidationStatus:
    """Summarise the validation records of the batches a training run read."""
    if records is None:
        return ValidationStatus(False, "no validation records available (validation.records)")
    failed = [r for r in records if not bool(r.get("success"))]
    seen = {str(r.get("table")) for r in records}
    missing = [t for t in required_tables if t not in seen]
    problems = []
    if missing:
        problems.append(f"no validation record for {', '.join(missing)}")
    if failed:
        sample = ", ".join(f"{r.get('table')}:{r.get('batch_id')}" for r in failed[:5])
        problems.append(f"{len(failed)} failed batch(es): {sample}")
    if problems:
        return ValidationStatus(False, "; ".join(problems), len(records))
    return ValidationStatus(True, f"{len(records)} batch(es) passed validation", len(records))


def decide(inputs: GateInputs) -> Decision:
    """Apply every check; the reason names each failed check, or summarises the promotion."""
    metric, cfg = inputs.metric, inputs.config
    checks: list[Check] = []
    if cfg.require_validation:
        checks.append(Check("validation", inputs.validation.ok, inputs.validation.detail))
    else:
        checks.append(Check("validation", True, f"not required ({inputs.validation.detail})"))

    diffs = signature_differences(inputs.signature, inputs.expected_signature)
    checks.append(
        Check(
            "signature",
            not diffs,
            "matches the feature service" if not diffs else "; ".join(diffs[:10]),
        )
    )

    delta_baseline = metric.improvement(inputs.challenger, inputs.baseline)
    beats_baseline = delta_baseline > 0 and delta_baseline >= cfg.min_improvement_over_baseline
    checks.append(
        Check(
            "baseline",
            beats_baseline,
            f"{metric.name} {inputs.challenger:.4g} vs {inputs.baseline_name} "
            f"{inputs.baseline:.4g} (improvement {delta_baseline:+.2%}, "
            f"required > 0 and >= {cfg.min_improvement_over_baseline:.2%})",
        )
    )

    delta_champion: float | None = None
    if inputs.champion is None:
        note = inputs.champion_note or "no champion yet"
        checks.append(Check("champion", True, note))
    else:
        delta_champion = metric.improvement(inputs.challenger, inputs.champion)
        passed = delta_champion >= cfg.min_improvement_over_champion and delta_champion > 0
        checks.append(
            Check(
                "champion",
                passed,
                f"{metric.name} {inputs.challenger:.4g} vs champion v{inputs.champion_version} "
                f"{inputs.champion:.4g} on the same test rows (improvement "
                f"{delta_champion:+.2%}, required >= {cfg.min_improvement_over_champion:.2%})",
            )
        )
    checks.extend(inputs.extra)

    failed = [c for c in checks if not c.passed]
    promoted = not failed
    if promoted:
        reason = "all checks passed: " + "; ".join(f"{c.name}: {c.detail}" for c in checks)
    else:
        reason = "refused: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
    return Decision(
        promoted=promoted,
        reason=reason,
        checks=checks,
        metric=metric.name,
        challenger=inputs.challenger,
        baseline_name=inputs.baseline_name,
        baseline=inputs.baseline,
        delta_baseline=delta_baseline,
        champion_version=inputs.champion_version,
        champion=inputs.champion,
        delta_champion=delta_champion,
    )
