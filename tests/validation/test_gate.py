"""Policies, records, quarantine entries and the offline report, without any flow."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("great_expectations")

from features.common import ParseResult
from fti.lake import Transaction
from fti.settings import Settings
from validation import quarantine, records
from validation.gate import decide, validate_frame
from validation.report import render_html
from validation.run import GateRun, policy_for

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _prices(n: int = 48, zone: str = "SE3") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "zone": zone,
            "ts": pd.date_range("2023-01-01", periods=n, freq="h", tz="UTC"),
            "price_eur_mwh": np.linspace(10, 60, n),
            "source": "x.csv",
        }
    )


def _weather() -> pd.DataFrame:
    end = pd.date_range("2023-06-01 01:00", periods=6, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "station_id": np.full(6, 77215, dtype="int64"),
            "parameter": "sunshine_s",
            "period_start": end - pd.Timedelta(hours=1),
            "period_end": end,
            "value": [0.0, 100.0, 5000.0, 3600.0, 7000.0, 10.0],
            "quality": "G",
        }
    )


def test_reject_policy_sets_the_whole_batch_aside() -> None:
    frame = _prices()
    frame.loc[5, "price_eur_mwh"] = 5000.0
    decision = decide(validate_frame("prices", frame), frame, "reject")
    assert decision.rejected and decision.write.empty
    assert len(decision.quarantined) == len(frame)
    assert (
        decision.quarantined.loc[5, "_failed"]
        == "expect_column_values_to_be_in_range(price_eur_mwh)"
    )
    assert decision.quarantined.loc[4, "_failed"] == ""


def test_quarantine_policy_writes_the_good_rows() -> None:
    frame = _weather()
    decision = decide(validate_frame("weather", frame), frame, "quarantine")
    assert not decision.rejected
    assert decision.write["value"].tolist() == [0.0, 100.0, 3600.0, 10.0]
    assert decision.quarantined["value"].tolist() == [5000.0, 7000.0]


def test_batch_level_failure_rejects_even_under_the_row_policy() -> None:
    frame = _prices().drop(index=[10])  # a hole in the grid belongs to no row
    decision = decide(validate_frame("prices", frame), frame, "quarantine")
    assert decision.rejected and decision.write.empty


def test_warn_policy_writes_everything_and_the_record_says_it_failed(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    run = GateRun(settings, "test", overrides={"weather": "warn"})
    decision = run.check("weather", _weather(), kind="lake")
    assert len(decision.write) == 6
    run.write_lake("weather", decision.write)
    report = run.finish()
    assert not report["failed"] and report["rows_written"] == 6
    [record] = records.read_records(settings)
    assert record["policy"] == "warn" and record["success"] is False


def test_reader_defects_are_quarantined_not_lost(tmp_path: Path) -> None:
    from features.weather import read_smhi

    settings = Settings(state_dir=tmp_path)
    path = CORPUS / "weather_duplicated_rows.csv"
    parsed = read_smhi(path)
    run = GateRun(settings, "test")
    decision = run.check("weather", parsed.frame, kind="lake", source=path, dropped=parsed.dropped)
    run.write_lake("weather", decision.write)
    report = run.finish()
    [entry] = quarantine.list_entries(settings)
    assert entry["defects"] == 1 and entry["kind"] == "rows"
    defects = (quarantine.entry_dir(settings, entry["id"]) / "defects.csv").read_text()
    assert "duplicate_row" in defects and "2008-06-01;02:00:00;0;G" in defects
    assert report["rows_written"] == 2


def test_a_rejected_run_commits_records_and_quarantine_only(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    run = GateRun(settings, "test")
    good = run.check("prices", _prices(zone="SE4"), kind="lake", source=CORPUS / "prices_gap.csv")
    run.write_lake("prices", good.write)
    bad = _prices()
    bad.loc[3, "zone"] = "XX"
    run.check("prices", bad, kind="lake", source=CORPUS / "prices_unknown_zone.csv")
    report = run.finish()
    assert report["failed"] and report["message"].startswith("prices_unknown_zone.csv: ")
    assert "expect_column_values_to_be_in_set(zone)" in report["batches"][1]["failed"]
    assert not (tmp_path / "lake").exists()
    saved = records.read_records(settings)
    assert len(saved) == 2 and all(r["rows_written"] == 0 for r in saved)
    assert all((tmp_path / r["result_path"]).exists() for r in saved)
    [entry] = quarantine.list_entries(settings)
    folder = quarantine.entry_dir(settings, entry["id"])
    assert (folder / "raw" / "prices_unknown_zone.csv").read_bytes() == (
        CORPUS / "prices_unknown_zone.csv"
    ).read_bytes()
    assert len(pd.read_parquet(folder / "batch.parquet")) == 48


def test_the_same_failure_twice_is_one_entry(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    for _ in range(2):
        txn = Transaction.begin(tmp_path, "t")
        quarantine.stage(
            txn,
            settings,
            table="prices",
            kind="file",
            reason="empty file (line 1)",
            policy="reject",
            run_id=txn.id,
            flow="test",
            flow_run_id=None,
            source=CORPUS / "prices_empty.csv",
            copy_raw=True,
        )
        txn.commit()
    [entry] = quarantine.list_entries(settings)
    assert entry["times_seen"] == 2


def test_policies_come_from_settings_then_defaults(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, validation_policy={"bookings": "reject"})
    assert policy_for(settings, "bookings") == "reject"
    assert policy_for(settings, "prices") == "reject"
    assert policy_for(settings, "weather") == "quarantine"
    assert policy_for(settings, "zone_prices") == "reject"
    assert policy_for(settings, "weather", {"weather": "warn"}) == "warn"


def _record(table: str, start: str, end: str, **extra: object) -> dict[str, object]:
    return {
        "table": table,
        "kind": "feature",
        "window_start": start,
        "window_end": end,
        "rows_written": 10,
        "success": True,
        **extra,
    }


def test_batches_for_overlap_written_and_not_superseded(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    lines = [
        _record("zone_prices", "2024-01-01", "2024-01-31", batch_id="old"),
        _record("zone_prices", "2024-03-01", "2024-03-31", batch_id="march"),
        _record("zone_prices", "2024-01-01", "2024-01-31", batch_id="rejected", rows_written=0),
        _record(
            "zone_prices",
            "2024-01-01",
            "2024-01-31",
            batch_id="new",
            replaced_start="2023-12-01",
            replaced_end="2024-02-01",
        ),
        _record("booking_details", "2024-01-01", "2024-01-31", batch_id="other"),
    ]
    path = tmp_path / records.RECORDS
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    got = records.batches_for(
        settings, ["zone_prices"], datetime(2024, 1, 15), datetime(2024, 2, 1)
    )
    assert [r["batch_id"] for r in got] == ["new"]
    both = records.batches_for(
        settings, ["zone_prices", "booking_details"], datetime(2024, 1, 1), datetime(2024, 12, 1)
    )
    assert {r["batch_id"] for r in both} == {"new", "march", "other"}


def test_report_is_self_contained_and_escaped() -> None:
    frame = _prices()
    frame.loc[2, "price_eur_mwh"] = 9999.0
    outcome = validate_frame("prices", frame)
    page = render_html(
        [
            {
                "title": "<script>x</script>.csv",
                "suite": outcome.suite,
                "suite_version": outcome.suite_version,
                "rows": outcome.rows,
                "result": outcome.result,
            }
        ]
    )
    assert "<script>x" not in page and "&lt;script&gt;" in page
    assert "SDAC clearing limits" in page and "9999.0" in page
    assert not re.search(r"https?://", page)


def test_runcard_counts() -> None:
    from validation.runcard import render

    report = {
        "run_id": "r",
        "failed": False,
        "message": None,
        "rows_in": 10,
        "rows_written": 8,
        "rows_quarantined": 2,
        "quarantine": ["weather-abc"],
        "freshness": {"weather": {"newest": "2024-01-01", "age_hours": 5.0, "rows": 8}},
        "batches": [
            {
                "table": "weather",
                "source": "x.csv",
                "policy": "quarantine",
                "rows_in": 10,
                "rows_written": 8,
                "rows_quarantined": 2,
                "failed": ["expect_column_pair_values_within_range_by_key(parameter, value)"],
                "warnings": {},
            }
        ],
    }
    card = render(report, "Run card")
    assert "rows in **10**" in card and "quarantined **2**" in card
    assert "weather-abc" in card and "age (h)" in card


def _parsed(frame: pd.DataFrame, name: str) -> tuple[Path, ParseResult]:
    empty = pd.DataFrame({"line": pd.Series([], dtype="int64"), "reason": []})
    return CORPUS / name, ParseResult(frame, empty, source=name)


def test_files_checked_together_keep_one_record_each(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    run = GateRun(settings, "test")
    files = [_parsed(_prices(zone=z), f"{z}.csv") for z in ("SE1", "SE2", "SE3")]
    passed = run.check_files("prices", files)
    assert [len(p) for p in passed] == [48, 48, 48]
    run.write_lake("prices", pd.concat(passed, ignore_index=True))
    report = run.finish()
    assert not report["failed"] and report["rows_written"] == 144
    saved = records.read_records(settings)
    assert [r["source"] for r in saved] == ["SE1.csv", "SE2.csv", "SE3.csv"]
    assert all(r["success"] and r["rows_in"] == 48 for r in saved)
    # One GX run for the three files: one result JSON they all point to.
    assert len({r["result_path"] for r in saved}) == 1
    assert all(r["validated_together"] == 3 for r in saved)


def test_a_bad_file_among_good_ones_is_rejected_on_its_own(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    run = GateRun(settings, "test")
    bad = _prices(zone="SE2")
    bad.loc[3, "price_eur_mwh"] = 5000.0
    files = [_parsed(_prices(zone="SE1"), "a.csv"), _parsed(bad, "b.csv")]
    run.check_files("prices", files)
    report = run.finish()
    assert report["failed"] and report["message"].startswith("b.csv: ")
    saved = records.read_records(settings)
    assert [(r["source"], r["success"]) for r in saved] == [("a.csv", True), ("b.csv", False)]
    assert all("validated_together" not in r for r in saved)  # each file checked alone
    [entry] = quarantine.list_entries(settings)
    assert entry["source"]["name"] == "b.csv"


def test_a_file_with_a_hole_is_checked_alone_even_if_the_group_has_none(tmp_path: Path) -> None:
    # Together the two files make one zone's series complete; the first alone has a hole
    # (hours 24-35 are in the second file): a file's own verdict wins.
    settings = Settings(state_dir=tmp_path)
    run = GateRun(settings, "test")
    frame = _prices()
    first = pd.concat([frame.iloc[:24], frame.iloc[36:]], ignore_index=True)
    second = frame.iloc[24:36].reset_index(drop=True)
    run.check_files("prices", [_parsed(first, "a.csv"), _parsed(second, "b.csv")])
    report = run.finish()
    assert report["failed"] and report["message"].startswith("a.csv: missing hours")
    saved = records.read_records(settings)
    assert [(r["source"], r["success"]) for r in saved] == [("a.csv", False), ("b.csv", True)]


def test_warnings_of_files_checked_together_are_their_own(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    run = GateRun(settings, "test")
    a, b = _weather(), _weather()
    a["value"] = [0.0, 100.0, 50.0, 3600.0, 70.0, 10.0]
    b["station_id"] = 81525
    b["value"] = [0.0, 100.0, 50.0, 3600.0, 70.0, 10.0]
    b.loc[2, "quality"] = "Y"
    run.check_files("weather", [_parsed(a, "a.csv"), _parsed(b, "b.csv")])
    run.finish()
    saved = records.read_records(settings)
    assert all(r["success"] and r["validated_together"] == 2 for r in saved)
    assert [r["rows_written"] for r in saved] == [6, 6]
