"""Feast feature services: the exact list of features each model version reads."""

from feast import FeatureService
from feature_views import (
    booking_details,
    guest_age_band,
    guest_home_country,
    guest_session_embedding,
    hotel_weekly_vacancy,
    weather_daily,
    weather_sunshine,
    zone_prices,
)

price_forecaster_v1 = FeatureService(
    name="price_forecaster_v1",
    # Daily and sunshine observations come from different stations: each gets its own key.
    features=[
        zone_prices,
        weather_daily.with_join_key_map({"station_id": "weather_station_id"}),
        weather_sunshine.with_join_key_map({"station_id": "sunshine_station_id"}),
    ],
    description="Day-ahead price forecaster, version 1",
    owner="energy@fti.example",
    tags={"model": "price_forecaster"},
)

cancellation_classifier_v1 = FeatureService(
    name="cancellation_classifier_v1",
    features=[
        booking_details,
        hotel_weekly_vacancy,
        guest_age_band,
        guest_home_country,
        guest_session_embedding,
    ],
    description="Booking cancellation classifier at booking time, version 1",
    owner="hospitality@fti.example",
    tags={"model": "cancellation_classifier"},
)

cancellation_classifier_v2 = FeatureService(
    name="cancellation_classifier_v2",
    # v1 without the protected attributes (age band, home country): what the cancellation
    # model's default feature policy allows (models/config.py; README "Responsible features").
    features=[
        booking_details,
        hotel_weekly_vacancy,
        guest_session_embedding,
    ],
    description="Booking cancellation classifier at booking time, version 2: no protected "
    "attributes",
    owner="hospitality@fti.example",
    tags={"model": "cancellation_classifier"},
)
