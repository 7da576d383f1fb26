"""Booking features and weekly vacancy on Spark: the mirror of features/bookings.py.

Input is the lake `bookings` table (what features.bookings.read_bookings returns) as a Spark
DataFrame, e.g. read from its parquet: booking_time a UTC timestamp, arrival_date and
reservation_status_date dates or timestamps (naive, i.e. UTC days). The session time zone must
be UTC (features.spark.session sets it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from features.bookings import BOOKING_FEATURE_COLUMNS, DEFAULT_CAPACITY

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

# Columns booking_features derives; every other feature column is the lake column as is.
DERIVED_FEATURE_COLUMNS: tuple[str, ...] = (
    "hotel",
    "stay_week_start",
    "lead_time",
    "arrival_month",
    "arrival_week_number",
    "children",
    "agent",
    "company",
)
_unknown = set(DERIVED_FEATURE_COLUMNS) - set(BOOKING_FEATURE_COLUMNS)
if _unknown:  # pragma: no cover - a definition error, caught at import
    raise ImportError(f"derived columns not in BOOKING_FEATURE_COLUMNS: {sorted(_unknown)}")


def _week_start(day: Column) -> Column:
    """ISO date string of the Monday of the day's week (pandas: stay_week_start)."""
    from pyspark.sql import functions as F

    return F.date_format(F.date_sub(day, F.weekday(day)), "yyyy-MM-dd")


def booking_features(bookings: DataFrame) -> DataFrame:
    """The `booking_details` feature table (features.bookings.booking_features on Spark).

    Same columns in the same order; arrival_week_number is the ISO week (Spark weekofyear),
    children double, agent and company string ids.
    """
    from pyspark.sql import functions as F

    arrival = F.to_date(F.col("arrival_date"))
    derived: dict[str, Column] = {
        "hotel": F.col("hotel").cast("string"),
        "stay_week_start": _week_start(arrival),
        "lead_time": F.col("lead_time").cast("long"),
        "arrival_month": F.month(arrival).cast("long"),
        "arrival_week_number": F.weekofyear(arrival).cast("long"),
        "children": F.col("children").cast("double"),
        "agent": F.col("agent").cast("long").cast("string"),
        "company": F.col("company").cast("long").cast("string"),
    }
    assert tuple(derived) == DERIVED_FEATURE_COLUMNS
    columns = [
        F.col("booking_id").cast("string").alias("booking_id"),
        F.col("booking_time").alias("event_timestamp"),
        *[(derived[c] if c in derived else F.col(c)).alias(c) for c in BOOKING_FEATURE_COLUMNS],
    ]
    return bookings.select(*columns)


def _check_capacity(bookings: DataFrame, capacity: Mapping[str, int]) -> None:
    from pyspark.sql import functions as F

    hotels = bookings.select("hotel").where(F.col("hotel").isNotNull()).distinct().collect()
    unknown = sorted({str(r["hotel"]) for r in hotels} - set(capacity))
    if unknown:
        raise ValueError(f"no capacity for hotels: {', '.join(unknown)}")


def weekly_vacancy(
    bookings: DataFrame, capacity: Mapping[str, int] = DEFAULT_CAPACITY
) -> DataFrame:
    """The `hotel_weekly_vacancy` feature table (features.bookings.weekly_vacancy on Spark).

    Same event sourcing: a booking adds each of its nights to the week the night falls in at
    booking_time; a cancellation removes them at reservation_status_date + 1 day 00:00 UTC; one
    row per (hotel, stay_week_start, time the value changed), cumulative, a day whose changes
    cancel out gives no row. Rows sorted by hotel, stay_week_start, event_timestamp.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    _check_capacity(bookings, capacity)
    weekend = F.coalesce(F.col("stays_in_weekend_nights").cast("long"), F.lit(0))
    week = F.coalesce(F.col("stays_in_week_nights").cast("long"), F.lit(0))
    arrival = F.to_date(F.col("arrival_date"))
    stays = (
        bookings.select(
            F.col("hotel").cast("string").alias("hotel"),
            arrival.alias("arrival"),
            F.greatest(weekend + week, F.lit(0)).alias("nights"),
            F.weekday(arrival).cast("long").alias("offset"),
            F.col("booking_time").alias("added_at"),
            (F.coalesce(F.col("is_canceled").cast("long"), F.lit(0)) == 1).alias("canceled"),
            F.to_timestamp(F.date_add(F.to_date(F.col("reservation_status_date")), 1)).alias(
                "removed_at"
            ),
        )
        .where(F.col("nights") > 0)
        .withColumn("n_weeks", F.floor((F.col("offset") + F.col("nights") - 1) / 7) + 1)
        .withColumn("j", F.explode(F.sequence(F.lit(0), F.col("n_weeks").cast("int") - 1)))
    )
    j7 = F.col("j") * 7
    nights = stays.select(
        "hotel",
        "added_at",
        "canceled",
        "removed_at",
        F.date_add(F.date_sub(F.col("arrival"), F.col("offset").cast("int")), j7).alias("monday"),
        (
            F.least(F.lit(7), F.col("offset") + F.col("nights") - j7)
            - F.greatest(F.lit(0), F.col("offset") - j7)
        ).alias("in_week"),
    )
    events = nights.select(
        "hotel", "monday", F.col("added_at").alias("t"), F.col("in_week").alias("delta")
    ).unionByName(
        nights.where("canceled").select(
            "hotel", "monday", F.col("removed_at").alias("t"), (-F.col("in_week")).alias("delta")
        )
    )
    per_day = events.groupBy("hotel", "monday", "t").agg(F.sum("delta").alias("delta"))
    running = (
        Window.partitionBy("hotel", "monday")
        .orderBy("t")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    cap_map = F.create_map(*[F.lit(x) for h, c in capacity.items() for x in (h, 7 * int(c))])
    booked = F.col("booked_room_nights")
    cap = F.col("capacity_room_nights")
    return (
        per_day.withColumn("booked_room_nights", F.sum("delta").over(running).cast("long"))
        .where(F.col("delta") != 0)
        .select(
            "hotel",
            F.date_format("monday", "yyyy-MM-dd").alias("stay_week_start"),
            F.col("t").alias("event_timestamp"),
            booked,
            cap_map[F.col("hotel")].cast("long").alias("capacity_room_nights"),
        )
        .withColumn(
            "vacancy_level",
            F.least(F.lit(1.0), F.greatest(F.lit(0.0), 1.0 - booked.cast("double") / cap)),
        )
        .orderBy("hotel", "stay_week_start", "event_timestamp")
    )
