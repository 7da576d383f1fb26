"""Where each lake and feature table lives, its key and how it is partitioned."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fti import lake
from fti.settings import Settings


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    time_column: str
    partition: lake.Partitioner
    offline: bool  # True: a Feast feature table under offline/, False: a lake table

    def root(self, settings: Settings) -> Path:
        base = settings.offline_dir if self.offline else settings.lake_dir
        return base / self.name


def _lake(name: str, key: tuple[str, ...], time_column: str, part: lake.Partitioner) -> Table:
    return Table(name, key, time_column, part, offline=False)


def _feature(name: str, key: tuple[str, ...], part: lake.Partitioner | None = None) -> Table:
    keys = (*key, "event_timestamp")
    return Table(name, keys, "event_timestamp", part or lake.by_year("event_timestamp"), True)


LAKE = {
    t.name: t
    for t in (
        _lake("prices", ("zone", "ts"), "ts", lake.by_column_and_year("zone", "ts")),
        _lake("bookings", ("booking_id",), "booking_time", lake.by_year("booking_time")),
        _lake("booking_labels", ("booking_id",), "booking_time", lake.by_year("booking_time")),
        _lake("guests", ("guest_id",), "first_seen", lake.by_year("first_seen")),
        _lake("sessions", ("session_id",), "ended_at", lake.by_year("ended_at")),
        _lake(
            "weather",
            ("station_id", "parameter", "period_end"),
            "period_end",
            lake.by_column_and_year("parameter", "period_end"),
        ),
    )
}

FEATURES = {
    t.name: t
    for t in (
        _feature("zone_prices", ("zone",), lake.by_column_and_year("zone", "event_timestamp")),
        _feature("booking_details", ("booking_id",)),
        _feature("hotel_weekly_vacancy", ("hotel", "stay_week_start")),
        _feature("guest_age_band", ("guest_id",)),
        _feature("guest_home_country", ("guest_id",)),
        _feature("guest_session_embedding", ("guest_id",)),
        _feature("weather_daily", ("station_id",)),
        _feature("weather_sunshine", ("station_id",)),
        # Batch predictions (flows/batch_inference.py): written like features, served by Feast.
        _feature(
            "price_predictions", ("zone",), lake.by_column_and_year("zone", "event_timestamp")
        ),
        _feature("cancellation_predictions", ("booking_id",)),
    )
}
# Feature tables written by batch inference, not by the feature pipelines.
PREDICTION_VIEWS = ("price_predictions", "cancellation_predictions")
