"""Shared fixtures: the real data folder, strict mode for CI, telemetry off."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fti.settings import Settings

REPO = Path(__file__).resolve().parents[1]

# Tests never phone home, whatever the caller's environment says.
for _line in (REPO / "telemetry.env").read_text().splitlines():
    if _line and not _line.startswith("#"):
        _key, _, _value = _line.partition("=")
        os.environ.setdefault(_key.strip(), _value.strip())


def strict() -> bool:
    """In CI (FTI_STRICT=1) a test that would skip for a missing resource fails instead."""
    return os.environ.get("FTI_STRICT", "") not in ("", "0", "false")


def skip_or_fail(reason: str) -> None:
    if strict():
        pytest.fail(f"{reason} (FTI_STRICT=1 turns this skip into a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data sets (../shared/data beside the checkout, or FTI_SHARED_DATA)."""
    path = Path(os.environ.get("FTI_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not (path / "entsoe_day_ahead").is_dir():
        skip_or_fail(f"real data not found at {path} (set FTI_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from prefect.testing.utilities import prefect_test_harness

    from fti.prefect_env import in_process_runs

    # Flow runs as the CLI runs them: no heartbeat thread, one client with quick retries.
    with prefect_test_harness(server_startup_timeout=120), in_process_runs():
        yield


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A fresh state folder, exported as FTI_STATE_DIR for the flows of this module."""
    path = tmp_path_factory.mktemp("state")
    old = os.environ.get("FTI_STATE_DIR")
    os.environ["FTI_STATE_DIR"] = str(path)
    try:
        yield Settings(state_dir=path)
    finally:
        if old is None:
            os.environ.pop("FTI_STATE_DIR", None)
        else:
            os.environ["FTI_STATE_DIR"] = old


# The folders whose modules build whole platforms or start servers and JVMs run first: with
# pytest-xdist (`make test`, one module per worker at a time) the long modules then overlap
# instead of one of them finishing alone at the end.
_FIRST = {"services": 0, "integration": 1, "inference": 1, "spark": 1, "models": 2}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        return _FIRST.get(parts[0], 3) if len(parts) > 1 else 3

    items.sort(key=rank)  # stable: each module's tests stay together and in order
