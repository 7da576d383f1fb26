"""The validation gate on every write path: a corpus of broken raw files, kills mid-write.

Each broken file goes through `fti ingest` (in-process, on the session's Prefect harness):
the CLI exits non-zero with one line naming the file, the problem and where, the flow run ends
Failed and the file is quarantined whole (or, under the row policy, the run completes with its
rows quarantined); the stores are byte-for-byte unchanged and the input file is untouched.

The kill tests run a flow in a forked child that SIGKILLs itself at a named point
(FTI_FAULT_AT, fti.lake.fault_point): after recovery the stores are exactly as before the run,
and a re-run completes to exactly what an uninterrupted run gives, without duplicates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from fti import lake, tables
from fti.settings import Settings
from fti.tables import FEATURES, LAKE

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
RAW_FOLDERS = {
    "prices": "entsoe_day_ahead",
    "bookings": "hotel_bookings",
    "weather": "smhi_weather",
}
MATERIALIZE_END = "2024-06-01T00:00:00+00:00"

# (file, source, outcome, text of the one-line message). outcome: "reader" (the reader cannot
# read it: quarantined whole, run Failed), "reject" (read, but its batch fails the suite under
# the reject policy: quarantined whole, run Failed), "quarantine" (row policy: the failing rows
# are quarantined, the run Completes, nothing else to write), "partial" (row policy: the good
# rows are written, only they, the bad ones quarantined).
CASES = [
    # The Currency column is missing from the header.
    ("prices_missing_column.csv", "prices", "reader", "missing column 'Currency'"),
    # An extra column after the zone.
    ("prices_extra_column.csv", "prices", "reader", "unexpected column"),
    # The price column renamed (EUR/kWh).
    ("prices_renamed_header.csv", "prices", "reader", "found 'Day-ahead Price [EUR/kWh]'"),
    # A price with a decimal comma and a unit in it.
    ("prices_non_numeric.csv", "prices", "reader", "non-numeric price"),
    # Zero bytes.
    ("prices_empty.csv", "prices", "reader", "empty file"),
    # The header and nothing else.
    ("prices_header_only.csv", "prices", "reader", "header only"),
    # The last line cut in the middle of a quoted field.
    ("prices_truncated.csv", "prices", "reader", "truncated"),
    # The export saved as UTF-16.
    ("prices_wrong_encoding.csv", "prices", "reader", "unrecognised price file"),
    # One ordinary hour listed twice.
    ("prices_duplicated_hour.csv", "prices", "reader", "duplicate hour"),
    # The last rows of the file repeated.
    ("prices_duplicated_rows.csv", "prices", "reader", "duplicate hour"),
    # 03:00-04:00 missing: a hole in the hourly grid.
    ("prices_gap.csv", "prices", "reject", "missing hours"),
    # Spring-forward day without its 03:00 CEST hour (02:00 does not exist that day).
    ("prices_missing_dst_hour.csv", "prices", "reject", "missing hours"),
    # The autumn fall-back hour three times.
    ("prices_doubled_dst_hour.csv", "prices", "reader", "third copy"),
    # The autumn fall-back hour once (CEST or CET?).
    ("prices_single_dst_fallback_hour.csv", "prices", "reader", "appears once"),
    # 99,999 EUR/MWh: above the SDAC harmonised maximum.
    ("prices_absurd.csv", "prices", "reject", "SDAC clearing limits"),
    # -750 EUR/MWh: below the SDAC harmonised minimum.
    ("prices_negative_beyond_limit.csv", "prices", "reject", "SDAC clearing limits"),
    # BZN|SE9: a zone that does not exist.
    ("prices_unknown_zone.csv", "prices", "reject", "unknown bidding zone"),
    # An empty price on an hour that exists: dropped by the reader, a hole in the grid.
    ("prices_missing_price.csv", "prices", "reject", "missing hours"),
    # A price in SEK.
    ("prices_wrong_currency.csv", "prices", "reader", "unknown currency"),
    # Hours out of order.
    ("prices_out_of_order.csv", "prices", "reader", "out of order"),
    # Tidy format with timestamps without an offset.
    ("prices_tidy_naive_timestamp.csv", "prices", "reader", "naive timestamp"),
    # Tidy format with a half-hour timestamp.
    ("prices_not_on_the_hour.csv", "prices", "reader", "not on the hour"),
    # The adr column is missing.
    ("bookings_missing_column.csv", "bookings", "reader", "missing columns adr"),
    # adr renamed average_daily_rate.
    ("bookings_renamed_header.csv", "bookings", "reader", "unexpected columns average_daily_rate"),
    # Text in an integer column.
    ("bookings_wrong_type.csv", "bookings", "reader", "non-integer value"),
    # A month that does not exist.
    ("bookings_invalid_month.csv", "bookings", "reader", "unknown month name"),
    # 31 June.
    ("bookings_impossible_date.csv", "bookings", "reader", "invalid arrival date"),
    # The last line cut short.
    ("bookings_truncated.csv", "bookings", "reader", "truncated last line"),
    # A gzip stream cut in half.
    ("bookings_truncated_gzip.csv.gz", "bookings", "reader", "truncated gzip"),
    # The header and nothing else.
    ("bookings_header_only.csv", "bookings", "reader", "header only"),
    # Negative lead times: booked after arrival.
    ("bookings_arrival_before_booking.csv", "bookings", "quarantine", "negative lead_time"),
    # Negative stays.
    ("bookings_negative_stay.csv", "bookings", "quarantine", "negative stays"),
    # Status dates before the booking.
    ("bookings_status_before_booking.csv", "bookings", "quarantine", "before booking_time"),
    # Country codes XYZ and ZZ.
    ("bookings_unknown_country.csv", "bookings", "quarantine", "unknown country code"),
    # adr of 250,000 and -5,000.
    ("bookings_absurd_adr.csv", "bookings", "quarantine", "a rate that is no rate"),
    # Hotels without a capacity.
    ("bookings_unknown_hotel.csv", "bookings", "quarantine", "unknown hotel"),
    # Labels 2 and 7.
    ("bookings_label_not_binary.csv", "bookings", "quarantine", "is_canceled not 0 or 1"),
    # No 'Datum;' table start line.
    ("weather_no_table_start.csv", "weather", "reader", "no table start line"),
    # Sunshine in minutes instead of seconds.
    ("weather_wrong_unit.csv", "weather", "reader", "unit 'minut'"),
    # Two different values for one hour.
    ("weather_conflicting_duplicate.csv", "weather", "reader", "different values"),
    # An identical row repeated.
    ("weather_duplicated_rows.csv", "weather", "partial", "duplicate_row"),
    # 5,400 and 7,200 seconds of sunshine in one hour.
    ("weather_impossible_value.csv", "weather", "quarantine", "physical range"),
    # Quality flag R (rejected by SMHI).
    ("weather_rejected_quality.csv", "weather", "quarantine", "quality_rejected"),
    # Text in the value column.
    ("weather_non_numeric.csv", "weather", "reader", "non-numeric value"),
    # The quality column missing from the table header.
    ("weather_missing_column.csv", "weather", "reader", "expected column 'Kvalitet'"),
    # Latin-1 instead of UTF-8.
    ("weather_wrong_encoding.csv", "weather", "reader", "not UTF-8"),
]


def store_hash(state_dir: Path) -> dict[str, str]:
    """sha256 of every file of the lake, the offline store and the online store/registry."""
    out = {}
    for part in ("lake", "offline", "feast"):
        root = state_dir / part
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if path.is_file():
                out[path.relative_to(state_dir).as_posix()] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    return out


def _flow_state(flow_run_id: str) -> Any:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from features.synthetic import SyntheticSpec, generate_raw

    base = tmp_path_factory.mktemp("raw")
    tiny = SyntheticSpec.sized("tiny")
    later = dataclasses.replace(tiny, start=tiny.end, days=7)
    generate_raw(base / "a", tiny)
    generate_raw(base / "b", later)
    return {"a": base / "a", "b": base / "b"}


@pytest.fixture(scope="module")
def populated(state: Settings, raw: dict[str, Path], worker: Worker) -> Settings:
    """A state with every store written: tiny synthetic data ingested, computed, materialized."""
    from flows.features import features_flow
    from flows.ingestion import ingestion_flow
    from flows.materialize import materialize_flow

    for source, folder in RAW_FOLDERS.items():
        ingestion_flow(source, [str(raw["a"] / folder)])
    features_flow()
    materialize_flow(end=datetime.fromisoformat(MATERIALIZE_END), views=["zone_prices"])
    return state


@pytest.mark.parametrize(("name", "source", "outcome", "text"), CASES, ids=[c[0] for c in CASES])
def test_broken_raw_file(
    populated: Settings, name: str, source: str, outcome: str, text: str
) -> None:
    from fti.cli import app
    from validation.quarantine import entry_dir, list_entries
    from validation.records import read_records

    path = CORPUS / name
    original = path.read_bytes()
    before = store_hash(populated.state_dir)
    records_before = len(read_records(populated))
    result = CliRunner().invoke(app, ["ingest", source, str(path)])

    records = read_records(populated)[records_before:]
    assert records, "every run leaves a validation record"
    written = sum(r["rows_written"] for r in records)
    assert (written > 0) == (outcome == "partial")
    flow_state = _flow_state(records[0]["flow_run_id"])
    entries = [e for e in list_entries(populated) if e["source"]["name"] == name]
    assert len(entries) == 1, "quarantined exactly once"
    entry = entries[0]
    if outcome in ("quarantine", "partial"):
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["validation"]["rows_quarantined"] > 0
        assert summary["validation"]["quarantine"] == [entry["id"]]
        assert flow_state.is_completed()
        assert entry["kind"] == "rows"
        details = json.dumps(entry["failed_expectations"]) + entry["reason"]
        assert text in details
        if outcome == "partial":
            after = store_hash(populated.state_dir)
            changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
            assert changed and all(k.startswith(f"lake/{source}/") for k in changed)
            table = lake.read_table(LAKE[source].root(populated))
            assert not table.duplicated(list(LAKE[source].key)).any()
            assert summary["validation"]["rows_written"] == written
            return
    else:
        assert result.exit_code == 1, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"error: {name}: "), lines[0]
        assert text in lines[0]
        assert re.search(
            r"\([^()]*(line|row|column|zone|=|missing|lines|end of file)[^()]*\)$", lines[0]
        )
        assert "Traceback" not in result.output
        assert flow_state.is_failed()
        assert flow_state.message == lines[0].removeprefix("error: ")
        assert entry["kind"] == ("file" if outcome == "reader" else "batch")
        copy = entry_dir(populated, entry["id"]) / entry["files"]["raw"]
        assert copy.read_bytes() == original
    assert store_hash(populated.state_dir) == before
    assert path.read_bytes() == original


def test_prices_in_the_future_are_rejected(populated: Settings, tmp_path: Path) -> None:
    """A day-ahead file for delivery days that cannot have been auctioned yet."""
    from fti.cli import app

    day = (datetime.now(UTC) + timedelta(days=5)).date()
    rows = "".join(
        f'"{day:%d.%m.%Y} {h:02d}:00 - {day:%d.%m.%Y} {h + 1:02d}:00","{40 + h}.00","EUR"\n'
        for h in range(6)
    )
    path = tmp_path / "SE3_future_entsoe.csv"
    path.write_text('"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]","Currency","BZN|SE3"\n' + rows)
    before = store_hash(populated.state_dir)
    result = CliRunner().invoke(app, ["ingest", "prices", str(path)])
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: SE3_future_entsoe.csv: ts in the future")
    assert store_hash(populated.state_dir) == before


def test_validate_writes_nothing_and_reports(populated: Settings) -> None:
    from fti.cli import app

    before = store_hash(populated.state_dir)
    files = [str(CORPUS / n) for n in ("prices_gap.csv", "prices_absurd.csv")]
    result = CliRunner().invoke(app, ["validate", "--source", "prices", "--report", *files])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    report = populated.state_dir / "validation" / "report.html"
    assert f"report: {report}" in result.stdout
    page = report.read_text()
    assert "SDAC clearing limits" in page and "<style>" in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page), "the report must work offline"
    assert store_hash(populated.state_dir) == before


def test_quarantine_list_show_and_release(populated: Settings, tmp_path: Path) -> None:
    """A rejected file is released once fixed; an unknown-country booking is accepted."""
    from fti.cli import app
    from validation.quarantine import list_entries, load

    runner = CliRunner()
    for source, name in (
        ("prices", "prices_gap.csv"),
        ("bookings", "bookings_unknown_country.csv"),
    ):
        runner.invoke(app, ["ingest", source, str(CORPUS / name)])  # seen before: same entry
    listed = runner.invoke(app, ["quarantine", "list", "--json"])
    assert listed.exit_code == 0
    entries = {e["source"]["name"]: e for e in json.loads(listed.stdout)}
    gap = entries["prices_gap.csv"]
    shown = runner.invoke(app, ["quarantine", "show", gap["id"]])
    assert shown.exit_code == 0 and "missing hours" in shown.stdout

    # Still broken: release re-runs the gate and refuses.
    refused = runner.invoke(app, ["quarantine", "release", gap["id"]])
    assert refused.exit_code == 1 and "stays quarantined" in refused.stderr
    # Fixed: the missing hour restored in a corrected copy.
    fixed = tmp_path / "prices_gap_fixed.csv"
    text = (CORPUS / "prices_gap.csv").read_text().splitlines(keepends=True)
    text.insert(4, '"01.01.2020 03:00 - 01.01.2020 04:00","27.52","EUR"\n')
    fixed.write_text("".join(text))
    released = runner.invoke(app, ["quarantine", "release", gap["id"], "--path", str(fixed)])
    assert released.exit_code == 0, released.output
    assert load(populated, gap["id"])["status"] == "released"
    prices = lake.read_table(LAKE["prices"].root(populated))
    assert (prices["ts"] == pd.Timestamp("2020-01-01 02:00", tz="UTC")).sum() == 1

    country = entries["bookings_unknown_country.csv"]
    no_reason = runner.invoke(app, ["quarantine", "release", country["id"], "--accept"])
    assert no_reason.exit_code == 1 and "--reason" in no_reason.stderr
    accepted = runner.invoke(
        app,
        ["quarantine", "release", country["id"], "--accept", "--reason", "ZZ is our test code"],
    )
    assert accepted.exit_code == 0, accepted.output
    entry = load(populated, country["id"])
    assert entry["status"] == "accepted"
    assert entry["history"][-1]["reason"] == "ZZ is our test code"
    bookings = lake.read_table(LAKE["bookings"].root(populated))
    assert {"XYZ", "ZZ"} <= set(bookings["country"].dropna())
    assert bookings["booking_id"].is_unique
    assert not [e for e in list_entries(populated, "open") if e["id"] == country["id"]]


def test_run_records_and_run_card(populated: Settings) -> None:
    from prefect import get_client

    from validation.records import batches_for, read_records

    records = read_records(populated)
    written = [r for r in records if r["rows_written"]]
    pipeline_views = set(FEATURES) - set(getattr(tables, "PREDICTION_VIEWS", ()))
    assert {r["table"] for r in written} >= pipeline_views | {"prices", "bookings", "weather"}
    for record in written:
        assert (populated.state_dir / record["result_path"]).exists()
        assert (populated.state_dir / "validation" / "suites").glob(f"{record['suite']}-*.json")
        assert len(record["suite_version"]) == 12
    got = batches_for(populated, ["zone_prices"], datetime(2024, 3, 1), datetime(2024, 5, 1))
    assert got and all(r["success"] for r in got)
    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts(limit=200)
    cards = [a for a in artifact if (a.key or "").startswith("run-card-")]
    assert {"run-card-ingestion", "run-card-features", "run-card-materialize"} <= {
        a.key for a in cards
    }
    card = next(a for a in cards if a.key == "run-card-features")
    assert "rows in" in str(card.data) and "quarantined" in str(card.data)


# ---- kills -------------------------------------------------------------------------------


class Worker:
    """The warm fork server of fault_worker.py."""

    def __init__(self, env: dict[str, str]) -> None:
        script = Path(__file__).with_name("fault_worker.py")
        self.proc = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.ready = False

    def run(self, state_dir: Path, fault: str, action: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if not self.ready:
            assert json.loads(self.proc.stdout.readline()) == {"ready": True}
            self.ready = True
        request = {"state_dir": str(state_dir), "fault": fault, "action": action, "args": args}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.write('"quit"\n')
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    env.pop("FTI_FAULT_AT", None)
    w = Worker(env)  # starts importing now, while the module's other tests run
    yield w
    w.close()


@pytest.fixture(scope="module")
def bases(
    populated: Settings, raw: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Snapshots of the state before and after each step of a run over batch B (prices)."""
    from flows.features import features_flow
    from flows.ingestion import ingestion_flow
    from flows.materialize import materialize_flow

    root = tmp_path_factory.mktemp("bases")
    out = {"populated": root / "populated"}
    shutil.copytree(populated.state_dir, out["populated"])
    steps = [
        ("ingested", lambda: ingestion_flow("prices", [str(raw["b"] / "entsoe_day_ahead")])),
        ("computed", lambda: features_flow(groups=["prices"])),
        (
            "materialized",
            lambda: materialize_flow(
                end=datetime.fromisoformat(MATERIALIZE_END), views=["zone_prices"]
            ),
        ),
    ]
    previous = out["populated"]
    for name, step in steps:
        out[name] = root / name
        shutil.copytree(previous, out[name])
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("FTI_STATE_DIR", str(out[name]))
            step()
        previous = out[name]
    return out


def _online_rows(state_dir: Path) -> list[tuple[Any, ...]]:
    """Online values without Feast's write timestamps (created_ts is the wall clock)."""
    con = sqlite3.connect(state_dir / "feast" / "online_store.db")
    try:
        return con.execute(
            "SELECT entity_key, feature_name, value, event_ts FROM fti_zone_prices ORDER BY 1, 2"
        ).fetchall()
    finally:
        con.close()


def _tables(state_dir: Path) -> dict[str, pd.DataFrame]:
    settings = Settings(state_dir=state_dir)
    return {
        "prices": lake.read_table(LAKE["prices"].root(settings)),
        "zone_prices": lake.read_table(FEATURES["zone_prices"].root(settings)),
    }


# (step, fault point, before, after): the run of `step` is killed at the fault point; the
# stores must then equal snapshot `before` once recovered, and a re-run must give `after`.
KILLS = [
    # Mid-staging: one partition written to the run's shadow of the lake.
    ("ingest", "stage.write", "populated", "ingested"),
    # The journal written, nothing swapped yet.
    ("ingest", "txn.commit", "populated", "ingested"),
    # Mid-commit: the first file swapped in, the others not.
    ("ingest", "txn.swap.1", "populated", "ingested"),
    # Mid-commit of the offline store.
    ("features", "txn.swap.2", "ingested", "computed"),
    # Feast has written the private copy of the online store; nothing swapped.
    ("materialize", "online.write", "computed", "materialized"),
    # Mid-commit of the online store: the new SQLite file in place, the registry not.
    ("materialize", "txn.swap.1", "computed", "materialized"),
    # After the commit point: the run is complete, recovery only cleans up.
    ("ingest", "txn.committed", "ingested", "ingested"),
]


@pytest.mark.parametrize(
    ("step", "fault", "before", "after"), KILLS, ids=[f"{k[0]}@{k[1]}" for k in KILLS]
)
def test_killed_run_leaves_stores_unchanged_and_rerun_completes(
    worker: Worker,
    bases: dict[str, Path],
    raw: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    fault: str,
    before: str,
    after: str,
) -> None:
    from flows.features import features_flow
    from flows.ingestion import ingestion_flow
    from flows.materialize import materialize_flow

    base = {"ingest": "populated", "features": "ingested", "materialize": "computed"}[step]
    work = tmp_path / "state"
    shutil.copytree(bases[base], work)
    args: dict[str, Any] = {
        "ingest": {"source": "prices", "paths": [str(raw["b"] / "entsoe_day_ahead")]},
        "features": {"groups": ["prices"]},
        "materialize": {"end": MATERIALIZE_END, "views": ["zone_prices"]},
    }[step]
    answer = worker.run(work, fault, step, **args)
    assert answer["signal"] == signal.SIGKILL, answer
    assert (work / lake.TXN_DIR).exists() and any((work / lake.TXN_DIR).iterdir())

    lake.recover(work)
    assert store_hash(work) == store_hash(bases[before])
    assert not [p for p in (work / lake.TXN_DIR).iterdir() if p.is_dir()]

    monkeypatch.setenv("FTI_STATE_DIR", str(work))
    if step == "ingest":
        ingestion_flow("prices", args["paths"])
    elif step == "features":
        features_flow(groups=["prices"])
    else:
        materialize_flow(end=datetime.fromisoformat(MATERIALIZE_END), views=["zone_prices"])
    for name, frame in _tables(work).items():
        expected = _tables(bases[after])[name]
        key = list((LAKE.get(name) or FEATURES[name]).key)
        assert not frame.duplicated(key).any(), name
        pd.testing.assert_frame_equal(
            frame.sort_values(key).reset_index(drop=True),
            expected.sort_values(key).reset_index(drop=True),
            obj=name,
        )
    if step == "materialize":
        assert _online_rows(work) == _online_rows(bases[after])


def test_kill_during_recovery_is_finished_by_the_next_recovery(
    worker: Worker, bases: dict[str, Path], raw: dict[str, Path], tmp_path: Path
) -> None:
    work = tmp_path / "state"
    shutil.copytree(bases["populated"], work)
    paths = [str(raw["b"] / "entsoe_day_ahead")]
    assert worker.run(work, "txn.swap.2", "ingest", source="prices", paths=paths)["signal"] == 9
    assert worker.run(work, "txn.recover", "recover")["signal"] == signal.SIGKILL
    lake.recover(work)
    assert store_hash(work) == store_hash(bases["populated"])


def test_gate_failure_of_a_feature_table_writes_nothing(
    populated: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A feature table failing its suite: the whole run is refused, offline store unchanged."""
    from flows import features as features_module
    from validation.run import BatchRejected

    work = tmp_path / "state"
    shutil.copytree(populated.state_dir, work)
    monkeypatch.setenv("FTI_STATE_DIR", str(work))
    real = features_module.compute_group

    def broken(group: str, settings: Settings, start: pd.Timestamp, end: pd.Timestamp) -> Any:
        out = real(group, settings, start, end)
        if "zone_prices" in out:
            frame = out["zone_prices"].copy()
            frame.loc[frame.index[5], "price_scaled"] = 1.7  # a scaling bug
            out["zone_prices"] = frame
        return out

    monkeypatch.setattr(features_module, "compute_group", broken)
    before = store_hash(work)
    state = features_module.features_flow(groups=["prices", "weather"], return_state=True)
    assert state.is_failed()
    with pytest.raises(BatchRejected, match=r"zone_prices: scaled price outside \[0, 1\]"):
        state.result()
    assert store_hash(work) == before

    # The bug fixed, releasing the entry recomputes the window and the gate lets it through.
    from validation.files import release
    from validation.quarantine import list_entries

    monkeypatch.setattr(features_module, "compute_group", real)
    settings = Settings(state_dir=work)
    [entry] = [e for e in list_entries(settings, "open") if e["table"] == "zone_prices"]
    assert entry["kind"] == "batch" and entry["flow"] == "features"
    released = release(settings, entry["id"])
    assert released["status"] == "released" and "recomputed prices" in released["detail"]
