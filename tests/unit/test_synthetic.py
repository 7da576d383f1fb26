"""The synthetic generator: seeded, byte-identical, in the real exports' formats, parseable."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import io
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.common import ParseResult
from features.synthetic import (
    BOOKING_COLUMNS,
    BOOKINGS_DIR,
    ENTSOE_DIR,
    SMHI_DIR,
    SyntheticSpec,
    generate_raw,
)

TINY = SyntheticSpec.sized("tiny")
# Over the 2023 fall-back day (29.10.2023) with published prices, one zone, few bookings.
FALL = SyntheticSpec(
    start=date(2023, 10, 20),
    days=14,
    zones=("SE1",),
    bookings_per_day=5.0,
    daily_stations=(97530,),
    sunshine_stations=(99275,),
)
# A year of all four zones for the statistical checks; bookings big enough for the rare codes.
YEAR = SyntheticSpec(start=date(2023, 1, 1), days=365, bookings_per_day=80.0)

ENTSOE_ROW = re.compile(
    r'"\d{2}\.\d{2}\.\d{4} \d{2}:00 - \d{2}\.\d{2}\.\d{4} \d{2}:00",'
    r'("-?\d+\.\d{2}","EUR"|"n/e","EUR"|"n/e",""|"","")'
)
ADR = re.compile(r"-?\d+(\.\d{1,2})?")


def _digests(files: dict[str, list[Path]], root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for paths in files.values()
        for p in paths
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Path]]]:
    out = tmp_path_factory.mktemp("tiny")
    return out, generate_raw(out, TINY)


@pytest.fixture(scope="module")
def fall(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Path]]]:
    out = tmp_path_factory.mktemp("fall")
    return out, generate_raw(out, FALL)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Path]]]:
    out = tmp_path_factory.mktemp("year")
    return out, generate_raw(out, YEAR)


def _entsoe_lines(path: Path) -> list[str]:
    return path.read_text(encoding="ascii").split("\n")


def _entsoe_frame(path: Path) -> pd.DataFrame:
    """The export's rows as strings, without the header (which has one field more)."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="ascii"))))[1:]
    return pd.DataFrame(rows, columns=["mtu", "price", "currency"], dtype=object)


def _bookings(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _smhi_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Metadata lines and the table rows (fields split on ';') of an SMHI file."""
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(("Datum;", "Från Datum")))
    return lines[: start + 1], [line.split(";") for line in lines[start + 1 :] if line]


def _week_of_data_set(day: pd.Series) -> pd.Series:
    """The data set's week number: week 1 holds 1 January, a new week starts each Sunday."""
    jan1 = pd.to_datetime(day.dt.year.astype(str) + "-01-01")
    return (day.dt.dayofyear - 1 + (jan1.dt.dayofweek + 1) % 7) // 7 + 1


def _arrival(frame: pd.DataFrame) -> pd.Series:
    text = (
        frame["arrival_date_year"]
        + "-"
        + frame["arrival_date_month"]
        + "-"
        + frame["arrival_date_day_of_month"]
    )
    return pd.to_datetime(text, format="%Y-%B-%d")


# ------------------------------------------------------------------------ spec and layout


def test_sized_names_and_scale() -> None:
    assert SyntheticSpec.sized("default") == SyntheticSpec()
    assert TINY.days == 30 and len(TINY.zones) == 2
    assert SyntheticSpec.sized("small").days < SyntheticSpec().days
    # A number scales the default's length; settings pass it as a string.
    assert SyntheticSpec.sized(0.5).days == 365
    assert SyntheticSpec.sized("0.1").days == 73


@pytest.mark.parametrize(
    "kwargs",
    [
        {"zones": ("SE5",)},  # no such bidding zone in the export
        {"hotels": ("Beach Hotel",)},  # only the data set's two hotels have distributions
        {"daily_stations": (12345,)},  # station metadata is copied from SMHI, so known ids only
        {"zones": ("SE3", "SE3")},  # a zone twice would write the same file twice
        {"days": 0},
        {"seed": -1},
    ],
)
def test_invalid_spec_raises(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SyntheticSpec(**kwargs)  # type: ignore[arg-type]


def test_unknown_size_raises() -> None:
    with pytest.raises(ValueError, match="unknown synthetic size"):
        SyntheticSpec.sized("huge")


def test_files_per_zone_year_and_station(tiny: tuple[Path, dict[str, list[Path]]]) -> None:
    out, files = tiny
    assert sorted(p.name for p in files[ENTSOE_DIR]) == [
        "SE3_2024_entsoe.csv",
        "SE4_2024_entsoe.csv",
    ]
    assert [p.name for p in files[BOOKINGS_DIR]] == ["hotels.csv.gz"]
    assert sorted(p.name for p in files[SMHI_DIR]) == [
        "param10_station_77215.csv",
        "param2_station_71420.csv",
        "param2_station_98210.csv",
        "param5_station_71420.csv",
        "param5_station_98210.csv",
    ]
    on_disk = sorted(p for p in out.rglob("*") if p.is_file())
    assert on_disk == sorted(p for paths in files.values() for p in paths)


def test_stale_files_of_another_spec_are_removed(tmp_path: Path) -> None:
    generate_raw(tmp_path, FALL)
    files = generate_raw(tmp_path, TINY)
    assert not (tmp_path / ENTSOE_DIR / "SE1_2023_entsoe.csv").exists()
    assert not (tmp_path / SMHI_DIR / "param2_station_97530.csv").exists()
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        p for paths in files.values() for p in paths
    )


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files(
    tiny: tuple[Path, dict[str, list[Path]]], tmp_path: Path
) -> None:
    first_root, first = tiny
    again = generate_raw(tmp_path, TINY)
    assert _digests(again, tmp_path) == _digests(first, first_root)


def test_other_seed_changes_every_file(
    tiny: tuple[Path, dict[str, list[Path]]], tmp_path: Path
) -> None:
    first_root, first = tiny
    other = generate_raw(tmp_path, dataclasses.replace(TINY, seed=1))
    a, b = _digests(first, first_root), _digests(other, tmp_path)
    assert a.keys() == b.keys()
    assert all(a[name] != b[name] for name in a)


def test_batches_add_up_to_one_longer_spec(tmp_path: Path) -> None:
    """A later batch in another folder repeats nothing and contradicts nothing."""
    common = {"zones": ("SE4",), "bookings_per_day": 8.0, "daily_stations": (98210,)}
    full = SyntheticSpec(start=date(2023, 12, 20), days=20, **common)  # type: ignore[arg-type]
    first = SyntheticSpec(start=date(2023, 12, 20), days=12, **common)  # type: ignore[arg-type]
    second = SyntheticSpec(start=date(2024, 1, 1), days=8, **common)  # type: ignore[arg-type]
    outputs = [generate_raw(tmp_path / name, s) for name, s in (("a", first), ("b", second))]
    whole = generate_raw(tmp_path / "full", full)

    def published(files: dict[str, list[Path]]) -> Counter[str]:
        lines: Counter[str] = Counter()
        for path in files[ENTSOE_DIR]:
            lines.update(line for line in _entsoe_lines(path)[1:] if '"n/e"' not in line)
        for path in files[SMHI_DIR]:
            width = 4 if path.name.startswith("param10_") else 5  # without the free text
            lines.update(f"{path.name}:{';'.join(row[:width])}" for row in _smhi_table(path)[1])
        lines.update(_bookings(files[BOOKINGS_DIR][0]).agg(",".join, axis=1))
        return lines

    assert published(outputs[0]) + published(outputs[1]) == published(whole)


# --------------------------------------------------------------------------------- ENTSO-E


def test_entsoe_rows_are_every_local_hour_of_the_year(
    tiny: tuple[Path, dict[str, list[Path]]],
) -> None:
    _, files = tiny
    for path in files[ENTSOE_DIR]:
        lines = _entsoe_lines(path)
        zone = path.name[:3]
        assert lines[0] == (f'"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]","Currency","BZN|{zone}"')
        assert lines[-1] == ""  # ends with a newline
        rows = lines[1:-1]
        # 2024 is a leap year: 8784 hours, plus the spring row that does not exist.
        assert len(rows) == 8784 + 1
        bad = [row for row in rows if not ENTSOE_ROW.fullmatch(row)]
        assert bad == []
        assert rows[0].startswith('"01.01.2024 00:00 - 01.01.2024 01:00"')
        assert rows[-1].startswith('"31.12.2024 23:00 - 01.01.2025 00:00"')


def test_entsoe_spring_forward_row_is_empty(tiny: tuple[Path, dict[str, list[Path]]]) -> None:
    _, files = tiny
    rows = _entsoe_lines(files[ENTSOE_DIR][0])
    i = rows.index('"31.03.2024 02:00 - 31.03.2024 03:00","",""')
    assert rows[i - 1].startswith('"31.03.2024 01:00 - 31.03.2024 02:00","')
    assert rows[i + 1].startswith('"31.03.2024 03:00 - 31.03.2024 04:00","')
    assert rows[i - 1].endswith('"EUR"') and rows[i + 1].endswith('"EUR"')


def test_entsoe_fall_back_hour_appears_twice(fall: tuple[Path, dict[str, list[Path]]]) -> None:
    _, files = fall
    frame = _entsoe_frame(files[ENTSOE_DIR][0])
    twice = frame[frame["mtu"] == "29.10.2023 02:00 - 29.10.2023 03:00"]
    assert len(twice) == 2
    assert (twice["currency"] == "EUR").all()
    assert twice["price"].str.fullmatch(r"-?\d+\.\d{2}").all()
    assert frame["mtu"].duplicated().sum() == 1  # and no other hour twice


def test_entsoe_hours_outside_the_window_are_not_published(
    tiny: tuple[Path, dict[str, list[Path]]],
) -> None:
    _, files = tiny
    frame = _entsoe_frame(files[ENTSOE_DIR][0])
    day = pd.to_datetime(frame["mtu"].str[:10], format="%d.%m.%Y")
    inside = (day >= pd.Timestamp(TINY.start)) & (day < pd.Timestamp(TINY.end))
    spring = frame["price"] == ""
    assert (frame.loc[inside & ~spring, "price"] != "n/e").all()
    assert (frame.loc[~inside, "price"] == "n/e").all()
    # After the last published hour (16.04.2024 23:00 CEST = 21:00 UTC) "EUR" stays on the rows
    # of the same UTC day, then the currency is empty, as in the real 2024 export.
    tail = frame[day >= pd.Timestamp(TINY.end)]
    assert tail["currency"].head(3).tolist() == ["EUR", "EUR", ""]
    assert (tail["currency"].iloc[2:] == "").all()
    # The fall-back hour after the window: twice, both n/e.
    late = frame[frame["mtu"] == "27.10.2024 02:00 - 27.10.2024 03:00"]
    assert late["price"].tolist() == ["n/e", "n/e"]


def _year_prices(files: dict[str, list[Path]]) -> pd.DataFrame:
    zones = {}
    for path in files[ENTSOE_DIR]:
        frame = _entsoe_frame(path)
        frame = frame[frame["price"] != ""]
        start = pd.to_datetime(frame["mtu"].str[:16], format="%d.%m.%Y %H:%M")
        # The fall-back duplicate: keep the first copy so local hours index the frame.
        series = pd.Series(frame["price"].astype(float).to_numpy(), index=start)
        zones[path.name[:3]] = series[~series.index.duplicated()]
    return pd.DataFrame(zones)


def test_prices_look_like_a_nordic_market(year: tuple[Path, dict[str, list[Path]]]) -> None:
    _, files = year
    p = _year_prices(files)
    assert list(p.columns) == ["SE1", "SE2", "SE3", "SE4"]
    # Zones are coupled: the south is never cheaper than the north, often equal.
    assert (p["SE1"] <= p["SE2"]).mean() > 0.99
    assert (p["SE2"] <= p["SE3"]).mean() > 0.99
    assert (p["SE3"] <= p["SE4"]).mean() > 0.99
    assert p.corr().min().min() > 0.6
    # Occasional negative prices and spikes, as in the real 2021-2023 series.
    negative = (p["SE3"] < 0).mean()
    assert 0.001 < negative < 0.05
    assert p["SE4"].max() > 200
    se3 = p["SE3"]
    idx = pd.DatetimeIndex(se3.index)
    winter = se3[idx.month.isin([1, 2, 12])].mean()
    summer = se3[idx.month.isin([6, 7, 8])].mean()
    assert winter > 1.3 * summer
    assert se3[idx.dayofweek < 5].mean() > 1.1 * se3[idx.dayofweek >= 5].mean()
    assert se3[idx.hour == 18].mean() > 1.3 * se3[idx.hour == 3].mean()
    assert se3.autocorr(1) > 0.8
    assert se3.autocorr(24) > 0.4


# --------------------------------------------------------------------------------- bookings


def test_bookings_gzip_header_and_columns(tiny: tuple[Path, dict[str, list[Path]]]) -> None:
    _, files = tiny
    raw = files[BOOKINGS_DIR][0].read_bytes()
    # No file name, mtime 0 (reproducible), maximum compression, Unix: as the real file.
    assert raw[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"
    text = gzip.decompress(raw).decode("ascii")
    assert text.endswith("\n") and "\r" not in text and '"' not in text
    lines = text.split("\n")[:-1]
    assert lines[0].split(",") == list(BOOKING_COLUMNS)
    assert len(BOOKING_COLUMNS) == 32
    assert {line.count(",") for line in lines} == {31}


def test_booking_values_follow_the_data_set(year: tuple[Path, dict[str, list[Path]]]) -> None:
    _, files = year
    b = _bookings(files[BOOKINGS_DIR][0])
    arrival = _arrival(b)
    assert arrival.min() >= pd.Timestamp(YEAR.start)
    assert arrival.max() < pd.Timestamp(YEAR.end)
    assert b["hotel"].tolist() == sorted(b["hotel"], key=YEAR.hotels.index)  # hotel blocks
    assert (b["arrival_date_week_number"].astype(int) == _week_of_data_set(arrival)).all()
    for col in ("agent", "company", "country"):
        assert (b[col] == "NULL").any(), col
    assert (b["children"] == "NA").any()
    assert not b.isin(["", "NaN", "nan", "None"]).any().any()
    assert b["adr"].str.fullmatch(ADR.pattern).all()
    assert (b["adr"] == "0").any() and b["adr"].str.contains(r"\.").any()
    countries = b["country"].value_counts()
    assert countries.index[:2].tolist() == ["PRT", "GBR"]
    assert set(countries.index[:6]) >= {"FRA", "ESP", "DEU"}
    assert 0.15 < b.duplicated().mean() < 0.4  # multi-room bookings: exact duplicate rows
    assert 0.015 < (b["is_repeated_guest"] == "1").mean() < 0.05


def test_booking_outcomes_are_consistent(year: tuple[Path, dict[str, list[Path]]]) -> None:
    _, files = year
    b = _bookings(files[BOOKINGS_DIR][0])
    arrival = _arrival(b)
    booked = arrival - pd.to_timedelta(b["lead_time"].astype(int), unit="D")
    nights = b["stays_in_weekend_nights"].astype(int) + b["stays_in_week_nights"].astype(int)
    status_date = pd.to_datetime(b["reservation_status_date"], format="%Y-%m-%d")
    status = b["reservation_status"]
    assert set(status) == {"Check-Out", "Canceled", "No-Show"}
    assert ((status == "Check-Out") == (b["is_canceled"] == "0")).all()
    out = status == "Check-Out"
    assert (status_date[out] == (arrival + pd.to_timedelta(nights, unit="D"))[out]).all()
    cancelled = status == "Canceled"
    assert (status_date[cancelled] >= booked[cancelled]).all()
    assert (status_date[cancelled] <= arrival[cancelled]).all()
    assert (status_date[status == "No-Show"] == arrival[status == "No-Show"]).all()
    # Parking is recorded at check-in: a cancelled booking never has a space.
    assert (b.loc[b["is_canceled"] == "1", "required_car_parking_spaces"] == "0").all()


def test_cancellation_depends_on_what_is_known_at_booking(
    year: tuple[Path, dict[str, list[Path]]],
) -> None:
    _, files = year
    b = _bookings(files[BOOKINGS_DIR][0])
    canceled = b["is_canceled"].astype(int)
    lead = pd.cut(b["lead_time"].astype(int), [-1, 7, 30, 90, 180, 800])
    by_lead = canceled.groupby(lead, observed=True)
    rates = by_lead.mean().to_numpy()
    assert (np.diff(rates) > 0).all()
    assert 0.25 < canceled.mean() < 0.5
    by_deposit = canceled.groupby(b["deposit_type"]).mean()
    assert by_deposit["Non Refund"] > 0.9 > by_deposit["No Deposit"]
    by_segment = canceled.groupby(b["market_segment"]).mean()
    assert by_segment["Groups"] > by_segment["Online TA"] > by_segment["Direct"]


# ------------------------------------------------------------------------------------ SMHI


def test_smhi_layout(tiny: tuple[Path, dict[str, list[Path]]]) -> None:
    _, files = tiny
    for path in files[SMHI_DIR]:
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbfStationsnamn;"), path.name
        assert raw.endswith(b"\n") and b"\r" not in raw
        meta, rows = _smhi_table(path)
        station = path.stem.split("_")[-1]
        assert meta[1].split(";")[1] == station
        assert meta[7].startswith(f"{TINY.start} 00:00:00;{TINY.end} 23:59:59;")
        hourly = path.name.startswith("param10_")
        width = 4 if hourly else 5
        assert len(rows) == TINY.days * (24 if hourly else 1)
        # The free-text column sits beside the first 16 rows only.
        assert all(len(row) == width + 2 for row in rows[:16])
        assert all(len(row) == width for row in rows[16:])
        assert rows[1][-1] == f"Tidsperiod (fr.o.m.) = {TINY.start} 00:00:00 (UTC)"
        assert {row[width - 1] for row in rows} <= {"G", "Y"}


def test_smhi_daily_periods(tiny: tuple[Path, dict[str, list[Path]]]) -> None:
    _, files = tiny
    first = TINY.start.isoformat()
    second = (TINY.start + timedelta(days=1)).isoformat()
    temperature = _smhi_table(files[SMHI_DIR][0].parent / "param2_station_98210.csv")[1]
    assert temperature[0][:3] == [f"{first} 00:00:01", f"{second} 00:00:00", first]
    precipitation = _smhi_table(files[SMHI_DIR][0].parent / "param5_station_98210.csv")[1]
    assert precipitation[0][:3] == [f"{first} 06:00:01", f"{second} 06:00:00", first]
    amounts = np.array([float(row[3]) for row in precipitation])
    assert (amounts >= 0).all() and (amounts == 0).any() and (amounts > 0).any()


def test_sunshine_follows_the_sun(year: tuple[Path, dict[str, list[Path]]]) -> None:
    _, files = year
    path = next(p for p in files[SMHI_DIR] if p.name == "param10_station_81525.csv")
    rows = _smhi_table(path)[1]
    assert rows[0][:2] == [f"{YEAR.start}", "01:00:00"]  # stamped with the end of the hour
    end = pd.to_datetime([f"{r[0]} {r[1]}" for r in rows])
    seconds = pd.Series([int(r[2]) for r in rows], index=end)
    assert seconds.between(0, 3600).all() and (seconds == 3600).any()
    assert (seconds[end.hour == 0] == 0).all()  # 23-24 UTC is night all year at 59 N
    assert seconds[end.month == 6].sum() > 4 * seconds[end.month == 12].sum()
    temperature = _smhi_table(path.parent / "param2_station_98210.csv")[1]
    by_month = pd.Series([float(r[3]) for r in temperature]).groupby(
        pd.to_datetime([r[2] for r in temperature]).month
    )
    assert by_month.mean()[7] > by_month.mean()[1] + 10


# ------------------------------------------------------------------------ the real exports


@pytest.mark.realdata
def test_entsoe_matches_the_real_export(shared_data: Path, tmp_path: Path) -> None:
    """Same window end as the real 2024 export: the whole MTU column and the tail are equal."""
    spec = SyntheticSpec(
        start=date(2024, 9, 1),
        days=34,
        zones=("SE3",),
        bookings_per_day=1.0,
        daily_stations=(98210,),
        sunshine_stations=(77215,),
    )
    path = generate_raw(tmp_path, spec)[ENTSOE_DIR][0]
    ours = _entsoe_lines(path)
    real = _entsoe_lines(shared_data / ENTSOE_DIR / "SE3_2024_entsoe.csv")
    assert ours[0] == real[0]
    assert len(ours) == len(real)
    assert [line.split(",")[0] for line in ours] == [line.split(",")[0] for line in real]
    first_not_published = real.index('"05.10.2024 00:00 - 05.10.2024 01:00","n/e","EUR"')
    assert ours[first_not_published:] == real[first_not_published:]
    assert '"31.03.2024 02:00 - 31.03.2024 03:00","",""' in ours
    assert '"31.03.2024 02:00 - 31.03.2024 03:00","",""' in real


@pytest.mark.realdata
def test_bookings_match_the_real_file(
    shared_data: Path, year: tuple[Path, dict[str, list[Path]]]
) -> None:
    _, files = year
    real_path = shared_data / BOOKINGS_DIR / "hotels.csv.gz"
    assert files[BOOKINGS_DIR][0].read_bytes()[:10] == real_path.read_bytes()[:10]
    ours, real = _bookings(files[BOOKINGS_DIR][0]), _bookings(real_path)
    assert list(ours.columns) == list(real.columns)
    # The week numbering the generator reproduces is the real file's own.
    real_arrival = _arrival(real)
    assert (real["arrival_date_week_number"].astype(int) == _week_of_data_set(real_arrival)).all()
    for col in (
        "hotel",
        "arrival_date_month",
        "children",
        "meal",
        "country",
        "market_segment",
        "distribution_channel",
        "reserved_room_type",
        "assigned_room_type",
        "deposit_type",
        "customer_type",
        "reservation_status",
    ):
        assert set(ours[col]) <= set(real[col]), col
    assert real["adr"].str.fullmatch(ADR.pattern).all()


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name",
    [
        "param2_station_98210.csv",
        "param2_station_71420.csv",
        "param5_station_71420.csv",
        "param5_station_97530.csv",
        "param10_station_77215.csv",
        "param10_station_99275.csv",
    ],
)
def test_smhi_header_matches_the_real_file(
    shared_data: Path, year: tuple[Path, dict[str, list[Path]]], name: str
) -> None:
    _, files = year
    ours_meta, ours_rows = _smhi_table(next(p for p in files[SMHI_DIR] if p.name == name))
    real_meta, real_rows = _smhi_table(shared_data / SMHI_DIR / name)
    assert (shared_data / SMHI_DIR / name).read_bytes()[:3] == b"\xef\xbb\xbf"
    # Station, parameter and table header lines are equal; the station's period lines hold
    # other dates (a station that moved lists several positions, the last is the current one).
    assert ours_meta[:7] == real_meta[:7]
    assert ours_meta[-2:] == real_meta[-2:]
    assert ours_meta[7].split(";")[2:] == real_meta[-3].split(";")[2:]
    # The free-text column: equal except the two lines that name the period.
    width = len(ours_rows[0]) - 2
    ours_text = [row[-1] for row in ours_rows[:16]]
    real_text = [row[-1] for row in real_rows[:16]]
    assert [len(row) for row in real_rows[:17]] == [width + 2] * 16 + [width]
    assert ours_text[:1] + ours_text[3:] == real_text[:1] + real_text[3:]
    period = re.compile(
        r"Tidsperiod \((fr\.o\.m\.|t\.o\.m\.)\) = \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC\)"
    )
    assert all(period.fullmatch(text) for text in ours_text[1:3] + real_text[1:3])
    # Data rows: same time layout and number formats.
    for ours_row, real_row in zip(ours_rows[20:25], real_rows[-5:], strict=True):
        assert [re.sub(r"\d", "0", f) for f in ours_row[: width - 2]] == [
            re.sub(r"\d", "0", f) for f in real_row[: width - 2]
        ]


# --------------------------------------------------------------- round trip through readers


def _read_all(files: dict[str, list[Path]]) -> dict[str, list[ParseResult]]:
    from features.bookings import read_bookings
    from features.prices import read_entsoe
    from features.weather import read_smhi

    return {
        ENTSOE_DIR: [read_entsoe(p) for p in files[ENTSOE_DIR]],
        BOOKINGS_DIR: [read_bookings(p) for p in files[BOOKINGS_DIR]],
        SMHI_DIR: [read_smhi(p) for p in files[SMHI_DIR]],
    }


def _utc_hours(spec: SyntheticSpec) -> pd.DatetimeIndex:
    lo = pd.Timestamp(spec.start).tz_localize("Europe/Stockholm")
    hi = pd.Timestamp(spec.end).tz_localize("Europe/Stockholm")
    return pd.date_range(lo, hi, freq="h", inclusive="left").tz_convert("UTC")


@pytest.mark.parametrize(
    ("which", "expected_dropped"),
    [
        # Spring forward inside the window, then n/e until 31.12 (with a fall-back day in it).
        ("tiny", {"dst_nonexistent_hour": 1, "not_published": 8784 + 1 - 30 * 24}),
        # Fall back inside the window: both 02:00 rows kept, as two UTC hours.
        ("fall", {"dst_nonexistent_hour": 1, "not_published": 8760 - 14 * 24 - 1}),
    ],
)
def test_readers_parse_the_synthetic_files(
    request: pytest.FixtureRequest, which: str, expected_dropped: dict[str, int]
) -> None:
    _, files = request.getfixturevalue(which)
    spec = {"tiny": TINY, "fall": FALL}[which]
    parsed = _read_all(files)
    hours = _utc_hours(spec)
    for result in parsed[ENTSOE_DIR]:
        assert result.dropped_by_reason == expected_dropped
        frame = result.frame
        assert len(frame) == len(hours)  # a complete hourly grid, nothing twice
        assert pd.DatetimeIndex(frame["ts"].sort_values()).equals(hours)
    (bookings,) = parsed[BOOKINGS_DIR]
    assert bookings.dropped.empty
    raw_rows = len(_bookings(files[BOOKINGS_DIR][0]))
    assert len(bookings.frame) == raw_rows > 0
    for result in parsed[SMHI_DIR]:
        assert result.dropped.empty
        frame = result.frame
        hourly = (frame["parameter"] == "sunshine_s").all()
        assert len(frame) == spec.days * (24 if hourly else 1)
        assert frame["period_end"].is_unique


def test_fall_back_prices_parse_to_two_utc_hours(fall: tuple[Path, dict[str, list[Path]]]) -> None:
    from features.prices import read_entsoe

    _, files = fall
    frame = read_entsoe(files[ENTSOE_DIR][0]).frame.set_index("ts")["price_eur_mwh"]
    raw = _entsoe_frame(files[ENTSOE_DIR][0])
    twice = raw.loc[raw["mtu"] == "29.10.2023 02:00 - 29.10.2023 03:00", "price"].astype(float)
    cest, cet = (
        pd.Timestamp("2023-10-29 00:00", tz="UTC"),
        pd.Timestamp("2023-10-29 01:00", tz="UTC"),
    )
    assert [frame[cest], frame[cet]] == twice.tolist()
