"""Price readers (ENTSO-E export, tidy CSV/parquet) and point-in-time zone price features."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.common import RawFormatError
from features.prices import (
    FEATURE_COLUMNS,
    price_features,
    price_features_window,
    read_entsoe,
    read_prices,
    read_tidy_prices,
)

HEADER = '"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]","Currency","BZN|SE3"'


def row(day: str, hour: int, price: str, currency: str = "EUR", end_day: str | None = None) -> str:
    """One ENTSO-E data line for the hour starting at ``hour`` on ``day`` (dd.mm.yyyy)."""
    end = f"{end_day or day} {(hour + 1) % 24:02d}:00"
    return f'"{day} {hour:02d}:00 - {end}","{price}","{currency}"'


def write(tmp_path: Path, lines: list[str], name: str = "x.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def utc(*stamps: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(s, tz="UTC") for s in stamps]


# --- ENTSO-E reader -------------------------------------------------------------------------


def test_entsoe_contract(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, row("01.01.2020", 0, "28.78"), row("01.01.2020", 1, "-1.50")])
    result = read_entsoe(path)
    frame = result.frame
    assert list(frame.columns) == ["zone", "ts", "price_eur_mwh", "source"]
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    assert frame["price_eur_mwh"].dtype == np.float64
    # Local midnight in winter (CET) is 23:00 UTC the day before; negative prices are real.
    assert frame["ts"].tolist() == utc("2019-12-31 23:00", "2020-01-01 00:00")
    assert frame["price_eur_mwh"].tolist() == [28.78, -1.5]
    assert set(frame["zone"]) == {"SE3"} and set(frame["source"]) == {"x.csv"}
    assert result.dropped.empty and result.source == "x.csv"


def test_entsoe_zone_comes_from_header(tmp_path: Path) -> None:
    header = HEADER.replace("BZN|SE3", "BZN|SE1")
    path = write(tmp_path, [header, row("01.06.2020", 0, "1.00")])
    assert read_entsoe(path).frame["zone"].tolist() == ["SE1"]


def test_entsoe_autumn_fallback_hour_twice(tmp_path: Path) -> None:
    # 25.10.2020 02:00-03:00 local happens twice: first CEST (00:00 UTC), then CET (01:00 UTC).
    day = "25.10.2020"
    lines = [HEADER, row(day, 1, "10.00"), row(day, 2, "20.00"), row(day, 2, "21.00")]
    lines.append(row(day, 3, "30.00"))
    frame = read_entsoe(write(tmp_path, lines)).frame
    expected = utc("2020-10-24 23:00", "2020-10-25 00:00", "2020-10-25 01:00", "2020-10-25 02:00")
    assert frame["ts"].tolist() == expected
    assert frame["price_eur_mwh"].tolist() == [10.0, 20.0, 21.0, 30.0]


SPRING = "29.03.2020"


@pytest.mark.parametrize(
    ("data", "kept", "dropped"),
    [
        # Spring forward: 02:00-03:00 does not exist locally; ENTSO-E lists it with empty fields.
        pytest.param(
            [row(SPRING, 1, "5.00"), row(SPRING, 2, "", ""), row(SPRING, 3, "6.00")],
            utc("2020-03-29 00:00", "2020-03-29 01:00"),
            [(3, "dst_nonexistent_hour")],
            id="dst-nonexistent-hour",
        ),
        # Not yet published at export time (end of 2024): "n/e" with an empty currency.
        pytest.param(
            [row("04.10.2024", 22, "19.17"), row("04.10.2024", 23, "n/e", "", "05.10.2024")],
            utc("2024-10-04 20:00"),
            [(3, "not_published")],
            id="not-published-empty-currency",
        ),
        # The first unpublished hours of 05.10.2024 still carry currency EUR.
        pytest.param(
            [row("05.10.2024", 0, "n/e"), row("05.10.2024", 1, "1.00")],
            utc("2024-10-04 23:00"),
            [(2, "not_published")],
            id="not-published-with-currency",
        ),
        # An empty price on an hour that exists, amid published data: a hole, not a format error.
        pytest.param(
            [row("01.01.2020", 0, "1.00"), row("01.01.2020", 1, "", ""), row("01.01.2020", 2, "3")],
            utc("2019-12-31 23:00", "2020-01-01 01:00"),
            [(3, "missing_value")],
            id="missing-value-mid-series",
        ),
        # Same hole with the currency still filled in.
        pytest.param(
            [row("01.01.2020", 0, ""), row("01.01.2020", 1, "2.00")],
            utc("2020-01-01 00:00"),
            [(2, "missing_value")],
            id="missing-value-with-currency",
        ),
        # "N/A" is ENTSO-E's other "no value" placeholder.
        pytest.param(
            [row("01.01.2020", 0, "N/A", ""), row("01.01.2020", 1, "2.00")],
            utc("2020-01-01 00:00"),
            [(2, "missing_value")],
            id="missing-value-n-a",
        ),
        # The autumn hour can also be unpublished, both copies (27.10.2024 in the real data).
        pytest.param(
            [row("27.10.2024", 2, "n/e", ""), row("27.10.2024", 2, "n/e", "")],
            [],
            [(2, "not_published"), (3, "not_published")],
            id="fallback-hour-not-published",
        ),
    ],
)
def test_entsoe_dropped_rows(
    tmp_path: Path, data: list[str], kept: list[pd.Timestamp], dropped: list[tuple[int, str]]
) -> None:
    result = read_entsoe(write(tmp_path, [HEADER, *data]))
    assert result.frame["ts"].tolist() == kept
    assert list(result.dropped.itertuples(index=False, name=None)) == dropped
    assert result.dropped["line"].dtype == np.int64


def test_entsoe_tolerates_crlf_bom_and_blank_trailing_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    text = "\ufeff" + "\r\n".join([HEADER, row("01.01.2020", 0, "1.00")]) + "\r\n\r\n"
    path.write_bytes(text.encode("utf-8"))
    assert read_entsoe(path).frame["price_eur_mwh"].tolist() == [1.0]


OK = row("01.01.2020", 0, "1.00")
OK2 = row("01.01.2020", 1, "2.00")
FALLBACK = row("25.10.2020", 2, "1.00")


@pytest.mark.parametrize(
    ("content", "problem", "where"),
    [
        # Zero bytes: an aborted download.
        pytest.param(b"", "empty file", "line 1", id="empty"),
        # Header and nothing else: an export for a period without data.
        pytest.param(HEADER.encode() + b"\n", "header only", "line 2", id="header-only"),
        # The zone column is gone, so the zone is unknown.
        pytest.param(
            f'"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]","Currency"\n{OK}\n'.encode(),
            "missing column 'BZN|<zone>'",
            "line 1, column 4",
            id="missing-zone-column",
        ),
        # Renamed price column: another unit or currency must not pass as EUR/MWh.
        pytest.param(
            f"{HEADER.replace('EUR/MWh', 'SEK/MWh')}\n{OK}\n".encode(),
            "expected column 'Day-ahead Price [EUR/MWh]'",
            "line 1, column 2",
            id="renamed-price-column",
        ),
        # A time zone change in the export settings renames the MTU column.
        pytest.param(
            f"{HEADER.replace('CET/CEST', 'UTC')}\n{OK}\n".encode(),
            "expected column 'MTU (CET/CEST)'",
            "line 1, column 1",
            id="renamed-mtu-column",
        ),
        # Decimal comma from a localised export.
        pytest.param(
            f"{HEADER}\n{OK}\n{row('01.01.2020', 1, '12,5')}\n".encode(),
            "non-numeric price '12,5'",
            "line 3, column 2",
            id="non-numeric-price",
        ),
        # ISO dates instead of dd.mm.yyyy.
        pytest.param(
            f'{HEADER}\n"2020-01-01 00:00 - 2020-01-01 01:00","1.00","EUR"\n'.encode(),
            "unparseable interval",
            "line 2, column 1",
            id="unparseable-interval",
        ),
        # The right shape but an impossible date.
        pytest.param(
            f"{HEADER}\n{row('32.01.2020', 0, '1.00')}\n".encode(),
            "unparseable interval",
            "line 2, column 1",
            id="impossible-date",
        ),
        # 15-minute MTU (the market's 2025 switch) must not be read as hours.
        pytest.param(
            f'{HEADER}\n"01.01.2020 00:00 - 01.01.2020 00:15","1.00","EUR"\n'.encode(),
            "is not one hour",
            "line 2, column 1",
            id="interval-not-one-hour",
        ),
        # The same normal hour twice: a concatenation error, not DST.
        pytest.param(
            f"{HEADER}\n{OK}\n{OK}\n".encode(),
            "duplicate hour",
            "line 3, column 1",
            id="non-dst-duplicate",
        ),
        # The fall-back hour three times.
        pytest.param(
            f"{HEADER}\n{FALLBACK}\n{FALLBACK}\n{FALLBACK}\n".encode(),
            "third copy",
            "line 4, column 1",
            id="third-copy",
        ),
        # The fall-back hour once: CEST or CET cannot be told apart.
        pytest.param(
            f"{HEADER}\n{FALLBACK}\n".encode(),
            "appears once",
            "line 2, column 1",
            id="lone-fallback-hour",
        ),
        # Hours out of order would break the first-copy-is-CEST rule.
        pytest.param(
            f"{HEADER}\n{OK2}\n{OK}\n".encode(),
            "out of order",
            "line 3, column 1",
            id="out-of-order",
        ),
        # A price in another currency.
        pytest.param(
            f"{HEADER}\n{row('01.01.2020', 0, '1.00', 'SEK')}\n".encode(),
            "unknown currency 'SEK'",
            "line 2, column 3",
            id="unknown-currency",
        ),
        # A price with no currency at all.
        pytest.param(
            f"{HEADER}\n{row('01.01.2020', 0, '1.00', '')}\n".encode(),
            "price without currency",
            "line 2, column 3",
            id="price-without-currency",
        ),
        # Re-saved in Windows-1252 (the zone label has a non-ASCII byte).
        pytest.param(
            f"{HEADER}\n{OK}\n".encode() + b'"01.01.2020 01:00 - 01.01.2020 02:00","1\xe4","EUR"\n',
            "not UTF-8 (byte 0xe4)",
            "line 3",
            id="wrong-encoding",
        ),
        # Download cut inside the last field: the quote never closes.
        pytest.param(
            f'{HEADER}\n{OK}\n"01.01.2020 01:00 - 01.01.2020 02:00","2.'.encode(),
            "malformed or truncated",
            "line 3",
            id="truncated-unclosed-quote",
        ),
        # Download cut between fields: the last line lacks the currency.
        pytest.param(
            f'{HEADER}\n{OK}\n"01.01.2020 01:00 - 01.01.2020 02:00","2.00"'.encode(),
            "row has 2 fields",
            "line 3",
            id="truncated-missing-fields",
        ),
    ],
)
def test_entsoe_format_errors(tmp_path: Path, content: bytes, problem: str, where: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(RawFormatError) as info:
        read_entsoe(path)
    message = str(info.value)
    assert message.startswith("x.csv: ")
    assert problem in message
    assert message.endswith(f"({where})")
    assert "\n" not in message


# --- tidy reader and dispatch ---------------------------------------------------------------


def test_tidy_csv_converts_offsets_to_utc(tmp_path: Path) -> None:
    lines = [
        "zone,timestamp,price_eur_mwh",
        "DE,2024-01-01T01:00:00+01:00,50.5",
        "DE,2024-01-01T01:00:00Z,-3",
        "NL,2024-01-01T00:00:00Z,",
    ]
    result = read_tidy_prices(write(tmp_path, lines, "tidy.csv"))
    frame = result.frame
    assert list(frame.columns) == ["zone", "ts", "price_eur_mwh", "source"]
    assert frame["ts"].tolist() == utc("2024-01-01 00:00", "2024-01-01 01:00")
    assert frame["price_eur_mwh"].tolist() == [50.5, -3.0]
    assert list(result.dropped.itertuples(index=False, name=None)) == [(4, "missing_value")]


def test_tidy_parquet(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "zone": ["DE", "DE", "FR"],
            "timestamp": pd.to_datetime(["2024-01-01 01:00", "2024-01-01 00:00", None]).tz_localize(
                "Europe/Berlin"
            ),
            "price_eur_mwh": [1.0, np.nan, 2.0],
        }
    )
    table.loc[2, "timestamp"] = pd.Timestamp("2024-01-01 05:00", tz="Europe/Berlin")
    path = tmp_path / "p.parquet"
    table.to_parquet(path)
    result = read_tidy_prices(path)
    assert result.frame["ts"].tolist() == utc("2024-01-01 00:00", "2024-01-01 04:00")
    assert str(result.frame["ts"].dtype) == "datetime64[ns, UTC]"
    # Parquet rows are numbered from 1 (no file lines).
    assert list(result.dropped.itertuples(index=False, name=None)) == [(2, "missing_value")]


TIDY = "zone,timestamp,price_eur_mwh"


@pytest.mark.parametrize(
    ("lines", "problem", "where"),
    [
        # No offset: local or UTC? Never guessed.
        pytest.param(
            [TIDY, "DE,2024-01-01 00:00:00,1"],
            "naive timestamp",
            "line 2, column timestamp",
            id="naive-timestamp",
        ),
        # A column is missing or renamed.
        pytest.param(
            ["zone,time,price_eur_mwh", "DE,2024-01-01T00:00Z,1"],
            "missing column 'timestamp'",
            "line 1",
            id="missing-column",
        ),
        # A quarter-hour price in an hourly table.
        pytest.param(
            [TIDY, "DE,2024-01-01T00:15:00Z,1"],
            "not on the hour",
            "line 2, column timestamp",
            id="not-on-hour",
        ),
        # Garbage in the timestamp.
        pytest.param(
            [TIDY, "DE,yesterdayZ,1"],
            "unparseable timestamp",
            "line 2, column timestamp",
            id="unparseable-timestamp",
        ),
        # A price that is not a number.
        pytest.param(
            [TIDY, "DE,2024-01-01T00:00Z,cheap"],
            "non-numeric price 'cheap'",
            "line 2, column price_eur_mwh",
            id="non-numeric-price",
        ),
        # The same (zone, hour) twice, written with different offsets.
        pytest.param(
            [TIDY, "DE,2024-01-01T00:00Z,1", "DE,2024-01-01T01:00+01:00,2"],
            "duplicate (zone, timestamp)",
            "line 3, column timestamp",
            id="duplicate",
        ),
        # A row without a zone.
        pytest.param(
            [TIDY, ",2024-01-01T00:00Z,1"], "empty zone", "line 2, column zone", id="zone"
        ),
        # Header only.
        pytest.param([TIDY], "header only", "line 2", id="header-only"),
        # Cut mid-row.
        pytest.param([TIDY, "DE,2024-01-01T00:00Z"], "row has 2 fields", "line 2", id="truncated"),
    ],
)
def test_tidy_format_errors(tmp_path: Path, lines: list[str], problem: str, where: str) -> None:
    with pytest.raises(RawFormatError) as info:
        read_tidy_prices(write(tmp_path, lines, "tidy.csv"))
    message = str(info.value)
    assert message.startswith("tidy.csv: ") and problem in message
    assert message.endswith(f"({where})")


def test_tidy_parquet_naive_timestamps_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "naive.parquet"
    pd.DataFrame(
        {"zone": ["DE"], "timestamp": [pd.Timestamp("2024-01-01")], "price_eur_mwh": [1.0]}
    ).to_parquet(path)
    with pytest.raises(RawFormatError, match=r"naive timestamps \(row 1, column timestamp\)"):
        read_tidy_prices(path)


def test_read_prices_dispatches_by_content(tmp_path: Path) -> None:
    entsoe = write(tmp_path, [HEADER, OK], "export.txt")
    tidy = write(tmp_path, [TIDY, "DE,2024-01-01T00:00Z,1"], "tidy.csv")
    parquet = tmp_path / "no_suffix"
    pd.DataFrame(
        {"zone": ["FR"], "timestamp": ["2024-01-01T00:00Z"], "price_eur_mwh": [2.0]}
    ).to_parquet(parquet)
    assert read_prices(entsoe).frame["zone"].tolist() == ["SE3"]
    assert read_prices(tidy).frame["zone"].tolist() == ["DE"]
    assert read_prices(parquet).frame["zone"].tolist() == ["FR"]
    unknown = write(tmp_path, ["a,b,c", "1,2,3"], "other.csv")
    with pytest.raises(RawFormatError, match=r"^other\.csv: unrecognised .*\(line 1\)$"):
        read_prices(unknown)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(RawFormatError, match=r"empty file \(line 1\)"):
        read_prices(empty)


# --- features -------------------------------------------------------------------------------


def hourly(zone: str, start: str, values: list[float], skip: tuple[int, ...] = ()) -> pd.DataFrame:
    ts = pd.date_range(start, periods=len(values), freq="h", tz="UTC")
    keep = [i not in skip for i in range(len(values))]
    return pd.DataFrame({"zone": zone, "ts": ts[keep], "price_eur_mwh": np.array(values)[keep]})


def test_features_contract_and_order() -> None:
    prices = pd.concat(
        [hourly("SE4", "2024-01-01", [1.0, 2.0]), hourly("SE1", "2024-01-01", [5.0, 5.0])]
    ).iloc[::-1]
    out = price_features(prices)
    assert tuple(out.columns) == FEATURE_COLUMNS
    assert str(out["event_timestamp"].dtype) == "datetime64[ns, UTC]"
    assert all(out[c].dtype == np.float64 for c in FEATURE_COLUMNS[2:])
    assert out["zone"].tolist() == ["SE1", "SE1", "SE4", "SE4"]
    # A flat window scales to 0.5; one value has no std; two values have ddof=1 std.
    assert out["price_scaled"].tolist() == [0.5, 0.5, 0.5, 1.0]
    assert np.isnan(out["price_std_24h"].iloc[0]) and out["price_std_24h"].iloc[1] == 0.0
    assert out["price_std_24h"].iloc[3] == pytest.approx(np.std([1.0, 2.0], ddof=1))


def test_lags_are_time_based_not_row_based() -> None:
    # Hour 1 is missing: the row 24 rows back is 25 hours back, so lag_24h must be NaN there.
    values = [float(v) for v in range(200)]
    out = price_features(hourly("SE3", "2024-01-01", values, skip=(1,)))
    at = out.set_index("event_timestamp")
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    assert np.isnan(at.loc[t0 + pd.Timedelta(hours=25), "price_lag_24h"])
    assert at.loc[t0 + pd.Timedelta(hours=24), "price_lag_24h"] == 0.0
    assert at.loc[t0 + pd.Timedelta(hours=168), "price_lag_168h"] == 0.0
    assert np.isnan(at.loc[t0 + pd.Timedelta(hours=169), "price_lag_168h"])
    # The 24h mean at hour 25 covers hours 2..25 only (hour 1 is missing): 22 values.
    assert at.loc[t0 + pd.Timedelta(hours=25), "price_mean_24h"] == pytest.approx(
        np.mean(range(2, 26))
    )
    # 168h window at hour 199: (31, 199] -> hours 32..199.
    assert at.loc[t0 + pd.Timedelta(hours=199), "price_min_168h"] == 32.0
    assert at.loc[t0 + pd.Timedelta(hours=199), "price_mean_168h"] == pytest.approx(
        np.mean(range(32, 200))
    )


def test_windows_never_cross_zones() -> None:
    a = hourly("A", "2024-01-01", [100.0] * 30)
    b = hourly("B", "2024-01-02", [1.0] * 30)  # overlaps A in time, and follows it in sort order
    out = price_features(pd.concat([a, b]))
    only_b = price_features(b)
    pd.testing.assert_frame_equal(out[out["zone"] == "B"].reset_index(drop=True), only_b)


def test_scaled_window_is_configurable() -> None:
    out = price_features(hourly("A", "2024-01-01", [0.0, 10.0, 5.0]), window_hours=2)
    # At hour 2 the window (0, 2] holds 10 and 5: 5 is the minimum.
    assert out["price_scaled"].tolist() == [0.5, 1.0, 0.0]


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        # Naive timestamps: the contract is tz-aware UTC.
        (
            pd.DataFrame(
                {"zone": ["A"], "ts": [pd.Timestamp("2024-01-01")], "price_eur_mwh": [1.0]}
            ),
            "tz-aware",
        ),
        # The lake key (zone, ts) must be unique.
        (pd.concat([hourly("A", "2024-01-01", [1.0])] * 2), "duplicate"),
        # Missing prices never enter the lake.
        (hourly("A", "2024-01-01", [np.nan]), "missing"),
        # Prices are hourly: ts must be an hour start.
        (hourly("A", "2024-01-01 00:30", [1.0]), "hour starts"),
    ],
)
def test_features_reject_bad_input(prices: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        price_features(prices)


def test_features_empty_input() -> None:
    empty = pd.DataFrame(
        {"zone": [], "ts": pd.Series([], dtype="datetime64[ns, UTC]"), "price_eur_mwh": []}
    )
    assert tuple(price_features(empty).columns) == FEATURE_COLUMNS


def test_features_are_fast_enough() -> None:
    rng = np.random.default_rng(0)
    ts = pd.date_range("2019-01-01", periods=5 * 8760, freq="h", tz="UTC")
    frames = [
        pd.DataFrame({"zone": f"Z{z}", "ts": ts, "price_eur_mwh": rng.normal(50, 30, len(ts))})
        for z in range(10)
    ]
    prices = pd.concat(frames).sample(frac=1.0, random_state=0)
    began = time.perf_counter()
    out = price_features(prices)
    elapsed = time.perf_counter() - began
    assert len(out) == 10 * 5 * 8760
    assert out["price_scaled"].between(0.0, 1.0).all()
    assert elapsed < 5.0, f"price_features took {elapsed:.2f}s for 438k rows (target ~1s)"


@st.composite
def price_series(draw: st.DrawFn) -> pd.DataFrame:
    """One or two zones of hourly prices with random gaps and repeated (flat) stretches."""
    frames = []
    for zone in draw(st.sampled_from([["A"], ["A", "B"]])):
        n = draw(st.integers(1, 400))
        present = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        if not any(present):
            present[0] = True
        pool = draw(st.lists(st.floats(-500, 4000, allow_nan=False), min_size=1, max_size=6))
        picks = draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n))
        offset = draw(st.integers(0, 48))
        ts = pd.date_range("2024-03-01", periods=n, freq="h", tz="UTC") + pd.Timedelta(hours=offset)
        values = np.array([pool[i] for i in picks])
        mask = np.array(present)
        frames.append(pd.DataFrame({"zone": zone, "ts": ts[mask], "price_eur_mwh": values[mask]}))
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prices=price_series(), data=st.data())
def test_point_in_time_correct(prices: pd.DataFrame, data: st.DataObject) -> None:
    full = price_features(prices)
    t = data.draw(st.sampled_from(sorted(prices["ts"].unique())))
    truncated = price_features(prices[prices["ts"] <= t])
    stored = full[full["event_timestamp"] == t].reset_index(drop=True)
    recomputed = truncated[truncated["event_timestamp"] == t].reset_index(drop=True)
    pd.testing.assert_frame_equal(recomputed, stored, check_exact=True)
    assert full["price_scaled"].between(0.0, 1.0).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prices=price_series(), data=st.data(), window=st.sampled_from([24, 168, 200]))
def test_incremental_window_equals_full_slice(
    prices: pd.DataFrame, data: st.DataObject, window: int
) -> None:
    first, last = prices["ts"].min(), prices["ts"].max()
    hours = int((last - first) / pd.Timedelta(hours=1)) + 2
    a, b = sorted(data.draw(st.lists(st.integers(0, hours), min_size=2, max_size=2)))
    start, end = first + pd.Timedelta(hours=a), first + pd.Timedelta(hours=b)
    full = price_features(prices, window_hours=window)
    expected = full[(full["event_timestamp"] >= start) & (full["event_timestamp"] < end)]
    got = price_features_window(prices, start, end, window_hours=window)
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_exact=True)


def test_window_requires_aware_bounds() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        price_features_window(hourly("A", "2024-01-01", [1.0]), "2024-01-01", "2024-01-02")


# --- real data ------------------------------------------------------------------------------

ZONES = ("SE1", "SE2", "SE3", "SE4")
YEARS = range(2016, 2025)
LAST_PUBLISHED = pd.Timestamp("2024-10-04 21:00", tz="UTC")  # 04.10.2024 23:00 CEST


@pytest.fixture(scope="module")
def entsoe(shared_data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    files = sorted((shared_data / "entsoe_day_ahead").glob("*.csv"))
    assert len(files) == 36
    results = [read_prices(path) for path in files]
    frame = pd.concat([r.frame for r in results], ignore_index=True)
    dropped = pd.concat([r.dropped.assign(source=r.source) for r in results], ignore_index=True)
    return frame, dropped


@pytest.mark.realdata
def test_real_entsoe_hourly_grid_is_complete(entsoe: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, _ = entsoe
    assert sorted(frame["zone"].unique()) == list(ZONES)
    for zone, rows in frame.groupby("zone"):
        ts = rows["ts"].sort_values()
        assert not ts.duplicated().any(), zone
        assert ts.iloc[0] == pd.Timestamp("2015-12-31 23:00", tz="UTC"), zone
        assert ts.iloc[-1] == LAST_PUBLISHED, zone
        # Unique and every step one hour: the grid from first to last hour has no hole.
        assert (ts.diff().iloc[1:] == pd.Timedelta(hours=1)).all(), zone


@pytest.mark.realdata
def test_real_entsoe_row_counts_and_drops(entsoe: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, dropped = entsoe
    local_year = frame["ts"].dt.tz_convert("Europe/Stockholm").dt.year
    counts = frame.groupby(["zone", local_year]).size().unstack("zone")
    expected = {y: 8784 if y in (2016, 2020) else 8760 for y in YEARS}
    expected[2024] = 6671  # 01.01 to 04.10.2024 23:00 local, leap year, minus the spring hour
    for zone in ZONES:
        assert counts[zone].to_dict() == expected, zone
    # One nonexistent spring hour per file; n/e from 05.10.2024 00:00 local to the year end.
    assert dropped["reason"].value_counts().to_dict() == {
        "not_published": 4 * 2113,
        "dst_nonexistent_hour": 36,
    }
    assert (frame["price_eur_mwh"] < 0).sum() > 1000  # negative prices are real from 2020 on


@pytest.mark.realdata
def test_real_entsoe_yearly_averages(entsoe: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, _ = entsoe
    local_year = frame["ts"].dt.tz_convert("Europe/Stockholm").dt.year.rename("year")
    table = frame.groupby([local_year, "zone"])["price_eur_mwh"].mean().unstack("zone")
    print("\nYearly average day-ahead price, EUR/MWh (2024: 01.01-04.10)")
    print(table.round(2).to_string())
    assert table.notna().all().all()
    assert ((table >= 0) & (table <= 400)).all().all()
    # The 2022 energy crisis: southern zones far above the 2020 hydro-flood lows.
    for zone in ("SE3", "SE4"):
        assert table.loc[2022, zone] > 3 * table.loc[2020, zone]
    # Congestion runs north to south: yearly averages never fall from SE1 to SE4.
    assert (table.diff(axis=1).iloc[:, 1:] >= -0.01).all().all()
    # SE1 and SE2 were one price area in practice in 2016-2018 (identical hourly prices).
    assert (table.loc[2016:2018, "SE1"] == table.loc[2016:2018, "SE2"]).all()
    # Broad ranges around the publicly reported annual averages (Nord Pool / ENTSO-E).
    assert 115 <= table.loc[2022, "SE3"] <= 145
    assert 135 <= table.loc[2022, "SE4"] <= 170
    assert 18 <= table.loc[2020, "SE3"] <= 24


@pytest.mark.realdata
def test_real_entsoe_features(entsoe: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, _ = entsoe
    began = time.perf_counter()
    full = price_features(frame)
    elapsed = time.perf_counter() - began
    assert elapsed < 5.0
    assert full["price_scaled"].between(0, 1).all()
    assert not full.duplicated(["zone", "event_timestamp"]).any()
    start = pd.Timestamp("2022-10-30", tz="UTC")  # spans the autumn DST change
    end = start + pd.Timedelta(days=7)
    window = price_features_window(frame, start, end)
    expected = full[(full["event_timestamp"] >= start) & (full["event_timestamp"] < end)]
    pd.testing.assert_frame_equal(window, expected.reset_index(drop=True), check_exact=True)
