"""Run each case in its own subprocess under a memory cap; collect, judge and record results."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import MIB, REPO, RESULTS, load_average, machine, telemetry_env, write_json

GIB = 1024


@dataclass(frozen=True)
class Case:
    name: str  # the id in the table
    module: str
    cap_mib: int  # resident memory of the whole process tree
    timeout_s: int
    quick: bool = True  # in --quick (not ORCH, E2E: Prefect server start, a whole `fti run`)


CASES: tuple[Case, ...] = (
    Case("CLI", "bench.cases.cli", 1 * GIB, 120),
    Case("PIT", "bench.cases.pit", 6 * GIB, 900),
    Case("MAT", "bench.cases.mat", 5 * GIB, 1200),
    Case("ON", "bench.cases.online", 3 * GIB, 900),
    Case("FP", "bench.cases.fp", 8 * GIB, 1200),
    Case("ORCH", "bench.cases.orch", 5 * GIB, 900, quick=False),
    Case("DQ", "bench.cases.dq", 4 * GIB, 600),
    Case("E2E", "bench.cases.e2e", 6 * GIB, 900, quick=False),
    # Builds its state with `fti run --size tiny` first (or FTI_BENCH_API_STATE).
    Case("API", "bench.cases.api", 4 * GIB, 1200, quick=False),
    # Each path runs in its own process under the case's per-path cap (bench/cases/spark.py).
    Case("SPARK", "bench.cases.spark", 8 * GIB, 3600, quick=False),
)


class _Watch:
    """Samples the process tree's resident memory; kills the tree above the cap."""

    def __init__(self, process: subprocess.Popen[bytes], cap_mib: int) -> None:
        self.process = process
        self.cap = cap_mib * MIB
        self.peak = 0
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> int:
        import psutil

        try:
            root = psutil.Process(self.process.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set() and self.process.poll() is None:
            rss = self._tree_rss()
            self.peak = max(self.peak, rss)
            if rss > self.cap:
                self.exceeded = True
                _kill_group(self.process)
                return
            self._stop.wait(0.1)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the case's own process group (it was started in a new session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run_case(case: Case, quick: bool, workdir: Path, log_dir: Path) -> dict[str, Any]:
    """One case in a subprocess; its rows come back through a JSON file."""
    out = workdir / f"{case.name}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "bench.case", case.module, "--out", str(out)]
    cmd += ["--workdir", str(workdir / case.name)]
    if quick:
        cmd.append("--quick")
    env = {**os.environ, **telemetry_env(), "PYTHONUNBUFFERED": "1"}
    log = log_dir / f"{case.name}.log"
    started = time.perf_counter()
    load = load_average()
    with log.open("wb") as handle:
        process = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        with _Watch(process, case.cap_mib) as watch:
            try:
                code = process.wait(timeout=case.timeout_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                _kill_group(process)
                code = process.wait()
                timed_out = True
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "case": case.name,
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(watch.peak / MIB),
        "cap_mib": case.cap_mib,
        "load_before": load,
        "load_after": load_average(),
        "log": str(log.relative_to(REPO)) if log.is_relative_to(REPO) else str(log),
        "rows": [],
    }
    if watch.exceeded:
        result.update(status="failed", error=f"memory cap exceeded ({case.cap_mib} MiB)")
    elif timed_out:
        result.update(status="failed", error=f"timed out after {case.timeout_s} s")
    elif code != 0 or not out.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-15:]
        result.update(status="error", error=f"exit code {code}", log_tail=tail)
    else:
        payload = json.loads(out.read_text())
        result["rows"] = payload["rows"]
        result["notes"] = payload.get("notes", [])
        result["status"] = "ok"
        if payload.get("pending"):
            result["status"] = "pending"
            result["error"] = payload["pending"]
    return result


def judge(results: list[dict[str, Any]], quick: bool) -> list[str]:
    """The failures that make the command exit non-zero."""
    failures = []
    for result in results:
        if result["status"] in ("failed", "error"):
            failures.append(f"{result['case']}: {result.get('error')}")
            continue
        for row in result["rows"]:
            if row["met"] is False and (row["gates_quick"] or not quick):
                failures.append(f"{row['case']} {row['what']}: target {row['target']} not met")
            if row["details"].get("identical") is False:
                failures.append(f"{row['case']} {row['what']}: results differ from the baseline")
    return failures


def run_all(names: list[str] | None, quick: bool) -> tuple[dict[str, Any], Path]:
    selected = [c for c in CASES if (c.name in names if names else c.quick or not quick)]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    mode = "quick" if quick else "full"
    run_dir = RESULTS / f"{stamp}-{mode}"
    workdir = RESULTS / "work"
    run_dir.mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    command = "python -m bench" + (" --quick" if quick else "")
    if names is not None:
        command += " --only " + " ".join(names)
    report: dict[str, Any] = {
        "command": command,
        "mode": mode,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "cases": [],
    }
    for case in selected:
        print(f"[{case.name}] running (cap {case.cap_mib} MiB)...", flush=True)
        result = run_case(case, quick, workdir, run_dir)
        report["cases"].append(result)
        from bench.report import print_case

        print_case(result)
        write_json(run_dir / "results.json", report)
    report["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["failures"] = judge(report["cases"], quick)
    path = run_dir / "results.json"
    write_json(path, report)
    write_json(RESULTS / f"latest-{mode}.json", report)
    return report, path
