"""Deployments served by `fti serve` run on their schedule against a real Prefect server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.services.servers import Server, free_port, start


@pytest.fixture
def prefect_server(tmp_path: Path, pg_url: str) -> Iterator[Server]:
    """A Prefect server on a free port with its database on PostgreSQL, as in production."""
    port = free_port()
    env = {
        "PREFECT_HOME": str(tmp_path / "prefect-server"),
        "PREFECT_API_DATABASE_CONNECTION_URL": pg_url.replace("+psycopg", "+asyncpg"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": "",
        # The UI's browser code calls the API at this address, not at the default port 4200.
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
    }
    bin_dir = Path(sys.executable).parent
    command = [
        str(bin_dir / "prefect"),
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = start(
        command, env, f"http://127.0.0.1:{port}/api", "/health", tmp_path / "prefect.log"
    )
    try:
        yield server
    finally:
        server.stop()


async def _runs(api: str, deployment: str) -> tuple[list[str], list[Any]]:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    async with PrefectClient(api=api) as client:
        deployments = await client.read_deployments()
        schedules = [
            f"{d.name} {s.schedule.cron} {s.schedule.timezone}"
            for d in deployments
            for s in d.schedules
        ]
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment]))
        )
        return schedules, list(runs)


def soon_cron(delay_s: float = 35.0) -> tuple[str, list[datetime]]:
    """A daily cron (in Europe/Stockholm, with croniter's sixth field, seconds) due in delay_s
    and, in case `fti serve` registered too late for it, once more a minute later: the same
    path as the real crons (server scheduler, runner), without waiting for a whole minute and
    without runs every few seconds piling up on a loaded machine."""
    zone = ZoneInfo("Europe/Stockholm")
    first = (datetime.now(zone) + timedelta(seconds=delay_s)).replace(microsecond=0)
    second = first + timedelta(minutes=1)
    if second.hour != first.hour:
        return f"{first.minute} {first.hour} * * * {first.second}", [first]
    return f"{first.minute},{second.minute} {first.hour} * * * {first.second}", [first, second]


def test_served_deployment_runs_on_its_schedule(tmp_path: Path, prefect_server: Server) -> None:
    from features.synthetic import SyntheticSpec, generate_raw

    state = tmp_path / "state"
    generate_raw(tmp_path / "raw", SyntheticSpec.sized("tiny"))
    landing = state / "landing" / "weather"
    landing.mkdir(parents=True)
    for path in (tmp_path / "raw" / "smhi_weather").glob("*.csv"):
        (landing / path.name).write_bytes(path.read_bytes())

    cron, due = soon_cron()
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server.url,
        "PREFECT_HOME": str(tmp_path / "prefect-client"),
        "FTI_STATE_DIR": str(state),
        "FTI_SCHEDULES": json.dumps({"feature-pipeline-weather": cron}),
        # The runner looks for due runs every 2 s (default 10 s).
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    }
    serve = subprocess.Popen(
        [str(Path(sys.executable).parent / "fti"), "serve"],
        env=env,
        stdout=(tmp_path / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        states: list[str] = []
        while time.monotonic() < deadline:
            schedules, runs = asyncio.run(_runs(prefect_server.url, "feature-pipeline-weather"))
            states = [r.state_type.value for r in runs if r.state_type]
            if "COMPLETED" in states or "FAILED" in states or "CRASHED" in states:
                break
            time.sleep(2)
        log = (tmp_path / "serve.log").read_text()[-3000:]
        assert "COMPLETED" in states, f"runs {states}; serve log: {log}"
        # The run was made by the scheduler for a time of the cron, not triggered by hand.
        [done] = [r for r in runs if r.state_type and r.state_type.value == "COMPLETED"][:1]
        assert done.auto_scheduled
        assert done.expected_start_time in due, (done.expected_start_time, due)
        assert "feature-pipeline-prices 30 13 * * * Europe/Stockholm" in schedules
        assert f"feature-pipeline-weather {cron} Europe/Stockholm" in schedules
        assert any((state / "offline" / "weather_daily").rglob("*.parquet"))

        # The Prefect UI lists the deployments with their schedules.
        from tests.services.browser import SCREENSHOTS, render

        dom = render(
            prefect_server.url.removesuffix("/api") + "/deployments", "prefect-deployments.png"
        )
        for s in (
            "feature-pipeline-prices",
            "feature-pipeline-bookings",
            "feature-pipeline-weather",
        ):
            assert s in dom, f"{s} not in the Prefect UI"
        # ...with their schedules, as the UI words the crons (prices 13:30, bookings 06:00).
        for when in ("At 01:30 PM every day", "At 06:00 AM every day"):
            assert when in dom, f"schedule {when!r} not in the Prefect UI"
        assert (SCREENSHOTS / "prefect-deployments.png").stat().st_size > 10_000
    finally:
        os.killpg(serve.pid, 15)
        serve.wait(timeout=30)
