"""Integration fixtures: one Prefect test harness per session, a state folder per test module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fti.settings import Settings


@pytest.fixture(scope="session", autouse=True)
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "integration":
            item.add_marker(pytest.mark.integration)
