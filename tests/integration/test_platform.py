"""The whole feature platform on tiny synthetic data: flows, offline and online stores, Feast."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fti import lake
from fti.settings import Settings
from fti.status import collect
from fti.tables import FEATURES, LAKE, PREDICTION_VIEWS
from tests.asof import asof_join


@pytest.fixture(scope="module")
def run(state: Settings) -> dict[str, Any]:
    from flows.orchestrator import platform_flow

    return platform_flow(data="synthetic", size="tiny", until_today=False)


def _snapshot(settings: Settings) -> dict[str, pd.DataFrame]:
    tables = {**{f"lake/{n}": t for n, t in LAKE.items()}, **{n: t for n, t in FEATURES.items()}}
    return {name: lake.read_table(t.root(settings)) for name, t in tables.items()}


def test_every_view_is_offline_and_online(run: dict[str, Any], state: Settings) -> None:
    statuses = {s.view: s for s in collect(state)}
    assert set(statuses) == set(FEATURES)
    for view, status in statuses.items():
        if view in PREDICTION_VIEWS:  # written by batch inference, not by the feature pipeline
            continue
        assert status.offline_rows > 0, view
        assert status.online_entities > 0, view
    # The tiny spec has two zones; every one of them is served online.
    assert statuses["zone_prices"].online_entities == 2


def test_rerun_changes_nothing(run: dict[str, Any], state: Settings) -> None:
    from flows.orchestrator import platform_flow

    before = _snapshot(state)
    platform_flow(data="synthetic", size="tiny", until_today=False)
    after = _snapshot(state)
    for name, frame in before.items():
        key = list(frame.columns[:2])
        pd.testing.assert_frame_equal(
            frame.sort_values(key).reset_index(drop=True),
            after[name].sort_values(key).reset_index(drop=True),
            obj=name,
        )


def test_online_store_serves_the_latest_offline_values(
    run: dict[str, Any], state: Settings
) -> None:
    from fti.store import open_store

    store = open_store(state)
    offline = lake.read_table(FEATURES["zone_prices"].root(state))
    latest = offline.sort_values("event_timestamp").groupby("zone").tail(1).set_index("zone")
    names = ["price_eur_mwh", "price_scaled", "price_mean_24h"]
    online = store.get_online_features(
        features=[f"zone_prices:{n}" for n in names],
        entity_rows=[{"zone": z} for z in latest.index],
    ).to_df()
    for _, row in online.iterrows():
        for name in names:
            assert row[name] == pytest.approx(latest.loc[row["zone"], name]), name


def _booking_entities(settings: Settings) -> pd.DataFrame:
    details = lake.read_table(FEATURES["booking_details"].root(settings))
    bookings = lake.read_table(LAKE["bookings"].root(settings))[["booking_id", "guest_id"]]
    entities = details[["booking_id", "hotel", "stay_week_start", "event_timestamp"]].merge(
        bookings, on="booking_id"
    )
    # Shuffled on purpose: the store must keep the caller's row order.
    entities = entities.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return entities.assign(row_id=range(len(entities)))


def test_cancellation_service_equals_brute_force_asof(run: dict[str, Any], state: Settings) -> None:
    from fti.store import open_store

    store = open_store(state)
    entity_df = _booking_entities(state)
    service = store.get_feature_service("cancellation_classifier_v1")
    got = store.get_historical_features(entity_df=entity_df, features=service).to_df()
    assert len(got) == len(entity_df)
    got = got.sort_values("row_id").reset_index(drop=True)
    for projection in service.feature_view_projections:
        table = lake.read_table(FEATURES[projection.name].root(state))
        keys = [k for k in FEATURES[projection.name].key if k != "event_timestamp"]
        columns = [f.name for f in projection.features]
        expected = asof_join(entity_df, table, keys, columns)
        for column in columns:
            pd.testing.assert_series_equal(
                got[column].astype(object).where(got[column].notna(), None),
                expected[column].astype(object).where(expected[column].notna(), None),
                check_names=False,
                obj=f"{projection.name}.{column}",
            )


def test_new_batch_is_processed_incrementally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest batch A, then batch B with a windowed feature run: same features as all at once."""
    from features.synthetic import SyntheticSpec, generate_raw
    from flows.features import features_flow
    from flows.ingestion import ingestion_flow

    spec = dataclasses.replace(SyntheticSpec.sized("tiny"), start=date(2024, 3, 1), days=20)
    later = dataclasses.replace(spec, start=date(2024, 3, 21), days=10)
    both = dataclasses.replace(spec, days=30)
    for name, specs in (("a", [spec]), ("b", [later]), ("all", [both])):
        generate_raw(tmp_path / "raw" / name, specs[0])

    def prices(state: Path) -> pd.DataFrame:
        frame = lake.read_table(state / "offline" / "zone_prices")
        return frame.sort_values(["zone", "event_timestamp"]).reset_index(drop=True)

    monkeypatch.setenv("FTI_STATE_DIR", str(tmp_path / "incremental"))
    ingestion_flow("prices", [str(tmp_path / "raw" / "a" / "entsoe_day_ahead")])
    features_flow(groups=["prices"])
    summary = ingestion_flow("prices", [str(tmp_path / "raw" / "b" / "entsoe_day_ahead")])
    start, end = (pd.Timestamp(t) for t in summary["window"])
    features_flow(groups=["prices"], start=start, end=end + pd.Timedelta(hours=1))
    incremental = prices(tmp_path / "incremental")

    monkeypatch.setenv("FTI_STATE_DIR", str(tmp_path / "full"))
    ingestion_flow("prices", [str(tmp_path / "raw" / "all" / "entsoe_day_ahead")])
    features_flow(groups=["prices"])
    pd.testing.assert_frame_equal(incremental, prices(tmp_path / "full"))


def test_online_store_holds_only_derived_personal_features(
    run: dict[str, Any], state: Settings
) -> None:
    """Raw personal data (dates of birth, web-session histories) never reaches the online store."""
    guests = lake.read_table(LAKE["guests"].root(state))
    sessions = lake.read_table(LAKE["sessions"].root(state))
    con = sqlite3.connect(state.feast_dir / "online_store.db")
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        names: set[str] = set()
        blobs: list[bytes] = []
        for table in tables:
            for name, value in con.execute(f'SELECT feature_name, value FROM "{table}"'):
                names.add(name)
                blobs.append(bytes(value))
    finally:
        con.close()
    assert names, "the online store is empty"
    assert not {"date_of_birth", "pages", "country", "session_id"} & names
    assert {"age_band", "session_emb_0", "country_other"} <= names
    # Not even as a value: no date of birth and no page sequence appears in any stored bytes.
    stored = b"\n".join(blobs)
    for dob in pd.to_datetime(guests["date_of_birth"]).dt.strftime("%Y-%m-%d").head(200):
        assert dob.encode() not in stored
    for pages in sessions["pages"].head(200):
        assert str(pages).encode() not in stored
