"""Batch inference and the prediction service on the tiny synthetic platform (one run)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES, LAKE


@pytest.fixture(scope="module")
def run(state: Settings) -> dict[str, Any]:
    """The whole platform on the tiny data; every model trained, registered and gated."""
    from flows.orchestrator import platform_flow
    from models.registry import override_promote
    from models.specs import SPECS
    from models.tracking import Tracking

    summary = platform_flow(data="synthetic", size="tiny", until_today=False)
    tracking = Tracking(state)
    for kind, trained in summary["trained"].items():
        assert trained["decision"] in {"promoted", "refused"}, trained
        name = SPECS[kind].registered_name
        assert tracking.alias_version(name, "challenger") == trained["version"]
        if trained["decision"] == "refused":
            # A month of data holds ~40 held-out bookings: the gate may rightly refuse; an
            # operator's recorded override is how such a model goes live anyway.
            override_promote(tracking, name, trained["version"], "tiny data: inference test")
    return summary


@pytest.fixture(scope="module")
def as_of(run: dict[str, Any], state: Settings) -> pd.Timestamp:
    """A time inside the data: a week before the newest price (so outcomes are known)."""
    ts = pd.to_datetime(lake.read_table(LAKE["prices"].root(state), columns=["ts"])["ts"], utc=True)
    return (ts.max() - pd.Timedelta(days=7)).floor("h")


def _in_window(
    frame: pd.DataFrame, column: str, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    times = pd.to_datetime(frame[column], utc=True)
    return frame[((times >= start) & (times < end)).to_numpy()]


def _champion(state: Settings, kind: str) -> str:
    from models.specs import SPECS
    from models.tracking import Tracking

    version = Tracking(state).alias_version(SPECS[kind].registered_name, "champion")
    assert version is not None
    return version


def test_predictions_carry_the_champion_and_rerun_replaces(
    run: dict[str, Any], state: Settings, as_of: pd.Timestamp
) -> None:
    from flows.batch_inference import batch_inference_flow, predictions_root

    for kind, view in (
        ("price", "price_predictions"),
        ("cancellation", "cancellation_predictions"),
    ):
        summary = batch_inference_flow(kind, as_of=as_of.to_pydatetime(), window_days=7)  # type: ignore[call-overload]
        assert summary["rows"] > 0, kind
        assert summary["version"] == _champion(state, kind)
        column = FEATURES[view].time_column
        start, end = (pd.Timestamp(t) for t in summary["window"])

        stored = lake.read_table(FEATURES[view].root(state))
        dataset = lake.read_table(predictions_root(state, kind))
        ours = _in_window(stored, column, start, end)
        assert set(ours["model_version"]) == {summary["version"]}
        assert set(ours["feature_service"]) == {summary["feature_service"]}
        assert len(_in_window(dataset, column, start, end)) == len(ours) == summary["rows"]
        # The same window again: replaced, never duplicated (the platform run's own
        # predictions of other windows stay as they were).
        batch_inference_flow(kind, as_of=as_of.to_pydatetime(), window_days=7)  # type: ignore[call-overload]
        assert len(lake.read_table(FEATURES[view].root(state))) == len(stored)
        assert len(lake.read_table(predictions_root(state, kind))) == len(dataset)
        if kind == "price":
            # Day-ahead forecasts: 23-25 delivery hours per zone and local delivery day.
            local = pd.to_datetime(ours[column], utc=True).dt.tz_convert("Europe/Stockholm")
            per_day = ours.groupby(["zone", local.dt.date.to_numpy()]).size()
            assert len(per_day) == 7 * ours["zone"].nunique()
            assert per_day.between(23, 25).all()


def test_stale_features_stop_the_run(run: dict[str, Any], as_of: pd.Timestamp) -> None:
    from flows.batch_inference import InferenceStopped, batch_inference_flow

    with pytest.raises(InferenceStopped, match="freshness objective"):
        batch_inference_flow("price", as_of=(as_of + pd.Timedelta(days=30)).to_pydatetime())


def test_promotion_changes_predictions_and_the_api_follows(
    run: dict[str, Any], state: Settings, as_of: pd.Timestamp
) -> None:
    from fastapi.testclient import TestClient

    from flows.batch_inference import batch_inference_flow
    from flows.training import training_flow
    from fti.api import create_app
    from models.registry import override_promote
    from models.tracking import Tracking

    client = TestClient(create_app(state, alias_ttl_s=0.0))
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code == 200
    assert "/predict/price" in client.get("/openapi.json").json()["paths"]
    zone = sorted(lake.read_table(LAKE["prices"].root(state), columns=["zone"])["zone"].unique())[0]
    hours = [(as_of + pd.Timedelta(hours=h)).isoformat() for h in (24, 25)]
    first = client.post("/predict/price", json={"zone": zone, "delivery_hours": hours})
    assert first.status_code == 200, first.text
    assert first.json()["version"] == _champion(state, "price")
    assert len(first.json()["predictions"]) == 2
    # Malformed and unknown: 4xx with a reason.
    assert client.post("/predict/price", json={"zone": zone}).status_code == 422
    assert (
        client.post("/predict/price", json={"zone": zone, "delivery_hours": ["x"]}).status_code
        == 422
    )
    unknown = client.post("/predict/price", json={"zone": "XX9", "delivery_hours": hours})
    assert unknown.status_code == 404
    assert client.post("/predict/cancellation", json={"booking_id": "nope"}).status_code == 404
    booking = lake.read_table(FEATURES["booking_details"].root(state), columns=["booking_id"])
    answer = client.post(
        "/predict/cancellation", json={"booking_id": str(booking["booking_id"].iloc[-1])}
    )
    assert answer.status_code == 200, answer.text
    assert 0.0 <= answer.json()["cancel_probability"] <= 1.0

    before = batch_inference_flow("price", as_of=as_of.to_pydatetime())
    trained = training_flow("price", family="linear")
    override_promote(
        Tracking(state), "price_forecaster", trained["version"], "test: follow a promotion"
    )
    after = batch_inference_flow("price", as_of=as_of.to_pydatetime())
    assert after["version"] == trained["version"] != before["version"]
    stored = lake.read_table(FEATURES["price_predictions"].root(state))
    start, end = (pd.Timestamp(t) for t in after["window"])
    times = pd.to_datetime(stored["event_timestamp"], utc=True)
    window = stored[((times >= start) & (times < end)).to_numpy()]
    assert len(window) == after["rows"] > 0
    assert set(window["model_version"]) == {trained["version"]}
    again = client.post("/predict/price", json={"zone": zone, "delivery_hours": hours})
    assert again.json()["version"] == trained["version"]
