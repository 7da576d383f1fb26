"""Settings and the strict feature_store.yaml rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from fti.settings import Settings
from fti.store import ConfigError, render_config


def test_state_lives_under_one_folder(tmp_path: Path) -> None:
    s = Settings(state_dir=tmp_path)
    for path in (s.lake_dir, s.offline_dir, s.feast_dir, s.prefect_home, s.mlflow_dir):
        assert path.is_relative_to(tmp_path)
    env = s.process_env()
    assert env["PREFECT_HOME"].startswith(str(tmp_path))
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Settings(state_dir=tmp_path, no_such_setting=1)  # type: ignore[call-arg]


def test_render_fills_state_dir(tmp_path: Path) -> None:
    config = render_config(Settings(state_dir=tmp_path))
    assert config["online_store"]["path"] == f"{tmp_path}/feast/online_store.db"
    assert config["offline_store"]["root"] == f"{tmp_path}/offline"


def test_unset_placeholder_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings(state_dir=tmp_path)
    monkeypatch.setattr(Settings, "process_env", lambda self: {})
    monkeypatch.delenv("FTI_STATE_DIR", raising=False)
    with pytest.raises(ConfigError, match="FTI_STATE_DIR"):
        render_config(s)


def test_production_profile_needs_its_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FTI_REGISTRY_URL", raising=False)
    monkeypatch.delenv("FTI_REDIS_CONNECTION", raising=False)
    s = Settings(state_dir=tmp_path, profile="production")
    with pytest.raises(ConfigError, match="FTI_REDIS_CONNECTION, FTI_REGISTRY_URL"):
        render_config(s)
    s = Settings(
        state_dir=tmp_path,
        profile="production",
        registry_url="postgresql+psycopg://u@127.0.0.1:5432/fti",
        redis_connection="127.0.0.1:6379,db=3",
    )
    config = render_config(s)
    assert config["registry"]["path"] == "postgresql+psycopg://u@127.0.0.1:5432/fti"
    assert config["online_store"] == {
        "type": "fti.feast_online.FastRedisOnlineStore",
        "connection_string": "127.0.0.1:6379,db=3",
    }
