"""Synthetic guests and sessions: determinism, raw formats, age bands, country, embedding."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.bookings import read_bookings
from features.common import RawFormatError
from features.guests import (
    AGE_BANDS,
    COUNTRY_VOCAB_V1,
    COUNTRY_VOCAB_VERSION,
    PAGES,
    SessionReducer,
    age_band_at,
    age_band_features,
    country_features,
    generate_companions,
    page_counts,
    read_guests,
    read_sessions,
    session_embedding_features,
    write_guests_csv,
    write_sessions_jsonl,
)


def make_bookings(rows: Sequence[tuple[str, str, str | None, str, int, int]]) -> pd.DataFrame:
    """(booking_id, hotel, country, booking day, is_repeated_guest, is_canceled) per booking."""
    frame = pd.DataFrame(
        rows,
        columns=["booking_id", "hotel", "country", "day", "is_repeated_guest", "is_canceled"],
    )
    return pd.DataFrame(
        {
            "booking_id": frame["booking_id"].astype("string"),
            "booking_time": pd.to_datetime(frame["day"]).dt.tz_localize("UTC"),
            "hotel": frame["hotel"].astype("string"),
            "country": frame["country"].astype("string"),
            "is_repeated_guest": frame["is_repeated_guest"].astype("Int64"),
            "is_canceled": frame["is_canceled"].astype("Int64"),
        }
    )


def sample_bookings(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2016-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    rows = [
        (
            f"b-{i:016x}-0",
            str(rng.choice(["Resort Hotel", "City Hotel"])),
            str(rng.choice(["PRT", "GBR", "DEU", "CHN"])),
            str(day.date()),
            int(rng.random() < 0.2),
            int(rng.random() < 0.4),
        )
        for i, day in enumerate(days)
    ]
    return make_bookings(rows)


SCENARIO = make_bookings(
    [
        ("b1", "Resort Hotel", "PRT", "2016-01-01", 0, 0),
        ("b2", "Resort Hotel", "PRT", "2016-02-01", 1, 0),  # repeated: b1's or b5's guest
        ("b3", "Resort Hotel", "GBR", "2016-03-01", 1, 1),  # repeated, no earlier GBR: new
        ("b4", "City Hotel", "PRT", "2016-03-01", 1, 0),  # repeated, no earlier City PRT: new
        ("b5", "Resort Hotel", "PRT", "2016-01-01", 1, 0),  # same day as b1 is not earlier: new
        ("b6", "Resort Hotel", None, "2016-01-05", 0, 1),  # unknown country
        ("b7", "Resort Hotel", None, "2016-02-05", 1, 0),  # repeated: reuses b6's guest
    ]
)


def test_companions_are_deterministic() -> None:
    bookings = sample_bookings(300)
    first = generate_companions(bookings, seed=3)
    second = generate_companions(bookings, seed=3)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])
    pd.testing.assert_series_equal(first[2], second[2])
    other = generate_companions(bookings, seed=4)
    assert not first[1]["pages"].equals(other[1]["pages"])
    founders = bookings["is_repeated_guest"] == 0
    assert first[2][founders.to_numpy()].equals(other[2][founders.to_numpy()])


def test_companions_do_not_depend_on_row_order_and_survive_appends() -> None:
    bookings = sample_bookings(200)
    _, sessions, guest_id = generate_companions(bookings)
    shuffled = bookings.sample(frac=1.0, random_state=1)
    _, s2, id2 = generate_companions(shuffled)
    pd.testing.assert_series_equal(id2.sort_index(), guest_id.sort_index())
    key = ["session_id"]
    pd.testing.assert_frame_equal(
        s2.sort_values(key, ignore_index=True), sessions.sort_values(key, ignore_index=True)
    )
    later = sample_bookings(50, seed=9)
    later["booking_id"] = ("later-" + later.index.astype(str)).astype("string")
    later["booking_time"] = later["booking_time"] + pd.Timedelta(days=400)
    _, s3, id3 = generate_companions(pd.concat([bookings, later], ignore_index=True))
    pd.testing.assert_series_equal(id3.iloc[: len(bookings)], guest_id)
    old = s3[s3["session_id"].isin(sessions["session_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, sessions)


def test_repeated_guests_reuse_an_earlier_guest() -> None:
    guests, _, guest_id = generate_companions(SCENARIO)
    assert guest_id["b2"] in (guest_id["b1"], guest_id["b5"])
    assert guest_id["b7"] == guest_id["b6"]
    assert len({guest_id[b] for b in ("b1", "b3", "b4", "b5", "b6")}) == 5
    assert len(guests) == 5 and guests["guest_id"].is_unique
    by_id = guests.set_index("guest_id")
    assert by_id.loc[guest_id["b1"], "first_seen"] == pd.Timestamp("2016-01-01", tz="UTC")
    assert pd.isna(by_id.loc[guest_id["b6"], "country"])  # NA stays NA
    assert by_id.loc[guest_id["b3"], "country"] == "GBR"


def test_guest_table_follows_the_contract() -> None:
    bookings = sample_bookings(500)
    guests, _, guest_id = generate_companions(bookings)
    assert list(guests.columns) == ["guest_id", "date_of_birth", "country", "first_seen"]
    assert guests["date_of_birth"].dtype == "datetime64[ns]"
    assert guests["first_seen"].dtype == "datetime64[ns, UTC]"
    assert guests["guest_id"].dtype == "string"
    first = bookings.groupby(guest_id.to_numpy())["booking_time"].min()
    pd.testing.assert_series_equal(
        guests.set_index("guest_id")["first_seen"],
        first.loc[guests["guest_id"]],
        check_names=False,
        check_index_type=False,
    )
    adult = [
        age_band_at(d, t) not in ("0-17",)
        for d, t in zip(guests["date_of_birth"], guests["first_seen"], strict=True)
    ]
    assert all(adult)


def test_age_depends_on_country() -> None:
    guests, _, _ = generate_companions(sample_bookings(2000))
    age = (guests["first_seen"].dt.tz_localize(None) - guests["date_of_birth"]).dt.days / 365.25
    mean = age.groupby(guests["country"]).mean()
    assert mean["DEU"] - mean["CHN"] > 8


def test_sessions_come_before_the_booking() -> None:
    bookings = sample_bookings(300)
    _, sessions, guest_id = generate_companions(bookings)
    assert list(sessions.columns) == ["guest_id", "session_id", "started_at", "ended_at", "pages"]
    assert sessions["session_id"].is_unique
    # the session id carries the booking's session hash and a number 0..3
    per_booking = sessions["session_id"].str.rsplit("-", n=1).str[0].value_counts()
    assert per_booking.between(1, 4).all() and len(per_booking) == len(bookings)
    # every session lies in the 30 days before one of its guest's bookings, ending strictly
    # before that booking's time
    pairs = sessions.merge(
        pd.DataFrame({"guest_id": guest_id.to_numpy(), "t": bookings["booking_time"].to_numpy()}),
        on="guest_id",
    )
    inside = (
        (pairs["t"] - pd.Timedelta(days=30) <= pairs["started_at"])
        & (pairs["started_at"] < pairs["ended_at"])
        & (pairs["ended_at"] < pairs["t"])
    )
    assert inside.groupby(pairs["session_id"]).any().all()
    assert set(" ".join(sessions["pages"]).split()) <= set(PAGES)
    assert set(sessions["guest_id"]) <= set(guest_id)


def test_cancelled_bookings_read_the_cancellation_policy_more() -> None:
    bookings = sample_bookings(3000)
    _, sessions, guest_id = generate_companions(bookings)
    canceled_guests = set(guest_id[(bookings["is_canceled"] == 1).to_numpy()])
    kept_guests = set(guest_id[(bookings["is_canceled"] == 0).to_numpy()]) - canceled_guests
    share = sessions["pages"].str.count("cancellation_policy") / sessions["pages"].str.count(" ")
    in_canceled = sessions["guest_id"].isin(canceled_guests)
    in_kept = sessions["guest_id"].isin(kept_guests)
    assert share[in_canceled].mean() > 1.5 * share[in_kept].mean()


# ---- raw formats -------------------------------------------------------------------------


def test_guests_csv_round_trip(tmp_path: Path) -> None:
    guests, _, _ = generate_companions(SCENARIO)
    path = tmp_path / "guests.csv"
    write_guests_csv(guests, path)
    result = read_guests(path)
    assert result.dropped.empty
    pd.testing.assert_frame_equal(result.frame, guests)
    gz = tmp_path / "guests.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    pd.testing.assert_frame_equal(read_guests(gz).frame, guests)


def test_sessions_jsonl_round_trip(tmp_path: Path) -> None:
    _, sessions, _ = generate_companions(SCENARIO)
    path = tmp_path / "sessions.jsonl"
    write_sessions_jsonl(sessions, path)
    first = json.loads(path.read_text().splitlines()[0])
    assert list(first) == ["guest_id", "session_id", "started_at", "ended_at", "pages"]
    assert isinstance(first["pages"], list)
    result = read_sessions(path)
    assert result.dropped.empty
    pd.testing.assert_frame_equal(result.frame, sessions)


GUEST_HEADER = "guest_id,date_of_birth,country,first_seen"
G1 = "g-1,1980-02-29,PRT,2016-01-01T00:00:00Z"
G2 = "g-2,1990-06-15,,2016-02-01T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "problem", "where"),
    [
        ("", "empty file", "line 1"),  # empty file
        (GUEST_HEADER + "\n", "no data rows (header only)", "line 2"),  # header only
        (
            "guest_id,dob,country,first_seen\n" + G1 + "\n",
            "missing columns date_of_birth",
            "line 1",
        ),  # renamed column
        (
            f"{GUEST_HEADER}\n{G1}\ng-3,1990-02-30,PRT,2016-01-01T00:00:00Z\n",
            "invalid date '1990-02-30'",
            "line 3, column date_of_birth",
        ),  # impossible date
        (
            f"{GUEST_HEADER}\ng-3,1990-01-01,PRT,yesterday\n",
            "invalid timestamp 'yesterday'",
            "line 2, column first_seen",
        ),  # unparsable timestamp
        (f"{GUEST_HEADER}\n{G1}\ng-3,1990-01", "truncated last line", "line 3"),  # cut off
    ],
)
def test_read_guests_errors(tmp_path: Path, text: str, problem: str, where: str) -> None:
    path = tmp_path / "guests.csv"
    path.write_text(text)
    with pytest.raises(RawFormatError) as info:
        read_guests(path)
    assert str(info.value).startswith("guests.csv: ")
    assert problem in info.value.problem and where in (info.value.where or "")


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("g-3,2017-01-01,PRT,2016-01-01T00:00:00Z", "date of birth in the future"),
        ("NULL,1980-01-01,PRT,2016-01-01T00:00:00Z", "missing guest_id"),
        ("g-3,,PRT,2016-01-01T00:00:00Z", "missing date_of_birth"),
        ("g-1,1981-01-01,PRT,2016-01-01T00:00:00Z", "duplicate guest_id"),  # g-1 seen above
    ],
)
def test_read_guests_drops(tmp_path: Path, bad: str, reason: str) -> None:
    path = tmp_path / "guests.csv"
    path.write_text(f"{GUEST_HEADER}\n{G1}\n{bad}\n{G2}\n")
    result = read_guests(path)
    assert result.frame["guest_id"].tolist() == ["g-1", "g-2"]
    assert result.dropped.to_dict("records") == [{"line": 3, "reason": reason}]
    assert pd.isna(result.frame["country"].iloc[1])


def session_line(**changes: object) -> str:
    record = {
        "guest_id": "g-1",
        "session_id": "s-1",
        "started_at": "2016-01-01T10:00:00Z",
        "ended_at": "2016-01-01T10:20:00Z",
        "pages": ["home", "rooms"],
        **changes,
    }
    return json.dumps({k: v for k, v in record.items() if v is not None})


@pytest.mark.parametrize(
    ("text", "problem", "where"),
    [
        ("", "empty file", "line 1"),  # empty file
        ("\n\n", "empty file", "line 1"),  # blank lines only
        (
            session_line() + "\n{not json}\n" + session_line(session_id="s-2") + "\n",
            "invalid JSON",
            "line 2",
        ),  # a broken line in the middle
        (
            session_line() + "\n" + session_line(session_id="s-2")[:30],
            "truncated last line",
            "line 2",
        ),  # file cut off
        (session_line(pages=None) + "\n", "missing keys pages", "line 1"),  # a key missing
        (session_line(extra=1) + "\n", "unexpected keys extra", "line 1"),  # an extra key
        (session_line(pages="home rooms") + "\n", "pages is not a list of strings", "line 1"),
        ("[1, 2]\n", "not a JSON object", "line 1"),
        (
            session_line(started_at="noon") + "\n",
            "invalid timestamp 'noon'",
            "line 1, column started_at",
        ),
    ],
)
def test_read_sessions_errors(tmp_path: Path, text: str, problem: str, where: str) -> None:
    path = tmp_path / "sessions.jsonl"
    path.write_text(text)
    with pytest.raises(RawFormatError) as info:
        read_sessions(path)
    assert str(info.value).startswith("sessions.jsonl: ")
    assert problem in info.value.problem and where in (info.value.where or "")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (session_line(session_id="s-9", pages=["home", "casino"]), "unknown page id"),
        (session_line(session_id="s-9", ended_at="2016-01-01T09:00:00Z"), "ended before started"),
        (session_line(), "duplicate session_id"),  # s-1 seen on line 1
        (session_line(session_id="s-9", guest_id=""), "missing guest_id"),
        ("", "blank line"),
    ],
)
def test_read_sessions_drops(tmp_path: Path, bad: str, reason: str) -> None:
    path = tmp_path / "sessions.jsonl"
    path.write_text("\n".join([session_line(), bad, session_line(session_id="s-2")]) + "\n")
    result = read_sessions(path)
    assert result.frame["session_id"].tolist() == ["s-1", "s-2"]
    assert result.dropped.to_dict("records") == [{"line": 2, "reason": reason}]
    assert result.frame["started_at"].dtype == "datetime64[ns, UTC]"
    assert result.frame["pages"].iloc[0] == "home rooms"


# ---- age bands ---------------------------------------------------------------------------


def guests_frame(dobs: list[str], first_seen: str = "2016-01-01") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "guest_id": pd.array([f"g-{i}" for i in range(len(dobs))], dtype="string"),
            "date_of_birth": pd.to_datetime(dobs),
            "country": pd.array(["PRT"] * len(dobs), dtype="string"),
            "first_seen": pd.Timestamp(first_seen, tz="UTC"),
        }
    )


def test_age_bands_start_at_boundary_birthdays() -> None:
    table = age_band_features(guests_frame(["2000-02-29"]), until=pd.Timestamp("2100-01-01"))
    assert table["age_band"].tolist() == list(AGE_BANDS)
    assert table["event_timestamp"].dt.strftime("%Y-%m-%d").tolist() == [
        "2000-02-29",  # birth
        "2018-03-01",  # 2018 has no 29 February: 18 on 1 March
        "2025-03-01",
        "2035-03-01",
        "2045-03-01",
        "2055-03-01",
        "2065-03-01",
    ]
    assert table["event_timestamp"].dtype == "datetime64[ns, UTC]"


def test_age_bands_stop_at_until() -> None:
    guests = guests_frame(["1992-05-20"], first_seen="2016-01-01")
    default = age_band_features(guests)  # until = latest first_seen + 10 years
    assert default["age_band"].tolist() == ["0-17", "18-24", "25-34"]
    early = age_band_features(guests, until=pd.Timestamp("2010-05-19 23:59", tz="UTC"))
    assert early["age_band"].tolist() == ["0-17"]


@settings(max_examples=200, deadline=None)
@given(
    dob=st.dates(
        min_value=pd.Timestamp("1930-01-01").date(), max_value=pd.Timestamp("2015-12-31").date()
    ),
    days=st.integers(0, 80 * 366),
    seconds=st.integers(0, 86399),
)
def test_age_band_point_in_time(dob: object, days: int, seconds: int) -> None:
    birth = pd.Timestamp(dob)  # type: ignore[arg-type]
    table = age_band_features(
        guests_frame([str(birth.date())]), until=pd.Timestamp("2200-01-01", tz="UTC")
    )
    t = birth.tz_localize("UTC") + pd.Timedelta(days=days, seconds=seconds)
    known = table[table["event_timestamp"] <= t]
    assert known["age_band"].iloc[-1] == age_band_at(birth, t)


# ---- country -----------------------------------------------------------------------------


def test_country_vocabulary_is_fixed_and_versioned() -> None:
    assert COUNTRY_VOCAB_VERSION == "v1"
    assert 15 <= len(COUNTRY_VOCAB_V1) <= 25 and len(set(COUNTRY_VOCAB_V1)) == len(COUNTRY_VOCAB_V1)
    assert all(len(c) == 3 and c.isupper() for c in COUNTRY_VOCAB_V1)
    assert {"PRT", "ESP", "FRA", "DEU", "GBR"} <= set(COUNTRY_VOCAB_V1)


@pytest.mark.parametrize(
    ("country", "column"),
    [
        ("PRT", "country_PRT"),  # in the vocabulary
        ("CHN", "country_CHN"),
        ("CN", "country_other"),  # the raw data's two-letter China: not ISO3, not mapped
        ("AGO", "country_other"),  # a real code outside the vocabulary
        (None, "country_other"),  # unknown country
    ],
)
def test_country_one_hot(country: str | None, column: str) -> None:
    guests = guests_frame(["1980-01-01"])
    guests["country"] = pd.array([country], dtype="string")
    table = country_features(guests)
    one_hot = table.drop(columns=["guest_id", "event_timestamp", "country_vocab_version"])
    assert list(one_hot.columns) == [f"country_{c}" for c in COUNTRY_VOCAB_V1] + ["country_other"]
    assert (one_hot.sum(axis=1) == 1).all() and one_hot[column].iloc[0] == 1
    assert (one_hot.dtypes == "int64").all()
    assert table["country_vocab_version"].iloc[0] == "v1"
    assert table["event_timestamp"].iloc[0] == guests["first_seen"].iloc[0]


def test_custom_vocabulary_gets_its_own_version() -> None:
    table = country_features(guests_frame(["1980-01-01"]), vocab=("PRT", "ESP"))
    assert table["country_vocab_version"].iloc[0].startswith("custom-")
    assert table["country_PRT"].iloc[0] == 1
    with pytest.raises(ValueError, match="duplicates"):
        country_features(guests_frame(["1980-01-01"]), vocab=("PRT", "PRT"))


# ---- session embedding -------------------------------------------------------------------


def sessions_frame(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """(guest_id, session_id, ended_at, pages) per session; each lasts 10 minutes."""
    frame = pd.DataFrame(rows, columns=["guest_id", "session_id", "ended_at", "pages"])
    ended = pd.to_datetime(frame["ended_at"]).dt.tz_localize("UTC")
    return pd.DataFrame(
        {
            "guest_id": frame["guest_id"].astype("string"),
            "session_id": frame["session_id"].astype("string"),
            "started_at": ended - pd.Timedelta(minutes=10),
            "ended_at": ended,
            "pages": frame["pages"].astype("string"),
        }
    )


SESSIONS = sessions_frame(
    [
        ("g-1", "s-2", "2016-01-03", "offers cancellation_policy"),
        ("g-1", "s-1", "2016-01-01", "home rooms rooms"),
        ("g-2", "s-3", "2016-01-02", "home"),
        ("g-1", "s-4", "2016-01-05", "home"),
        ("g-1", "s-5", "2016-01-05", "spa"),  # ends with s-4: one row holding both
    ]
)


def test_embedding_is_cumulative() -> None:
    reducer = SessionReducer()
    table = session_embedding_features(SESSIONS, reducer)
    emb_cols = [f"session_emb_{i}" for i in range(8)]
    assert list(table.columns) == [
        "guest_id",
        "event_timestamp",
        *emb_cols,
        "sessions_seen",
        "session_reducer_version",
    ]
    g1 = table[table["guest_id"] == "g-1"]
    assert g1["sessions_seen"].tolist() == [1, 2, 4]
    assert not table.duplicated(["guest_id", "event_timestamp"]).any()
    counts = page_counts(pd.Series(["home rooms rooms offers cancellation_policy"]), PAGES)
    np.testing.assert_allclose(g1[emb_cols].iloc[1], reducer.transform(counts)[0])
    everything = page_counts(
        pd.Series(["home rooms rooms offers cancellation_policy home spa"]), PAGES
    )
    np.testing.assert_allclose(g1[emb_cols].iloc[2], reducer.transform(everything)[0])
    assert np.isfinite(table[emb_cols].to_numpy()).all()
    assert (table[emb_cols].dtypes == "float64").all() and table["sessions_seen"].dtype == "int64"


def test_embedding_at_t_equals_embedding_of_history_truncated_at_t() -> None:
    _, sessions, _ = generate_companions(sample_bookings(200))
    table = session_embedding_features(sessions)
    rng = np.random.default_rng(0)
    for i in rng.choice(len(table), 15, replace=False):
        row = table.iloc[i]
        history = sessions[
            (sessions["guest_id"] == row["guest_id"])
            & (sessions["ended_at"] <= row["event_timestamp"])
        ]
        again = session_embedding_features(history).iloc[-1]
        pd.testing.assert_series_equal(again, row, check_names=False)


def test_embedding_is_deterministic_and_versioned() -> None:
    a = session_embedding_features(SESSIONS, SessionReducer(seed=1))
    b = session_embedding_features(SESSIONS.iloc[::-1], SessionReducer(seed=1))
    pd.testing.assert_frame_equal(a, b)
    assert SessionReducer(seed=1).version != SessionReducer(seed=2).version
    assert SessionReducer(seed=1).version.startswith("rp8-s1-")
    assert SessionReducer(pages=PAGES[:-1]).version != SessionReducer().version
    assert SessionReducer().projection().shape == (len(PAGES), 8)
    np.testing.assert_array_equal(SessionReducer().projection(), SessionReducer().projection())
    assert a["session_reducer_version"].iloc[0] == SessionReducer(seed=1).version


def test_embedding_rejects_unknown_pages() -> None:
    bad = SESSIONS.assign(pages=pd.array(["home casino"] * len(SESSIONS), dtype="string"))
    with pytest.raises(ValueError, match="unknown page ids: casino"):
        session_embedding_features(bad)


# ---- real data ---------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_companions(shared_data: Path) -> None:
    bookings = read_bookings(shared_data / "hotel_bookings" / "hotels.csv.gz").frame
    # Speed is measured by bench/ (FP), not asserted here.
    guests, sessions, guest_id = generate_companions(bookings, seed=0)
    assert len(guest_id) == 119_390 and guest_id.index.is_unique
    assert guests["guest_id"].is_unique and sessions["session_id"].is_unique
    assert len(guests) < len(bookings)  # repeated guests reuse ids
    assert set(sessions["guest_id"]) <= set(guests["guest_id"])
    ended = sessions.groupby("guest_id")["ended_at"].min()
    first = guests.set_index("guest_id")["first_seen"]
    assert (ended < first.loc[ended.index]).all()
    table = session_embedding_features(sessions)
    assert np.isfinite(table.filter(like="session_emb_").to_numpy()).all()
