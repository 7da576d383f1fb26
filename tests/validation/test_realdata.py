"""The real Hotel booking demand file passes the gate, and the gate shows its real defects."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("great_expectations")

from fti.settings import Settings
from validation.files import check_file

pytestmark = pytest.mark.realdata


def test_real_bookings_pass_with_their_quirks_flagged(shared_data: Path, tmp_path: Path) -> None:
    check = check_file(
        Settings(state_dir=tmp_path), shared_data / "hotel_bookings" / "hotels.csv.gz"
    )
    assert check.ok, check.error
    assert check.rows == check.written == 119_390
    assert check.outcome is not None
    flagged = {w.protects: (w.unexpected_count, w.sample) for w in check.outcome.warnings}
    # Real defects, kept and reported: stays of zero nights, bookings without guests,
    # non-ISO country codes (CN for China beside CHN, TMP for East Timor) and two rates
    # that are no rates (-6.38 and 5,400 EUR).
    assert flagged["a stay of zero nights"][0] == 715
    assert flagged["a booking without guests"][0] == 180
    assert flagged["country code not ISO 3166-1 alpha-3"][0] == 1279 + 3
    count, sample = flagged["implausible average daily rate"]
    assert count == 2 and sorted(sample) == [-6.38, 5400.0]
    assert not list(tmp_path.iterdir())
