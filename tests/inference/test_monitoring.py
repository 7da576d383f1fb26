"""Monitoring as pure functions: outcome joins, realized metrics, freshness, alerts, webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from monitoring.alerts import Alert, drift_alerts, freshness_alerts, post_webhook
from monitoring.drift import drift_table
from monitoring.freshness import assess, cron_period, objective
from monitoring.outcomes import (
    by_period,
    cancellation_metrics,
    cancellation_outcomes,
    price_metrics,
    price_outcomes,
)

UTC = "UTC"


def _price_predictions(hours: pd.DatetimeIndex, version: str = "3") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "zone": "SE3",
            "event_timestamp": hours,
            "predicted_price_eur_mwh": np.arange(len(hours), dtype="float64"),
            "model_version": version,
        }
    )


def test_price_outcomes_join_only_known_hours_and_score_them() -> None:
    hours = pd.date_range("2024-03-01", periods=48, freq="h", tz=UTC)
    prices = pd.DataFrame(
        {"zone": "SE3", "ts": hours[:30], "price_eur_mwh": np.arange(30, dtype="float64") + 2.0}
    )
    joined = price_outcomes(_price_predictions(hours), prices)
    assert len(joined) == 30  # the 18 hours without a realized price are not scored yet
    metrics = price_metrics(joined)
    assert metrics["mae"] == pytest.approx(2.0)
    assert metrics["bias"] == pytest.approx(-2.0)
    daily = by_period("price", joined, "D")
    # Local (Stockholm) delivery days: 2024-03-01 01:00 local .. 2024-03-02 06:00 local.
    assert list(daily["period"].dt.strftime("%Y-%m-%d")) == ["2024-03-01", "2024-03-02"]
    assert daily["n"].sum() == 30


def test_cancellation_outcomes_wait_for_the_arrival_date() -> None:
    predictions = pd.DataFrame(
        {
            "booking_id": ["a", "b", "c", "d"],
            "cancel_probability": [0.9, 0.2, 0.6, 0.1],
            "model_version": "1",
        }
    )
    labels = pd.DataFrame({"booking_id": ["a", "b", "c", "d"], "is_canceled": [1, 0, 0, 1]})
    arrivals = pd.DataFrame(
        {
            "booking_id": ["a", "b", "c", "d"],
            "arrival_date": pd.to_datetime(
                ["2024-01-02", "2024-01-03", "2024-01-04", "2024-02-01"]
            ),
        }
    )
    as_of = pd.Timestamp("2024-01-04 12:00", tz=UTC)
    joined = cancellation_outcomes(predictions, labels, arrivals, as_of)
    # c arrives on the as-of day and d later: their outcome is not final yet.
    assert list(joined["booking_id"]) == ["a", "b"]
    metrics = cancellation_metrics(joined)
    assert metrics["roc_auc"] == 1.0
    assert metrics["log_loss"] == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2)


@pytest.mark.parametrize(
    ("cron", "period"),
    [
        ("30 13 * * *", timedelta(days=1)),  # daily, as every feature pipeline
        ("*/5 * * * *", timedelta(minutes=5)),  # an override for a demo
        ("0 * * * *", timedelta(hours=1)),  # hourly
        ("0 6 * * 1", timedelta(days=7)),  # weekly
    ],
)
def test_cron_period(cron: str, period: timedelta) -> None:
    assert cron_period(cron) == period


def test_objective_is_the_tag_else_twice_the_schedule() -> None:
    crons = {"feature-pipeline-prices": "0 * * * *"}
    assert objective("zone_prices", {"freshness_objective": "36h"}, crons) == timedelta(hours=36)
    assert objective("zone_prices", {}, crons) == timedelta(hours=2)


def test_freshness_by_pipeline_watermark() -> None:
    as_of = pd.Timestamp("2024-01-10", tz=UTC)
    newest = {
        "booking_details": as_of - pd.Timedelta(hours=20),
        # No session ended for a week, but the bookings pipeline ran: not stale.
        "guest_session_embedding": as_of - pd.Timedelta(days=7),
        "zone_prices": as_of - pd.Timedelta(days=3),
        "weather_daily": None,
    }
    goals = dict.fromkeys(newest, timedelta(days=2))
    rows = {f.view: f for f in assess(newest, goals, as_of)}
    assert rows["booking_details"].ok and rows["guest_session_embedding"].ok
    assert not rows["zone_prices"].ok and not rows["weather_daily"].ok
    alerts = freshness_alerts([f.as_dict() for f in rows.values()])
    assert sorted(a.subject for a in alerts) == ["weather_daily", "zone_prices"]
    assert "72.0 h old" in next(a.message for a in alerts if a.subject == "zone_prices")


def test_drift_alerts_one_per_check_and_model() -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {
            "price_eur_mwh": rng.normal(50, 10, 2000),
            "sunshine_s": rng.uniform(0, 3600, 2000),
            "price_scaled": rng.uniform(0, 1, 2000),
            "zone": rng.choice(["SE1", "SE2"], 2000),
        }
    )
    same = reference.sample(300, random_state=1).reset_index(drop=True)
    rows = drift_table(reference, same)
    assert drift_alerts("m", "1", rows, len(same), 0.25, 0.2, 0.01) == []
    shifted = same.assign(
        price_eur_mwh=same["price_eur_mwh"] + 30,  # three standard deviations
        price_scaled=same["price_scaled"] * 1.2,
        zone=["SE9"] * 10 + list(same["zone"][10:]),
    )
    alerts = drift_alerts("m", "1", drift_table(reference, shifted), 300, 0.25, 0.2, 0.01)
    assert [a.check for a in alerts] == ["drift", "range", "unseen"]
    assert "price_eur_mwh" in alerts[0].message and "sunshine_s" not in alerts[0].message


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(
            {"type": self.headers["Content-Type"], "body": json.loads(self.rfile.read(length))}
        )
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Recorder.received = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", _Recorder.received
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_receives_the_alerts_as_json(webhook: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = webhook
    alert = Alert("drift", "price_forecaster", "3 of 16 features drifted", {"version": "2"})
    assert post_webhook(url, {"alerts": [alert.as_dict()]}) == 204
    assert received == [
        {"type": "application/json", "body": {"alerts": [alert.as_dict()]}},
    ]


def test_raise_alerts_posts_to_the_configured_webhook(
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    from flows.monitoring import raise_alerts

    url, received = webhook
    alert = Alert("freshness", "zone_prices", "stale").as_dict()
    out = raise_alerts.fn([alert], "2024-01-01T00:00:00+00:00", url)
    assert out["webhook_status"] == 204
    assert received[0]["body"]["alerts"] == [alert]
    # No alert, no POST; an unreachable webhook is reported, never raised.
    assert "webhook_status" not in raise_alerts.fn([], "2024-01-01T00:00:00+00:00", url)
    assert len(received) == 1
    failed = raise_alerts.fn([alert], "2024-01-01T00:00:00+00:00", "http://127.0.0.1:9/nothing")
    assert "webhook_error" in failed
