"""Benchmark data scaled up from the real data sets (../shared/data), with the platform's code.

Prices: the four real ENTSO-E zones 2016-2024, replicated into more zones, each copy with its
own price offset, then the platform's price features. Bookings: the real Hotel booking demand
file through the platform's reader, companions and feature functions, then every feature table
replicated with suffixed ids (bookings, guests, hotels) so each copy is a distinct set of
entities. Weather: the real SMHI files. Tables are written the way the feature pipeline lays
them out (one parquet file per partition of fti.tables.FEATURES).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.common import SHARED_DATA

log = logging.getLogger(__name__)

ZONES_REAL = ("SE1", "SE2", "SE3", "SE4")
WEATHER_STATION = 98210  # Stockholm daily observations
SUNSHINE_STATION = 99275  # Svenska Högarna hourly sunshine


def require_shared_data() -> Path:
    if not (SHARED_DATA / "entsoe_day_ahead").is_dir():
        raise FileNotFoundError(
            f"real data not found at {SHARED_DATA}: set FTI_SHARED_DATA to ../shared/data"
        )
    return SHARED_DATA


def real_prices(first_year: int = 2016) -> pd.DataFrame:
    """The lake `prices` table of the real ENTSO-E files (zone, ts, price_eur_mwh)."""
    from features.prices import read_entsoe

    root = require_shared_data() / "entsoe_day_ahead"
    files = sorted(p for p in root.glob("SE*_entsoe.csv") if int(p.name[4:8]) >= first_year)
    frames = [read_entsoe(p).frame for p in files]
    return pd.concat(frames, ignore_index=True)[["zone", "ts", "price_eur_mwh"]]


# Copies take the names of other bidding zones the platform knows (validation.reference).
ZONE_NAMES = (
    *ZONES_REAL,
    *("NO1", "NO2", "NO3", "NO4", "NO5", "DK1", "DK2", "FI", "EE", "LV", "LT", "PL", "DE-LU"),
)


def scaled_prices(prices: pd.DataFrame, zones: int) -> pd.DataFrame:
    """`zones` zones: SE1-SE4, then copies of them (cyclically) under the names of other
    bidding zones, copy k with its prices + 1.5 * k EUR/MWh."""
    if zones > len(ZONE_NAMES):
        raise ValueError(f"at most {len(ZONE_NAMES)} zones")
    out = []
    for i, name in enumerate(ZONE_NAMES[:zones]):
        part = prices[prices["zone"] == ZONES_REAL[i % len(ZONES_REAL)]]
        k = i // len(ZONES_REAL)
        out.append(part.assign(zone=name, price_eur_mwh=part["price_eur_mwh"] + 1.5 * k))
    return pd.concat(out, ignore_index=True)


def weather_tables() -> dict[str, pd.DataFrame]:
    from features.weather import read_smhi, sunshine_features, weather_daily_features

    root = require_shared_data() / "smhi_weather"
    obs = pd.concat([read_smhi(p).frame for p in sorted(root.glob("*.csv"))], ignore_index=True)
    return {
        "weather_daily": weather_daily_features(obs),
        "weather_sunshine": sunshine_features(obs),
    }


@dataclass
class Bookings:
    tables: dict[str, pd.DataFrame]  # the five feature tables of cancellation_classifier_v1
    entities: pd.DataFrame  # booking_id, hotel, stay_week_start, guest_id, event_timestamp


def real_bookings() -> Bookings:
    """The real bookings through the platform's reader, companions and feature functions."""
    from features.bookings import DEFAULT_CAPACITY, booking_features, read_bookings, weekly_vacancy
    from features.guests import (
        SessionReducer,
        age_band_features,
        country_features,
        generate_companions,
        session_embedding_features,
    )

    path = require_shared_data() / "hotel_bookings" / "hotels.csv.gz"
    bookings = read_bookings(path).frame
    guests, sessions, guest_of_booking = generate_companions(bookings, seed=0)
    details = booking_features(bookings)
    tables = {
        "booking_details": details,
        "hotel_weekly_vacancy": weekly_vacancy(bookings, DEFAULT_CAPACITY),
        "guest_age_band": age_band_features(guests, until=guests["first_seen"].max()),
        "guest_home_country": country_features(guests),
        "guest_session_embedding": session_embedding_features(sessions, SessionReducer()),
    }
    entities = details[["booking_id", "hotel", "stay_week_start", "event_timestamp"]].copy()
    entities["guest_id"] = (
        entities["booking_id"].map(guest_of_booking).astype("string").to_numpy(dtype=object)
    )
    entities["booking_id"] = entities["booking_id"].astype(str)
    entities["hotel"] = entities["hotel"].astype(str)
    entities["stay_week_start"] = entities["stay_week_start"].astype(str)
    return Bookings(tables, entities)


_ID_COLUMNS = {
    "booking_details": ("booking_id", "hotel"),
    "hotel_weekly_vacancy": ("hotel",),
    "guest_age_band": ("guest_id",),
    "guest_home_country": ("guest_id",),
    "guest_session_embedding": ("guest_id",),
}


def _suffixed(frame: pd.DataFrame, columns: tuple[str, ...], k: int) -> pd.DataFrame:
    if k == 0:
        return frame
    out = frame.copy()
    for col in columns:
        if col in out:
            out[col] = out[col].astype("string") + f" #{k}"
    return out


def scaled_bookings(real: Bookings, copies: int) -> Bookings:
    """`copies` disjoint copies: ids (bookings, guests, hotels) suffixed ` #k` from k = 1."""
    tables = {
        name: pd.concat(
            [_suffixed(frame, _ID_COLUMNS[name], k) for k in range(copies)], ignore_index=True
        )
        for name, frame in real.tables.items()
    }
    parts = []
    for k in range(copies):
        part = real.entities.copy()
        if k:
            for col in ("booking_id", "hotel", "guest_id"):
                part[col] = part[col] + f" #{k}"
        parts.append(part)
    return Bookings(tables, pd.concat(parts, ignore_index=True))


def write_feature_table(offline_root: Path, name: str, frame: pd.DataFrame) -> int:
    """One parquet file per partition, as the feature pipeline lays the table out."""
    from fti.tables import FEATURES

    table = FEATURES[name]
    root = offline_root / name
    parts = table.partition(frame)
    for part, rows in frame.groupby(parts.to_numpy(), sort=True):
        path = root / str(part) / "data.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = rows.sort_values(list(table.key), kind="stable")
        pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), path, compression="zstd")
    return len(frame)


def price_entities(features: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """n entity rows: random zone-hours (with replacement), asked up to an hour after the hour."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(features), n)
    hours = features["event_timestamp"].to_numpy(dtype="datetime64[ns]")[pick]
    stamp = hours + rng.integers(0, 3600, n).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "zone": features["zone"].to_numpy(dtype=object)[pick],
            "event_timestamp": pd.DatetimeIndex(stamp).tz_localize("UTC"),
            "weather_station_id": np.full(n, WEATHER_STATION, dtype=np.int64),
            "sunshine_station_id": np.full(n, SUNSHINE_STATION, dtype=np.int64),
        }
    )


def booking_entities(entities: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    replace = n > len(entities)
    pick = rng.choice(len(entities), n, replace=replace)
    return entities.iloc[pick].reset_index(drop=True)
