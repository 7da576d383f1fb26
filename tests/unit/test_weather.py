"""SMHI observation reader and the weather_daily / weather_sunshine feature tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.common import RawFormatError
from features.weather import read_smhi, sunshine_features, weather_daily_features

STATION = "Stationsnamn;Stationsnummer;Stationsnät;Mäthöjd (meter över marken)"
PERIODS = (
    "Tidsperiod (fr.o.m);Tidsperiod (t.o.m);Höjd (meter över havet);"
    "Latitud (decimalgrader);Longitud (decimalgrader)"
)
SUNSHINE = "Solskenstid;summa 1 timme, 1 gång/tim;sekund"
TEMPERATURE = "Lufttemperatur;medelvärde 1 dygn, 1 gång/dygn, kl 00;celsius"
PRECIPITATION = "Nederbördsmängd;summa 1 dygn, 1 gång/dygn, kl 06;millimeter"
HOURLY = "Datum;Tid (UTC);Solskenstid;Kvalitet;;Tidsutsnitt:"
DAILY_T = "Från Datum Tid (UTC);Till Datum Tid (UTC);Representativt dygn;Lufttemperatur;Kvalitet;;"
DAILY_P = "Från Datum Tid (UTC);Till Datum Tid (UTC);Representativt dygn;Nederbördsmängd;Kvalitet"
ALWAYS = ("1950-01-01 00:00:00", "2025-03-01 15:20:20")


def smhi(
    rows: list[str],
    header: str = HOURLY,
    parameter: str = SUNSHINE,
    station: str = "Ölands norra udde Sol;77215;SMHIs stationsnät;2.0",
    periods: tuple[tuple[str, str], ...] = (ALWAYS,),
) -> str:
    """An SMHI export: metadata blocks, the table header at line 10 (one period), then rows.

    The first data row carries SMHI's free-text notes in extra columns, as the real files do.
    """
    body = [
        r + (";;Kvalitetskontrollerade historiska data" if i == 0 else "")
        for i, r in enumerate(rows)
    ]
    positions = [f"{lo};{hi};2.0;57.3673;17.0987" for lo, hi in periods]
    lines = [STATION, station, "", "Parameternamn;Beskrivning;Enhet", parameter, ""]
    lines += [PERIODS, *positions, "", header, *body]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str, name: str = "w.csv", encoding: str = "utf-8-sig") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def utc(*stamps: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(s, tz="UTC") for s in stamps]


def test_hourly_sunshine_is_stamped_at_the_end_of_the_hour(tmp_path: Path) -> None:
    rows = ["2020-06-01;01:00:00;0;G", "2020-06-01;03:00:00;1475;G", "2020-06-02;00:00:00;0;Y"]
    result = read_smhi(write(tmp_path, smhi(rows)))
    frame = result.frame
    assert list(frame.columns) == [
        "station_id",
        "parameter",
        "period_start",
        "period_end",
        "value",
        "quality",
    ]
    assert frame["station_id"].dtype == np.int64 and frame["value"].dtype == np.float64
    assert str(frame["period_end"].dtype) == "datetime64[ns, UTC]"
    assert set(frame["station_id"]) == {77215} and set(frame["parameter"]) == {"sunshine_s"}
    assert frame["period_end"].tolist() == utc(
        "2020-06-01 01:00", "2020-06-01 03:00", "2020-06-02 00:00"
    )
    assert frame["period_start"].tolist() == utc(
        "2020-06-01 00:00", "2020-06-01 02:00", "2020-06-01 23:00"
    )
    assert frame["value"].tolist() == [0.0, 1475.0, 0.0]
    assert frame["quality"].tolist() == ["G", "G", "Y"]
    assert result.dropped.empty and result.source == "w.csv"


def test_daily_temperature_period_is_the_day(tmp_path: Path) -> None:
    rows = [
        "1961-01-01 00:00:01;1961-01-02 00:00:00;1961-01-01;1.1;Y",
        "1961-01-02 00:00:01;1961-01-03 00:00:00;1961-01-02;-2.3;Y",
    ]
    frame = read_smhi(write(tmp_path, smhi(rows, DAILY_T, TEMPERATURE))).frame
    assert set(frame["parameter"]) == {"temperature_c"}
    # "Från" is written one second after the exclusive start: the period is (00:00, 24:00].
    assert frame["period_start"].tolist() == utc("1961-01-01", "1961-01-02")
    assert frame["period_end"].tolist() == utc("1961-01-02", "1961-01-03")
    assert frame["value"].tolist() == [1.1, -2.3]


def test_daily_precipitation_day_boundary_moves(tmp_path: Path) -> None:
    # Stockholm's precipitation day ended at 07:00 UTC until the series switched to 06:00.
    rows = [
        "1999-01-01 07:00:01;1999-01-02 07:00:00;1999-01-01;0.4;G",
        "1999-01-02 07:00:01;1999-01-03 06:00:00;1999-01-02;0.0;G",
        "1999-01-03 06:00:01;1999-01-04 06:00:00;1999-01-03;12.5;G",
    ]
    frame = read_smhi(write(tmp_path, smhi(rows, DAILY_P, PRECIPITATION))).frame
    assert set(frame["parameter"]) == {"precipitation_mm"}
    assert frame["period_end"].dt.hour.tolist() == [7, 6, 6]


def test_several_station_positions(tmp_path: Path) -> None:
    # Göteborg A moved several times; the id stays, rows between positions are flagged.
    periods = (
        ("1961-01-01 00:00:00", "1969-05-31 23:59:59"),
        ("1972-05-01 00:00:00", "2025-03-01 06:20:11"),
    )
    rows = [
        "1961-01-01 00:00:01;1961-01-02 00:00:00;1961-01-01;1.1;Y",
        "1970-01-01 00:00:01;1970-01-02 00:00:00;1970-01-01;1.2;Y",
        "1972-05-01 00:00:01;1972-05-02 00:00:00;1972-05-01;9.0;Y",
    ]
    text = smhi(rows, DAILY_T, TEMPERATURE, "Göteborg A;71420;SMHIs stationsnät;2.0", periods)
    result = read_smhi(write(tmp_path, text))
    assert set(result.frame["station_id"]) == {71420}
    assert result.frame["value"].tolist() == [1.1, 9.0]
    # Two position lines push the table header to line 11: the 1970 row is line 13.
    assert list(result.dropped.itertuples(index=False, name=None)) == [
        (13, "outside_station_period")
    ]


@pytest.mark.parametrize(
    ("rows", "kept", "dropped"),
    [
        # An empty value on an hour that is listed (the station reported nothing).
        pytest.param(
            ["2020-06-01;01:00:00;0;G", "2020-06-01;02:00:00;;G"],
            1,
            [(12, "missing_value")],
            id="missing-value",
        ),
        # An empty value without a quality flag either.
        pytest.param(
            ["2020-06-01;01:00:00;;", "2020-06-01;02:00:00;5;G"],
            1,
            [(11, "missing_value")],
            id="missing-value-and-flag",
        ),
        # Quality R (rejected): SMHI says it does not deliver these; if one appears, drop it.
        pytest.param(
            ["2020-06-01;01:00:00;0;G", "2020-06-01;02:00:00;3600;R"],
            1,
            [(12, "quality_rejected")],
            id="quality-rejected",
        ),
        # The same row twice (overlapping downloads concatenated): keep the first.
        pytest.param(
            ["2020-06-01;01:00:00;7;G", "2020-06-01;01:00:00;7;G", "2020-06-01;02:00:00;8;G"],
            2,
            [(12, "duplicate_row")],
            id="duplicate-row",
        ),
        # A row before the station's first listed period.
        pytest.param(
            ["1940-06-01;01:00:00;0;G", "2020-06-01;02:00:00;8;G"],
            1,
            [(11, "outside_station_period")],
            id="outside-station-period",
        ),
    ],
)
def test_dropped_rows(
    tmp_path: Path, rows: list[str], kept: int, dropped: list[tuple[int, str]]
) -> None:
    result = read_smhi(write(tmp_path, smhi(rows)))
    assert len(result.frame) == kept
    assert list(result.dropped.itertuples(index=False, name=None)) == dropped
    assert result.dropped["line"].dtype == np.int64


OK = "2020-06-01;01:00:00;0;G"
META_ONLY = smhi([]).rsplit(HOURLY, 1)[0]


@pytest.mark.parametrize(
    ("text", "problem", "where"),
    [
        # Zero bytes: an aborted download.
        pytest.param("", "empty file", "line 1", id="empty"),
        # Metadata and table header, no observations.
        pytest.param(smhi([]), "header only", "line 11", id="header-only"),
        # The table never starts (cut inside the metadata, or an error page).
        pytest.param(META_ONLY, "no table start line", "lines 1-9", id="no-table-start"),
        # A renamed time column: the times might not be UTC.
        pytest.param(
            smhi([OK], HOURLY.replace("Tid (UTC)", "Tid (lokal)")),
            "expected column 'Tid (UTC)', found 'Tid (lokal)'",
            "line 10, column 2",
            id="renamed-column",
        ),
        # The quality column is missing.
        pytest.param(
            smhi(["2020-06-01;01:00:00;0"], "Datum;Tid (UTC);Solskenstid"),
            "missing column 'Kvalitet'",
            "line 10, column 4",
            id="missing-column",
        ),
        # Value column and Parameternamn disagree: which one is it?
        pytest.param(
            smhi([OK], HOURLY.replace("Solskenstid", "Lufttemperatur")),
            "does not match Parameternamn 'Solskenstid'",
            "line 10, column 3",
            id="parameter-mismatch",
        ),
        # A parameter the lake has no name for.
        pytest.param(
            smhi([OK], parameter="Vindhastighet;medelvärde 10 min, 1 gång/tim;meter per sekund"),
            "unknown parameter 'Vindhastighet'",
            "line 5, column 1",
            id="unknown-parameter",
        ),
        # Sunshine in minutes would silently be 60x off.
        pytest.param(
            smhi([OK], parameter="Solskenstid;summa 1 timme, 1 gång/tim;minut"),
            "unit 'minut'",
            "line 5, column 3",
            id="wrong-unit",
        ),
        # Hourly point values cannot be placed as (end - 1h, end] sums.
        pytest.param(
            smhi([OK], parameter="Solskenstid;momentanvärde, 1 gång/tim;sekund"),
            "not hourly sums",
            "metadata",
            id="hourly-not-a-sum",
        ),
        # Station number missing from the metadata.
        pytest.param(
            smhi([OK], station="Ölands norra udde Sol;;SMHIs stationsnät;2.0"),
            "station number '' is not an integer",
            "line 2, column 2",
            id="no-station-number",
        ),
        # Decimal comma from a re-saved spreadsheet.
        pytest.param(
            smhi([OK, "2020-06-01;02:00:00;1,5;G"]),
            "non-numeric value '1,5'",
            "line 12, column 3",
            id="non-numeric-value",
        ),
        # Download cut inside the last row.
        pytest.param(smhi([OK, "2020-06-01;02:0"]), "row has 2 fields", "line 12", id="truncated"),
        # Cut just before the quality flag.
        pytest.param(
            smhi([OK, "2020-06-01;02:00:00;36"]), "row has 3 fields", "line 12", id="no-flag"
        ),
        # An impossible time.
        pytest.param(
            smhi([OK, "2020-06-01;25:00:00;0;G"]),
            "unparseable time '2020-06-01 25:00:00'",
            "line 12, columns 1-2",
            id="unparseable-time",
        ),
        # A quality code outside G/Y/R.
        pytest.param(
            smhi([OK, "2020-06-01;02:00:00;0;X"]),
            "unknown quality flag 'X'",
            "line 12, column 4",
            id="unknown-quality",
        ),
        # Two different values for one hour: no way to pick one.
        pytest.param(
            smhi([OK, "2020-06-01;01:00:00;60;G"]),
            "different values for the period ending 2020-06-01 01:00",
            "lines 11, 12",
            id="conflicting-duplicate",
        ),
    ],
)
def test_format_errors(tmp_path: Path, text: str, problem: str, where: str) -> None:
    with pytest.raises(RawFormatError) as info:
        read_smhi(write(tmp_path, text))
    message = str(info.value)
    assert message.startswith("w.csv: ") and problem in message
    assert message.endswith(f"({where})")
    assert "\n" not in message


def test_wrong_encoding(tmp_path: Path) -> None:
    # Re-saved as Latin-1: "Stationsnät" on line 1 is the first byte that is not UTF-8.
    with pytest.raises(RawFormatError, match=r"^w\.csv: not UTF-8 \(byte 0xe4\) \(line 1\)$"):
        read_smhi(write(tmp_path, smhi([OK]), encoding="latin-1"))


def test_crlf_and_no_bom(tmp_path: Path) -> None:
    text = smhi([OK]).replace("\n", "\r\n")
    assert read_smhi(write(tmp_path, text, encoding="utf-8")).frame["value"].tolist() == [0.0]


def obs(station: int, parameter: str, ends: list[str], values: list[float]) -> pd.DataFrame:
    end = pd.to_datetime(ends, utc=True)
    return pd.DataFrame(
        {
            "station_id": np.int64(station),
            "parameter": parameter,
            "period_start": end - pd.Timedelta(days=1),
            "period_end": end,
            "value": values,
            "quality": "G",
        }
    )


def test_weather_daily_outer_joins_parameters() -> None:
    lake = pd.concat(
        [
            obs(2, "temperature_c", ["2024-01-02 00:00"], [1.5]),
            obs(1, "precipitation_mm", ["2024-01-02 06:00"], [3.0]),
            obs(1, "temperature_c", ["2024-01-02 00:00", "2024-01-03 00:00"], [-1.0, -2.0]),
            obs(1, "sunshine_s", ["2024-01-02 12:00"], [60.0]),
        ]
    )
    out = weather_daily_features(lake)
    assert list(out.columns) == [
        "station_id",
        "event_timestamp",
        "temperature_c",
        "precipitation_mm",
    ]
    assert out["station_id"].dtype == np.int64
    assert str(out["event_timestamp"].dtype) == "datetime64[ns, UTC]"
    assert out["station_id"].tolist() == [1, 1, 1, 2]
    assert out["event_timestamp"].tolist() == utc(
        "2024-01-02 00:00", "2024-01-02 06:00", "2024-01-03 00:00", "2024-01-02 00:00"
    )
    pd.testing.assert_series_equal(
        out["temperature_c"], pd.Series([-1.0, np.nan, -2.0, 1.5], name="temperature_c")
    )
    pd.testing.assert_series_equal(
        out["precipitation_mm"], pd.Series([np.nan, 3.0, np.nan, np.nan], name="precipitation_mm")
    )


def test_weather_daily_without_one_parameter_has_nan_column() -> None:
    out = weather_daily_features(obs(1, "temperature_c", ["2024-01-02"], [1.0]))
    assert out["precipitation_mm"].isna().all() and out["precipitation_mm"].dtype == np.float64


def test_feature_tables_reject_duplicate_keys() -> None:
    twice = pd.concat([obs(1, "sunshine_s", ["2024-01-02 12:00"], [60.0])] * 2)
    with pytest.raises(ValueError, match="duplicate"):
        sunshine_features(twice)


def test_sunshine_features() -> None:
    lake = pd.concat(
        [
            obs(9, "sunshine_s", ["2024-06-01 12:00", "2024-06-01 11:00"], [3600.0, 1200.0]),
            obs(9, "temperature_c", ["2024-06-01 00:00"], [12.0]),
        ]
    )
    out = sunshine_features(lake)
    assert list(out.columns) == ["station_id", "event_timestamp", "sunshine_s"]
    assert out["event_timestamp"].tolist() == utc("2024-06-01 11:00", "2024-06-01 12:00")
    assert out["sunshine_s"].tolist() == [1200.0, 3600.0]


# --- real data ------------------------------------------------------------------------------

LONGITUDE = {77215: 17.0987, 81525: 11.0038, 99275: 19.5020}


@pytest.fixture(scope="module")
def smhi_real(shared_data: Path) -> pd.DataFrame:
    files = sorted((shared_data / "smhi_weather").glob("*.csv"))
    assert len(files) == 9
    results = [read_smhi(path) for path in files]
    # The real files have no empty values, duplicates, R flags or rows outside station periods.
    assert {r.source: r.dropped_by_reason for r in results} == {p.name: {} for p in files}
    return pd.concat([r.frame for r in results], ignore_index=True)


@pytest.mark.realdata
def test_real_smhi_files(smhi_real: pd.DataFrame) -> None:
    lake = smhi_real
    assert not lake.duplicated(["station_id", "parameter", "period_end"]).any()
    counts = lake.groupby(["station_id", "parameter"]).size().to_dict()
    assert counts == {
        (71420, "precipitation_mm"): 16011,
        (71420, "temperature_c"): 20405,
        (77215, "sunshine_s"): 144618,
        (81525, "sunshine_s"): 162198,
        (97530, "precipitation_mm"): 23727,
        (97530, "temperature_c"): 27886,
        (98210, "precipitation_mm"): 59991,
        (98210, "temperature_c"): 60346,
        (99275, "sunshine_s"): 157038,
    }
    assert set(lake["quality"]) == {"G", "Y"}
    length = lake["period_end"] - lake["period_start"]
    hourly = lake["parameter"] == "sunshine_s"
    assert (length[hourly] == pd.Timedelta(hours=1)).all()
    assert (length[~hourly] == pd.Timedelta(days=1)).all()
    ends = lake.groupby("parameter")["period_end"].apply(lambda s: set(s.dt.hour))
    assert ends["temperature_c"] == {0} and ends["precipitation_mm"] == {6, 7}
    sun = lake.loc[hourly, "value"]
    assert sun.between(0, 3600).all()
    assert lake.loc[lake["parameter"] == "temperature_c", "value"].between(-40, 40).all()
    assert lake.loc[lake["parameter"] == "precipitation_mm", "value"].between(0, 200).all()


@pytest.mark.realdata
def test_real_sunshine_time_is_the_end_of_the_hour(smhi_real: pd.DataFrame) -> None:
    sun = smhi_real[smhi_real["parameter"] == "sunshine_s"]
    # Hours that end 22:00-01:00 UTC are night in every month at 57-59°N: always 0.
    night = sun["period_end"].dt.hour.isin([22, 23, 0, 1])
    assert (sun.loc[night, "value"] == 0).all()
    # The sunshine-weighted mid-time of the (end - 1h, end] periods sits on solar noon
    # (12:00 - longitude/15 h UTC); reading the stamp as the start would put it an hour late.
    for station, rows in sun.groupby("station_id"):
        mid = (rows["period_start"] + pd.Timedelta(minutes=30)).dt
        hours = mid.hour + mid.minute / 60
        centre = float(np.average(hours, weights=rows["value"]))
        noon = 12 - LONGITUDE[int(station)] / 15
        assert abs(centre - noon) < 0.25, (station, centre, noon)


@pytest.mark.realdata
def test_real_feature_tables(smhi_real: pd.DataFrame) -> None:
    daily = weather_daily_features(smhi_real)
    assert not daily.duplicated(["station_id", "event_timestamp"]).any()
    assert daily[["temperature_c", "precipitation_mm"]].notna().any(axis=1).all()
    sunshine = sunshine_features(smhi_real)
    assert len(sunshine) == 144618 + 162198 + 157038
