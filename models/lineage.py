"""Lineage of a training run: code version, feature view versions, data digest, validation."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import subprocess
from collections.abc import Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pandas as pd

from fti.settings import REPO_ROOT, Settings
from models.gate import ValidationStatus, validation_status

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

log = logging.getLogger(__name__)


def code_version() -> dict[str, str]:
    """The git commit of the checkout (and whether it had changes), else the package version."""
    try:
        # --no-optional-locks: reading the state must never rewrite the index.
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {"code_version": sha, "code_dirty": str(bool(status.strip())).lower()}
    except (OSError, subprocess.CalledProcessError):
        try:
            return {"code_version": f"fti-platform=={metadata.version('fti-platform')}"}
        except metadata.PackageNotFoundError:
            return {"code_version": "unknown"}


def service_fields(service: FeatureService) -> dict[str, str]:
    """Feature name -> Feast type name of every feature the service serves, in service order."""
    out: dict[str, str] = {}
    for projection in service.feature_view_projections:
        for f in projection.features:
            out[f.name] = str(f.dtype)
    return out


def service_metadata(service: FeatureService) -> list[dict[str, str]]:
    """Each served feature with its view, type and sensitivity tag (for the feature policy)."""
    rows = []
    for projection in service.feature_view_projections:
        for f in projection.features:
            rows.append(
                {
                    "view": projection.name,
                    "feature": f.name,
                    "dtype": str(f.dtype),
                    "sensitivity": (f.tags or {}).get("sensitivity", ""),
                }
            )
    return rows


def feature_view_versions(store: FeatureStore, service: FeatureService) -> dict[str, str]:
    """View name -> 12-hex digest of what defines its values: schema, entities, ttl, source.

    Registry timestamps (creation, materialization intervals) are left out, so re-applying the
    same definition keeps its version.
    """
    out: dict[str, str] = {}
    for projection in service.feature_view_projections:
        fv = store.get_feature_view(projection.name)
        definition = {
            "name": fv.name,
            "entities": sorted(fv.entities),
            "ttl_s": fv.ttl.total_seconds() if fv.ttl is not None else None,
            "schema": [(f.name, str(f.dtype)) for f in fv.schema],
            "source": getattr(fv.batch_source, "path", None),
            "timestamp_field": getattr(fv.batch_source, "timestamp_field", None),
        }
        text = json.dumps(definition, sort_keys=True, default=str)
        out[fv.name] = hashlib.sha256(text.encode()).hexdigest()[:12]
    return out


def frame_digest(frame: pd.DataFrame) -> str:
    """16-hex digest of a frame's values (timestamps normalised to ns UTC, index ignored)."""
    normal = frame.copy()
    for column in normal.columns:
        if isinstance(normal[column].dtype, pd.DatetimeTZDtype):
            normal[column] = normal[column].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        elif normal[column].dtype == object:
            normal[column] = normal[column].astype(str)
    hashed = pd.util.hash_pandas_object(normal, index=False).to_numpy()
    h = hashlib.sha256(hashed.tobytes())
    h.update(",".join(map(str, normal.columns)).encode())
    return h.hexdigest()[:16]


def _as_dict(record: Any) -> dict[str, Any]:
    if isinstance(record, dict):
        return dict(record)
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    if hasattr(record, "model_dump"):
        return dict(record.model_dump())
    return dict(vars(record))


def validation_records(
    settings: Settings, tables: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
) -> list[dict[str, Any]] | None:
    """Validation records of the batches of `tables` whose window overlaps [start, end).

    None when the validation layer is not available: the gate then refuses, never guesses.
    """
    try:
        from validation.records import batches_for
    except ImportError:
        log.warning("validation.records is not available: training data counts as unvalidated")
        return None
    records = batches_for(settings, list(tables), start.to_pydatetime(), end.to_pydatetime())
    return [_as_dict(r) for r in records]


@dataclasses.dataclass
class Lineage:
    """Where a training frame came from, as logged on its run."""

    feature_service: str
    feature_views: dict[str, str]
    service_features: list[dict[str, str]]
    validation_records: list[dict[str, Any]] | None
    validation: ValidationStatus
    code: dict[str, str]
    reproduces: str | None = None


def collect_lineage(
    settings: Settings,
    store: FeatureStore,
    feature_service: str,
    views: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> Lineage:
    """Feature view versions, validation records of the batches read, the code version."""
    service = store.get_feature_service(feature_service)
    records = validation_records(settings, views, start, end)
    return Lineage(
        feature_service=feature_service,
        feature_views=feature_view_versions(store, service),
        service_features=service_metadata(service),
        validation_records=records,
        validation=validation_status(records, views),
        code=code_version(),
    )
