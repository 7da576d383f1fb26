"""The benchmark harness runs cases in subprocesses, caps their memory and reports (no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.common import REPO, Row
from bench.harness import Case, judge, run_case
from bench.report import BEGIN, END, markdown_table, update_benchmarks_md

FAKE_CASE = '''
"""A stand-in case: one row, and optionally a big allocation."""
import os
from bench.common import Row

def run(quick, workdir):
    size = int(os.environ.get("FAKE_CASE_MIB", "0"))
    block = bytearray(size * 1024 * 1024)
    for i in range(0, len(block), 4096):  # touch every page: resident, not just reserved
        block[i] = 1
    import time
    time.sleep(0.5 if size else 0)
    return {"rows": [Row("FAKE", "a row", 2.0, "s", 1.0, 2.0, "x base", "<= 3x", True)],
            "notes": ["quick" if quick else "full"]}
'''


@pytest.fixture
def fake_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "fake_case_mod.py").write_text(textwrap.dedent(FAKE_CASE))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return tmp_path


def test_a_case_runs_in_a_subprocess_and_reports(fake_case: Path) -> None:
    case = Case("FAKE", "fake_case_mod", cap_mib=2048, timeout_s=120)
    result = run_case(case, quick=True, workdir=fake_case / "work", log_dir=fake_case)
    assert result["status"] == "ok", result
    assert result["notes"] == ["quick"]
    (row,) = result["rows"]
    assert row["ratio"] == 2.0 and row["met"] is True
    assert result["peak_rss_mib"] > 0
    assert not judge([result], quick=True)


def test_a_case_over_its_memory_cap_fails(fake_case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_CASE_MIB", "400")
    case = Case("FAKE", "fake_case_mod", cap_mib=200, timeout_s=120)
    result = run_case(case, quick=True, workdir=fake_case / "work", log_dir=fake_case)
    assert result["status"] == "failed"
    assert "memory cap" in result["error"]
    assert judge([result], quick=True) == ["FAKE: memory cap exceeded (200 MiB)"]


def _result(*rows: Row) -> dict:
    return {
        "case": "X",
        "status": "ok",
        "rows": [r.as_dict() for r in rows],
        "seconds": 1.0,
        "peak_rss_mib": 10,
        "cap_mib": 100,
        "load_before": [0.5, 0.5, 0.5],
        "notes": [],
    }


def test_quick_gates_ratios_and_correctness_not_absolute_times() -> None:
    ratio_missed = Row("X", "ratio row", 5.0, "s", 1.0, 5.0, "x", "<= 3x", False)
    time_missed = Row("X", "time row", 5.0, "s", None, None, "", "under 1 s", False, False)
    differs = Row(
        "X", "wrong row", 1.0, "s", 1.0, 1.0, "x", "<= 3x", True, details={"identical": False}
    )
    result = _result(ratio_missed, time_missed, differs)
    quick = judge([result], quick=True)
    assert any("ratio row" in f for f in quick)
    assert not any("time row" in f for f in quick)
    assert any("wrong row" in f and "differ" in f for f in quick)
    assert any("time row" in f for f in judge([result], quick=False))


def test_benchmarks_md_block_is_regenerated(tmp_path: Path) -> None:
    report = {
        "command": "python -m bench",
        "started": "2026-01-01T00:00:00+00:00",
        "finished": "2026-01-01T00:10:00+00:00",
        "machine": {
            "nproc": 2,
            "cpu": "cpu",
            "memory_gib": 24,
            "python": "3.11",
            "platform": "linux",
            "packages": {"feast": "0.67.0"},
            "git": "abc",
        },
        "cases": [_result(Row("X", "a row", 2.0, "s", 1.0, 2.0, "x base", "<= 3x", True))],
    }
    table = markdown_table(report)
    assert "| X | a row | 2 s | 1 s | 2.00 (x base) | <= 3x | met |" in table
    md = tmp_path / "BENCHMARKS.md"
    md.write_text(f"# title\n\n{BEGIN}\nold\n{END}\n\nhand-written notes\n")
    update_benchmarks_md(report, md)
    text = md.read_text()
    assert "old" not in text and "hand-written notes" in text and "| X | a row |" in text


def test_quick_cli_case_end_to_end() -> None:
    """`python -m bench --quick --only CLI` runs, prints the row and writes its JSON."""
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "CLI"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "[CLI] ok" in out.stdout, out.stdout + out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("results: ")]
    assert lines, out.stdout
    report = json.loads(Path(lines[0].removeprefix("results: ")).read_text())
    assert report["mode"] == "quick"
    assert report["cases"][0]["rows"][0]["case"] == "CLI"
    assert report["machine"]["nproc"] >= 1
