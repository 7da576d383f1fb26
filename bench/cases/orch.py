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

Two rows: the ephemeral API on SQLite (the embedded default) and, in a child process, on a
fresh PostgreSQL database (the production profile's Prefect database; FTI_BENCH_PG_URL,
default the local server; `--quick` measures SQLite only). On SQLite, creating a flow run
often meets the write lock of the server's own event and task-run recorders (SQLITE_BUSY: a
503, Prefect issue #18934). in_process_runs re-sends it after short pauses
(fti.prefect_client.QuickRetryTransport); the notes count the 503s that still reached Prefect's
own client, which backs off about 2 s each.
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
from urllib.parse import urlsplit

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


class _Retries(logging.Handler):
    """Counts the API client's back-offs (a 503 answer: the server's database was locked)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "retryable status code" in record.getMessage():
            self.count += 1


def measure(workdir: Path, runs: int) -> dict[str, Any]:
    """Prefect runs and plain runs of the pipelines, alternating, in fresh state folders."""
    from features.synthetic import SyntheticSpec, generate_raw
    from fti.settings import Settings

    settings = Settings(state_dir=workdir / "state")
    os.environ.update(settings.process_env())
    os.environ["PREFECT_HOME"] = str(workdir / "prefect")
    raw = workdir / "raw"
    spec = dataclasses.replace(SyntheticSpec.sized("tiny"), start=date(2023, 6, 1))
    generate_raw(raw, spec)

    # Prefect's floor first, on an idle server (its first flow run starts the ephemeral API
    # server); after the pipeline runs the server is still recording their events.
    floor = _floor()
    # Start-up: the first pipeline run imports the flows and builds the gate's GX context.
    start = time.perf_counter()
    _timed(raw, workdir / "warm-prefect", plain=False)
    first_prefect = time.perf_counter() - start

    retries = _Retries()
    client_log = logging.getLogger("prefect.client")
    level = client_log.level
    client_log.addHandler(retries)
    client_log.setLevel(logging.DEBUG)
    prefect_runs: list[float] = []
    plain_runs: list[float] = []
    try:
        for i in range(runs):
            order = (False, True) if i % 2 == 0 else (True, False)
            for plain in order:
                seconds = _timed(raw, workdir / f"run-{i}-{plain}", plain=plain)
                (plain_runs if plain else prefect_runs).append(seconds)
                log.warning("run %d %s: %.1f s", i, "plain" if plain else "prefect", seconds)
    finally:
        client_log.removeHandler(retries)
        client_log.setLevel(level)
    return {
        "prefect_runs": prefect_runs,
        "plain_runs": plain_runs,
        "first_pipeline_run_s": first_prefect,
        "floor": floor,
        "client_retries": retries.count,
    }


def _measure_on_postgres(workdir: Path, runs: int, url: str) -> dict[str, Any] | str:
    """`measure` in a child process whose ephemeral Prefect API keeps its database in a fresh
    PostgreSQL database (the production profile's Prefect database); a reason when there is no
    PostgreSQL to use."""
    import json
    import subprocess
    import sys

    import psycopg

    database = f"fti_bench_orch_{os.getpid()}"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
    except psycopg.OperationalError as err:
        return f"no PostgreSQL at {url}: {str(err).splitlines()[0]}"
    server = urlsplit(url)._replace(scheme="postgresql+asyncpg", path=f"/{database}")
    env = {**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL": server.geturl()}
    out = workdir / "postgres.json"
    code = (
        "import json, sys; from pathlib import Path; from bench.cases.orch import measure; "
        "Path(sys.argv[2]).write_text(json.dumps(measure(Path(sys.argv[1]), int(sys.argv[3]))))"
    )
    try:
        subprocess.run(
            [sys.executable, "-c", code, str(workdir / "pg"), str(out), str(runs)],
            env=env,
            check=True,
        )
        result: dict[str, Any] = json.loads(out.read_text())
        return result
    finally:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _row(database: str, measured: dict[str, Any]) -> Row:
    ours, base = median(measured["prefect_runs"]), median(measured["plain_runs"])
    overhead = ours - base
    worst = max(measured["prefect_runs"]) / ours
    return Row(
        case="ORCH",
        what=f"ingest 3 sources + all features as Prefect flows, synthetic tiny, {database}",
        figure=ours,
        unit="s",
        baseline=base,
        ratio=ours / base,
        ratio_means="x plain calls (median of runs)",
        target="overhead < 10% or < 2 s; no run > 2x median",
        met=(overhead < 0.10 * base or overhead < 2.0) and worst <= 2.0,
        details={"overhead_s": overhead, "worst_over_median": worst, **measured},
    )


def _notes(database: str, measured: dict[str, Any]) -> str:
    ours, base = median(measured["prefect_runs"]), median(measured["plain_runs"])
    floor = measured["floor"]
    heartbeat = floor["flow_run_with_heartbeat_s"]
    return (
        f"{database}: per-run overhead {ours - base:+.2f} s, worst run "
        f"{max(measured['prefect_runs']) / ours:.2f}x the median, "
        f"{measured['client_retries']} API client back-off(s) over the measured Prefect runs "
        f"(a 503: the server's database was locked); first pipeline run (imports, GX context) "
        f"{measured['first_pipeline_run_s']:.1f} s, not in the figure; Prefect's floor, idle: "
        f"{floor['flow_run_s']:.2f} s per empty flow run ({heartbeat:.2f} s "
        f"with Prefect's default heartbeats), {floor['task_run_s'] * 1000:.0f} ms per trivial "
        "task run"
    )


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    runs = 1 if quick else 3
    rows, notes = [], []
    embedded = measure(workdir / "sqlite", runs)
    rows.append(_row("Prefect API on SQLite (embedded default)", embedded))
    notes.append(_notes("SQLite", embedded))
    if not quick:
        url = os.environ.get("FTI_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        on_postgres = _measure_on_postgres(workdir, runs, url)
        if isinstance(on_postgres, str):
            notes.append(f"PostgreSQL: not measured ({on_postgres})")
        else:
            rows.append(_row("Prefect API on PostgreSQL (production profile)", on_postgres))
            notes.append(_notes("PostgreSQL", on_postgres))
    return {"rows": rows, "notes": notes}
