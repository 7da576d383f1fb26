"""FTI_FEATURE_ENGINE=spark: the features flow writes the offline tables the pandas engine writes.

Ingestion and the features flow run end to end on the tiny synthetic data (Prefect harness,
local Spark); the offline tables of both engines are compared value for value, file layout
included, and a gate rejection in spark mode leaves the offline store untouched.
"""

from __future__ import annotations

import hashlib
import shutil
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


def test_spark_engine_writes_the_pandas_offline_tables(engines: dict[str, Any]) -> None:
    for view in VIEWS:
        expected, got = engines["pandas"][view], engines["spark"][view]
        assert len(expected) > 0, view
        assert got.attrs["files"] == expected.attrs["files"], view
        exact = [c for c in expected.columns if c not in EMBEDDING]
        pd.testing.assert_frame_equal(got[exact], expected[exact], check_exact=True, obj=view)
        if view == "guest_session_embedding":
            pd.testing.assert_frame_equal(
                got[EMBEDDING], expected[EMBEDDING], check_exact=False, rtol=1e-12, atol=1e-15
            )


def test_gate_rejection_in_spark_mode_leaves_the_offline_store_untouched(
    engines: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.sql import functions as F

    from flows import features as features_module
    from validation.run import BatchRejected

    work = tmp_path / "state"
    shutil.copytree(engines["base"] / "spark", work)
    monkeypatch.setenv("FTI_STATE_DIR", str(work))
    monkeypatch.setenv("FTI_FEATURE_ENGINE", "spark")
    real = features_module.compute_group_spark

    def broken(group: str, settings: Settings, start: pd.Timestamp, end: pd.Timestamp) -> Any:
        out = real(group, settings, start, end)
        if "zone_prices" in out:
            # A scaling bug in one hour of one zone.
            first = out["zone_prices"].agg(F.min("event_timestamp")).first()
            assert first is not None
            bug = F.col("event_timestamp") == F.lit(first[0])
            out["zone_prices"] = out["zone_prices"].withColumn(
                "price_scaled", F.when(bug, F.lit(1.7)).otherwise(F.col("price_scaled"))
            )
        return out

    monkeypatch.setattr(features_module, "compute_group_spark", broken)
    before = _store_hash(work)
    state = cast(
        "State[Any]",
        features_module.features_flow(groups=["prices", "weather"], return_state=True),
    )
    assert state.is_failed()
    with pytest.raises(BatchRejected, match=r"zone_prices: scaled price outside \[0, 1\]"):
        state.result()
    assert _store_hash(work) == before
