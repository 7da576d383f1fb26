"""Weather features on Spark: the mirror of features/weather.py (weather_daily, weather_sunshine).

Input is the lake `weather` table (station_id, parameter, period_start, period_end, value,
quality) as a Spark DataFrame; the session time zone must be UTC. The lake parameter names are
the pandas module's (features.weather.PARAMETERS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from features.weather import PARAMETERS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_LAKE_NAMES = {lake for lake, _ in PARAMETERS.values()}
DAILY_PARAMETERS: tuple[str, ...] = ("temperature_c", "precipitation_mm")
SUNSHINE_PARAMETER = "sunshine_s"
if not {*DAILY_PARAMETERS, SUNSHINE_PARAMETER} <= _LAKE_NAMES:  # pragma: no cover - definition
    raise ImportError(f"weather parameters not in features.weather.PARAMETERS: {_LAKE_NAMES}")


def _observations(obs: DataFrame, parameters: tuple[str, ...]) -> DataFrame:
    """The rows of these parameters; a repeated (station, parameter, period_end) is an error."""
    from pyspark.sql import functions as F

    rows = obs.where(F.col("parameter").isin(list(parameters)))
    repeated = (
        rows.groupBy("station_id", "parameter", "period_end").count().where("count > 1").limit(1)
    )
    if repeated.count():
        raise ValueError("weather has duplicate (station_id, parameter, period_end)")
    return rows


def weather_daily_features(obs: DataFrame) -> DataFrame:
    """The `weather_daily` table (features.weather.weather_daily_features on Spark).

    Outer join on (station_id, period_end) of temperature and precipitation: NaN (null in
    Spark) for the parameter a period end does not have. Sorted by station, event_timestamp.
    """
    from pyspark.sql import functions as F

    rows = _observations(obs, DAILY_PARAMETERS)
    wide = (
        rows.groupBy("station_id", "period_end")
        .pivot("parameter", list(DAILY_PARAMETERS))
        .agg(F.first("value"))
    )
    return wide.select(
        F.col("station_id").cast("long").alias("station_id"),
        F.col("period_end").alias("event_timestamp"),
        *[F.col(p).cast("double").alias(p) for p in DAILY_PARAMETERS],
    ).orderBy("station_id", "event_timestamp")


def sunshine_features(obs: DataFrame) -> DataFrame:
    """The `weather_sunshine` table (features.weather.sunshine_features on Spark)."""
    from pyspark.sql import functions as F

    rows = _observations(obs, (SUNSHINE_PARAMETER,))
    return rows.select(
        F.col("station_id").cast("long").alias("station_id"),
        F.col("period_end").alias("event_timestamp"),
        F.col("value").cast("double").alias(SUNSHINE_PARAMETER),
    ).orderBy("station_id", "event_timestamp")
