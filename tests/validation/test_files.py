"""`fti validate`'s core on the corpus: the same verdicts as ingestion, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("great_expectations")

from fti.settings import Settings
from tests.integration.test_gate import CASES
from validation.files import check_file, detect_source

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def test_corpus_has_at_least_25_broken_files() -> None:
    files = sorted(p.name for p in CORPUS.iterdir() if p.is_file() and p.name != "README.md")
    assert len(files) >= 25
    assert sorted(c[0] for c in CASES) == files  # every file has its test case


@pytest.mark.parametrize(("name", "source", "outcome", "text"), CASES, ids=[c[0] for c in CASES])
def test_check_file(tmp_path: Path, name: str, source: str, outcome: str, text: str) -> None:
    check = check_file(Settings(state_dir=tmp_path), CORPUS / name, source)
    assert not check.ok
    assert check.error is not None and check.error.startswith(f"{name}: ")
    assert "\n" not in check.error
    if outcome != "partial":
        assert text in check.error or (check.outcome and text in str(check.outcome.summary()))
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("x/entsoe_day_ahead/SE3_2020_entsoe.csv", "prices"),
        ("hotels.csv.gz", "bookings"),
        ("param10_station_77215.csv", "weather"),
        ("companions/sessions.jsonl", "sessions"),
    ],
)
def test_detect_source(path: str, source: str) -> None:
    assert detect_source(Path(path)) == source
