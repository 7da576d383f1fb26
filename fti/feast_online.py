"""Feast online stores with a columnar write path: SQLite and Redis, byte-identical to Feast's.

Feast materializes by turning every Arrow value into a ``ValueProto`` object in Python
(``feast.utils._convert_arrow_to_proto``) and the SQLite store then writes one row per
(entity, feature) with ``execute``; both dominate materialization time. Here:

- :class:`ArrowWriteComputeEngine` (``batch_engine`` type) is Feast's local compute engine with
  one change: its output node hands the Arrow table to the online store's
  ``online_write_arrow`` when the store has one, instead of converting it to protos first.
- :func:`encode_values` serializes a whole Arrow column to ``ValueProto`` wire bytes with numpy
  (per column, not per value), :func:`encode_entity_keys` does the same for Feast's entity key
  serialization (version 3). Types without a vectorized encoder go through Feast's own
  conversion, column by column, so every byte stays Feast's.
- :class:`FastSqliteOnlineStore` writes with ``executemany`` in one transaction and reads with
  one cached statement; :class:`FastRedisOnlineStore` writes pipelined ``HSET`` with Feast's key
  and field encoding and its "newer timestamp wins" rule, so Feast's own readers read the data.

The contract the tests check: on the same data the stored rows / hashes are byte-identical to
Feast's ``sqlite`` / ``redis`` stores, and reads return identical results.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sqlite3
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from feast import utils
from feast.feature_service import FeatureService
from feast.feature_view import FeatureView
from feast.infra.common.materialization_job import (
    MaterializationJobStatus,
    MaterializationTask,
)
from feast.infra.compute_engines.dag.context import ExecutionContext
from feast.infra.compute_engines.local.arrow_table_value import ArrowTableValue
from feast.infra.compute_engines.local.compute import (
    LocalComputeEngine,
    LocalComputeEngineConfig,
)
from feast.infra.compute_engines.local.feature_builder import LocalFeatureBuilder
from feast.infra.compute_engines.local.job import LocalMaterializationJob
from feast.infra.compute_engines.local.nodes import LocalOutputNode
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3, extract_text_and_num
from feast.infra.online_stores.online_store import OnlineStore
from feast.infra.online_stores.redis import (
    RedisOnlineStore,
    RedisOnlineStoreConfig,
    _versioned_fv_name,
)
from feast.infra.online_stores.sqlite import (
    SqliteOnlineStore,
    SqliteOnlineStoreConfig,
    _quote_id,
    _table_id,
)
from feast.infra.registry.base_registry import BaseRegistry
from feast.online_response import TIMESTAMP_POSTFIX, OnlineResponse
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus, GetOnlineFeaturesResponse
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import RepoConfig
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from feast.utils import _convert_arrow_to_proto, make_tzaware, to_naive_utc
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp

logger = logging.getLogger(__name__)

SQLITE_TYPE = "fti.feast_online.FastSqliteOnlineStore"
REDIS_TYPE = "fti.feast_online.FastRedisOnlineStore"
ENGINE_TYPE = "fti.feast_online.ArrowWriteComputeEngine"

# Entities per executemany / pipeline: bounds memory (about 20 features x 50k rows of bytes).
WRITE_CHUNK = 50_000
# SQLite page cache of the store's connection (KiB, negative = size rather than pages): the
# three B-trees of a Feast table (rowid, primary key, entity index) stop thrashing the default
# 2 MiB cache once a table passes ~100k entities. Per connection only: the file is unchanged.
SQLITE_CACHE_KIB = 256 * 1024


# --------------------------------------------------------------------------------------------
# Columnar serialization: variable-length byte strings as (offsets, data) numpy pairs
# --------------------------------------------------------------------------------------------

# ValueProto field tags (field number << 3 | wire type) of the scalar oneof members.
_TAG_BYTES = 0x0A  # 1, length-delimited
_TAG_STRING = 0x12  # 2, length-delimited
_TAG_INT32 = 0x18  # 3, varint
_TAG_INT64 = 0x20  # 4, varint
_TAG_DOUBLE = 0x29  # 5, 64-bit
_TAG_FLOAT = 0x35  # 6, 32-bit
_TAG_BOOL = 0x38  # 7, varint


class _Var:
    """n byte strings stored as offsets (n + 1, int64) into one uint8 buffer."""

    __slots__ = ("data", "offsets")

    def __init__(self, offsets: np.ndarray, data: np.ndarray) -> None:
        self.offsets = offsets
        self.data = data

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @classmethod
    def fixed(cls, matrix: np.ndarray) -> _Var:
        """Rows of a (n, width) uint8 matrix."""
        n, width = matrix.shape
        return cls(np.arange(n + 1, dtype=np.int64) * width, np.ascontiguousarray(matrix).ravel())

    @classmethod
    def constant(cls, value: bytes, n: int) -> _Var:
        row = np.frombuffer(value, dtype=np.uint8)
        return cls.fixed(np.broadcast_to(row, (n, len(row))))

    @classmethod
    def from_arrow(cls, array: pa.Array) -> _Var:
        """Bytes of a (large_)string / (large_)binary array without nulls or with nulls as b''."""
        if array.null_count:
            array = pc.if_else(array.is_valid(), array, pa.scalar(b"", array.type))
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            array = array.cast(
                pa.large_binary() if pa.types.is_large_string(array.type) else pa.binary()
            )
        offset_type = np.int64 if pa.types.is_large_binary(array.type) else np.int32
        buffers = array.buffers()
        offsets = np.frombuffer(buffers[1], dtype=offset_type)[
            array.offset : array.offset + len(array) + 1
        ].astype(np.int64)
        data = (
            np.frombuffer(buffers[2], dtype=np.uint8)
            if buffers[2] is not None
            else np.zeros(0, dtype=np.uint8)
        )
        return cls(offsets, data)

    def to_objects(self) -> np.ndarray:
        """An object array of Python ``bytes``, one per string."""
        n = len(self.offsets) - 1
        start = int(self.offsets[0]) if n else 0
        data = self.data[start : int(self.offsets[-1])] if n else self.data[:0]
        offsets = self.offsets - start
        if len(data) < 2**31:
            arrow = pa.BinaryArray.from_buffers(
                pa.binary(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
            )
        else:
            arrow = pa.LargeBinaryArray.from_buffers(
                pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
            )
        out: np.ndarray = arrow.to_numpy(zero_copy_only=False)
        return out


def _join(parts: Sequence[_Var]) -> _Var:
    """Element-wise concatenation of n-element byte-string columns."""
    lengths = [p.lengths for p in parts]
    total = np.sum(lengths, axis=0) if lengths else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(total) + 1, dtype=np.int64)
    np.cumsum(total, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.uint8)
    position = offsets[:-1].copy()
    for part, length in zip(parts, lengths, strict=True):
        first, last = int(part.offsets[0]), int(part.offsets[-1])
        if last > first:
            # Destination of every source byte: its offset inside its string + where the
            # string's piece goes in the output.
            shift = np.repeat(position - part.offsets[:-1], length)
            out[np.arange(first, last, dtype=np.int64) + shift] = part.data[first:last]
        position += length
    return _Var(offsets, out)


def _varints(values: np.ndarray, tag: int | None = None) -> _Var:
    """Protobuf varints of int64 values (negatives as 10-byte two's complement), tag first."""
    u = values.astype(np.int64).view(np.uint64)
    n = len(u)
    groups = np.ones(n, dtype=np.int64)
    for k in range(1, 10):
        groups += (u >> np.uint64(7 * k)) != 0
    lead = 0 if tag is None else 1
    width = lead + 10
    matrix = np.zeros((n, width), dtype=np.uint8)
    if tag is not None:
        matrix[:, 0] = tag
    for k in range(10):
        byte = ((u >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        byte |= np.where(groups > k + 1, 0x80, 0).astype(np.uint8)
        matrix[:, lead + k] = byte
    lengths = lead + groups
    keep = np.arange(width)[None, :] < lengths[:, None]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return _Var(offsets, matrix[keep])


def _fixed_values(tag: int, raw: np.ndarray) -> _Var:
    """tag + little-endian fixed-width value (double, float)."""
    width = raw.dtype.itemsize
    matrix = np.empty((len(raw), 1 + width), dtype=np.uint8)
    matrix[:, 0] = tag
    matrix[:, 1:] = raw.astype(raw.dtype.newbyteorder("<")).view(np.uint8).reshape(len(raw), width)
    return _Var.fixed(matrix)


def _blank(var: _Var, null: np.ndarray) -> _Var:
    """The same strings with the null positions emptied (a null ValueProto serializes to b'')."""
    if not null.any():
        return var
    lengths = np.where(null, 0, var.lengths)
    keep = np.repeat(~null, var.lengths)
    first, last = int(var.offsets[0]), int(var.offsets[-1])
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return _Var(offsets, var.data[first:last][keep])


def _length_delimited(tag: int, array: pa.Array) -> _Var:
    body = _Var.from_arrow(array)
    return _join([_varints(body.lengths, tag), body])


def _float_texts(values: np.ndarray, null: np.ndarray) -> np.ndarray:
    # Feast stores str() of the Python value read back from the proto.
    texts = np.empty(len(values), dtype=object)
    floats = values.astype(np.float64).tolist()
    texts[:] = [None if skip else repr(v) for v, skip in zip(floats, null.tolist(), strict=True)]
    return texts


def _int_texts(values: np.ndarray, null: np.ndarray) -> np.ndarray:
    texts = np.empty(len(values), dtype=object)
    ints = values.tolist()
    texts[:] = [None if skip else str(v) for v, skip in zip(ints, null.tolist(), strict=True)]
    return texts


def _exact_ints_through_float(values: np.ndarray) -> bool:
    # With nulls, Feast reads an int column as float64 (NaN for null) and converts back.
    return bool((np.abs(values) <= 2**53).all())


def _encode_fast(
    array: pa.Array, value_type: ValueType, want_text: bool
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(wire bytes, value_text) for the type pairs with a vectorized encoder, else None."""
    t = array.type
    n = len(array)
    valid = (
        np.ones(n, dtype=bool)
        if array.null_count == 0
        else np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    )
    null = ~valid
    texts: np.ndarray | None = None
    if value_type == ValueType.DOUBLE and pa.types.is_float64(t):
        raw = array.fill_null(0.0).to_numpy(zero_copy_only=False)
        null = null | np.isnan(raw)
        var = _fixed_values(_TAG_DOUBLE, raw)
        if want_text:
            texts = _float_texts(raw, null)
    elif value_type == ValueType.FLOAT and pa.types.is_float32(t):
        raw = array.fill_null(0.0).to_numpy(zero_copy_only=False)
        null = null | np.isnan(raw)
        var = _fixed_values(_TAG_FLOAT, raw)
        if want_text:
            texts = _float_texts(raw, null)
    elif (value_type == ValueType.INT64 and pa.types.is_integer(t) and t.bit_width <= 64) or (
        value_type == ValueType.INT32 and pa.types.is_int32(t)
    ):
        if pa.types.is_uint64(t):
            return None
        raw = array.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        if null.any() and not _exact_ints_through_float(raw[valid]):
            return None
        tag = _TAG_INT64 if value_type == ValueType.INT64 else _TAG_INT32
        var = _varints(raw, tag)
        if want_text:
            texts = _int_texts(raw, null)
    elif value_type == ValueType.STRING and (pa.types.is_string(t) or pa.types.is_large_string(t)):
        var = _length_delimited(_TAG_STRING, array)
        if want_text:
            texts = array.to_numpy(zero_copy_only=False)
    elif value_type == ValueType.BYTES and (pa.types.is_binary(t) or pa.types.is_large_binary(t)):
        var = _length_delimited(_TAG_BYTES, array)
        if want_text:
            texts = np.full(n, None, dtype=object)
    elif value_type == ValueType.BOOL and pa.types.is_boolean(t):
        raw = array.fill_null(False).to_numpy(zero_copy_only=False).astype(np.uint8)
        var = _Var.fixed(np.stack([np.full(n, _TAG_BOOL, dtype=np.uint8), raw], axis=1))
        if want_text:
            texts = np.where(raw.astype(bool), "True", "False").astype(object)
            texts[null] = None
    else:
        return None
    if null.all():
        # Feast: no non-empty sample in the column -> every value is an empty ValueProto.
        var = _Var(np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8))
    else:
        var = _blank(var, null)
    return var.to_objects(), texts


def _encode_with_feast(
    array: pa.Array, value_type: ValueType, want_text: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Feast's own per-value conversion (the path every unsupported type takes)."""
    protos = python_values_to_proto_values(array.to_numpy(zero_copy_only=False), value_type)
    values = np.empty(len(protos), dtype=object)
    values[:] = [p.SerializeToString() for p in protos]
    texts = None
    if want_text:
        texts = np.empty(len(protos), dtype=object)
        texts[:] = [extract_text_and_num(p, False)[0] for p in protos]
    return values, texts


def encode_values(
    array: pa.Array | pa.ChunkedArray, value_type: ValueType, want_text: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Serialized ``ValueProto`` of every value of a column, as Feast's materialization makes it.

    Returns an object array of ``bytes`` and, with ``want_text``, the SQLite store's
    ``value_text`` of each value (None where Feast stores NULL).
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    fast = _encode_fast(array, value_type, want_text)
    if fast is not None:
        return fast
    return _encode_with_feast(array, value_type, want_text)


_KEY_TYPES: dict[ValueType, tuple[int, int | None]] = {
    # value type -> (ValueType id written in the key, fixed width or None for strings)
    ValueType.STRING: (ValueType.STRING.value, None),
    ValueType.INT64: (ValueType.INT64.value, 8),
    ValueType.INT32: (ValueType.INT32.value, 4),
    ValueType.BYTES: (ValueType.BYTES.value, None),
}


def _key_part(array: pa.Array, value_type: ValueType) -> _Var | None:
    """``<type><len><bytes>`` of one join key column, or None when Feast's path is needed."""
    if array.null_count or value_type not in _KEY_TYPES:
        return None
    type_id, width = _KEY_TYPES[value_type]
    t = array.type
    n = len(array)
    if width is None:
        wanted = pa.types.is_string if value_type == ValueType.STRING else pa.types.is_binary
        large = (
            pa.types.is_large_string if value_type == ValueType.STRING else pa.types.is_large_binary
        )
        if not (wanted(t) or large(t)):
            return None
        body = _Var.from_arrow(array)
        head = np.empty((n, 8), dtype=np.uint8)
        head[:, :4] = np.frombuffer(struct.pack("<I", type_id), dtype=np.uint8)
        head[:, 4:] = body.lengths.astype("<u4").view(np.uint8).reshape(n, 4)
        return _join([_Var.fixed(head), body])
    if not pa.types.is_integer(t) or pa.types.is_uint64(t):
        return None
    raw = array.to_numpy(zero_copy_only=False).astype(np.int64)
    if width == 4 and ((raw < -(2**31)) | (raw >= 2**31)).any():
        return None
    matrix = np.empty((n, 8 + width), dtype=np.uint8)
    matrix[:, :8] = np.frombuffer(struct.pack("<II", type_id, width), dtype=np.uint8)
    dtype = "<i8" if width == 8 else "<i4"
    matrix[:, 8:] = raw.astype(dtype).view(np.uint8).reshape(n, width)
    return _Var.fixed(matrix)


def encode_entity_keys(table: pa.Table, join_keys: dict[str, ValueType]) -> np.ndarray:
    """``serialize_entity_key`` (version 3) of every row, as an object array of ``bytes``."""
    n = table.num_rows
    names = sorted(join_keys)
    header = struct.pack("<I", len(names)) + b"".join(
        struct.pack("<II", ValueType.STRING.value, len(k.encode("utf8"))) + k.encode("utf8")
        for k in names
    )
    parts = [_Var.constant(header, n)]
    for name in names:
        part = _key_part(table.column(name).combine_chunks(), join_keys[name])
        if part is None:
            return _entity_keys_with_feast(table, join_keys)
        parts.append(part)
    return _join(parts).to_objects()


def _entity_keys_with_feast(table: pa.Table, join_keys: dict[str, ValueType]) -> np.ndarray:
    columns = {
        k: python_values_to_proto_values(table.column(k).to_numpy(zero_copy_only=False), vt)
        for k, vt in join_keys.items()
    }
    out = np.empty(table.num_rows, dtype=object)
    out[:] = [
        serialize_entity_key(
            EntityKeyProto(
                join_keys=list(join_keys), entity_values=[columns[k][i] for k in join_keys]
            ),
            entity_key_serialization_version=3,
        )
        for i in range(table.num_rows)
    ]
    return out


def key_order(keys: np.ndarray) -> np.ndarray:
    """A stable order of serialized entity keys close to SQLite's BLOB order (memcmp).

    Fixed-width byte strings compare byte by byte; keys that differ only in trailing zero
    bytes tie, which costs nothing but locality. Equal keys keep their input order.
    """
    if len(keys) < 2:
        return np.arange(len(keys))
    return np.argsort(np.array(keys.tolist(), dtype=bytes), kind="stable")


def _unique_map(ns: np.ndarray, convert: Callable[[pd.Timestamp], Any]) -> list[Any]:
    """convert() of each timestamp, called once per distinct value (exactly Feast's objects)."""
    uniques, inverse = np.unique(ns, return_inverse=True)
    converted = [convert(pd.Timestamp(int(u))) for u in uniques]
    lookup = np.empty(len(converted), dtype=object)
    lookup[:] = converted
    out: list[Any] = lookup[inverse.reshape(-1)].tolist()
    return out


def _timestamps_ns(table: pa.Table, column: str) -> np.ndarray | None:
    """The column as UTC epoch nanoseconds, or None if it has nulls (Feast's path then)."""
    array = table.column(column).combine_chunks()
    if array.null_count or not pa.types.is_timestamp(array.type):
        return None
    return (
        array.cast(pa.timestamp("ns", array.type.tz)).to_numpy(zero_copy_only=False).view(np.int64)
    )


def _feast_datetime(stamp: pd.Timestamp) -> datetime:
    # feast.utils._coerce_datetime of pd.to_datetime(column.to_numpy()): naive UTC.
    return stamp.to_pydatetime(warn=False)


def _sqlite_epoch(stamp: pd.Timestamp) -> int:
    # The adapter Feast registers for datetime: int(to_naive_utc(ts).timestamp()).
    return int(to_naive_utc(_feast_datetime(stamp)).timestamp())


def _redis_ts(stamp: pd.Timestamp) -> tuple[int, bytes]:
    ts = Timestamp()
    ts.FromDatetime(make_tzaware(_feast_datetime(stamp)))
    return ts.seconds * 1_000_000_000 + ts.nanos, ts.SerializeToString()


# --------------------------------------------------------------------------------------------
# The batch engine: Feast's local engine, writing Arrow to stores that can take it
# --------------------------------------------------------------------------------------------


class ArrowWriteComputeEngineConfig(LocalComputeEngineConfig):
    """``batch_engine`` section of feature_store.yaml for :class:`ArrowWriteComputeEngine`."""

    type: Literal["fti.feast_online.ArrowWriteComputeEngine"] = (
        "fti.feast_online.ArrowWriteComputeEngine"  # type: ignore[assignment]
    )


class ArrowOutputNode(LocalOutputNode):
    """LocalOutputNode, minus the Arrow-to-proto conversion when the store writes Arrow."""

    def execute(self, context: ExecutionContext) -> ArrowTableValue:
        online_store = context.online_store
        writer = getattr(online_store, "online_write_arrow", None)
        if writer is None or not self.feature_view.online:
            return super().execute(context)
        input_table = self.get_single_table(context).data
        output = ArrowTableValue(data=input_table)
        context.node_outputs[self.name] = output
        if input_table.num_rows == 0:
            return output
        join_keys = {
            entity.name: entity.dtype.to_value_type() for entity in self.feature_view.entity_columns
        }
        batch_size = context.repo_config.materialization_config.online_write_batch_size
        batches = (
            [input_table]
            if batch_size is None
            else [
                pa.Table.from_batches([b]) for b in input_table.to_batches(max_chunksize=batch_size)
            ]
        )
        for batch in batches:
            writer(context.repo_config, self.feature_view, batch, join_keys, None)
        if self.feature_view.offline:
            context.offline_store.offline_write_batch(
                config=context.repo_config,
                feature_view=self.feature_view,
                table=input_table,
                progress=lambda x: None,
            )
        return output


class _ArrowFeatureBuilder(LocalFeatureBuilder):
    def build_output_nodes(self, view: Any, input_node: Any) -> ArrowOutputNode:
        node = ArrowOutputNode("output", self.dag_root.view, inputs=[input_node])  # type: ignore[arg-type]
        self.nodes.append(node)
        return node


class ArrowWriteComputeEngine(LocalComputeEngine):
    """Feast's local compute engine whose materialization writes Arrow tables to the store.

    All-or-nothing across views: Feast hands a batch engine (``supports_batch``) every view of
    one ``materialize`` call at once and records a view's materialization interval in the
    registry only for the jobs that come back succeeded. Here the views' writes go into one
    transaction of the online store (``write_transaction``: one SQLite transaction, one Redis
    MULTI/EXEC); if any view fails or the commit fails, nothing is written and every job comes
    back failed, so the registry does not advance and a re-run redoes the whole window.
    """

    @property
    def supports_batch(self) -> bool:
        return True

    def materialize(
        self,
        registry: BaseRegistry,
        tasks: MaterializationTask | list[MaterializationTask],
        *,
        lineage_parent: Any = None,
        **kwargs: Any,
    ) -> list[Any]:
        if isinstance(tasks, MaterializationTask):
            tasks = [tasks]
        if lineage_parent is not None:
            kwargs["lineage_parent"] = lineage_parent
        transaction = getattr(self.online_store, "write_transaction", None)
        if transaction is None:
            return [self._materialize_one(registry, task, **kwargs) for task in tasks]
        jobs: list[LocalMaterializationJob] = []
        try:
            with transaction(self.repo_config):
                for task in tasks:
                    job = self._materialize_one(registry, task, **kwargs)
                    if job.status() == MaterializationJobStatus.ERROR:
                        raise job.error() or RuntimeError(f"{job.job_id()} failed")
                    jobs.append(job)
        except Exception as error:  # nothing was committed: every view failed
            return [
                LocalMaterializationJob(
                    job_id=f"{task.feature_view.name}-{task.start_time}-{task.end_time}",
                    status=MaterializationJobStatus.ERROR,
                    error=error,
                )
                for task in tasks
            ]
        return jobs

    def _materialize_one(
        self, registry: BaseRegistry, task: MaterializationTask, **kwargs: Any
    ) -> LocalMaterializationJob:
        job_id = f"{task.feature_view.name}-{task.start_time}-{task.end_time}"
        context = self.get_execution_context(registry, task)
        backend = self._get_backend(context)
        try:
            plan = _ArrowFeatureBuilder(registry, task, backend=backend).build()
            plan.execute(context)
            return LocalMaterializationJob(job_id=job_id, status=MaterializationJobStatus.SUCCEEDED)
        except Exception as e:
            return LocalMaterializationJob(
                job_id=job_id, status=MaterializationJobStatus.ERROR, error=e
            )


# --------------------------------------------------------------------------------------------
# Shared pieces of the write path
# --------------------------------------------------------------------------------------------


def _is_odfv(feature_view: Any) -> bool:
    return (
        getattr(feature_view, "source_request_sources", None) is not None
        or getattr(feature_view, "source_feature_view_projections", None) is not None
    )


def _chunks(table: pa.Table, size: int) -> Iterator[tuple[int, pa.Table]]:
    for start in range(0, table.num_rows, size):
        yield start, table.slice(start, size)


def _repeat(values: Sequence[Any] | np.ndarray, times: int) -> list[Any]:
    """Each value ``times`` times in a row, as a list of Python objects."""
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    out: list[Any] = np.repeat(array, times).tolist()
    return out


def _event_ns(table: pa.Table, feature_view: FeatureView) -> np.ndarray | None:
    source = feature_view.batch_source
    if source is None:
        return None
    return _timestamps_ns(table, source.timestamp_field)


# --------------------------------------------------------------------------------------------
# The read path: get_online_features without Feast's per-value proto plumbing
# --------------------------------------------------------------------------------------------

# Python value of a ValueProto member that Feast's feast_value_type_to_python_type returns as is.
_PLAIN_MEMBERS = frozenset(
    {"double_val", "float_val", "int64_val", "int32_val", "string_val", "bool_val", "bytes_val"}
)
_NULL_VALUE = ValueProto()
_NULL_TS = Timestamp()
_EMPTY: dict[str, ValueProto] = {}
_PRESENT = int(FieldStatus.PRESENT)
_NOT_FOUND = int(FieldStatus.NOT_FOUND)

Row = tuple[datetime | None, dict[str, ValueProto] | None]


def _python_values(values: list[ValueProto], feature_type: ValueType | None) -> list[Any]:
    """feast_value_type_to_python_type of every value, inline for the plain scalar members."""
    if feature_type is ValueType.UUID or feature_type is ValueType.TIME_UUID:
        return [feast_value_type_to_python_type(v, feature_type) for v in values]
    out: list[Any] = []
    plain = _PLAIN_MEMBERS
    for value in values:
        member = value.WhichOneof("val")
        if member is None:
            out.append(None)
        elif member in plain:
            out.append(getattr(value, member))
        else:
            out.append(feast_value_type_to_python_type(value, feature_type))
    return out


class _Column:
    """One column of an online response (Feast's FeatureVector) as Python lists.

    Entity columns keep the caller's Python values and make their protos only on demand.
    """

    __slots__ = ("name", "python", "stamps", "statuses", "value_type", "values")

    def __init__(
        self,
        name: str,
        values: list[ValueProto] | None,
        statuses: list[int],
        stamps: list[Timestamp],
        python: list[Any] | None = None,
        value_type: ValueType = ValueType.UNKNOWN,
    ) -> None:
        self.name = name
        self.values = values
        self.statuses = statuses
        self.stamps = stamps
        self.python = python
        self.value_type = value_type

    def protos(self) -> list[ValueProto]:
        if self.values is None:
            self.values = python_values_to_proto_values(self.python or [], self.value_type)
        return self.values


class _Block:
    """The columns of one view when every entity row is distinct, kept as the read rows.

    Columns are made only when needed: to_dict reads the values straight from the rows.
    """

    __slots__ = ("datas", "outputs", "stamps")

    def __init__(
        self,
        outputs: list[tuple[str, str]],
        datas: list[dict[str, ValueProto]],
        stamps: list[Timestamp],
    ) -> None:
        self.outputs = outputs
        self.datas = datas
        self.stamps = stamps

    def columns(self) -> list[_Column]:
        out = []
        for feature, name in self.outputs:
            values = [d.get(feature, _NULL_VALUE) for d in self.datas]
            statuses = [_NOT_FOUND if v is _NULL_VALUE else _PRESENT for v in values]
            out.append(_Column(name, values, statuses, self.stamps))
        return out


class FastOnlineResponse(OnlineResponse):
    """An OnlineResponse whose proto is built only when asked for; to_dict reads the lists.

    ``proto``, ``to_dict``, ``to_df`` and ``to_arrow`` give what Feast's OnlineResponse gives
    for the same read (the tests compare them).
    """

    def __init__(self, parts: list[_Column | _Block], feature_types: dict[str, ValueType]) -> None:
        self._parts = parts
        self._feature_types = feature_types
        self._proto: GetOnlineFeaturesResponse | None = None

    @property
    def _columns(self) -> list[_Column]:
        out: list[_Column] = []
        for part in self._parts:
            out.extend(part.columns() if isinstance(part, _Block) else [part])
        return out

    @property  # type: ignore[override]
    def proto(self) -> GetOnlineFeaturesResponse:
        if self._proto is None:
            response = GetOnlineFeaturesResponse(results=[])
            for column in self._columns:
                response.metadata.feature_names.val.append(column.name)
                response.results.append(
                    GetOnlineFeaturesResponse.FeatureVector(
                        values=column.protos(),
                        statuses=column.statuses,  # type: ignore[arg-type]
                        event_timestamps=column.stamps,
                    )
                )
            self._proto = response
        return self._proto

    @proto.setter
    def proto(self, value: GetOnlineFeaturesResponse) -> None:
        self._proto = value

    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, Any]:
        if self._proto is not None:
            return super().to_dict(include_event_timestamps)
        response: dict[str, list[Any]] = {}
        types = self._feature_types
        for part in self._parts:
            if isinstance(part, _Block):
                for feature, name in part.outputs:
                    values = [d.get(feature, _NULL_VALUE) for d in part.datas]
                    response[name] = _python_values(values, types.get(name))
                    if include_event_timestamps:
                        response[name + TIMESTAMP_POSTFIX] = [ts.seconds for ts in part.stamps]
                continue
            column = part
            if column.values is None and column.python is not None:
                # Plain str / int join keys: Feast's proto round trip gives them back as is.
                response[column.name] = list(column.python)
            else:
                response[column.name] = _python_values(column.protos(), types.get(column.name))
            if include_event_timestamps:
                response[column.name + TIMESTAMP_POSTFIX] = [ts.seconds for ts in column.stamps]
        return response


_METRICS: Any = None


def _metrics_on() -> bool:
    """Feast's online metrics flag (read per call: it can be switched on at any time)."""
    global _METRICS
    if _METRICS is None:
        try:
            import feast.metrics as metrics

            _METRICS = metrics
        except Exception:
            _METRICS = False
    if _METRICS is False:
        return False
    try:
        return bool(_METRICS._config.online_features)
    except Exception:
        return False


_TS_CACHE: dict[datetime, Timestamp] = {}


def _timestamp(row_ts: datetime) -> Timestamp:
    """Timestamp.FromDatetime(row_ts), memoized (rows of one hour share their timestamp)."""
    ts = _TS_CACHE.get(row_ts)
    if ts is None:
        if len(_TS_CACHE) > 65_536:
            _TS_CACHE.clear()
        ts = Timestamp()
        ts.FromDatetime(row_ts)
        _TS_CACHE[row_ts] = ts
    return ts


def _columnar(entity_rows: Any) -> dict[str, list[Any]] | None:
    """entity_rows as {key: values}, or None when only Feast's own path handles them."""
    if isinstance(entity_rows, list):
        if not entity_rows or not isinstance(entity_rows[0], dict):
            return None
        keys = list(entity_rows[0])
        if len(keys) == 1:
            (key,) = keys
            try:
                return {key: [row[key] for row in entity_rows]}
            except (KeyError, TypeError):
                return None
        try:
            columns = {k: [row[k] for row in entity_rows] for k in keys}
        except (KeyError, TypeError):
            return None
        if any(len(row) != len(keys) for row in entity_rows):
            return None
        return columns
    if isinstance(entity_rows, Mapping):
        columns = {}
        for key, values in entity_rows.items():
            if not isinstance(values, list | tuple):
                return None
            columns[key] = list(values)
        return columns
    return None


def _plain_keys(values: list[Any], value_type: ValueType | None) -> bool:
    # The types whose Python value Feast keeps unchanged through its entity protos.
    if value_type == ValueType.STRING:
        return all(type(v) is str for v in values)
    if value_type == ValueType.INT64:
        return all(type(v) is int and -(2**63) <= v < 2**63 for v in values)
    return False


_PACK_STRING_HEAD = struct.Struct("<II").pack
_PACK_INT64 = struct.Struct("<IIq").pack


def _key_header(names: list[str]) -> bytes:
    return struct.pack("<I", len(names)) + b"".join(
        struct.pack("<II", ValueType.STRING.value, len(n.encode("utf8"))) + n.encode("utf8")
        for n in names
    )


def _key_column(values: list[Any], value_type: ValueType) -> list[bytes]:
    if value_type == ValueType.STRING:
        string = ValueType.STRING.value
        return [_PACK_STRING_HEAD(string, len(b)) + b for b in (v.encode("utf8") for v in values)]
    int64 = ValueType.INT64.value
    return [_PACK_INT64(int64, 8, v) for v in values]


class _TablePlan:
    """What a request reads from one feature view, resolved once per request shape."""

    __slots__ = ("alias", "header", "keys", "names", "outputs", "requested", "table")

    def __init__(
        self,
        table: FeatureView,
        requested: list[str],
        keys: list[str],
        alias: dict[str, str],
        outputs: list[tuple[str, str]],
    ) -> None:
        self.table = table
        self.requested = requested
        self.keys = sorted(keys)  # serialize_entity_key sorts the join keys by name
        self.header = _key_header(self.keys)
        self.alias = alias
        self.outputs = outputs  # (feature, response column) that survive Feast's column drop


class _Plan:
    __slots__ = ("context", "entity_types", "feature_types", "join_keys", "names", "tables")

    def __init__(self, context: tuple[Any, ...], tables: list[_TablePlan]) -> None:
        self.context = context  # kept alive: the plan cache is keyed by its id
        self.tables = tables
        self.entity_types: dict[str, ValueType] = context[3]
        self.join_keys: set[str] = context[4]
        self.names: frozenset[str] = context[6]
        self.feature_types = OnlineStore._build_feature_types(context[5])


class _FastReads:
    """get_online_features for plain requests; anything else goes to Feast's implementation.

    Plain: feature views only (no on-demand views, request data or entity-less views), join
    keys given by their join key names as Python str (String entities) or int (Int64), no
    version metadata, no pre-computed vectors, Feast metrics off.
    """

    _plans: dict[tuple[int, bool], _Plan | None] | None = None

    def _read_views(
        self, config: RepoConfig, work: list[tuple[FeatureView, list[str], list[bytes]]]
    ) -> list[list[Row]]:
        raise NotImplementedError

    def get_online_features(
        self,
        config: RepoConfig,
        features: list[str] | FeatureService,
        entity_rows: Any,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        include_feature_view_version_metadata: bool = False,
    ) -> OnlineResponse:
        response = None
        if not include_feature_view_version_metadata and not (
            isinstance(features, FeatureService) and features.precompute_online
        ):
            response = self._fast_online_features(
                config, features, entity_rows, registry, project, full_feature_names
            )
        if response is not None:
            return response
        return super().get_online_features(  # type: ignore[misc]
            config=config,
            features=features,
            entity_rows=entity_rows,
            registry=registry,
            project=project,
            full_feature_names=full_feature_names,
            include_feature_view_version_metadata=include_feature_view_version_metadata,
        )

    def _plan(self, context: tuple[Any, ...], full_feature_names: bool) -> _Plan | None:
        """The request shape resolved once per cached Feast request context."""
        if self._plans is None:
            self._plans = {}
        key = (id(context), full_feature_names)
        if key in self._plans:
            plan = self._plans[key]
            if plan is None or plan.context is context:
                return plan
        if len(self._plans) > 256:
            self._plans.clear()
        plan = self._make_plan(context, full_feature_names)
        self._plans[key] = plan
        return plan

    def _make_plan(self, context: tuple[Any, ...], full_feature_names: bool) -> _Plan | None:
        (_, on_demand, entity_to_join_key, _, _, grouped_refs, names, request_data, entityless) = (
            context
        )
        if on_demand or request_data or entityless:
            return None
        # Feast raises for a versioned read on a store that cannot do it; then it reads.
        self._check_versioned_read_support(grouped_refs)  # type: ignore[attr-defined]
        tables = []
        for table, requested in grouped_refs:
            if getattr(table.projection, "version_tag", None) is not None:
                return None
            keys = [entity_to_join_key[name] for name in table.entities]
            alias = {v: k for k, v in table.projection.join_key_map.items()}
            prefix = table.projection.name_to_use()
            outputs = [(f, f"{prefix}__{f}" if full_feature_names else f) for f in requested]
            outputs = [(f, out) for f, out in outputs if out in names]
            tables.append(_TablePlan(table, list(requested), keys, alias, outputs))
        return _Plan(context, tables)

    def _fast_online_features(
        self,
        config: RepoConfig,
        features: list[str] | FeatureService,
        entity_rows: Any,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool,
    ) -> FastOnlineResponse | None:
        if config.entity_key_serialization_version != 3 or _metrics_on():
            return None
        columns = _columnar(entity_rows)
        if columns is None:
            return None
        context = utils._get_cached_request_context(registry, project, features, full_feature_names)
        plan = self._plan(context, full_feature_names)
        if plan is None:
            return None
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            return None
        (n,) = lengths
        types = plan.entity_types
        for key, values in columns.items():
            if key not in plan.join_keys or not _plain_keys(values, types.get(key)):
                return None

        work: list[tuple[FeatureView, list[str], list[bytes]]] = []
        positions: list[list[list[int]]] = []
        for tp in plan.tables:
            given = {tp.alias.get(k, k): k for k in columns}
            if any(k not in given for k in tp.keys):
                return None  # missing join keys: Feast's own errors
            parts = [_key_column(columns[given[k]], types[given[k]]) for k in tp.keys]
            header = tp.header
            if len(parts) == 1:
                keys = [header + p for p in parts[0]]
            else:
                keys = [header + b"".join(p) for p in zip(*parts, strict=True)]
            unique: dict[bytes, list[int]] = {}
            for i, entity_key in enumerate(keys):
                where = unique.get(entity_key)
                if where is None:
                    unique[entity_key] = [i]
                else:
                    where.append(i)
            work.append((tp.table, tp.requested, list(unique)))
            positions.append(list(unique.values()))

        read = self._read_views(config, work)

        present = [_PRESENT] * n
        null_stamps = [_NULL_TS] * n
        out: list[_Column | _Block] = [
            _Column(key, None, present, null_stamps, values, types.get(key, ValueType.UNKNOWN))
            for key, values in columns.items()
        ]
        for tp, rows, places in zip(plan.tables, read, positions, strict=True):
            if len(places) == n:
                # Every entity row distinct: unique rows are the output rows, in order.
                stamps = [_NULL_TS if ts is None else _timestamp(ts) for ts, _ in rows]
                out.append(_Block(tp.outputs, [data or _EMPTY for _, data in rows], stamps))
                continue
            stamps = list(null_stamps)
            for (row_ts, _), destinations in zip(rows, places, strict=True):
                if row_ts is not None:
                    ts = _timestamp(row_ts)
                    for i in destinations:
                        stamps[i] = ts
            found = [
                (data, destinations)
                for (_, data), destinations in zip(rows, places, strict=True)
                if data
            ]
            for feature, name in tp.outputs:
                values_out = [_NULL_VALUE] * n
                statuses = [_NOT_FOUND] * n
                for data, destinations in found:
                    value = data.get(feature)
                    if value is not None:
                        for i in destinations:
                            values_out[i] = value
                            statuses[i] = _PRESENT
                out.append(_Column(name, values_out, statuses, stamps))
        return FastOnlineResponse(out, plan.feature_types)


# --------------------------------------------------------------------------------------------
# SQLite
# --------------------------------------------------------------------------------------------


class FastSqliteOnlineStoreConfig(SqliteOnlineStoreConfig):
    """``online_store`` section for :class:`FastSqliteOnlineStore` (same options as ``sqlite``)."""

    type: Literal["fti.feast_online.FastSqliteOnlineStore"] = (
        "fti.feast_online.FastSqliteOnlineStore"  # type: ignore[assignment]
    )


class FastSqliteOnlineStore(_FastReads, SqliteOnlineStore):
    """Feast's SQLite store (same file, tables and bytes) with bulk writes and lean reads."""

    _reader: sqlite3.Connection | None = None
    _in_transaction = False

    @contextlib.contextmanager
    def write_transaction(self, config: RepoConfig) -> Iterator[None]:
        """Every write inside the block in one SQLite transaction: all committed, or none.

        The writes skip their own commit (``_writing``); an exception rolls everything back.
        Not with vector search / value_num (Feast's own write commits by itself there).
        """
        if self._in_transaction or not self._plain(config):
            yield
            return
        conn = self._get_conn(config)
        self._in_transaction = True
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            self._in_transaction = False

    def _writing(self, conn: sqlite3.Connection) -> contextlib.AbstractContextManager[Any]:
        """``with conn`` (commit at the end) outside a write transaction, nothing inside one."""
        return contextlib.nullcontext() if self._in_transaction else conn

    def _get_conn(self, config: RepoConfig) -> sqlite3.Connection:
        fresh = self._conn is None
        conn: sqlite3.Connection = super()._get_conn(config)
        if fresh:
            conn.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        return conn

    def _get_reader(self, config: RepoConfig) -> sqlite3.Connection:
        """A second connection to the same file for reads, without Feast's type detection.

        Feast's connection converts declared types on every statement (half the time of a
        one-entity read); reads here take the stored values as they are.
        """
        if self._reader is None:
            self._get_conn(config)  # creates the file and folder as Feast does
            reader = sqlite3.connect(self._get_db_path(config), check_same_thread=False)
            reader.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            self._reader = reader
        return self._reader

    def teardown(
        self, config: RepoConfig, tables: Sequence[FeatureView], entities: Sequence[Any]
    ) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        super().teardown(config, tables, entities)

    def _plain(self, config: RepoConfig) -> bool:
        """Neither vector search nor value_num: the layout the fast paths write."""
        store = config.online_store
        return not getattr(store, "vector_enabled", False) and not getattr(
            store, "enable_openai_compatible_store", False
        )

    @staticmethod
    def _upsert_sql(table_name: str) -> str:
        columns = ["entity_key", "feature_name", "value", "value_text", "event_ts", "created_ts"]
        update = ", ".join(f"{c} = excluded.{c}" for c in columns[2:])
        return (
            f"INSERT INTO {_quote_id(table_name)} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT(entity_key, feature_name) DO UPDATE SET {update};"
        )

    def online_write_batch(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: list[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
        progress: Callable[[int], Any] | None,
    ) -> None:
        """Feast's write of proto rows, as one executemany in one transaction."""
        if not self._plain(config):
            super().online_write_batch(config, table, data, progress)
            return
        conn = self._get_conn(config)
        table_name = _table_id(
            config.project, table, config.registry.enable_online_feature_view_versioning
        )
        version = config.entity_key_serialization_version
        adapt = sqlite3.adapters.get((datetime, sqlite3.PrepareProtocol))

        def stamp(ts: datetime | None) -> Any:
            if ts is None:
                return None
            naive = to_naive_utc(ts)
            return adapt(naive) if adapt is not None else naive

        def rows() -> Iterator[tuple[Any, ...]]:
            for entity_key, values, timestamp, created_ts in data:
                key = serialize_entity_key(entity_key, entity_key_serialization_version=version)
                event, created = stamp(timestamp), stamp(created_ts)
                for feature_name, val in values.items():
                    text, _ = extract_text_and_num(val, False)
                    yield key, feature_name, val.SerializeToString(), text, event, created

        with self._writing(conn):
            conn.executemany(self._upsert_sql(table_name), rows())
        if progress:
            progress(len(data))

    def online_write_arrow(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: pa.Table,
        join_keys: dict[str, ValueType],
        progress: Callable[[int], Any] | None,
    ) -> None:
        """Write an Arrow table of (join keys, timestamps, features) as Feast would store it."""
        event_ns = _event_ns(data, table)
        source = table.batch_source
        created_col = source.created_timestamp_column if source is not None else None
        created_ns = _timestamps_ns(data, created_col) if created_col else None
        if (
            not self._plain(config)
            or _is_odfv(table)
            or config.entity_key_serialization_version != 3
            or event_ns is None
            or (created_col and created_ns is None)
        ):
            rows = _convert_arrow_to_proto(data.combine_chunks(), table, join_keys)
            self.online_write_batch(config, table, rows, progress)
            return
        conn = self._get_conn(config)
        table_name = _table_id(
            config.project, table, config.registry.enable_online_feature_view_versioning
        )
        sql = self._upsert_sql(table_name)
        features = [(f.name, f.dtype.to_value_type()) for f in table.features]
        names = [name for name, _ in features]
        width = len(features)
        # Entities in key order: the table's two key B-trees then grow at their right edge
        # instead of at random pages (2-3x faster past the page cache). The stored rows are
        # Feast's; only rowids follow key order. The sort is stable: a key given twice keeps
        # its rows in input order, so the last one wins as in Feast.
        all_keys = encode_entity_keys(data, join_keys)
        order = key_order(all_keys)
        data = data.take(pa.array(order))
        all_keys = all_keys[order]
        event_ns = event_ns[order]
        if created_ns is not None:
            created_ns = created_ns[order]
        with self._writing(conn):
            for start, chunk in _chunks(data, WRITE_CHUNK):
                n = chunk.num_rows
                keys = all_keys[start : start + n]
                events = _unique_map(event_ns[start : start + n], _sqlite_epoch)
                created = (
                    _unique_map(created_ns[start : start + n], _sqlite_epoch)
                    if created_ns is not None
                    else [None] * n
                )
                values = np.empty((n, width), dtype=object)
                texts = np.empty((n, width), dtype=object)
                for j, (name, value_type) in enumerate(features):
                    values[:, j], texts[:, j] = encode_values(chunk.column(name), value_type, True)
                # Rows entity by entity, features in view order (Feast's order within a key).
                conn.executemany(
                    sql,
                    zip(
                        _repeat(keys, width),
                        names * n,
                        values.ravel().tolist(),
                        texts.ravel().tolist(),
                        _repeat(events, width),
                        _repeat(created, width),
                        strict=True,
                    ),
                )
                if progress:
                    progress(n)

    # ----------------------------------------------------------------------------------------
    # Reads
    # ----------------------------------------------------------------------------------------

    def online_read(
        self,
        config: RepoConfig,
        table: FeatureView,
        entity_keys: list[EntityKeyProto],
        requested_features: list[str] | None = None,
    ) -> list[Row]:
        """Feast's read: same statement and row order, every feature of the view."""
        version = config.entity_key_serialization_version
        keys = [_entity_key_bytes(k, version) for k in entity_keys]
        return self._read_table(config, table, keys, None)

    def _read_views(
        self, config: RepoConfig, work: list[tuple[FeatureView, list[str], list[bytes]]]
    ) -> list[list[Row]]:
        return [self._read_table(config, t, keys, _wanted(req)) for t, req, keys in work]

    _statements: dict[tuple[str, str, int], str] | None = None

    def _statement(self, config: RepoConfig, table: FeatureView, n: int) -> str:
        """Feast's read statement for n keys (cached while feature views are not versioned)."""
        versioned = config.registry.enable_online_feature_view_versioning
        if self._statements is None:
            self._statements = {}
        key = (config.project, table.name, n)
        sql = None if versioned else self._statements.get(key)
        if sql is None:
            table_name = _table_id(config.project, table, versioned)
            # Feast's statement, so SQLite returns the rows in the same order.
            sql = (
                f"SELECT entity_key, feature_name, value, event_ts "
                f"FROM {_quote_id(table_name)} "
                f"WHERE entity_key IN ({','.join('?' * n)}) "
                f"ORDER BY entity_key"
            )
            if not versioned:
                if len(self._statements) > 4096:
                    self._statements.clear()
                self._statements[key] = sql
        return sql

    def _read_table(
        self,
        config: RepoConfig,
        table: FeatureView,
        keys: list[bytes],
        wanted: frozenset[str] | None,
    ) -> list[Row]:
        """(timestamp, values) per key; only the ``wanted`` features are parsed (all if None).

        An entity with rows but none wanted comes back as (timestamp, {}): for the response
        that is what Feast's (timestamp, {other features}) gives.
        """
        if not keys:
            return []
        conn = self._reader if self._reader is not None else self._get_reader(config)
        sql = self._statement(config, table, len(keys))
        found: dict[bytes, tuple[Any, dict[str, ValueProto]]] = {}
        parse = ValueProto.FromString
        for key, group in itertools.groupby(conn.execute(sql, keys), key=_first):
            values: dict[str, ValueProto] = {}
            stamp = None
            for row in group:
                if wanted is None or row[1] in wanted:
                    values[row[1]] = parse(row[2])
                stamp = row[3]
            # Feast keeps the timestamp of an entity's last row.
            found[key] = (stamp, values)
        result: list[Row] = []
        for key in keys:
            entry = found.get(key)
            if entry is None:
                result.append((None, None))
            else:
                result.append((_sqlite_read_ts(entry[0]), entry[1]))
        return result


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


_WANTED: dict[tuple[str, ...], frozenset[str]] = {}


def _wanted(requested: list[str]) -> frozenset[str]:
    key = tuple(requested)
    wanted = _WANTED.get(key)
    if wanted is None:
        if len(_WANTED) > 4096:
            _WANTED.clear()
        wanted = _WANTED[key] = frozenset(requested)
    return wanted


_READ_TS_CACHE: dict[Any, datetime] = {}


def _sqlite_read_ts(stamp: Any) -> datetime:
    # Feast's converter for `timestamp` columns, then online_read's replace(tzinfo=UTC).
    ts = _READ_TS_CACHE.get(stamp)
    if ts is None:
        if len(_READ_TS_CACHE) > 65_536:
            _READ_TS_CACHE.clear()
        ts = _READ_TS_CACHE[stamp] = datetime.fromtimestamp(int(stamp)).replace(tzinfo=UTC)
    return ts


_KEY_HEADERS: dict[str, bytes] = {}


def _entity_key_bytes(entity_key: EntityKeyProto, version: int) -> bytes:
    """serialize_entity_key, with a fast path for one string or int64 join key."""
    if version == 3 and len(entity_key.join_keys) == 1:
        value = entity_key.entity_values[0]
        which = value.WhichOneof("val")
        name = entity_key.join_keys[0]
        header = _KEY_HEADERS.get(name)
        if header is None:
            encoded = name.encode("utf8")
            header = _KEY_HEADERS[name] = (
                struct.pack("<III", 1, ValueType.STRING.value, len(encoded)) + encoded
            )
        if which == "string_val":
            body = value.string_val.encode("utf8")
            return header + struct.pack("<II", ValueType.STRING.value, len(body)) + body
        if which == "int64_val":
            return header + struct.pack("<IIq", ValueType.INT64.value, 8, value.int64_val)
    return serialize_entity_key(entity_key, entity_key_serialization_version=version)


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------


# Read-only Lua: the hash field ARGV[1] of every key in KEYS (false, i.e. nil, where absent).
_TS_SCRIPT = (
    "local out = {} for i, key in ipairs(KEYS) do "
    "out[i] = redis.call('HGET', key, ARGV[1]) end return out"
)
_TS_SCRIPT_SHA: str | None = None


class FastRedisOnlineStoreConfig(RedisOnlineStoreConfig):
    """``online_store`` section for :class:`FastRedisOnlineStore` (same options as ``redis``)."""

    type: Literal["fti.feast_online.FastRedisOnlineStore"] = "fti.feast_online.FastRedisOnlineStore"  # type: ignore[assignment]
    # One MULTI/EXEC per materialization (all views or none). Redis holds the queued commands
    # until EXEC (~1.9 KB per 20-feature entity) and serves nobody while EXEC runs (~1 s per
    # 100k entities here): False writes as it goes, for a huge first load.
    atomic_writes: bool = True


class _RedisTransaction:
    """One MULTI/EXEC on a connection of its own, its commands streamed chunk by chunk.

    Redis queues the commands server-side (each answered QUEUED, read chunk by chunk, so the
    client holds one chunk at a time) and applies them all at EXEC, atomically; a connection
    lost before EXEC discards the queue. Reads (the stored timestamps) go through the client's
    other connections and see the data as it was before the transaction.
    """

    def __init__(self, client: Any) -> None:
        self.pool = client.connection_pool
        self.conn: Any = None
        self.queued = 0

    def send(self, commands: list[tuple[Any, ...]]) -> None:
        if not commands:
            return
        if self.conn is None:
            self.conn = self.pool.get_connection()
            self.conn.send_command("MULTI")
            self.conn.read_response()
        conn = self.conn
        conn.send_packed_command(conn.pack_commands(commands), check_health=False)
        for _ in commands:
            conn.read_response()  # QUEUED; an error reply raises (and EXEC would abort)
        self.queued += len(commands)

    def commit(self) -> None:
        if self.conn is None:
            return
        self.conn.send_command("EXEC")
        replies = self.conn.read_response()
        self._release(disconnect=False)
        errors = [r for r in replies or [] if isinstance(r, Exception)]
        if replies is None or len(replies) != self.queued or errors:
            raise RuntimeError(
                f"Redis EXEC applied {len(replies or [])} of {self.queued} commands: {errors[:1]}"
            )

    def discard(self) -> None:
        """Drop the connection: Redis discards a transaction whose client went away."""
        if self.conn is not None:
            self._release(disconnect=True)

    def _release(self, disconnect: bool) -> None:
        conn, self.conn = self.conn, None
        if disconnect:
            conn.disconnect()
        self.pool.release(conn)


class _QueuedPipeline:
    """The part of a redis-py pipeline the write uses, sending into a :class:`_RedisTransaction`."""

    def __init__(self, transaction: _RedisTransaction) -> None:
        self.transaction = transaction
        self.commands: list[tuple[Any, ...]] = []

    def __enter__(self) -> _QueuedPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.commands = []

    def execute_command(self, *args: Any) -> None:
        self.commands.append(args)

    def expire(self, name: bytes, time: int) -> None:
        self.commands.append(("EXPIRE", name, time))

    def execute(self) -> None:
        commands, self.commands = self.commands, []
        self.transaction.send(commands)


class FastRedisOnlineStore(_FastReads, RedisOnlineStore):
    """Feast's Redis store (same keys, fields and bytes) with a columnar, pipelined write."""

    _field_cache: dict[tuple[str, tuple[str, ...]], list[bytes]] | None = None
    _transaction: _RedisTransaction | None = None

    @contextlib.contextmanager
    def write_transaction(self, config: RepoConfig) -> Iterator[None]:
        """Every columnar write inside the block in one MULTI/EXEC: all applied, or none.

        Not with ``atomic_writes: false``, not on a Redis cluster (keys on several nodes: no
        cross-node transaction), and not for the proto fallback (Feast's own
        online_write_batch, used for on-demand views and entity key serialization other than
        3), which writes as it goes.
        """
        store_config = config.online_store
        assert isinstance(store_config, RedisOnlineStoreConfig)
        if (
            self._transaction is not None
            or not self._one_call(config)
            or not getattr(store_config, "atomic_writes", True)
        ):
            yield
            return
        transaction = self._transaction = _RedisTransaction(self._get_client(store_config))
        try:
            yield
        except BaseException:
            transaction.discard()
            raise
        else:
            try:
                transaction.commit()
            except BaseException:
                transaction.discard()
                raise
        finally:
            self._transaction = None

    def _write_pipeline(self, client: Any) -> Any:
        """A pipeline of the write: redis-py's, or one queued into the open transaction."""
        if self._transaction is not None:
            return _QueuedPipeline(self._transaction)
        return client.pipeline(transaction=False)

    def _fields(self, fv_name: str, features: Sequence[str]) -> list[bytes]:
        if self._field_cache is None:
            self._field_cache = {}
        key = (fv_name, tuple(features))
        fields = self._field_cache.get(key)
        if fields is None:
            fields = self._field_cache[key] = [_mmh3(f"{fv_name}:{f}") for f in features]
        return fields

    def online_write_arrow(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: pa.Table,
        join_keys: dict[str, ValueType],
        progress: Callable[[int], Any] | None,
    ) -> None:
        """Write an Arrow table as Feast's online_write_batch would, in pipelined chunks.

        Same rule as Feast: a row is written only if its event time is newer than the stored
        one (and than an earlier row of the batch with the same key), unless ``skip_dedup``.
        """
        store_config = config.online_store
        assert isinstance(store_config, RedisOnlineStoreConfig)
        event_ns = _event_ns(data, table)
        if _is_odfv(table) or config.entity_key_serialization_version != 3 or event_ns is None:
            rows = _convert_arrow_to_proto(data.combine_chunks(), table, join_keys)
            self.online_write_batch(config, table, rows, progress)
            return
        client = self._get_client(store_config)
        fv_name = _versioned_fv_name(table, config)
        ts_key = f"_ts:{fv_name}".encode()
        features = [(f.name, f.dtype.to_value_type()) for f in table.features]
        fields = self._fields(fv_name, [name for name, _ in features])
        project = config.project.encode("utf-8")
        ttl = store_config.key_ttl_seconds
        latest: dict[bytes, int] = {}
        for start, chunk in _chunks(data, WRITE_CHUNK):
            n = chunk.num_rows
            keys = [k + project for k in encode_entity_keys(chunk, join_keys).tolist()]
            stamps = _unique_map(event_ns[start : start + n], _redis_ts)
            values = [encode_values(chunk.column(name), vt)[0].tolist() for name, vt in features]
            keep = (
                [True] * n
                if store_config.skip_dedup
                else self._newer(
                    client, ts_key, keys, [s[0] for s in stamps], latest, self._one_call(config)
                )
            )
            with self._write_pipeline(client) as pipe:
                command = pipe.execute_command
                # One entity's values as a tuple (zip of the columns), interleaved with the
                # field names: no per-value indexing.
                per_entity = zip(*values, strict=True)
                for key, stamp, row, wanted in zip(keys, stamps, per_entity, keep, strict=True):
                    if not wanted:
                        continue
                    command(
                        "HSET",
                        key,
                        ts_key,
                        stamp[1],
                        *itertools.chain.from_iterable(zip(fields, row, strict=True)),
                    )
                    if ttl:
                        pipe.expire(name=key, time=ttl)
                pipe.execute()
            if progress:
                progress(n)

    @staticmethod
    def _one_call(config: RepoConfig) -> bool:
        """Whether the stored timestamps can come back from one script call (not on a cluster,
        whose keys live on different nodes)."""
        redis_type = getattr(config.online_store, "redis_type", None)
        return getattr(redis_type, "value", redis_type) != "redis_cluster"

    @staticmethod
    def _stored_stamps(
        client: Any, ts_key: bytes, keys: list[bytes], one_call: bool
    ) -> list[bytes | None]:
        """The `_ts:<view>` field of every key (None where absent), as Feast's HMGETs read it.

        One EVALSHA of a read-only script returns them all in one reply: a pipeline of one
        HMGET per key costs more than the HSETs themselves (per-command client overhead).
        """
        if one_call and keys:
            global _TS_SCRIPT_SHA
            try:
                if _TS_SCRIPT_SHA is None:
                    _TS_SCRIPT_SHA = client.script_load(_TS_SCRIPT)
                try:
                    replies = client.evalsha(_TS_SCRIPT_SHA, len(keys), *keys, ts_key)
                except Exception as exc:  # the server restarted: its script cache is empty
                    if "NOSCRIPT" not in str(exc):
                        raise
                    _TS_SCRIPT_SHA = client.script_load(_TS_SCRIPT)
                    replies = client.evalsha(_TS_SCRIPT_SHA, len(keys), *keys, ts_key)
                return [r if r else None for r in replies]
            except Exception as exc:  # scripting disabled (some managed services): HMGETs
                logger.debug("timestamps by script unavailable (%s): pipelined HMGET", exc)
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, ts_key)
            return [prev for (prev,) in pipe.execute()]

    @classmethod
    def _newer(
        cls,
        client: Any,
        ts_key: bytes,
        keys: list[bytes],
        nanos: list[int],
        latest: dict[bytes, int],
        one_call: bool = False,
    ) -> list[bool]:
        """Feast's dedup: keep a row only if newer than the stored and the batch's latest."""
        previous = cls._stored_stamps(client, ts_key, keys, one_call)
        keep = []
        parsed = Timestamp()
        for key, stamp, prev in zip(keys, nanos, previous, strict=True):
            prev_nanos = 0
            if prev:
                parsed.ParseFromString(prev)
                prev_nanos = parsed.seconds * 1_000_000_000 + parsed.nanos
            seen = max(prev_nanos, latest.get(key, 0))
            if seen and stamp <= seen:
                keep.append(False)
                continue
            latest[key] = stamp
            keep.append(True)
        return keep

    def _read_views(
        self, config: RepoConfig, work: list[tuple[FeatureView, list[str], list[bytes]]]
    ) -> list[list[Row]]:
        """Every view's HMGETs in one pipeline, converted as Feast's online_read converts."""
        project = config.project.encode("utf-8")
        commands: list[tuple[bytes, list[str | bytes]]] = []
        plans = []
        for table, requested, keys in work:
            fv_name = _versioned_fv_name(table, config)
            names, fields = self._generate_hset_keys_for_features(
                table, list(requested), fv_name_override=fv_name
            )
            commands += [(key + project, fields) for key in keys]
            plans.append((f"_ts:{fv_name}", names, len(keys)))
        replies = self._read_hash_fields(config, commands) if commands else []
        out: list[list[Row]] = []
        offset = 0
        for ts_key, names, count in plans:
            out.append([_redis_row(r, ts_key, names) for r in replies[offset : offset + count]])
            offset += count
        return out

    def _generate_hset_keys_for_features(
        self,
        feature_view: FeatureView,
        requested_features: list[str] | None = None,
        fv_name_override: str | None = None,
    ) -> tuple[list[str], list[str | bytes]]:
        """Feast's field names, with the murmur3 hashes cached per view and feature list."""
        if not requested_features:
            requested_features = [f.name for f in feature_view.features]
        fv_name = fv_name_override or feature_view.name
        hset_keys: list[str | bytes] = [*self._fields(fv_name, requested_features)]
        ts_key = f"_ts:{fv_name}"
        hset_keys.append(ts_key)
        requested_features.append(ts_key)
        return requested_features, hset_keys

    def _generate_redis_keys_for_entities(
        self, config: RepoConfig, entity_keys: list[EntityKeyProto]
    ) -> list[bytes]:
        version = config.entity_key_serialization_version
        project = config.project.encode("utf-8")
        return [_entity_key_bytes(k, version) + project for k in entity_keys]


def _redis_row(values: Sequence[Any], ts_key: str, names: list[str]) -> Row:
    """RedisOnlineStore._get_features_for_entity, with one parse call per value."""
    res_val = dict(zip(names, values, strict=True))
    ts_val = res_val.pop(ts_key)
    res_ts = Timestamp()
    if ts_val:
        res_ts.ParseFromString(ts_val)
    res = {
        name: ValueProto.FromString(blob) if blob else ValueProto()
        for name, blob in res_val.items()
    }
    if not res:
        return None, None
    total_seconds = res_ts.seconds + res_ts.nanos / 1_000_000_000.0
    return datetime.fromtimestamp(total_seconds, tz=UTC), res


__all__ = [
    "ENGINE_TYPE",
    "REDIS_TYPE",
    "SQLITE_TYPE",
    "ArrowWriteComputeEngine",
    "ArrowWriteComputeEngineConfig",
    "FastOnlineResponse",
    "FastRedisOnlineStore",
    "FastRedisOnlineStoreConfig",
    "FastSqliteOnlineStore",
    "FastSqliteOnlineStoreConfig",
    "encode_entity_keys",
    "encode_values",
]
