"""The feature platform through the production profile: SQL registry on PostgreSQL, Redis online."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES
from tests.services.conftest import REDIS_HOST, REDIS_PORT


@pytest.fixture
def production(tmp_path: Path, pg_url: str, redis_db: int, _harness: None) -> Iterator[Settings]:
    env = {
        "FTI_STATE_DIR": str(tmp_path / "state"),
        "FTI_PROFILE": "production",
        "FTI_REGISTRY_URL": pg_url,
        "FTI_REDIS_CONNECTION": f"{REDIS_HOST}:{REDIS_PORT},db={redis_db}",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield Settings()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_pipeline_through_production_profile_matches_embedded(production: Settings) -> None:
    import redis

    from flows.orchestrator import platform_flow
    from fti.store import open_store

    assert production.profile == "production"
    platform_flow(data="synthetic", size="tiny", until_today=False)

    store = open_store(production)
    assert store.config.registry.registry_type == "sql"
    assert store.config.online_store.type == "redis"
    assert {fv.name for fv in store.list_feature_views()} == set(FEATURES)
    db = int(production.redis_connection.rsplit("db=", 1)[1])
    assert redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db).dbsize() > 0

    offline = lake.read_table(FEATURES["zone_prices"].root(production))
    latest = offline.sort_values("event_timestamp").groupby("zone").tail(1).set_index("zone")
    online = store.get_online_features(
        features=["zone_prices:price_eur_mwh", "zone_prices:price_scaled"],
        entity_rows=[{"zone": z} for z in latest.index],
    ).to_df()
    for _, row in online.iterrows():
        assert row["price_eur_mwh"] == pytest.approx(latest.loc[row["zone"], "price_eur_mwh"])
        assert row["price_scaled"] == pytest.approx(latest.loc[row["zone"], "price_scaled"])

    bookings = lake.read_table(FEATURES["guest_age_band"].root(production))
    guests = bookings.sort_values("event_timestamp").groupby("guest_id").tail(1).head(20)
    got = store.get_online_features(
        features=["guest_age_band:age_band"],
        entity_rows=[{"guest_id": g} for g in guests["guest_id"]],
    ).to_df()
    assert got["age_band"].tolist() == guests["age_band"].tolist()
    assert not pd.isna(got["age_band"]).any()
