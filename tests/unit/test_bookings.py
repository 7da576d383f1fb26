"""Hotel bookings: reader quirks, stable ids, features without labels, event-sourced vacancy."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.bookings import (
    BOOKING_FEATURE_COLUMNS,
    DEFAULT_CAPACITY,
    LABEL_COLUMNS,
    RAW_COLUMNS,
    booking_features,
    booking_labels,
    read_bookings,
    vacancy_as_of,
    weekly_vacancy,
)
from features.common import RawFormatError

HEADER = ",".join(RAW_COLUMNS)
DEFAULTS: dict[str, str] = {
    "hotel": "Resort Hotel",
    "is_canceled": "0",
    "lead_time": "10",
    "arrival_date_year": "2016",
    "arrival_date_month": "March",
    "arrival_date_week_number": "10",
    "arrival_date_day_of_month": "5",
    "stays_in_weekend_nights": "2",
    "stays_in_week_nights": "2",
    "adults": "2",
    "children": "0",
    "babies": "0",
    "meal": "BB",
    "country": "PRT",
    "market_segment": "Online TA",
    "distribution_channel": "TA/TO",
    "is_repeated_guest": "0",
    "previous_cancellations": "0",
    "previous_bookings_not_canceled": "0",
    "reserved_room_type": "A",
    "assigned_room_type": "A",
    "booking_changes": "0",
    "deposit_type": "No Deposit",
    "agent": "9",
    "company": "NULL",
    "days_in_waiting_list": "0",
    "customer_type": "Transient",
    "adr": "75.5",
    "required_car_parking_spaces": "0",
    "total_of_special_requests": "1",
    "reservation_status": "Check-Out",
    "reservation_status_date": "2016-03-09",
}
OUTCOME_COLUMNS = ("is_canceled", "reservation_status", "reservation_status_date")
POST_BOOKING_COLUMNS = ("booking_changes", "assigned_room_type", "days_in_waiting_list")


def row(**values: str) -> str:
    return ",".join({**DEFAULTS, **values}[c] for c in RAW_COLUMNS)


def csv_text(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def write(tmp_path: Path, text: str | bytes, name: str = "hotels.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


THREE = (row(), row(lead_time="3", country="GBR"), row(hotel="City Hotel", adr="0"))


def test_reads_typed_bookings(tmp_path: Path) -> None:
    result = read_bookings(write(tmp_path, csv_text(*THREE)))
    f = result.frame
    assert len(f) == 3 and result.dropped.empty and result.source == "hotels.csv"
    assert list(f.columns) == [
        "booking_id",
        "booking_time",
        "arrival_date",
        *RAW_COLUMNS,
        "source_row",
    ]
    assert f["lead_time"].dtype == "Int64" and f["adr"].dtype == "float64"
    assert f["hotel"].dtype == "string" and f["country"].dtype == "string"
    assert f["booking_time"].dtype == "datetime64[ns, UTC]"
    assert f["arrival_date"].dtype == "datetime64[ns]"
    assert f["reservation_status_date"].dtype == "datetime64[ns]"
    assert f["arrival_date"].iloc[0] == pd.Timestamp("2016-03-05")
    # booking_time = UTC midnight of arrival_date - lead_time days
    assert f["booking_time"].iloc[1] == pd.Timestamp("2016-03-02", tz="UTC")
    assert f["source_row"].tolist() == [1, 2, 3]
    assert f["booking_id"].str.fullmatch(r"b-[0-9a-f]{16}-\d+").all()


@pytest.mark.parametrize(
    ("column", "token"),
    [
        ("agent", "NULL"),  # the publisher's missing agent / company / country
        ("children", "NA"),  # four real rows have children NA
        ("country", "NULL"),  # 488 real rows have no country
        ("company", ""),  # an empty field is missing too
    ],
)
def test_missing_tokens_become_na(tmp_path: Path, column: str, token: str) -> None:
    f = read_bookings(write(tmp_path, csv_text(row(**{column: token})))).frame
    assert f[column].isna().all()


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("hotels.csv", False),  # plain
        ("hotels.csv.gz", True),  # gzipped with the usual extension
        ("hotels.csv", True),  # gzipped behind a plain extension: sniffed by magic bytes
        ("hotels.csv.gz", False),  # plain behind a .gz extension
    ],
)
def test_gzip_is_sniffed(tmp_path: Path, name: str, compress: bool) -> None:
    data = csv_text(*THREE).encode()
    path = write(tmp_path, gzip.compress(data) if compress else data, name)
    expected = read_bookings(write(tmp_path, data, "reference.csv")).frame
    pd.testing.assert_frame_equal(read_bookings(path).frame, expected)


@pytest.mark.parametrize(
    "transform",
    [
        lambda t: t.replace("\n", "\r\n"),  # Windows line ends
        lambda t: "\ufeff" + t,  # UTF-8 byte order mark
        lambda t: t.rstrip("\n"),  # no newline after the last (complete) line
    ],
)
def test_encoding_variants_keep_ids(tmp_path: Path, transform: Callable[[str], str]) -> None:
    text = csv_text(*THREE)
    ids = read_bookings(write(tmp_path, text, "a.csv")).frame["booking_id"]
    other = read_bookings(write(tmp_path, transform(text), "b.csv")).frame["booking_id"]
    pd.testing.assert_series_equal(ids, other)


def test_identical_rows_are_distinct_stable_bookings(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(row(), row(), row(lead_time="3"), row()))
    ids = read_bookings(path).frame["booking_id"]
    assert ids.is_unique
    digest = ids.str.rsplit("-", n=1).str[0]
    assert digest[0] == digest[1] == digest[3] != digest[2]
    assert ids.str.rsplit("-", n=1).str[1].tolist() == ["0", "1", "0", "2"]
    pd.testing.assert_series_equal(read_bookings(path).frame["booking_id"], ids)


def test_appending_rows_keeps_old_ids(tmp_path: Path) -> None:
    old = read_bookings(write(tmp_path, csv_text(*THREE), "old.csv")).frame["booking_id"]
    more = csv_text(*THREE, row(), row(lead_time="99"), THREE[1])
    new = read_bookings(write(tmp_path, more, "new.csv")).frame["booking_id"]
    pd.testing.assert_series_equal(new.iloc[:3], old)
    assert new.is_unique


def test_column_order_does_not_change_ids(tmp_path: Path) -> None:
    cols = list(RAW_COLUMNS)[::-1]
    values = [{**DEFAULTS}, {**DEFAULTS, "lead_time": "3"}]
    text = "\n".join([",".join(cols)] + [",".join(v[c] for c in cols) for v in values]) + "\n"
    reordered = read_bookings(write(tmp_path, text, "r.csv")).frame
    plain = read_bookings(write(tmp_path, csv_text(row(), row(lead_time="3")))).frame
    pd.testing.assert_frame_equal(reordered, plain)


def _without_column(column: str) -> str:
    cols = [c for c in RAW_COLUMNS if c != column]
    return "\n".join([",".join(cols), ",".join(DEFAULTS[c] for c in cols)]) + "\n"


@pytest.mark.parametrize(
    ("content", "problem", "where"),
    [
        # empty file
        (b"", "empty file", "line 1"),
        # header only
        (csv_text().encode(), "no data rows (header only)", "line 2"),
        # a column missing
        (_without_column("adr").encode(), "missing columns adr", "line 1"),
        # a renamed column
        (csv_text(row()).replace(",adr,", ",ADR,").encode(), "unexpected columns ADR", "line 1"),
        # non-numeric integer column
        (
            csv_text(row(), row(lead_time="abc")).encode(),
            "non-integer value 'abc'",
            "line 3, column lead_time",
        ),
        # a decimal in an integer column
        (csv_text(row(adults="2.0")).encode(), "non-integer value '2.0'", "column adults"),
        # a decimal comma splits the adr field in two
        (csv_text(row(adr="75,5")).encode(), "expected 32 fields, found 33", "line 2"),
        # non-numeric adr
        (csv_text(row(adr="n/a")).encode(), "non-numeric value 'n/a'", "line 2, column adr"),
        # invalid month name
        (
            csv_text(row(arrival_date_month="Julember")).encode(),
            "unknown month name",
            "line 2, column arrival_date_month",
        ),
        # impossible arrival date
        (
            csv_text(
                row(), row(arrival_date_month="February", arrival_date_day_of_month="30")
            ).encode(),
            "invalid arrival date '2016-February-30'",
            "line 3",
        ),
        # invalid status date
        (
            csv_text(row(reservation_status_date="2016-13-01")).encode(),
            "invalid date",
            "line 2, column reservation_status_date",
        ),
        # truncated last line (the export was cut off)
        (csv_text(row(), row())[:-40].encode(), "truncated last line", "line 3"),
        # a short line in the middle
        (
            csv_text(row(), "Resort Hotel,0,5", row()).encode(),
            "expected 32 fields, found 3",
            "line 3",
        ),
        # wrong encoding: Latin-1 bytes
        (
            csv_text(row(), row(country="PRT")).replace("Online TA", "Online TÁ").encode("latin-1"),
            "not UTF-8 text (byte 0xc1)",
            "line 2",
        ),
        # UTF-16
        (csv_text(row()).encode("utf-16"), "not UTF-8 text", "line 1"),
        # truncated gzip stream
        (gzip.compress(csv_text(*THREE).encode())[:-30], "truncated gzip stream", "end of file"),
    ],
)
def test_raw_format_errors(tmp_path: Path, content: bytes, problem: str, where: str) -> None:
    path = write(tmp_path, content, "broken.csv")
    with pytest.raises(RawFormatError) as info:
        read_bookings(path)
    message = str(info.value)
    assert message.startswith("broken.csv: ")
    assert problem in info.value.problem
    assert where in (info.value.where or "")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        # negative lead time
        (row(lead_time="-1"), "negative lead_time"),
        # a lead time beyond ten years is not trusted
        (row(lead_time="99999"), "lead_time over 3650 days"),
        # negative stays
        (row(stays_in_weekend_nights="-2"), "negative stays_in_weekend_nights"),
        (row(stays_in_week_nights="-1"), "negative stays_in_week_nights"),
        # a missing value where the booking cannot be placed in time
        (row(lead_time="NULL"), "missing lead_time"),
        (row(hotel="NA"), "missing hotel"),
        (row(reservation_status_date=""), "missing reservation_status_date"),
        # a label that is neither 0 nor 1
        (row(is_canceled="2"), "is_canceled not 0 or 1"),
        # cancelled before it was booked
        (
            row(
                is_canceled="1", reservation_status="Canceled", reservation_status_date="2016-02-01"
            ),
            "reservation_status_date before booking_time",
        ),
        # two problems on one row are both named
        (
            row(lead_time="-1", stays_in_week_nights="-1"),
            "negative lead_time; negative stays_in_week_nights",
        ),
        # a blank line holds no booking
        ("", "blank line"),
    ],
)
def test_dropped_rows_have_reasons(tmp_path: Path, bad_row: str, reason: str) -> None:
    result = read_bookings(write(tmp_path, csv_text(row(), bad_row, row(lead_time="3"))))
    assert len(result.frame) == 2
    assert result.dropped.to_dict("records") == [{"line": 3, "reason": reason}]
    assert result.frame["source_row"].tolist() == ([1, 2] if bad_row == "" else [1, 3])


def test_booking_features_hold_only_booking_time_information(tmp_path: Path) -> None:
    f = read_bookings(write(tmp_path, csv_text(*THREE, row(children="NA", agent="NULL")))).frame
    features = booking_features(f)
    assert list(features.columns) == ["booking_id", "event_timestamp", *BOOKING_FEATURE_COLUMNS]
    assert not set(features.columns) & {*OUTCOME_COLUMNS, *POST_BOOKING_COLUMNS}
    assert (features["event_timestamp"] == f["booking_time"]).all()
    # 2016-03-05 is a Saturday: its stay week starts on Monday 2016-02-29 (ISO week 9)
    assert features["stay_week_start"].iloc[0] == "2016-02-29"
    assert features["arrival_week_number"].iloc[0] == 9
    assert features["arrival_month"].iloc[0] == 3
    assert features["children"].dtype == "float64" and np.isnan(features["children"].iloc[3])
    assert features["agent"].tolist()[:1] == ["9"] and pd.isna(features["agent"].iloc[3])
    assert features["booking_id"].is_unique


def test_booking_labels(tmp_path: Path) -> None:
    f = read_bookings(write(tmp_path, csv_text(*THREE))).frame
    labels = booking_labels(f)
    assert list(labels.columns) == list(LABEL_COLUMNS)
    assert labels["booking_id"].equals(f["booking_id"])


def _bookings(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Minimal bookings frame: what weekly_vacancy reads."""
    frame = pd.DataFrame(rows)
    frame["arrival_date"] = pd.to_datetime(frame["arrival_date"])
    frame["booking_time"] = to_utc_midnight(frame["arrival_date"]) - pd.to_timedelta(
        frame["lead_time"], unit="D"
    )
    frame["reservation_status_date"] = pd.to_datetime(frame["reservation_status_date"])
    for col in ("is_canceled", "lead_time", "stays_in_weekend_nights", "stays_in_week_nights"):
        frame[col] = frame[col].astype("Int64")
    frame["hotel"] = frame["hotel"].astype("string")
    return frame


def to_utc_midnight(dates: pd.Series) -> pd.Series:
    return dates.dt.normalize().dt.tz_localize("UTC")


def test_weekly_vacancy_hand_checked() -> None:
    # A: Sat 2016-03-05, 4 nights (Sat, Sun | Mon, Tue), booked 2016-02-24, stays.
    # B: Sun 2016-03-06, 3 nights (Sun | Mon, Tue), booked 2016-03-01, cancelled 2016-03-02.
    bookings = _bookings(
        [
            dict(
                hotel="Resort Hotel",
                arrival_date="2016-03-05",
                lead_time=10,
                stays_in_weekend_nights=2,
                stays_in_week_nights=2,
                is_canceled=0,
                reservation_status_date="2016-03-09",
            ),
            dict(
                hotel="Resort Hotel",
                arrival_date="2016-03-06",
                lead_time=5,
                stays_in_weekend_nights=1,
                stays_in_week_nights=2,
                is_canceled=1,
                reservation_status_date="2016-03-02",
            ),
        ]
    )
    table = weekly_vacancy(bookings, {"Resort Hotel": 10})
    got = [
        (r.stay_week_start, r.event_timestamp.strftime("%Y-%m-%d %H:%M"), r.booked_room_nights)
        for r in table.itertuples()
    ]
    assert got == [
        ("2016-02-29", "2016-02-24 00:00", 2),  # A's Sat and Sun
        ("2016-02-29", "2016-03-01 00:00", 3),  # + B's Sun
        ("2016-02-29", "2016-03-03 00:00", 2),  # B cancelled 03-02: gone from 03-03 00:00
        ("2016-03-07", "2016-02-24 00:00", 2),  # A's Mon and Tue
        ("2016-03-07", "2016-03-01 00:00", 4),
        ("2016-03-07", "2016-03-03 00:00", 2),
    ]
    assert (table["capacity_room_nights"] == 70).all()
    np.testing.assert_allclose(table["vacancy_level"], 1 - table["booked_room_nights"] / 70)
    assert table["event_timestamp"].dtype == "datetime64[ns, UTC]"
    assert table["booked_room_nights"].dtype == "int64"
    assert table["stay_week_start"].dtype == "string"


def test_same_day_cancellation_is_invisible_at_booking_time() -> None:
    bookings = _bookings(
        [
            dict(
                hotel="City Hotel",
                arrival_date="2016-03-10",
                lead_time=3,
                stays_in_weekend_nights=0,
                stays_in_week_nights=1,
                is_canceled=1,
                reservation_status_date="2016-03-07",
            )
        ]
    )
    table = weekly_vacancy(bookings, {"City Hotel": 1})
    assert table["event_timestamp"].tolist() == [
        pd.Timestamp("2016-03-07", tz="UTC"),
        pd.Timestamp("2016-03-08", tz="UTC"),
    ]
    assert table["booked_room_nights"].tolist() == [1, 0]


def test_overbooking_is_clipped_and_unknown_hotel_raises() -> None:
    rows = [
        dict(
            hotel="City Hotel",
            arrival_date="2016-03-07",
            lead_time=1,
            stays_in_weekend_nights=2,
            stays_in_week_nights=5,
            is_canceled=0,
            reservation_status_date="2016-03-14",
        )
    ] * 3
    table = weekly_vacancy(_bookings(rows), {"City Hotel": 2})
    assert table["booked_room_nights"].tolist() == [21]
    assert table["vacancy_level"].tolist() == [0.0]
    with pytest.raises(ValueError, match="no capacity for hotels: City Hotel"):
        weekly_vacancy(_bookings(rows), {"Resort Hotel": 2})


BASE = pd.Timestamp("2016-01-04")  # a Monday

# (hotel, arrival day, lead time, weekend nights, week nights, cancelled, cancel days before)
booking_rows = st.tuples(
    st.sampled_from(["Resort Hotel", "City Hotel"]),
    st.integers(0, 40),
    st.integers(0, 30),
    st.integers(0, 4),
    st.integers(0, 10),
    st.booleans(),
    st.integers(0, 40),
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(booking_rows, min_size=1, max_size=12),
    hotel=st.sampled_from(["Resort Hotel", "City Hotel"]),
    week=st.integers(-1, 9),
    hours=st.integers(-24 * 35, 24 * 60),
)
def test_weekly_vacancy_matches_brute_force(
    rows: list[tuple[str, int, int, int, int, bool, int]], hotel: str, week: int, hours: int
) -> None:
    records = []
    for name, day, lead, weekend, weeknights, canceled, before in rows:
        arrival = BASE + pd.Timedelta(days=day)
        # a cancellation falls between the booking day and the arrival day
        status = arrival - pd.Timedelta(days=min(before, lead)) if canceled else arrival
        records.append(
            dict(
                hotel=name,
                arrival_date=arrival,
                lead_time=lead,
                stays_in_weekend_nights=weekend,
                stays_in_week_nights=weeknights,
                is_canceled=int(canceled),
                reservation_status_date=status,
            )
        )
    bookings = _bookings(records)
    capacity = {"Resort Hotel": 3, "City Hotel": 5}
    table = weekly_vacancy(bookings, capacity)
    monday = BASE + pd.Timedelta(weeks=week)
    t = pd.Timestamp(BASE, tz="UTC") + pd.Timedelta(hours=hours)
    known = table[
        (table["hotel"] == hotel)
        & (table["stay_week_start"] == monday.strftime("%Y-%m-%d"))
        & (table["event_timestamp"] <= t)
    ]
    expected = vacancy_as_of(bookings, capacity, hotel, monday, t)
    if known.empty:
        assert expected.booked_room_nights == 0
    else:
        last = known.iloc[-1]
        assert last["booked_room_nights"] == expected.booked_room_nights
        assert last["capacity_room_nights"] == expected.capacity_room_nights
        assert last["vacancy_level"] == pytest.approx(expected.vacancy_level)


def test_default_capacity_names_the_real_hotels() -> None:
    assert set(DEFAULT_CAPACITY) == {"Resort Hotel", "City Hotel"}


HOTELS = Path("hotel_bookings") / "hotels.csv.gz"


@pytest.fixture(scope="module")
def real(shared_data: Path) -> pd.DataFrame:
    start = time.perf_counter()
    result = read_bookings(shared_data / HOTELS)
    print(f"read_bookings: {time.perf_counter() - start:.2f} s")
    assert result.dropped_by_reason == {}  # the real file drops nothing
    return result.frame


@pytest.mark.realdata
def test_real_bookings_read_without_drops(real: pd.DataFrame) -> None:
    assert len(real) == 119_390
    assert real["booking_id"].is_unique
    # 31,994 rows repeat an earlier identical row: they are separate bookings (k > 0)
    assert int((real["booking_id"].str.rsplit("-", n=1).str[1] != "0").sum()) == 31_994
    assert int(real["country"].isna().sum()) == 488
    assert int(real["children"].isna().sum()) == 4
    assert int(real["agent"].isna().sum()) == 16_340
    assert int(real["company"].isna().sum()) == 112_593
    # CN is the two-letter code for China among ISO3 codes (kept as is)
    assert int((real["country"] == "CN").sum()) == 1_279
    # Same-day cancellations: label would leak without the +1 day rule
    canceled = real[real["is_canceled"] == 1]
    same_day = canceled["reservation_status_date"] == canceled["booking_time"].dt.tz_localize(None)
    assert int(same_day.sum()) == 7_170
    # The raw week number is not the ISO week of the arrival date
    iso = real["arrival_date"].dt.isocalendar().week.astype("Int64")
    assert int((iso != real["arrival_date_week_number"]).sum()) == 64_054


@pytest.mark.realdata
def test_real_labels_never_in_features(real: pd.DataFrame) -> None:
    features = booking_features(real)
    assert not set(features.columns) & {*OUTCOME_COLUMNS, *POST_BOOKING_COLUMNS}
    assert len(features) == len(booking_labels(real)) == 119_390
    assert features["event_timestamp"].min() == pd.Timestamp("2013-06-24", tz="UTC")


@pytest.mark.realdata
def test_real_weekly_vacancy(real: pd.DataFrame) -> None:
    start = time.perf_counter()
    table = weekly_vacancy(real, DEFAULT_CAPACITY)
    elapsed = time.perf_counter() - start
    print(f"weekly_vacancy: {elapsed:.2f} s, {len(table)} rows")
    assert elapsed < 2.0
    assert not table.duplicated(["hotel", "stay_week_start", "event_timestamp"]).any()
    assert (table["booked_room_nights"] >= 0).all()
    # the default capacity keeps every as-known value at or below capacity (see DEFAULT_CAPACITY)
    assert (table["booked_room_nights"] <= table["capacity_room_nights"]).all()
    assert table["vacancy_level"].between(0, 1).all()
