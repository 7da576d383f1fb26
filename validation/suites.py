"""Expectation suites as code: one builder per raw source (lake table) and per feature view.

Every expectation carries, in its `meta.protects`, what it protects against (the comment of
the suite, kept in the result JSON so a report and a quarantine entry can say it too).
Severity `critical` blocks a write according to the source's policy; `warning` flags a real
quirk of the data (kept, counted, reported) and never blocks.

A suite's version is the sha256 of its canonical JSON (12 hex): any change of an expectation,
a parameter or a reference value gives a new version, recorded with every batch it checked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import great_expectations as gx
from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.metadata_types import FailureSeverity

from features.bookings import INT_COLUMNS, RAW_COLUMNS
from features.guests import AGE_BANDS, COUNTRY_VOCAB_V1, PAGES
from validation import expectations as fx
from validation import reference as ref

E = gx.expectations
CRITICAL, WARNING = "critical", "warning"


def _x(expectation: Expectation, protects: str, severity: str = CRITICAL) -> Expectation:
    expectation.meta = {"protects": protects}
    expectation.severity = FailureSeverity(severity)
    return expectation


def _schema(dtypes: dict[str, str], *, rows: bool = False) -> list[Expectation]:
    out = [
        # A renamed, missing or extra column: a format change upstream or a code change here.
        _x(
            E.ExpectTableColumnsToMatchSet(column_set=list(dtypes), exact_match=True),
            "missing, renamed or extra columns (format or code change)",
        ),
        # A column of the wrong type: numbers read as text, naive timestamps, lost nullability.
        _x(fx.ExpectTableDtypesToMatch(dtypes=dtypes), "columns of the wrong type"),
    ]
    if rows:
        # An empty batch from a source that always has rows: a truncated or wrong file.
        out.append(
            _x(E.ExpectTableRowCountToBeBetween(min_value=1), "an empty batch (truncated file)")
        )
    return out


def _not_null(*columns: str) -> list[Expectation]:
    # Required values: a row without them cannot be keyed, placed in time or used.
    protects = f"missing required value ({', '.join(columns)})"
    if len(columns) == 1:
        return [_x(E.ExpectColumnValuesToNotBeNull(column=columns[0]), protects)]
    return [_x(fx.ExpectColumnsToNotBeNull(column_list=list(columns)), protects)]


def _key(*columns: str) -> Expectation:
    # Two rows for one key: a duplicated row or hour, or an ambiguous point-in-time value.
    if len(columns) == 1:
        return _x(
            E.ExpectColumnValuesToBeUnique(column=columns[0]), f"duplicate key ({columns[0]})"
        )
    return _x(
        fx.ExpectCompoundKeyToBeUnique(column_list=list(columns)),
        f"duplicate key ({', '.join(columns)})",
    )


def _not_future(column: str, tolerance_hours: float = 0.0) -> Expectation:
    # A timestamp after now: a wrong clock, time zone or year; it would leak the future.
    return _x(
        fx.ExpectColumnValuesToNotBeInTheFuture(column=column, tolerance_hours=tolerance_hours),
        f"{column} in the future",
    )


def _between(
    column: str, low: float | None, high: float | None, protects: str, severity: str = CRITICAL
) -> Expectation:
    return _x(
        fx.ExpectColumnValuesToBeInRange(column=column, min_value=low, max_value=high),
        protects,
        severity,
    )


def _in_set(column: str, values: Any, protects: str, severity: str = CRITICAL) -> Expectation:
    return _x(
        E.ExpectColumnValuesToBeInSet(column=column, value_set=sorted(values)), protects, severity
    )


# ---- raw sources (lake tables) ---------------------------------------------------------------


def prices() -> list[Expectation]:
    lo, hi = ref.DAY_AHEAD_MIN_EUR_MWH, ref.DAY_AHEAD_MAX_EUR_MWH
    return [
        *_schema(
            {"zone": "str", "ts": "datetime_utc", "price_eur_mwh": "float", "source": "str"},
            rows=True,
        ),
        *_not_null("zone", "ts", "price_eur_mwh", "source"),
        # A zone the market does not have: a wrong export or a typo in the header.
        _in_set("zone", ref.BIDDING_ZONES, "unknown bidding zone"),
        # Outside the SDAC harmonised clearing limits no price can have cleared.
        _between("price_eur_mwh", lo, hi, "price outside the SDAC clearing limits"),
        _x(fx.ExpectColumnValuesToBeFinite(column="price_eur_mwh"), "NaN or infinite price"),
        # Two prices for one hour, or a timestamp that is not an hour start.
        _x(
            fx.ExpectHourStartsToBeUniquePerKey(column_list=["zone", "ts"]),
            "duplicate hour or a timestamp that is not an hour start",
        ),
        # A hole in the hourly series (23/24/25 hours per local day): lags and windows would
        # silently span the gap.
        _x(
            fx.ExpectHourlyGridToBeComplete(
                key_column="zone", time_column="ts", timezone=ref.PRICE_TIMEZONE
            ),
            "missing hours (gaps, a missing DST hour)",
        ),
        _not_future("ts", ref.PRICE_LEAD_HOURS),
    ]


BOOKING_INT = [*INT_COLUMNS, "source_row"]


def _booking_dtypes() -> dict[str, str]:
    dtypes = {"booking_id": "str", "booking_time": "datetime_utc", "arrival_date": "datetime"}
    for column in (*RAW_COLUMNS, "source_row"):
        dtypes[column] = "int" if column in BOOKING_INT else "str"
    dtypes.update({"adr": "float", "reservation_status_date": "datetime"})
    return dtypes


def bookings() -> list[Expectation]:
    lo, hi = ref.ADR_PLAUSIBLE
    return [
        *_schema(_booking_dtypes(), rows=True),
        *_not_null("booking_id", "booking_time", "arrival_date", "hotel", "is_canceled"),
        _key("booking_id"),
        # A hotel without a capacity cannot get a vacancy level.
        _in_set("hotel", ("Resort Hotel", "City Hotel"), "unknown hotel"),
        _in_set("is_canceled", (0, 1), "a label that is not 0/1"),
        _in_set("reservation_status", ref.RESERVATION_STATUSES, "unknown reservation status"),
        _between("lead_time", 0, 3650, "negative or absurd lead time"),
        _between("stays_in_weekend_nights", 0, 366, "negative or absurd stay"),
        _between("stays_in_week_nights", 0, 366, "negative or absurd stay"),
        _between("adults", 0, 100, "negative or absurd party size"),
        _between("children", 0, 100, "negative or absurd party size"),
        _between("babies", 0, 100, "negative or absurd party size"),
        # A booking made after the guest arrived (booking_time is arrival - lead time).
        _x(
            fx.ExpectColumnPairValuesToBeInOrder(column_A="booking_time", column_B="arrival_date"),
            "booking after arrival",
        ),
        # The outcome cannot be known before the booking exists.
        _x(
            fx.ExpectColumnPairValuesToBeInOrder(
                column_A="booking_time", column_B="reservation_status_date"
            ),
            "status date before the booking",
        ),
        # A country code that is no country: a shifted column or a data-entry error.
        _in_set(
            "country",
            ref.ISO3_COUNTRIES | ref.LEGACY_COUNTRY_CODES,
            "unknown country code",
        ),
        # Real quirks, kept and flagged: non-ISO codes (CN, TMP), absurd rates, stays of zero
        # nights, bookings without guests, unknown categories.
        _in_set("country", ref.ISO3_COUNTRIES, "country code not ISO 3166-1 alpha-3", WARNING),
        _between("adr", *ref.ADR_POSSIBLE, "a rate that is no rate (shifted column, cents)"),
        _between("adr", lo, hi, "implausible average daily rate", WARNING),
        _x(
            fx.ExpectMulticolumnSumToBeBetween(
                column_list=["stays_in_weekend_nights", "stays_in_week_nights"], min_value=1
            ),
            "a stay of zero nights",
            WARNING,
        ),
        _x(
            fx.ExpectMulticolumnSumToBeBetween(
                column_list=["adults", "children", "babies"], min_value=1
            ),
            "a booking without guests",
            WARNING,
        ),
        _in_set("meal", ref.MEALS, "unknown meal plan", WARNING),
        _in_set("market_segment", ref.MARKET_SEGMENTS, "unknown market segment", WARNING),
        _in_set("distribution_channel", ref.DISTRIBUTION_CHANNELS, "unknown channel", WARNING),
        _in_set("deposit_type", ref.DEPOSIT_TYPES, "unknown deposit type", WARNING),
        _in_set("customer_type", ref.CUSTOMER_TYPES, "unknown customer type", WARNING),
        _in_set("reserved_room_type", ref.ROOM_TYPES, "unknown room type", WARNING),
        _not_future("booking_time"),
    ]


def booking_labels() -> list[Expectation]:
    return [
        *_schema(
            {
                "booking_id": "str",
                "booking_time": "datetime_utc",
                "is_canceled": "int",
                "reservation_status": "str",
                "reservation_status_date": "datetime",
            }
        ),
        *_not_null("booking_id", "booking_time", "is_canceled", "reservation_status"),
        _key("booking_id"),
        _in_set("is_canceled", (0, 1), "a label that is not 0/1"),
        _in_set("reservation_status", ref.RESERVATION_STATUSES, "unknown reservation status"),
    ]


def weather() -> list[Expectation]:
    return [
        *_schema(
            {
                "station_id": "int",
                "parameter": "str",
                "period_start": "datetime_utc",
                "period_end": "datetime_utc",
                "value": "float",
                "quality": "str",
            },
            rows=True,
        ),
        *_not_null("station_id", "parameter", "period_start", "period_end", "value", "quality"),
        _key("station_id", "parameter", "period_end"),
        _in_set("parameter", ref.WEATHER_RANGES, "unknown parameter"),
        # Only checked (G) or aggregated (Y) values; rejected (R) ones are never delivered.
        _in_set("quality", ref.WEATHER_QUALITY, "unknown or rejected quality flag"),
        # A period must have a length.
        _x(
            fx.ExpectColumnPairValuesToBeInOrder(
                column_A="period_start", column_B="period_end", or_equal=False
            ),
            "a period that ends before it starts",
        ),
        # Physically impossible values (a unit change, a shifted column).
        _x(
            fx.ExpectColumnPairValuesWithinRangeByKey(
                column_A="parameter",
                column_B="value",
                ranges={k: list(v) for k, v in ref.WEATHER_RANGES.items()},
            ),
            "value outside the physical range of its parameter",
        ),
        _not_future("period_end", 1.0),
    ]


def guests() -> list[Expectation]:
    return [
        *_schema(
            {
                "guest_id": "str",
                "date_of_birth": "datetime",
                "country": "str",
                "first_seen": "datetime_utc",
            },
            rows=True,
        ),
        *_not_null("guest_id", "date_of_birth", "first_seen"),
        _key("guest_id"),
        # Born after the first booking, or a birth date that cannot be a living guest.
        _x(
            fx.ExpectColumnPairValuesToBeInOrder(column_A="date_of_birth", column_B="first_seen"),
            "born after the first booking",
        ),
        _x(
            fx.ExpectColumnTimestampsToBeBetween(column="date_of_birth", min_value="1900-01-01"),
            "a birth date before 1900",
        ),
        _in_set("country", ref.ISO3_COUNTRIES | ref.LEGACY_COUNTRY_CODES, "unknown country code"),
        _not_future("first_seen"),
    ]


def sessions() -> list[Expectation]:
    page = "|".join(PAGES)
    return [
        *_schema(
            {
                "guest_id": "str",
                "session_id": "str",
                "started_at": "datetime_utc",
                "ended_at": "datetime_utc",
                "pages": "str",
            },
            rows=True,
        ),
        *_not_null("guest_id", "session_id", "started_at", "ended_at", "pages"),
        _key("session_id"),
        _x(
            fx.ExpectColumnPairValuesToBeInOrder(column_A="started_at", column_B="ended_at"),
            "a session that ends before it starts",
        ),
        # A page outside the reducer's vocabulary would change the embedding's meaning.
        _x(
            E.ExpectColumnValuesToMatchRegex(column="pages", regex=f"^(?:{page})(?: (?:{page}))*$"),
            "unknown page ids",
        ),
        _not_future("ended_at"),
    ]


# ---- feature views ---------------------------------------------------------------------------


def zone_prices() -> list[Expectation]:
    lo, hi = ref.DAY_AHEAD_MIN_EUR_MWH, ref.DAY_AHEAD_MAX_EUR_MWH
    floats = [
        "price_eur_mwh",
        "price_scaled",
        "price_lag_24h",
        "price_lag_168h",
        "price_mean_24h",
        "price_std_24h",
        "price_mean_168h",
        "price_min_168h",
        "price_max_168h",
    ]
    return [
        *_schema(
            {"zone": "str", "event_timestamp": "datetime_utc", **dict.fromkeys(floats, "float")}
        ),
        *_not_null("zone", "event_timestamp"),
        _in_set("zone", ref.BIDDING_ZONES, "unknown bidding zone"),
        _x(
            fx.ExpectHourStartsToBeUniquePerKey(column_list=["zone", "event_timestamp"]),
            "duplicate hour (two feature rows for one zone-hour)",
        ),
        # Holes between batches of the lake show up here: flagged (the features handle them:
        # lags and windows see NaN), each raw batch itself was checked complete.
        _x(
            fx.ExpectHourlyGridToBeComplete(
                key_column="zone", time_column="event_timestamp", timezone=ref.PRICE_TIMEZONE
            ),
            "missing hours in the feature series",
            WARNING,
        ),
        _x(fx.ExpectColumnValuesToBeFinite(column="price_eur_mwh"), "NaN or infinite price"),
        _between("price_eur_mwh", lo, hi, "price outside the SDAC clearing limits"),
        # The scaled price is a min-max position: outside [0, 1] the scaling is broken.
        _x(fx.ExpectColumnValuesToBeFinite(column="price_scaled"), "NaN scaled price"),
        _between("price_scaled", 0.0, 1.0, "scaled price outside [0, 1]"),
        # Lags and window statistics are prices too (NaN where the window is empty).
        _x(
            fx.ExpectMulticolumnValuesToBeInRange(
                column_list=[
                    "price_lag_24h",
                    "price_lag_168h",
                    "price_mean_24h",
                    "price_mean_168h",
                    "price_min_168h",
                    "price_max_168h",
                ],
                min_value=lo,
                max_value=hi,
            ),
            "lags or window statistics outside the SDAC clearing limits",
        ),
        _between("price_std_24h", 0.0, hi - lo, "negative or absurd standard deviation"),
        # The window's minimum and maximum bracket the price: otherwise the window is wrong.
        _x(
            fx.ExpectColumnPairValuesToBeInOrder(
                column_A="price_min_168h", column_B="price_eur_mwh"
            ),
            "price below its own 168h minimum",
        ),
        _x(
            fx.ExpectColumnPairValuesToBeInOrder(
                column_A="price_eur_mwh", column_B="price_max_168h"
            ),
            "price above its own 168h maximum",
        ),
        _not_future("event_timestamp", ref.PRICE_LEAD_HOURS),
    ]


def booking_details() -> list[Expectation]:
    ints = [
        "lead_time",
        "arrival_month",
        "arrival_week_number",
        "stays_in_weekend_nights",
        "stays_in_week_nights",
        "adults",
        "babies",
        "is_repeated_guest",
        "previous_cancellations",
        "previous_bookings_not_canceled",
        "required_car_parking_spaces",
        "total_of_special_requests",
    ]
    strs = [
        "hotel",
        "stay_week_start",
        "meal",
        "market_segment",
        "distribution_channel",
        "reserved_room_type",
        "deposit_type",
        "agent",
        "company",
        "customer_type",
    ]
    dtypes = {"booking_id": "str", "event_timestamp": "datetime_utc"}
    dtypes.update({c: "int" for c in ints})
    dtypes.update({c: "str" for c in strs})
    dtypes.update({"children": "float", "adr": "float"})
    lo, hi = ref.ADR_PLAUSIBLE
    return [
        # The exact column set also keeps the labels (is_canceled, reservation_status...) out.
        *_schema(dtypes),
        *_not_null("booking_id", "event_timestamp", "hotel", "stay_week_start"),
        _key("booking_id", "event_timestamp"),
        _in_set("hotel", ("Resort Hotel", "City Hotel"), "unknown hotel"),
        _x(
            fx.ExpectColumnValuesToBeIsoMondays(column="stay_week_start"),
            "a week that is no Monday",
        ),
        _between("lead_time", 0, 3650, "negative or absurd lead time"),
        _between("arrival_month", 1, 12, "a month that does not exist"),
        _between("arrival_week_number", 1, 53, "an ISO week that does not exist"),
        _between("stays_in_weekend_nights", 0, 366, "negative or absurd stay"),
        _between("stays_in_week_nights", 0, 366, "negative or absurd stay"),
        _between("adr", *ref.ADR_POSSIBLE, "a rate that is no rate"),
        _between("adr", lo, hi, "implausible average daily rate", WARNING),
        _not_future("event_timestamp"),
    ]


def hotel_weekly_vacancy() -> list[Expectation]:
    return [
        *_schema(
            {
                "hotel": "str",
                "stay_week_start": "str",
                "event_timestamp": "datetime_utc",
                "booked_room_nights": "int",
                "capacity_room_nights": "int",
                "vacancy_level": "float",
            }
        ),
        *_not_null("hotel", "stay_week_start", "event_timestamp", "vacancy_level"),
        _key("hotel", "stay_week_start", "event_timestamp"),
        _x(
            fx.ExpectColumnValuesToBeIsoMondays(column="stay_week_start"),
            "a week that is no Monday",
        ),
        # Vacancy is a share of the week's capacity.
        _between("vacancy_level", 0.0, 1.0, "vacancy level outside [0, 1]"),
        _between("booked_room_nights", 0, None, "negative booked room nights"),
        _between("capacity_room_nights", 1, None, "a hotel without capacity"),
        # More room nights than rooms: overbooking or a wrong capacity (vacancy clips at 0).
        _x(
            fx.ExpectColumnPairValuesToBeInOrder(
                column_A="booked_room_nights", column_B="capacity_room_nights"
            ),
            "more booked room nights than capacity",
            WARNING,
        ),
        # The weekly aggregate must add up to its daily inputs as known at its time.
        _x(
            fx.ExpectWeeklyRoomNightsToMatchBookings(reference="bookings"),
            "weekly room nights that disagree with the bookings",
        ),
        _not_future("event_timestamp", 24.0),
    ]


def guest_age_band() -> list[Expectation]:
    return [
        *_schema({"guest_id": "str", "event_timestamp": "datetime_utc", "age_band": "str"}),
        *_not_null("guest_id", "event_timestamp", "age_band"),
        _key("guest_id", "event_timestamp"),
        _in_set("age_band", AGE_BANDS, "an age band outside the fixed set"),
        _not_future("event_timestamp"),
    ]


def guest_home_country() -> list[Expectation]:
    onehot = [f"country_{c}" for c in COUNTRY_VOCAB_V1] + ["country_other"]
    return [
        *_schema(
            {
                "guest_id": "str",
                "event_timestamp": "datetime_utc",
                **dict.fromkeys(onehot, "int"),
                "country_vocab_version": "str",
            }
        ),
        *_not_null("guest_id", "event_timestamp", "country_vocab_version"),
        _key("guest_id"),
        # One-hot: every column 0/1 and exactly one set per row.
        _x(
            fx.ExpectColumnsToBeOneHot(column_list=onehot),
            "not exactly one country column set (or a value other than 0/1)",
        ),
        _in_set("country_vocab_version", ("v1",), "an unknown vocabulary version"),
        _not_future("event_timestamp"),
    ]


def guest_session_embedding() -> list[Expectation]:
    dims = [f"session_emb_{i}" for i in range(8)]
    return [
        *_schema(
            {
                "guest_id": "str",
                "event_timestamp": "datetime_utc",
                **dict.fromkeys(dims, "float"),
                "sessions_seen": "int",
                "session_reducer_version": "str",
            }
        ),
        *_not_null("guest_id", "event_timestamp", "session_reducer_version"),
        _key("guest_id", "event_timestamp"),
        # An embedding with NaN or inf breaks every model that reads it.
        _x(fx.ExpectMulticolumnValuesToBeFinite(column_list=dims), "a non-finite embedding"),
        _between("sessions_seen", 1, None, "an embedding of no session"),
        _not_future("event_timestamp"),
    ]


def weather_daily() -> list[Expectation]:
    t, p = ref.WEATHER_RANGES["temperature_c"], ref.WEATHER_RANGES["precipitation_mm"]
    return [
        *_schema(
            {
                "station_id": "int",
                "event_timestamp": "datetime_utc",
                "temperature_c": "float",
                "precipitation_mm": "float",
            }
        ),
        *_not_null("station_id", "event_timestamp"),
        _key("station_id", "event_timestamp"),
        _between("temperature_c", *t, "impossible temperature"),
        _between("precipitation_mm", *p, "impossible precipitation"),
        _not_future("event_timestamp", 1.0),
    ]


def weather_sunshine() -> list[Expectation]:
    return [
        *_schema({"station_id": "int", "event_timestamp": "datetime_utc", "sunshine_s": "float"}),
        *_not_null("station_id", "event_timestamp", "sunshine_s"),
        _key("station_id", "event_timestamp"),
        _between("sunshine_s", *ref.WEATHER_RANGES["sunshine_s"], "more sunshine than an hour"),
        # Hours without an observation: real (station outages), flagged not blocked.
        _x(
            fx.ExpectHourlyGridToBeComplete(key_column="station_id", time_column="event_timestamp"),
            "missing sunshine hours",
            WARNING,
        ),
        _not_future("event_timestamp", 1.0),
    ]


_LINEAGE_COLUMNS = ("model_name", "model_version", "feature_service", "as_of")
_PREDICTION_LINEAGE = dict.fromkeys(_LINEAGE_COLUMNS, "str")


def price_predictions() -> list[Expectation]:
    lo, hi = ref.DAY_AHEAD_MIN_EUR_MWH, ref.DAY_AHEAD_MAX_EUR_MWH
    return [
        *_schema(
            {
                "zone": "str",
                "event_timestamp": "datetime_utc",
                "predicted_price_eur_mwh": "float",
                "issue_time": "str",
                **_PREDICTION_LINEAGE,
            }
        ),
        # A prediction without its model version cannot be traced back or monitored.
        *_not_null("zone", "event_timestamp", "predicted_price_eur_mwh", *_PREDICTION_LINEAGE),
        _key("zone", "event_timestamp"),
        # A forecast beyond the market's price limits: a broken model or broken inputs.
        _between("predicted_price_eur_mwh", lo, hi, "forecast beyond the market price limits"),
    ]


def cancellation_predictions() -> list[Expectation]:
    return [
        *_schema(
            {
                "booking_id": "str",
                "event_timestamp": "datetime_utc",
                "cancel_probability": "float",
                **_PREDICTION_LINEAGE,
            }
        ),
        *_not_null("booking_id", "event_timestamp", "cancel_probability", *_PREDICTION_LINEAGE),
        _key("booking_id", "event_timestamp"),
        # A probability outside [0, 1]: a model that does not return probabilities.
        _between("cancel_probability", 0.0, 1.0, "probability outside [0, 1]"),
        _not_future("event_timestamp", 1.0),
    ]


BUILDERS: dict[str, Callable[[], list[Expectation]]] = {
    f.__name__: f
    for f in (
        prices,
        bookings,
        booking_labels,
        weather,
        guests,
        sessions,
        zone_prices,
        booking_details,
        hotel_weekly_vacancy,
        guest_age_band,
        guest_home_country,
        guest_session_embedding,
        weather_daily,
        weather_sunshine,
        price_predictions,
        cancellation_predictions,
    )
}
# Suites whose expectations need reference inputs, and which lake table provides them.
REFERENCES: dict[str, dict[str, str]] = {"hotel_weekly_vacancy": {"bookings": "bookings"}}


def build_suite(table: str) -> ExpectationSuite:
    """The expectation suite of a lake table or feature view (named like the table)."""
    if table not in BUILDERS:
        raise KeyError(f"no expectation suite for {table!r}; known: {', '.join(BUILDERS)}")
    return ExpectationSuite(name=table, expectations=BUILDERS[table]())


def unique_keys(name: str) -> list[tuple[str, ...]]:
    """The column sets the suite of table `name` expects to be unique (`_key`, hour per key)."""
    keys: list[tuple[str, ...]] = []
    for expectation in BUILDERS[name]():
        if isinstance(expectation, E.ExpectColumnValuesToBeUnique):
            keys.append((expectation.column,))
        elif isinstance(
            expectation, fx.ExpectCompoundKeyToBeUnique | fx.ExpectHourStartsToBeUniquePerKey
        ):
            keys.append(tuple(expectation.column_list))
    return keys


def suite_json(suite: ExpectationSuite) -> dict[str, Any]:
    """Canonical JSON of a suite: name and expectations without the ids GX assigns."""
    expectations = []
    for expectation in suite.expectations:
        config = expectation.configuration.to_json_dict()
        config.pop("id", None)
        severity = getattr(expectation, "severity", CRITICAL)
        config["severity"] = str(getattr(severity, "value", severity))
        expectations.append(config)
    return {"name": suite.name, "expectations": expectations}


def suite_version(suite: ExpectationSuite) -> str:
    text = json.dumps(suite_json(suite), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
