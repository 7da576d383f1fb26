"""Day-ahead electricity prices: readers (ENTSO-E export, tidy CSV/parquet) and zone features."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from features.common import ParseResult, RawFormatError, to_utc

ENTSOE_TIMEZONE = "Europe/Stockholm"
PRICE_COLUMNS: tuple[str, ...] = ("zone", "ts", "price_eur_mwh", "source")
FEATURE_COLUMNS: tuple[str, ...] = (
    "zone",
    "event_timestamp",
    "price_eur_mwh",
    "price_scaled",
    "price_lag_24h",
    "price_lag_168h",
    "price_mean_24h",
    "price_std_24h",
    "price_mean_168h",
    "price_min_168h",
    "price_max_168h",
)
TIDY_COLUMNS: tuple[str, ...] = ("zone", "timestamp", "price_eur_mwh")

_ENTSOE_HEADER = ("MTU (CET/CEST)", "Day-ahead Price [EUR/MWh]", "Currency")
_ZONE_HEADER = re.compile(r"BZN\|([A-Za-z0-9_-]+)")
_MTU = re.compile(r"(\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}) - (\d{2}\.\d{2}\.\d{4} \d{2}:\d{2})")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_UTC_OFFSET = re.compile(r"(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
# ENTSO-E writes "n/e" for a price that is not (yet) established; anything else that is not a
# number is a format change we want to hear about.
_NOT_PUBLISHED = "n/e"
_MISSING = ("", "n/a")
_CURRENCY = "EUR"
_HOUR = pd.Timedelta(hours=1)
_HOUR_NS = 3_600_000_000_000
_LONG_WINDOW_HOURS = 168
_SHORT_WINDOW_HOURS = 24


_Fail = Callable[[np.ndarray, str, str], None]


def _decode(path: Path, raw: bytes) -> str:
    """The file's text; an empty or non UTF-8 file is a format error."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start : exc.start + 1].hex()
        raise RawFormatError(path, f"not UTF-8 (byte 0x{byte})", f"line {line}") from exc
    if not text.strip():  # zero bytes, only a BOM, or only blank lines
        raise RawFormatError(path, "empty file", "line 1")
    return text


def _csv_rows(path: Path, text: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank CSV row; a broken quote is a format error."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    first_line = 1
    try:
        for fields in reader:
            if fields:  # a blank line carries no data
                rows.append((first_line, fields))
            first_line = reader.line_num + 1
    except csv.Error as exc:
        raise RawFormatError(
            path, f"malformed or truncated CSV row ({exc})", f"line {first_line}"
        ) from exc
    return rows


def _empty_prices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "zone": pd.Series([], dtype=object),
            "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
            "price_eur_mwh": pd.Series([], dtype="float64"),
            "source": pd.Series([], dtype=object),
        }
    )


def _dropped(lines: np.ndarray, reasons: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"line": np.asarray(lines, dtype="int64"), "reason": np.asarray(reasons, dtype=object)}
    )


def read_entsoe(path: Path) -> ParseResult:
    """Read one ENTSO-E Transparency "Day-ahead Prices" CSV export (one bidding zone).

    The zone comes from the header's ``BZN|<zone>`` column; ``MTU (CET/CEST)`` is the delivery
    interval in Europe/Stockholm local time and ``ts`` is its start in UTC. Rows not kept, by
    ``reason`` in ``dropped`` (``line`` is the 1-based file line):

    - ``dst_nonexistent_hour``: the spring-forward interval ``02:00 - 03:00`` that does not
      exist in local time (ENTSO-E lists it with an empty price), whatever its price.
    - ``not_published``: price ``n/e`` (not established yet, e.g. after the export date; the
      currency is then often empty), wherever it appears.
    - ``missing_value``: an empty (or ``N/A``) price on an hour that exists. It is dropped rather
      than raised because the rest of the file is sound; the hole stays visible as a gap.

    The autumn fall-back interval ``02:00 - 03:00`` appears twice: the first copy is CEST
    (00:00 UTC), the second CET (01:00 UTC). Negative prices are real and kept. Raises
    ``RawFormatError`` for: an empty file, a header only, a missing or renamed column, a row
    without all fields (e.g. a truncated last line), a non-numeric price, an unparseable
    interval, an interval that is not one hour, a duplicated hour that is not the fall-back hour,
    a third copy or a lone copy of the fall-back hour, rows out of order, a currency other than
    EUR (empty only where there is no price), and a file that is not UTF-8.
    """
    path = Path(path)
    rows = _csv_rows(path, _decode(path, path.read_bytes()))
    if not rows:
        raise RawFormatError(path, "empty file", "line 1")
    header_line, header = rows[0]
    zone = _entsoe_zone(path, header, header_line)
    data = rows[1:]
    if not data:
        raise RawFormatError(path, "header only, no data rows", f"line {header_line + 1}")

    n = len(data)
    lines = np.fromiter((line for line, _ in data), dtype="int64", count=n)
    mtu = np.empty(n, dtype=object)
    price = np.empty(n, dtype=object)
    currency = np.empty(n, dtype=object)
    for i, (line, fields) in enumerate(data):
        # Data rows have three fields although the header names four: the fourth column only
        # labels the zone. Tolerate an empty fourth field, nothing else.
        if len(fields) != 3 and not (len(fields) == 4 and fields[3] == ""):
            raise RawFormatError(
                path, f"row has {len(fields)} fields, expected 3 (truncated?)", f"line {line}"
            )
        mtu[i], price[i], currency[i] = (f.strip() for f in fields[:3])

    start_local = _entsoe_intervals(path, pd.Series(mtu), lines)
    prices, reason = _entsoe_prices(path, pd.Series(price), pd.Series(currency), lines)
    ts, nonexistent = _entsoe_localize(path, start_local, pd.Series(mtu), lines)

    reason = np.where(nonexistent, "dst_nonexistent_hour", reason)
    keep = reason == ""
    frame = pd.DataFrame(
        {
            "zone": zone,
            "ts": ts[keep].astype("datetime64[ns, UTC]").array,
            "price_eur_mwh": prices[keep].astype("float64"),
            "source": path.name,
        }
    )
    frame = frame.astype({"zone": object, "source": object}).reset_index(drop=True)
    return ParseResult(frame=frame, dropped=_dropped(lines[~keep], reason[~keep]), source=path.name)


def _entsoe_zone(path: Path, header: list[str], line: int) -> str:
    """The bidding zone from the header's ``BZN|<zone>`` column, after checking the other names."""
    names = [h.strip() for h in header]
    for col, expected in enumerate(_ENTSOE_HEADER, start=1):
        if len(names) < col:
            raise RawFormatError(path, f"missing column {expected!r}", f"line {line}, column {col}")
        if names[col - 1] != expected:
            raise RawFormatError(
                path,
                f"expected column {expected!r}, found {names[col - 1]!r}",
                f"line {line}, column {col}",
            )
    if len(names) < 4:
        raise RawFormatError(path, "missing column 'BZN|<zone>'", f"line {line}, column 4")
    match = _ZONE_HEADER.fullmatch(names[3])
    if match is None:
        raise RawFormatError(
            path, f"expected column 'BZN|<zone>', found {names[3]!r}", f"line {line}, column 4"
        )
    if len(names) > 4:
        raise RawFormatError(path, f"unexpected column {names[4]!r}", f"line {line}, column 5")
    return match.group(1)


def _entsoe_intervals(path: Path, mtu: pd.Series, lines: np.ndarray) -> pd.Series:
    """Naive local start of each one-hour delivery interval."""
    iso: list[str] = []
    for i, text in enumerate(mtu):
        match = _MTU.fullmatch(text)
        if match is None:
            raise RawFormatError(
                path, f"unparseable interval {text!r}", f"line {lines[i]}, column 1"
            )
        # dd.mm.yyyy HH:MM -> yyyy-mm-ddTHH:MM, which numpy parses (and range-checks) in C.
        iso.extend(f"{d[6:10]}-{d[3:5]}-{d[0:2]}T{d[11:16]}" for d in match.groups())
    try:
        stamps = np.array(iso, dtype="datetime64[m]")
    except ValueError:
        for i, text in enumerate(mtu):
            try:
                np.array(iso[2 * i : 2 * i + 2], dtype="datetime64[m]")
            except ValueError as exc:
                raise RawFormatError(
                    path, f"unparseable interval {text!r}", f"line {lines[i]}, column 1"
                ) from exc
        raise
    start, end = stamps[0::2], stamps[1::2]
    wrong = (end - start) != np.timedelta64(60, "m")
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise RawFormatError(
            path, f"interval {mtu.iloc[i]!r} is not one hour", f"line {lines[i]}, column 1"
        )
    return pd.Series(start.astype("datetime64[ns]"))


def _entsoe_prices(
    path: Path, price: pd.Series, currency: pd.Series, lines: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Prices as float64 (NaN where absent) and the drop reason of each row ("" = keep)."""
    lowered = price.str.lower()
    numeric = price.str.fullmatch(_NUMBER.pattern).to_numpy(dtype=bool)
    not_published = (lowered == _NOT_PUBLISHED).to_numpy()
    missing = lowered.isin(_MISSING).to_numpy()
    bad = ~(numeric | not_published | missing)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RawFormatError(
            path, f"non-numeric price {price.iloc[i]!r}", f"line {lines[i]}, column 2"
        )
    is_eur = (currency == _CURRENCY).to_numpy()
    wrong_currency = ~is_eur & (numeric | (currency != "").to_numpy())
    if wrong_currency.any():
        i = int(np.flatnonzero(wrong_currency)[0])
        found = currency.iloc[i]
        problem = "price without currency" if found == "" else f"unknown currency {found!r}"
        raise RawFormatError(path, problem, f"line {lines[i]}, column 3")
    values = pd.to_numeric(price.where(numeric), errors="coerce").to_numpy(dtype="float64")
    reason = np.full(len(price), "", dtype=object)
    reason[missing] = "missing_value"
    reason[not_published] = "not_published"
    return values, reason


def _entsoe_localize(
    path: Path, start_local: pd.Series, mtu: pd.Series, lines: np.ndarray
) -> tuple[pd.Series, np.ndarray]:
    """UTC start of each interval, and which rows name a local hour that does not exist."""
    n = len(start_local)
    as_dst = start_local.dt.tz_localize(
        ENTSOE_TIMEZONE, ambiguous=np.ones(n, dtype=bool), nonexistent="NaT"
    )
    as_std = start_local.dt.tz_localize(
        ENTSOE_TIMEZONE, ambiguous=np.zeros(n, dtype=bool), nonexistent="NaT"
    )
    nonexistent = as_dst.isna().to_numpy()
    ambiguous = (~nonexistent) & (as_dst != as_std).to_numpy()
    copy = start_local.groupby(start_local).cumcount().to_numpy()
    copies = start_local.map(start_local.value_counts()).to_numpy()

    for mask, problem in (
        (~ambiguous & (copy > 0), "duplicate hour {mtu!r} (not the DST fall-back hour)"),
        (ambiguous & (copy > 1), "third copy of the DST fall-back hour {mtu!r}"),
        (ambiguous & (copies == 1), "DST fall-back hour {mtu!r} appears once (CEST or CET?)"),
    ):
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise RawFormatError(
                path, problem.format(mtu=mtu.iloc[i]), f"line {lines[i]}, column 1"
            )
    # The first copy of the fall-back hour is summer time (CEST), the second winter time (CET).
    ts = as_dst.where(~ambiguous | (copy == 0), as_std).dt.tz_convert("UTC")
    order = ts[~nonexistent].astype("int64").to_numpy()
    backwards = np.flatnonzero(np.diff(order) <= 0)
    if backwards.size:
        i = int(np.flatnonzero(~nonexistent)[backwards[0] + 1])
        raise RawFormatError(
            path, f"interval {mtu.iloc[i]!r} out of order", f"line {lines[i]}, column 1"
        )
    return ts, nonexistent


def read_tidy_prices(path: Path) -> ParseResult:
    """Read a tidy price file (CSV or parquet): zone, timestamp, price_eur_mwh.

    ``timestamp`` must carry its offset (ISO 8601 with ``Z`` or ``+hh:mm``, or a tz-aware parquet
    column) and fall on an hour; naive timestamps are an error, never assumed UTC. An empty price
    is dropped as ``missing_value``; ``line`` is the file line for CSV and the 1-based row for
    parquet. Raises ``RawFormatError`` for an empty file, a header only, missing columns, an
    empty zone or timestamp, a naive or unparseable timestamp, one not on the hour, a
    non-numeric or infinite price and a duplicate (zone, timestamp).
    """
    path = Path(path)
    if _is_parquet(path):
        return _read_tidy_parquet(path)
    rows = _csv_rows(path, _decode(path, path.read_bytes()))
    if not rows:
        raise RawFormatError(path, "empty file", "line 1")
    header_line, header = rows[0]
    names = [h.strip() for h in header]
    for col in TIDY_COLUMNS:
        if col not in names:
            raise RawFormatError(path, f"missing column {col!r}", f"line {header_line}")
    if len(rows) == 1:
        raise RawFormatError(path, "header only, no data rows", f"line {header_line + 1}")
    for line, fields in rows[1:]:
        if len(fields) != len(names):
            raise RawFormatError(
                path,
                f"row has {len(fields)} fields, expected {len(names)} (truncated?)",
                f"line {line}",
            )
    table = pd.DataFrame([fields for _, fields in rows[1:]], columns=names, dtype=object)
    table = table[list(TIDY_COLUMNS)].apply(lambda column: column.str.strip())
    lines = np.array([line for line, _ in rows[1:]], dtype="int64")
    return _tidy_frame(path, table, lines, [f"line {line}" for line in lines])


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


def _read_tidy_parquet(path: Path) -> ParseResult:
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a broken file
        raise RawFormatError(path, f"unreadable parquet ({type(exc).__name__})", "file") from exc
    for col in TIDY_COLUMNS:
        if col not in table.columns:
            raise RawFormatError(path, f"missing column {col!r}", "schema")
    if table.empty:
        raise RawFormatError(path, "no data rows", "row 1")
    lines = np.arange(1, len(table) + 1, dtype="int64")
    table = table[list(TIDY_COLUMNS)].reset_index(drop=True)
    return _tidy_frame(path, table, lines, [f"row {row}" for row in lines])


def _tidy_frame(
    path: Path, table: pd.DataFrame, lines: np.ndarray, wheres: list[str]
) -> ParseResult:
    """Validate a tidy price table (strings from CSV, typed columns from parquet)."""

    def fail(mask: np.ndarray, problem: str, column: str) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            value = table[column].iloc[i]
            raise RawFormatError(path, problem.format(value=value), f"{wheres[i]}, column {column}")

    zone = table["zone"]
    fail((zone.isna() | (zone.astype(str) == "")).to_numpy(), "empty zone", "zone")
    ts = _tidy_timestamps(table["timestamp"], fail)
    values, missing = _tidy_prices(table["price_eur_mwh"], fail)
    duplicated = pd.DataFrame({"zone": zone.astype(str), "ts": ts}).duplicated().to_numpy()
    fail(duplicated, "duplicate (zone, timestamp) at {value!r}", "timestamp")

    keep = ~missing
    frame = pd.DataFrame(
        {
            "zone": zone.astype(str).to_numpy(dtype=object)[keep],
            "ts": ts[keep].reset_index(drop=True),
            "price_eur_mwh": values[keep],
            "source": path.name,
        }
    )
    frame = frame.astype({"source": object}).sort_values(["zone", "ts"], kind="stable")
    reasons = np.full(int(missing.sum()), "missing_value", dtype=object)
    return ParseResult(
        frame=frame.reset_index(drop=True),
        dropped=_dropped(lines[missing], reasons),
        source=path.name,
    )


def _tidy_timestamps(stamp: pd.Series, fail: _Fail) -> pd.Series:
    """UTC hour starts from offset-carrying ISO strings or a tz-aware datetime column."""
    if pd.api.types.is_datetime64_any_dtype(stamp):
        fail(
            np.full(len(stamp), getattr(stamp.dt, "tz", None) is None),
            "naive timestamps",
            "timestamp",
        )
        ts = stamp.dt.tz_convert("UTC")
        fail(ts.isna().to_numpy(), "empty timestamp", "timestamp")
    else:
        text = stamp.fillna("").astype(str)
        fail((text == "").to_numpy(), "empty timestamp", "timestamp")
        fail(~text.str.contains(_UTC_OFFSET).to_numpy(), "naive timestamp {value!r}", "timestamp")
        ts = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        fail(ts.isna().to_numpy(), "unparseable timestamp {value!r}", "timestamp")
    ts = ts.astype("datetime64[ns, UTC]")
    fail((ts.dt.floor("h") != ts).to_numpy(), "timestamp {value!r} not on the hour", "timestamp")
    return ts


def _tidy_prices(price: pd.Series, fail: _Fail) -> tuple[np.ndarray, np.ndarray]:
    """Float prices and the mask of missing ones; text must be a plain decimal number."""
    if pd.api.types.is_numeric_dtype(price):
        values = price.to_numpy(dtype="float64")
        missing = np.isnan(values)
    else:
        text = price.fillna("").astype(str)
        missing = text.str.lower().isin((*_MISSING, "nan")).to_numpy()
        numeric = text.str.fullmatch(_NUMBER.pattern).to_numpy(dtype=bool)
        fail(~(numeric | missing), "non-numeric price {value!r}", "price_eur_mwh")
        values = pd.to_numeric(text.where(numeric), errors="coerce").to_numpy(dtype="float64")
    fail(np.isinf(values), "infinite price {value!r}", "price_eur_mwh")
    return values, missing


def read_prices(path: Path) -> ParseResult:
    """Read any supported price file: parquet by magic/suffix, else ENTSO-E or tidy by header."""
    path = Path(path)
    if _is_parquet(path):
        return _read_tidy_parquet(path)
    with path.open("rb") as handle:
        head = handle.read(4096)
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").removeprefix("\ufeff")
    if not first.strip():
        return read_entsoe(path)  # raises the precise empty-file / encoding error
    if first.lstrip('"').startswith(_ENTSOE_HEADER[0]):
        return read_entsoe(path)
    names = {name.strip().strip('"') for name in first.split(",")}
    if set(TIDY_COLUMNS) <= names:
        return read_tidy_prices(path)
    raise RawFormatError(
        path, "unrecognised price file (neither an ENTSO-E export nor tidy)", "line 1"
    )


def price_features(prices: pd.DataFrame, window_hours: int = 168) -> pd.DataFrame:
    """Point-in-time price features per zone and hour (the ``zone_prices`` feature view).

    Every value at hour t uses only prices of the same zone with ts <= t. Windows are in time,
    not rows: ``price_lag_24h`` is the price at exactly t-24h (NaN if that hour is missing), the
    24h/168h statistics cover (t-24h, t] and (t-168h, t], ``price_std_24h`` has ddof=1 (NaN for
    one value) and ``price_scaled`` is the min-max position of the price in
    (t-window_hours, t], 0.5 when the window is flat. Each window is summed in a fixed order over
    an hourly grid, so a value depends only on the prices inside its window: recomputing any
    slice with enough lookback (``price_features_window``) gives identical floats.

    ``ts`` must be tz-aware, on the hour, unique per zone and every price non-missing.
    Memory is one float per hour between each zone's first and last price.
    """
    if window_hours < 1:
        raise ValueError(f"window_hours must be >= 1, got {window_hours}")
    frame = _validated_prices(prices)
    if frame.empty:
        return _empty_features()
    frame = frame.sort_values(["zone", "ts"], kind="stable").reset_index(drop=True)
    hours = frame["ts"].astype("int64").to_numpy() // _HOUR_NS
    codes = pd.factorize(frame["zone"])[0]
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    last = np.r_[first[1:], len(frame)] - 1
    # Zones sit one after the other on one hourly grid, separated by at least a long window of
    # NaN so that no window or lag reaches into the previous zone.
    pad = max(_LONG_WINDOW_HOURS, window_hours)
    span = hours[last] - hours[first] + 1
    offset = pad + np.r_[0, np.cumsum(span + pad)[:-1]]
    pos = offset[codes] + hours - hours[first][codes]
    grid = np.full(int(offset[-1] + span[-1]), np.nan)
    price = frame["price_eur_mwh"].to_numpy(dtype="float64")
    grid[pos] = price

    mean_24, std_24 = _window_mean_std(grid, _SHORT_WINDOW_HOURS)
    mean_168 = _window_mean(grid, _LONG_WINDOW_HOURS)
    series = pd.Series(grid)
    min_168 = series.rolling(_LONG_WINDOW_HOURS, min_periods=1).min().to_numpy()
    max_168 = series.rolling(_LONG_WINDOW_HOURS, min_periods=1).max().to_numpy()
    if window_hours == _LONG_WINDOW_HOURS:
        low, high = min_168[pos], max_168[pos]
    else:
        low = series.rolling(window_hours, min_periods=1).min().to_numpy()[pos]
        high = series.rolling(window_hours, min_periods=1).max().to_numpy()[pos]
    width = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(width > 0, (price - low) / width, 0.5)

    return pd.DataFrame(
        {
            "zone": frame["zone"].to_numpy(dtype=object),
            "event_timestamp": frame["ts"].array,
            "price_eur_mwh": price,
            "price_scaled": np.clip(scaled, 0.0, 1.0),
            "price_lag_24h": grid[pos - _SHORT_WINDOW_HOURS],
            "price_lag_168h": grid[pos - _LONG_WINDOW_HOURS],
            "price_mean_24h": mean_24[pos],
            "price_std_24h": std_24[pos],
            "price_mean_168h": mean_168[pos],
            "price_min_168h": min_168[pos],
            "price_max_168h": max_168[pos],
        }
    ).astype({"event_timestamp": "datetime64[ns, UTC]"})


def price_features_window(
    prices: pd.DataFrame,
    start: pd.Timestamp | datetime | str,
    end: pd.Timestamp | datetime | str,
    window_hours: int = 168,
) -> pd.DataFrame:
    """``price_features`` rows with start <= event_timestamp < end, computed from the lookback only.

    Reads prices with ts in [start - max(168h, window_hours), end): exactly what the rows need,
    so an incremental run equals the same slice of a full recomputation.
    """
    lo, hi = _utc_bound(start, "start"), _utc_bound(end, "end")
    lookback = pd.Timedelta(hours=max(_LONG_WINDOW_HOURS, window_hours))
    ts = to_utc(prices["ts"])
    subset = prices[((ts >= lo - lookback) & (ts < hi)).to_numpy()]
    features = price_features(subset, window_hours=window_hours)
    stamp = features["event_timestamp"]
    return features[((stamp >= lo) & (stamp < hi)).to_numpy()].reset_index(drop=True)


def _utc_bound(value: pd.Timestamp | datetime | str, name: str) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise ValueError(f"{name} must be tz-aware (UTC), got naive {stamp}")
    return stamp.tz_convert("UTC")


def _validated_prices(prices: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("zone", "ts", "price_eur_mwh") if c not in prices.columns]
    if missing:
        raise ValueError(f"prices lacks columns {missing}")
    if not isinstance(prices["ts"].dtype, pd.DatetimeTZDtype):
        raise ValueError(f"prices.ts must be tz-aware UTC, got {prices['ts'].dtype}")
    frame = pd.DataFrame(
        {
            "zone": prices["zone"].to_numpy(dtype=object),
            "ts": to_utc(prices["ts"]).array,
            "price_eur_mwh": prices["price_eur_mwh"].to_numpy(dtype="float64"),
        }
    ).astype({"ts": "datetime64[ns, UTC]"})
    if frame["price_eur_mwh"].isna().any() or frame["ts"].isna().any():
        raise ValueError("prices has missing ts or price_eur_mwh")
    if (frame["ts"].dt.floor("h") != frame["ts"]).any():
        raise ValueError("prices.ts must be hour starts")
    if frame.duplicated(["zone", "ts"]).any():
        raise ValueError("prices has duplicate (zone, ts)")
    return frame


def _window_sum(values: np.ndarray, hours: int) -> np.ndarray:
    """Sum over [g-hours+1, g] for every grid position g, always added in the same order."""
    total = np.zeros_like(values)
    for lag in range(hours):  # loop over the window width, vectorised over all rows
        total[lag:] += values[: len(values) - lag]
    return total


def _window_count(present: np.ndarray, hours: int) -> np.ndarray:
    running = np.r_[0, np.cumsum(present, dtype="int64")]
    upper = np.arange(1, len(present) + 1)
    return running[upper] - running[np.maximum(upper - hours, 0)]


def _window_mean(grid: np.ndarray, hours: int) -> np.ndarray:
    present = ~np.isnan(grid)
    count = _window_count(present, hours)
    total = _window_sum(np.where(present, grid, 0.0), hours)
    return np.divide(total, count, out=np.full_like(grid, np.nan), where=count > 0)


def _window_mean_std(grid: np.ndarray, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample std (ddof=1) over [g-hours+1, g], two-pass for accuracy."""
    present = ~np.isnan(grid)
    count = _window_count(present, hours)
    values = np.where(present, grid, 0.0)
    mean = np.divide(
        _window_sum(values, hours), count, out=np.full_like(grid, np.nan), where=count > 0
    )
    squares = np.zeros_like(grid)
    for lag in range(hours):
        dev = values[: len(values) - lag] - mean[lag:]
        squares[lag:] += np.where(present[: len(values) - lag], dev * dev, 0.0)
    std = np.sqrt(np.divide(squares, count - 1, out=np.full_like(grid, np.nan), where=count > 1))
    # A flat window has std exactly 0, not a rounding residue of the mean.
    series = pd.Series(grid)
    flat = (
        series.rolling(hours, min_periods=1).min().to_numpy()
        == series.rolling(hours, min_periods=1).max().to_numpy()
    )
    return mean, np.where(flat & (count > 1), 0.0, std)


def _empty_features() -> pd.DataFrame:
    columns: dict[str, pd.Series] = {
        "zone": pd.Series([], dtype=object),
        "event_timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
    }
    columns.update({c: pd.Series([], dtype="float64") for c in FEATURE_COLUMNS[2:]})
    return pd.DataFrame(columns)
