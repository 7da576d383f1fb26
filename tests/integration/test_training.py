"""Training on the platform's own features: the flow leaves champions, no feature leaks from the
future or from the outcome, the gate refuses a stale signature, lineage reproduces a run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES, LAKE
from tests.models.conftest import isolated_mlflow

MODELS = {"price": "price_forecaster", "cancellation": "cancellation_classifier"}


@pytest.fixture(scope="module")
def platform(state: Settings) -> dict[str, Any]:
    """The whole platform on small synthetic data, now ending with both models trained."""
    from flows.orchestrator import platform_flow

    return platform_flow(data="synthetic", size="small", until_today=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from models.tracking import Tracking

    root = tmp_path_factory.mktemp("mlflow-template")
    Tracking(Settings(state_dir=root)).client.search_experiments()
    return root / "mlflow" / "mlflow.db"


@pytest.fixture
def own_mlflow(state: Settings, template: Path, tmp_path: Path) -> Settings:
    """The module's feature store with an MLflow of this test's own (under tmp_path)."""
    mlflow = isolated_mlflow(template, tmp_path / "mlflow-state")
    return Settings(state_dir=state.state_dir, mlflow_tracking_uri=mlflow.tracking_uri)


def test_platform_trains_both_models_and_leaves_champions(
    platform: dict[str, Any], state: Settings, tmp_path: Path
) -> None:
    from fti.store import open_store
    from models.data import assemble_price_features, booking_entities, price_rows, retrieve
    from models.prepare import prepare_features
    from models.registry import smoke_predict
    from models.tracking import Tracking

    tracking = Tracking(state)
    for kind, name in MODELS.items():
        summary = platform["trained"][kind]
        assert summary["decision"] == "promoted", summary["reason"]
        assert tracking.alias_version(name, "champion") == summary["version"]
        assert tracking.alias_version(name, "challenger") == summary["version"]
    # The forecaster beats the seasonal naive forecasts on the held-out period.
    price = platform["trained"]["price"]
    for baseline in price["baselines_test"].values():
        assert price["test"]["mae"] < baseline["mae"]
    assert price["test"]["rmse"] < price["baselines_test"]["naive_day"]["rmse"]

    # What batch inference will do: features of the next delivery day through the service,
    # the shared preparation, the champion by alias (pyfunc, schema enforced).
    store = open_store(state)
    last = lake.read_table(LAKE["prices"].root(state), columns=["ts"])["ts"].max()
    day = pd.Series(pd.date_range(last - pd.Timedelta(hours=23), last, freq="h", tz="UTC"))
    zones = ["SE1", "SE2", "SE3", "SE4"]
    rows = price_rows(pd.Series(np.repeat(zones, len(day))), pd.concat([day] * len(zones)))
    frame = assemble_price_features(store, "price_forecaster_v1", rows)
    prices = smoke_predict(tracking, MODELS["price"], "champion", prepare_features("price", frame))
    assert np.isfinite(np.asarray(prices)).all() and len(prices) == 24 * len(zones)

    bookings = booking_entities(state, *_all_time()).tail(50).drop(columns=["label_time"])
    got = retrieve(store, "cancellation_classifier_v1", bookings)
    proba = smoke_predict(
        tracking, MODELS["cancellation"], "champion", prepare_features("cancellation", got)
    )
    proba = np.asarray(proba)
    assert proba.shape == (50, 2) and ((proba >= 0) & (proba <= 1)).all()


def _all_time() -> tuple[pd.Timestamp, pd.Timestamp]:
    return pd.Timestamp("1900-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC")


@pytest.fixture
def truncated(state: Settings, tmp_path: Path) -> Iterator[Any]:
    """Build a feature store holding only the feature rows at or before a cutoff."""

    def build(cutoff: pd.Timestamp) -> Any:
        from fti.store import apply_definitions, open_store

        settings = Settings(state_dir=tmp_path / f"cut-{cutoff.value}")
        for table in FEATURES.values():
            frame = lake.read_table(table.root(state))
            if frame.empty:  # a view nothing has written yet (predictions)
                continue
            kept = frame[pd.to_datetime(frame["event_timestamp"], utc=True) <= cutoff]
            lake.upsert(kept, table.root(settings), table.key, table.partition)
        store = open_store(settings)
        apply_definitions(store)
        return store

    yield build


def test_price_features_use_nothing_after_the_issue_time(
    platform: dict[str, Any], state: Settings, truncated: Any
) -> None:
    """Features of a delivery day are identical when every feature row after its issue time is
    deleted from the store: nothing the forecast reads comes from after 12:00 the day before."""
    from fti.store import open_store
    from models.data import assemble_price_features, price_rows

    prices = lake.read_table(LAKE["prices"].root(state))
    middle = prices["ts"].sort_values().iloc[len(prices) // 2]
    local_day = middle.tz_convert("Europe/Stockholm").normalize()
    delivery = pd.Series(pd.date_range(local_day, periods=24, freq="h")).dt.tz_convert("UTC")
    zones = sorted(prices["zone"].unique())
    rows = price_rows(pd.Series(np.repeat(zones, 24)), pd.concat([delivery] * len(zones)))
    issue = rows["issue_time"].iloc[0]
    assert (rows["issue_time"] == issue).all()

    full = assemble_price_features(open_store(state), "price_forecaster_v1", rows)
    cut = assemble_price_features(truncated(issue), "price_forecaster_v1", rows)
    assert full["price_eur_mwh"].notna().all() and full["same_hour_last_week"].notna().all()
    pd.testing.assert_frame_equal(full, cut)
    # The label hours themselves are after the issue time, never among the inputs' sources.
    assert (rows["delivery_time"] > issue).all()


def test_cancellation_features_use_nothing_after_the_booking_time(
    platform: dict[str, Any], state: Settings, truncated: Any
) -> None:
    from fti.store import open_store
    from models.data import booking_entities, retrieve

    entities = booking_entities(state, *_all_time()).drop(columns=["label_time"])
    cutoff = entities["event_timestamp"].iloc[len(entities) // 2]
    sample = entities[entities["event_timestamp"] <= cutoff].tail(300).reset_index(drop=True)
    full = retrieve(open_store(state), "cancellation_classifier_v1", sample)
    cut = retrieve(truncated(cutoff), "cancellation_classifier_v1", sample)
    assert full["vacancy_level"].notna().any() and full["age_band"].notna().any()
    pd.testing.assert_frame_equal(full, cut)


def test_outcome_columns_never_reach_the_features(
    platform: dict[str, Any], state: Settings, tmp_path: Path
) -> None:
    """Flip every outcome in the label table: the model inputs do not change, only the labels."""
    from fti.store import open_store
    from models.prepare import OUTCOME_COLUMNS, prepare_features
    from models.tracking import Tracking
    from models.workflow import load

    copy = Settings(state_dir=tmp_path / "state")
    for part in ("lake", "offline", "feast"):
        shutil.copytree(state.state_dir / part, copy.state_dir / part)
    labels_root = LAKE["booking_labels"].root(copy)
    labels = lake.read_table(labels_root)
    flipped = labels.assign(
        is_canceled=1 - labels["is_canceled"],
        reservation_status=np.where(labels["is_canceled"] == 1, "Check-Out", "Canceled"),
        reservation_status_date=labels["reservation_status_date"] - pd.Timedelta(days=30),
    )
    shutil.rmtree(labels_root)
    table = LAKE["booking_labels"]
    lake.upsert(flipped, labels_root, table.key, table.partition)

    original, _ = load(state, open_store(state), "cancellation")
    poisoned, _ = load(copy, open_store(copy), "cancellation")
    inputs = prepare_features("cancellation", original.frame)
    pd.testing.assert_frame_equal(inputs, prepare_features("cancellation", poisoned.frame))
    assert (original.frame["label"] != poisoned.frame["label"]).all()
    assert not OUTCOME_COLUMNS & set(inputs.columns)
    assert not OUTCOME_COLUMNS & set(original.service_fields)
    # The registered champion's signature agrees.
    tracking = Tracking(state)
    version = tracking.alias_version(MODELS["cancellation"], "champion")
    assert version is not None
    signature = tracking.input_schema(MODELS["cancellation"], version)
    assert signature and not OUTCOME_COLUMNS & set(signature)


def test_gate_refuses_a_model_the_feature_service_no_longer_serves(
    platform: dict[str, Any], own_mlflow: Settings
) -> None:
    """Train against price_forecaster_v1, then the service drops a view: the gate refuses."""
    from feast import FeatureService

    from fti.store import apply_definitions, load_definitions, open_store
    from models.config import TrainingConfig
    from models.lineage import service_fields
    from models.registry import log_training_run, run_gate
    from models.tracking import Tracking
    from models.training import fit_model
    from models.workflow import load

    settings = own_mlflow
    store = open_store(settings)
    data, lineage = load(settings, store, "price")
    trained = fit_model(data, TrainingConfig(kind="price"))
    tracking = Tracking(settings)
    record = log_training_run(tracking, trained, lineage, plots=False)

    views = {fv.name: fv for fv in load_definitions().feature_views}
    changed = FeatureService(
        name="price_forecaster_v1",
        features=[
            views["zone_prices"],
            views["weather_daily"].with_join_key_map({"station_id": "weather_station_id"}),
        ],
    )
    store.apply([changed])
    try:
        current = service_fields(open_store(settings).get_feature_service("price_forecaster_v1"))
        assert "sunshine_s" not in current
        decision = run_gate(tracking, trained, record.version, lineage, current)
    finally:
        apply_definitions(open_store(settings))
    assert not decision.promoted
    assert "signature" in {c.name for c in decision.checks if not c.passed}
    assert "unexpected input 'sunshine_s'" in decision.reason
    tags = tracking.version("price_forecaster", record.version).tags
    assert tags["gate.decision"] == "refused" and "sunshine_s" in tags["gate.reason"]
    assert tracking.alias_version("price_forecaster", "champion") is None


def test_a_deliberately_worse_model_is_refused(
    platform: dict[str, Any], state: Settings, own_mlflow: Settings
) -> None:
    """Champion first, then a two-iteration booster on the same data: refused, still listed."""
    from models.config import HGBParams, TrainingConfig
    from models.tracking import Tracking
    from models.workflow import train_and_register

    good = train_and_register(own_mlflow, "cancellation", plots=False)
    assert good.decision.promoted, good.decision.reason
    worse = TrainingConfig(
        kind="cancellation", hgb=HGBParams(max_iter=2, learning_rate=0.01, early_stopping_rounds=0)
    )
    bad = train_and_register(own_mlflow, "cancellation", config=worse, plots=False)
    assert not bad.decision.promoted
    failed = {c.name for c in bad.decision.checks if not c.passed}
    assert {"champion", "baseline"} & failed and "signature" not in failed
    tracking = Tracking(own_mlflow)
    name = MODELS["cancellation"]
    assert tracking.alias_version(name, "champion") == good.record.version
    assert tracking.alias_version(name, "challenger") == bad.record.version
    assert tracking.version(name, bad.record.version).tags["gate.decision"] == "refused"


def test_retraining_from_recorded_lineage_gives_the_same_metrics(
    platform: dict[str, Any], state: Settings
) -> None:
    """The champion's run records range, service, splits, parameters and seed: train it again
    through the flow (`fti train price --from-run RUN`) and every metric comes out the same."""
    from flows.training import training_flow
    from models.registry import recorded_lineage
    from models.tracking import Tracking

    tracking = Tracking(state)
    run_id = platform["trained"]["price"]["run_id"]
    recorded = recorded_lineage(tracking, run_id)

    summary = training_flow("price", from_run=run_id)
    assert summary["run_id"] != run_id
    again = recorded_lineage(tracking, summary["run_id"])
    assert (again.start, again.end, again.bounds) == (recorded.start, recorded.end, recorded.bounds)
    assert again.config == recorded.config
    for key, value in recorded.metrics.items():
        if key.endswith("_seconds"):
            continue
        assert again.metrics[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    _, _, tags = tracking.run_data(summary["run_id"])
    assert tags["reproduces_run"] == run_id
    # Identical metrics cannot beat the champion by the margin: refused, champion unchanged.
    assert summary["decision"] == "refused"
    assert (
        tracking.alias_version(MODELS["price"], "champion")
        == platform["trained"]["price"]["version"]
    )


def test_cli_lists_promotes_and_rolls_back(
    platform: dict[str, Any], state: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from fti.cli import app
    from models.tracking import Tracking

    monkeypatch.setenv("FTI_STATE_DIR", str(state.state_dir))
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert "price_forecaster" in listed.output and "champion" in listed.output

    tracking = Tracking(state)
    name = MODELS["price"]
    champion = tracking.alias_version(name, "champion")
    others = [v.version for v in tracking.versions(name) if v.version != champion]
    if not others:  # a refused challenger to override the gate with
        from models.workflow import train_and_register

        others = [train_and_register(state, "price", plots=False).record.version]
    other = others[0]
    done = runner.invoke(app, ["models", "promote", "price", other, "--reason", "drill"])
    assert done.exit_code == 0, done.output
    assert tracking.alias_version(name, "champion") == other
    assert tracking.version(name, other).tags["override.reason"] == "drill"

    back = runner.invoke(app, ["models", "rollback", name, "--reason", "drill over"])
    assert back.exit_code == 0, back.output
    assert tracking.alias_version(name, "champion") == champion
    assert tracking.version(name, other).tags["rollback.reason"] == "drill over"

    missing = runner.invoke(app, ["models", "promote", "price", "999", "--reason", "x"])
    assert missing.exit_code == 1


def test_a_feature_service_that_breaks_the_policy_is_refused_by_name(
    platform: dict[str, Any], state: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancellation model's default policy allows no protected attribute: training through
    the service that serves them stops before reading anything, naming the features."""
    from typer.testing import CliRunner

    from fti.cli import app
    from models.tracking import Tracking

    monkeypatch.setenv("FTI_STATE_DIR", str(state.state_dir))
    tracking = Tracking(state)
    before = len(tracking.versions(MODELS["cancellation"]))
    result = CliRunner().invoke(
        app, ["train", "cancellation", "--feature-service", "cancellation_classifier_v1"]
    )
    assert result.exit_code == 1, result.output
    assert "breaks the feature policy" in result.output
    assert "guest_age_band:age_band" in result.output
    assert "guest_home_country:country_PRT" in result.output
    assert len(tracking.versions(MODELS["cancellation"])) == before


def test_compare_sensitive_logs_both_variants_on_the_same_split(
    platform: dict[str, Any], own_mlflow: Settings
) -> None:
    from models.tracking import Tracking
    from models.workflow import compare_sensitive

    comparison = compare_sensitive(own_mlflow, plots=False)
    tracking = Tracking(own_mlflow)
    runs = comparison.run_ids
    with_p, with_m, with_t = tracking.run_data(runs["with_protected"])
    wo_p, wo_m, wo_t = tracking.run_data(runs["without_protected"])
    assert with_p["feature_service"] == "cancellation_classifier_v1"
    assert wo_p["feature_service"] == "cancellation_classifier_v2"
    assert "protected" in with_p["config.feature_policy.allowed"]
    assert "protected" not in wo_p["config.feature_policy.allowed"]
    for key in ("data.start", "data.end", "split.validation_start", "split.test_start"):
        assert with_p[key] == wo_p[key], key
    for split in ("train", "validation", "test"):
        assert with_p[f"rows.{split}"] == wo_p[f"rows.{split}"], split
    inputs = {v: set(t.inputs["train"].columns) for v, t in comparison.trained.items()}
    assert {"age_band", "country_PRT"} <= inputs["with_protected"]
    assert not {"age_band", "country_PRT"} & inputs["without_protected"]
    # Both are measured on the same groups, whether the model read the attributes or not.
    for metrics in (with_m, wo_m):
        assert "test_roc_auc" in metrics and "test_log_loss" in metrics
        assert any(k.startswith("test_group_region_") for k in metrics)
        assert any(k.startswith("test_group_age_band_") for k in metrics)
    assert with_t["comparison"] == wo_t["comparison"]
    assert with_t["comparison.without_protected_run"] == runs["without_protected"]
    assert wo_t["comparison.with_protected_run"] == runs["with_protected"]
    assert tracking.registered_models() == []  # evidence, not candidates
    summary = comparison.summary()
    assert set(summary["variants"]) == {"with_protected", "without_protected"}
