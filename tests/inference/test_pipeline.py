"""Batch inference, monitoring and the prediction service on the tiny synthetic platform.

One platform run per module (it now ends with batch inference and monitoring); the tests then
move the clock and the champion around it. The last test shifts prices in the lake, so it
stays last.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pandas as pd
import pytest

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES, LAKE

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _harness(prefect_harness: None) -> None:
    """Flows run against the session's Prefect harness."""


@pytest.fixture(scope="module")
def platform(state: Settings, prefect_harness: None) -> dict[str, Any]:
    from flows.orchestrator import platform_flow
    from models.registry import override_promote
    from models.tracking import Tracking

    summary = platform_flow(data="synthetic", size="tiny", until_today=False)
    # On 30 days of data the gate may refuse the classifier: a recorded human override makes
    # it champion, so both models can be served and monitored here.
    tracking = Tracking(state)
    if tracking.alias_version("cancellation_classifier", "champion") is None:
        override_promote(tracking, "cancellation_classifier", "1", "test: tiny data")
    return summary


def _champion(state: Settings, name: str) -> str:
    from models.tracking import Tracking

    version = Tracking(state).alias_version(name, "champion")
    assert version is not None
    return version


def _split(state: Settings, name: str, key: str) -> pd.Timestamp:
    from models.tracking import Tracking

    tracking = Tracking(state)
    run_id = tracking.version(name, _champion(state, name)).run_id
    return pd.Timestamp(tracking.run_data(run_id)[0][key])


def test_the_platform_run_predicts_and_monitors(platform: dict[str, Any], state: Settings) -> None:
    from models.tracking import Tracking

    price = platform["predicted"]["price"]
    assert price["version"] == platform["trained"]["price"]["version"]
    assert price["rows"] > 0
    stored = lake.read_table(FEATURES["price_predictions"].root(state))
    assert set(stored["model_version"]) == {price["version"]}
    assert set(stored["feature_service"]) == {"price_forecaster_v1"}
    monitoring = platform["monitoring"]
    realized = monitoring["realized"]["price"]
    # The run backfills two weeks of forecasts: most of their hours have a realized price.
    assert realized["rows"] > 0 and realized["recent"]["mae"] > 0
    run_id = realized["monitoring_runs"][price["version"]]
    history = Tracking(state).client.get_metric_history(run_id, "realized_mae")
    assert len(history) >= 7  # one point per delivery day
    assert os.path.getsize(realized["plot"]) > 10_000


def test_predictions_carry_the_champion_rerun_replaces_and_promotion_changes_them(
    platform: dict[str, Any], state: Settings
) -> None:
    from flows.batch_inference import batch_inference_flow, inputs_root, predictions_root
    from flows.training import training_flow
    from models.registry import override_promote
    from models.tracking import Tracking

    as_of = _split(state, "price_forecaster", "split.test_start").to_pydatetime()
    # Tiny data has a booking every day or two: score the week up to the last one before then.
    booked = lake.read_table(FEATURES["booking_details"].root(state), columns=["event_timestamp"])
    times = pd.to_datetime(booked["event_timestamp"], utc=True)
    booking_as_of = (times[times <= as_of].max() + pd.Timedelta(seconds=1)).to_pydatetime()
    for kind, view in (
        ("price", "price_predictions"),
        ("cancellation", "cancellation_predictions"),
    ):
        name = {"price": "price_forecaster", "cancellation": "cancellation_classifier"}[kind]
        when = as_of if kind == "price" else booking_as_of
        first = batch_inference_flow(kind, as_of=when, window_days=7)  # type: ignore[arg-type]
        assert first["rows"] > 0, kind
        assert first["version"] == _champion(state, name)
        total = len(lake.read_table(FEATURES[view].root(state)))
        # The same window again: replaced, never duplicated (view, dataset, logged inputs).
        again = batch_inference_flow(kind, as_of=when, window_days=7)  # type: ignore[arg-type]
        assert again["rows"] == first["rows"]
        assert len(lake.read_table(FEATURES[view].root(state))) == total
        assert len(lake.read_table(predictions_root(state, kind))) == total
        assert len(lake.read_table(inputs_root(state, kind))) == total

    before = lake.read_table(predictions_root(state, "price"))
    trained = training_flow("price", family="linear")
    override_promote(Tracking(state), "price_forecaster", trained["version"], "test: promotion")
    after_run = batch_inference_flow("price", as_of=as_of, window_days=7)
    assert after_run["version"] == trained["version"] != first["version"]
    after = lake.read_table(predictions_root(state, "price"))
    stamps = pd.to_datetime(after["event_timestamp"], utc=True)
    window = (stamps >= pd.Timestamp(after_run["window"][0])) & (
        stamps < pd.Timestamp(after_run["window"][1])
    )
    assert set(after.loc[window.to_numpy(), "model_version"]) == {trained["version"]}
    merged = before.merge(after, on=["zone", "event_timestamp"], suffixes=("_old", "_new"))
    merged = merged[merged["model_version_new"] == trained["version"]]
    assert len(merged) > 0
    assert (merged["predicted_price_eur_mwh_old"] != merged["predicted_price_eur_mwh_new"]).any()


def test_stale_features_stop_the_run(platform: dict[str, Any], state: Settings) -> None:
    from flows.batch_inference import InferenceStopped, batch_inference_flow, data_end

    end = data_end(state, "price")
    assert end is not None
    with pytest.raises(InferenceStopped, match="freshness objective"):
        batch_inference_flow("price", as_of=end + pd.Timedelta(days=30))


def test_api_answers_rejects_bad_requests_and_follows_a_promotion(
    platform: dict[str, Any], state: Settings
) -> None:
    from fastapi.testclient import TestClient

    from fti.api import create_app
    from models.registry import override_promote
    from models.tracking import Tracking

    client = TestClient(create_app(state, alias_ttl_s=0.0))
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code == 200
    assert {"/predict/price", "/predict/cancellation"} <= set(
        client.get("/openapi.json").json()["paths"]
    )
    zones = lake.read_table(LAKE["prices"].root(state), columns=["zone", "ts"])
    zone = sorted(zones["zone"].unique())[0]
    last = pd.to_datetime(zones["ts"], utc=True).max()
    hours = [(last + pd.Timedelta(hours=h)).isoformat() for h in (13, 14)]
    first = client.post("/predict/price", json={"zone": zone, "delivery_hours": hours})
    assert first.status_code == 200, first.text
    assert first.json()["version"] == _champion(state, "price_forecaster")
    assert len(first.json()["predictions"]) == 2
    bad = [
        {"zone": zone},  # no hours
        {"zone": zone, "delivery_hours": ["not a time"]},
        {"zone": zone, "delivery_hours": ["2024-01-01T10:00:00"]},  # no time zone
        {"zone": zone, "delivery_hours": ["2024-01-01T10:30:00Z"]},  # not an hour start
        {"zone": zone, "delivery_hours": hours, "extra": 1},
    ]
    for body in bad:
        assert client.post("/predict/price", json=body).status_code == 422, body
    unknown = client.post("/predict/price", json={"zone": "XX9", "delivery_hours": hours})
    assert unknown.status_code == 404 and "XX9" in unknown.json()["detail"]
    assert client.post("/predict/cancellation", json={"booking_id": "nope"}).status_code == 404
    details = lake.read_table(FEATURES["booking_details"].root(state), columns=["booking_id"])
    booking = str(details["booking_id"].iloc[-1])
    answer = client.post("/predict/cancellation", json={"booking_id": booking})
    assert answer.status_code == 200, answer.text
    assert 0.0 <= answer.json()["cancel_probability"] <= 1.0
    assert answer.json()["version"] == _champion(state, "cancellation_classifier")

    tracking = Tracking(state)
    versions = [v.version for v in tracking.versions("price_forecaster")]
    other = next(v for v in versions if v != first.json()["version"])
    override_promote(tracking, "price_forecaster", other, "test: the service follows")
    again = client.post("/predict/price", json={"zone": zone, "delivery_hours": hours})
    assert again.json()["version"] == other  # no restart
    assert again.json()["predictions"] != first.json()["predictions"]


class _Hook(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    _Hook.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("FTI_MONITORING_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/")
    try:
        yield _Hook.bodies
    finally:
        server.shutdown()
        server.server_close()


def _drift_alerts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in summary["alerts"] if a["check"] == "drift"]


def test_injected_price_shift_raises_a_drift_alert_and_an_undrifted_period_does_not(
    platform: dict[str, Any], state: Settings, webhook: list[dict[str, Any]]
) -> None:
    from typer.testing import CliRunner

    from flows.batch_inference import batch_inference_flow
    from flows.features import features_flow
    from flows.monitoring import monitoring_flow
    from fti.cli import app

    name = "price_forecaster"
    train_start = _split(state, name, "data.start")
    validation_start = _split(state, name, "split.validation_start")
    # Undrifted: forecasts over the champion's own training period (after its first week, which
    # training leaves out for want of same-hour lags).
    days = (validation_start - train_start).days - 8
    batch_inference_flow("price", as_of=validation_start.to_pydatetime(), window_days=days)
    calm = monitoring_flow(as_of=validation_start.to_pydatetime(), drift_days=days)
    assert calm["drift"]["price"]["rows"] >= 50
    assert _drift_alerts(calm) == [], _drift_alerts(calm)

    # Drifted: the last ten days' prices shifted by +150 EUR/MWh, features recomputed.
    prices = lake.read_table(LAKE["prices"].root(state))
    ts = pd.to_datetime(prices["ts"], utc=True)
    end = ts.max() + pd.Timedelta(hours=1)
    start = end - pd.Timedelta(days=10)
    shifted = prices[(ts >= start).to_numpy()].assign(
        price_eur_mwh=lambda f: f["price_eur_mwh"] + 150.0
    )
    table = LAKE["prices"]
    lake.upsert(shifted, table.root(state), table.key, table.partition)
    features_flow(groups=["prices"], start=start.to_pydatetime(), end=end.to_pydatetime())
    as_of = end.to_pydatetime()
    batch_inference_flow("price", as_of=as_of, window_days=8)
    drifted = monitoring_flow(as_of=as_of, drift_days=8)
    alerts = _drift_alerts(drifted)
    price = [a for a in alerts if a["subject"] == name]
    assert len(price) == 1 and "price_eur_mwh" in price[0]["details"]["features"]
    # Every alert became a Prefect event and reached the webhook as JSON.
    assert drifted["delivery"]["events"] == len(drifted["alerts"])
    assert webhook[-1]["alerts"] == drifted["alerts"]
    # The drift table, the alerts and the plot are Prefect artifacts.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    keys = ["drift-price", "monitoring-alerts", "price-predicted-vs-actual"]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )
    assert {a.key for a in found} == set(keys)
    table = [a for a in found if a.key == "drift-price"][-1]
    assert "price_eur_mwh" in str(table.data)
    # `fti monitor` fails on the same state.
    result = CliRunner().invoke(app, ["monitor", "--as-of", end.strftime("%Y-%m-%dT%H:%M:%S")])
    assert result.exit_code == 1, result.output
    assert "drift" in result.output
