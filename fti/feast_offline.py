"""Feast offline store on DuckDB ASOF joins: point-in-time retrieval over local parquet.

Feast's local stores (``file``/dask and ``duckdb``/ibis) join every entity row with every
feature row of the same key and then filter, which is quadratic per key on long time series,
and the ``file`` store drops entity rows whose key has no feature row inside the TTL. This
store does one ``ASOF LEFT JOIN`` per feature view and joins the results back by row id, so
every entity row comes back once, in its original order.

Semantics (the contract the tests check):

- A feature row matches an entity row when the join keys are equal and its timestamp is at or
  before the entity timestamp; the latest such row wins. With ``ttl > 0`` the winner must also
  be at or after ``entity timestamp - ttl``, otherwise the features are NULL (never dropped).
- Ties on (keys, timestamp) go to the greatest ``created_timestamp_column`` (NULL lowest), then
  to the row that comes last in the source (files by path, rows in file order).
- Timestamps are compared in UTC nanoseconds; tz-naive values, in the entity frame or in the
  parquet files, are UTC. The entity timestamp column comes back as ``datetime64[ns, UTC]``.
- NULL join keys never match. Duplicate entity rows stay duplicated.
- Feature columns keep their parquet type in Arrow. Through ``to_df`` pyarrow's conversion
  applies, as it does for Feast's own ``file`` store: an int64 feature with a missing value
  becomes float64 with NaN, a bool one becomes object, strings are object.
- ``pull_latest_from_table_or_query`` / ``pull_all_from_table_or_query`` read
  ``[start_date, end_date)`` (Feast's built-in stores include ``end_date``).
"""

import glob
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from feast.data_format import ParquetFormat
from feast.data_source import DataSource
from feast.errors import FeastEntityDFMissingColumnsError, SavedDatasetLocationAlreadyExists
from feast.feature_logging import LoggingConfig, LoggingSource
from feast.feature_view import DUMMY_ENTITY_ID, DUMMY_ENTITY_VAL, FeatureView
from feast.infra.offline_stores.file_source import FileSource, SavedDatasetFileStorage
from feast.infra.offline_stores.offline_store import (
    OfflineStore,
    RetrievalJob,
    RetrievalMetadata,
)
from feast.infra.offline_stores.offline_utils import infer_event_timestamp_from_entity_df
from feast.infra.registry.base_registry import BaseRegistry
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from feast.saved_dataset import SavedDatasetStorage
from feast.utils import (
    _get_requested_feature_views_to_features_dict,
    _get_requested_on_demand_feature_views,
)

logger = logging.getLogger(__name__)

STORE_TYPE = "fti.feast_offline.DuckDBAsofOfflineStore"

# Internal column names; the double underscore keeps them apart from user columns.
_ENTITY_TABLE = "__fti_entity"
_ROW_ID = "__fti_row_id"
_ENTITY_TS = "__fti_ts"
# DuckDB's virtual columns of read_parquet: the file's position in the sorted file list and
# the row's position in its file. They break ties "last row of the source wins".
_FILE_COL = "file_index"
_FILE_ROW_COL = "file_row_number"
_GLOB_CHARS = frozenset("*?[")


class DuckDBAsofOfflineStoreConfig(FeastConfigBaseModel):
    """``offline_store`` section of feature_store.yaml for :class:`DuckDBAsofOfflineStore`."""

    type: Literal["fti.feast_offline.DuckDBAsofOfflineStore"] = (
        "fti.feast_offline.DuckDBAsofOfflineStore"
    )
    root: str
    """Base folder for relative FileSource paths (itself relative to the repo when relative)."""
    memory_limit: str = "2GB"
    threads: int = 2
    temp_directory: str | None = None
    """Where DuckDB spills when a query exceeds memory_limit (DuckDB's default when unset)."""


# --------------------------------------------------------------------------------------------
# Paths, SQL text and the connection
# --------------------------------------------------------------------------------------------


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _store_config(config: RepoConfig) -> DuckDBAsofOfflineStoreConfig:
    store_config = config.offline_store
    if not isinstance(store_config, DuckDBAsofOfflineStoreConfig):
        raise TypeError(
            f"offline_store is {type(store_config).__name__}, expected "
            f"DuckDBAsofOfflineStoreConfig (type: {STORE_TYPE})"
        )
    return store_config


def _root(config: RepoConfig) -> str:
    root = _store_config(config).root
    if not os.path.isabs(root) and config.repo_path is not None:
        root = os.path.join(str(config.repo_path), root)
    return root


def resolve_source_path(config: RepoConfig, path: str) -> str:
    """Absolute path, glob or URI of a FileSource path: relative paths hang off ``root``."""
    if "://" in path or os.path.isabs(path):
        return path
    return os.path.join(_root(config), path)


def _file_source(data_source: DataSource | None, what: str) -> FileSource:
    if not isinstance(data_source, FileSource):
        raise TypeError(
            f"{what}: DuckDBAsofOfflineStore reads FileSource parquet only, "
            f"got {type(data_source).__name__}"
        )
    if data_source.file_format is not None and not isinstance(
        data_source.file_format, ParquetFormat
    ):
        raise NotImplementedError(
            f"{what}: only parquet FileSources are supported, got {data_source.file_format}"
        )
    return data_source


def _parquet_scan(config: RepoConfig, data_source: FileSource) -> str:
    """``read_parquet(...)`` over a file, a folder (recursive, hive partitions) or a glob."""
    full = resolve_source_path(config, data_source.path)
    if "://" in full or _GLOB_CHARS & set(full):
        pattern = full
    elif os.path.isdir(full):
        pattern = os.path.join(full, "**", "*.parquet")
        if not glob.glob(pattern, recursive=True):
            raise FileNotFoundError(f"{data_source.path}: no parquet files under {full}")
    elif os.path.exists(full):
        pattern = full
    else:
        raise FileNotFoundError(f"{data_source.path}: {full} does not exist")
    return f"read_parquet({_lit(pattern)}, union_by_name = true)"


def _connect(store_config: DuckDBAsofOfflineStoreConfig) -> duckdb.DuckDBPyConnection:
    settings: dict[str, Any] = {
        "memory_limit": store_config.memory_limit,
        "threads": store_config.threads,
        # Results go back to entity order by row id, so DuckDB may stream and spill freely.
        "preserve_insertion_order": False,
    }
    if store_config.temp_directory:
        settings["temp_directory"] = store_config.temp_directory
    con = duckdb.connect(":memory:", config=settings)
    # Naive timestamps are UTC, and TIMESTAMPTZ casts must not depend on the machine's zone.
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def _source_columns(con: duckdb.DuckDBPyConnection, scan: str) -> list[tuple[str, str]]:
    rows = con.sql(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def _require_columns(
    con: duckdb.DuckDBPyConnection, scan: str, needed: Iterable[str], what: str
) -> None:
    present = {name for name, _ in _source_columns(con, scan)}
    missing = sorted(set(needed) - present)
    if missing:
        raise ValueError(f"{what}: columns {missing} not in the source (it has {sorted(present)})")


def _window_prefilter(
    column: str, column_type: str, start_ns: int | None, end_ns: int | None
) -> list[str]:
    """Comparisons of the raw timestamp column that DuckDB pushes into the parquet scan.

    They only drop rows the exact filter on UTC nanoseconds drops too (a second of slack
    covers any rounding of the constant to the column's precision); the exact filter still
    decides. An incremental window then reads the recent rows, not the whole table.
    """
    if not column_type.upper().startswith("TIMESTAMP"):
        return []
    out = []
    slack = 1_000_000_000
    if start_ns is not None:
        out.append(
            f"{_ident(column)} >= CAST(make_timestamp_ns({start_ns - slack}) AS {column_type})"
        )
    if end_ns is not None:
        out.append(
            f"{_ident(column)} <= CAST(make_timestamp_ns({end_ns + slack}) AS {column_type})"
        )
    return out


def _epoch_ns(column_sql: str) -> str:
    # TIMESTAMP_NS keeps nanoseconds; with TimeZone=UTC the cast of a TIMESTAMPTZ is its UTC
    # wall time, and a naive TIMESTAMP is taken as UTC.
    return f"epoch_ns(CAST({column_sql} AS TIMESTAMP_NS))"


def _to_utc_ns(value: datetime) -> int:
    """Nanoseconds since the epoch; a naive datetime is UTC."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value)


def _ttl_ns(ttl: timedelta | None) -> int:
    if not ttl:
        return 0
    return (ttl // timedelta(microseconds=1)) * 1000


def _unique(names: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(n for n in names if n))


# --------------------------------------------------------------------------------------------
# Retrieval job
# --------------------------------------------------------------------------------------------


class DuckDBAsofRetrievalJob(RetrievalJob):
    """Runs its query on a fresh DuckDB connection each time the result is asked for."""

    def __init__(
        self,
        query: Callable[[duckdb.DuckDBPyConnection], pa.Table],
        config: RepoConfig,
        full_feature_names: bool = False,
        on_demand_feature_views: list[OnDemandFeatureView] | None = None,
        metadata: RetrievalMetadata | None = None,
    ) -> None:
        self._query = query
        self._config = config
        self._full_feature_names = full_feature_names
        self._on_demand_feature_views = on_demand_feature_views or []
        self._metadata = metadata

    @property
    def full_feature_names(self) -> bool:
        return self._full_feature_names

    @property
    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return self._on_demand_feature_views

    @property
    def metadata(self) -> RetrievalMetadata | None:
        return self._metadata

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        con = _connect(_store_config(self._config))
        timer = threading.Timer(timeout, con.interrupt) if timeout else None
        started = time.perf_counter()
        try:
            if timer is not None:
                timer.start()
            table = self._query(con)
        finally:
            if timer is not None:
                timer.cancel()
            con.close()
        logger.debug(
            "DuckDB ASOF job: %d rows in %.3f s", table.num_rows, time.perf_counter() - started
        )
        return table

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return self._to_arrow_internal(timeout=timeout).to_pandas()

    def to_df(
        self,
        validation_reference: Any = None,
        timeout: int | None = None,
    ) -> pd.DataFrame:
        """As RetrievalJob.to_df, minus its ``reset_index`` copy (to_pandas gives a RangeIndex)."""
        return self.to_arrow(validation_reference=validation_reference, timeout=timeout).to_pandas()

    def persist(
        self,
        storage: SavedDatasetStorage,
        allow_overwrite: bool = False,
        timeout: int | None = None,
    ) -> None:
        """Write the result (with on-demand features) to a SavedDatasetFileStorage path.

        A path ending in ``.parquet`` is one file, anything else a folder of parquet files;
        relative paths hang off the store's ``root``, as for every FileSource here.
        """
        if not isinstance(storage, SavedDatasetFileStorage):
            raise TypeError(
                f"DuckDBAsofOfflineStore persists to SavedDatasetFileStorage, "
                f"got {type(storage).__name__}"
            )
        path = resolve_source_path(self._config, storage.file_options.uri)
        if os.path.exists(path) and not allow_overwrite:
            raise SavedDatasetLocationAlreadyExists(location=path)
        table = self.to_arrow(timeout=timeout)
        if path.endswith(".parquet"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path)
        else:
            pq.write_to_dataset(
                table,
                root_path=path,
                basename_template="part-{i}.parquet",
                existing_data_behavior="delete_matching",
            )

    def supports_remote_storage_export(self) -> bool:
        return False


# --------------------------------------------------------------------------------------------
# Point-in-time join
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ViewPlan:
    """What one feature view contributes, with every name resolved to a source column."""

    name: str
    source: FileSource
    keys: list[tuple[str, str]]  # (source column, entity_df column)
    timestamp: str  # source column
    created: str | None  # source column
    features: list[tuple[str, str]]  # (source column, output column)
    ttl_ns: int


def _plan_view(
    feature_view: FeatureView, features: list[str], full_feature_names: bool
) -> _ViewPlan:
    source = _file_source(feature_view.batch_source, f"feature view {feature_view.name!r}")
    # field_mapping renames source columns to feature-view names; read it backwards.
    to_source = {v: k for k, v in (source.field_mapping or {}).items()}
    join_key_map = feature_view.projection.join_key_map or {}
    keys = [
        (to_source.get(col.name, col.name), join_key_map.get(col.name, col.name))
        for col in feature_view.entity_columns
    ]
    prefix = feature_view.projection.name_to_use()
    outputs = [
        (to_source.get(f, f), f"{prefix}__{f}" if full_feature_names else f) for f in features
    ]
    created = source.created_timestamp_column or None
    return _ViewPlan(
        name=feature_view.name,
        source=source,
        keys=keys,
        timestamp=to_source.get(source.timestamp_field, source.timestamp_field),
        created=to_source.get(created, created) if created else None,
        features=outputs,
        ttl_ns=_ttl_ns(feature_view.ttl),
    )


def _entity_timestamps(entity_df: pd.DataFrame, column: str) -> pa.Array:
    """The entity timestamps as Arrow ``timestamp[ns, UTC]``; naive values are UTC."""
    series = entity_df[column]
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC")
    else:
        # Naive datetimes are localised as UTC; strings and mixed offsets are parsed.
        series = pd.to_datetime(series, utc=True)
    return pa.Array.from_pandas(series.dt.as_unit("ns"))


def _arrow_entities(entity_df: pd.DataFrame, ts_column: str) -> tuple[pa.Table, pa.Array]:
    """entity_df as Arrow (ts column replaced by its UTC ns version) and that ts column."""
    timestamps = _entity_timestamps(entity_df, ts_column)
    others = [c for c in entity_df.columns if c != ts_column]
    if not others:
        return pa.table({ts_column: timestamps}), timestamps
    # The ts column is converted on its own: mixed offsets or strings would fail here.
    table = pa.Table.from_pandas(entity_df, columns=others, preserve_index=False)
    position = list(entity_df.columns).index(ts_column)
    return table.add_column(position, ts_column, timestamps), timestamps


def _candidates_sql(
    plan: _ViewPlan,
    scan: str,
    ts_bounds: tuple[int, int] | None,
    entity_alias: dict[str, str] | None = None,
) -> str:
    """The view's source rows that can win for some entity row, with internal names.

    With ``entity_alias``, only rows whose keys occur in the entity table (a hash semi-join):
    a training set names a fraction of the keys, and the join then sorts only those keys'
    rows instead of the whole source.
    """
    select = [f"{_ident(src)} AS __k{j}" for j, (src, _) in enumerate(plan.keys)]
    select.append(f"{_epoch_ns(_ident(plan.timestamp))} AS __fts")
    if plan.created:
        select.append(f"{_epoch_ns(_ident(plan.created))} AS __cts")
    select += [f"{_ident(src)} AS __f{j}" for j, (src, _) in enumerate(plan.features)]
    select += [_FILE_COL, _FILE_ROW_COL]
    where = ["__fts IS NOT NULL"]
    if ts_bounds is not None:
        # Rows after the last entity time, or expired before the first, can never win.
        low, high = ts_bounds
        where.append(f"__fts <= {high}")
        if plan.ttl_ns:
            where.append(f"__fts >= {low - plan.ttl_ns}")
    rows = f"SELECT * FROM (SELECT {', '.join(select)} FROM {scan}) WHERE {' AND '.join(where)}"
    if not entity_alias or not plan.keys:
        return rows
    wanted = ", ".join(f"{entity_alias[ent]} AS __s{j}" for j, (_, ent) in enumerate(plan.keys))
    on = " AND ".join(f"c.__k{j} = s.__s{j}" for j in range(len(plan.keys)))
    return (
        f"SELECT c.* FROM ({rows}) c SEMI JOIN "
        f"(SELECT DISTINCT {wanted} FROM {_ENTITY_TABLE}) s ON {on}"
    )


# Tie-break by ordering, not by a window: the ASOF join takes, per entity row, the source row
# with the greatest order value at or below the entity's. Each source row's order value is
# (timestamp, created NULL lowest, file position, row position) and each entity row's is
# (timestamp, the greatest of everything else), so the latest row wins and, among rows tied on
# (keys, timestamp), the greatest created, then the last in the source: exactly the rule, at
# the cost of the sort the join does anyway (a row_number() window sorted everything twice).
# Without a created column the order fits one HUGEINT: timestamp * 2^64 + file * 2^40 + row.
_SHIFT = "18446744073709551616"  # 2^64
_INT64_MIN = "(-9223372036854775807 - 1)"
_INT64_MAX = "9223372036854775807"


def _ordered_sql(plan: _ViewPlan, candidates: str) -> str:
    """The candidates with their order value ``__ord``."""
    if plan.created:
        order = (
            f"{{'t': __fts, 'c': coalesce(__cts, {_INT64_MIN}), "
            f"'f': {_FILE_COL}::BIGINT, 'r': {_FILE_ROW_COL}::BIGINT}}"
        )
    else:
        order = (
            f"__fts::HUGEINT * {_SHIFT} + {_FILE_COL}::HUGEINT * 1099511627776 "
            f"+ {_FILE_ROW_COL}::HUGEINT"
        )
    return f"SELECT *, {order} AS __ord FROM ({candidates})"


def _entity_order(plan: _ViewPlan) -> str:
    """The entity row's order value (compares with every source row of its timestamp)."""
    if plan.created:
        return (
            f"{{'t': {_ENTITY_TS}, 'c': {_INT64_MAX}::BIGINT, 'f': {_INT64_MAX}::BIGINT, "
            f"'r': {_INT64_MAX}::BIGINT}}"
        )
    return f"{_ENTITY_TS}::HUGEINT * {_SHIFT} + ({_SHIFT}::HUGEINT - 1)"


def _asof_sql(
    plan: _ViewPlan, source: str, entity_alias: dict[str, str], out_aliases: list[str]
) -> str:
    """One view's ASOF LEFT JOIN: (row id, feature columns) for every entity row."""
    on = [f"e.{entity_alias[ent]} = f.__k{j}" for j, (_, ent) in enumerate(plan.keys)]
    on.append("e.__eord >= f.__ord")
    fresh = f"f.__fts >= e.{_ENTITY_TS} - {plan.ttl_ns}" if plan.ttl_ns else None
    values = [
        (f"CASE WHEN {fresh} THEN f.__f{j} END" if fresh else f"f.__f{j}") + f" AS {alias}"
        for j, alias in enumerate(out_aliases)
    ]
    entities = f"(SELECT *, {_entity_order(plan)} AS __eord FROM {_ENTITY_TABLE})"
    return (
        f"SELECT e.{_ROW_ID}{''.join(', ' + v for v in values)} "
        f"FROM {entities} e ASOF LEFT JOIN ({_ordered_sql(plan, source)}) f "
        f"ON {' AND '.join(on)}"
    )


def _point_in_time_join(
    con: duckdb.DuckDBPyConnection,
    config: RepoConfig,
    entity_table: pa.Table,
    timestamps: pa.Array,
    plans: list[_ViewPlan],
) -> pa.Table:
    """entity_table plus one column per requested feature, rows in entity order."""
    n = entity_table.num_rows
    entity_columns = _unique(ent for plan in plans for _, ent in plan.keys)
    entity_alias = {name: f"__e{i}" for i, name in enumerate(entity_columns)}
    keys_table = pa.table(
        {
            _ROW_ID: pa.array(np.arange(n, dtype=np.int64)),
            _ENTITY_TS: timestamps.cast(pa.int64()),
            **{entity_alias[name]: entity_table.column(name) for name in entity_columns},
        }
    )
    con.register(_ENTITY_TABLE, keys_table)

    low_high = pc.min_max(keys_table.column(_ENTITY_TS)).as_py()
    ts_bounds = None if low_high["min"] is None else (low_high["min"], low_high["max"])

    result = entity_table
    for plan in plans:
        scan = _parquet_scan(config, plan.source)
        what = f"feature view {plan.name!r} ({plan.source.path})"
        _require_columns(
            con,
            scan,
            [src for src, _ in plan.keys]
            + [plan.timestamp, *([plan.created] if plan.created else [])]
            + [src for src, _ in plan.features],
            what,
        )
        aliases = [f"__c{j}" for j in range(len(plan.features))]
        candidates = _candidates_sql(plan, scan, ts_bounds, entity_alias)
        try:
            features = con.sql(_asof_sql(plan, candidates, entity_alias, aliases)).to_arrow_table()
        except duckdb.Error as exc:
            raise RuntimeError(f"{what}: point-in-time join failed: {exc}") from exc
        # Join back by row id: the ASOF output comes in any order, so scatter it to entity
        # order (cheaper than ORDER BY). Every row id exactly once, or the join went wrong.
        row_ids = features.column(_ROW_ID).to_numpy()
        position = np.full(n, -1, dtype=np.int64)
        position[row_ids] = np.arange(len(row_ids), dtype=np.int64)
        if len(row_ids) != n or (n and position.min() < 0):
            raise RuntimeError(f"{what}: point-in-time join returned {len(row_ids)} rows for {n}")
        features = features.drop_columns([_ROW_ID]).combine_chunks().take(pa.array(position))
        for (_, output), alias in zip(plan.features, aliases, strict=True):
            result = result.append_column(output, features.column(alias).combine_chunks())
    return result


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


class DuckDBAsofOfflineStore(OfflineStore):
    """Point-in-time joins with DuckDB ``ASOF LEFT JOIN`` over parquet FileSources."""

    @staticmethod
    def get_historical_features(
        config: RepoConfig,
        feature_views: list[FeatureView],
        feature_refs: list[str],
        entity_df: pd.DataFrame | str | None,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        **kwargs: Any,
    ) -> RetrievalJob:
        _store_config(config)
        if kwargs.get("filter_by_created_timestamp"):
            raise NotImplementedError(
                "DuckDBAsofOfflineStore does not support filter_by_created_timestamp"
            )
        if entity_df is None:
            raise NotImplementedError(
                "DuckDBAsofOfflineStore needs an entity_df; retrieval by start_date/end_date "
                "without entities is not supported"
            )
        if not isinstance(entity_df, pd.DataFrame):
            raise NotImplementedError(
                "DuckDBAsofOfflineStore takes entity_df as a pandas DataFrame, "
                f"not {type(entity_df).__name__} (SQL entity queries are not supported)"
            )

        ts_column = infer_event_timestamp_from_entity_df(dict(entity_df.dtypes.items()))
        odfvs = _get_requested_on_demand_feature_views(feature_refs, project, registry)
        views_to_features, _ = _get_requested_feature_views_to_features_dict(
            feature_refs, feature_views, odfvs
        )
        plans = [
            _plan_view(view, features, full_feature_names)
            for view, features in views_to_features.items()
        ]

        needed = {ent for plan in plans for _, ent in plan.keys}
        missing = needed - set(entity_df.columns)
        if missing:
            raise FeastEntityDFMissingColumnsError(sorted(needed), sorted(missing))
        clashes = sorted(
            {out for plan in plans for _, out in plan.features} & set(entity_df.columns)
        )
        if clashes:
            raise ValueError(
                f"entity_df columns {clashes} have the names of requested features: rename "
                "them or use full_feature_names=True"
            )

        entity_table, timestamps = _arrow_entities(entity_df, ts_column)
        bounds = pc.min_max(timestamps).as_py()
        low, high = (
            None if bounds[k] is None else pd.Timestamp(bounds[k]).to_pydatetime()
            for k in ("min", "max")
        )

        def query(con: duckdb.DuckDBPyConnection) -> pa.Table:
            return _point_in_time_join(con, config, entity_table, timestamps, plans)

        return DuckDBAsofRetrievalJob(
            query=query,
            config=config,
            full_feature_names=full_feature_names,
            on_demand_feature_views=OnDemandFeatureView.get_requested_odfvs(
                feature_refs, project, registry
            ),
            metadata=RetrievalMetadata(
                features=feature_refs,
                keys=list(set(entity_df.columns) - {ts_column}),
                min_event_timestamp=low,
                max_event_timestamp=high,
            ),
        )

    @staticmethod
    def _pull(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None,
        start_date: datetime | None,
        end_date: datetime | None,
        latest: bool,
    ) -> RetrievalJob:
        source = _file_source(data_source, f"data source {data_source.name!r}")
        columns = _unique(
            [*join_key_columns, *feature_name_columns, timestamp_field, created_timestamp_column]
        )
        ts_columns = {timestamp_field, created_timestamp_column}
        fts = _epoch_ns(_ident(timestamp_field))
        where = [f"{fts} IS NOT NULL"]
        if start_date is not None:
            where.append(f"{fts} >= {_to_utc_ns(start_date)}")
        if end_date is not None:
            where.append(f"{fts} < {_to_utc_ns(end_date)}")
        # (The exact filters above; _window_prefilter adds scan-level ones in the query.)
        # Output timestamps are UTC-aware whatever the parquet stores.
        select = [
            f"CAST({_ident(c)} AS TIMESTAMPTZ_NS) AS {_ident(c)}" if c in ts_columns else _ident(c)
            for c in columns
        ]
        if not join_key_columns:
            # Entity-less views are keyed by Feast's dummy entity (as in the dask store).
            select.append(f"{_lit(DUMMY_ENTITY_VAL)} AS {_ident(DUMMY_ENTITY_ID)}")
        qualify = ""
        if latest:
            order = [f"{fts} DESC"]
            if created_timestamp_column:
                order.append(f"{_epoch_ns(_ident(created_timestamp_column))} DESC NULLS LAST")
            order += [f"{_FILE_COL} DESC", f"{_FILE_ROW_COL} DESC"]
            partition = (
                f"PARTITION BY {', '.join(_ident(k) for k in join_key_columns)} "
                if join_key_columns
                else ""
            )
            qualify = f"QUALIFY row_number() OVER ({partition}ORDER BY {', '.join(order)}) = 1"

        start_ns = None if start_date is None else _to_utc_ns(start_date)
        end_ns = None if end_date is None else _to_utc_ns(end_date)

        def query(con: duckdb.DuckDBPyConnection) -> pa.Table:
            scan = _parquet_scan(config, source)
            what = f"data source {source.name or source.path!r}"
            types = dict(_source_columns(con, scan))
            missing = sorted(set(columns) - set(types))
            if missing:
                raise ValueError(
                    f"{what}: columns {missing} not in the source (it has {sorted(types)})"
                )
            prefilter = _window_prefilter(timestamp_field, types[timestamp_field], start_ns, end_ns)
            conditions = " AND ".join([*prefilter, *where])
            sql = f"SELECT {', '.join(select)} FROM {scan} WHERE {conditions} {qualify}"
            try:
                return con.sql(sql).to_arrow_table()
            except duckdb.Error as exc:
                raise RuntimeError(f"{what}: read failed: {exc}") from exc

        return DuckDBAsofRetrievalJob(query=query, config=config)

    @staticmethod
    def pull_latest_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None,
        start_date: datetime,
        end_date: datetime,
    ) -> RetrievalJob:
        """Latest row per join key with ``start_date <= timestamp < end_date``."""
        return DuckDBAsofOfflineStore._pull(
            config,
            data_source,
            join_key_columns,
            feature_name_columns,
            timestamp_field,
            created_timestamp_column,
            start_date,
            end_date,
            latest=True,
        )

    @staticmethod
    def pull_all_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> RetrievalJob:
        """Every row with ``start_date <= timestamp < end_date`` (either bound optional)."""
        return DuckDBAsofOfflineStore._pull(
            config,
            data_source,
            join_key_columns,
            feature_name_columns,
            timestamp_field,
            created_timestamp_column,
            start_date,
            end_date,
            latest=False,
        )

    @staticmethod
    def offline_write_batch(
        config: RepoConfig,
        feature_view: FeatureView,
        table: pa.Table,
        progress: Callable[[int], Any] | None,
    ) -> None:
        raise NotImplementedError(
            "DuckDBAsofOfflineStore is read-only: the platform writes the offline parquet "
            "tables itself (store.write_to_offline_store / push to offline are not supported)"
        )

    @staticmethod
    def write_logged_features(
        config: RepoConfig,
        data: pa.Table | Path,
        source: LoggingSource,
        logging_config: LoggingConfig,
        registry: BaseRegistry,
    ) -> None:
        raise NotImplementedError("DuckDBAsofOfflineStore does not store feature logs")

    def validate_data_source(self, config: RepoConfig, data_source: DataSource) -> None:
        """The source resolves (against ``root``) to parquet holding its timestamp column."""
        source = _file_source(data_source, f"data source {data_source.name!r}")
        con = _connect(_store_config(config))
        try:
            _require_columns(
                con,
                _parquet_scan(config, source),
                [source.timestamp_field],
                f"data source {source.name or source.path!r}",
            )
        finally:
            con.close()

    def get_table_column_names_and_types_from_data_source(
        self, config: RepoConfig, data_source: DataSource
    ) -> Iterable[tuple[str, str]]:
        """Column names and Arrow type names, for Feast's schema inference at apply."""
        source = _file_source(data_source, f"data source {data_source.name!r}")
        con = _connect(_store_config(config))
        try:
            scan = _parquet_scan(config, source)
            schema = con.sql(f"SELECT * FROM {scan} LIMIT 0").to_arrow_table().schema
        finally:
            con.close()
        return [(f.name, str(f.type)) for f in schema]


__all__ = [
    "STORE_TYPE",
    "DuckDBAsofOfflineStore",
    "DuckDBAsofOfflineStoreConfig",
    "DuckDBAsofRetrievalJob",
    "resolve_source_path",
]
