"""Materialization pipeline: the latest offline feature values loaded into the online store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, task

from fti.settings import Settings

# Late data: every incremental run starts this much before the previous end, so rows that
# arrived after the last run but carry an older timestamp are still picked up.
OVERLAP = timedelta(hours=1)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


@task(name="apply-feature-definitions", retries=2, retry_delay_seconds=[2, 10])
def apply_feature_definitions(state_dir: str) -> list[str]:
    from fti.store import apply_definitions, open_store

    return apply_definitions(open_store(Settings(state_dir=state_dir)))


@task(name="materialize-feature-view", retries=2, retry_delay_seconds=[2, 10])
def materialize_feature_view(state_dir: str, view: str, end: datetime, full: bool) -> dict[str, Any]:
    from fti.store import open_store

    store = open_store(Settings(state_dir=state_dir))
    fv = store.get_feature_view(view)
    last = fv.most_recent_end_time
    start = EARLIEST if full or last is None else last - OVERLAP
    store.materialize(start_date=start, end_date=end, feature_views=[view])
    return {"view": view, "start": start.isoformat(), "end": end.isoformat()}


@flow(name="materialize", flow_run_name="materialize-{end}")
def materialize_flow(
    end: datetime | None = None, views: list[str] | None = None, full: bool = False
) -> list[dict[str, Any]]:
    """Incremental by default: each view from its last materialized end (minus OVERLAP) to `end`."""
    settings = Settings()
    end = end or datetime.now(UTC)
    names = apply_feature_definitions(str(settings.state_dir))
    return [
        materialize_feature_view(str(settings.state_dir), view, end, full)
        for view in (views or names)
    ]


if __name__ == "__main__":
    materialize_flow()
