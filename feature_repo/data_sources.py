"""Feast data sources: one parquet folder per feature view under <state>/offline.

The source kind follows the offline store the repo is parsed for (fti.store sets
FTI_FEAST_SOURCES while it parses; for the feast CLI, export it as `fti env` would):

- ``file`` (default): FileSource with a path relative to the DuckDB ASOF store's ``root``;
- ``spark``: SparkSource over the absolute folder ``$FTI_STATE_DIR/offline/<view>``, which
  Feast's Spark offline store and compute engine read. Spark discovers the ``year=YYYY``
  (and ``zone=...``) partition folders; ``year`` prunes the files a query reads.

Same names, same tables, same timestamps either way.
"""

import os

from feast.data_source import DataSource

SOURCE_KIND = os.environ.get("FTI_FEAST_SOURCES", "file")


def _source(view: str) -> DataSource:
    name = f"{view}_source"
    description = f"Offline feature table {view} written by the feature pipeline"
    if SOURCE_KIND == "spark":
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import (
            SparkSource,
        )

        state = os.environ.get("FTI_STATE_DIR")
        if not state:
            raise RuntimeError("data_sources.py: SparkSource paths need FTI_STATE_DIR")
        return SparkSource(
            name=name,
            path=os.path.join(os.path.abspath(state), "offline", view),
            file_format="parquet",
            timestamp_field="event_timestamp",
            # fti.lake partitions every offline table by the year of event_timestamp.
            date_partition_column="year",
            date_partition_column_format="%Y",
            description=description,
        )
    if SOURCE_KIND != "file":
        raise ValueError(f"FTI_FEAST_SOURCES={SOURCE_KIND!r}: expected 'file' or 'spark'")
    from feast import FileSource

    # Relative path: fti.feast_offline resolves it against `offline_store.root`.
    return FileSource(
        name=name,
        path=view,
        timestamp_field="event_timestamp",
        description=description,
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
