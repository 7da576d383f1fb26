"""Redis or PostgreSQL becoming unreachable in the middle of a production-profile run.

The profile points at a TCP proxy (tests/services/proxy.py) in front of the shared service and
the test cuts the proxy at a chosen point of a materialization run (Redis: between two views,
PostgreSQL: at registration): the run must end Failed after its task retries with an error
naming the unreachable service, write nothing (online store, registry, offline store
unchanged), and a re-run after the service returns completes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES
from tests.services.conftest import PG_HOST, PG_PORT, REDIS_HOST, REDIS_PORT
from tests.services.proxy import TcpProxy
from tests.services.servers import environment

VIEWS = ["zone_prices", "weather_daily", "weather_sunshine"]


@pytest.fixture(autouse=True)
def _retry_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The materialization tasks keep their retries (counted below) without the waits between
    them (2 s and 10 s in production, for a service to come back)."""
    from flows import materialize

    for name in ("apply_feature_definitions", "materialize_feature_views"):
        original = getattr(materialize, name)
        assert original.retries == 2
        monkeypatch.setattr(materialize, name, original.with_options(retry_delay_seconds=0))


def redis_contents(db: int) -> dict[bytes, dict[bytes, bytes]]:
    """Every hash of the test's Redis database, read directly (not through the proxy)."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    try:
        return {key: client.hgetall(key) for key in client.scan_iter(count=1000)}
    finally:
        client.close()


def offline_hash(settings: Settings) -> dict[str, str]:
    return {
        p.relative_to(settings.state_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for part in ("lake", "offline")
        for p in sorted((settings.state_dir / part).rglob("*"))
        if p.is_file()
    }


def registry_ends(settings: Settings) -> dict[str, datetime | None]:
    from fti.store import open_store

    store = open_store(settings)
    return {v.name: v.most_recent_end_time for v in store.list_feature_views()}


def prepare(tmp_path: Path, env: dict[str, str]) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Tiny prices and weather ingested and featurized; materialized up to the middle."""
    from features.synthetic import SyntheticSpec, generate_raw
    from flows.features import features_flow
    from flows.ingestion import ingestion_flow
    from flows.materialize import materialize_flow

    raw = tmp_path / "raw"
    generate_raw(raw, SyntheticSpec.sized("tiny"))
    with environment(env) as settings:
        ingestion_flow("prices", [str(raw / "entsoe_day_ahead")])
        ingestion_flow("weather", [str(raw / "smhi_weather")])
        features_flow(groups=["prices", "weather"])
        stamps = lake.read_table(FEATURES["zone_prices"].root(settings))["event_timestamp"]
        first, last = stamps.min(), stamps.max()
        middle = first + (last - first) / 2
        materialize_flow(end=middle.to_pydatetime(), views=VIEWS)
    return middle, last + pd.Timedelta(hours=1)


def counting_cut(
    monkeypatch: pytest.MonkeyPatch,
    owner: Any,
    name: str,
    proxy: TcpProxy,
    at_call: int = 1,
    check: Callable[..., None] | None = None,
) -> list[int]:
    """Replace owner.name by a wrapper that cuts the proxy on call `at_call` (after
    `check(*args)`); count the calls."""
    original = getattr(owner, name)
    calls: list[int] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == at_call:
            if check is not None:
                check(*args)
            proxy.cut()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


def assert_rerun_serves_offline(settings: Settings, end: pd.Timestamp) -> None:
    from flows.materialize import materialize_flow
    from fti.store import open_store

    state = materialize_flow(end=end.to_pydatetime(), views=VIEWS, return_state=True)
    assert state.is_completed(), state.message
    offline = lake.read_table(FEATURES["zone_prices"].root(settings))
    latest = offline.sort_values("event_timestamp").groupby("zone").tail(1).set_index("zone")
    online = (
        open_store(settings)
        .get_online_features(
            features=["zone_prices:price_eur_mwh", "zone_prices:price_mean_24h"],
            entity_rows=[{"zone": z} for z in latest.index],
        )
        .to_df()
    )
    for _, row in online.iterrows():
        assert row["price_eur_mwh"] == pytest.approx(latest.loc[row["zone"], "price_eur_mwh"])
        assert row["price_mean_24h"] == pytest.approx(latest.loc[row["zone"], "price_mean_24h"])


def test_redis_unreachable_mid_materialization(
    tmp_path: Path,
    pg_url: str,
    redis_db: int,
    monkeypatch: pytest.MonkeyPatch,
    _harness: None,
) -> None:
    from flows.materialize import materialize_flow
    from fti.feast_online import FastRedisOnlineStore

    proxy = TcpProxy(REDIS_HOST, REDIS_PORT)
    env = {
        "FTI_STATE_DIR": str(tmp_path / "state"),
        "FTI_PROFILE": "production",
        "FTI_REGISTRY_URL": pg_url,
        "FTI_REDIS_CONNECTION": f"127.0.0.1:{proxy.port},db={redis_db}",
    }
    middle, end = prepare(tmp_path, env)
    with environment(env) as settings:
        online_before = redis_contents(redis_db)
        assert online_before, "the first materialization wrote to Redis through the proxy"
        ends_before = registry_ends(settings)
        files_before = offline_hash(settings)

        # Redis disappears between two views: the first view's HSETs were already sent.
        def first_view_sent(store: FastRedisOnlineStore, *args: Any) -> None:
            assert store._transaction is not None and store._transaction.queued > 0

        calls = counting_cut(
            monkeypatch, FastRedisOnlineStore, "online_write_arrow", proxy, 2, first_view_sent
        )
        state = materialize_flow(end=end.to_pydatetime(), views=VIEWS, return_state=True)
        assert state.is_failed()
        assert len(calls) == 4, "2 views written in the first try, then 2 retries of the task"
        assert "ConnectionError" in state.message and f"127.0.0.1:{proxy.port}" in state.message
        assert "Connection refused" in state.message, state.message

        assert redis_contents(redis_db) == online_before
        assert registry_ends(settings) == ends_before
        assert all(e is not None and e <= middle for e in ends_before.values() if e)
        assert offline_hash(settings) == files_before

        proxy.restore()
        monkeypatch.undo()
        assert_rerun_serves_offline(settings, end)


def test_postgres_unreachable_mid_materialization(
    tmp_path: Path,
    pg_databases: Callable[[], str],
    redis_db: int,
    monkeypatch: pytest.MonkeyPatch,
    _harness: None,
) -> None:
    import fti.store
    from flows.materialize import materialize_flow

    proxy = TcpProxy(PG_HOST, PG_PORT)
    database = pg_databases().rsplit("/", 1)[1]
    env = {
        "FTI_STATE_DIR": str(tmp_path / "state"),
        "FTI_PROFILE": "production",
        "FTI_REGISTRY_URL": f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{database}",
        "FTI_REDIS_CONNECTION": f"{REDIS_HOST}:{REDIS_PORT},db={redis_db}",
    }
    middle, end = prepare(tmp_path, env)
    with environment(env) as settings:
        online_before = redis_contents(redis_db)
        ends_before = registry_ends(settings)
        files_before = offline_hash(settings)

        # PostgreSQL disappears when the run registers the feature definitions.
        calls = counting_cut(monkeypatch, fti.store, "apply_definitions", proxy)
        state = materialize_flow(end=end.to_pydatetime(), views=VIEWS, return_state=True)
        assert state.is_failed()
        assert len(calls) == 3, "the registry task ran once and was retried twice"
        assert "OperationalError" in state.message, state.message
        assert f"port {proxy.port}" in state.message and "refused" in state.message

        # The same through the CLI: one line, exit 1.
        from typer.testing import CliRunner

        from fti.cli import app

        cli = CliRunner().invoke(app, ["materialize", "--end", f"{end:%Y-%m-%dT%H:%M:%S}"])
        assert cli.exit_code == 1, cli.output
        lines = [line for line in cli.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in cli.output, cli.output
        assert lines[0].startswith("error: OperationalError: (psycopg.OperationalError)")
        assert f"port {proxy.port} failed: Connection refused" in lines[0]

        assert redis_contents(redis_db) == online_before
        assert offline_hash(settings) == files_before
        proxy.restore()
        monkeypatch.undo()
        assert registry_ends(settings) == ends_before
        assert all(e is not None and e <= middle for e in ends_before.values() if e)
        assert_rerun_serves_offline(settings, end)
