"""Hotel booking demand: the raw CSV reader, booking features, labels and weekly vacancy."""

from __future__ import annotations

import csv
import gc
import gzip
import hashlib
import io
import math
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from features.common import ParseResult, RawFormatError, to_utc

RAW_COLUMNS: tuple[str, ...] = (
    "hotel",
    "is_canceled",
    "lead_time",
    "arrival_date_year",
    "arrival_date_month",
    "arrival_date_week_number",
    "arrival_date_day_of_month",
    "stays_in_weekend_nights",
    "stays_in_week_nights",
    "adults",
    "children",
    "babies",
    "meal",
    "country",
    "market_segment",
    "distribution_channel",
    "is_repeated_guest",
    "previous_cancellations",
    "previous_bookings_not_canceled",
    "reserved_room_type",
    "assigned_room_type",
    "booking_changes",
    "deposit_type",
    "agent",
    "company",
    "days_in_waiting_list",
    "customer_type",
    "adr",
    "required_car_parking_spaces",
    "total_of_special_requests",
    "reservation_status",
    "reservation_status_date",
)
INT_COLUMNS: tuple[str, ...] = (
    "is_canceled",
    "lead_time",
    "arrival_date_year",
    "arrival_date_week_number",
    "arrival_date_day_of_month",
    "stays_in_weekend_nights",
    "stays_in_week_nights",
    "adults",
    "children",
    "babies",
    "is_repeated_guest",
    "previous_cancellations",
    "previous_bookings_not_canceled",
    "booking_changes",
    "agent",
    "company",
    "days_in_waiting_list",
    "required_car_parking_spaces",
    "total_of_special_requests",
)
FLOAT_COLUMNS: tuple[str, ...] = ("adr",)
DATE_COLUMNS: tuple[str, ...] = ("reservation_status_date",)
STRING_COLUMNS: tuple[str, ...] = tuple(
    c for c in RAW_COLUMNS if c not in (*INT_COLUMNS, *FLOAT_COLUMNS, *DATE_COLUMNS)
)
# Tokens the publisher writes for a missing value; an empty field is treated the same way.
MISSING_TOKENS: frozenset[str] = frozenset({"NULL", "NA", ""})
# A row without one of these cannot be placed in time or labelled: it is dropped, not guessed.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "hotel",
    "is_canceled",
    "lead_time",
    "arrival_date_year",
    "arrival_date_month",
    "arrival_date_day_of_month",
    "stays_in_weekend_nights",
    "stays_in_week_nights",
    "reservation_status",
    "reservation_status_date",
)
# Ten years; the real maximum is 737 days. Beyond this a row is dropped, not trusted.
MAX_LEAD_DAYS = 3650
MONTHS: dict[str, int] = {
    name: i + 1
    for i, name in enumerate(
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        )
    )
}
# What is known when the booking is made. The outcome (is_canceled, reservation_status,
# reservation_status_date) and what accumulates afterwards (booking_changes,
# assigned_room_type, days_in_waiting_list) never enter the feature table.
BOOKING_FEATURE_COLUMNS: tuple[str, ...] = (
    "hotel",
    "stay_week_start",
    "lead_time",
    "arrival_month",
    "arrival_week_number",
    "stays_in_weekend_nights",
    "stays_in_week_nights",
    "adults",
    "children",
    "babies",
    "meal",
    "market_segment",
    "distribution_channel",
    "is_repeated_guest",
    "previous_cancellations",
    "previous_bookings_not_canceled",
    "reserved_room_type",
    "deposit_type",
    "agent",
    "company",
    "customer_type",
    "adr",
    "required_car_parking_spaces",
    "total_of_special_requests",
)
LABEL_COLUMNS: tuple[str, ...] = (
    "booking_id",
    "booking_time",
    "is_canceled",
    "reservation_status",
    "reservation_status_date",
)
# Rooms per hotel. The real Resort Hotel (H1, Algarve) has about 200 rooms; the City Hotel (H2,
# Lisbon) size is not published. Sized from the real data (2015-07 .. 2017-08): the busiest week
# actually stayed (not cancelled) holds 1,277 room nights at the Resort and 1,566 at the City
# hotel (peak night 187 and 226 rooms); counting bookings not yet cancelled, the busiest week
# as known at some time holds 1,316 and 1,716 (188 and 245 rooms a night). 200 and 250 rooms
# keep every as-known value below capacity (peak occupancy 94 % and 98 %; stayed 91 % and 89 %).
DEFAULT_CAPACITY: Mapping[str, int] = {"Resort Hotel": 200, "City Hotel": 250}

_MAGIC: dict[bytes, str] = {b"PK\x03\x04": "zip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}


def read_raw_text(path: Path) -> str:
    """The file's text: gzip sniffed by its magic bytes (not by extension), strict UTF-8."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RawFormatError(path, f"cannot read file: {exc.strerror or exc}") from exc
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except EOFError as exc:
            raise RawFormatError(path, "truncated gzip stream", "end of file") from exc
        except (OSError, zlib.error) as exc:
            raise RawFormatError(path, f"corrupt gzip stream: {exc}", "gzip member") from exc
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            raise RawFormatError(path, f"unsupported compression {kind}", "byte 0")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start]
        raise RawFormatError(path, f"not UTF-8 text (byte 0x{bad:02x})", f"line {line}") from exc
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise RawFormatError(path, "NUL byte in text (wrong encoding?)", f"line {line}")
    return text


class CsvRecords(NamedTuple):
    """Header and data records of a CSV text with the physical line of each record."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    blank_lines: list[int]


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Millions of short-lived strings otherwise trigger many useless GC passes (3x slower).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _csv_module_records(
    path: Path, text: str
) -> tuple[list[str], list[list[str]], list[int], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    blank: list[int] = []
    try:
        header = next(reader)
        for record in reader:
            if not record:
                blank.append(reader.line_num)
                continue
            rows.append(record)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise RawFormatError(path, f"malformed CSV: {exc}", f"line {reader.line_num}") from exc
    return header, rows, lines, blank


def read_csv_records(path: Path, text: str, expected: tuple[str, ...]) -> CsvRecords:
    """Split CSV text into records; raise for an empty file, a bad header or a ragged row."""
    if not text.strip():
        raise RawFormatError(path, "empty file", "line 1")
    unified = text.replace("\r\n", "\n")
    if '"' not in unified and "\r" not in unified:
        # No quoting and one kind of line end: a plain split is what csv.reader would do, 3x faster.
        physical = unified.split("\n")
        if physical[-1] == "":
            physical.pop()
        header = physical[0].split(",")
        lines = [n for n, line in enumerate(physical[1:], start=2) if line]
        blank = [n for n, line in enumerate(physical[1:], start=2) if not line]
        with _gc_paused():
            rows = [physical[n - 1].split(",") for n in lines]
    else:
        header, rows, lines, blank = _csv_module_records(path, text)
    missing = [c for c in expected if c not in header]
    unexpected = [c for c in header if c not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing columns " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected columns " + ", ".join(unexpected))
        raise RawFormatError(path, "; ".join(parts), "line 1")
    if len(set(header)) != len(header):
        raise RawFormatError(path, "duplicate column names in header", "line 1")
    if not rows:
        raise RawFormatError(path, "no data rows (header only)", "line 2")
    width = len(header)
    ends_with_newline = text.endswith(("\n", "\r"))
    for i, record in enumerate(rows):
        if len(record) != width:
            last = i == len(rows) - 1
            if last and not ends_with_newline and len(record) < width:
                problem = f"truncated last line ({len(record)} of {width} fields)"
            else:
                problem = f"expected {width} fields, found {len(record)}"
            raise RawFormatError(path, problem, f"line {lines[i]}")
    return CsvRecords(header, rows, lines, blank)


def _first_bad(
    path: Path, mask: pd.Series, raw: pd.Series, lines: np.ndarray, problem: str, column: str
) -> None:
    if mask.any():
        pos = int(np.flatnonzero(mask.to_numpy())[0])
        value = raw.iloc[pos]
        raise RawFormatError(path, f"{problem} {value!r}", f"line {lines[pos]}, column {column}")


_INT = re.compile(r"[+-]?[0-9]+")


def _parse_int(value: str) -> int | None:
    return int(value) if _INT.fullmatch(value) else None


def _parse_float(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _parse_date(value: str) -> np.datetime64 | None:
    try:
        return np.datetime64(datetime.strptime(value, "%Y-%m-%d"), "ns")
    except ValueError:
        return None


_PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    **{c: (_parse_int, "non-integer value") for c in INT_COLUMNS},
    **{c: (_parse_float, "non-numeric value") for c in FLOAT_COLUMNS},
    **{c: (_parse_date, "invalid date") for c in DATE_COLUMNS},
}


def _typed_column(path: Path, raw: pd.Series, lines: np.ndarray) -> tuple[Any, np.ndarray]:
    """The typed column and its missing mask; raise at the first value that does not parse.

    Each distinct raw value is parsed once (integer columns hold a few hundred distinct values).
    """
    column = str(raw.name)
    codes, uniques = pd.factorize(raw.to_numpy())
    is_missing = np.array([u in MISSING_TOKENS for u in uniques], dtype=bool)
    if column not in _PARSERS:
        values = pd.array(np.where(is_missing, None, uniques), dtype="string")
        return values.take(codes), is_missing[codes]
    parse, problem = _PARSERS[column]
    parsed = [None if m else parse(u) for u, m in zip(uniques, is_missing, strict=True)]
    failed = np.array([p is None for p in parsed], dtype=bool) & ~is_missing
    _first_bad(path, pd.Series(failed[codes]), raw, lines, problem, column)
    if parse is _parse_int:
        ints = np.array([0 if p is None else p for p in parsed], dtype=np.int64)
        typed: Any = pd.arrays.IntegerArray(ints[codes], is_missing[codes])
    elif parse is _parse_float:
        typed = np.array([np.nan if p is None else p for p in parsed], dtype=np.float64)[codes]
    else:
        nat = np.datetime64("NaT", "ns")
        dates = np.array([nat if p is None else p for p in parsed], dtype="datetime64[ns]")
        typed = dates[codes]
    return typed, is_missing[codes]


def _row_hashes(records: list[list[str]], header: list[str]) -> list[str]:
    # Canonical column order and a separator that cannot occur in a CSV field value, so the
    # hash depends on the values only (not on column order, quoting, line endings or gzip).
    if tuple(header) == RAW_COLUMNS:
        joined = ["\x1f".join(r) for r in records]
    else:
        order = [header.index(c) for c in RAW_COLUMNS]
        joined = ["\x1f".join([r[i] for i in order]) for r in records]
    return [hashlib.blake2b(s.encode(), digest_size=8).hexdigest() for s in joined]


def booking_ids(records: list[list[str]], header: list[str]) -> pd.Series:
    """`b-<content hash>-<k>`: k counts earlier identical rows in file order."""
    digest = pd.Series(_row_hashes(records, header))
    k = digest.groupby(digest, sort=False).cumcount()
    return ("b-" + digest + "-" + k.astype(str)).astype("string")


def read_bookings(path: Path) -> ParseResult:
    """Read the Hotel booking demand CSV (plain or gzipped) into the lake `bookings` table.

    Raises RawFormatError for a file that is not this format: empty, header only, missing or
    renamed columns, a ragged or truncated line, a non-integer in an integer column, a non-number
    in adr, an unknown month name, an impossible date, a text that is not UTF-8.
    Drops (with the reason) a row whose values are well formed but unusable: a missing required
    value, is_canceled not 0/1, a negative lead_time or stay, a lead_time over ten years, a
    status date before booking. NULL, NA and empty fields are missing values.

    Adds booking_id (`b-<16 hex of the raw values>-<k>`, k = number of earlier identical rows in
    file order: stable across re-reads, appends, gzip, line ends and column order),
    booking_time (UTC midnight of arrival_date - lead_time days), arrival_date (naive date) and
    source_row (1-based data row of the file).
    """
    path = Path(path)
    records = read_csv_records(path, read_raw_text(path), RAW_COLUMNS)
    raw = pd.DataFrame(records.rows, columns=records.header, dtype=object)[list(RAW_COLUMNS)]
    lines = np.asarray(records.lines, dtype=np.int64)
    out = pd.DataFrame(index=raw.index)
    missing = pd.DataFrame(index=raw.index)
    for col in RAW_COLUMNS:
        out[col], missing[col] = _typed_column(path, raw[col], lines)

    month = raw["arrival_date_month"].map(MONTHS)
    _first_bad(
        path,
        ~missing["arrival_date_month"] & month.isna(),
        raw["arrival_date_month"],
        lines,
        "unknown month name",
        "arrival_date_month",
    )
    parts = ["arrival_date_year", "arrival_date_month", "arrival_date_day_of_month"]
    has_date = ~missing[parts].any(axis=1)
    arrival = pd.to_datetime(
        pd.DataFrame(
            {
                "year": out["arrival_date_year"].where(has_date, 2000),
                "month": month.where(has_date, 1),
                "day": out["arrival_date_day_of_month"].where(has_date, 1),
            }
        ).astype("int64"),
        errors="coerce",
    )
    bad_date = has_date & arrival.isna()
    if bad_date.any():
        pos = int(np.flatnonzero(bad_date.to_numpy())[0])
        value = "-".join(raw[c].iloc[pos] for c in parts)
        raise RawFormatError(path, f"invalid arrival date {value!r}", f"line {lines[pos]}")
    arrival = arrival.where(has_date).astype("datetime64[ns]")

    # A lead time beyond MAX_LEAD_DAYS is dropped below; 0 keeps the arithmetic in range.
    lead = out["lead_time"].where(out["lead_time"].abs() <= MAX_LEAD_DAYS, 0)
    booking_time = to_utc(arrival - pd.to_timedelta(lead.astype("float64"), unit="D"))
    reasons = _drop_reasons(out, missing, booking_time)

    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "booking_id": booking_ids(records.rows, records.header),
                    "booking_time": booking_time,
                    "arrival_date": arrival,
                }
            ),
            out[list(RAW_COLUMNS)],
        ],
        axis=1,
    )
    frame["source_row"] = np.arange(1, len(frame) + 1, dtype=np.int64)
    keep = reasons == ""
    dropped = pd.DataFrame(
        {
            "line": np.concatenate([lines[~keep.to_numpy()], records.blank_lines]).astype(np.int64),
            "reason": [*reasons[~keep], *["blank line"] * len(records.blank_lines)],
        }
    ).sort_values("line", kind="stable", ignore_index=True)
    return ParseResult(frame[keep].reset_index(drop=True), dropped, source=path.name)


def _drop_reasons(out: pd.DataFrame, missing: pd.DataFrame, booking_time: pd.Series) -> pd.Series:
    checks: list[tuple[str, pd.Series]] = [(f"missing {c}", missing[c]) for c in REQUIRED_COLUMNS]
    checks += [
        ("is_canceled not 0 or 1", ~out["is_canceled"].isin([0, 1]).fillna(True)),
        ("negative lead_time", (out["lead_time"] < 0).fillna(False)),
        (f"lead_time over {MAX_LEAD_DAYS} days", (out["lead_time"] > MAX_LEAD_DAYS).fillna(False)),
        ("negative stays_in_weekend_nights", (out["stays_in_weekend_nights"] < 0).fillna(False)),
        ("negative stays_in_week_nights", (out["stays_in_week_nights"] < 0).fillna(False)),
        (
            "reservation_status_date before booking_time",
            (to_utc(out["reservation_status_date"]) < booking_time).fillna(False),
        ),
    ]
    reasons = pd.Series("", index=out.index, dtype=object)
    for reason, mask in checks:
        m = mask.to_numpy(dtype=bool)
        if m.any():
            reasons[m] = np.where(reasons[m] == "", reason, reasons[m] + "; " + reason)
    return reasons


def utc_ns(values: pd.Series) -> np.ndarray:
    """Timestamps as naive datetime64[ns] in UTC (tz-aware input is converted, naive kept)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.to_numpy(dtype="datetime64[ns]")


def stay_week_start(dates: pd.Series) -> pd.Series:
    """ISO date string of the Monday of each date's week."""
    monday = dates.dt.normalize() - pd.to_timedelta(dates.dt.weekday, unit="D")
    if isinstance(monday.dtype, pd.DatetimeTZDtype):
        monday = monday.dt.tz_localize(None)
    return monday.dt.strftime("%Y-%m-%d").astype("string")


def booking_features(bookings: pd.DataFrame) -> pd.DataFrame:
    """The `booking_details` feature table: what is known about a booking when it is made.

    event_timestamp is booking_time. The outcome columns (is_canceled, reservation_status,
    reservation_status_date) are labels and never appear here, nor do the columns that
    accumulate after booking (booking_changes, assigned_room_type, days_in_waiting_list).
    arrival_week_number is the ISO week of arrival_date: the raw arrival_date_week_number
    follows another calendar convention and disagrees with ISO for about half of the rows.
    children is float64 (NaN when missing); agent and company are string ids.
    """
    b = bookings
    out = pd.DataFrame(
        {
            "booking_id": b["booking_id"].astype("string"),
            "event_timestamp": b["booking_time"],
            "hotel": b["hotel"].astype("string"),
            "stay_week_start": stay_week_start(b["arrival_date"]),
            "lead_time": b["lead_time"].astype("Int64"),
            "arrival_month": b["arrival_date"].dt.month.astype("Int64"),
            "arrival_week_number": b["arrival_date"].dt.isocalendar().week.astype("Int64"),
        }
    )
    for col in BOOKING_FEATURE_COLUMNS:
        if col not in out:
            out[col] = b[col]
    out["children"] = b["children"].astype("float64")
    for col in ("agent", "company"):
        out[col] = b[col].astype("Int64").astype("string")
    return out[["booking_id", "event_timestamp", *BOOKING_FEATURE_COLUMNS]].reset_index(drop=True)


def booking_labels(bookings: pd.DataFrame) -> pd.DataFrame:
    """The `booking_labels` lake table, read only by training (never a feature)."""
    return bookings[list(LABEL_COLUMNS)].reset_index(drop=True)


def _nights(bookings: pd.DataFrame) -> np.ndarray:
    weekend = bookings["stays_in_weekend_nights"].astype("Int64").fillna(0).to_numpy(np.int64)
    week = bookings["stays_in_week_nights"].astype("Int64").fillna(0).to_numpy(np.int64)
    return np.maximum(weekend + week, 0)


def _check_capacity(bookings: pd.DataFrame, capacity: Mapping[str, int]) -> None:
    unknown = sorted(set(bookings["hotel"].dropna().astype(str)) - set(capacity))
    if unknown:
        raise ValueError(f"no capacity for hotels: {', '.join(unknown)}")


def weekly_vacancy(
    bookings: pd.DataFrame, capacity: Mapping[str, int] = DEFAULT_CAPACITY
) -> pd.DataFrame:
    """The `hotel_weekly_vacancy` feature table, event-sourced and point-in-time correct.

    A booking (one room) adds each of its nights to the week the night falls in, at its
    booking_time. A cancellation (is_canceled == 1, including no-shows) removes them at
    reservation_status_date + 1 day 00:00 UTC, so a same-day cancellation is never visible at
    the booking's own booking_time. One row per (hotel, stay_week_start, time the value
    changed), cumulative. Times are whole days, so the value at a booking's time includes the
    other bookings made the same day. Needs hotel, booking_time, arrival_date, the two stay
    columns, is_canceled and reservation_status_date.
    """
    _check_capacity(bookings, capacity)
    nights = _nights(bookings)
    has = nights > 0
    b = bookings.loc[has]
    nights = nights[has]
    arrival = b["arrival_date"].to_numpy("datetime64[D]")
    offset = b["arrival_date"].dt.weekday.to_numpy(np.int64)  # nights before arrival in week 0
    first_monday = arrival - offset.astype("timedelta64[D]")
    n_weeks = (offset + nights - 1) // 7 + 1
    idx = np.repeat(np.arange(len(b)), n_weeks)
    j = np.arange(len(idx)) - np.repeat(np.cumsum(n_weeks) - n_weeks, n_weeks)
    in_week = np.minimum(7, offset[idx] + nights[idx] - 7 * j) - np.maximum(0, offset[idx] - 7 * j)
    monday = first_monday[idx] + (7 * j).astype("timedelta64[D]")

    hotel = b["hotel"].astype(str).to_numpy()[idx]
    added_at = utc_ns(b["booking_time"])[idx]
    canceled = (b["is_canceled"].astype("Int64").fillna(0).to_numpy() == 1)[idx]
    removed_at = utc_ns(b["reservation_status_date"])[idx] + np.timedelta64(1, "D")
    events = pd.DataFrame(
        {
            "hotel": np.concatenate([hotel, hotel[canceled]]),
            "monday": np.concatenate([monday, monday[canceled]]),
            "t": np.concatenate([added_at, removed_at[canceled]]),
            "delta": np.concatenate([in_week, -in_week[canceled]]),
        }
    )
    per_day = events.groupby(["hotel", "monday", "t"], sort=True)["delta"].sum().reset_index()
    per_day["booked"] = per_day.groupby(["hotel", "monday"], sort=False)["delta"].cumsum()
    # A day whose changes cancel out leaves the value as it was: no new row.
    per_day = per_day[per_day["delta"] != 0]

    hotels = per_day["hotel"].to_numpy()
    cap = np.array([7 * int(capacity[h]) for h in hotels], dtype=np.int64)
    booked = per_day["booked"].to_numpy(np.int64)
    mondays = pd.DatetimeIndex(per_day["monday"].to_numpy())
    return pd.DataFrame(
        {
            "hotel": pd.array(hotels, dtype="string"),
            "stay_week_start": pd.array(mondays.strftime("%Y-%m-%d"), dtype="string"),
            "event_timestamp": pd.DatetimeIndex(per_day["t"].to_numpy()).tz_localize("UTC"),
            "booked_room_nights": booked,
            "capacity_room_nights": cap,
            "vacancy_level": np.clip(1.0 - booked / cap, 0.0, 1.0),
        }
    )


class Vacancy(NamedTuple):
    """One hotel week's vacancy as known at a time."""

    booked_room_nights: int
    capacity_room_nights: int
    vacancy_level: float


def vacancy_as_of(
    bookings: pd.DataFrame,
    capacity: Mapping[str, int],
    hotel: str,
    week_start: str | pd.Timestamp,
    t: pd.Timestamp,
) -> Vacancy:
    """Brute-force reference of weekly_vacancy at time t (slow: one Python loop per night)."""
    monday = pd.Timestamp(week_start).normalize()
    sunday = monday + pd.Timedelta(days=6)
    t = pd.Timestamp(t)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    booked = 0
    for row in bookings.itertuples(index=False):
        if row.hotel != hotel or row.booking_time > t:
            continue
        if row.is_canceled == 1:
            removed = pd.Timestamp(row.reservation_status_date).tz_localize("UTC")
            if removed + pd.Timedelta(days=1) <= t:
                continue
        nights = int(row.stays_in_weekend_nights) + int(row.stays_in_week_nights)
        for k in range(nights):
            night = pd.Timestamp(row.arrival_date) + pd.Timedelta(days=k)
            if monday <= night <= sunday:
                booked += 1
    cap = 7 * int(capacity[hotel])
    return Vacancy(booked, cap, float(min(1.0, max(0.0, 1.0 - booked / cap))))
