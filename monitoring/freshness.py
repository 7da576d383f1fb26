"""Freshness objectives of feature views: a view's tag, else twice the period of its schedule."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

# The scheduled deployment that writes each feature view (flows/deployments.py SCHEDULES).
WRITER = {
    "zone_prices": "feature-pipeline-prices",
    "booking_details": "feature-pipeline-bookings",
    "hotel_weekly_vacancy": "feature-pipeline-bookings",
    "guest_age_band": "feature-pipeline-bookings",
    "guest_home_country": "feature-pipeline-bookings",
    "guest_session_embedding": "feature-pipeline-bookings",
    "weather_daily": "feature-pipeline-weather",
    "weather_sunshine": "feature-pipeline-weather",
    "price_predictions": "batch-inference-price",
    "cancellation_predictions": "batch-inference-cancellation",
}


def parse_duration(text: str) -> timedelta:
    """'2d', '36h', '90m' -> timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhm])\s*", text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 2d, 36h, 90m)")
    value, unit = float(match.group(1)), match.group(2)
    return timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: value})


def cron_period(cron: str) -> timedelta:
    """The interval between runs of a simple cron (every N minutes/hours, daily, weekly,
    monthly); anything more irregular counts as daily."""
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"not a 5-field cron: {cron!r}")
    minute, hour, dom, month, dow = fields

    def step(field: str) -> int | None:
        if field == "*":
            return 1
        found = re.fullmatch(r"\*/(\d+)", field)
        return int(found.group(1)) if found else None

    if step(minute) is not None:
        return timedelta(minutes=step(minute) or 1)
    if step(hour) is not None:
        return timedelta(hours=step(hour) or 1)
    if dom == "*" and month == "*" and dow != "*":
        return timedelta(days=7) if re.fullmatch(r"\d", dow) else timedelta(days=1)
    if dom != "*" and month == "*":
        return timedelta(days=31)
    return timedelta(days=1)


def objective(view: str, tags: dict[str, str], crons: dict[str, str]) -> timedelta:
    """The view's `freshness_objective` tag, else twice the period of the schedule writing it
    (crons: deployment name -> cron, with the settings' overrides applied)."""
    if tags.get("freshness_objective"):
        return parse_duration(tags["freshness_objective"])
    writer = WRITER.get(view)
    if writer is None or writer not in crons:
        return timedelta(days=2)
    return 2 * cron_period(crons[writer])


@dataclass(frozen=True)
class Freshness:
    view: str
    newest: pd.Timestamp | None  # the view's own newest row at or before as_of
    watermark: pd.Timestamp | None  # its pipeline's newest row (what the age is measured on)
    age: timedelta | None
    objective: timedelta

    @property
    def ok(self) -> bool:
        return self.age is not None and self.age <= self.objective

    def message(self) -> str:
        if self.watermark is None:
            return f"{self.view}: no rows (freshness objective {self.objective})"
        return (
            f"{self.view}: newest data {self.watermark.isoformat()} is {self.age} old, "
            f"beyond its freshness objective of {self.objective}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "view": self.view,
            "newest": None if self.newest is None else self.newest.isoformat(),
            "watermark": None if self.watermark is None else self.watermark.isoformat(),
            "age_hours": None if self.age is None else round(self.age.total_seconds() / 3600, 2),
            "objective_hours": round(self.objective.total_seconds() / 3600, 2),
            "ok": self.ok,
        }


def newest_before(stamps: pd.Series, as_of: pd.Timestamp) -> pd.Timestamp | None:
    times = pd.to_datetime(stamps, utc=True)
    times = times[times <= as_of]
    return None if times.empty else pd.Timestamp(times.max())


def assess(
    newest: dict[str, pd.Timestamp | None],
    objectives: dict[str, timedelta],
    as_of: pd.Timestamp,
    by_pipeline: bool = True,
) -> list[Freshness]:
    """Freshness of each view (name -> newest row at or before as_of) against its objective."""
    marks = pipeline_newest(newest) if by_pipeline else dict(newest)
    out = []
    for view, own in newest.items():
        mark = marks[view]
        age = None if mark is None else (as_of - mark).to_pytimedelta()
        out.append(Freshness(view, own, mark, age, objectives[view]))
    return out


def pipeline_newest(newest: dict[str, pd.Timestamp | None]) -> dict[str, pd.Timestamp | None]:
    """Each view's newest event time, as the newest of all views its pipeline writes.

    Views keyed by entities whose events follow the entity's life (a guest's birthdays, the end
    of a session) can go days without a new row while their pipeline is perfectly current: the
    pipeline's data watermark is the newest row it wrote to any of its views.
    """
    best: dict[str, pd.Timestamp] = {}
    for view, ts in newest.items():
        group = WRITER.get(view, view)
        if ts is not None and (group not in best or ts > best[group]):
            best[group] = ts
    return {view: best.get(WRITER.get(view, view)) for view in newest}
