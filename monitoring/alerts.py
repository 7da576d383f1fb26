"""Alerts of failed monitoring checks: the record, and delivery to an optional webhook."""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitoring.drift import FeatureDrift

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    """One failed check: which (freshness, drift, range, unseen, performance), about what."""

    check: str
    subject: str  # the feature view, model or feature concerned
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def post_webhook(url: str, payload: dict[str, Any], timeout_s: float = 10.0) -> int:
    """POST the payload as JSON; returns the HTTP status (raises on a network error)."""
    body = json.dumps(payload, default=str).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return int(response.status)


def markdown(alerts: list[Alert]) -> str:
    if not alerts:
        return "No alerts: every check passed."
    lines = ["| check | subject | message |", "|---|---|---|"]
    lines += [f"| {a.check} | {a.subject} | {a.message} |" for a in alerts]
    return "\n".join(lines)


def drift_alerts(
    model: str,
    version: str,
    rows: list[FeatureDrift],
    n_current: int,
    psi_threshold: float,
    ks_threshold: float,
    unseen_share: float,
) -> list[Alert]:
    """At most three alerts per model: features whose PSI and KS passed their thresholds, scaled
    features outside [0, 1], categories unseen in training (above a share of the rows)."""
    import math

    def fmt(x: float) -> str:
        return "-" if not math.isfinite(x) else f"{x:.2f}"

    from monitoring.drift import shifted

    drifted = [
        r for r in rows if r.kind == "numeric" and shifted(r.psi, r.ks, psi_threshold, ks_threshold)
    ]
    outside = [r for r in rows if r.out_of_range]
    unseen = [r for r in rows if r.unseen and r.unseen > unseen_share * n_current]
    out = []
    if drifted:
        listed = ", ".join(f"{r.feature} (PSI {fmt(r.psi)}, KS {fmt(r.ks)})" for r in drifted)
        out.append(
            Alert(
                "drift",
                model,
                f"v{version}: {len(drifted)} of {len(rows)} features drifted from training "
                f"(PSI > {psi_threshold:g} and KS > {ks_threshold:g}): {listed}",
                {"version": version, "features": {r.feature: [r.psi, r.ks] for r in drifted}},
            )
        )
    if outside:
        listed = ", ".join(f"{r.feature} ({r.out_of_range})" for r in outside)
        out.append(
            Alert(
                "range",
                model,
                f"v{version}: scaled values outside [0, 1]: {listed}",
                {"version": version, "features": {r.feature: r.out_of_range for r in outside}},
            )
        )
    if unseen:
        listed = ", ".join(f"{r.feature} ({r.unseen} of {n_current})" for r in unseen)
        out.append(
            Alert(
                "unseen",
                model,
                f"v{version}: categories never seen in training: {listed}",
                {"version": version, "features": {r.feature: r.unseen for r in unseen}},
            )
        )
    return out


def freshness_alerts(rows: list[dict[str, Any]]) -> list[Alert]:
    """One alert per stale view (rows: Freshness.as_dict() of each view)."""
    out = []
    for f in rows:
        if f["ok"]:
            continue
        if f["age_hours"] is None:
            message = f"no rows (objective {f['objective_hours']:g} h)"
        else:
            message = (
                f"newest data {str(f['watermark'])[:19]} is {f['age_hours']:,.1f} h old, beyond "
                f"its freshness objective of {f['objective_hours']:g} h"
            )
        out.append(Alert("freshness", str(f["view"]), message, dict(f)))
    return out
