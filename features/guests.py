"""Synthetic guest and web-session companions of the bookings, their raw formats and features.

No public data set links the hotel bookings to guests or web sessions, so `generate_companions`
makes them, seeded and deterministic. Documented properties of the synthetic data:

- a booking with is_repeated_guest == 1 reuses a guest of an earlier booking (strictly earlier
  booking_time) at the same hotel from the same country; otherwise it founds a new guest;
- a guest's age at the first booking is >= 18 and its distribution depends on the country;
- every booking has 1-4 web sessions in the 30 days before its booking_time (ending strictly
  before it); the pages viewed depend mildly on the booking: cancelled bookings look more at
  the cancellation policy and flexible rates, families at the kids club, and so on. So the
  session embedding carries some signal about the label by construction.

All randomness comes from hashes of booking ids (never from row positions), so the same input
gives the same output and appending later bookings leaves earlier guests and sessions as they
were.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from features.bookings import MISSING_TOKENS, read_csv_records, read_raw_text, utc_ns
from features.common import ParseResult, RawFormatError, to_utc

PAGES: tuple[str, ...] = (
    "home",
    "search",
    "rooms",
    "room_detail",
    "offers",
    "flexible_rates",
    "non_refundable_rates",
    "cancellation_policy",
    "reviews",
    "gallery",
    "location",
    "restaurant",
    "spa",
    "pool",
    "kids_club",
    "parking",
    "meeting_rooms",
    "group_booking",
    "faq",
    "contact",
    "loyalty",
    "events",
    "weather",
    "checkout",
)
AGE_BANDS: tuple[str, ...] = ("0-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_BAND_STARTS: tuple[int, ...] = (0, 18, 25, 35, 45, 55, 65)

# Committed vocabulary, never fitted on data: the main European source markets of Portuguese
# hotels plus a few large long-haul ones. A new list is a new version (v2), never an edit.
COUNTRY_VOCAB_V1: tuple[str, ...] = (
    "PRT",
    "ESP",
    "FRA",
    "DEU",
    "GBR",
    "IRL",
    "ITA",
    "BEL",
    "NLD",
    "CHE",
    "AUT",
    "SWE",
    "NOR",
    "DNK",
    "FIN",
    "POL",
    "RUS",
    "USA",
    "BRA",
    "CHN",
)
COUNTRY_VOCAB_VERSION = "v1"

GUEST_COLUMNS: tuple[str, ...] = ("guest_id", "date_of_birth", "country", "first_seen")
SESSION_KEYS: tuple[str, ...] = ("guest_id", "session_id", "started_at", "ended_at", "pages")

# Synthetic: mean age of adult guests at first booking per home country (years), sd 13.
_MEAN_AGE: dict[str, float] = {
    "PRT": 44.0,
    "ESP": 42.0,
    "FRA": 45.0,
    "DEU": 49.0,
    "GBR": 47.0,
    "IRL": 41.0,
    "ITA": 44.0,
    "BEL": 46.0,
    "NLD": 47.0,
    "CHE": 48.0,
    "AUT": 48.0,
    "SWE": 49.0,
    "NOR": 49.0,
    "DNK": 48.0,
    "FIN": 50.0,
    "POL": 38.0,
    "RUS": 37.0,
    "USA": 46.0,
    "BRA": 38.0,
    "CHN": 33.0,
    "CN": 33.0,
    "AGO": 36.0,
    "ISR": 40.0,
}
_DEFAULT_MEAN_AGE = 42.0
_AGE_SD = 13.0
_MIN_AGE_DAYS = 18 * 366  # >= 18 whatever the leap years in between
_MAX_AGE_DAYS = 90 * 365
_NA_COUNTRY = "\x00NA"


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a well-mixed uint64 per input, defined here (not by numpy)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _stream(key: np.ndarray, salt: int | np.integer[Any] | np.ndarray) -> np.ndarray:
    """An independent uint64 stream per key for each salt (a purpose, or a draw number)."""
    salts = np.broadcast_to(np.asarray(salt).astype(np.uint64), key.shape)
    return _splitmix(key ^ _splitmix(salts))


def _unit(x: np.ndarray) -> np.ndarray:
    """uint64 -> float64 uniform in [0, 1)."""
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _normal(key: np.ndarray, salt: int) -> np.ndarray:
    """Standard normal per key (Box-Muller on two hashed uniforms)."""
    u1 = 1.0 - _unit(_stream(key, salt))  # (0, 1]
    u2 = _unit(_stream(key, salt + 1))
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


class _Hashes(NamedTuple):
    guest_hex: np.ndarray  # 16 hex per booking: the id of the guest it would found
    session_hex: np.ndarray  # 16 hex per booking: prefix of its session ids
    base: np.ndarray  # uint64 per booking: root of all its random draws


def _booking_hashes(booking_id: pd.Series) -> _Hashes:
    """One BLAKE2b digest per booking id: ids and randomness never depend on row positions."""
    digests = [
        hashlib.blake2b(v.encode(), digest_size=24, person=b"fti-companions").digest()
        for v in booking_id.astype(str).tolist()
    ]
    guest_hex = np.array([d[:8].hex() for d in digests], dtype=object)
    session_hex = np.array([d[8:16].hex() for d in digests], dtype=object)
    base = np.frombuffer(b"".join(d[16:] for d in digests), dtype=">u8").astype(np.uint64)
    return _Hashes(guest_hex, session_hex, base)


def _seed_key(seed: int) -> np.uint64:
    digest = hashlib.blake2b(str(seed).encode(), digest_size=8, person=b"fti-seed").digest()
    return np.uint64(int.from_bytes(digest, "big"))


def _resolve(parent: np.ndarray) -> np.ndarray:
    """Root of each node in a forest given by parent pointers (pointer jumping)."""
    root = parent.copy()
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt


def _num(bookings: pd.DataFrame, column: str) -> np.ndarray:
    if column not in bookings:
        return np.zeros(len(bookings))
    return pd.to_numeric(bookings[column], errors="coerce").fillna(0).to_numpy(np.float64)


def _text(bookings: pd.DataFrame, column: str) -> np.ndarray:
    if column not in bookings:
        return np.full(len(bookings), "", dtype=object)
    return bookings[column].astype("string").fillna("").to_numpy(dtype=object)


def _page_weights(bookings: pd.DataFrame) -> np.ndarray:
    """Per-booking page preferences (rows sum to 1): the synthetic signal of the sessions."""
    base = {p: 1.0 for p in PAGES}
    base.update(home=3.0, search=3.0, rooms=3.0, room_detail=2.5, offers=1.5, checkout=1.5)
    w = np.tile(np.array([base[p] for p in PAGES]), (len(bookings), 1))
    col = {p: i for i, p in enumerate(PAGES)}

    def boost(mask: np.ndarray, page: str, factor: float) -> None:
        w[mask, col[page]] *= factor

    canceled = _num(bookings, "is_canceled") == 1
    boost(canceled, "cancellation_policy", 3.0)
    boost(canceled, "flexible_rates", 2.5)
    boost(canceled, "faq", 1.5)
    boost(canceled, "non_refundable_rates", 0.5)
    boost(_text(bookings, "deposit_type") == "Non Refund", "non_refundable_rates", 3.0)
    family = (_num(bookings, "children") + _num(bookings, "babies")) > 0
    boost(family, "kids_club", 4.0)
    boost(family, "pool", 2.0)
    boost(_num(bookings, "required_car_parking_spaces") > 0, "parking", 4.0)
    groups = (_text(bookings, "customer_type") == "Group") | (
        _text(bookings, "market_segment") == "Groups"
    )
    boost(groups, "group_booking", 4.0)
    boost(_text(bookings, "market_segment") == "Corporate", "meeting_rooms", 3.0)
    resort = _text(bookings, "hotel") == "Resort Hotel"
    boost(resort, "pool", 2.0)
    boost(resort, "spa", 2.0)
    boost(resort, "weather", 2.0)
    boost(~resort, "location", 2.0)
    boost(~resort, "events", 2.0)
    boost(_num(bookings, "is_repeated_guest") == 1, "loyalty", 4.0)
    boost(_num(bookings, "total_of_special_requests") > 0, "contact", 2.0)
    return w / w.sum(axis=1, keepdims=True)


def generate_companions(
    bookings: pd.DataFrame, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Seeded guests and web sessions for the bookings: (guests, sessions, guest_id by booking).

    Needs booking_id, booking_time, hotel, country, is_repeated_guest; reads the other booking
    columns (is_canceled, deposit_type, children, ...) when present to shape page preferences.
    guest_id is "g-" + a hash of the founding booking's id (it does not depend on the seed);
    the seed drives the choice of the earlier guest, dates of birth and sessions.
    """
    b = bookings.reset_index(drop=True)
    n = len(b)
    hashes = _booking_hashes(b["booking_id"])
    key = _stream(hashes.base, _seed_key(seed))
    booking_time = utc_ns(b["booking_time"]).view(np.int64)

    # Repeated guests: pick one strictly earlier booking of the same (hotel, country), NA
    # country being a country of its own. Ties broken by a hash of the id, not the row.
    hotel_code = pd.factorize(b["hotel"].astype(str), sort=True)[0]
    country = b["country"].astype("string").fillna(_NA_COUNTRY).astype(str)
    country_code = pd.factorize(country, sort=True)[0]
    tie = _splitmix(hashes.base)
    order = np.lexsort((tie, booking_time, country_code, hotel_code))
    group_key = (hotel_code[order].astype(np.int64) << 32) | country_code[order]
    pos = np.arange(n)
    new_group = np.r_[True, group_key[1:] != group_key[:-1]]
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
    t_sorted = booking_time[order]
    new_time = new_group | np.r_[True, t_sorted[1:] != t_sorted[:-1]]
    time_start = np.maximum.accumulate(np.where(new_time, pos, 0))
    earlier = time_start - group_start  # bookings of the group strictly before this one
    repeated = (_num(b, "is_repeated_guest")[order] == 1) & (earlier > 0)
    pick = _stream(key[order], 11) % np.maximum(earlier, 1).astype(np.uint64)
    parent = np.where(repeated, group_start + pick.astype(np.int64), pos)
    root = np.empty(n, dtype=np.int64)
    root[order] = order[_resolve(parent)]  # founding booking (row of b) of each booking's guest
    guest_of_booking = ("g-" + hashes.guest_hex)[root]

    guests = _make_guests(b, root, guest_of_booking, key)
    sessions = _make_sessions(b, guest_of_booking, key, hashes)
    guest_id = pd.Series(
        pd.array(guest_of_booking, dtype="string"),
        index=pd.Index(b["booking_id"].astype("string"), name="booking_id"),
        name="guest_id",
    )
    return guests, sessions, guest_id


def _make_guests(
    b: pd.DataFrame, root: np.ndarray, guest_of_booking: np.ndarray, key: np.ndarray
) -> pd.DataFrame:
    founders = np.unique(root)
    booking_time = utc_ns(b["booking_time"])
    # A founder is the earliest booking of its guest: reuse only points strictly back in time.
    first_seen = booking_time[founders]
    country = b["country"].astype("string").to_numpy(dtype=object)[founders]
    mean = np.array(
        [
            _MEAN_AGE.get(c, _DEFAULT_MEAN_AGE) if isinstance(c, str) else _DEFAULT_MEAN_AGE
            for c in country
        ]
    )
    age_days = (mean + _AGE_SD * _normal(key[founders], 21)) * 365.25
    age_days = np.clip(np.round(age_days), _MIN_AGE_DAYS, _MAX_AGE_DAYS).astype(np.int64)
    dob = first_seen.astype("datetime64[D]") - age_days.astype("timedelta64[D]")
    order = np.lexsort((_splitmix(key[founders]), first_seen.view(np.int64)))
    return pd.DataFrame(
        {
            "guest_id": pd.array(guest_of_booking[founders][order], dtype="string"),
            "date_of_birth": dob[order].astype("datetime64[ns]"),
            "country": pd.array(country[order], dtype="string"),
            "first_seen": pd.DatetimeIndex(first_seen[order]).tz_localize("UTC"),
        }
    )


def _make_sessions(
    b: pd.DataFrame, guest_of_booking: np.ndarray, key: np.ndarray, hashes: _Hashes
) -> pd.DataFrame:
    n_sessions = (1 + _stream(key, 31) % np.uint64(4)).astype(np.int64)
    s_booking = np.repeat(np.arange(len(b)), n_sessions)
    j = np.arange(len(s_booking)) - np.repeat(np.cumsum(n_sessions) - n_sessions, n_sessions)
    s_key = _stream(key[s_booking], 1000 + j)

    # Durations 2-45 min; start in the 30 days before booking_time; end >= 1 min before it.
    duration = (120 + _unit(_stream(s_key, 41)) * (45 * 60 - 120)).astype(np.int64)
    window = 30 * 86400 - duration - 60
    start_before = duration + 60 + (_unit(_stream(s_key, 42)) * window).astype(np.int64)
    booking_time = utc_ns(b["booking_time"])[s_booking]
    started = booking_time - start_before.astype("timedelta64[s]")
    ended = started + duration.astype("timedelta64[s]")

    # Pages: 2-12 draws per session from the booking's page preferences (inverse CDF, all
    # bookings at once: row r's CDF lives in [r, r + 1] of one sorted array).
    n_pages = (2 + _stream(s_key, 43) % np.uint64(11)).astype(np.int64)
    p_session = np.repeat(np.arange(len(s_key)), n_pages)
    k = np.arange(len(p_session)) - np.repeat(np.cumsum(n_pages) - n_pages, n_pages)
    u = _unit(_stream(s_key[p_session], 2000 + k))
    cdf = np.cumsum(_page_weights(b), axis=1)
    cdf[:, -1] = 1.0
    flat = (np.arange(len(b), dtype=np.float64)[:, None] + cdf).ravel()
    row_of_draw = s_booking[p_session]
    page = np.searchsorted(flat, row_of_draw + u, side="right") - row_of_draw * len(PAGES)
    page = np.clip(page, 0, len(PAGES) - 1)

    # One joined string sliced per session: no per-session Python join.
    text = " ".join(np.array(PAGES, dtype=object)[page].tolist())
    lengths = np.array([len(p) + 1 for p in PAGES])[page]
    ends_at = np.cumsum(lengths) - 1
    last = np.cumsum(n_pages) - 1
    first = last - n_pages + 1
    starts_at = ends_at[first] - lengths[first] + 1
    pages = [text[a:z] for a, z in zip(starts_at.tolist(), ends_at[last].tolist(), strict=True)]

    session_id = "s-" + hashes.session_hex[s_booking] + "-" + j.astype(str).astype(object)
    order = np.lexsort((j, _splitmix(hashes.base)[s_booking], started.view(np.int64)))
    return pd.DataFrame(
        {
            "guest_id": pd.array(guest_of_booking[s_booking][order], dtype="string"),
            "session_id": pd.array(session_id[order], dtype="string"),
            "started_at": pd.DatetimeIndex(started[order]).tz_localize("UTC"),
            "ended_at": pd.DatetimeIndex(ended[order]).tz_localize("UTC"),
            "pages": pd.array(np.array(pages, dtype=object)[order], dtype="string"),
        }
    )


# ---- raw formats -------------------------------------------------------------------------


def _iso_utc(values: pd.Series) -> pd.Series:
    return to_utc(values).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_guests_csv(guests: pd.DataFrame, path: Path) -> None:
    """Guests as CSV: guest_id,date_of_birth,country,first_seen (missing country is empty)."""
    out = pd.DataFrame(
        {
            "guest_id": guests["guest_id"].astype(str),
            "date_of_birth": pd.to_datetime(guests["date_of_birth"]).dt.strftime("%Y-%m-%d"),
            "country": guests["country"].astype("string").fillna(""),
            "first_seen": _iso_utc(guests["first_seen"]),
        }
    )
    out.to_csv(path, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)


def read_guests(path: Path) -> ParseResult:
    """Read a guests CSV (plain or gzipped) into the lake `guests` table.

    Raises RawFormatError for an empty file, header only, wrong columns, a ragged or truncated
    line, an unparsable date_of_birth or first_seen, text that is not UTF-8. Drops a row with a
    missing guest_id, date_of_birth or first_seen, a repeated guest_id, or a date of birth in the
    future (after the guest's first_seen). NULL, NA and empty country are missing.
    """
    path = Path(path)
    records = read_csv_records(path, read_raw_text(path), GUEST_COLUMNS)
    raw = pd.DataFrame(records.rows, columns=records.header, dtype=object)[list(GUEST_COLUMNS)]
    lines = np.asarray(records.lines, dtype=np.int64)
    missing = pd.DataFrame({c: raw[c].isin(MISSING_TOKENS) for c in GUEST_COLUMNS})

    dob = pd.to_datetime(
        raw["date_of_birth"].mask(missing["date_of_birth"]), format="%Y-%m-%d", errors="coerce"
    )
    _raise_first(
        path, ~missing["date_of_birth"] & dob.isna(), raw, lines, "date_of_birth", "invalid date"
    )
    seen = pd.to_datetime(
        raw["first_seen"].mask(missing["first_seen"]), format="ISO8601", utc=True, errors="coerce"
    )
    _raise_first(
        path, ~missing["first_seen"] & seen.isna(), raw, lines, "first_seen", "invalid timestamp"
    )
    frame = pd.DataFrame(
        {
            "guest_id": raw["guest_id"].mask(missing["guest_id"]).astype("string"),
            "date_of_birth": dob.astype("datetime64[ns]"),
            "country": raw["country"].mask(missing["country"]).astype("string"),
            "first_seen": seen.astype("datetime64[ns, UTC]"),
        }
    )
    checks = [
        ("missing guest_id", missing["guest_id"]),
        ("missing date_of_birth", missing["date_of_birth"]),
        ("missing first_seen", missing["first_seen"]),
        (
            "date of birth in the future",
            (frame["date_of_birth"] > frame["first_seen"].dt.tz_localize(None)).fillna(False),
        ),
    ]
    reasons = _reasons(checks, len(frame))
    dup = frame["guest_id"].duplicated() & frame["guest_id"].notna() & (reasons == "")
    reasons[dup.to_numpy()] = "duplicate guest_id"
    return _result(path, frame, reasons, lines, records.blank_lines)


def _raise_first(
    path: Path, mask: pd.Series, raw: pd.DataFrame, lines: np.ndarray, column: str, problem: str
) -> None:
    if mask.any():
        pos = int(np.flatnonzero(mask.to_numpy())[0])
        value = raw[column].iloc[pos]
        raise RawFormatError(path, f"{problem} {value!r}", f"line {lines[pos]}, column {column}")


def _reasons(checks: list[tuple[str, pd.Series]], n: int) -> np.ndarray:
    reasons = np.full(n, "", dtype=object)
    for reason, mask in checks:
        m = mask.to_numpy(dtype=bool)
        reasons[m] = np.where(reasons[m] == "", reason, reasons[m] + "; " + reason)
    return reasons


def _result(
    path: Path, frame: pd.DataFrame, reasons: np.ndarray, lines: np.ndarray, blank: list[int]
) -> ParseResult:
    keep = reasons == ""
    dropped = pd.DataFrame(
        {
            "line": np.concatenate([lines[~keep], np.asarray(blank, dtype=np.int64)]),
            "reason": [*reasons[~keep].tolist(), *["blank line"] * len(blank)],
        }
    ).sort_values("line", kind="stable", ignore_index=True)
    return ParseResult(frame[keep].reset_index(drop=True), dropped, source=path.name)


def write_sessions_jsonl(sessions: pd.DataFrame, path: Path) -> None:
    """Sessions as JSON lines: {"guest_id","session_id","started_at","ended_at","pages":[...]}."""
    started = _iso_utc(sessions["started_at"]).tolist()
    ended = _iso_utc(sessions["ended_at"]).tolist()
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for g, s, a, z, p in zip(
            sessions["guest_id"].astype(str).tolist(),
            sessions["session_id"].astype(str).tolist(),
            started,
            ended,
            sessions["pages"].astype(str).tolist(),
            strict=True,
        ):
            record = {
                "guest_id": g,
                "session_id": s,
                "started_at": a,
                "ended_at": z,
                "pages": p.split(),
            }
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")


def read_sessions(path: Path, pages: tuple[str, ...] = PAGES) -> ParseResult:
    """Read a sessions JSON-lines file (plain or gzipped) into the lake `sessions` table.

    Raises RawFormatError for an empty file, a line that is not a JSON object with exactly the
    five keys, a truncated last line, pages that are not a list of strings, an unparsable
    timestamp, text that is not UTF-8. Drops a session with an unknown page id, one that ended
    before it started, a missing guest_id or session_id, or a repeated session_id. Timestamps
    without an offset are read as UTC.
    """
    path = Path(path)
    text = read_raw_text(path)
    if not text.strip():
        raise RawFormatError(path, "empty file", "line 1")
    physical = text.replace("\r\n", "\n").split("\n")
    ends_with_newline = physical[-1] == ""
    if ends_with_newline:
        physical.pop()
    columns: dict[str, list[Any]] = {k: [] for k in SESSION_KEYS}
    lines: list[int] = []
    blank: list[int] = []
    expected = set(SESSION_KEYS)
    for number, line in enumerate(physical, start=1):
        if not line.strip():
            blank.append(number)
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            last = number == len(physical) and not ends_with_newline
            problem = "truncated last line" if last else f"invalid JSON: {exc.msg}"
            raise RawFormatError(path, problem, f"line {number}") from exc
        if not isinstance(record, dict):
            raise RawFormatError(path, "not a JSON object", f"line {number}")
        if set(record) != expected:
            parts = []
            if expected - set(record):
                parts.append("missing keys " + ", ".join(sorted(expected - set(record))))
            if set(record) - expected:
                parts.append("unexpected keys " + ", ".join(sorted(set(record) - expected)))
            raise RawFormatError(path, "; ".join(parts), f"line {number}")
        page_list = record["pages"]
        if not isinstance(page_list, list) or not all(isinstance(p, str) for p in page_list):
            raise RawFormatError(path, "pages is not a list of strings", f"line {number}")
        for k in SESSION_KEYS:
            columns[k].append(record[k])
        lines.append(number)
    if not lines:
        raise RawFormatError(path, "no sessions (only blank lines)", "line 1")
    line_arr = np.asarray(lines, dtype=np.int64)
    raw = pd.DataFrame({k: columns[k] for k in SESSION_KEYS if k != "pages"}, dtype=object)

    stamps = {}
    for col in ("started_at", "ended_at"):
        is_text = raw[col].map(lambda v: isinstance(v, str)).astype(bool)
        parsed = pd.to_datetime(
            raw[col].where(is_text), format="ISO8601", utc=True, errors="coerce"
        )
        _raise_first(path, parsed.isna(), raw, line_arr, col, "invalid timestamp")
        stamps[col] = parsed.astype("datetime64[ns, UTC]")
    known = set(pages)
    unknown = np.array([any(p not in known for p in ps) for ps in columns["pages"]], dtype=bool)
    frame = pd.DataFrame(
        {
            "guest_id": _id_column(raw["guest_id"]),
            "session_id": _id_column(raw["session_id"]),
            "started_at": stamps["started_at"],
            "ended_at": stamps["ended_at"],
            "pages": pd.array([" ".join(ps) for ps in columns["pages"]], dtype="string"),
        }
    )
    checks = [
        ("missing guest_id", frame["guest_id"].isna()),
        ("missing session_id", frame["session_id"].isna()),
        ("unknown page id", pd.Series(unknown)),
        ("ended before started", frame["ended_at"] < frame["started_at"]),
    ]
    reasons = _reasons(checks, len(frame))
    dup = frame["session_id"].duplicated() & frame["session_id"].notna() & (reasons == "")
    reasons[dup.to_numpy()] = "duplicate session_id"
    return _result(path, frame, reasons, line_arr, blank)


def _id_column(values: pd.Series) -> pd.Series:
    ok = values.map(lambda v: isinstance(v, str) and v not in MISSING_TOKENS).astype(bool)
    return values.where(ok).astype("string")


# ---- features ----------------------------------------------------------------------------


def _birthdays(dob: np.ndarray, years: int) -> np.ndarray:
    """The day someone born on `dob` turns `years`; 29 February falls on 1 March otherwise."""
    day_of = dob.astype("datetime64[D]")
    year = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    month = dob.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (day_of - dob.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    year = year + years
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    shift = (month == 2) & (day == 29) & ~leap
    month = np.where(shift, 3, month)
    day = np.where(shift, 1, day)
    first_of_month = (year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    return first_of_month.astype("datetime64[D]") + (day - 1)


def age_band_features(guests: pd.DataFrame, until: pd.Timestamp | None = None) -> pd.DataFrame:
    """The `guest_age_band` table: one row per band a guest enters, up to `until`.

    A row starts at birth ("0-17") and at each boundary birthday (18, 25, ..., 65) at 00:00
    UTC; someone born on 29 February turns a year older on 1 March in non-leap years. The band
    at time t is the row with the latest event_timestamp <= t. Rows after `until` (default: the
    latest first_seen + 10 years) are not produced: no feature row ever lies beyond the data.
    """
    g = guests[guests["date_of_birth"].notna()]
    if until is None:
        until = to_utc(g["first_seen"]).max() + pd.DateOffset(years=10)
    until = pd.Timestamp(until)
    until = until.tz_localize("UTC") if until.tzinfo is None else until.tz_convert("UTC")
    dob = pd.to_datetime(g["date_of_birth"]).to_numpy(dtype="datetime64[ns]")
    # (guests, bands) raveled row-major: each guest's bands in time order, no sort needed.
    starts = np.stack([_birthdays(dob, y) for y in _BAND_STARTS], axis=1).ravel()
    guest = np.repeat(g["guest_id"].astype(str).to_numpy(dtype=object), len(AGE_BANDS))
    band = np.tile(np.array(AGE_BANDS, dtype=object), len(g))
    keep = starts.astype("datetime64[ns]") <= until.tz_localize(None).to_datetime64()
    return pd.DataFrame(
        {
            "guest_id": pd.array(guest[keep], dtype="string"),
            "event_timestamp": pd.DatetimeIndex(starts[keep].astype("datetime64[ns]")).tz_localize(
                "UTC"
            ),
            "age_band": pd.array(band[keep], dtype="string"),
        }
    )


def age_band_at(date_of_birth: pd.Timestamp, t: pd.Timestamp) -> str:
    """Age band of a person at time t (completed years at t's UTC date)."""
    dob = pd.Timestamp(date_of_birth)
    day = pd.Timestamp(t)
    day = day.tz_convert("UTC") if day.tzinfo is not None else day
    age = day.year - dob.year - int((day.month, day.day) < (dob.month, dob.day))
    band = AGE_BANDS[0]
    for name, start in zip(AGE_BANDS, _BAND_STARTS, strict=True):
        if age >= start:
            band = name
    return band


def country_features(
    guests: pd.DataFrame,
    vocab: tuple[str, ...] = COUNTRY_VOCAB_V1,
    version: str | None = None,
) -> pd.DataFrame:
    """The `guest_home_country` table: one-hot over a fixed vocabulary, exactly one 1 per row.

    country_other is 1 for a missing country and for any code outside the vocabulary (the raw
    bookings write China as both CHN and the two-letter CN; CN is not mapped, it is "other").
    The version column is `version`, COUNTRY_VOCAB_VERSION for the default vocabulary, else a
    hash of the list.
    """
    if len(set(vocab)) != len(vocab):
        raise ValueError("country vocabulary has duplicates")
    if version is None:
        if vocab == COUNTRY_VOCAB_V1:
            version = COUNTRY_VOCAB_VERSION
        else:
            version = (
                "custom-" + hashlib.blake2b("|".join(vocab).encode(), digest_size=4).hexdigest()
            )
    codes, uniques = pd.factorize(guests["country"].astype(object).to_numpy(), use_na_sentinel=True)
    position = {code: i for i, code in enumerate(vocab)}
    # Column of each distinct country; len(vocab) is country_other (also for NA, code -1).
    column_of = np.array([position.get(u, len(vocab)) for u in uniques] + [len(vocab)])
    onehot = np.zeros((len(guests), len(vocab) + 1), dtype=np.int64)
    onehot[np.arange(len(guests)), column_of[codes]] = 1
    out = pd.DataFrame(
        {
            "guest_id": pd.array(guests["guest_id"].astype(str).to_numpy(), dtype="string"),
            "event_timestamp": pd.DatetimeIndex(utc_ns(guests["first_seen"])).tz_localize("UTC"),
        }
    )
    for i, code in enumerate(vocab):
        out[f"country_{code}"] = onehot[:, i]
    out["country_other"] = onehot[:, len(vocab)]
    out["country_vocab_version"] = pd.array([version] * len(out), dtype="string")
    return out


@dataclass(frozen=True)
class SessionReducer:
    """Seeded Gaussian random projection of log1p page counts; never fitted, never sees data.

    The matrix comes from SplitMix64 hashes of (seed, page, component) through Box-Muller, so
    it is defined by this code alone (not by a numpy version's random stream).
    """

    pages: tuple[str, ...] = PAGES
    dim: int = 8
    seed: int = 0

    @property
    def version(self) -> str:
        digest = hashlib.blake2b("\n".join(self.pages).encode(), digest_size=4).hexdigest()
        return f"rp{self.dim}-s{self.seed}-{digest}"

    def projection(self) -> np.ndarray:
        """The (len(pages), dim) matrix, entries N(0, 1 / dim)."""
        cells = np.arange(len(self.pages) * self.dim, dtype=np.uint64)
        key = _splitmix(np.full(cells.shape, self.seed, dtype=np.uint64)) ^ _splitmix(cells)
        matrix = _normal(key, 7).reshape(len(self.pages), self.dim)
        return matrix / math.sqrt(self.dim)

    def transform(self, counts: np.ndarray) -> np.ndarray:
        """Embed page-count vectors (rows) with log1p then the projection."""
        return np.log1p(np.asarray(counts, dtype=np.float64)) @ self.projection()


def page_counts(pages: pd.Series, vocabulary: tuple[str, ...]) -> np.ndarray:
    """(sessions, len(vocabulary)) counts of page views; an unknown page is an error."""
    texts = pages.astype(object).where(pages.notna(), "").tolist()
    # One split of one joined text (\x01 marks a session end; split() keeps it) instead of
    # one split per session.
    joined = " \x01 ".join(texts)
    if joined.count("\x01") != max(len(texts) - 1, 0):
        raise ValueError("page text contains a \\x01 character")
    tokens = np.array(joined.split(), dtype=object)
    marker = tokens == "\x01"
    row = np.cumsum(marker)[~marker]
    tokens = tokens[~marker]
    codes = pd.Index(list(vocabulary)).get_indexer(tokens).astype(np.int64)
    if (codes < 0).any():
        bad = sorted(set(tokens[codes < 0].tolist()))
        raise ValueError(f"unknown page ids: {', '.join(bad[:5])}")
    n, width = len(texts), len(vocabulary)
    counts = np.bincount(row * width + codes, minlength=n * width)
    return counts.reshape(n, width)


def session_embedding_features(
    sessions: pd.DataFrame, reducer: SessionReducer | None = None
) -> pd.DataFrame:
    """The `guest_session_embedding` table: one row per session end, cumulative per guest.

    The row at a session's ended_at embeds every page the guest viewed in sessions that ended
    at or before it. When two sessions of a guest end at the same instant only the row holding
    both is kept (keys stay unique; the order of the tie does not change that row).
    """
    reducer = reducer or SessionReducer()
    guest_code, guest_ids = pd.factorize(sessions["guest_id"].astype(object).to_numpy(), sort=True)
    ended = utc_ns(sessions["ended_at"])
    order = np.lexsort((ended.view(np.int64), guest_code))
    guest_code, ended = guest_code[order], ended[order]
    counts = page_counts(sessions["pages"].iloc[order], reducer.pages)
    n = len(order)
    new_guest = np.r_[True, guest_code[1:] != guest_code[:-1]] if n else np.zeros(0, bool)
    group_start = np.maximum.accumulate(np.where(new_guest, np.arange(n), 0))
    total = np.cumsum(counts, axis=0)
    before = np.vstack([np.zeros((1, counts.shape[1]), dtype=total.dtype), total])[group_start]
    emb = reducer.transform(total - before)
    # The last session of each (guest, end instant) holds the full history at that instant.
    last = np.r_[(guest_code[1:] != guest_code[:-1]) | (ended[1:] != ended[:-1]), True][:n]
    out = pd.DataFrame(
        {
            "guest_id": pd.array(
                np.asarray(guest_ids, dtype=object)[guest_code[last]], dtype="string"
            ),
            "event_timestamp": pd.DatetimeIndex(ended[last]).tz_localize("UTC"),
        }
    )
    for i in range(reducer.dim):
        out[f"session_emb_{i}"] = emb[last, i]
    out["sessions_seen"] = (np.arange(n) - group_start + 1)[last].astype(np.int64)
    out["session_reducer_version"] = pd.array([reducer.version] * len(out), dtype="string")
    return out
