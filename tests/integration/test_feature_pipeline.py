"""The scheduled feature pipeline: landed files, watermarks, catch-up, no duplicates."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES


def _land(raw: Path, landing: Path) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    for path in raw.glob("*.csv"):
        # A later batch of the same zone-year arrives under a new name, as a download would.
        shutil.copy(path, landing / f"{raw.parent.name}-{path.name}")


def _prices(settings: Settings) -> pd.DataFrame:
    frame = lake.read_table(FEATURES["zone_prices"].root(settings))
    return frame.sort_values(["zone", "event_timestamp"]).reset_index(drop=True)


def test_schedule_windows_catch_up_and_match_a_full_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from features.synthetic import SyntheticSpec, generate_raw
    from flows.feature_pipeline import feature_pipeline_flow
    from flows.features import features_flow
    from flows.ingestion import ingestion_flow

    spec = dataclasses.replace(SyntheticSpec.sized("tiny"), start=date(2024, 3, 1), days=20)
    batches = {
        "a": spec,
        "b": dataclasses.replace(spec, start=date(2024, 3, 21), days=10),
        "all": dataclasses.replace(spec, days=30),
    }
    for name, s in batches.items():
        generate_raw(tmp_path / name, s)

    state = Settings(state_dir=tmp_path / "scheduled")
    monkeypatch.setenv("FTI_STATE_DIR", str(state.state_dir))
    landing = state.landing / "prices"

    _land(tmp_path / "a" / "entsoe_day_ahead", landing)
    first = feature_pipeline_flow("prices", as_of=datetime(2024, 3, 15, tzinfo=UTC))
    assert first["new_files"] == 2
    assert _prices(state)["event_timestamp"].max() < pd.Timestamp("2024-03-15", tz="UTC")

    # Nothing new landed: the next scheduled run still extends the features to its own time.
    second = feature_pipeline_flow("prices", as_of=datetime(2024, 3, 21, tzinfo=UTC))
    assert second["new_files"] == 0
    # The last local hour of batch A (20 March 23:00 CET).
    assert _prices(state)["event_timestamp"].max() == pd.Timestamp("2024-03-20 22:00", tz="UTC")

    # A missed day: batch B lands and one run catches up; a repeated run changes nothing.
    _land(tmp_path / "b" / "entsoe_day_ahead", landing)
    as_of = datetime(2024, 3, 31, tzinfo=UTC)
    feature_pipeline_flow("prices", as_of=as_of)
    scheduled = _prices(state)
    assert feature_pipeline_flow("prices", as_of=as_of)["new_files"] == 0
    pd.testing.assert_frame_equal(scheduled, _prices(state))

    full = Settings(state_dir=tmp_path / "full")
    monkeypatch.setenv("FTI_STATE_DIR", str(full.state_dir))
    ingestion_flow("prices", [str(tmp_path / "all" / "entsoe_day_ahead")])
    features_flow(groups=["prices"], end=as_of)
    pd.testing.assert_frame_equal(scheduled, _prices(full))
