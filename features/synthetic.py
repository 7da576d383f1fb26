"""Seeded synthetic raw sources, byte for byte in the formats of the real exports.

`generate_raw(out_dir, spec)` writes the three raw sources the platform ingests, in exactly the
layout of the public files under ../shared/data, so the same readers run on both:

- `entsoe_day_ahead/<ZONE>_<YEAR>_entsoe.csv`: ENTSO-E day-ahead prices, one file per zone and
  calendar year, every local (Europe/Stockholm) hour of the year, with the export's quirks: a
  4-field header over 3-field rows, the nonexistent spring-forward hour as `"",""`, the
  fall-back hour twice (CEST, then CET), and `"n/e"` for hours outside the spec's window.
- `hotel_bookings/hotels.csv.gz`: the 32 columns of the Hotel booking demand data set, `NULL`
  and `NA` placeholders, month names, exact duplicate rows, the data set's own week numbering.
- `smhi_weather/param{2,5,10}_station_<id>.csv`: SMHI observations with the BOM, the Swedish
  metadata block and the free-text `Tidsutsnitt` column on the first rows.

Every value is a function of the seed, the date and the entity (zone, station, hotel), never of
the spec's window: a spec that differs only in start and days (a new batch) reproduces the
overlapping hours, days and bookings exactly, so batches written to different folders add up to
the data of one longer spec. Same spec, same bytes (gzip mtime 0, no dict-order effects).
"""

from __future__ import annotations

import logging
import math
import re
import struct
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

TZ = "Europe/Stockholm"
ZONES: tuple[str, ...] = ("SE1", "SE2", "SE3", "SE4")
HOTELS: tuple[str, ...] = ("Resort Hotel", "City Hotel")
DAILY_STATIONS: tuple[int, ...] = (98210, 71420, 97530)
SUNSHINE_STATIONS: tuple[int, ...] = (77215, 81525, 99275)
DEFAULT_DAYS = 2 * 365

ENTSOE_DIR = "entsoe_day_ahead"
BOOKINGS_DIR = "hotel_bookings"
SMHI_DIR = "smhi_weather"
BOOKINGS_FILE = "hotels.csv.gz"

# Independent random streams: each (stream, day, entity) has its own generator, which is what
# makes a value independent of the window it is generated in.
_S_PRICE_DAY, _S_PRICE_HOUR, _S_WEATHER_DAY, _S_STATION_DAY, _S_SUN_HOUR, _S_BOOKINGS = range(1, 7)


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate: the window [start, start + days), the entities, the volume, the seed."""

    seed: int = 0
    start: date = date(2022, 1, 1)
    days: int = DEFAULT_DAYS
    zones: tuple[str, ...] = ZONES
    hotels: tuple[str, ...] = HOTELS
    bookings_per_day: float = 60.0
    daily_stations: tuple[int, ...] = DAILY_STATIONS
    sunshine_stations: tuple[int, ...] = SUNSHINE_STATIONS

    def __post_init__(self) -> None:
        if isinstance(self.start, datetime):
            object.__setattr__(self, "start", self.start.date())
        for name in ("zones", "hotels", "daily_stations", "sunshine_stations"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.days < 1:
            raise ValueError(f"days must be >= 1, got {self.days}")
        if self.bookings_per_day < 0:
            raise ValueError(f"bookings_per_day must be >= 0, got {self.bookings_per_day}")
        _check_known("zone", self.zones, ZONES)
        _check_known("hotel", self.hotels, HOTELS)
        _check_known("daily station", self.daily_stations, DAILY_STATIONS)
        _check_known("sunshine station", self.sunshine_stations, SUNSHINE_STATIONS)

    @property
    def end(self) -> date:
        """First day after the window."""
        return self.start + timedelta(days=self.days)

    @classmethod
    def sized(cls, size: str | float) -> SyntheticSpec:
        """A named size (`tiny`, `small`, `default`) or a fraction of the default window.

        tiny: 30 days over the spring-forward day of 2024 (so the DST gap and the trailing
        `n/e` hours are in it), two zones, few bookings; for unit tests. small: 180 days over
        the 2023 fall-back day. A number (or numeric string) scales the default's length.
        """
        if isinstance(size, str) and size in _SIZES:
            return _SIZES[size]
        try:
            scale = float(size)
        except ValueError:
            raise ValueError(
                f"unknown synthetic size {size!r}: use {', '.join(_SIZES)} or a number"
            ) from None
        if not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"synthetic size must be a positive number, got {size!r}")
        return cls(days=max(1, round(DEFAULT_DAYS * scale)))


def _check_known(what: str, values: Sequence[object], known: Sequence[object]) -> None:
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}: known are {list(known)}")
    if len(set(values)) != len(values):
        raise ValueError(f"duplicate {what} in {list(values)}")


_SIZES: dict[str, SyntheticSpec] = {
    "tiny": SyntheticSpec(
        start=date(2024, 3, 18),
        days=30,
        zones=("SE3", "SE4"),
        bookings_per_day=12.0,
        daily_stations=(98210, 71420),
        sunshine_stations=(77215,),
    ),
    "small": SyntheticSpec(start=date(2023, 6, 1), days=180, bookings_per_day=30.0),
    "default": SyntheticSpec(),
}


def generate_raw(out_dir: Path, spec: SyntheticSpec) -> dict[str, list[Path]]:
    """Write every raw source of `spec` under out_dir; returns the files per source folder.

    Files this generator wrote earlier into the same folders for another spec (other years,
    zones or stations) are removed, so a folder always holds exactly one spec's data.
    """
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    written = {
        ENTSOE_DIR: _write_entsoe(out_dir / ENTSOE_DIR, spec),
        BOOKINGS_DIR: _write_bookings(out_dir / BOOKINGS_DIR, spec),
        SMHI_DIR: _write_smhi(out_dir / SMHI_DIR, spec),
    }
    for folder, files in written.items():
        _remove_stale(out_dir / folder, files)
    log.info(
        "synthetic raw data %s..%s (seed %d): %d files in %.1f s",
        spec.start,
        spec.end - timedelta(days=1),
        spec.seed,
        sum(len(f) for f in written.values()),
        time.perf_counter() - t0,
    )
    return written


_OWN_FILES = re.compile(r"(SE\d_\d{4}_entsoe\.csv|hotels\.csv\.gz|param(2|5|10)_station_\d+\.csv)")


def _remove_stale(folder: Path, keep: list[Path]) -> None:
    keep_names = {p.name for p in keep}
    for path in sorted(folder.iterdir()):
        if path.is_file() and _OWN_FILES.fullmatch(path.name) and path.name not in keep_names:
            log.info("removing stale synthetic file %s", path)
            path.unlink()


# --------------------------------------------------------------------------- random streams


def _rng(seed: int, stream: int, day: date, entity: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, day.toordinal(), entity])


def _days(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def _geometric_ma(innov: np.ndarray, phi: float, taps: int) -> np.ndarray:
    """AR(1)-like smoothing as a finite moving average over the last axis, unit variance.

    innov has `taps - 1` warm-up values in front; the result drops them. A finite filter
    (instead of a recursion) makes each output depend only on its own window of innovations,
    and element-wise accumulation keeps it bit-identical whatever the array's length.
    """
    n = innov.shape[-1] - taps + 1
    out = np.zeros((*innov.shape[:-1], n))
    weights = phi ** np.arange(taps)
    for k, w in enumerate(weights):
        out += w * innov[..., taps - 1 - k : taps - 1 - k + n]
    return out / math.sqrt(float(np.sum(weights**2)))


def _choice(u: np.ndarray, probs: Sequence[float]) -> np.ndarray:
    """Index drawn from probs by inverse CDF of the uniforms u."""
    cum = np.cumsum(np.asarray(probs, dtype=float))
    return np.minimum(np.searchsorted(cum / cum[-1], u, side="right"), len(cum) - 1)


def _choice_by(u: np.ndarray, group: np.ndarray, table: Sequence[Sequence[float]]) -> np.ndarray:
    """Like _choice, with the probability row picked by group."""
    out = np.zeros(len(u), dtype=np.int64)
    for g, probs in enumerate(table):
        m = group == g
        if m.any():
            out[m] = _choice(u[m], probs)
    return out


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _seasonal(doy: np.ndarray, peak_doy: float) -> np.ndarray:
    return np.cos(2 * np.pi * (doy - peak_doy) / 365.25)


# ---------------------------------------------------------------------------------- prices

# Mean hourly shape of a weekday (local hours), from the real SE3 2023 prices, mean 1.
_WEEKDAY_SHAPE = np.array(
    _words("35 33 32 31 33 38 48 64 72 68 63 58 54 51 50 54 59 67 70 67 59 52 44 37"), dtype=float
)
_WEEKDAY_SHAPE /= _WEEKDAY_SHAPE.mean()
_HOURLY_TAPS = 48
_DAILY_TAPS = 40


def _prices(spec: SyntheticSpec) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]]:
    """Hourly prices of all four zones on the UTC grid of the spec's local days."""
    start_utc = pd.Timestamp(spec.start).tz_localize(TZ).tz_convert("UTC")
    end_utc = pd.Timestamp(spec.end).tz_localize(TZ).tz_convert("UTC")
    grid = pd.date_range(start_utc, end_utc, freq="h", inclusive="left")
    n = len(grid)
    local = grid.tz_convert(TZ).tz_localize(None)
    hour = local.hour.to_numpy()
    weekend = local.dayofweek.to_numpy() >= 5
    doy = local.dayofyear.to_numpy().astype(float)
    day_idx = ((local.normalize() - pd.Timestamp(spec.start)).days).to_numpy()

    # Daily regime (fuel, hydro, wind) and the day's events, by local day.
    n_days = spec.days + _DAILY_TAPS - 1
    first_day = spec.start - timedelta(days=_DAILY_TAPS - 1)
    regime_innov = np.empty(n_days)
    events = np.empty((n_days, 4))
    for i, d in enumerate(_days(first_day, n_days)):
        rng = _rng(spec.seed, _S_PRICE_DAY, d)
        regime_innov[i] = rng.standard_normal()
        events[i] = rng.random(4)
    regime = _geometric_ma(regime_innov, 0.88, _DAILY_TAPS)
    events = events[_DAILY_TAPS - 1 :]

    # Hourly innovations by UTC day, four series: north noise, SE2, SE3, SE4 congestion.
    first_hour = grid[0] - pd.Timedelta(hours=_HOURLY_TAPS - 1)
    utc_days = pd.date_range(first_hour.normalize(), grid[-1].normalize(), freq="D")
    innov = np.concatenate(
        [_rng(spec.seed, _S_PRICE_HOUR, d.date()).standard_normal((4, 24)) for d in utc_days],
        axis=1,
    )
    offset = int((first_hour - utc_days[0]) / pd.Timedelta(hours=1))
    innov = innov[:, offset : offset + n + _HOURLY_TAPS - 1]
    noise = _geometric_ma(innov[:1], 0.9, _HOURLY_TAPS)[0]
    congestion = _geometric_ma(innov[1:], 0.93, _HOURLY_TAPS)

    season = 1.0 + 0.35 * _seasonal(doy, 20.0)
    level = 42.0 * season * np.exp(0.45 * regime[day_idx])
    shape = np.where(
        weekend, 0.72 * (1.0 + 0.45 * (_WEEKDAY_SHAPE[hour] - 1.0)), _WEEKDAY_SHAPE[hour]
    )
    north = level * (1.0 + 0.6 * (shape - 1.0)) + (0.08 * level + 1.5) * noise
    ev = events[day_idx]
    # Surplus days (wind, spring flood): low-demand hours go negative.
    surplus = (ev[:, 0] < 0.02 + 0.02 * (_seasonal(doy, 140.0) > 0)) & (shape < 0.95)
    north = np.where(surplus, -0.01 - 4.0 * ev[:, 1] ** 3 * (1.0 + np.abs(noise)), north)
    # In a surplus hour the interconnectors are not congested: all zones share the price.
    open_ = ~surplus
    se2 = north + open_ * np.maximum(0.0, congestion[0] - 2.05) * 0.1 * level
    se3 = se2 + open_ * np.maximum(0.0, congestion[1] + 0.4) * 0.35 * level * shape
    # Scarcity spikes in the south at the morning and evening peaks, mostly in winter.
    spike_day = ev[:, 2] < 0.012 + 0.02 * (_seasonal(doy, 20.0) > 0.5)
    peak = np.isin(hour, (7, 8, 9, 16, 17, 18, 19))
    spike = np.where(spike_day & peak, 80.0 + 300.0 * ev[:, 3] * shape, 0.0)
    se3 = se3 + spike
    se4 = se3 + open_ * np.maximum(0.0, congestion[2] - 0.52) * 0.3 * level * shape + 0.5 * spike
    values = {"SE1": north, "SE2": se2, "SE3": se3, "SE4": se4}
    # Two decimals as published; adding 0.0 turns a rounded -0.0 into 0.0.
    return grid, {z: np.round(v, 2) + 0.0 for z, v in values.items()}


_HOUR_NS = 3_600_000_000_000
_NAT = int(np.iinfo(np.int64).min)


def _year_rows(year: int) -> tuple[list[str], np.ndarray]:
    """Every MTU label of a year as the export writes them, and each row's UTC start (ns).

    One row per local wall-clock hour: the spring-forward day keeps its nonexistent 02:00 hour
    (UTC start NaT), the fall-back day has 02:00 twice, first CEST then CET.
    """
    midnights = pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="D").tz_localize(TZ)
    midnight_ns = midnights.asi8
    names = [f"{d:%d.%m.%Y}" for d in midnights]
    labels: list[str] = []
    utc: list[int] = []
    for i in range(len(midnights) - 1):
        length = (midnight_ns[i + 1] - midnight_ns[i]) // _HOUR_NS
        # Hours after midnight of each wall-clock row: 23-hour day skips 02:00, 25-hour repeats it.
        if length == 23:
            elapsed: list[int | None] = [0, 1, None, *range(2, 23)]
            walls = list(range(24))
        elif length == 25:
            elapsed, walls = list(range(25)), [0, 1, 2, *range(2, 24)]
        else:
            elapsed, walls = list(range(24)), list(range(24))
        for wall, k in zip(walls, elapsed, strict=True):
            end_day = names[i + 1] if wall == 23 else names[i]
            labels.append(f"{names[i]} {wall:02d}:00 - {end_day} {(wall + 1) % 24:02d}:00")
            utc.append(_NAT if k is None else int(midnight_ns[i]) + k * _HOUR_NS)
    return labels, np.asarray(utc, dtype=np.int64)


def _entsoe_years(spec: SyntheticSpec) -> list[int]:
    return list(range(spec.start.year, (spec.end - timedelta(days=1)).year + 1))


def _write_entsoe(folder: Path, spec: SyntheticSpec) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    grid, prices = _prices(spec)
    t0 = grid.asi8[0]
    # The export carries "EUR" on the n/e rows up to the end of the UTC day of the last
    # published hour (the real 2024 files: two rows in summer), "" after that.
    last = grid[-1]
    currency_until = (last.normalize() + pd.Timedelta(days=1)).value
    paths = []
    for year in _entsoe_years(spec):
        labels, utc = _year_rows(year)
        nat = utc == _NAT
        pos = np.where(nat, -1, (utc - t0) // _HOUR_NS)
        inside = ~nat & (pos >= 0) & (pos < len(grid))
        after = ~nat & (pos >= len(grid))
        ne_currency = np.where(after & (utc < currency_until), '"EUR"', '""')
        for zone in spec.zones:
            values = prices[zone]
            lines = [f'"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]","Currency","BZN|{zone}"']
            for i, label in enumerate(labels):
                if nat[i]:
                    lines.append(f'"{label}","",""')
                elif inside[i]:
                    lines.append(f'"{label}","{values[pos[i]]:.2f}","EUR"')
                else:
                    lines.append(f'"{label}","n/e",{ne_currency[i]}')
            path = folder / f"{zone}_{year}_entsoe.csv"
            path.write_bytes(("\n".join(lines) + "\n").encode("ascii"))
            paths.append(path)
    return paths


# ---------------------------------------------------------------------------------- SMHI


@dataclass(frozen=True)
class _Station:
    name: str
    elevation: str  # metres above sea level, as SMHI writes it
    lat: str
    lon: str
    temp_mean: float = 8.0
    temp_amp: float = 9.0
    wet_bias: float = 0.0


_STATIONS: dict[int, _Station] = {
    98210: _Station("Stockholm-Observatoriekullen", "43.133", "59.3417", "18.0549", 8.3, 9.5),
    71420: _Station("Göteborg A", "3.038", "57.7156", "11.9924", 9.6, 8.2, 0.35),
    97530: _Station("Uppsala Flygplats", "20.6", "59.9000", "17.5930", 7.0, 10.5),
    77215: _Station("Ölands norra udde Sol", "2.0", "57.3673", "17.0987"),
    81525: _Station("Nordkoster Sol", "34.025", "58.8920", "11.0038"),
    99275: _Station("Svenska Högarna Sol", "11.688", "59.4422", "19.5020"),
}


@dataclass(frozen=True)
class _Param:
    description: str  # the Parameternamn line
    table_header: str
    aggregation: str  # the fourth line of the Tidsutsnitt text


_PARAMS: dict[int, _Param] = {
    2: _Param(
        "Lufttemperatur;medelvärde 1 dygn, 1 gång/dygn, kl 00;celsius",
        "Från Datum Tid (UTC);Till Datum Tid (UTC);Representativt dygn;Lufttemperatur;"
        "Kvalitet;;Tidsutsnitt:",
        "Medelvärdet är beräknat för = 24 timmar",
    ),
    5: _Param(
        "Nederbördsmängd;summa 1 dygn, 1 gång/dygn, kl 06;millimeter",
        "Från Datum Tid (UTC);Till Datum Tid (UTC);Representativt dygn;Nederbördsmängd;"
        "Kvalitet;;Tidsutsnitt:",
        "Värdet är summerat över = 24 timmar",
    ),
    10: _Param(
        "Solskenstid;summa 1 timme, 1 gång/tim;sekund",
        "Datum;Tid (UTC);Solskenstid;Kvalitet;;Tidsutsnitt:",
        "Samplingstid = 1 timme",
    ),
}

# The free text SMHI writes beside the first data rows; {from} and {to} are the period.
_TIDSUTSNITT: tuple[str, ...] = (
    "Kvalitetskontrollerade historiska data (utom de senaste 3 mån)",
    "Tidsperiod (fr.o.m.) = {from} (UTC)",
    "Tidsperiod (t.o.m.) = {to} (UTC)",
    "{aggregation}",
    "",
    "Kvalitetskoderna:",
    "Grön (G) = Kontrollerade och godkända värden.",
    "Gul (Y) = Misstänkta eller aggregerade värden. Grovt kontrollerade arkivdata och "
    "okontrollerade realtidsdata (senaste 2 tim).",
    "",
    "Nätinformation:",
    "SMHIs Stationsnät: Data samlas in och lagras i SMHIs databaser. Data kvalitetskontrolleras "
    "vilket innebär att felaktiga data korrigeras och att databortfall kompletteras utifrån "
    "expertbedömning där det är möjligt. De flesta stationerna övervakas, inspekteras och "
    "underhålls löpande av SMHI.",
    "Övriga stationer: Data samlas in och lagras i SMHIs databaser. Datakvaliteten är för SMHI "
    "okänd då SMHI varken utför kvalitetskontroll på data eller inspektioner på stationerna.",
    "",
    "Möjliga orsaker till saknade data:",
    "\u2013 stationen eller givaren har varit ur funktion.",
    "\u2013 stationen har endast levererat värden med kvalitetskod Röd (R). Dessa levereras ej.",
)


def _smhi_text(station_id: int, param: _Param, spec: SyntheticSpec, rows: list[str]) -> bytes:
    st = _STATIONS[station_id]
    period_from = f"{spec.start} 00:00:00"
    period_to = f"{spec.end} 23:59:59"
    head = [
        "\ufeffStationsnamn;Stationsnummer;Stationsnät;Mäthöjd (meter över marken)",
        f"{st.name};{station_id};SMHIs stationsnät;2.0",
        "",
        "Parameternamn;Beskrivning;Enhet",
        param.description,
        "",
        "Tidsperiod (fr.o.m);Tidsperiod (t.o.m);Höjd (meter över havet);Latitud (decimalgrader);"
        "Longitud (decimalgrader)",
        f"{period_from};{period_to};{st.elevation};{st.lat};{st.lon}",
        "",
        param.table_header,
    ]
    notes = [
        line.replace("{from}", period_from)
        .replace("{to}", period_to)
        .replace("{aggregation}", param.aggregation)
        for line in _TIDSUTSNITT
    ]
    body = [f"{row};;{note}" for row, note in zip(rows, notes, strict=False)]
    body += rows[len(body) :]
    return ("\n".join(head + body) + "\n").encode("utf-8")


_WEATHER_TAPS = 30


def _regional_weather(spec: SyntheticSpec) -> tuple[np.ndarray, np.ndarray]:
    """Daily temperature anomaly and cloudiness shared by all stations (unit variance)."""
    taps = _WEATHER_TAPS
    first = spec.start - timedelta(days=taps - 1)
    innov = np.array(
        [
            _rng(spec.seed, _S_WEATHER_DAY, d).standard_normal(2)
            for d in _days(first, spec.days + taps - 1)
        ]
    ).T
    return _geometric_ma(innov[0], 0.8, taps), _geometric_ma(innov[1], 0.5, taps)


def _daily_weather(spec: SyntheticSpec) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per station: daily mean temperature, precipitation and precipitation quality draw."""
    taps = _WEATHER_TAPS
    n = spec.days + taps - 1
    first = spec.start - timedelta(days=taps - 1)
    temp_anom, wet_latent = _regional_weather(spec)
    doy = np.array([d.timetuple().tm_yday for d in _days(spec.start, spec.days)], dtype=float)
    out = {}
    for sid in spec.daily_stations:
        st = _STATIONS[sid]
        local = np.empty((n, 2))
        amount = np.empty(spec.days)
        quality_u = np.empty(spec.days)
        for i, d in enumerate(_days(first, n)):
            rng = _rng(spec.seed, _S_STATION_DAY, d, sid)
            local[i] = rng.standard_normal(2)
            if i >= taps - 1:
                amount[i - taps + 1] = rng.gamma(0.75, 5.0)
                quality_u[i - taps + 1] = rng.random()
        local_anom = _geometric_ma(local[:, :1].T, 0.6, taps)[0]
        temp = (
            st.temp_mean + st.temp_amp * _seasonal(doy, 200.0) + 2.7 * temp_anom + 1.0 * local_anom
        )
        wet = 0.85 * wet_latent + 0.5 * local[taps - 1 :, 1] + st.wet_bias > 0.15
        precip = np.where(wet, np.round(amount * (1.0 + 0.3 * _seasonal(doy, 220.0)), 1), 0.0)
        out[sid] = (np.round(temp, 1), precip, quality_u)
    return out


def _sun_fraction(hours_utc: pd.DatetimeIndex, lat: float, lon: float) -> np.ndarray:
    """Fraction of each hour [t, t+1h) with the sun more than 1 degree above the horizon."""
    steps = 12
    minutes = (np.arange(steps) + 0.5) * 60.0 / steps
    doy = hours_utc.dayofyear.to_numpy()[:, None].astype(float)
    minute_of_day = hours_utc.hour.to_numpy()[:, None] * 60.0 + minutes[None, :]
    g = 2 * np.pi / 365.0 * (doy - 1 + (minute_of_day / 60.0 - 12) / 24)
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * np.cos(g)
        - 0.032077 * np.sin(g)
        - 0.014615 * np.cos(2 * g)
        - 0.040849 * np.sin(2 * g)
    )
    decl = (
        0.006918
        - 0.399912 * np.cos(g)
        + 0.070257 * np.sin(g)
        - 0.006758 * np.cos(2 * g)
        + 0.000907 * np.sin(2 * g)
        - 0.002697 * np.cos(3 * g)
        + 0.00148 * np.sin(3 * g)
    )
    hour_angle = np.radians((minute_of_day + eqtime + 4.0 * lon) / 4.0 - 180.0)
    phi = np.radians(lat)
    sin_elev = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    return np.asarray((sin_elev > math.sin(math.radians(1.0))).mean(axis=1))


def _sunshine(spec: SyntheticSpec) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per station: seconds of sunshine in each UTC hour of the window, and its Y flag."""
    hours = pd.date_range(
        pd.Timestamp(spec.start), pd.Timestamp(spec.end), freq="h", inclusive="left"
    )
    _, cloudiness = _regional_weather(spec)
    doy = hours.dayofyear.to_numpy().astype(float)
    day_idx = np.repeat(np.arange(spec.days), 24)
    out = {}
    for sid in spec.sunshine_stations:
        st = _STATIONS[sid]
        possible = _sun_fraction(hours, float(st.lat), float(st.lon))
        # One day of warm-up in front: the hourly clouds of midnight depend on the evening.
        draws = np.concatenate(
            [
                _rng(spec.seed, _S_SUN_HOUR, d, sid).standard_normal((2, 24))
                for d in _days(spec.start - timedelta(days=1), spec.days + 1)
            ],
            axis=1,
        )[:, 24 - 5 :]
        hourly = _geometric_ma(draws[0], 0.6, 6)
        flagged = draws[1, 5:] > 2.9  # about 0.2 % of the hours are flagged Y
        # Wet days are cloudy: the same regional latent drives precipitation and sunshine.
        clear = -0.3 + 0.9 * _seasonal(doy, 160.0) - 0.9 * cloudiness[day_idx] + 0.9 * hourly
        frac = np.clip(0.5 + 0.8 * clear, 0.0, 1.0)
        out[sid] = (np.round(3600.0 * possible * frac).astype(np.int64), flagged)
    return out


def _write_smhi(folder: Path, spec: SyntheticSpec) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    days = _days(spec.start, spec.days)
    iso = [d.isoformat() for d in days]
    iso_next = [(d + timedelta(days=1)).isoformat() for d in days]
    for sid, (temp, precip, quality_u) in _daily_weather(spec).items():
        rows = [
            f"{a} 00:00:01;{b} 00:00:00;{a};{t:.1f};Y"
            for a, b, t in zip(iso, iso_next, temp, strict=True)
        ]
        paths.append(
            _write(folder / f"param2_station_{sid}.csv", _smhi_text(sid, _PARAMS[2], spec, rows))
        )
        qual = np.where(quality_u < 0.015, "Y", "G")
        rows = [
            f"{a} 06:00:01;{b} 06:00:00;{a};{p:.1f};{q}"
            for a, b, p, q in zip(iso, iso_next, precip, qual, strict=True)
        ]
        paths.append(
            _write(folder / f"param5_station_{sid}.csv", _smhi_text(sid, _PARAMS[5], spec, rows))
        )
    sun = _sunshine(spec)
    # A row is stamped with the end of its hour: 01:00:00 holds 00:00-01:00 UTC.
    stamps = [
        stamp
        for day, next_day in zip(iso, iso_next, strict=True)
        for stamp in (*(f"{day};{h:02d}:00:00" for h in range(1, 24)), f"{next_day};00:00:00")
    ]
    for sid, (seconds, flagged) in sun.items():
        qual = np.where(flagged, "Y", "G")
        rows = [f"{s};{v};{q}" for s, v, q in zip(stamps, seconds, qual, strict=True)]
        paths.append(
            _write(folder / f"param10_station_{sid}.csv", _smhi_text(sid, _PARAMS[10], spec, rows))
        )
    return paths


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -------------------------------------------------------------------------------- bookings


_MONTHS = _words(
    "January February March April May June July August September October November December"
)
BOOKING_COLUMNS: tuple[str, ...] = _words(
    """hotel is_canceled lead_time arrival_date_year arrival_date_month arrival_date_week_number
    arrival_date_day_of_month stays_in_weekend_nights stays_in_week_nights adults children babies
    meal country market_segment distribution_channel is_repeated_guest previous_cancellations
    previous_bookings_not_canceled reserved_room_type assigned_room_type booking_changes
    deposit_type agent company days_in_waiting_list customer_type adr required_car_parking_spaces
    total_of_special_requests reservation_status reservation_status_date"""
)


def _counts(text: str) -> tuple[tuple[str, int], ...]:
    """`"A:3 B:1"` -> (("A", 3), ("B", 1)): long frequency tables stay readable."""
    pairs = (item.split(":") for item in text.split())
    return tuple((key, int(count)) for key, count in pairs)


# Distributions fitted by eye to the real file; per hotel rows are (Resort Hotel, City Hotel).
_HOTEL_SHARE = (0.34, 0.66)
_HOTEL_SEASON_AMP = (0.45, 0.3)  # arrivals peak in August
_SEGMENTS = (
    "Online TA",
    "Offline TA/TO",
    "Groups",
    "Direct",
    "Corporate",
    "Complementary",
    "Aviation",
)
# Share of rows per segment. A multi-room booking is written as 2 + geometric(0.45) identical
# rows, which is where the data set's exact duplicates come from.
_SEGMENT_ROWS = (
    (0.44, 0.19, 0.14, 0.17, 0.0549, 0.0051, 0.0),
    (0.48, 0.21, 0.17, 0.08, 0.04, 0.006, 0.003),
)
_SEGMENT_MULTI_ROOM = (0.08, 0.25, 0.45, 0.08, 0.15, 0.05, 0.05)
_EXTRA_ROOMS_P = 0.45
_SEGMENT_ROOMS = 1.0 + np.asarray(_SEGMENT_MULTI_ROOM) * (
    1.0 + (1 - _EXTRA_ROOMS_P) / _EXTRA_ROOMS_P
)
# Share of booking units per segment, so that the rows come out as _SEGMENT_ROWS.
_SEGMENT_P = tuple(tuple(np.asarray(rows) / _SEGMENT_ROOMS) for rows in _SEGMENT_ROWS)
_SEGMENT_LEAD = (83.0, 135.0, 187.0, 50.0, 22.0, 13.0, 4.0)  # mean lead time in days
_SEGMENT_REPEATED = (0.005, 0.005, 0.01, 0.1, 0.25, 0.3, 0.1)
_CHANNELS = ("TA/TO", "Direct", "Corporate", "GDS")
_SEGMENT_CHANNEL = (
    (0.994, 0.002, 0.001, 0.003),
    (0.989, 0.0, 0.009, 0.002),
    (0.863, 0.075, 0.062, 0.0),
    (0.019, 0.975, 0.006, 0.0),
    (0.063, 0.033, 0.904, 0.0),
    (0.105, 0.775, 0.12, 0.0),
    (0.04, 0.0, 0.96, 0.0),
)
_DEPOSITS = ("No Deposit", "Non Refund", "Refundable")
_SEGMENT_DEPOSIT = (
    (0.9987, 0.001, 0.0003),
    (0.7897, 0.21, 0.0003),
    (0.5335, 0.46, 0.0065),
    (0.9982, 0.0015, 0.0003),
    (0.9367, 0.063, 0.0003),
    (1.0, 0.0, 0.0),
    (1.0, 0.0, 0.0),
)
_CUSTOMER_TYPES = ("Transient", "Transient-Party", "Contract", "Group")
_SEGMENT_CUSTOMER = (
    (0.9, 0.07, 0.03, 0.0),
    (0.53, 0.35, 0.12, 0.0),
    (0.18, 0.75, 0.05, 0.02),
    (0.87, 0.1, 0.0, 0.03),
    (0.6, 0.4, 0.0, 0.0),
    (0.95, 0.05, 0.0, 0.0),
    (0.92, 0.08, 0.0, 0.0),
)
_SEGMENT_NO_AGENT = (0.006, 0.016, 0.21, 0.48, 0.87, 0.86, 0.9)
_SEGMENT_COMPANY = (0.002, 0.004, 0.07, 0.016, 0.84, 0.42, 0.9)
_AGENTS = (
    _counts("240:13905 250:2869 241:1721 40:1002 314:927 242:779 6:607 243:514 171:407 96:337"),
    _counts(
        "9:31955 1:7137 14:3640 7:3539 6:2683 28:1666 8:1514 3:1308 19:1061 21:875 229:786 "
        "83:696 29:683"
    ),
)
_COMPANIES = (
    _counts("223:784 281:138 154:133 405:100 94:87 331:61"),
    _counts("40:924 67:267 45:250 153:215 219:141 51:99 169:65"),
)
_MEALS = ("BB", "HB", "SC", "FB", "Undefined")
_HOTEL_MEAL = ((0.749, 0.201, 0.002, 0.019, 0.029), (0.785, 0.081, 0.1334, 0.0006, 0.0))
_ROOMS = "ABCDEFGHLP"
_HOTEL_ROOM = (
    (0.584, 0.0001, 0.023, 0.186, 0.124, 0.0276, 0.0402, 0.015, 0.00015, 0.00005),
    (0.789, 0.014, 0.0002, 0.148, 0.0196, 0.0226, 0.0061, 0.0, 0.0, 0.0001),
)
_ROOM_PRICE = (1.0, 1.0, 1.2, 1.15, 1.3, 1.6, 1.8, 1.7, 1.5, 1.0)
_UPGRADE_ROOMS = "ABCDEFGHIK"
_UPGRADE_P = (0.02, 0.08, 0.14, 0.3, 0.15, 0.1, 0.06, 0.03, 0.06, 0.06)
# Nights 0..14 per hotel; the resort sells weeks.
_HOTEL_NIGHTS = (
    (0.01, 0.18, 0.13, 0.12, 0.13, 0.08, 0.05, 0.17, 0.03, 0.02, 0.04, 0.02, 0.01, 0.01, 0.03),
    (0.005, 0.24, 0.28, 0.25, 0.12, 0.05, 0.02, 0.02, 0.006, 0.003, 0.003, 0.001, 0.001, 0, 0.001),
)
_ADR_BY_MONTH = (
    (49, 55, 57, 78, 77, 110, 150, 187, 93, 62, 48, 69),
    (83, 86, 92, 111, 121, 118, 116, 115, 110, 100, 88, 89),
)
_ADULTS = ((0, 0.0035), (1, 0.19), (2, 0.751), (3, 0.052), (4, 0.0005))
_CHILDREN = ((0, 0.928), (1, 0.04), (2, 0.031), (3, 0.001))
_BABIES = ((0, 0.9922), (1, 0.0075), (2, 0.0003))
_CHANGES = ((0, 0.85), (1, 0.106), (2, 0.032), (3, 0.008), (4, 0.003), (5, 0.001))
_REQUESTS = ((0, 0.59), (1, 0.278), (2, 0.108), (3, 0.021), (4, 0.0028), (5, 0.0002))
# Home countries with the real file's counts: ISO 3166-1 alpha-3, plus the data set's stray
# two-letter "CN" beside "CHN". NULL is drawn separately (mostly at the resort).
_COUNTRIES = _counts(
    """PRT:48590 GBR:12129 FRA:10415 ESP:8568 DEU:7287 ITA:3766 IRL:3375 BEL:2342 BRA:2224
    NLD:2104 USA:2097 CHE:1730 CN:1279 AUT:1263 SWE:1024 CHN:999 POL:919 ISR:669 RUS:632 NOR:607
    ROU:500 FIN:447 DNK:435 AUS:426 AGO:362 LUX:287 MAR:259 TUR:248 HUN:230 ARG:214 JPN:197
    CZE:171 IND:152 KOR:133 GRC:128 DZA:103 SRB:101 HRV:100 MEX:85 IRN:83 EST:83 LTU:81 ZAF:80
    BGR:75 NZL:74 COL:71 UKR:68 MOZ:67 CHL:65 SVK:65 THA:59 SVN:57 ISL:57 LVA:55 CYP:51 TWN:51
    ARE:51 SAU:48 PHL:40 TUN:39 SGP:39 IDN:35 NGA:34 URY:32 EGY:32 PER:29 MYS:28 ECU:27 LBN:27
    VEN:26 BLR:26 CPV:24 GEO:22 JOR:21 KAZ:19 QAT:15"""
)
_NULL_COUNTRY = (0.0116, 0.0003)
# Log-odds of a cancellation: the signal a cancellation model can learn.
_CANCEL: dict[str, float | tuple[float, ...]] = {
    "base": -3.0,
    "lead": 0.7,  # per log(1 + lead_time / 7 days)
    "segment": (0.45, 0.0, 0.3, -0.5, -0.3, -1.0, -0.2),
    "city": 0.35,
    "deposit": (0.0, 4.5, -0.3),  # Non Refund bookings are nearly all cancelled, as in the data
    "previous_cancellation": 2.2,
    "repeated": -1.0,
    "request": -0.45,  # per special request
    "customer": (0.3, 0.0, 0.0, -1.0),
}
_NA_CHILDREN = 0.0005


def _weekend_nights(arrival: np.ndarray, nights: np.ndarray) -> np.ndarray:
    """Nights spent from a Saturday or a Sunday (the data set's definition)."""
    weekday = (arrival.astype("datetime64[D]").view("int64") - 4) % 7  # 1970-01-01 was a Thursday
    out = np.zeros(len(nights), dtype=np.int64)
    for k in range(int(nights.max(initial=0))):
        out += (k < nights) & np.isin((weekday + k) % 7, (5, 6))
    return out


def _week_number(arrival: pd.DatetimeIndex) -> np.ndarray:
    """The data set's arrival_date_week_number: week 1 holds 1 January, weeks start on Sunday.

    Not ISO 8601: it disagrees with ISO weeks for about half of the real rows.
    """
    jan1 = pd.DatetimeIndex(pd.to_datetime(arrival.year.astype(str) + "-01-01"))
    jan1_sunday_based = (jan1.dayofweek.to_numpy() + 1) % 7
    return np.asarray((arrival.dayofyear.to_numpy() - 1 + jan1_sunday_based) // 7 + 1)


def _lookup(u: np.ndarray, pairs: Sequence[tuple[object, float]]) -> np.ndarray:
    values = np.array([v for v, _ in pairs])
    return values[_choice(u, [p for _, p in pairs])]


_N_UNIFORMS = 36


def _booking_units(spec: SyntheticSpec, hotel: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrival day index, uniforms and gamma draws of each booking unit of one hotel."""
    h = HOTELS.index(hotel)
    total_share = sum(_HOTEL_SHARE[HOTELS.index(x)] for x in spec.hotels)
    # Rows per unit: a multi-room unit becomes 2 + geometric identical rows (duplicates).
    seg_p = np.asarray(_SEGMENT_P[h]) / sum(_SEGMENT_P[h])
    rows_per_unit = float(np.dot(seg_p, _SEGMENT_ROOMS))
    day_list, u_list, g_list = [], [], []
    for i, d in enumerate(_days(spec.start, spec.days)):
        season = 1.0 + _HOTEL_SEASON_AMP[h] * math.cos(
            2 * math.pi * (d.timetuple().tm_yday - 215) / 365.25
        )
        mu = spec.bookings_per_day * _HOTEL_SHARE[h] / total_share * season / rows_per_unit
        rng = _rng(spec.seed, _S_BOOKINGS, d, h)
        n = int(rng.poisson(mu))
        u_list.append(rng.random((n, _N_UNIFORMS)))
        g_list.append(rng.gamma(0.85, 1.0 / 0.85, size=(n, 2)))
        day_list.append(np.full(n, i, dtype=np.int64))
    return np.concatenate(day_list), np.concatenate(u_list), np.concatenate(g_list)


def _bookings_frame(spec: SyntheticSpec) -> list[list[str]]:
    """The booking rows as the columns of strings, hotel by hotel, in arrival order."""
    columns: list[list[str]] = [[] for _ in BOOKING_COLUMNS]
    for hotel in spec.hotels:
        for i, col in enumerate(_hotel_bookings(spec, hotel)):
            columns[i].extend(col)
    return columns


def _hotel_bookings(spec: SyntheticSpec, hotel: str) -> list[list[str]]:
    h = HOTELS.index(hotel)
    day, u, g = _booking_units(spec, hotel)
    n = len(day)
    start = np.datetime64(spec.start.isoformat(), "D")
    arrival = start + day.astype("timedelta64[D]")
    arr_idx = pd.DatetimeIndex(arrival.astype("datetime64[ns]"))
    month = arr_idx.month.to_numpy()

    seg = _choice(u[:, 0], _SEGMENT_P[h])
    channel = _choice_by(u[:, 1], seg, _SEGMENT_CHANNEL)
    lead = np.minimum(np.floor(g[:, 0] * np.asarray(_SEGMENT_LEAD)[seg]), 737).astype(np.int64)
    nights = _choice(u[:, 2], _HOTEL_NIGHTS[h])
    weekend = _weekend_nights(arrival, nights)
    adults = _lookup(u[:, 3], _ADULTS)
    children = _lookup(u[:, 4], _CHILDREN)
    babies = _lookup(u[:, 5], _BABIES)
    meal = _choice(u[:, 6], _HOTEL_MEAL[h])
    country = _choice(u[:, 7], [c for _, c in _COUNTRIES])
    no_country = u[:, 8] < _NULL_COUNTRY[h]
    repeated = u[:, 9] < np.asarray(_SEGMENT_REPEATED)[seg]
    prev_ok = np.where(
        repeated,
        np.where(u[:, 10] < 0.75, 1 + np.floor(-np.log(u[:, 11]) * 3.0), 0),
        (u[:, 10] < 0.007).astype(np.int64),
    ).astype(np.int64)
    prev_cancel = np.where(u[:, 12] < np.where(repeated, 0.1, 0.05), 1 + (u[:, 13] < 0.05), 0)
    room = _choice(u[:, 14], _HOTEL_ROOM[h])
    deposit = _choice_by(u[:, 15], seg, _SEGMENT_DEPOSIT)
    customer = _choice_by(u[:, 16], seg, _SEGMENT_CUSTOMER)
    requests = _lookup(u[:, 17], _REQUESTS)
    has_agent = u[:, 18] >= np.asarray(_SEGMENT_NO_AGENT)[seg]
    agent_ids = np.array([int(a) for a, _ in _AGENTS[h]])
    agent = agent_ids[_choice(u[:, 19], [w for _, w in _AGENTS[h]])]
    has_company = u[:, 20] < np.asarray(_SEGMENT_COMPANY)[seg]
    company_ids = np.array([int(c) for c, _ in _COMPANIES[h]])
    company = company_ids[_choice(u[:, 21], [w for _, w in _COMPANIES[h]])]
    waiting = np.where(
        u[:, 22] < (0.006, 0.043)[h], np.floor(np.exp(u[:, 23] * math.log(120.0))), 0
    ).astype(np.int64)
    complementary = seg == _SEGMENTS.index("Complementary")
    room_price = np.asarray(_ROOM_PRICE) / np.dot(_HOTEL_ROOM[h], _ROOM_PRICE)
    adr = (
        np.asarray(_ADR_BY_MONTH[h], dtype=float)[month - 1]
        * room_price[room]
        * np.exp(0.25 * (g[:, 1] - 1.0) / math.sqrt(1.0 / 0.85))
    )
    adr = np.where(complementary, 0.0, adr)

    # Cancellation: what a model should find (lead time, deposit, segment, history, requests).
    c = _CANCEL
    logit = (
        c["base"]
        + c["lead"] * np.log1p(lead / 7.0)
        + np.asarray(c["segment"])[seg]
        + c["city"] * h
        + np.asarray(c["deposit"])[deposit]
        + c["previous_cancellation"] * (prev_cancel > 0)
        + c["repeated"] * repeated
        + c["request"] * requests
        + np.asarray(c["customer"])[customer]
    )
    canceled = u[:, 24] < 1.0 / (1.0 + np.exp(-logit))
    no_show = canceled & (u[:, 25] < 0.027)
    # A cancellation comes between booking and arrival, most often early.
    days_before = np.floor(lead * u[:, 26] ** (1.0 / 1.6)).astype(np.int64)
    status_date = np.where(
        no_show,
        arrival,
        np.where(
            canceled,
            arrival - days_before.astype("timedelta64[D]"),
            arrival + nights.astype("timedelta64[D]"),
        ),
    )
    parking = np.where(~canceled & (u[:, 27] < 0.1), 1 + (u[:, 28] < 0.004), 0)
    changes = _lookup(u[:, 29], _CHANGES)
    upgraded = u[:, 30] < np.where(canceled, 0.03, 0.14)
    assigned = np.where(
        upgraded,
        np.array(list(_UPGRADE_ROOMS))[_choice(u[:, 31], _UPGRADE_P)],
        np.array(list(_ROOMS))[room],
    )
    # Children are sometimes missing (NA); the data set has a few such rows.
    children_na = u[:, 32] < _NA_CHILDREN
    whole = u[:, 33] < 0.58
    rooms = np.where(
        u[:, 34] < np.asarray(_SEGMENT_MULTI_ROOM)[seg],
        2 + np.floor(np.log(u[:, 35]) / math.log(1 - _EXTRA_ROOMS_P)),
        1,
    ).astype(np.int64)

    week = _week_number(arr_idx)
    cols: dict[str, np.ndarray] = {
        "hotel": np.full(n, hotel, dtype=object),
        "is_canceled": canceled.astype(np.int64),
        "lead_time": lead,
        "arrival_date_year": arr_idx.year.to_numpy(),
        "arrival_date_month": np.array(_MONTHS, dtype=object)[month - 1],
        "arrival_date_week_number": week,
        "arrival_date_day_of_month": arr_idx.day.to_numpy(),
        "stays_in_weekend_nights": weekend,
        "stays_in_week_nights": nights - weekend,
        "adults": adults,
        "children": np.where(children_na, "NA", children.astype(str)),
        "babies": babies,
        "meal": np.array(_MEALS, dtype=object)[meal],
        "country": np.where(no_country, "NULL", np.array([c for c, _ in _COUNTRIES])[country]),
        "market_segment": np.array(_SEGMENTS, dtype=object)[seg],
        "distribution_channel": np.array(_CHANNELS, dtype=object)[channel],
        "is_repeated_guest": repeated.astype(np.int64),
        "previous_cancellations": prev_cancel,
        "previous_bookings_not_canceled": prev_ok,
        "reserved_room_type": np.array(list(_ROOMS))[room],
        "assigned_room_type": assigned,
        "booking_changes": changes,
        "deposit_type": np.array(_DEPOSITS, dtype=object)[deposit],
        "agent": np.where(has_agent, agent.astype(str), "NULL"),
        "company": np.where(has_company, company.astype(str), "NULL"),
        "days_in_waiting_list": waiting,
        "customer_type": np.array(_CUSTOMER_TYPES, dtype=object)[customer],
        "adr": np.array([_format_adr(a, w) for a, w in zip(adr, whole, strict=True)], dtype=object),
        "required_car_parking_spaces": parking,
        "total_of_special_requests": requests,
        "reservation_status": np.where(
            no_show, "No-Show", np.where(canceled, "Canceled", "Check-Out")
        ),
        "reservation_status_date": np.datetime_as_string(status_date, unit="D"),
    }
    return [np.repeat(cols[c].astype(str), rooms).tolist() for c in BOOKING_COLUMNS]


def _format_adr(value: float, whole: bool) -> str:
    """adr as the data set writes it: no trailing zeros, integers without a decimal point."""
    if whole:
        return str(round(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _gzip(data: bytes) -> bytes:
    """gzip member with the real file's header: no name, mtime 0, max compression, Unix."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(data) + deflate.flush()
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\x03"
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return header + body + trailer


def _write_bookings(folder: Path, spec: SyntheticSpec) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    columns = _bookings_frame(spec)
    lines = [",".join(BOOKING_COLUMNS), *map(",".join, zip(*columns, strict=True))]
    text = "\n".join(lines) + "\n"
    return [_write(folder / BOOKINGS_FILE, _gzip(text.encode("ascii")))]
