"""Two runs of the same flow at once, production profile: no duplicate, no corruption.

A served deployment and a person's manual run can overlap. Each pair of runs below starts
together (two threads, each its own flow run); the state lock serializes their commits, the
SQL registry and Redis take both, and the result equals one run's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

import pandas as pd
import pytest

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES, LAKE
from tests.services.conftest import REDIS_HOST, REDIS_PORT


def twice(fn: Callable[[], Any]) -> list[Any]:
    """fn() in two threads released at the same moment; both results (or exceptions raised)."""
    barrier = Barrier(2)

    def go() -> Any:
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(go) for _ in range(2)]
        return [f.result() for f in futures]


def test_two_runs_at_once_leave_no_duplicate(
    tmp_path: Path,
    pg_url: str,
    redis_db: int,
    monkeypatch: pytest.MonkeyPatch,
    _harness: None,
) -> None:
    from features.synthetic import SyntheticSpec, generate_raw
    from flows.features import features_flow
    from flows.ingestion import ingestion_flow
    from flows.materialize import materialize_flow
    from fti.store import open_store

    raw = tmp_path / "raw"
    generate_raw(raw, SyntheticSpec.sized("tiny"))
    for key, value in {
        "FTI_STATE_DIR": str(tmp_path / "state"),
        "FTI_PROFILE": "production",
        "FTI_REGISTRY_URL": pg_url,
        "FTI_REDIS_CONNECTION": f"{REDIS_HOST}:{REDIS_PORT},db={redis_db}",
    }.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert os.environ["FTI_PROFILE"] == "production"

    # The same raw files ingested twice at once: one run writes them, the other finds them in.
    ingested = twice(lambda: ingestion_flow("prices", [str(raw / "entsoe_day_ahead")]))
    prices = lake.read_table(LAKE["prices"].root(settings))
    assert not prices.duplicated(list(LAKE["prices"].key)).any()
    assert len(prices) == max(i["rows"] for i in ingested) > 0

    # The same feature window twice at once: one window, and what one run alone writes.
    twice(lambda: features_flow(groups=["prices"]))
    key = list(FEATURES["zone_prices"].key)
    offline = lake.read_table(FEATURES["zone_prices"].root(settings)).sort_values(key)
    assert not offline.duplicated(key).any()
    features_flow(groups=["prices"])
    alone = lake.read_table(FEATURES["zone_prices"].root(settings)).sort_values(key)
    pd.testing.assert_frame_equal(offline.reset_index(drop=True), alone.reset_index(drop=True))

    # Two materializations at once into Redis and the SQL registry.
    end = offline["event_timestamp"].max().to_pydatetime() + pd.Timedelta(hours=1)
    twice(lambda: materialize_flow(end=end, views=["zone_prices"]))
    store = open_store(settings)
    names = [v.name for v in store.list_feature_views()]
    assert sorted(names) == sorted(FEATURES)  # each view registered once
    view = store.get_feature_view("zone_prices")
    assert view.most_recent_end_time is not None
    latest = offline.sort_values("event_timestamp").groupby("zone").tail(1).set_index("zone")
    online = store.get_online_features(
        features=["zone_prices:price_eur_mwh", "zone_prices:price_lag_24h"],
        entity_rows=[{"zone": z} for z in latest.index],
    ).to_df()
    for _, row in online.iterrows():
        assert row["price_eur_mwh"] == pytest.approx(latest.loc[row["zone"], "price_eur_mwh"])
        assert row["price_lag_24h"] == pytest.approx(latest.loc[row["zone"], "price_lag_24h"])
