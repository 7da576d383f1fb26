"""Feast feature views: one per offline feature table written by flows/features.py."""

from datetime import timedelta

from data_sources import (
    booking_details_source,
    cancellation_predictions_source,
    guest_age_band_source,
    guest_home_country_source,
    guest_session_embedding_source,
    hotel_weekly_vacancy_source,
    price_predictions_source,
    weather_daily_source,
    weather_sunshine_source,
    zone_prices_source,
)
from entities import booking, guest, hotel, station, stay_week, zone
from feast import FeatureView, Field
from feast.types import Float64, Int64, String

from features.guests import COUNTRY_VOCAB_V1

# Must equal the dimension of features.guests.SessionReducer (a test checks it).
EMBEDDING_DIM = 8

NONE = {"sensitivity": "none"}
PERSONAL = {"sensitivity": "personal"}
PROTECTED = {"sensitivity": "protected"}


def _f(name: str, dtype, description: str, tags: dict[str, str] = NONE) -> Field:
    return Field(name=name, dtype=dtype, description=description, tags=dict(tags))


zone_prices = FeatureView(
    name="zone_prices",
    entities=[zone],
    ttl=timedelta(days=2),
    schema=[
        _f("price_eur_mwh", Float64, "Day-ahead price of the hour (EUR/MWh)"),
        _f("price_scaled", Float64, "Price min-max scaled into [0, 1] over the trailing window"),
        _f("price_lag_24h", Float64, "Price of the same hour one day earlier"),
        _f("price_lag_168h", Float64, "Price of the same hour one week earlier"),
        _f("price_mean_24h", Float64, "Mean price over the trailing 24 hours"),
        _f("price_std_24h", Float64, "Standard deviation over the trailing 24 hours"),
        _f("price_mean_168h", Float64, "Mean price over the trailing 168 hours"),
        _f("price_min_168h", Float64, "Minimum price over the trailing 168 hours"),
        _f("price_max_168h", Float64, "Maximum price over the trailing 168 hours"),
    ],
    source=zone_prices_source,
    online=True,
    description="Hourly day-ahead prices per bidding zone, scaled, lagged and rolled",
    owner="energy@fti.example",
    tags={"schedule": "daily 13:30 Europe/Stockholm", "freshness_objective": "2d"},
)

booking_details = FeatureView(
    name="booking_details",
    entities=[booking],
    ttl=timedelta(days=0),
    schema=[
        _f("lead_time", Int64, "Days between booking and arrival"),
        _f("arrival_month", Int64, "Month of arrival (1-12)"),
        _f("arrival_week_number", Int64, "ISO week number of arrival"),
        _f("stays_in_weekend_nights", Int64, "Booked weekend nights"),
        _f("stays_in_week_nights", Int64, "Booked week nights"),
        _f("adults", Int64, "Adults in the booking"),
        _f("children", Float64, "Children in the booking (missing in some rows)"),
        _f("babies", Int64, "Babies in the booking"),
        _f("meal", String, "Meal plan"),
        _f("market_segment", String, "Market segment"),
        _f("distribution_channel", String, "Distribution channel"),
        _f("is_repeated_guest", Int64, "1 if the guest booked before"),
        _f("previous_cancellations", Int64, "Earlier bookings of the guest that were cancelled"),
        _f("previous_bookings_not_canceled", Int64, "Earlier bookings of the guest not cancelled"),
        _f("reserved_room_type", String, "Reserved room type (code)"),
        _f("deposit_type", String, "Deposit type"),
        _f("agent", String, "Travel agency id (missing when booked directly)"),
        _f("company", String, "Company id (missing for private bookings)"),
        _f("customer_type", String, "Customer type"),
        _f("adr", Float64, "Average daily rate (EUR)"),
        _f("required_car_parking_spaces", Int64, "Parking spaces requested"),
        _f("total_of_special_requests", Int64, "Special requests made"),
    ],
    # The table also holds hotel and stay_week_start: they are the join keys of
    # hotel_weekly_vacancy, so they belong in the entity rows, not among the features.
    source=booking_details_source,
    online=True,
    description="What is known about a booking when it is made (outcome columns are labels)",
    owner="hospitality@fti.example",
    tags={"schedule": "daily 06:00 Europe/Lisbon", "freshness_objective": "2d"},
)

hotel_weekly_vacancy = FeatureView(
    name="hotel_weekly_vacancy",
    entities=[hotel, stay_week],
    ttl=timedelta(days=0),
    schema=[
        _f("booked_room_nights", Int64, "Room nights booked and not cancelled, as known then"),
        _f("capacity_room_nights", Int64, "Rooms x 7"),
        _f("vacancy_level", Float64, "1 - booked / capacity, clipped into [0, 1]"),
    ],
    source=hotel_weekly_vacancy_source,
    online=True,
    description="Weekly vacancy level per hotel and stay week, as known at each time",
    owner="hospitality@fti.example",
    tags={"schedule": "daily 06:00 Europe/Lisbon", "freshness_objective": "2d"},
)

guest_age_band = FeatureView(
    name="guest_age_band",
    entities=[guest],
    ttl=timedelta(days=0),
    schema=[
        _f("age_band", String, "Age band at the event time (never the date of birth)", PROTECTED),
    ],
    source=guest_age_band_source,
    online=True,
    description="Guest's age band; a new row starts at every band boundary birthday",
    owner="hospitality@fti.example",
    tags={"schedule": "daily 06:00 Europe/Lisbon", "freshness_objective": "2d"},
)

guest_home_country = FeatureView(
    name="guest_home_country",
    entities=[guest],
    ttl=timedelta(days=0),
    schema=[
        *[
            _f(f"country_{code}", Int64, f"1 if the home country is {code}", PROTECTED)
            for code in COUNTRY_VOCAB_V1
        ],
        _f(
            "country_other",
            Int64,
            "1 if the country is unknown or not in the vocabulary",
            PROTECTED,
        ),
        _f("country_vocab_version", String, "Version of the fixed country vocabulary"),
    ],
    source=guest_home_country_source,
    online=True,
    description="Guest's home country one-hot encoded over a fixed, versioned vocabulary",
    owner="hospitality@fti.example",
    tags={"schedule": "daily 06:00 Europe/Lisbon", "freshness_objective": "2d"},
)

guest_session_embedding = FeatureView(
    name="guest_session_embedding",
    entities=[guest],
    ttl=timedelta(days=0),
    schema=[
        *[
            _f(f"session_emb_{i}", Float64, f"Component {i} of the web-history embedding", PERSONAL)
            for i in range(EMBEDDING_DIM)
        ],
        _f("sessions_seen", Int64, "Web sessions in the history so far", PERSONAL),
        _f("session_reducer_version", String, "Version of the seeded random projection"),
    ],
    source=guest_session_embedding_source,
    online=True,
    description="Embedding of the guest's web-session history up to each session's end",
    owner="hospitality@fti.example",
    tags={"schedule": "daily 06:00 Europe/Lisbon", "freshness_objective": "2d"},
)

weather_daily = FeatureView(
    name="weather_daily",
    entities=[station],
    ttl=timedelta(days=3),
    schema=[
        _f("temperature_c", Float64, "Daily mean air temperature (deg C)"),
        _f("precipitation_mm", Float64, "Daily precipitation (mm)"),
    ],
    source=weather_daily_source,
    online=True,
    description="SMHI daily observations, as observed at the end of each period",
    owner="energy@fti.example",
    tags={"schedule": "daily 08:00 Europe/Stockholm", "freshness_objective": "2d"},
)

weather_sunshine = FeatureView(
    name="weather_sunshine",
    entities=[station],
    ttl=timedelta(days=2),
    schema=[_f("sunshine_s", Float64, "Seconds of sunshine in the hour")],
    source=weather_sunshine_source,
    online=True,
    description="SMHI hourly sunshine duration, as observed at the end of each hour",
    owner="energy@fti.example",
    tags={"schedule": "daily 08:00 Europe/Stockholm", "freshness_objective": "2d"},
)


# Batch predictions (flows/batch_inference.py): every row names the model version that made it.
_PREDICTION_LINEAGE = [
    _f("model_name", String, "Registered MLflow model that made the prediction"),
    _f("model_version", String, "Model version the champion alias resolved to"),
    _f("feature_service", String, "Feast feature service the inputs were read through"),
    _f("as_of", String, "Time the features were read as of (ISO 8601, UTC)"),
]

price_predictions = FeatureView(
    name="price_predictions",
    entities=[zone],
    ttl=timedelta(hours=1),  # event_timestamp is the delivery hour: a row answers that hour only
    schema=[
        _f("predicted_price_eur_mwh", Float64, "Day-ahead price forecast of the delivery hour"),
        _f("issue_time", String, "When the forecast was issued (ISO 8601, UTC)"),
        *_PREDICTION_LINEAGE,
    ],
    source=price_predictions_source,
    online=True,
    description="Champion price forecasts: event_timestamp is the delivery hour",
    owner="energy@fti.example",
    tags={"schedule": "daily 14:00 Europe/Stockholm", "freshness_objective": "2d"},
)

cancellation_predictions = FeatureView(
    name="cancellation_predictions",
    entities=[booking],
    ttl=timedelta(days=0),
    schema=[
        _f("cancel_probability", Float64, "Probability that the booking is cancelled"),
        *_PREDICTION_LINEAGE,
    ],
    source=cancellation_predictions_source,
    online=True,
    description="Champion cancellation probabilities: event_timestamp is the booking time",
    owner="hospitality@fti.example",
    tags={"schedule": "daily 06:30 Europe/Lisbon", "freshness_objective": "2d"},
)
