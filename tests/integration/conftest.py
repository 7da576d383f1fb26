"""Integration tests: whole flows in-process, on a Prefect test harness."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _harness(prefect_harness: None) -> None:
    """Every integration test runs its flows against the session's Prefect harness."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "integration":
            item.add_marker(pytest.mark.integration)
