"""E2E: `fti run` on the default (synthetic) data, in a fresh state folder, environment built.

Baseline: the sum of the stage baselines on the same raw files: the plain feature script of FP
and the direct SQLite write of exactly the rows `fti run` left in the online store (MAT's
baseline). Training has no baseline of its own here: it counts in the figure only.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, Row, telemetry_env

log = logging.getLogger(__name__)


def _direct_write(source: Path, target: Path) -> float:
    """Seconds to write every online table's rows into a fresh file with Feast's upsert."""
    from fti.feast_online import SQLITE_CACHE_KIB, FastSqliteOnlineStore

    src = sqlite3.connect(source)
    tables = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    dst = sqlite3.connect(target)
    dst.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    elapsed = 0.0
    for table in tables:
        rows = src.execute(
            f"SELECT entity_key, feature_name, value, value_text, event_ts, created_ts "
            f'FROM "{table}" ORDER BY rowid'
        ).fetchall()
        dst.execute(
            f'CREATE TABLE "{table}" (entity_key BLOB, feature_name TEXT, value BLOB, '
            "value_text TEXT, vector_value BLOB, event_ts timestamp, created_ts timestamp, "
            "PRIMARY KEY(entity_key, feature_name))"
        )
        dst.execute(f'CREATE INDEX "{table}_ek" ON "{table}" (entity_key)')
        start = time.perf_counter()
        with dst:
            dst.executemany(FastSqliteOnlineStore._upsert_sql(table), rows)
        elapsed += time.perf_counter() - start
    src.close()
    dst.close()
    return elapsed


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    from bench.cases.fp import plain_script

    size = "tiny" if quick else "default"
    state = workdir / "state"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FTI_", "PREFECT_"))},
        **telemetry_env(),
        "FTI_STATE_DIR": str(state),
    }
    fti = str(Path(sys.executable).parent / "fti")
    log_path = workdir.parent / "e2e-fti-run.log"
    start = time.perf_counter()
    with log_path.open("wb") as handle:
        subprocess.run(
            [fti, "run", "--data", "synthetic", "--size", size],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=True,
        )
    seconds = time.perf_counter() - start
    raw = state / "raw" / "synthetic"
    start = time.perf_counter()
    plain_script(raw, workdir / "plain")
    features_s = time.perf_counter() - start
    write_s = _direct_write(state / "feast" / "online_store.db", workdir / "direct.db")
    base = features_s + write_s
    return {
        "rows": [
            Row(
                case="E2E",
                what=f"`fti run` (synthetic {size}: ingest, features, materialize, train)",
                figure=seconds,
                unit="s",
                baseline=base,
                ratio=seconds / base,
                ratio_means="x sum of stage baselines",
                target="under 3 min",
                met=seconds < 180,
                gates_quick=False,
                details={"features_baseline_s": features_s, "online_write_baseline_s": write_s},
            )
        ],
        "notes": [
            f"stage baselines: plain feature script {features_s:.1f} s + direct online write "
            f"{write_s:.2f} s; training has none (in the figure only)"
        ],
    }
