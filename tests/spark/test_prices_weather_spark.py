"""The Spark price and weather features equal the pandas ones, value for value."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from features.prices import FEATURE_COLUMNS, price_features_window, read_entsoe
from features.spark import prices as spark_prices
from features.spark import weather as spark_weather
from features.spark.io import read_lake_table, to_pandas
from features.synthetic import ENTSOE_DIR, SMHI_DIR, SyntheticSpec, generate_raw
from features.weather import read_smhi, sunshine_features, weather_daily_features
from fti import lake
from fti.tables import LAKE

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = pytest.mark.spark

PRICE_KEYS = ["zone", "event_timestamp"]
WEATHER_KEYS = ["station_id", "event_timestamp"]


def _lake(spark: SparkSession, table: str, frame: pd.DataFrame, folder: Path) -> DataFrame:
    """The lake table as the pipelines write it (fti.lake, its partitions), read by Spark."""
    spec = LAKE[table]
    root = folder / "lake" / table
    lake.upsert(frame, root, spec.key, spec.partition)
    return read_lake_table(spark, root)


def _assert_prices_equal(
    spark: SparkSession,
    prices: pd.DataFrame,
    folder: Path,
    start: str,
    end: str,
    window_hours: tuple[int, ...] = (168,),
) -> None:
    table = _lake(spark, "prices", prices, folder)
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    for hours in window_hours:
        expected = price_features_window(prices, lo, hi, hours)
        expected = expected.sort_values(PRICE_KEYS, ignore_index=True)
        assert len(expected) > 0
        got = to_pandas(spark_prices.price_features_window(table, lo, hi, hours), strings=object)
        got = got.sort_values(PRICE_KEYS, ignore_index=True)
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=f"{hours}h")


def _assert_weather_equal(spark: SparkSession, weather: pd.DataFrame, folder: Path) -> None:
    table = _lake(spark, "weather", weather, folder)
    for pandas_fn, spark_fn in (
        (weather_daily_features, spark_weather.weather_daily_features),
        (sunshine_features, spark_weather.sunshine_features),
    ):
        expected = pandas_fn(weather)
        assert len(expected) > 0
        # Both sort by station and time: the row order is compared too.
        pd.testing.assert_frame_equal(to_pandas(spark_fn(table)), expected, check_exact=True)


@pytest.mark.realdata
def test_real_prices_equal_pandas(spark: SparkSession, shared_data: Path, tmp_path: Path) -> None:
    """The four zones' real ENTSO-E exports, the window of 2020 with its lookback into 2019
    (both DST changes, real holes, negative and flat prices). One year keeps the test short;
    the whole 2016-2024 data was compared the same way (see the README's Spark profile)."""
    files = [
        shared_data / "entsoe_day_ahead" / f"{zone}_{year}_entsoe.csv"
        for zone in ("SE1", "SE2", "SE3", "SE4")
        for year in (2019, 2020)
    ]
    prices = pd.concat([read_entsoe(p).frame for p in files], ignore_index=True)
    _assert_prices_equal(spark, prices, tmp_path, "2020-01-01", "2021-01-01")


@pytest.mark.realdata
def test_real_weather_equal_pandas(spark: SparkSession, shared_data: Path, tmp_path: Path) -> None:
    files = sorted((shared_data / "smhi_weather").glob("*.csv"))
    weather = pd.concat([read_smhi(p).frame for p in files], ignore_index=True)
    assert len(weather) > 100_000
    _assert_weather_equal(spark, weather, tmp_path)


def test_synthetic_equal_pandas(spark: SparkSession, tmp_path: Path) -> None:
    """The tiny synthetic data: the spring-forward day and trailing `n/e` hours in it; the
    scaling window shorter and longer than the 168h lookback."""
    files = generate_raw(tmp_path / "raw", SyntheticSpec.sized("tiny"))
    prices = pd.concat([read_entsoe(p).frame for p in files[ENTSOE_DIR]], ignore_index=True)
    _assert_prices_equal(spark, prices, tmp_path, "2000-01-01", "2100-01-01", (168, 24, 200))
    weather = pd.concat([read_smhi(p).frame for p in files[SMHI_DIR]], ignore_index=True)
    _assert_weather_equal(spark, weather, tmp_path)


def _hours(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="h", tz="UTC")


def test_price_edge_cases_equal_pandas(spark: SparkSession, tmp_path: Path) -> None:
    """Gaps (missing hours, a zone with one price), flat windows (std 0, scaled 0.5), the
    autumn DST change in UTC, negative prices, a window starting mid-series."""
    rng = np.random.default_rng(3)
    a = _hours("2023-10-20", 400)  # over the 29 October fall-back (UTC stays hourly)
    keep = np.ones(len(a), bool)
    keep[[5, 30, 31, 32, 200]] = False  # holes: lags and windows see fewer hours
    prices = pd.concat(
        [
            pd.DataFrame(
                {"zone": "SE1", "ts": a[keep], "price_eur_mwh": rng.normal(40, 30, keep.sum())}
            ),
            # Flat for two days, then a step: std exactly 0, scaled 0.5, then 1.
            pd.DataFrame(
                {
                    "zone": "SE2",
                    "ts": _hours("2023-10-25", 60),
                    "price_eur_mwh": [12.5] * 48 + [-3.25] * 12,
                }
            ),
            pd.DataFrame(
                {"zone": "SE3", "ts": _hours("2023-11-01 05:00", 1), "price_eur_mwh": [0.1]}
            ),
        ],
        ignore_index=True,
    ).astype({"zone": object, "ts": "datetime64[ns, UTC]"})
    prices["source"] = "edge.csv"
    _assert_prices_equal(spark, prices, tmp_path, "2023-10-20", "2023-12-01", (168, 1, 24, 500))
    _assert_prices_equal(spark, prices, tmp_path, "2023-10-27 13:00", "2023-11-02", (168,))


def test_invalid_prices_are_errors(spark: SparkSession, tmp_path: Path) -> None:
    prices = pd.DataFrame(
        {
            "zone": ["SE1", "SE1"],
            "ts": pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T00:00Z"], utc=True),
            "price_eur_mwh": [1.0, 2.0],
        }
    )
    frame = spark.createDataFrame(prices)
    with pytest.raises(ValueError, match="duplicate"):
        spark_prices.price_features(frame)
    with pytest.raises(ValueError, match="window_hours"):
        spark_prices.price_features(frame, window_hours=0)


def test_weather_edge_cases_equal_pandas(spark: SparkSession, tmp_path: Path) -> None:
    """A station with only precipitation, NaN free outer join holes, two stations, an hour of
    sunshine; a duplicate observation is an error in both paths."""
    end = pd.to_datetime(
        ["2024-03-01T00:00Z", "2024-03-01T06:00Z", "2024-03-02T00:00Z", "2024-03-01T06:00Z"]
    )
    weather = pd.DataFrame(
        {
            "station_id": np.array([1, 1, 1, 2], dtype="int64"),
            "parameter": ["temperature_c", "precipitation_mm", "temperature_c", "precipitation_mm"],
            "period_start": end - pd.Timedelta(days=1),
            "period_end": end,
            "value": [-4.5, 0.0, 1.25, 3.5],
            "quality": ["G", "G", "Y", "G"],
        }
    )
    sun = weather.iloc[:1].assign(
        parameter="sunshine_s",
        period_start=pd.Timestamp("2024-03-01T11:00Z"),
        period_end=pd.Timestamp("2024-03-01T12:00Z"),
        value=3600.0,
    )
    weather = pd.concat([weather, sun], ignore_index=True)
    _assert_weather_equal(spark, weather, tmp_path)
    twice = pd.concat([weather, weather.iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match="duplicate"):
        weather_daily_features(twice)
    table = spark.createDataFrame(twice)
    with pytest.raises(ValueError, match="duplicate"):
        spark_weather.weather_daily_features(table)


def test_shares_the_pandas_definitions() -> None:
    assert spark_prices.FEATURE_COLUMNS is FEATURE_COLUMNS
    assert set(spark_weather.DAILY_PARAMETERS) | {spark_weather.SUNSHINE_PARAMETER} <= {
        lake_name for lake_name, _ in spark_weather.PARAMETERS.values()
    }
