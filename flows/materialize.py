"""Materialization pipeline: the latest offline feature values gated into the online store.

Before a view is loaded, what Feast is about to load (the latest offline row per entity in the
window) passes the view's suite. Feast writes into private copies of the SQLite online store and
the registry (validation/run.py stages them); the run commits them with one swap, so a failed
validation, a failed write or a killed process leaves the online store exactly as it was.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from fti import lake
from fti.settings import FEATURE_REPO, Settings
from fti.tables import FEATURES, LAKE, PREDICTION_VIEWS
from validation.run import GateRun

if TYPE_CHECKING:
    from feast import FeatureStore

log = logging.getLogger(__name__)

# Late data: every incremental run starts this much before the previous end, so rows that
# arrived after the last run but carry an older timestamp are still picked up.
OVERLAP = timedelta(hours=1)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


def staged_store(run: GateRun) -> tuple[FeatureStore, bool]:
    """A FeatureStore whose registry and online store are the run's private copies.

    Returns (store, staged). Only file-based stores (the embedded SQLite default) can be
    staged; a server-based online store (Redis) and registry (PostgreSQL) are written directly
    after validation: the run's views go into the online store in one transaction (see
    materialize_feature_views) and the registry advances only after it committed.
    """
    from feast import FeatureStore, RepoConfig

    from fti.store import render_config, source_kind

    config = render_config(run.settings)
    staged = True
    for section in ("registry", "online_store"):
        value = config.get(section)
        if isinstance(value, str):  # `registry: path/to/registry.db`
            value = config[section] = {"registry_type": "file", "path": value}
        if not isinstance(value, dict):
            staged = False
            continue
        path = value.get("path")
        kind = str(
            value.get("registry_type", "file") if section == "registry" else value.get("type")
        )
        if path and (kind in ("file", "sqlite") or kind.endswith("SqliteOnlineStore")):
            try:
                value["path"] = str(run.stage_file(Path(path)))
                continue
            except ValueError:  # outside the state folder: cannot be staged
                pass
        staged = False
    run.settings.feast_dir.mkdir(parents=True, exist_ok=True)
    if not staged:
        log.warning("online store or registry outside the state folder: not staged")
    repo_config = RepoConfig(repo_path=FEATURE_REPO, **config)
    if source_kind(repo_config) == "spark":
        from features.spark.session import prepare_driver

        prepare_driver(run.settings)  # Spark's Python workers on the project's Python
    return FeatureStore(config=repo_config, repo_path=str(FEATURE_REPO)), staged


def close_store(store: FeatureStore) -> None:
    """Close Feast's SQLite connection so the staged file is complete before the swap."""
    with suppress(Exception):
        online = store._get_provider().online_store  # type: ignore[attr-defined]
        conn = getattr(online, "_conn", None)
        if conn is not None:
            conn.close()
            setattr(online, "_conn", None)  # noqa: B010 (a private attribute of Feast's store)


@task(
    name="apply-feature-definitions", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE
)
def apply_feature_definitions(store: FeatureStore) -> list[str]:
    from fti.store import apply_definitions

    return apply_definitions(store)


def rows_to_load(settings: Settings, view: str, start: datetime, end: datetime) -> pd.DataFrame:
    """What Feast loads: the latest offline row per entity with start <= event_timestamp < end."""
    table = FEATURES[view]
    frame = lake.read_table(table.root(settings))
    if frame.empty:
        return frame
    stamp = frame["event_timestamp"]
    frame = frame[(stamp >= pd.Timestamp(start)) & (stamp < pd.Timestamp(end))]
    entity = [k for k in table.key if k != "event_timestamp"]
    latest = frame.sort_values("event_timestamp", kind="stable").drop_duplicates(
        entity, keep="last"
    )
    return latest.sort_values(list(table.key)).reset_index(drop=True)


@task(name="validate-online-batch", cache_policy=NO_CACHE)
def validate_online_batch(run: GateRun, view: str, start: datetime, end: datetime) -> bool:
    """Validate what is about to be loaded; False when the gate rejects it."""
    from validation.suites import REFERENCES

    rows = rows_to_load(run.settings, view, start, end)
    if rows.empty:
        return True
    references = {
        ref: lake.read_table(LAKE[table].root(run.settings))
        for ref, table in REFERENCES.get(view, {}).items()
    }
    decision = run.check(
        view,
        rows,
        kind="online",
        references=references,
        window=(pd.Timestamp(start), pd.Timestamp(end)),
    )
    return not decision.rejected


@task(
    name="materialize-feature-views", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE
)
def materialize_feature_views(
    store: FeatureStore, views: list[str], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Every view in one Feast materialize call: all written and registered, or none.

    Our batch engine (fti.feast_online.ArrowWriteComputeEngine) writes the views in one
    transaction of the online store (one Redis MULTI/EXEC, one SQLite transaction) and Feast
    records the views' intervals in the registry only after it committed.
    """
    from fti.store import source_kind

    # Feast's Spark engine reads start <= t <= end, the gate checked start <= t < end: a row
    # exactly on the end is left to the next window, as the default engine does.
    last = end - timedelta(microseconds=1) if source_kind(store.config) == "spark" else end
    store.materialize(start_date=start, end_date=last, feature_views=views)
    lake.fault_point("online.write")
    return [{"view": v, "start": start.isoformat(), "end": end.isoformat()} for v in views]


@task(name="commit-run", cache_policy=NO_CACHE)
def commit_run(run: GateRun) -> dict[str, Any]:
    lake.fault_point("flow.commit")
    return run.finish()


@flow(name="materialize", flow_run_name="materialize-{end}")
def materialize_flow(
    end: datetime | None = None, views: list[str] | None = None, full: bool = False
) -> Any:
    """Incremental by default: each view from its last materialized end (minus OVERLAP) to `end`."""
    from flows.ingestion import _flow_run_id, gate_failure
    from validation.runcard import publish

    settings = Settings()
    end = end or datetime.now(UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    run = GateRun(settings, "materialize", _flow_run_id())
    out: list[dict[str, Any]] = []
    try:
        store, _ = staged_store(run)
        try:
            names = apply_feature_definitions(store)
            # Prediction views are loaded by batch inference itself, after it writes them.
            plan = views or [n for n in names if n not in PREDICTION_VIEWS]
            # One window for all views (one all-or-nothing Feast call): from the earliest view's
            # last end. A view loaded from earlier than its own last end gets the same latest
            # rows again (idempotent), so only the load grows.
            lasts = [store.get_feature_view(view).most_recent_end_time for view in plan]
            start = (
                EARLIEST
                if full or any(last is None for last in lasts)
                else min(last for last in lasts if last is not None) - OVERLAP
            )
            for view in plan:
                validate_online_batch(run, view, start, end)
            if not run.failed and plan:
                out = materialize_feature_views(store, plan, start, end)
        finally:
            close_store(store)
        report = commit_run(run)
    except BaseException:
        run.abort()
        raise
    if not report["failed"]:
        from fti.status import collect

        report["freshness"] = {
            s.view: {
                "newest": s.online_last_event,
                "age_hours": s.freshness_hours,
                "rows": s.online_entities,
            }
            for s in collect(settings)
            if s.view in {o["view"] for o in out}
        }
    publish(report, "materialize")
    if report["failed"]:
        return gate_failure(report, run.error())
    return out


if __name__ == "__main__":
    from fti.prefect_env import in_process_runs

    with in_process_runs():
        materialize_flow()
