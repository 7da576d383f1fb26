"""The scheduled feature pipeline of one source: new landed files -> lake -> features -> online."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task

from flows.features import features_flow
from flows.ingestion import Source, expand, ingestion_flow
from flows.materialize import materialize_flow
from fti.settings import Settings

# Feature groups a source's new rows change from their earliest event time on, groups that must
# be recomputed whole (a new guest's age-band rows start at birth, long before the booking), and
# the views to materialize.
DOWNSTREAM: dict[str, tuple[list[str], list[str], list[str]]] = {
    "prices": (["prices"], [], ["zone_prices"]),
    "bookings": (
        ["bookings"],
        ["guests"],
        [
            "booking_details",
            "hotel_weekly_vacancy",
            "guest_age_band",
            "guest_home_country",
            "guest_session_embedding",
        ],
    ),
    "weather": (["weather"], [], ["weather_daily", "weather_sunshine"]),
}


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest_path(settings: Settings, source: str) -> Path:
    return settings.lake_dir / "_ingested" / f"{source}.json"


def read_manifest(settings: Settings, source: str) -> dict[str, dict[str, Any]]:
    path = manifest_path(settings, source)
    return json.loads(path.read_text()) if path.exists() else {}


@task(name="find-new-raw-files")
def find_new_raw_files(state_dir: str, source: str) -> list[str]:
    """Files in the landing folder whose content was never ingested (renames do not count)."""
    settings = Settings(state_dir=Path(state_dir))
    folder = settings.landing / source
    if not folder.exists():
        return []
    seen = read_manifest(settings, source)
    return [str(p) for p in expand([str(folder)]) if _digest(p) not in seen]


@task(name="record-ingested-files")
def record_ingested_files(
    state_dir: str, source: str, paths: list[str], watermark: datetime
) -> None:
    """Remember the files' contents and the new watermark (after the features are written)."""
    settings = Settings(state_dir=Path(state_dir))
    manifest = read_manifest(settings, source)
    now = datetime.now(UTC).isoformat()
    for raw in paths:
        manifest[_digest(Path(raw))] = {"path": raw, "ingested_at": now}
    manifest["_watermark"] = {"as_of": watermark.isoformat()}
    path = manifest_path(settings, source)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    tmp.replace(path)


def _scheduled_time() -> datetime:
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    return (
        pd.Timestamp(scheduled).tz_convert("UTC").to_pydatetime()
        if scheduled
        else datetime.now(UTC)
    )


def read_watermark(settings: Settings, source: str) -> datetime | None:
    """The `as_of` up to which the last successful run computed features."""
    value = read_manifest(settings, source).get("_watermark", {}).get("as_of")
    return datetime.fromisoformat(value) if value else None


@flow(name="feature-pipeline", flow_run_name="feature-pipeline-{source}")
def feature_pipeline_flow(source: Source, as_of: datetime | None = None) -> dict[str, Any]:
    """Ingest the new files of a source, recompute what they change, materialize up to `as_of`.

    `as_of` defaults to the run's scheduled time. The feature window is [start, as_of) where
    start is the earlier of the new rows' first event and the last run's `as_of` (the
    watermark): rows that landed ahead of their time (tomorrow's day-ahead prices) get their
    features once the schedule reaches them, and a missed run is caught up by the next one.
    New rows from time a on change features from a on (trailing windows, cumulative vacancy).
    A backfill (`fti features backfill`) runs the same features flow on a window of its own.
    """
    settings = Settings()
    as_of = as_of or _scheduled_time()
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    windowed, whole, views = DOWNSTREAM[source]
    watermark = read_watermark(settings, source)
    new = find_new_raw_files(str(settings.state_dir), source)
    summary: dict[str, Any] = {"source": source, "as_of": as_of.isoformat(), "new_files": len(new)}
    starts = [watermark] if watermark else []
    if new:
        ingested: dict[str, Any] = ingestion_flow(source, new)  # type: ignore[assignment]
        summary["ingested"] = ingested
        starts.append(pd.Timestamp(ingested["window"][0]).to_pydatetime())
    if starts and min(starts) < as_of:
        summary["features"] = features_flow(groups=windowed, start=min(starts), end=as_of)
    if new and whole:
        summary["features_whole"] = features_flow(groups=whole)
    record_ingested_files(str(settings.state_dir), source, new, max(as_of, watermark or as_of))
    # Materialization loads the latest row per key in [start, end): after new data it starts at
    # the beginning (one write per key, whatever the history), because late or backdated rows
    # fall before the last materialized end; with nothing new it continues incrementally.
    summary["materialized"] = materialize_flow(end=as_of, views=views, full=bool(new))
    return summary


if __name__ == "__main__":
    import sys

    from fti.prefect_env import in_process_runs

    with in_process_runs():
        feature_pipeline_flow(sys.argv[1])  # type: ignore[call-overload]
