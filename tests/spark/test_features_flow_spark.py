"""FTI_FEATURE_ENGINE=spark: the features flow writes the offline tables the pandas engine writes.

Ingestion and the features flow run end to end on the tiny synthetic data (Prefect harness,
local Spark); the offline tables of both engines are compared value for value, file layout
included, and a gate rejection in spark mode leaves the offline store untouched.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import pytest

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES, PREDICTION_VIEWS

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State
    from pyspark.sql import SparkSession

    from flows.ingestion import Source

pytestmark = [pytest.mark.spark, pytest.mark.integration]

RAW_FOLDERS: dict[Source, str] = {
    "prices": "entsoe_day_ahead",
    "bookings": "hotel_bookings",
    "weather": "smhi_weather",
}
VIEWS = [v for v in FEATURES if v not in PREDICTION_VIEWS]
# The projection of the session embedding is a BLAS product whose last bit depends on how many
# rows are multiplied at once (features.spark.guests.session_embedding_features).
EMBEDDING = [f"session_emb_{i}" for i in range(8)]


def _run(
    raw: Path, state: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, pd.DataFrame]:
    from flows.features import features_flow
    from flows.ingestion import ingestion_flow

    monkeypatch.setenv("FTI_STATE_DIR", str(state))
    monkeypatch.setenv("FTI_FEATURE_ENGINE", engine)
    for source, folder in RAW_FOLDERS.items():
        ingestion_flow(source, [str(raw / folder)])
    result = cast("dict[str, Any]", features_flow())
    assert set(result["rows"]) == set(VIEWS)
    return _offline(Settings(state_dir=state))


def _offline(settings: Settings) -> dict[str, pd.DataFrame]:
    out = {}
    for view in VIEWS:
        root = FEATURES[view].root(settings)
        files = sorted(p.relative_to(root).as_posix() for p in root.glob("**/data.parquet"))
        frame = lake.read_table(root)
        out[view] = frame.sort_values(list(FEATURES[view].key), ignore_index=True)
        out[view].attrs["files"] = files
    return out


def _store_hash(state: Path) -> dict[str, str]:
    root = state / "offline"
    return {
        p.relative_to(state).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def engines(
    spark: SparkSession,
    prefect_harness: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    from features.synthetic import SyntheticSpec, generate_raw

    base = tmp_path_factory.mktemp("engines")
    generate_raw(base / "raw", SyntheticSpec.sized("tiny"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        tables = {
            engine: _run(base / "raw", base / engine, engine, monkeypatch)
            for engine in ("pandas", "spark")
        }
    return {"base": base, **tables}


def _assert_same_values(got: pd.DataFrame, expected: pd.DataFrame, obj: str = "frame") -> None:
    """Every column equal; the session embedding to 1e-12 relative (BLAS rounds the last bit
    by batch size)."""
    exact = [c for c in expected.columns if c not in EMBEDDING]
    pd.testing.assert_frame_equal(got[exact], expected[exact], check_exact=True, obj=obj)
    embedding = [c for c in EMBEDDING if c in expected.columns]
    if embedding:
        pd.testing.assert_frame_equal(
            got[embedding], expected[embedding], check_exact=False, rtol=1e-12, atol=1e-15, obj=obj
        )


def test_spark_engine_writes_the_pandas_offline_tables(engines: dict[str, Any]) -> None:
    for view in VIEWS:
        expected, got = engines["pandas"][view], engines["spark"][view]
        assert len(expected) > 0, view
        assert got.attrs["files"] == expected.attrs["files"], view
        _assert_same_values(got, expected, obj=view)


def _rejected_run(
    engines: dict[str, Any],
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
    tamper: Callable[[dict[str, Any]], None],
    groups: list[str],
    reason: str,
) -> None:
    """The features flow on a copy of the spark engine's state, with `tamper` applied to every
    computed group's Spark tables: it must end Failed for `reason` with the offline store
    byte-identical."""
    from flows import features as features_module
    from validation.run import BatchRejected

    shutil.copytree(engines["base"] / "spark", work)
    monkeypatch.setenv("FTI_STATE_DIR", str(work))
    monkeypatch.setenv("FTI_FEATURE_ENGINE", "spark")
    real = features_module.compute_group_spark

    def tampered(group: str, settings: Settings, start: pd.Timestamp, end: pd.Timestamp) -> Any:
        out = real(group, settings, start, end)
        tamper(out)
        return out

    monkeypatch.setattr(features_module, "compute_group_spark", tampered)
    before = _store_hash(work)
    state = cast("State[Any]", features_module.features_flow(groups=groups, return_state=True))
    assert state.is_failed()
    with pytest.raises(BatchRejected, match=reason):
        state.result()
    assert _store_hash(work) == before


def test_gate_rejection_in_spark_mode_leaves_the_offline_store_untouched(
    engines: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.sql import functions as F

    def scaling_bug(out: dict[str, Any]) -> None:
        if "zone_prices" in out:
            # A scaling bug in one hour of one zone.
            first = out["zone_prices"].agg(F.min("event_timestamp")).first()
            assert first is not None
            bug = F.col("event_timestamp") == F.lit(first[0])
            out["zone_prices"] = out["zone_prices"].withColumn(
                "price_scaled", F.when(bug, F.lit(1.7)).otherwise(F.col("price_scaled"))
            )

    _rejected_run(
        engines,
        tmp_path / "state",
        monkeypatch,
        scaling_bug,
        ["prices", "weather"],
        r"zone_prices: scaled price outside \[0, 1\]",
    )


def test_key_unique_across_years_is_checked_across_year_batches(
    engines: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """guest_home_country is unique per guest_id: one guest in two years' batches is rejected,
    although each year's batch passes alone."""
    from pyspark.sql import functions as F

    def fan_out(out: dict[str, Any]) -> None:
        if "guest_home_country" in out:
            # One guest's row again, a year earlier (a join that fanned out across years).
            table = out["guest_home_country"]
            again = table.limit(1).withColumn(
                "event_timestamp", F.col("event_timestamp") - F.expr("INTERVAL 400 DAYS")
            )
            out["guest_home_country"] = table.unionByName(again)

    _rejected_run(
        engines,
        tmp_path / "state",
        monkeypatch,
        fan_out,
        ["guests"],
        r"guest_home_country: duplicate key \(guest_id\)",
    )


def _as_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float64 and missing values as None: the stores' dtypes differ, not values."""
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(
            frame[column]
        ):
            frame[column] = frame[column].astype("float64")
        elif frame[column].dtype == object:
            frame[column] = frame[column].where(frame[column].notna(), None)
    return frame


def test_training_retrieval_through_feasts_spark_store(engines: dict[str, Any]) -> None:
    """The Spark profile end to end: the tables the spark engine wrote, retrieved through the
    cancellation model's feature service by Feast's Spark offline store, give the training
    frame the default profile gives on the pandas engine's tables."""
    from fti.store import apply_definitions, open_store
    from models.data import data_range, load_cancellation
    from models.specs import SPECS

    spec = SPECS["cancellation"]
    frames = {}
    for engine in ("pandas", "spark"):
        settings = Settings(state_dir=engines["base"] / engine, feature_engine=engine)
        store = open_store(settings)
        assert type(store.config.offline_store).__name__.startswith(
            "Spark" if engine == "spark" else "DuckDB"
        )
        apply_definitions(store)
        start, end = data_range(settings, "cancellation")
        frames[engine] = load_cancellation(settings, store, spec, start, end).frame
    expected, got = _as_values(frames["pandas"]), _as_values(frames["spark"])
    assert len(expected) > 0
    assert got["event_timestamp"].dt.tz is not None  # models.data.retrieve: UTC again
    _assert_same_values(got, expected)


def test_materialize_flow_through_feasts_spark_engine(
    engines: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The materialize flow in the Spark profile (Feast's Spark compute engine, staged SQLite
    online store) leaves the online values the default profile leaves."""
    from flows.materialize import materialize_flow
    from fti.store import open_store
    from models.data import booking_entities, data_range

    online = {}
    for engine in ("pandas", "spark"):
        work = tmp_path / engine
        shutil.copytree(engines["base"] / engine, work)
        monkeypatch.setenv("FTI_STATE_DIR", str(work))
        monkeypatch.setenv("FTI_FEATURE_ENGINE", engine)
        written = cast("list[dict[str, Any]]", materialize_flow(full=True))
        assert {w["view"] for w in written} >= {"booking_details", "guest_home_country"}
        settings = Settings(state_dir=work, feature_engine=engine)
        store = open_store(settings)
        rows = booking_entities(settings, *data_range(settings, "cancellation")).head(50)
        keys = rows[["booking_id", "hotel", "stay_week_start", "guest_id"]]
        online[engine] = pd.DataFrame(
            store.get_online_features(
                features=store.get_feature_service("cancellation_classifier_v2"),
                entity_rows=keys.to_dict("records"),
            ).to_dict()
        )
    expected, got = _as_values(online["pandas"]), _as_values(online["spark"])
    assert len(expected) == 50
    assert expected["lead_time"].notna().all()  # the rows were materialized
    _assert_same_values(got, expected)
