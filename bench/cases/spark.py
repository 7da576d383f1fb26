"""SPARK: booking features scaled 10x and 50x through the pandas path and the Spark path.

Both paths compute the same two feature tables (`booking_details`, `hotel_weekly_vacancy`)
from the same lake table of bookings, each in its own process under the same memory cap
(resident memory of the process tree, the JVM included), and write them as parquet:
- pandas: `fti.lake.read_table` -> `features.bookings` functions -> parquet;
- Spark (`local[2]`, the settings' master): `features.spark.io.read_lake_table` ->
  `features.spark.bookings` -> parquet.
Input: the real Hotel booking demand rows (119,390) copied k times, booking ids and hotels
suffixed ` #k` (a chain of 2k hotels), one lake partition per copy; written once, outside the
figures. Figure: input bookings per second from reading the lake to the written features (the
Spark session's start is reported apart). A path that exceeds the cap is stopped: the size at
which pandas no longer fits while Spark completes is the row the issue asks for. Both outputs
must have the same row counts and the same sum of vacancy levels. `--quick`: 1x and 2x.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import MIB, REPO, Row, load_average

CAP_MIB = 6 * 1024  # per path; the case's own cap (harness) is larger
SIZES = (10, 50)
QUICK_SIZES = (1, 2)
DRIVER_MEMORY = "3g"  # Spark's heap inside the cap; it spills to local disk beyond it


def _capacity(copies: int) -> dict[str, int]:
    from features.bookings import DEFAULT_CAPACITY

    return {
        (hotel if k == 0 else f"{hotel} #{k}"): rooms
        for k in range(copies)
        for hotel, rooms in DEFAULT_CAPACITY.items()
    }


def write_input(root: Path, copies: int) -> int:
    """The scaled lake table: one partition per copy, microsecond timestamps like fti.lake."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.data import require_shared_data
    from features.bookings import read_bookings

    real = read_bookings(require_shared_data() / "hotel_bookings" / "hotels.csv.gz").frame
    for k in range(copies):
        part = real.copy()
        if k:
            part["booking_id"] = part["booking_id"] + f" #{k}"
            part["hotel"] = part["hotel"] + f" #{k}"
        path = root / f"copy={k}" / "data.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(part, preserve_index=False)
        pq.write_table(table, path, compression="zstd", coerce_timestamps="us")
    return len(real) * copies


def _pandas_path(source: Path, out: Path, copies: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from features.bookings import booking_features, weekly_vacancy
    from fti.lake import read_table

    start = time.perf_counter()
    bookings = read_table(source)
    details = booking_features(bookings)
    vacancy = weekly_vacancy(bookings, _capacity(copies))
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("booking_details", details), ("hotel_weekly_vacancy", vacancy)):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, out / f"{name}.parquet", coerce_timestamps="us")
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "details_rows": len(details),
        "vacancy_rows": len(vacancy),
        "vacancy_sum": float(vacancy["vacancy_level"].sum()),
    }


def _spark_path(source: Path, out: Path, copies: int, state: Path) -> dict[str, Any]:
    from features.spark import bookings as spark_bookings
    from features.spark.io import read_lake_table
    from features.spark.session import get_session
    from fti.settings import Settings

    begin = time.perf_counter()
    spark = get_session(Settings(state_dir=state), app_name="bench-spark")
    session_s = time.perf_counter() - begin
    start = time.perf_counter()
    bookings = read_lake_table(spark, source)
    details = spark_bookings.booking_features(bookings)
    vacancy = spark_bookings.weekly_vacancy(bookings, _capacity(copies))
    details.write.mode("overwrite").parquet(str(out / "booking_details"))
    vacancy.write.mode("overwrite").parquet(str(out / "hotel_weekly_vacancy"))
    seconds = time.perf_counter() - start
    # Counted after the figure, from the written files.
    written_details = spark.read.parquet(str(out / "booking_details"))
    written_vacancy = spark.read.parquet(str(out / "hotel_weekly_vacancy"))
    total = written_vacancy.agg({"vacancy_level": "sum"}).collect()[0][0]
    result = {
        "seconds": seconds,
        "session_s": session_s,
        "details_rows": written_details.count(),
        "vacancy_rows": written_vacancy.count(),
        "vacancy_sum": float(total),
    }
    spark.stop()
    return result


def _run_path(engine: str, source: Path, out: Path, copies: int, workdir: Path) -> dict[str, Any]:
    """One path in its own process under CAP_MIB; status ok, over_cap or error."""
    from bench.harness import _kill_group, _Watch

    result_file = workdir / f"{engine}-{copies}.json"
    cmd = [sys.executable, "-m", "bench.cases.spark", engine, str(source), str(out)]
    cmd += ["--copies", str(copies), "--result", str(result_file), "--state", str(workdir / "st")]
    env = {**os.environ, "SPARK_DRIVER_MEMORY": DRIVER_MEMORY}
    log = workdir / f"{engine}-{copies}.log"
    started = time.perf_counter()
    with log.open("wb") as handle:
        process = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        with _Watch(process, CAP_MIB) as watch:
            try:
                code = process.wait(timeout=1800)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                code = process.wait()
    wall = time.perf_counter() - started
    peak = round(watch.peak / MIB)
    if watch.exceeded:
        return {"status": "over_cap", "peak_mib": peak, "wall_s": wall}
    if code != 0 or not result_file.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        return {"status": "error", "peak_mib": peak, "wall_s": wall, "tail": tail}
    return {"status": "ok", "peak_mib": peak, "wall_s": wall, **json.loads(result_file.read_text())}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a["details_rows"] == b["details_rows"]
        and a["vacancy_rows"] == b["vacancy_rows"]
        and abs(a["vacancy_sum"] - b["vacancy_sum"]) <= 1e-6 * max(1.0, abs(a["vacancy_sum"]))
    )


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    import shutil

    rows: list[Row] = []
    notes: list[str] = []
    pandas_fits_up_to = 0
    for copies in QUICK_SIZES if quick else SIZES:
        source = workdir / f"bookings-x{copies}"
        n = write_input(source, copies)
        load = load_average()
        outcome = {}
        for engine in ("pandas", "spark"):
            out = workdir / f"out-{engine}-x{copies}"
            outcome[engine] = _run_path(engine, source, out, copies, workdir)
            shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(source, ignore_errors=True)
        pd_, sp = outcome["pandas"], outcome["spark"]
        if sp["status"] != "ok":
            raise RuntimeError(f"the Spark path did not complete at x{copies}: {sp}")
        spark_rate = n / sp["seconds"]
        both = pd_["status"] == "ok"
        identical = _same(pd_, sp) if both else None
        if both:
            pandas_fits_up_to = copies
        details: dict[str, Any] = {
            "bookings": n,
            "pandas": pd_,
            "spark": sp,
            "load": load,
            "cap_mib": CAP_MIB,
            "spark_driver_memory": DRIVER_MEMORY,
        }
        if identical is not None:
            details["identical"] = identical
        rows.append(
            Row(
                "SPARK",
                f"bookings x{copies} ({n:,} rows), Spark local[2] (session start apart)",
                round(spark_rate),
                "bookings/s",
                round(n / pd_["seconds"]) if both else None,
                round(spark_rate / (n / pd_["seconds"]), 2) if both else None,
                "Spark rows/s / pandas rows/s" if both else "pandas over the cap",
                f"completes under {CAP_MIB} MiB",
                True,
                details=details,
            )
        )
        rows.append(
            Row(
                "SPARK",
                f"bookings x{copies}, pandas path",
                round(n / pd_["seconds"]) if both else 0,
                "bookings/s" if both else f"bookings/s (stopped over the cap, {pd_['status']})",
                None,
                None,
                "",
                "(reference)",
                None,
                details={"status": pd_["status"], "peak_mib": pd_["peak_mib"]},
            )
        )
        notes.append(
            f"x{copies}: pandas {pd_['status']} peak {pd_['peak_mib']} MiB; "
            f"Spark peak {sp['peak_mib']} MiB, session start {sp['session_s']:.1f} s"
        )
    notes.append(
        f"pandas fits under {CAP_MIB} MiB up to x{pandas_fits_up_to}"
        + ("" if quick else "; Spark completes every size")
    )
    return {"rows": rows, "notes": notes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cases.spark")
    parser.add_argument("engine", choices=("pandas", "spark"))
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--copies", type=int, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.engine == "pandas":
        result = _pandas_path(args.source, args.out, args.copies)
    else:
        result = _spark_path(args.source, args.out, args.copies, args.state)
    args.result.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
