"""Prediction service: the champions' predictions for entity keys, from Feast's online store.

`fti api` serves it with uvicorn on 127.0.0.1. Each request reads the model's features through
its feature service from the online store, prepares them with the same function as training
(models/prepare.py) and answers with the champion's prediction and version. The champion alias
is re-resolved in the background every `alias_ttl_s` seconds, so a promotion is picked up without
a restart and without a request waiting for it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from fti.settings import Settings

if TYPE_CHECKING:
    from feast import FeatureStore

log = logging.getLogger(__name__)


class PriceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zone: str = Field(min_length=1, max_length=16, examples=["SE3"])
    delivery_hours: list[datetime] = Field(
        min_length=1, max_length=48, description="Delivery hours (hour starts, with a time zone)"
    )


class PricePrediction(BaseModel):
    delivery_hour: datetime
    predicted_price_eur_mwh: float


class PriceResponse(BaseModel):
    model: str
    version: str
    feature_service: str
    zone: str
    predictions: list[PricePrediction]


class CancellationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    booking_id: str = Field(min_length=1, max_length=64)
    guest_id: str | None = Field(None, max_length=64, description="Default: the booking's guest")


class CancellationResponse(BaseModel):
    model: str
    version: str
    feature_service: str
    booking_id: str
    cancel_probability: float


@dataclass
class _Loaded:
    version: str
    model: Any  # the pyfunc model
    schema: dict[str, str]

    def __post_init__(self) -> None:
        # The sklearn pipeline under the pyfunc wrapper: _predict coerces every column to the
        # signature's type itself, so MLflow's per-call schema enforcement (about a third of a
        # request's time) is skipped; the pyfunc's predict function (predict / predict_proba)
        # is kept.
        self.raw = self.model.get_raw_model()
        flavor = self.model.metadata.flavors.get("python_function", {})
        self.method = getattr(self.raw, flavor.get("predict_fn", "predict"))


class Champions:
    """The champion model per registered name, re-resolved in the background after a TTL.

    A request never waits for the registry once a name has been resolved: when the TTL has
    passed, it answers with the champion it has and starts one background re-resolution, which
    also loads a newly promoted version before switching to it (a model load and a registry
    query took 0.1-0.3 s inside a request, the service's slowest calls). With `ttl_s <= 0` the
    alias is resolved in every request (tests that promote and expect the next answer to
    follow at once).
    """

    def __init__(self, settings: Settings, ttl_s: float, tracking: Any = None) -> None:
        if tracking is None:
            from models.tracking import Tracking

            tracking = Tracking(settings)
        self.tracking = tracking
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._resolved: dict[str, tuple[float, str | None]] = {}
        self._refreshing: set[str] = set()
        self._models: dict[tuple[str, str], _Loaded] = {}
        self._root = settings.state_dir / "cache" / "api-models"

    def version(self, name: str) -> str | None:
        if self.ttl_s <= 0:
            return self._resolve(name)
        cached = self._resolved.get(name)
        if cached is None:
            return self._resolve(name)
        if time.monotonic() - cached[0] >= self.ttl_s:
            with self._lock:
                start = name not in self._refreshing
                self._refreshing.add(name)
            if start:
                threading.Thread(
                    target=self._refresh, args=(name,), name=f"champion-{name}", daemon=True
                ).start()
        return cached[1]

    def _resolve(self, name: str) -> str | None:
        version: str | None = self.tracking.alias_version(name, "champion")
        self._resolved[name] = (time.monotonic(), version)
        return version

    def _refresh(self, name: str) -> None:
        try:
            version = self.tracking.alias_version(name, "champion")
            if version is not None:
                self._load(name, version)  # before any request is routed to it
            self._resolved[name] = (time.monotonic(), version)
        except Exception as err:  # the registry is unreachable: keep serving, retry after TTL
            log.warning("re-resolving the champion of %s failed: %s", name, err)
            self._resolved[name] = (time.monotonic(), self._resolved[name][1])
        finally:
            with self._lock:
                self._refreshing.discard(name)

    def _load(self, name: str, version: str) -> _Loaded:
        loaded = self._models.get((name, version))
        if loaded is None:
            with self._load_lock:  # one download into a version's folder at a time
                loaded = self._models.get((name, version))
                if loaded is None:
                    model = self.tracking.load_pyfunc(name, version, self._root / name / version)
                    schema = self.tracking.input_schema(name, version)
                    loaded = self._models[(name, version)] = _Loaded(version, model, schema)
        return loaded

    def get(self, name: str) -> _Loaded:
        version = self.version(name)
        if version is None:
            raise HTTPException(503, f"{name} has no champion yet")
        return self._load(name, version)


_CONTROLLER: list[Any] = []


def _controller() -> Any:
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def _predict(loaded: _Loaded, prepared: pd.DataFrame) -> np.ndarray:
    frame = prepared[list(loaded.schema)].copy()
    # An online value missing for every requested row arrives as an all-None object column,
    # which prepare reads as a category: give it back the number type the signature expects.
    for column, kind in loaded.schema.items():
        if kind == "double" and not pd.api.types.is_float_dtype(frame[column]):
            missing = frame[column].isin(["missing"]) | frame[column].isna()
            frame[column] = pd.to_numeric(frame[column].where(~missing), errors="coerce")
            frame[column] = frame[column].astype("float64")
        elif kind == "string" and frame[column].dtype != object:
            frame[column] = frame[column].astype(str).astype(object)
        elif kind not in ("double", "string"):
            raise HTTPException(500, f"{column}: signature type {kind} is not served")
    # One request is a few rows: OpenMP's thread team costs more than it saves (~1 ms per tree
    # batch on a busy 2-core machine); requests run in parallel instead.
    with _controller().limit(limits=1, user_api="openmp"):
        out = loaded.method(frame)
    return np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out, dtype="float64")


def create_app(settings: Settings | None = None, alias_ttl_s: float = 5.0) -> FastAPI:
    """The FastAPI application (stores and models open lazily, on first use)."""
    settings = settings or Settings()
    app = FastAPI(
        title="fti prediction service",
        version="1",
        description="Champion predictions from online features (Feast) and MLflow models.",
    )
    state: dict[str, Any] = {}
    lock = threading.Lock()

    def store() -> FeatureStore:
        with lock:
            if "store" not in state:
                from fti.store import open_store

                state["store"] = open_store(settings)
            return state["store"]  # type: ignore[no-any-return]

    def champions() -> Champions:
        with lock:
            if "champions" not in state:
                state["champions"] = Champions(settings, alias_ttl_s)
            return state["champions"]  # type: ignore[no-any-return]

    def feature_service(name: str) -> Any:
        # One object per minute: Feast caches the request plan of an online read per object,
        # and reading the service from the registry costs several milliseconds per request.
        cached = state.get(f"service:{name}")
        if cached is None or time.monotonic() - cached[0] > 60:
            cached = (time.monotonic(), store().get_feature_service(name))
            state[f"service:{name}"] = cached
        return cached[1]

    def lake_prices() -> pd.DataFrame:
        # Same-hour prices of earlier days: the online store holds only each zone's latest row.
        cached = state.get("prices")
        if cached is None or time.monotonic() - cached[0] > 60:
            from fti import lake
            from fti.tables import LAKE

            frame = lake.read_table(
                LAKE["prices"].root(settings), columns=["zone", "ts", "price_eur_mwh"]
            )
            frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ns, UTC]")
            cached = (time.monotonic(), frame.set_index(["zone", "ts"])["price_eur_mwh"])
            state["prices"] = cached
        return cached[1]  # type: ignore[no-any-return]

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> dict[str, Any]:
        """Readiness: the feature store opens and both models have a champion."""
        from models.specs import SPECS

        try:
            store()
            versions = {
                s.registered_name: champions().version(s.registered_name) for s in SPECS.values()
            }
        except Exception as err:
            raise HTTPException(503, f"not ready: {err}") from err
        missing = [n for n, v in versions.items() if v is None]
        if missing:
            raise HTTPException(503, f"no champion for {', '.join(missing)}")
        return {"status": "ready", "champions": versions}

    @app.post("/predict/price", response_model=PriceResponse)
    def predict_price(request: PriceRequest) -> PriceResponse:
        """Day-ahead price of a zone's delivery hours, from the zone's online features."""
        from models.config import ZONE_STATIONS
        from models.data import NO_STATION, price_rows
        from models.prepare import prepare_price
        from models.specs import SPECS

        spec = SPECS["price"]
        hours = pd.Series(pd.to_datetime(request.delivery_hours, utc=True))
        if any(t.tzinfo is None for t in request.delivery_hours):
            raise HTTPException(422, "delivery_hours need a time zone (e.g. 2024-01-02T13:00Z)")
        if (hours != hours.dt.floor("h")).any():
            raise HTTPException(422, "delivery_hours must be hour starts")
        loaded = champions().get(spec.registered_name)
        daily, sunshine = ZONE_STATIONS.get(request.zone, (NO_STATION, NO_STATION))
        service = feature_service(spec.feature_service)
        online = (
            store()
            .get_online_features(
                features=service,
                entity_rows=[
                    {
                        "zone": request.zone,
                        "weather_station_id": daily,
                        "sunshine_station_id": sunshine,
                    }
                ],
            )
            .to_df()
        )
        if online["price_eur_mwh"].isna().all():
            raise HTTPException(404, f"unknown zone {request.zone!r}: no online features")
        rows = price_rows(pd.Series([request.zone] * len(hours)), hours)
        state_cols = online.drop(
            columns=["zone", "weather_station_id", "sunshine_station_id"], errors="ignore"
        )
        raw = rows.assign(**{c: state_cols[c].iloc[0] for c in state_cols.columns})
        prices = lake_prices()

        def lookup(times: pd.Series) -> np.ndarray:
            index = pd.MultiIndex.from_arrays([rows["zone"], pd.to_datetime(times, utc=True)])
            return prices.reindex(index).to_numpy(dtype="float64")

        raw["same_hour_last_day"] = lookup(rows["_t_day"])
        raw["same_hour_day_before"] = lookup(
            pd.to_datetime(rows["_t_day"], utc=True) - pd.Timedelta(hours=24)
        )
        raw["same_hour_last_week"] = lookup(rows["_t_week"])
        raw["same_hour_age_h"] = (raw["delivery_time"] - raw["_t_day"]).dt.total_seconds() / 3600.0
        raw = raw.drop(columns=["_t_day", "_t_week"])
        values = _predict(loaded, prepare_price(raw)).reshape(-1)
        return PriceResponse(
            model=spec.registered_name,
            version=loaded.version,
            feature_service=spec.feature_service,
            zone=request.zone,
            predictions=[
                PricePrediction(delivery_hour=t.to_pydatetime(), predicted_price_eur_mwh=float(v))
                for t, v in zip(hours, values, strict=True)
            ],
        )

    @app.post("/predict/cancellation", response_model=CancellationResponse)
    def predict_cancellation(request: CancellationRequest) -> CancellationResponse:
        """Cancellation probability of a booking, from its online features."""
        from models.prepare import prepare_cancellation
        from models.specs import SPECS

        spec = SPECS["cancellation"]
        loaded = champions().get(spec.registered_name)
        keys = booking_keys(request.booking_id)
        if keys is None:
            raise HTTPException(404, f"unknown booking {request.booking_id!r}")
        guest = request.guest_id or keys["guest_id"]
        if not guest:
            raise HTTPException(404, f"booking {request.booking_id!r} has no known guest")
        entity = {
            "booking_id": request.booking_id,
            "hotel": keys["hotel"],
            "stay_week_start": keys["stay_week_start"],
            "guest_id": guest,
        }
        service = feature_service(spec.feature_service)
        raw = store().get_online_features(features=service, entity_rows=[entity]).to_df()
        for key, value in entity.items():
            raw[key] = value
        values = _predict(loaded, prepare_cancellation(raw))
        probability = float(values[0, -1] if values.ndim == 2 else values[0])
        return CancellationResponse(
            model=spec.registered_name,
            version=loaded.version,
            feature_service=spec.feature_service,
            booking_id=request.booking_id,
            cancel_probability=probability,
        )

    def booking_keys(booking_id: str) -> dict[str, str] | None:
        """The entity keys of a booking's other views: hotel, stay week (join keys, not online
        features) and guest, from the booking_details table and the bookings lake table;
        re-read at most once a minute when an unknown booking is asked for."""
        cached: tuple[float, dict[str, dict[str, str]]] | None = state.get("bookings")
        stale = cached is None or (
            booking_id not in cached[1] and time.monotonic() - cached[0] > 60
        )
        if cached is None or stale:
            from fti import lake
            from fti.tables import FEATURES, LAKE

            details = lake.read_table(
                FEATURES["booking_details"].root(settings),
                columns=["booking_id", "hotel", "stay_week_start"],
            )
            guests = lake.read_table(
                LAKE["bookings"].root(settings), columns=["booking_id", "guest_id"]
            )
            frame = details.astype(str).merge(guests.astype(str), on="booking_id", how="left")
            frame = frame.drop_duplicates("booking_id", keep="last").set_index("booking_id")
            cached = (time.monotonic(), frame.fillna("").to_dict("index"))
            state["bookings"] = cached
        found: dict[str, str] | None = cached[1].get(booking_id)
        return found

    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
