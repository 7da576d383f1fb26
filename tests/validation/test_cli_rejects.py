"""`fti features backfill` and `fti materialize` refused by the gate: one line, exit 1.

Bad rows reach the lake only when a person lowers the raw policy to `warn` (or accepts a
quarantine entry); the feature and online gates must still stop them, and say so in one line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fti.settings import Settings

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
WINDOW = ["--start", "2015-01-01", "--end", "2016-01-01"]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def warned(state: Settings, prefect_harness: None) -> Iterator[Settings]:
    """A lake holding two bookings with absurd rates, written under the `warn` raw policy."""
    from flows.ingestion import ingestion_flow

    # Run in-process first (not through CliRunner) so Prefect's log handlers bind to the real
    # stderr, not to a CliRunner stream that is closed after its invocation.
    summary = ingestion_flow("bookings", [str(CORPUS / "bookings_absurd_adr.csv")], policy="warn")
    assert summary["rows"] == 2 and summary["validation"]["rows_quarantined"] == 0
    yield state


def _hash(state_dir: Path, part: str) -> dict[str, str]:
    root = state_dir / part
    return {
        p.relative_to(state_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_backfill_refused_by_the_feature_gate(warned: Settings) -> None:
    from fti.cli import app

    before = _hash(warned.state_dir, "offline")
    result = CliRunner().invoke(app, ["features", "backfill", *WINDOW, "--group", "bookings"])
    assert result.exit_code == 1, result.output
    line = _one_error_line(result.stderr)
    assert line.startswith("error: booking_details: a rate that is no rate"), line
    assert "quarantined as booking-details-" in line
    assert "(booking_id=" in line  # where: the first failing row's key
    assert result.stdout == ""
    assert _hash(warned.state_dir, "offline") == before


def test_materialize_refused_by_the_online_gate(
    warned: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fti.cli import app

    # Someone lowers the feature gate too: the offline store takes the rows...
    monkeypatch.setenv(
        "FTI_VALIDATION_POLICY",
        json.dumps({"bookings": "warn", "booking_details": "warn", "hotel_weekly_vacancy": "warn"}),
    )
    result = CliRunner().invoke(app, ["features", "backfill", *WINDOW, "--group", "bookings"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["validation"]["rows_written"] > 0

    # ...but the online store's gate (always `reject`) keeps them out of serving.
    monkeypatch.delenv("FTI_VALIDATION_POLICY")
    before = _hash(warned.state_dir, "feast")
    result = CliRunner().invoke(app, ["materialize", "--end", "2016-01-01T00:00:00"])
    assert result.exit_code == 1, result.output
    line = _one_error_line(result.stderr)
    assert line.startswith("error: booking_details: a rate that is no rate"), line
    assert result.stdout == ""
    assert _hash(warned.state_dir, "feast") == before
