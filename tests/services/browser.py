"""Headless Chromium (Debian's package) for UI tests: rendered DOM and a kept screenshot."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from fti.settings import REPO_ROOT
from tests.conftest import skip_or_fail

SCREENSHOTS = REPO_ROOT / "test-output" / "screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1400,1000",
    "--virtual-time-budget=20000",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        skip_or_fail("chromium is not installed (apt-get install chromium)")
    assert path is not None
    return path


def render(url: str, screenshot: str) -> str:
    """The page's DOM after its scripts ran; a PNG of it is kept under test-output/screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        base = [chromium(), *FLAGS, f"--user-data-dir={profile}"]
        dom = subprocess.run(
            [*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
        ).stdout
        subprocess.run(
            [*base, f"--screenshot={SCREENSHOTS / screenshot}", url],
            capture_output=True,
            timeout=120,
            check=True,
        )
    return dom
