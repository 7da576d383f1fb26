"""CLI: `fti --help` against `python -c pass` (the interpreter's own start-up)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, Row, median, telemetry_env


def _wall(cmd: list[str], runs: int) -> list[float]:
    env = {**telemetry_env(), "PATH": str(Path(sys.executable).parent), "HOME": str(REPO)}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    runs = 3 if quick else 7
    fti = str(Path(sys.executable).parent / "fti")
    _wall([fti, "--help"], 1)  # warm the file cache
    ours, base = [], []
    for _ in range(runs):  # interleaved, so both see the same load
        ours += _wall([fti, "--help"], 1)
        base += _wall([sys.executable, "-c", "pass"], 1)
    figure, baseline = median(ours), median(base)
    return {
        "rows": [
            Row(
                case="CLI",
                what=f"`fti --help`, median of {runs} runs",
                figure=figure,
                unit="s",
                baseline=baseline,
                ratio=figure / baseline,
                ratio_means="x `python -c pass`",
                target="under 1.5 s",
                met=figure < 1.5,
                gates_quick=False,
                details={"runs": ours, "baseline_runs": base},
            )
        ]
    }
