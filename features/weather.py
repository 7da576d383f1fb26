"""SMHI weather observations: the raw reader and the daily and sunshine feature tables."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from features.common import ParseResult, RawFormatError

# Swedish parameter name -> (lake parameter, unit SMHI states in the metadata).
PARAMETERS: dict[str, tuple[str, str]] = {
    "Lufttemperatur": ("temperature_c", "celsius"),
    "Nederbördsmängd": ("precipitation_mm", "millimeter"),
    "Solskenstid": ("sunshine_s", "sekund"),
}
WEATHER_COLUMNS: tuple[str, ...] = (
    "station_id",
    "parameter",
    "period_start",
    "period_end",
    "value",
    "quality",
)
# G = checked and approved, Y = suspect or aggregated (kept, the flag travels with the value).
# R = rejected: SMHI says it does not deliver those, so one showing up is dropped, not trusted.
QUALITY_KEPT: frozenset[str] = frozenset({"G", "Y"})
QUALITY_REJECTED = "R"

_HOURLY_START = "Datum;"
_DAILY_START = "Från Datum"
_HOURLY_HEADER = ("Datum", "Tid (UTC)")
_DAILY_HEADER = ("Från Datum Tid (UTC)", "Till Datum Tid (UTC)", "Representativt dygn")
_QUALITY_HEADER = "Kvalitet"
_STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def _decode(path: Path, raw: bytes) -> str:
    """The file's text without BOM; an empty or non UTF-8 file is a format error."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start : exc.start + 1].hex()
        raise RawFormatError(path, f"not UTF-8 (byte 0x{byte})", f"line {line}") from exc
    if not text.strip():  # zero bytes, only a BOM, or only blank lines
        raise RawFormatError(path, "empty file", "line 1")
    return text


def read_smhi(path: Path) -> ParseResult:
    """Read one SMHI open-data observation file (one station, one parameter) into lake rows.

    Station id comes from ``Stationsnummer`` in the metadata; the parameter from the value
    column, which must agree with ``Parameternamn`` and its unit. Two table layouts:

    - hourly (``Datum;Tid (UTC);<value>;Kvalitet``): the time is the END of the hour the sum
      covers (sunshine is 0 at night and centred on solar noon only under that reading), so
      period_start = period_end - 1h;
    - daily (``Från Datum Tid (UTC);Till Datum Tid (UTC);Representativt dygn;<value>;Kvalitet``):
      ``Från`` is written one second after the exclusive start (``00:00:01``), so period_start
      is ``Från`` floored to the minute and the period is (period_start, period_end].

    Free text in trailing columns (first rows) is ignored. Several station positions in the
    metadata are one station id. Rows not kept, by ``reason`` (``line`` is the 1-based file line):
    ``missing_value`` (empty value), ``quality_rejected`` (flag R), ``duplicate_row`` (a second
    identical row for the same period end), ``outside_station_period`` (the period overlaps none
    of the station's listed periods). Raises ``RawFormatError`` for an empty file, a file that is
    not UTF-8, no table start line, a header only, missing metadata, an unknown or mismatched
    parameter or unit, wrong columns, a row with too few fields (truncated), an unparseable time,
    a non-numeric value, an unknown quality flag and two different values for one period.
    """
    path = Path(path)
    # Split on newlines only (not str.splitlines) so line numbers match what an editor shows.
    lines = _decode(path, path.read_bytes()).replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    start = next(
        (i for i, line in enumerate(lines) if line.startswith((_HOURLY_START, _DAILY_START))),
        None,
    )
    if start is None:
        raise RawFormatError(
            path, "no table start line ('Datum;' or 'Från Datum')", f"lines 1-{len(lines)}"
        )
    meta = lines[:start]
    station_id = _station_id(path, meta)
    parameter, description = _parameter(path, meta)
    periods = _station_periods(path, meta)
    hourly = lines[start].startswith(_HOURLY_START)
    value_col = _check_header(path, lines[start], start + 1, hourly, parameter)
    if hourly and "1 timme" not in description:
        raise RawFormatError(
            path, f"hourly values that are not hourly sums/means ({description!r})", "metadata"
        )

    width = value_col + 2  # the value, then the quality flag
    table, line_no = _table(path, lines, start, width)
    period_start, period_end = _periods(path, table, line_no, hourly)
    value, missing = _values(path, table[value_col], line_no, value_col + 1)
    quality = table[value_col + 1]
    reason = np.full(len(table), "", dtype=object)
    reason[missing] = "missing_value"
    rejected = (quality == QUALITY_REJECTED).to_numpy() & ~missing
    reason[rejected] = "quality_rejected"
    unknown = ~quality.isin(QUALITY_KEPT).to_numpy() & (reason == "")
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise RawFormatError(
            path,
            f"unknown quality flag {quality.iloc[i]!r}",
            f"line {line_no[i]}, column {value_col + 2}",
        )
    reason = _mark_duplicates(path, period_end, value, quality, line_no, reason)
    inside = np.zeros(len(table), dtype=bool)
    for lo, hi in periods:
        inside |= ((period_end > lo) & (period_start < hi)).to_numpy()
    reason[(reason == "") & ~inside] = "outside_station_period"

    keep = reason == ""
    frame = pd.DataFrame(
        {
            "station_id": np.full(int(keep.sum()), station_id, dtype="int64"),
            "parameter": PARAMETERS[parameter][0],
            "period_start": period_start[keep].reset_index(drop=True),
            "period_end": period_end[keep].reset_index(drop=True),
            "value": value[keep],
            "quality": quality[keep].to_numpy(dtype=object),
        }
    ).astype({"parameter": object})
    frame = frame.sort_values("period_end", kind="stable").reset_index(drop=True)
    dropped = pd.DataFrame({"line": line_no[~keep], "reason": reason[~keep].astype(object)}).astype(
        {"line": "int64"}
    )
    return ParseResult(frame=frame, dropped=dropped, source=path.name)


def _table(path: Path, lines: list[str], start: int, width: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The first ``width`` fields of every non-blank row below the header, and its line number."""
    numbers = [i + 1 for i in range(start + 1, len(lines)) if lines[i].strip()]
    if not numbers:
        raise RawFormatError(path, "header only, no data rows", f"line {start + 2}")
    body = [lines[n - 1] for n in numbers]
    fields = np.fromiter((line.count(";") + 1 for line in body), dtype="int64", count=len(body))
    short = np.flatnonzero(fields < width)
    if short.size:
        i = int(short[0])
        raise RawFormatError(
            path, f"row has {fields[i]} fields, expected {width} (truncated?)", f"line {numbers[i]}"
        )
    # Free text rides in extra columns on the first rows only: cut it off before parsing.
    for extra in np.flatnonzero(fields > width).tolist():
        body[extra] = ";".join(body[extra].split(";")[:width])
    table = pd.read_csv(
        io.StringIO("\n".join(body)),
        sep=";",
        header=None,
        names=range(width),
        dtype=str,
        keep_default_na=False,
        quoting=csv.QUOTE_NONE,
        skip_blank_lines=False,
        engine="c",
    )
    return table, np.array(numbers, dtype="int64")


def _metadata_row(path: Path, meta: list[str], key: str) -> tuple[list[str], list[str], int]:
    """The header fields starting with ``key``, the fields on the line below, and that line."""
    for i, line in enumerate(meta[:-1]):
        names = line.split(";")
        if names[0] == key:
            return names, meta[i + 1].split(";"), i + 2
    raise RawFormatError(path, f"no {key!r} block in the metadata", f"lines 1-{len(meta)}")


def _station_id(path: Path, meta: list[str]) -> int:
    names, values, line = _metadata_row(path, meta, "Stationsnamn")
    if "Stationsnummer" not in names:
        raise RawFormatError(path, "no 'Stationsnummer' in the metadata", f"line {line - 1}")
    col = names.index("Stationsnummer")
    text = values[col].strip() if col < len(values) else ""
    if not text.isdigit():
        raise RawFormatError(
            path, f"station number {text!r} is not an integer", f"line {line}, column {col + 1}"
        )
    return int(text)


def _parameter(path: Path, meta: list[str]) -> tuple[str, str]:
    """The Swedish parameter name (checked against its unit) and its description."""
    _, values, line = _metadata_row(path, meta, "Parameternamn")
    if len(values) < 3:
        raise RawFormatError(path, "parameter line needs name;description;unit", f"line {line}")
    name, description, unit = (v.strip() for v in values[:3])
    if name not in PARAMETERS:
        raise RawFormatError(path, f"unknown parameter {name!r}", f"line {line}, column 1")
    if unit != PARAMETERS[name][1]:
        raise RawFormatError(
            path,
            f"unit {unit!r} for {name}, expected {PARAMETERS[name][1]!r}",
            f"line {line}, column 3",
        )
    return name, description


def _station_periods(path: Path, meta: list[str]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The station's (from, to] periods; several when the station moved, each a position."""
    _, _, first = _metadata_row(path, meta, "Tidsperiod (fr.o.m)")
    periods: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for i in range(first - 1, len(meta)):
        if not meta[i].strip():
            break
        fields = meta[i].split(";")
        try:
            lo = pd.Timestamp(fields[0].strip(), tz="UTC")
            hi = pd.Timestamp(fields[1].strip(), tz="UTC")
        except (ValueError, IndexError) as exc:
            raise RawFormatError(path, "unparseable station period", f"line {i + 1}") from exc
        # The listed start is inclusive; the exclusive-start periods of the table begin 1s before.
        periods.append((lo - pd.Timedelta(seconds=1), hi))
    return periods


def _check_header(path: Path, header: str, line: int, hourly: bool, parameter: str) -> int:
    """Check the table header; return the 0-based index of the value column."""
    names = [n.strip() for n in header.split(";")]
    fixed = _HOURLY_HEADER if hourly else _DAILY_HEADER
    expected = [*fixed, parameter, _QUALITY_HEADER]
    for col, name in enumerate(expected):
        found = names[col] if col < len(names) else None
        if found == name:
            continue
        if col == len(fixed) and found in PARAMETERS:
            problem = f"value column {found!r} does not match Parameternamn {parameter!r}"
        elif found is None:
            problem = f"missing column {name!r}"
        else:
            problem = f"expected column {name!r}, found {found!r}"
        raise RawFormatError(path, problem, f"line {line}, column {col + 1}")
    return len(fixed)


def _periods(
    path: Path, table: pd.DataFrame, line_no: np.ndarray, hourly: bool
) -> tuple[pd.Series, pd.Series]:
    """UTC (period_start, period_end] of each row."""
    if hourly:
        end = _parse_stamps(path, table[0] + " " + table[1], line_no, "columns 1-2")
        return end - pd.Timedelta(hours=1), end
    begin = _parse_stamps(path, table[0], line_no, "column 1").dt.floor("min")
    end = _parse_stamps(path, table[1], line_no, "column 2")
    backwards = (end <= begin).to_numpy()
    if backwards.any():
        i = int(np.flatnonzero(backwards)[0])
        raise RawFormatError(path, "period ends before it starts", f"line {line_no[i]}")
    return begin, end


def _parse_stamps(path: Path, text: pd.Series, line_no: np.ndarray, where: str) -> pd.Series:
    stamps = pd.to_datetime(text, format=_STAMP_FORMAT, errors="coerce")
    bad = stamps.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RawFormatError(
            path, f"unparseable time {text.iloc[i]!r}", f"line {line_no[i]}, {where}"
        )
    return stamps.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")


def _values(
    path: Path, text: pd.Series, line_no: np.ndarray, column: int
) -> tuple[np.ndarray, np.ndarray]:
    """Float values and the mask of empty ones; anything else non-numeric is an error."""
    missing = (text == "").to_numpy()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
    bad = (np.isnan(values) & ~missing) | np.isinf(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RawFormatError(
            path, f"non-numeric value {text.iloc[i]!r}", f"line {line_no[i]}, column {column}"
        )
    return values, missing


def _mark_duplicates(
    path: Path,
    period_end: pd.Series,
    value: np.ndarray,
    quality: pd.Series,
    line_no: np.ndarray,
    reason: np.ndarray,
) -> np.ndarray:
    """Drop repeats of an identical row; two different values for one period are an error."""
    kept = reason == ""
    rows = pd.DataFrame(
        {
            "end": period_end.array[kept],
            "value": value[kept],
            "quality": quality.to_numpy(dtype=object)[kept],
        }
    )
    line_kept = line_no[kept]
    same_end = rows.duplicated("end", keep=False).to_numpy()
    if not same_end.any():
        return reason
    conflict = rows[same_end].groupby("end")[["value", "quality"]].nunique().max(axis=1) > 1
    if conflict.any():
        when = conflict[conflict].index[0]
        clash = line_kept[(rows["end"] == when).to_numpy()]
        raise RawFormatError(
            path,
            f"different values for the period ending {when:%Y-%m-%d %H:%M}",
            f"lines {', '.join(str(n) for n in clash)}",
        )
    repeat = rows.duplicated("end", keep="first").to_numpy()
    out = reason.copy()
    out[np.flatnonzero(kept)[repeat]] = "duplicate_row"
    return out


def _empty_like(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in columns.items()})


def _observations(obs: pd.DataFrame, parameters: tuple[str, ...]) -> pd.DataFrame:
    rows = obs[obs["parameter"].isin(parameters)]
    if rows.duplicated(["station_id", "parameter", "period_end"]).any():
        raise ValueError("weather has duplicate (station_id, parameter, period_end)")
    return rows


def weather_daily_features(obs: pd.DataFrame) -> pd.DataFrame:
    """``weather_daily``: temperature and precipitation per station at each period end.

    Outer join on (station_id, period_end): temperature periods end at 00:00 UTC and
    precipitation periods at 06:00/07:00 UTC, so most rows carry one value and NaN for the other.
    """
    params = ("temperature_c", "precipitation_mm")
    rows = _observations(obs, params)
    if rows.empty:
        return _empty_like(
            {
                "station_id": "int64",
                "event_timestamp": "datetime64[ns, UTC]",
                "temperature_c": "float64",
                "precipitation_mm": "float64",
            }
        )
    wide = rows.pivot(index=["station_id", "period_end"], columns="parameter", values="value")
    wide = wide.reindex(columns=list(params)).reset_index()
    wide.columns.name = None
    wide = wide.rename(columns={"period_end": "event_timestamp"})
    wide = wide.astype(
        {
            "station_id": "int64",
            "event_timestamp": "datetime64[ns, UTC]",
            "temperature_c": "float64",
            "precipitation_mm": "float64",
        }
    )
    return wide.sort_values(["station_id", "event_timestamp"]).reset_index(drop=True)


def sunshine_features(obs: pd.DataFrame) -> pd.DataFrame:
    """``weather_sunshine``: seconds of sunshine in the hour, stamped at the end of the hour."""
    rows = _observations(obs, ("sunshine_s",))
    out = pd.DataFrame(
        {
            "station_id": rows["station_id"].to_numpy(dtype="int64"),
            "event_timestamp": rows["period_end"].array,
            "sunshine_s": rows["value"].to_numpy(dtype="float64"),
        }
    ).astype({"event_timestamp": "datetime64[ns, UTC]"})
    return out.sort_values(["station_id", "event_timestamp"]).reset_index(drop=True)
