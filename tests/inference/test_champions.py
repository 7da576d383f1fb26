"""fti.api.Champions: requests never wait for the registry once a champion is known."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fti.api import Champions
from fti.settings import Settings


class Registry:
    """A stand-in for models.tracking.Tracking: an alias that moves, lookups that can block."""

    def __init__(self) -> None:
        self.champion = "1"
        self.gate = threading.Event()
        self.gate.set()
        self.lookups = 0
        self.loaded: list[str] = []

    def alias_version(self, name: str, alias: str) -> str | None:
        self.lookups += 1
        self.gate.wait(timeout=30)
        return self.champion

    def load_pyfunc(self, name: str, version: str, root: Path) -> Any:
        self.loaded.append(version)
        return _Model()

    def input_schema(self, name: str, version: str) -> dict[str, str]:
        return {"x": "double"}


class _Model:
    metadata = type("Meta", (), {"flavors": {"python_function": {"predict_fn": "predict"}}})()

    def get_raw_model(self) -> Any:
        return self

    def predict(self, frame: Any) -> Any:
        return frame


def _eventually(check: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


def test_a_promotion_is_loaded_in_the_background_while_requests_keep_the_old_champion(
    tmp_path: Path,
) -> None:
    registry = Registry()
    champions = Champions(Settings(state_dir=tmp_path), ttl_s=0.01, tracking=registry)
    assert champions.get("m").version == "1"

    registry.champion = "2"
    registry.gate.clear()  # the registry hangs: a re-resolution cannot finish
    time.sleep(0.02)  # past the TTL
    for _ in range(5):  # answered from what is known, one background lookup started
        assert champions.get("m").version == "1"
    _eventually(lambda: registry.lookups == 2)

    registry.gate.set()
    _eventually(lambda: champions.version("m") == "2")
    assert registry.loaded == ["1", "2"]  # version 2 was loaded before it was served
    assert champions.get("m").version == "2"


def test_an_unreachable_registry_keeps_the_champion_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = Registry()
    champions = Champions(Settings(state_dir=tmp_path), ttl_s=0.01, tracking=registry)
    assert champions.get("m").version == "1"

    def unreachable(name: str, alias: str) -> str | None:
        registry.lookups += 1
        raise ConnectionError("registry down")

    registry.alias_version = unreachable  # type: ignore[method-assign]
    time.sleep(0.02)
    assert champions.get("m").version == "1"
    _eventually(lambda: "registry down" in caplog.text)
    assert champions.get("m").version == "1"


def test_without_a_ttl_every_request_resolves_the_alias(tmp_path: Path) -> None:
    registry = Registry()
    champions = Champions(Settings(state_dir=tmp_path), ttl_s=0.0, tracking=registry)
    assert champions.get("m").version == "1"
    registry.champion = "2"
    assert champions.get("m").version == "2"
    assert registry.lookups == 2
