"""The promotion gate's decision rules, on hand-made inputs."""

from __future__ import annotations

import dataclasses
import json

import pytest

from models.config import GateConfig, TrainingConfig
from models.gate import Check, GateInputs, ValidationStatus, decide, validation_status
from models.specs import Metric

MAE = Metric("mae", higher_is_better=False)
AUC = Metric("roc_auc", higher_is_better=True)
SCHEMA = {"zone": "string", "price_lag_24h": "double"}
OK = ValidationStatus(True, "3 batch(es) passed validation", 3)


def _inputs(**changes: object) -> GateInputs:
    base = GateInputs(
        metric=MAE,
        challenger=10.0,
        baseline_name="naive_day",
        baseline=12.0,
        signature=SCHEMA,
        expected_signature=SCHEMA,
        validation=OK,
        config=GateConfig(min_improvement_over_champion=0.01),
        champion_version="3",
        champion=11.0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _failed(decision) -> set[str]:  # type: ignore[no-untyped-def]
    return {c.name for c in decision.checks if not c.passed}


def test_a_better_challenger_is_promoted_and_the_tags_say_why() -> None:
    decision = decide(_inputs())
    assert decision.promoted and not _failed(decision)
    tags = decision.tags()
    assert tags["gate.decision"] == "promoted"
    assert tags["gate.challenger_mae"] == "10" and tags["gate.champion_mae"] == "11"
    assert tags["gate.champion_version"] == "3"
    assert float(tags["gate.delta_champion"]) == pytest.approx(1 / 11, rel=1e-5)
    assert float(tags["gate.delta_baseline"]) == pytest.approx(2 / 12, rel=1e-5)
    assert {c["name"] for c in json.loads(tags["gate.checks"])} == {
        "validation",
        "signature",
        "baseline",
        "champion",
    }


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        # worse than the champion on the same test rows
        ({"challenger": 11.5}, {"champion"}),
        # better, but by less than the configured margin (0.5 % < 1 %)
        ({"challenger": 10.95}, {"champion"}),
        # better than the champion but not than the seasonal naive forecast
        ({"challenger": 10.5, "champion": 20.0, "baseline": 10.0}, {"baseline"}),
        # the feature service no longer serves an input the model reads
        ({"expected_signature": {"zone": "string"}}, {"signature"}),
        # an input changed type
        ({"signature": {"zone": "string", "price_lag_24h": "long"}}, {"signature"}),
        # no validation records, or a failed batch
        ({"validation": ValidationStatus(False, "no validation records")}, {"validation"}),
    ],
)
def test_refusals(changes: dict[str, object], failed: set[str]) -> None:
    decision = decide(_inputs(**changes))
    assert not decision.promoted
    assert _failed(decision) == failed
    assert decision.tags()["gate.decision"] == "refused"
    assert decision.reason.startswith("refused:")
    for name in failed:
        assert name in decision.reason


def test_signature_reason_names_the_columns() -> None:
    decision = decide(_inputs(expected_signature={"zone": "string", "sunshine_s": "double"}))
    assert "missing input 'sunshine_s'" in decision.reason
    assert "unexpected input 'price_lag_24h'" in decision.reason


def test_first_model_needs_no_champion_but_must_beat_the_baseline() -> None:
    assert decide(_inputs(champion=None, champion_version=None)).promoted
    assert not decide(_inputs(champion=None, champion_version=None, challenger=13.0)).promoted


def test_higher_is_better_metrics() -> None:
    inputs = _inputs(metric=AUC, challenger=0.80, baseline=0.70, champion=0.78)
    assert decide(inputs).promoted
    assert not decide(dataclasses.replace(inputs, challenger=0.775)).promoted


def test_extra_checks_gate_the_same_way() -> None:
    gap = Check("group_gap", False, "roc_auc gap 0.12 > 0.05")
    decision = decide(_inputs(extra=(gap,)))
    assert not decision.promoted and _failed(decision) == {"group_gap"}


def test_validation_status_from_records() -> None:
    tables = ["zone_prices", "weather_daily"]
    good = [{"table": t, "batch_id": f"b-{t}", "success": True} for t in tables]
    assert validation_status(good, tables).ok
    assert not validation_status(None, tables).ok
    missing = validation_status(good[:1], tables)
    assert not missing.ok and "weather_daily" in missing.detail
    failed = validation_status(
        [*good, {"table": "zone_prices", "batch_id": "b9", "success": False}], tables
    )
    assert not failed.ok and "zone_prices:b9" in failed.detail


def test_config_round_trips_through_run_params() -> None:
    config = TrainingConfig(kind="price", family="linear", seed=7, price_loss="squared_error")
    flat = config.flat()
    assert flat["hgb.max_iter"] == str(config.hgb.max_iter)
    assert flat["gate.min_improvement_over_champion"] == "0.005"
    assert TrainingConfig.from_flat({**flat, "unrelated": "x"}) == config
