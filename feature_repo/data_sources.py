"""Feast data sources: parquet folders under <state>/offline, resolved by the offline store root."""

from feast import FileSource


def _source(view: str) -> FileSource:
    # Relative path: fti.feast_offline resolves it against `offline_store.root`.
    return FileSource(
        name=f"{view}_source",
        path=view,
        timestamp_field="event_timestamp",
        description=f"Offline feature table {view} written by the feature pipeline",
    )


zone_prices_source = _source("zone_prices")
booking_details_source = _source("booking_details")
hotel_weekly_vacancy_source = _source("hotel_weekly_vacancy")
guest_age_band_source = _source("guest_age_band")
guest_home_country_source = _source("guest_home_country")
guest_session_embedding_source = _source("guest_session_embedding")
weather_daily_source = _source("weather_daily")
weather_sunshine_source = _source("weather_sunshine")
price_predictions_source = _source("price_predictions")
cancellation_predictions_source = _source("cancellation_predictions")
