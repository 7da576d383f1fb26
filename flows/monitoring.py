"""Monitoring pipeline: realized metrics, drift, freshness; every failed check raises an alert.

One run, as of a time (default now):

- realized metrics: the stored predictions joined with their outcomes once known (the realized
  price of each delivery hour; a booking's cancellation once its arrival date has passed), per
  model version and period (price: local delivery day, cancellation: arrival week), logged to
  MLflow in one run per model version (experiment `monitoring`, metrics `realized_<metric>`,
  step = period). A champion whose realized primary metric over the last week is worse than
  `performance_factor` times its test metric raises an alert;
- drift: PSI and KS per input feature between the champion's training split (re-read through its
  feature service, cached per version) and the inputs batch inference logged over the last
  `drift_days`; scaled features outside [0, 1] and categories never seen in training are counted;
- freshness: every feature view the models read, and the prediction views (by the time their
  predictions were issued), against its objective (tag, else twice its schedule).

Alerts are a Prefect artifact (`monitoring-alerts`) and one Prefect event each
(`fti.monitoring.alert`), optionally POSTed as JSON to Settings.monitoring_webhook_url, and make
`fti monitor` exit non-zero. Also published: the drift tables (`drift-price`,
`drift-cancellation`) and the predicted-vs-actual price plot (`price-predicted-vs-actual`, PNG
under <state>/monitoring/ and on the champion's monitoring run in MLflow).
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES, LAKE
from models.prepare import PRICE_CALENDAR
from monitoring.alerts import Alert, freshness_alerts

log = logging.getLogger(__name__)

KINDS = ("price", "cancellation")
EXPERIMENT = "monitoring"
PERIOD = {"price": "D", "cancellation": "W-SUN"}
REFERENCE_ROWS = {"price": 5_000, "cancellation": 20_000}
# Inputs that follow the calendar by construction: a recent window always "drifts" from a
# training period of many months, so they are not monitored for drift.
SEASONAL = frozenset({*PRICE_CALENDAR, "same_hour_age_h", "arrival_month", "arrival_week_number"})


def monitoring_dir(settings: Settings) -> Path:
    return settings.state_dir / "monitoring"


def _utc(value: datetime | pd.Timestamp | None) -> pd.Timestamp:
    ts = pd.Timestamp(value or datetime.now(UTC))
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _step(period: pd.Timestamp) -> int:
    """A period's MLflow step: days since 1970-01-01 (increasing, stable across runs)."""
    return int(pd.Timestamp(period).value // (86_400 * 10**9))


def _publish(kind: str, key: str, content: Any, description: str) -> None:
    """A Prefect artifact (markdown or table); never fails the run it describes."""
    try:
        from prefect.artifacts import create_markdown_artifact, create_table_artifact
        from prefect.context import FlowRunContext

        if FlowRunContext.get() is None:
            return
        if kind == "table":
            create_table_artifact(key=key, table=content, description=description)
        else:
            create_markdown_artifact(key=key, markdown=content, description=description)
    except Exception as exc:
        log.warning("artifact %s not published: %s", key, exc)


# -- freshness ------------------------------------------------------------------------------


@task(name="check-freshness", cache_policy=NO_CACHE)
def check_freshness(state_dir: str, as_of: datetime) -> list[dict[str, Any]]:
    """Every view the models read, by its pipeline's newest row; the prediction views by when
    their latest predictions were issued (a row is stamped with the hour it is for)."""
    from flows.batch_inference import predictions_root
    from flows.deployments import SCHEDULES
    from fti.store import open_store
    from models.specs import SPECS
    from monitoring.freshness import assess, newest_before, objective

    settings = Settings(state_dir=Path(state_dir))
    store = open_store(settings)
    crons = {s.name: settings.schedules.get(s.name, s.cron) for s in SCHEDULES}
    when = _utc(as_of)
    views = sorted(
        {
            p.name
            for spec in SPECS.values()
            for p in store.get_feature_service(spec.feature_service).feature_view_projections
        }
    )
    newest = {}
    for view in views:
        stamps = lake.read_table(FEATURES[view].root(settings), columns=["event_timestamp"])
        newest[view] = newest_before(stamps["event_timestamp"], when)
    issued = {}
    for kind in SPECS:
        made = lake.read_table(predictions_root(settings, kind), columns=["as_of"])
        issued[f"{kind}_predictions"] = newest_before(made["as_of"], when)
    goals = {
        view: objective(view, dict(store.get_feature_view(view).tags), crons)
        for view in [*newest, *issued]
    }
    rows = assess(newest, goals, when) + assess(issued, goals, when, by_pipeline=False)
    return [f.as_dict() | {"message": f.message()} for f in rows]


# -- realized metrics -----------------------------------------------------------------------


def _joined(settings: Settings, kind: str, as_of: pd.Timestamp) -> pd.DataFrame:
    from flows.batch_inference import predictions_root
    from monitoring.outcomes import cancellation_outcomes, price_outcomes

    predictions = lake.read_table(predictions_root(settings, kind))
    if predictions.empty:
        return pd.DataFrame()
    if kind == "price":
        prices = lake.read_table(
            LAKE["prices"].root(settings), columns=["zone", "ts", "price_eur_mwh"]
        )
        prices = prices[pd.to_datetime(prices["ts"], utc=True) < as_of]  # known by as_of
        return price_outcomes(predictions, prices)
    labels = lake.read_table(
        LAKE["booking_labels"].root(settings), columns=["booking_id", "is_canceled"]
    )
    arrivals = lake.read_table(
        LAKE["bookings"].root(settings), columns=["booking_id", "arrival_date"]
    )
    return cancellation_outcomes(predictions, labels, arrivals, as_of)


@task(name="log-realized-metrics", cache_policy=NO_CACHE)
def log_realized_metrics(
    state_dir: str,
    kind: str,
    as_of: datetime,
    recent_days: float,
    plot_days: float,
    performance_factor: float,
    min_rows: int,
) -> dict[str, Any]:
    """Predictions joined with outcomes known by as_of; metrics per version and period to
    MLflow; the champion's recent realized metric against its test metric; the price plot."""
    from models.specs import SPECS
    from models.tracking import Tracking
    from monitoring.outcomes import METRICS, by_period

    settings = Settings(state_dir=Path(state_dir))
    spec = SPECS[kind]
    when = _utc(as_of)
    tracking = Tracking(settings)
    champion = tracking.alias_version(spec.registered_name, "champion")
    joined = _joined(settings, kind, when)
    summary: dict[str, Any] = {"model": spec.registered_name, "champion": champion, "rows": 0}
    alerts: list[Alert] = []
    if joined.empty:
        summary["note"] = "no prediction with a known outcome yet"
        return {"summary": summary, "alerts": []}
    periods = by_period(kind, joined, PERIOD[kind])
    # Only periods over by as_of go to MLflow: a logged step is never rewritten, so a day
    # logged half-way would keep its partial value.
    local = when.tz_convert("Europe/Stockholm" if kind == "price" else "UTC").tz_localize(None)
    length = pd.Timedelta(days=1 if kind == "price" else 7)
    periods = periods[(periods["period"] + length <= local).to_numpy()]
    runs: dict[str, str] = {}
    for version, part in periods.groupby("model_version"):
        version = str(version)
        info = tracking.version(spec.registered_name, version)
        runs[version] = run_id = tracking.find_or_create_run(
            EXPERIMENT,
            f"realized-{spec.registered_name}-v{version}",
            {"monitoring.model": spec.registered_name, "monitoring.model_version": version},
        )
        tracking.set_run_tags(
            run_id,
            {"training_run_id": info.run_id, "feature_service": spec.feature_service},
        )
        metrics = [c for c in part.columns if c not in ("model_version", "period")]
        points = [
            (f"realized_{m}", float(row[m]), row["period"], _step(row["period"]))
            for _, row in part.iterrows()
            for m in metrics
            if pd.notna(row[m])
        ]
        tracking.log_metric_series(run_id, points)
    summary["rows"] = len(joined)
    summary["versions"] = sorted(runs, key=int)
    summary["monitoring_runs"] = runs
    if champion is not None:
        recent = joined[
            (joined["model_version"].astype(str) == champion)
            & (joined["day"] >= (when - pd.Timedelta(days=recent_days)).tz_localize(None))
        ]
        realized = METRICS[kind](recent)
        summary["recent_days"] = recent_days
        summary["recent"] = {k: round(v, 6) for k, v in realized.items()}
        primary = spec.primary.name
        test = tracking.version(spec.registered_name, champion).tags.get(f"test_{primary}")
        summary[f"test_{primary}"] = float(test) if test else None
        if realized and realized["n"] >= min_rows and test:
            tracking.set_version_tags(
                spec.registered_name,
                champion,
                {
                    f"monitoring.realized_{primary}": f"{realized[primary]:.6g}",
                    "monitoring.realized_rows": str(int(realized["n"])),
                    "monitoring.as_of": when.isoformat(),
                },
            )
            worse = (
                realized[primary] < float(test) / performance_factor
                if spec.primary.higher_is_better
                else realized[primary] > float(test) * performance_factor
            )
            if worse:
                alerts.append(
                    Alert(
                        "performance",
                        spec.registered_name,
                        f"v{champion}: realized {primary} {realized[primary]:.4g} over the last "
                        f"{recent_days:g} days vs {float(test):.4g} on its test split "
                        f"(tolerance x{performance_factor:g})",
                        {"realized": realized, "test": float(test), "version": champion},
                    )
                )
    if kind == "price":
        summary["plot"] = _price_plot(settings, tracking, joined, when, plot_days, runs, champion)
    return {"summary": summary, "alerts": [a.as_dict() for a in alerts]}


def _price_plot(
    settings: Settings,
    tracking: Any,
    joined: pd.DataFrame,
    when: pd.Timestamp,
    days: float,
    runs: dict[str, str],
    champion: str | None,
) -> str | None:
    from monitoring.plots import predicted_vs_actual

    recent = joined[joined["event_timestamp"] >= when - pd.Timedelta(days=days)]
    if recent.empty:
        return None
    path = monitoring_dir(settings) / "plots" / "price_predicted_vs_actual.png"
    predicted_vs_actual(recent, path, settings.state_dir / "cache" / "matplotlib")
    run_id = runs.get(champion or "") or next(iter(runs.values()), None)
    if run_id:
        tracking.log_artifact(run_id, path, "plots")
    encoded = base64.b64encode(path.read_bytes()).decode()
    _publish(
        "markdown",
        "price-predicted-vs-actual",
        f"# Price: predicted vs actual, last {days:g} days\n\n"
        f"![predicted vs actual](data:image/png;base64,{encoded})\n\n"
        f"File: `{path}`; also on MLflow run `{run_id}` (experiment `{EXPERIMENT}`).\n",
        f"predicted vs actual day-ahead prices up to {when:%Y-%m-%d}",
    )
    return str(path)


# -- drift ----------------------------------------------------------------------------------


def reference_inputs(settings: Settings, kind: str, version: str) -> pd.DataFrame:
    """The champion's training-split inputs (sampled, seeded), re-read point-in-time through
    its feature service and prepared like training; cached per version."""
    from fti.store import open_store
    from models.data import (
        assemble_price_features,
        booking_entities,
        price_rows,
        retrieve,
        utc,
    )
    from models.prepare import prepare_features
    from models.specs import SPECS
    from models.tracking import Tracking

    spec = SPECS[kind]
    path = monitoring_dir(settings) / "reference" / spec.registered_name / f"v{version}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    tracking = Tracking(settings)
    info = tracking.version(spec.registered_name, version)
    params, _, _ = tracking.run_data(info.run_id)
    start, end = utc(params["data.start"]), utc(params["split.validation_start"])
    service = params.get("feature_service", spec.feature_service)
    schema = tracking.input_schema(spec.registered_name, version)
    rng = np.random.default_rng(0)
    store = open_store(settings)
    if kind == "price":
        prices = lake.read_table(LAKE["prices"].root(settings), columns=["zone", "ts"])
        times = pd.to_datetime(prices["ts"], utc=True)
        prices = prices[((times >= start) & (times < end)).to_numpy()]
        take = np.sort(
            rng.choice(len(prices), min(len(prices), REFERENCE_ROWS[kind]), replace=False)
        )
        prices = prices.iloc[take]
        raw = assemble_price_features(store, service, price_rows(prices["zone"], prices["ts"]))
        raw = raw[raw["same_hour_last_day"].notna() & raw["same_hour_last_week"].notna()]
    else:
        rows = booking_entities(settings, start, end).drop(columns=["label_time"])
        take = np.sort(rng.choice(len(rows), min(len(rows), REFERENCE_ROWS[kind]), replace=False))
        raw = retrieve(store, service, rows.iloc[take])
    prepared = prepare_features(kind, raw)  # type: ignore[arg-type]
    frame = prepared[[c for c in schema if c in prepared.columns]].reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)
    return frame


@task(name="check-drift", cache_policy=NO_CACHE)
def check_drift(
    state_dir: str,
    kind: str,
    as_of: datetime,
    days: float,
    psi_threshold: float,
    ks_threshold: float,
    unseen_share: float,
    min_rows: int,
) -> dict[str, Any]:
    """PSI/KS per feature, scaled values outside [0, 1] and unseen categories: the champion's
    training split against the inputs batch inference logged in the last `days`."""
    from flows.batch_inference import inputs_root
    from models.specs import SPECS
    from models.tracking import Tracking
    from monitoring.alerts import drift_alerts
    from monitoring.drift import drift_table

    settings = Settings(state_dir=Path(state_dir))
    spec = SPECS[kind]
    when = _utc(as_of)
    champion = Tracking(settings).alias_version(spec.registered_name, "champion")
    summary: dict[str, Any] = {"model": spec.registered_name, "champion": champion}
    if champion is None:
        return {"summary": summary | {"note": "no champion"}, "alerts": []}
    current = lake.read_table(inputs_root(settings, kind))
    if not current.empty:
        stamps = pd.to_datetime(current["event_timestamp"], utc=True)
        # Price rows are stamped with the delivery hour, up to two days after their issue.
        window = (stamps >= when - pd.Timedelta(days=days)) & (stamps < when + pd.Timedelta(days=2))
        current = current[window.to_numpy() & (current["model_version"].astype(str) == champion)]
    summary["rows"] = len(current)
    if len(current) < min_rows:
        summary["note"] = f"{len(current)} inference rows in the last {days:g} days (< {min_rows})"
        return {"summary": summary, "alerts": []}
    reference = reference_inputs(settings, kind, champion)
    columns = [c for c in reference.columns if c in current.columns and c not in SEASONAL]
    rows = drift_table(reference[columns], current[columns], psi_threshold, ks_threshold)
    alerts = drift_alerts(
        spec.registered_name,
        champion,
        rows,
        len(current),
        psi_threshold,
        ks_threshold,
        unseen_share,
    )
    table = [
        {
            k: (round(v, 4) if isinstance(v, float) and np.isfinite(v) else v)
            for k, v in r.as_dict().items()
        }
        for r in rows
    ]
    for row in table:  # NaN is not JSON
        for k, v in row.items():
            if isinstance(v, float) and not np.isfinite(v):
                row[k] = None
    _publish(
        "table",
        f"drift-{kind}",
        table,
        f"{spec.registered_name} v{champion}: {len(current)} inference rows vs "
        f"{len(reference)} training rows; PSI > {psi_threshold:g} and KS > {ks_threshold:g} drifts",
    )
    summary.update(
        {
            "reference_rows": len(reference),
            "features": len(rows),
            "drifted": sorted(r.feature for r in rows if r.drifted),
            "out_of_range": int(sum(r.out_of_range for r in rows)),
            "unseen": int(sum(r.unseen for r in rows)),
            "table": table,
        }
    )
    return {"summary": summary, "alerts": [a.as_dict() for a in alerts]}


# -- alerts ---------------------------------------------------------------------------------


@task(name="raise-alerts", cache_policy=NO_CACHE)
def raise_alerts(alerts: list[dict[str, Any]], as_of: str, webhook_url: str) -> dict[str, Any]:
    """One Prefect event per alert, the alerts artifact, and the webhook POST (if configured)."""
    from monitoring.alerts import markdown, post_webhook

    objects = [Alert(**a) for a in alerts]
    _publish(
        "markdown",
        "monitoring-alerts",
        f"# Monitoring as of {as_of}\n\n{markdown(objects)}\n",
        f"{len(objects)} alert(s)",
    )
    events = 0
    from prefect.context import FlowRunContext

    for a in objects if FlowRunContext.get() is not None else []:
        try:
            from prefect.events import emit_event

            event = emit_event(
                event="fti.monitoring.alert",
                resource={
                    "prefect.resource.id": f"fti.monitoring.{a.check}.{a.subject}",
                    "prefect.resource.name": a.subject,
                    "fti.check": a.check,
                },
                payload=a.as_dict() | {"as_of": as_of},
            )
            events += event is not None
        except Exception as exc:
            log.warning("alert event not emitted: %s", exc)
    out: dict[str, Any] = {"alerts": len(objects), "events": events}
    if objects and webhook_url:
        try:
            out["webhook_status"] = post_webhook(
                webhook_url, {"source": "fti-platform", "as_of": as_of, "alerts": alerts}
            )
        except Exception as exc:  # the alert is already recorded: report, never crash
            log.warning("webhook %s failed: %s", webhook_url, exc)
            out["webhook_error"] = str(exc)
    return out


@flow(name="monitoring", flow_run_name="monitoring")
def monitoring_flow(
    as_of: datetime | None = None,
    drift_days: float = 14.0,
    recent_days: float = 7.0,
    plot_days: float = 28.0,
    psi_threshold: float = 0.25,
    ks_threshold: float = 0.2,
    unseen_share: float = 0.01,
    performance_factor: float = 1.5,
    min_rows: int = 50,
) -> dict[str, Any]:
    """Realized metrics, drift and freshness as of a time (default now); returns the summary
    with every alert (`ok` is False when any check failed)."""
    settings = Settings()
    state_dir = str(settings.state_dir)
    when = _utc(as_of).to_pydatetime()
    summary: dict[str, Any] = {"as_of": when.isoformat(), "realized": {}, "drift": {}}
    alerts: list[dict[str, Any]] = []
    fresh = check_freshness(state_dir, when)
    summary["freshness"] = fresh
    alerts += [a.as_dict() for a in freshness_alerts(fresh)]
    for kind in KINDS:
        realized = log_realized_metrics(
            state_dir, kind, when, recent_days, plot_days, performance_factor, min_rows
        )
        drift = check_drift(
            state_dir, kind, when, drift_days, psi_threshold, ks_threshold, unseen_share, min_rows
        )
        summary["realized"][kind] = realized["summary"]
        summary["drift"][kind] = drift["summary"]
        alerts += realized["alerts"] + drift["alerts"]
    summary["alerts"] = alerts
    summary["ok"] = not alerts
    summary["delivery"] = raise_alerts(alerts, when.isoformat(), settings.monitoring_webhook_url)
    log.info("monitoring as of %s: %d alert(s)", when.isoformat(), len(alerts))
    return summary


if __name__ == "__main__":
    from fti.prefect_env import in_process_runs

    with in_process_runs():
        monitoring_flow()
