"""ORCH: the feature pipelines as Prefect flows vs the same code as plain function calls.

Each run ingests the three sources and computes every feature view into a fresh state folder:
once through Prefect (flow and task runs against the ephemeral API server, started once before
the first measured run; its start-up is reported apart), once with Prefect taken out
(bench.plain). Runs alternate. Data: the seeded synthetic generator, size tiny (real formats):
the per-run cost of orchestration is fixed, a small run shows it best.

The Prefect runs go through fti.prefect_env.in_process_runs(), as every in-process run of the
platform should (`python -m flows.*`): no heartbeat thread (its join costs up to 1 s per flow
run), one API client. Prefect's own floor is measured apart on the same server: an empty flow
run (with and without heartbeats) and a trivial task run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import Row, median

log = logging.getLogger(__name__)
RAW = {"prices": "entsoe_day_ahead", "bookings": "hotel_bookings", "weather": "smhi_weather"}


def _pipeline(raw: Path, state: Path) -> None:
    os.environ["FTI_STATE_DIR"] = str(state)
    from flows.features import features_flow
    from flows.ingestion import ingestion_flow

    for source, folder in RAW.items():
        ingestion_flow(source, [str(raw / folder)], seed=0)  # type: ignore[call-overload]
    features_flow()


def _timed(raw: Path, state: Path, plain: bool) -> float:
    from bench.plain import without_prefect
    from fti.prefect_env import in_process_runs

    start = time.perf_counter()
    if plain:
        with without_prefect():
            _pipeline(raw, state)
    else:
        with in_process_runs():
            _pipeline(raw, state)
    seconds = time.perf_counter() - start
    shutil.rmtree(state, ignore_errors=True)
    return seconds


def _floor(repeat: int = 5, tasks: int = 20) -> dict[str, float]:
    """Prefect's fixed cost: median seconds of an empty flow run and of a trivial task run."""
    from prefect import flow, task
    from prefect.cache_policies import NONE

    from fti.prefect_env import in_process_runs

    @task(name="add-one", cache_policy=NONE)
    def add_one(x: int) -> int:
        return x + 1

    @flow(name="bench-floor")
    def floor_flow(n: int) -> int:
        return sum(add_one(i) for i in range(n))

    def timed(n: int) -> float:
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            floor_flow(n)
            runs.append(time.perf_counter() - start)
        return median(runs)

    with_heartbeat = timed(0)
    with in_process_runs():
        empty = timed(0)
        per_task = (timed(tasks) - empty) / tasks
    return {
        "flow_run_s": empty,
        "flow_run_with_heartbeat_s": with_heartbeat,
        "task_run_s": per_task,
    }


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    from features.synthetic import SyntheticSpec, generate_raw
    from fti.settings import Settings

    size = "tiny"
    runs = 1 if quick else 3
    settings = Settings(state_dir=workdir / "state")
    os.environ.update(settings.process_env())
    os.environ["PREFECT_HOME"] = str(workdir / "prefect")
    raw = workdir / "raw"
    spec = dataclasses.replace(SyntheticSpec.sized(size), start=date(2023, 6, 1))
    generate_raw(raw, spec)

    # Start-up: the first flow run starts Prefect's ephemeral API server.
    start = time.perf_counter()
    _timed(raw, workdir / "warm-prefect", plain=False)
    first_prefect = time.perf_counter() - start

    prefect_runs: list[float] = []
    plain_runs: list[float] = []
    for i in range(runs):
        order = (False, True) if i % 2 == 0 else (True, False)
        for plain in order:
            seconds = _timed(raw, workdir / f"run-{i}-{plain}", plain=plain)
            (plain_runs if plain else prefect_runs).append(seconds)
            log.warning("run %d %s: %.1f s", i, "plain" if plain else "prefect", seconds)
    floor = _floor()
    ours, base = median(prefect_runs), median(plain_runs)
    overhead = ours - base
    worst = max(prefect_runs) / ours
    met = (overhead < 0.10 * base or overhead < 2.0) and worst <= 2.0
    return {
        "rows": [
            Row(
                case="ORCH",
                what=f"ingest 3 sources + all features as Prefect flows, synthetic {size}",
                figure=ours,
                unit="s",
                baseline=base,
                ratio=ours / base,
                ratio_means="x plain calls (median of runs)",
                target="overhead < 10% or < 2 s; no run > 2x median",
                met=met,
                details={
                    "overhead_s": overhead,
                    "prefect_runs": prefect_runs,
                    "plain_runs": plain_runs,
                    "worst_over_median": worst,
                    "first_run_with_server_start_s": first_prefect,
                    "floor": floor,
                },
            )
        ],
        "notes": [
            f"first Prefect run incl. ephemeral server start: {first_prefect:.1f} s "
            f"(not in the figure); per-run overhead {overhead:+.2f} s, "
            f"worst run {worst:.2f}x the median",
            f"Prefect's floor on this server: {floor['flow_run_s']:.2f} s per empty flow run "
            f"({floor['flow_run_with_heartbeat_s']:.2f} s with Prefect's default heartbeats), "
            f"{floor['task_run_s'] * 1000:.0f} ms per trivial task run",
        ],
    }
