"""Training data: entity rows, point-in-time features through the model's feature service, labels.

Price forecaster, the horizon
    A forecast is issued at 12:00 Europe/Stockholm on day D-1 (gate closure of the Nordic
    day-ahead auction) for every delivery hour of day D (23, 24 or 25 local hours). What is known
    then is what the feature store holds with event_timestamp <= issue time: the platform treats
    a price as known from its hour start, which is stricter than the market (day D-1's prices are
    published on D-2 around 13:00). Per (zone, delivery hour t) the frame holds

    - the `price_forecaster_v1` features as of the issue time (latest price state, trailing
      statistics, weather observations of the zone's stations, see ZONE_STATIONS);
    - same-hour prices retrieved through the same service at earlier times: the latest day whose
      clock hour t is known at issue time (t - 24 h when that is <= issue time, else t - 48 h),
      the day before that, and t - 168 h. These are also the seasonal naive baselines;
    - the label: the price of hour t from the `prices` lake table.

    Every retrieval timestamp is <= the issue time, so the point-in-time join itself guarantees
    that nothing from after the issue time reaches a feature.

Cancellation classifier
    One entity row per booking of `booking_details` (booking_id, hotel, stay_week_start,
    guest_id from the bookings lake table, event_timestamp = booking time); features through
    `cancellation_classifier_v1` as of the booking time; the label `is_canceled` from the
    `booking_labels` lake table, which is read here and nowhere else. The label time (when the
    outcome is surely known) is the day after departure, arrival + booked nights + 1 day: known
    at booking time and independent of the outcome, so filtering on it cannot bias the labels
    (the cancellation date would keep early cancellations and drop the stays near a split).

    The cancellation model splits by label time: train on the bookings whose outcome was known
    before the validation period, test on those whose outcome became known in the last period,
    which is the population a model deployed at the test start would have scored. Splitting by
    booking time instead would have to drop from training every booking whose stay ends after
    the test start: with arrivals booked up to two years ahead, a young data set (30 days of
    stays) keeps 12 training rows of 363.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fti import lake
from fti.settings import Settings
from fti.tables import FEATURES, LAKE
from models.config import ZONE_STATIONS, ModelKind, SplitConfig
from models.lineage import service_fields
from models.prepare import LINEAGE_SUFFIX, TIMEZONE
from models.specs import ModelSpec

if TYPE_CHECKING:
    from feast import FeatureStore

log = logging.getLogger(__name__)

ISSUE_HOUR = 12  # local time on the day before delivery
NO_STATION = -1  # a zone without a mapped station joins no weather row
SPLITS = ("train", "validation", "test")


class InsufficientData(ValueError):
    """Too little data to train and evaluate a model (a tiny or young data set)."""


@dataclass
class TrainingData:
    """The raw retrieved frame of a model (features, label, times) and where it came from."""

    kind: ModelKind
    frame: pd.DataFrame  # context + service features + label + label_time + split_time
    start: pd.Timestamp  # entity time range [start, end) of the rows
    end: pd.Timestamp
    feature_service: str
    service_fields: dict[str, str]
    feature_views: list[str]
    retrieval_seconds: float = 0.0
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Boundaries:
    """Split times: train < validation_start <= validation < test_start <= test."""

    validation_start: pd.Timestamp
    test_start: pd.Timestamp

    def as_params(self) -> dict[str, str]:
        return {
            "split.validation_start": self.validation_start.isoformat(),
            "split.test_start": self.test_start.isoformat(),
        }


def utc(value: object) -> pd.Timestamp:
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def issue_time_of(delivery: pd.Series) -> pd.Series:
    """12:00 local on the day before each delivery hour's local date, in UTC."""
    local_day = delivery.dt.tz_convert(TIMEZONE).dt.tz_localize(None).dt.normalize()
    issue_local = local_day - pd.Timedelta(days=1) + pd.Timedelta(hours=ISSUE_HOUR)
    return issue_local.dt.tz_localize(TIMEZONE).dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def price_rows(zones: pd.Series, delivery: pd.Series) -> pd.DataFrame:
    """Entity skeleton of the price model: zone, issue_time, delivery_time and lag lookup times."""
    delivery = pd.to_datetime(delivery, utc=True).astype("datetime64[ns, UTC]")
    issue = issue_time_of(delivery)
    day = pd.Timedelta(hours=24)
    last_day = delivery - day
    last_day = last_day.where(last_day <= issue, delivery - 2 * day)
    return pd.DataFrame(
        {
            "zone": zones.astype(str).to_numpy(dtype=object),
            "issue_time": issue.array,
            "delivery_time": delivery.array,
            "_t_day": last_day.array,
            "_t_week": (delivery - 7 * day).array,
        }
    )


def _stations(zones: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    daily = zones.map(lambda z: ZONE_STATIONS.get(z, (NO_STATION, NO_STATION))[0])
    sunshine = zones.map(lambda z: ZONE_STATIONS.get(z, (NO_STATION, NO_STATION))[1])
    return daily.to_numpy(dtype="int64"), sunshine.to_numpy(dtype="int64")


def retrieve(
    store: FeatureStore, service_name: str | list[str], entity_df: pd.DataFrame
) -> pd.DataFrame:
    """Point-in-time features of the service (or of a list of `view:feature` references) for
    every entity row, in the entity rows' order."""
    entity_df = entity_df.reset_index(drop=True).assign(__row=np.arange(len(entity_df)))
    features = (
        store.get_feature_service(service_name) if isinstance(service_name, str) else service_name
    )
    got = store.get_historical_features(entity_df=entity_df, features=features).to_df()
    if len(got) != len(entity_df):
        raise RuntimeError(f"{service_name}: {len(got)} rows back for {len(entity_df)} entity rows")
    got = got.sort_values("__row").reset_index(drop=True)
    stamps = got.get("event_timestamp")
    if stamps is not None and pd.api.types.is_datetime64_dtype(stamps) and stamps.dt.tz is None:
        # Feast's Spark offline store hands the entity rows' times back as naive UTC wall time.
        got["event_timestamp"] = stamps.dt.tz_localize("UTC")
    return got.drop(columns="__row")


def assemble_price_features(
    store: FeatureStore, service_name: str, rows: pd.DataFrame
) -> pd.DataFrame:
    """Price frame for the rows of price_rows(): issue-time features plus same-hour lags.

    One retrieval for all lookups: (zone, issue time) rows for the issue-time state, and
    (zone, lag time) rows whose price columns become the same-hour lags. Shared with batch
    inference, which calls it with the delivery hours of one issue time.
    """
    issue = (
        rows[["zone", "issue_time"]]
        .drop_duplicates()
        .rename(columns={"issue_time": "event_timestamp"})
    )
    day_start = issue.assign(event_timestamp=issue["event_timestamp"].dt.floor("D"))
    lags = pd.concat(
        [
            rows[["zone", "_t_day"]].rename(columns={"_t_day": "event_timestamp"}),
            rows[["zone", "_t_week"]].rename(columns={"_t_week": "event_timestamp"}),
        ]
    ).drop_duplicates()
    # retrieve() keeps the entity rows' order: the three blocks come back where they went in.
    lookups = pd.concat([issue, day_start, lags], ignore_index=True)
    daily, sunshine = _stations(lookups["zone"])
    entity_df = lookups.assign(weather_station_id=daily, sunshine_station_id=sunshine)
    got = retrieve(store, service_name, entity_df)
    features = [c for c in got.columns if c not in entity_df.columns]
    n = len(issue)
    state = got.iloc[:n].reset_index(drop=True)
    # weather_daily rows carry either the temperature (periods ending 00:00 UTC) or the
    # precipitation (06:00 UTC), so the row current at 12:00 has no temperature. The same
    # service read at 00:00 UTC of the issue day (also before the issue time) fills what is
    # missing: each value is the latest one known at issue time from either read.
    early = got.iloc[n : 2 * n].reset_index(drop=True)
    state[features] = state[features].fillna(early[features])
    state = state.drop(columns=["event_timestamp"]).assign(
        issue_time=issue["event_timestamp"].array
    )
    lag = got.iloc[2 * n :].assign(event_timestamp=lags["event_timestamp"].array)
    lag = lag[["zone", "event_timestamp", "price_eur_mwh", "price_lag_24h"]]

    out = rows.merge(state, on=["zone", "issue_time"], how="left", validate="many_to_one")
    day = lag.rename(
        columns={
            "event_timestamp": "_t_day",
            "price_eur_mwh": "same_hour_last_day",
            "price_lag_24h": "same_hour_day_before",
        }
    )
    out = out.merge(day, on=["zone", "_t_day"], how="left", validate="many_to_one")
    week = lag[["zone", "event_timestamp", "price_eur_mwh"]].rename(
        columns={"event_timestamp": "_t_week", "price_eur_mwh": "same_hour_last_week"}
    )
    out = out.merge(week, on=["zone", "_t_week"], how="left", validate="many_to_one")
    out["same_hour_age_h"] = (out["delivery_time"] - out["_t_day"]).dt.total_seconds() / 3600.0
    return out.drop(columns=["_t_day", "_t_week"])


def _window(
    frame: pd.DataFrame, column: str, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    times = pd.to_datetime(frame[column], utc=True)
    return frame[((times >= start) & (times < end)).to_numpy()]


def data_range(settings: Settings, kind: ModelKind) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The full entity time range available for a model: [first, last + resolution)."""
    if kind == "price":
        ts = lake.read_table(LAKE["prices"].root(settings), columns=["ts"])["ts"]
        step = pd.Timedelta(hours=1)
    else:
        root = FEATURES["booking_details"].root(settings)
        ts = lake.read_table(root, columns=["event_timestamp"])["event_timestamp"]
        step = pd.Timedelta(seconds=1)
    if ts.empty:
        raise InsufficientData(f"no data for the {kind} model: run the feature pipelines first")
    ts = pd.to_datetime(ts, utc=True)
    return utc(ts.min()), utc(ts.max()) + step


def load_price(
    settings: Settings, store: FeatureStore, spec: ModelSpec, start: pd.Timestamp, end: pd.Timestamp
) -> TrainingData:
    prices = lake.read_table(LAKE["prices"].root(settings), columns=["zone", "ts", "price_eur_mwh"])
    labels = _window(prices, "ts", start, end).sort_values(["zone", "ts"], kind="stable")
    rows = price_rows(labels["zone"], labels["ts"])
    rows["label"] = labels["price_eur_mwh"].to_numpy(dtype="float64")
    started = time.perf_counter()
    frame = assemble_price_features(store, spec.feature_service, rows)
    elapsed = time.perf_counter() - started
    # The seasonal naive baselines need both same-hour prices; hours without them (the first
    # week of data, gaps) are left out so model and baselines are scored on the same rows.
    usable = frame["same_hour_last_day"].notna() & frame["same_hour_last_week"].notna()
    dropped = {"no_same_hour_history": int((~usable).sum())}
    frame = frame[usable.to_numpy()].reset_index(drop=True)
    frame["label_time"] = frame["delivery_time"]
    frame["split_time"] = frame["issue_time"]
    service = store.get_feature_service(spec.feature_service)
    return TrainingData(
        kind="price",
        frame=frame,
        start=start,
        end=end,
        feature_service=spec.feature_service,
        service_fields=service_fields(service),
        feature_views=[p.name for p in service.feature_view_projections],
        retrieval_seconds=elapsed,
        dropped=dropped,
    )


def booking_entities(settings: Settings, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Entity rows of the cancellation model (bookings made in [start, end)) and label times."""
    details = lake.read_table(
        FEATURES["booking_details"].root(settings),
        columns=["booking_id", "hotel", "stay_week_start", "event_timestamp"],
    )
    details = _window(details, "event_timestamp", start, end)
    stays = lake.read_table(
        LAKE["bookings"].root(settings),
        columns=[
            "booking_id",
            "guest_id",
            "arrival_date",
            "stays_in_weekend_nights",
            "stays_in_week_nights",
        ],
    )
    nights = stays["stays_in_weekend_nights"].astype("Int64").fillna(0) + stays[
        "stays_in_week_nights"
    ].astype("Int64").fillna(0)
    departure = pd.to_datetime(stays["arrival_date"]) + pd.to_timedelta(
        nights.clip(lower=0).astype("int64") + 1, unit="D"
    )
    stays = stays[["booking_id", "guest_id"]].assign(
        label_time=departure.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    )
    rows = details.merge(stays, on="booking_id", how="left", validate="one_to_one")
    rows["event_timestamp"] = pd.to_datetime(rows["event_timestamp"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    rows = rows.sort_values(["event_timestamp", "booking_id"], kind="stable")
    columns = ["booking_id", "hotel", "stay_week_start", "guest_id", "event_timestamp"]
    out = rows[[*columns, "label_time"]].astype(
        {"booking_id": object, "hotel": object, "stay_week_start": object, "guest_id": object}
    )
    return out.reset_index(drop=True)


def booking_label_frame(settings: Settings) -> pd.DataFrame:
    """booking_id and label (is_canceled) from the booking_labels lake table."""
    labels = lake.read_table(
        LAKE["booking_labels"].root(settings), columns=["booking_id", "is_canceled"]
    )
    return pd.DataFrame(
        {
            "booking_id": labels["booking_id"].astype(str).to_numpy(dtype=object),
            "label": labels["is_canceled"].astype("int64").to_numpy(),
        }
    )


def audit_attributes(store: FeatureStore, entity_df: pd.DataFrame) -> pd.DataFrame:
    """The guest's age band and home-country region as known at each booking time, read from
    their feature views directly for per-group evaluation (models/fairness.py): whatever the
    model's feature service serves, these never become model inputs."""
    from models.fairness import ATTRIBUTES, region_of

    country = store.get_feature_view("guest_home_country")
    codes = [f.name for f in country.schema if f.name.startswith("country_")]
    codes = [c for c in codes if not c.endswith(LINEAGE_SUFFIX)]
    refs = ["guest_age_band:age_band", *(f"guest_home_country:{c}" for c in codes)]
    got = retrieve(store, refs, entity_df[["guest_id", "event_timestamp"]])
    return pd.DataFrame(
        {
            ATTRIBUTES["age_band"]: got["age_band"].astype(object).to_numpy(),
            ATTRIBUTES["region"]: region_of(got[codes]).to_numpy(),
        }
    )


def load_cancellation(
    settings: Settings, store: FeatureStore, spec: ModelSpec, start: pd.Timestamp, end: pd.Timestamp
) -> TrainingData:
    rows = booking_entities(settings, start, end)
    started = time.perf_counter()
    entity_df = rows.drop(columns=["label_time"])
    frame = retrieve(store, spec.feature_service, entity_df)
    audit = audit_attributes(store, entity_df)
    frame = frame.drop(columns=[c for c in audit.columns if c in frame.columns])
    frame[list(audit.columns)] = audit.to_numpy()
    frame["label_time"] = rows["label_time"].array
    elapsed = time.perf_counter() - started
    # The features are joined first and the labels after, so a feature can never be a label.
    frame = frame.merge(booking_label_frame(settings), on="booking_id", how="left")
    unlabelled = frame["label"].isna()
    frame = frame[~unlabelled.to_numpy()].reset_index(drop=True)
    frame["label"] = frame["label"].astype("int64")
    frame["split_time"] = pd.to_datetime(frame["label_time"], utc=True)
    service = store.get_feature_service(spec.feature_service)
    return TrainingData(
        kind="cancellation",
        frame=frame,
        start=start,
        end=end,
        feature_service=spec.feature_service,
        service_fields=service_fields(service),
        feature_views=[p.name for p in service.feature_view_projections],
        retrieval_seconds=elapsed,
        dropped={"unlabelled": int(unlabelled.sum())},
    )


def load_training_data(
    settings: Settings,
    store: FeatureStore,
    spec: ModelSpec,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> TrainingData:
    """The model's training frame for entity times in [start, end) (default: all data)."""
    if start is None or end is None:
        lo, hi = data_range(settings, spec.kind)
        start, end = start or lo, end or hi
    start, end = utc(start), utc(end)
    loader = load_price if spec.kind == "price" else load_cancellation
    data = loader(settings, store, spec, start, end)
    if data.frame.empty:
        raise InsufficientData(f"no {spec.kind} training rows in [{start}, {end})")
    log.info(
        "%s: %d rows in [%s, %s) retrieved in %.1f s",
        spec.kind,
        len(data.frame),
        start,
        end,
        data.retrieval_seconds,
    )
    return data


def boundaries_for(frame: pd.DataFrame, config: SplitConfig) -> Boundaries:
    """Split times at the row quantiles 1 - validation - test and 1 - test of the split time."""
    ordered = np.sort(pd.to_datetime(frame["split_time"], utc=True).to_numpy("datetime64[ns]"))
    n = len(ordered)
    first_val = int(np.floor(n * (1 - config.validation_fraction - config.test_fraction)))
    first_test = int(np.floor(n * (1 - config.test_fraction)))
    if n < 10 or not 0 < first_val < first_test < n:
        raise InsufficientData(f"{n} rows are too few for a train/validation/test split")
    return Boundaries(validation_start=utc(ordered[first_val]), test_start=utc(ordered[first_test]))


def split_masks(frame: pd.DataFrame, bounds: Boundaries) -> dict[str, np.ndarray]:
    """Row masks by split time (nothing is shuffled across time). Training and validation rows
    also need their label known before the test start: an outcome that only became known during
    the test period must not teach the model what happened in it (a wave of cancellations)."""
    t = pd.to_datetime(frame["split_time"], utc=True)
    known = pd.to_datetime(frame["label_time"], utc=True)
    v, s = bounds.validation_start, bounds.test_start
    return {
        "train": ((t < v) & (known < s)).to_numpy(),
        "validation": ((t >= v) & (t < s) & (known < s)).to_numpy(),
        "test": (t >= s).to_numpy(),
    }
