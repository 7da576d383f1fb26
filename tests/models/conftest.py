"""Seeded synthetic training frames shaped like the feature services' output, and MLflow in tmp."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fti.settings import Settings
from models.data import TrainingData, price_rows
from models.gate import ValidationStatus
from models.lineage import Lineage

PRICE_FIELDS = {
    "price_eur_mwh": "Float64",
    "price_mean_24h": "Float64",
    "price_mean_168h": "Float64",
    "temperature_c": "Float64",
    "sunshine_s": "Float64",
}
BOOKING_FIELDS = {
    "lead_time": "Int64",
    "adults": "Int64",
    "deposit_type": "String",
    "agent": "String",
    "vacancy_level": "Float64",
    "age_band": "String",
    "country_PRT": "Int64",
    "country_vocab_version": "String",
}


def price_data(days: int = 70, seed: int = 0) -> TrainingData:
    """Two zones of hourly prices with a daily shape the calendar explains better than yesterday."""
    rng = np.random.default_rng(seed)
    hours = pd.Series(pd.date_range("2024-01-08", periods=days * 24, freq="h", tz="UTC"))
    frames = []
    for zone, level in (("SE3", 50.0), ("SE4", 70.0)):
        rows = price_rows(pd.Series([zone] * len(hours)), hours)
        local_hour = rows["delivery_time"].dt.tz_convert("Europe/Stockholm").dt.hour
        shape = level + 25.0 * np.sin(local_hour / 24 * 2 * np.pi)
        label = shape + rng.normal(0, 3, len(rows))
        rows = rows.assign(
            label=label,
            weather_station_id=np.int64(1),
            sunshine_station_id=np.int64(2),
            price_eur_mwh=shape + rng.normal(0, 5, len(rows)),
            price_mean_24h=level + rng.normal(0, 1, len(rows)),
            price_mean_168h=level + rng.normal(0, 0.5, len(rows)),
            temperature_c=rng.normal(0, 5, len(rows)),
            sunshine_s=np.nan,  # a station without data: all missing, the model must cope
            same_hour_last_day=label + rng.normal(0, 12, len(rows)),
            same_hour_day_before=label + rng.normal(0, 12, len(rows)),
            same_hour_last_week=label + rng.normal(0, 15, len(rows)),
            same_hour_age_h=24.0,
        )
        frames.append(rows.drop(columns=["_t_day", "_t_week"]))
    frame = pd.concat(frames, ignore_index=True)
    frame["label_time"] = frame["delivery_time"]
    frame["split_time"] = frame["issue_time"]
    return TrainingData(
        kind="price",
        frame=frame,
        start=hours.iloc[0],
        end=hours.iloc[-1] + pd.Timedelta(hours=1),
        feature_service="price_forecaster_v1",
        service_fields=dict(PRICE_FIELDS),
        feature_views=["zone_prices", "weather_daily", "weather_sunshine"],
    )


def booking_data(n: int = 3000, seed: int = 0) -> TrainingData:
    """Bookings whose cancellation depends on lead time, deposit type and vacancy."""
    rng = np.random.default_rng(seed)
    booked = pd.Series(
        pd.Timestamp("2023-01-01", tz="UTC")
        + pd.to_timedelta(np.sort(rng.integers(0, 400, n)), "D")
    )
    lead = rng.integers(0, 300, n)
    deposit = rng.choice(["No Deposit", "Non Refund", "Refundable"], n, p=[0.7, 0.2, 0.1])
    vacancy = rng.uniform(0, 1, n)
    logit = -2.0 + lead / 100 + np.where(deposit == "Non Refund", 2.0, 0.0) - vacancy
    label = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))).astype("int64")
    frame = pd.DataFrame(
        {
            "booking_id": [f"b{i}" for i in range(n)],
            "hotel": rng.choice(["City Hotel", "Resort Hotel"], n),
            "stay_week_start": "2024-01-01",
            "guest_id": [f"g{i}" for i in range(n)],
            "event_timestamp": booked,
            "lead_time": lead,
            "adults": rng.integers(1, 4, n),
            "deposit_type": deposit,
            "agent": rng.choice(np.array(["9", "240", None], dtype=object), n),
            "vacancy_level": vacancy,
            "age_band": rng.choice(["25-34", "35-44", "45-54"], n),
            "country_PRT": rng.integers(0, 2, n),
            "country_vocab_version": "v1",
            "label": label,
            "label_time": booked + pd.Timedelta(days=7),
            "split_time": booked,
        }
    )
    return TrainingData(
        kind="cancellation",
        frame=frame,
        start=booked.iloc[0],
        end=booked.iloc[-1] + pd.Timedelta(seconds=1),
        feature_service="cancellation_classifier_v1",
        service_fields=dict(BOOKING_FIELDS),
        feature_views=["booking_details", "hotel_weekly_vacancy"],
    )


def lineage_for(data: TrainingData, ok: bool = True) -> Lineage:
    return Lineage(
        feature_service=data.feature_service,
        feature_views={v: "0123456789ab" for v in data.feature_views},
        service_features=[
            {"view": "v", "feature": f, "dtype": t, "sensitivity": "none"}
            for f, t in data.service_fields.items()
        ],
        validation_records=[
            {"table": v, "batch_id": "b", "success": ok} for v in data.feature_views
        ],
        validation=ValidationStatus(ok, "test records", len(data.feature_views)),
        code={"code_version": "test"},
    )


@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow database with every migration applied, made once per session: each test
    starts from a copy instead of migrating its own (5-10 s on a busy 2-core machine)."""
    from models.tracking import Tracking

    root = tmp_path_factory.mktemp("mlflow-template")
    Tracking(Settings(state_dir=root)).client.search_experiments()
    return root / "mlflow" / "mlflow.db"


def isolated_mlflow(template: Path, state_dir: Path) -> Settings:
    """Settings for state_dir whose MLflow database starts as a copy of the template."""
    settings = Settings(state_dir=state_dir)
    settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, settings.mlflow_dir / "mlflow.db")
    return settings


@pytest.fixture
def mlflow_settings(tmp_path: Path, mlflow_db_template: Path) -> Settings:
    """Settings whose MLflow (SQLite + artifacts) lives in this test's tmp_path only."""
    return isolated_mlflow(mlflow_db_template, tmp_path / "state")
