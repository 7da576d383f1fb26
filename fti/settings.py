"""Typed settings of the platform: one object, built explicitly, overridable by FTI_* variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
FEATURE_REPO = REPO_ROOT / "feature_repo"
TELEMETRY_ENV = REPO_ROOT / "telemetry.env"


class Settings(BaseSettings):
    """Infrastructure settings. Nothing here is read at import time: build one with Settings()."""

    model_config = SettingsConfigDict(
        env_prefix="FTI_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        # .env is shared with docker compose: only FTI_* keys are ours (an unknown one is an error).
        dotenv_filtering="match_prefix",
    )

    profile: Literal["local", "production"] = Field(
        "local", description="local: files + SQLite in-process; production: real services"
    )
    state_dir: Path = Field(REPO_ROOT / ".state", description="All local state lives here")
    data: Literal["synthetic", "real"] = Field(
        "synthetic", description="Raw input of `fti run`: the seeded generator or shared data"
    )
    shared_data: Path = Field(
        REPO_ROOT.parent / "shared" / "data", description="Folder of the real public data sets"
    )
    synthetic_size: str = Field("default", description="tiny, small or default")
    seed: int = 0
    price_window_hours: int = Field(168, gt=1, description="Trailing window of price scaling")
    hotel_capacity: dict[str, int] = Field(
        default_factory=dict, description="Rooms per hotel; empty uses the built-in defaults"
    )
    validation_policy: dict[str, Literal["reject", "quarantine", "warn"]] = Field(
        default_factory=dict,
        description="Gate policy per table (JSON object); unset tables use the defaults of "
        "validation.gate.DEFAULT_POLICY: prices reject, other raw sources quarantine, "
        "feature views reject",
    )
    prefect_startup_timeout_s: int = 120
    schedules: dict[str, str] = Field(
        default_factory=dict, description="Cron overrides by deployment name (JSON object)"
    )
    landing_dir: Path | None = Field(
        None, description="Where new raw files arrive (<source>/ subfolders); default state/landing"
    )

    spark_master: str = Field(
        "local[2]", description="Spark master of the Spark profile: local[N] or a cluster URL"
    )
    feature_engine: Literal["pandas", "spark"] = Field(
        "pandas",
        description="Engine of the feature pipelines (FTI_FEATURE_ENGINE): pandas in-process, "
        "or spark on spark_master; both write the same offline tables",
    )

    monitoring_webhook_url: str = Field(
        "", description="POST each monitoring run's alerts as JSON here (empty: no webhook)"
    )

    # Production profile: the services behind feature_store.production.yaml.
    registry_url: str = Field(
        "", description="SQLAlchemy URL of Feast's SQL registry, postgresql+psycopg://..."
    )
    redis_connection: str = Field(
        "", description="Feast Redis connection string, host:port[,db=N][,password=...]"
    )

    # MLflow: empty means the embedded default, SQLite + artifacts under state_dir/mlflow.
    mlflow_tracking_uri: str = Field("", description="MLflow tracking server URI (production)")

    # Derived locations: one tree under state_dir, nothing in $HOME or /tmp.
    @property
    def raw_dir(self) -> Path:
        return self.state_dir / "raw"

    @property
    def landing(self) -> Path:
        return self.landing_dir or self.state_dir / "landing"

    @property
    def lake_dir(self) -> Path:
        return self.state_dir / "lake"

    @property
    def offline_dir(self) -> Path:
        return self.state_dir / "offline"

    @property
    def feast_dir(self) -> Path:
        return self.state_dir / "feast"

    @property
    def prefect_home(self) -> Path:
        return self.state_dir / "prefect"

    @property
    def mlflow_dir(self) -> Path:
        return self.state_dir / "mlflow"

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI: the server in production, SQLite in the state folder else."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.mlflow_dir / 'mlflow.db').resolve()}"

    def process_env(self) -> dict[str, str]:
        """Environment the tools read before they are imported (telemetry off, homes inside)."""
        env = {}
        for line in TELEMETRY_ENV.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip()
        env.update(
            {
                "FTI_STATE_DIR": str(self.state_dir),
                "PREFECT_HOME": str(self.prefect_home),
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(
                    self.prefect_startup_timeout_s
                ),
                "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
                "GX_HOME": str(self.state_dir / "gx"),
                "MPLCONFIGDIR": str(self.state_dir / "cache" / "matplotlib"),
                # Feast makes a Prometheus folder in /tmp at import unless this names one.
                "PROMETHEUS_MULTIPROCESS_DIR": str(self.state_dir / "cache" / "prometheus"),
            }
        )
        # Service locations only when configured: an empty value must read as "unset".
        for key, value in (
            ("FTI_REGISTRY_URL", self.registry_url),
            ("FTI_REDIS_CONNECTION", self.redis_connection),
        ):
            if value:
                env[key] = value
        return env

    def apply_process_env(self) -> None:
        """Export process_env() unless the caller already chose a value."""
        env = self.process_env()
        for key, value in env.items():
            os.environ.setdefault(key, value)
        for key in ("MPLCONFIGDIR", "PROMETHEUS_MULTIPROCESS_DIR"):
            Path(os.environ[key]).mkdir(parents=True, exist_ok=True)
