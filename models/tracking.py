"""The one module that talks to MLflow: runs, datasets, models, the registry and its aliases.

Embedded default: a SQLite backend (`sqlite:////abs/path/mlflow.db`) with artifacts in a folder
beside it (under Settings.mlflow_dir), every experiment created with an explicit artifact
location so nothing lands in ./mlruns. Production: Settings.mlflow_tracking_uri names a
server, which decides where artifacts go. Promotion uses aliases (`challenger`, `champion`),
never the deprecated stages.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from fti.settings import Settings

# The model's runtime environment, pinned to what trained it (inferring it takes 8-14 s).
_MODEL_PACKAGES = ("scikit-learn", "numpy", "pandas", "scipy", "skops")
_MAX_PARAM = 6000
_MAX_TAG = 5000


def schema_sample(frame: pd.DataFrame, head: int = 500) -> pd.DataFrame:
    """Rows from which MLflow infers the same schema as from the whole frame: the first rows and,
    for every column with a missing value, its first missing row. MLflow's inference visits
    every value in Python (29 s for the 214k-row real price frame); this takes milliseconds."""
    rows = set(range(min(head, len(frame))))
    missing = frame.isna().to_numpy()
    for j in np.flatnonzero(missing.any(axis=0)):
        rows.add(int(np.argmax(missing[:, j])))
    return frame.iloc[sorted(rows)]


class _FrameSummary(MetaDataset):  # type: ignore[misc]
    """A dataset input recorded by its schema, size and digest, without its rows."""

    def __init__(
        self, source: CodeDatasetSource, name: str, digest: str, frame: pd.DataFrame
    ) -> None:
        schema = infer_signature(schema_sample(frame)).inputs
        super().__init__(source=source, name=name, digest=digest, schema=schema)
        self._profile = {"num_rows": len(frame), "num_elements": int(frame.size)}

    @property
    def profile(self) -> dict[str, int]:
        return self._profile

    def to_dict(self) -> dict[str, str]:
        config: dict[str, str] = super().to_dict()
        config["profile"] = json.dumps(self._profile)
        return config


def logged_model_id(model_uri: str) -> str | None:
    """The logged model's id in a `models:/m-...` URI (MLflow 3's log_model), else None."""
    return model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None


def pip_requirements() -> list[str]:
    out = []
    for name in _MODEL_PACKAGES:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: str
    run_id: str
    created: pd.Timestamp
    aliases: tuple[str, ...]
    tags: dict[str, str]
    source: str


class Tracking:
    """MLflow for one Settings: tracking URI, artifact root, client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uri = settings.tracking_uri
        self.artifact_root: Path | None = None
        if self.uri.startswith("sqlite:///"):
            db = Path(self.uri.removeprefix("sqlite:///"))
            db.parent.mkdir(parents=True, exist_ok=True)
            self.artifact_root = db.parent / "artifacts"
        # Downloads of models go inside the state folder, never to /tmp.
        self.download_root = settings.state_dir / "cache" / "mlflow-downloads"
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        # Telemetry off even when a caller skipped Settings.apply_process_env (telemetry.env).
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("DO_NOT_TRACK", "true")
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def _activate(self) -> None:
        # The fluent API (log_model, log_input) reads the process-wide URIs.
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)

    # -- experiments and runs ---------------------------------------------------------------

    def experiment_id(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        location = None
        if self.artifact_root is not None:
            location = (self.artifact_root / name).resolve().as_uri()
        try:
            return str(self.client.create_experiment(name, artifact_location=location))
        except MlflowException:  # created concurrently
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return str(found.experiment_id)

    @contextlib.contextmanager
    def run(self, experiment: str, run_name: str, tags: Mapping[str, str]) -> Iterator[str]:
        """An active run (fluent API) in the experiment; yields its id."""
        self._activate()
        experiment_id = self.experiment_id(experiment)
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=dict(tags)) as r:
            yield r.info.run_id

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        items = [Param(k, str(v)[:_MAX_PARAM]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100])

    def log_metrics(
        self, run_id: str, metrics: Mapping[str, float], model_id: str | None = None
    ) -> None:
        """Metrics at step 0; with `model_id` they are the logged model's metrics too."""
        now = int(time.time() * 1000)
        items = [
            Metric(k, float(v), now, 0, model_id=model_id)
            for k, v in metrics.items()
            if math.isfinite(float(v))
        ]
        for i in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[i : i + 1000])

    def set_run_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        items = [RunTag(k, str(v)[:_MAX_TAG]) for k, v in tags.items()]
        if items:
            self.client.log_batch(run_id, tags=items)

    def log_dataset(
        self,
        frame: pd.DataFrame,
        name: str,
        digest: str,
        source: Mapping[str, str],
        context: str,
        targets: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Record a dataset input (schema, row count, digest, source) of the active run.

        The source is described by tags (feature service, entity time range): the rows come
        from a point-in-time retrieval, not from one file MLflow could point at.
        """
        source_tags = {k: str(v) for k, v in source.items()}
        if targets:
            source_tags["targets"] = targets
        dataset = _FrameSummary(CodeDatasetSource(tags=source_tags), name, digest, frame)
        mlflow.log_input(dataset, context=context, tags=dict(tags or {}))

    def find_or_create_run(self, experiment: str, run_name: str, tags: Mapping[str, str]) -> str:
        """The run of the experiment carrying exactly these tag values, created on first use
        (one long-lived run per key, e.g. monitoring of one model version)."""
        experiment_id = self.experiment_id(experiment)
        query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
        found = self.client.search_runs([experiment_id], filter_string=query, max_results=1)
        if found:
            return str(found[0].info.run_id)
        run = self.client.create_run(experiment_id, tags=dict(tags), run_name=run_name)
        self.client.set_terminated(run.info.run_id)  # a record, not a process: never "running"
        return str(run.info.run_id)

    def metric_steps(self, run_id: str, key: str) -> set[int]:
        """Steps at which a metric was logged in a run."""
        return {int(m.step) for m in self.client.get_metric_history(run_id, key)}

    def log_metric_series(
        self, run_id: str, points: list[tuple[str, float, pd.Timestamp, int]]
    ) -> int:
        """Log (key, value, time, step) points, skipping steps a key already has; returns how
        many were logged. The time is the period the value describes, so MLflow charts it on
        the time axis."""
        known: dict[str, set[int]] = {}
        items = []
        for key, value, when, step in points:
            if key not in known:
                known[key] = self.metric_steps(run_id, key)
            if step in known[key] or not math.isfinite(float(value)):
                continue
            known[key].add(step)
            items.append(Metric(key, float(value), int(pd.Timestamp(when).value // 10**6), step))
        for i in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[i : i + 1000])
        return len(items)

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def log_dict(self, run_id: str, data: Any, artifact_file: str) -> None:
        self.client.log_text(run_id, json.dumps(data, indent=2, default=str), artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        self.client.log_figure(run_id, figure, artifact_file)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def run_data(self, run_id: str) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
        """Params, metrics and tags of a run."""
        run = self.client.get_run(run_id)
        return dict(run.data.params), dict(run.data.metrics), dict(run.data.tags)

    def run_datasets(self, run_id: str) -> list[dict[str, Any]]:
        run = self.client.get_run(run_id)
        out = []
        for item in run.inputs.dataset_inputs if run.inputs else []:
            ds = item.dataset
            out.append(
                {
                    "name": ds.name,
                    "digest": ds.digest,
                    "source": ds.source,
                    "profile": json.loads(ds.profile) if ds.profile else {},
                    "tags": {t.key: t.value for t in item.tags},
                }
            )
        return out

    # -- models -------------------------------------------------------------------------------

    def log_model(
        self,
        model: Any,
        inputs: pd.DataFrame,
        outputs: Any,
        predict_fn: str,
        trusted_types: list[str],
    ) -> str:
        """Log a fitted sklearn model in the active run; the signature comes from `inputs`."""
        self._activate()
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(schema_sample(inputs), outputs),
            input_example=inputs.head(5),
            pip_requirements=pip_requirements(),
            pyfunc_predict_fn=predict_fn,
            serialization_format="skops",
            skops_trusted_types=trusted_types,
        )
        return str(info.model_uri)

    def register(
        self, name: str, model_uri: str, run_id: str, tags: Mapping[str, str], description: str
    ) -> str:
        """A new version of the registered model (created on first use); returns the version."""
        try:
            self.client.get_registered_model(name)
        except MlflowException:
            with contextlib.suppress(MlflowException):
                self.client.create_registered_model(name, description=description)
        # A tracking server refuses a `models:/m-...` source without the logged model's id.
        model_id = logged_model_id(model_uri) or ""
        version = self.client.create_model_version(
            name,
            source=model_uri,
            run_id=run_id,
            tags=dict(tags),
            description=description,
            model_id=model_id or None,
        )
        return str(version.version)

    def load_model(self, name: str, ref: str) -> Any:
        """The sklearn model of `models:/name@alias` (ref is an alias) or `models:/name/version`."""
        uri = f"models:/{name}/{ref}" if ref.isdigit() else f"models:/{name}@{ref}"
        self.download_root.mkdir(parents=True, exist_ok=True)
        self._activate()
        with tempfile.TemporaryDirectory(dir=self.download_root) as dst:
            return mlflow.sklearn.load_model(uri, dst_path=dst)

    def load_pyfunc(self, name: str, ref: str, dst_path: Path) -> Any:
        """The pyfunc model (schema-enforcing) of an alias or version, downloaded into dst_path."""
        uri = f"models:/{name}/{ref}" if ref.isdigit() else f"models:/{name}@{ref}"
        dst_path.mkdir(parents=True, exist_ok=True)
        self._activate()
        return mlflow.pyfunc.load_model(uri, dst_path=str(dst_path))

    def input_schema(self, name: str, version: str) -> dict[str, str]:
        """Column -> type of the logged signature's inputs of a model version."""
        self._activate()
        info = mlflow.models.get_model_info(f"models:/{name}/{version}")
        if info.signature is None or info.signature.inputs is None:
            return {}
        return {c["name"]: c["type"] for c in info.signature.inputs.to_dict()}

    # -- registry -----------------------------------------------------------------------------

    def registered_models(self) -> list[str]:
        return sorted(m.name for m in self.client.search_registered_models())

    def alias_version(self, name: str, alias: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        with contextlib.suppress(MlflowException):
            self.client.delete_registered_model_alias(name, alias)

    def set_version_tags(self, name: str, version: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(name, version, key, str(value)[:_MAX_TAG])

    def version(self, name: str, version: str) -> VersionInfo:
        return self._info(self.client.get_model_version(name, version))

    def versions(self, name: str) -> list[VersionInfo]:
        """Every version of a registered model, newest first."""
        found = self.client.search_model_versions(f"name = '{name}'")
        # Searches do not fill in aliases: take them from the registered model.
        aliases: dict[str, list[str]] = {}
        for alias, version in self.client.get_registered_model(name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        infos = [
            dataclasses.replace(
                self._info(v), aliases=tuple(sorted(aliases.get(str(v.version), [])))
            )
            for v in found
        ]
        return sorted(infos, key=lambda v: int(v.version), reverse=True)

    def model_tags(self, name: str) -> dict[str, str]:
        return dict(self.client.get_registered_model(name).tags)

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self.client.set_registered_model_tag(name, key, value[:_MAX_TAG])

    def _info(self, v: Any) -> VersionInfo:
        return VersionInfo(
            name=v.name,
            version=str(v.version),
            run_id=v.run_id or "",
            created=pd.Timestamp(v.creation_timestamp, unit="ms", tz="UTC"),
            aliases=tuple(getattr(v, "aliases", ()) or ()),
            tags=dict(v.tags or {}),
            source=v.source or "",
        )
