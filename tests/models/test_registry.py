"""MLflow: every model family logs, registers, loads by alias and predicts; the registry's
promotion, refusal, override and rollback, on synthetic frames (no Feast, no Prefect)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fti.settings import Settings
from models.config import HGBParams, TrainingConfig
from models.training import fit_model
from tests.models.conftest import booking_data, lineage_for, price_data


@pytest.fixture
def tracking(mlflow_settings: Settings):  # type: ignore[no-untyped-def]
    from models.tracking import Tracking

    return Tracking(mlflow_settings)


def _train(tracking, data, config, plots=False, fields=None):  # type: ignore[no-untyped-def]
    from models.registry import log_training_run, run_gate

    trained = fit_model(data, config)
    lineage = lineage_for(data)
    record = log_training_run(tracking, trained, lineage, plots=plots)
    decision = run_gate(tracking, trained, record.version, lineage, fields or data.service_fields)
    return trained, record, decision


@pytest.mark.parametrize(
    ("kind", "family"),
    [
        ("price", "hgb"),  # HistGradientBoostingRegressor: skops needs its TreePredictor trusted
        ("price", "linear"),  # Ridge on imputed, scaled inputs
        ("cancellation", "hgb"),  # HistGradientBoostingClassifier, probabilities via pyfunc
        ("cancellation", "linear"),  # LogisticRegression
    ],
)
def test_every_family_logs_loads_by_alias_and_predicts(
    tracking, kind: str, family: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from models.registry import smoke_predict

    data = price_data() if kind == "price" else booking_data()
    config = TrainingConfig(kind=kind, family=family)  # type: ignore[arg-type]
    trained, record, decision = _train(tracking, data, config, plots=family == "hgb")
    if kind == "price" and family == "hgb":  # prices relative to their weekly level
        assert type(trained.pipeline.named_steps["model"]).__name__ == "RelativeToLevel"
    assert decision.promoted, decision.reason
    name = trained.spec.registered_name
    assert tracking.alias_version(name, "champion") == record.version == "1"
    assert tracking.alias_version(name, "challenger") == "1"

    # What batch inference does: the champion by alias, pyfunc (schema enforced), local files.
    test = trained.inputs["test"]
    got = smoke_predict(tracking, name, "champion", test)
    expected = trained.predictions["test"]
    got = np.asarray(got)
    if kind == "cancellation":
        got = got[:, 1]
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    sklearn_model = tracking.load_model(name, "champion")
    np.testing.assert_allclose(
        sklearn_model.predict(test.head(3))
        if kind == "price"
        else sklearn_model.predict_proba(test.head(3))[:, 1],
        expected[:3],
        rtol=1e-9,
    )
    # Nothing was downloaded outside the test's folders.
    assert tracking.download_root.is_relative_to(tmp_path)

    # The run carries what a reviewer needs.
    params, metrics, tags = tracking.run_data(record.run_id)
    assert params["feature_service"] == data.feature_service
    assert params["config.family"] == family
    assert {"split.validation_start", "split.test_start", "data.start", "data.end"} <= set(params)
    primary = trained.spec.primary.name
    for split in ("train", "validation", "test"):
        assert f"{split}_{primary}" in metrics
    baselines = [k for k in metrics if k.startswith("baseline_") and k.endswith(f"test_{primary}")]
    assert len(baselines) == 2
    # The logged model (MLflow 3) carries the run's metrics too.
    from models.tracking import logged_model_id

    model_id = logged_model_id(record.model_uri)
    assert model_id is not None
    model_metrics = {m.key: m.value for m in tracking.client.get_logged_model(model_id).metrics}
    assert model_metrics == pytest.approx(metrics)
    assert tags["code_version"] == "test" and tags["validation.status"] == "passed"
    datasets = tracking.run_datasets(record.run_id)
    assert {d["tags"]["mlflow.data.context"] for d in datasets} == {
        "training",
        "validation",
        "test",
    }
    assert all(int(json.loads(json.dumps(d["profile"]))["num_rows"]) > 0 for d in datasets)
    schema = tracking.input_schema(name, record.version)
    assert set(schema) == set(test.columns)
    if family == "hgb":
        artifacts = {a.path for a in tracking.client.list_artifacts(record.run_id, "plots")}
        wanted = (
            {"predicted_vs_actual.png", "residuals.png", "feature_importance.png"}
            if kind == "price"
            else {"roc_curve.png", "calibration_curve.png", "feature_importance.png"}
        )
        assert {f"plots/{w}" for w in wanted} <= artifacts
    version = tracking.version(name, record.version)
    assert version.tags["gate.decision"] == "promoted"
    assert version.tags[f"gate.challenger_{primary}"]


def test_a_worse_challenger_is_refused_and_stays_registered(tracking) -> None:  # type: ignore[no-untyped-def]
    data = price_data()
    _, first, decision = _train(tracking, data, TrainingConfig(kind="price"))
    assert decision.promoted
    # Deliberately worse: two boosting rounds of tiny steps barely move from the mean.
    worse = TrainingConfig(kind="price", hgb=HGBParams(max_iter=2, learning_rate=0.01))
    trained, second, decision = _train(tracking, data, worse)
    assert not decision.promoted
    failed = {c.name for c in decision.checks if not c.passed}
    assert "champion" in failed
    name = trained.spec.registered_name
    assert tracking.alias_version(name, "champion") == first.version
    assert tracking.alias_version(name, "challenger") == second.version
    tags = tracking.version(name, second.version).tags
    assert tags["gate.decision"] == "refused"
    assert tags["gate.champion_version"] == first.version
    assert float(tags["gate.delta_champion"]) < 0
    assert "champion" in tags["gate.reason"]


def test_a_challenger_whose_signature_no_longer_matches_is_refused(tracking) -> None:  # type: ignore[no-untyped-def]
    data = price_data()
    # The feature service changed after training: sunshine_s is no longer served.
    current = {k: v for k, v in data.service_fields.items() if k != "sunshine_s"}
    trained, record, decision = _train(tracking, data, TrainingConfig(kind="price"), fields=current)
    assert not decision.promoted
    assert {c.name for c in decision.checks if not c.passed} == {"signature"}
    assert "sunshine_s" in decision.reason
    name = trained.spec.registered_name
    assert tracking.alias_version(name, "champion") is None
    assert tracking.version(name, record.version).tags["gate.decision"] == "refused"


def test_unvalidated_training_data_is_refused(tracking) -> None:  # type: ignore[no-untyped-def]
    from models.registry import log_training_run, run_gate

    data = booking_data()
    trained = fit_model(data, TrainingConfig(kind="cancellation"))
    lineage = lineage_for(data, ok=False)
    record = log_training_run(tracking, trained, lineage, plots=False)
    decision = run_gate(tracking, trained, record.version, lineage, data.service_fields)
    assert not decision.promoted
    assert {c.name for c in decision.checks if not c.passed} == {"validation"}


def test_override_and_rollback(tracking) -> None:  # type: ignore[no-untyped-def]
    from models.registry import (
        champion_history,
        log_training_run,
        override_promote,
        rollback,
        run_gate,
    )

    data = price_data()
    trained = fit_model(data, TrainingConfig(kind="price"))
    lineage = lineage_for(data)
    versions = []
    for _ in range(2):  # the same model twice: the second cannot beat the first, refused
        record = log_training_run(tracking, trained, lineage, plots=False)
        decision = run_gate(tracking, trained, record.version, lineage, data.service_fields)
        versions.append((record, decision))
    (first, promoted), (second, refused) = versions
    assert promoted.promoted and not refused.promoted
    name = trained.spec.registered_name

    with pytest.raises(ValueError, match="reason"):
        override_promote(tracking, name, second.version, " ")
    previous = override_promote(tracking, name, second.version, "hotfix: retrained on new data")
    assert previous == first.version
    assert tracking.alias_version(name, "champion") == second.version
    tags = tracking.version(name, second.version).tags
    assert tags["override.reason"] == "hotfix: retrained on new data"
    assert tags["override.gate_decision"] == "refused"
    assert champion_history(tracking, name) == [first.version, second.version]

    rolled, restored = rollback(tracking, name, "latency regression")
    assert (rolled, restored) == (second.version, first.version)
    assert tracking.alias_version(name, "champion") == first.version
    assert tracking.version(name, second.version).tags["rollback.reason"] == "latency regression"
    with pytest.raises(ValueError, match="only champion"):
        rollback(tracking, name)


def test_experiments_keep_artifacts_in_the_state_folder(
    tracking, mlflow_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    experiment = tracking.client.get_experiment(tracking.experiment_id("price_forecaster"))
    root = (mlflow_settings.mlflow_dir / "artifacts").resolve().as_uri()
    assert experiment.artifact_location.startswith(root)
    assert tracking.uri == f"sqlite:///{(mlflow_settings.mlflow_dir / 'mlflow.db').resolve()}"


def _unfair_bookings():  # type: ignore[no-untyped-def]
    """Bookings whose outcome the features explain for every region but one, where it is a coin
    toss: the model's ROC AUC differs between the regions by far more than 0.10."""
    data = booking_data(n=4000)
    frame = data.frame
    rng = np.random.default_rng(1)
    region = rng.choice(["portugal", "europe"], len(frame), p=[0.4, 0.6])
    noise = region == "portugal"
    frame.loc[noise, "label"] = rng.integers(0, 2, int(noise.sum()))
    frame["audit_region"] = region
    frame["audit_age_band"] = rng.choice(["25-34", "35-44"], len(frame))
    return data


def test_the_gate_refuses_a_challenger_over_the_group_gap_limit_and_records_the_gap(
    tracking,
) -> None:  # type: ignore[no-untyped-def]
    data = _unfair_bookings()
    strict = TrainingConfig(kind="cancellation")  # max_gap_roc_auc 0.10 by default
    trained, record, decision = _train(tracking, data, strict, plots=True)
    report = trained.groups["test"]
    gap = report.largest["roc_auc"]
    assert gap.value > 0.10 and {gap.high, gap.low} == {"europe", "portugal"}
    assert not decision.promoted
    assert "group_gap" in {c.name for c in decision.checks if not c.passed}
    assert "roc_auc gap" in decision.reason
    name = trained.spec.registered_name
    tags = tracking.version(name, record.version).tags
    assert float(tags["gate.group_gap_roc_auc"]) == pytest.approx(gap.value, rel=1e-5)
    assert tags["gate.group_gap_roc_auc_groups"] == f"{gap.high} vs {gap.low}"
    assert tracking.alias_version(name, "champion") is None
    # Per-group metrics and gaps are on the run.
    _, metrics, _ = tracking.run_data(record.run_id)
    assert metrics["test_group_gap_roc_auc"] == pytest.approx(gap.value)
    assert "test_group_region_portugal_fpr" in metrics
    assert "test_group_age_band_25-34_fnr" in metrics
    artifacts = {a.path for a in tracking.client.list_artifacts(record.run_id, "plots")}
    assert "plots/groups.png" in artifacts
    groups = {a.path for a in tracking.client.list_artifacts(record.run_id, "fairness")}
    assert {f"fairness/groups_{s}.json" for s in ("train", "validation", "test")} == groups

    # The same model under a looser limit passes the gap check (and is promoted).
    loose = strict.model_copy(
        update={"fairness": strict.fairness.model_copy(update={"max_gap_roc_auc": 0.5})}
    )
    _, _, decision = _train(tracking, data, loose)
    assert "group_gap" not in {c.name for c in decision.checks if not c.passed}
