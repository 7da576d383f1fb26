"""Batch inference's guards as plain functions: a model that does not fit the features, the
day-ahead window, stale views judged by their pipeline's newest row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.batch_inference import (
    Champion,
    InferenceStopped,
    predict_frame,
    price_window,
    stale_views,
)
from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES


class _Model:
    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(frame["x"], dtype="float64") * 2


def test_a_signature_that_does_not_match_the_features_stops_the_batch() -> None:
    champion = Champion("m", "3", _Model(), {"x": "double", "zone": "string"})
    good = pd.DataFrame({"x": [1.0, 2.0], "zone": ["SE1", "SE2"]})
    assert predict_frame(champion, "price", good).tolist() == [2.0, 4.0]
    # A feature that changed type, and one the model never saw.
    bad = good.assign(x=["1", "2"], extra=[0.0, 1.0])
    with pytest.raises(InferenceStopped, match="m v3: its signature does not match") as err:
        predict_frame(champion, "price", bad)
    assert "input 'x' is string" in str(err.value) and "unexpected input 'extra'" in str(err.value)


@pytest.mark.parametrize(
    ("as_of", "issue", "first_hour", "hours"),
    [
        # After the 12:00 local issue: tomorrow's 24 hours (CET, UTC+1).
        ("2024-01-10T12:30Z", "2024-01-10T11:00Z", "2024-01-10T23:00Z", 24),
        # Before it: the forecast issued yesterday, for today.
        ("2024-01-10T10:00Z", "2024-01-09T11:00Z", "2024-01-09T23:00Z", 24),
        # Spring forward (2024-03-31 has 23 local hours).
        ("2024-03-30T12:00Z", "2024-03-30T11:00Z", "2024-03-30T23:00Z", 23),
    ],
)
def test_price_window_is_the_next_local_day(
    as_of: str, issue: str, first_hour: str, hours: int
) -> None:
    got_issue, start, end = price_window(pd.Timestamp(as_of))
    assert got_issue == pd.Timestamp(issue) and start == pd.Timestamp(first_hour)
    assert (end - start) == pd.Timedelta(hours=hours)


def _write(settings: Settings, view: str, stamps: list[str]) -> None:
    table = FEATURES[view]
    frame = pd.DataFrame(
        {
            "guest_id" if view.startswith("guest") else "booking_id": [
                f"k{i}" for i in range(len(stamps))
            ],
            "event_timestamp": pd.to_datetime(stamps, utc=True),
        }
    )
    lake.upsert(frame, table.root(settings), table.key, table.partition)


def test_stale_views_are_judged_by_their_pipeline(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    _write(settings, "booking_details", ["2024-01-09T00:00Z"])
    _write(settings, "guest_session_embedding", ["2024-01-01T00:00Z"])  # no session for a week
    views = {"booking_details": {}, "guest_session_embedding": {}}
    crons = {"feature-pipeline-bookings": "0 6 * * *"}  # daily: objective two days
    assert stale_views(settings, views, pd.Timestamp("2024-01-10T12:00Z"), crons) == []
    stale = stale_views(settings, views, pd.Timestamp("2024-01-12T12:00Z"), crons)
    assert len(stale) == 2 and all("beyond its freshness objective" in s for s in stale)
