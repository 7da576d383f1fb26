"""Partitioned parquet tables under the state folder: idempotent upserts and window replacement.

Every write of a flow run goes through a `Transaction`: the run writes into staged copies
(hard-linked shadows of the tables it touches, copies of single files such as the SQLite online
store), and a commit swaps them in with `os.replace`, journalled ahead so that a process killed
at any point leaves the state as it was before the run once `recover` has run (every run starts
with it). See `Transaction`.
"""

from __future__ import annotations

import contextlib
import fcntl
import filecmp
import json
import logging
import os
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

Partitioner = Callable[[pd.DataFrame], pd.Series]


def by_year(column: str) -> Partitioner:
    """Partition name `year=YYYY` from a timestamp column."""

    def partition(frame: pd.DataFrame) -> pd.Series:
        return _names(frame, [("year=", frame[column].dt.year)])

    return partition


def by_column_and_year(key: str, column: str) -> Partitioner:
    """Partition name `year=YYYY/<key>=<value>`, e.g. one file per zone and year."""

    def partition(frame: pd.DataFrame) -> pd.Series:
        return _names(frame, [("year=", frame[column].dt.year), (f"{key}=", frame[key])])

    return partition


def _names(frame: pd.DataFrame, fields: list[tuple[str, pd.Series]]) -> pd.Series:
    """Partition names as a categorical: strings are built once per partition, not per row.

    A row with a missing field has no partition (NaN), as the string concatenation gave.
    """
    combined = np.zeros(len(frame), dtype=np.int64)
    missing = np.zeros(len(frame), dtype=bool)
    uniques: list[tuple[str, list[str]]] = []
    for prefix, values in fields:
        codes, found = pd.factorize(values, sort=True)
        texts = [str(int(v)) if isinstance(v, float) else str(v) for v in list(found)]
        missing |= codes < 0
        combined = combined * max(len(texts), 1) + np.maximum(codes, 0)
        uniques.append((prefix, texts))
    distinct, inverse = np.unique(combined, return_inverse=True)
    labels = []
    for value in distinct.tolist():
        parts = []
        for prefix, texts in reversed(uniques):
            value, index = divmod(value, max(len(texts), 1))
            parts.append(prefix + texts[index] if texts else prefix)
        labels.append("/".join(reversed(parts)))
    order = np.argsort(np.asarray(labels, dtype=object), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = np.where(missing, -1, rank[inverse] if len(inverse) else inverse)
    categories = pd.Index(np.asarray(labels, dtype=object)[order], dtype=object)
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=categories), index=frame.index, name=None
    )


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _atomic_write(frame: pd.DataFrame | pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    table = frame if isinstance(frame, pa.Table) else _arrow(frame)
    # Microsecond timestamps: Spark (the spark profile's engine and Feast offline store) does not
    # read parquet nanoseconds. A value with sub-microsecond digits raises instead of truncating.
    pq.write_table(
        table, tmp, compression="zstd", coerce_timestamps="us", allow_truncated_timestamps=False
    )
    os.replace(tmp, path)
    fault_point("stage.write")


def _read(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """One partition file, timestamps back in pandas' nanoseconds (the files hold microseconds)."""
    table = pq.read_table(path, columns=list(columns) if columns else None)
    return table.to_pandas(coerce_temporal_nanoseconds=True)


def partition_file(root: Path, partition: str) -> Path:
    return root / partition / "data.parquet"


def read_table(root: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """All partitions of a table as one frame (empty frame when the table does not exist)."""
    files = sorted(root.glob("**/data.parquet"))
    if not files:
        return pd.DataFrame(columns=list(columns) if columns else None)
    cols = list(columns) if columns else None
    tables = [pq.read_table(f, columns=cols) for f in files]
    try:
        # One conversion to pandas for the whole table, not one per partition file.
        table = pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # files of different schemas: as pandas would
        frames = [t.to_pandas(coerce_temporal_nanoseconds=True) for t in tables]
        return pd.concat(frames, ignore_index=True)
    return table.to_pandas(coerce_temporal_nanoseconds=True)


def table_stats(root: Path, column: str) -> tuple[int, pd.Timestamp | None]:
    """Rows of a table and the newest value of a time column, from the files' parquet metadata
    (the column is read only where a file has no statistics)."""
    rows, newest = 0, None
    for path in sorted(root.glob("**/data.parquet")):
        meta = pq.ParquetFile(path).metadata
        rows += meta.num_rows
        highs = []
        try:
            index = meta.schema.names.index(column)
            for i in range(meta.num_row_groups):
                stats = meta.row_group(i).column(index).statistics
                if stats is None or not stats.has_min_max:
                    raise ValueError("no statistics")
                highs.append(pd.Timestamp(stats.max))
        except ValueError:
            values = _read(path, [column])[column].dropna()
            highs = [pd.Timestamp(values.max())] if len(values) else []
        for high in highs:
            high = high.tz_localize("UTC") if high.tzinfo is None else high.tz_convert("UTC")
            newest = high if newest is None or high > newest else newest
    return rows, newest


def _positions(parts: pd.Series, names: list[str]) -> np.ndarray:
    """Position of each row's partition in `names` (-1: no partition)."""
    categorical = (
        parts if isinstance(parts.dtype, pd.CategoricalDtype) else parts.astype("category")
    )
    lookup = pd.Index(names, dtype=object).get_indexer(categorical.cat.categories.astype(str))
    codes = categorical.cat.codes.to_numpy(dtype=np.int64)
    return np.where(codes >= 0, lookup[codes] if len(lookup) else -1, -1)


def _write_partitions(
    root: Path,
    names: list[str],
    old: list[pd.DataFrame],
    new: pd.DataFrame,
    new_parts: pd.Series,
    key: Sequence[str] | None,
    sort: Sequence[str],
) -> None:
    """Write each partition of `names` once: its kept rows `old[i]`, then the new rows.

    One frame for all partitions: one de-duplication (keep the last row of a key within a
    partition), one sort, one conversion to Arrow; each file is a slice of it. A partition
    left without rows loses its file.
    """
    codes = [np.full(len(f), i, dtype=np.int64) for i, f in enumerate(old)]
    new_codes = _positions(new_parts, names)
    frames = [f for f in old if len(f)]
    # Arrow ignores the index: the new rows are converted as they are, without a copy first.
    merged = pd.concat([*frames, new], ignore_index=True) if frames else new
    part = np.concatenate([*[c for c, f in zip(codes, old, strict=True) if len(f)], new_codes])
    del frames
    keep = part >= 0  # rows without a partition (a missing time) are not written
    if key is not None and len(merged):
        dup = merged.assign(_part=part).duplicated(subset=["_part", *key], keep="last")
        keep &= ~dup.to_numpy()
    table = _arrow(merged)
    del merged
    if not keep.all():
        table, part = table.filter(pa.array(keep)), part[keep]
    # Arrow's sort is stable, like pandas' "stable", and much cheaper on strings. Each file
    # takes its rows from the one table (no sorted copy of the whole table is held).
    keyed = table.append_column("_part", pa.array(part, type=pa.int64()))
    order = pc.sort_indices(
        keyed, sort_keys=[("_part", "ascending")] + [(c, "ascending") for c in sort]
    ).to_numpy()
    del keyed
    bounds = np.searchsorted(part[order], np.arange(len(names) + 1))
    slices = []
    for i, name in enumerate(names):
        path = partition_file(root, name)
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        if hi == lo:
            path.unlink(missing_ok=True)
        else:
            slices.append((path, order[lo:hi]))

    def write(path: Path, rows: np.ndarray) -> None:
        _atomic_write(table.take(rows), path)

    _in_pool(write, slices)


# Partition files written at once: Arrow releases the GIL while it encodes, compresses and
# writes a file, and so do mkdir and open (a new folder or file costs 0.1-0.7 ms on the ext4
# here), so a table of hundreds of small partitions is written on every core and while the
# disk works. Measured on 2 cores, the 748 partition files of the feature pipelines: 3.0 s on
# one thread, 1.6-1.8 s on two, 1.6 s on four.
WRITERS = min(4, 2 * (os.cpu_count() or 1))


def _in_pool(
    write: Callable[[Path, np.ndarray], None], jobs: list[tuple[Path, np.ndarray]]
) -> None:
    """write(path, rows) for every job, on WRITERS threads. Every write has ended when this
    returns or raises; the error raised is the first in job order (the one a loop would meet
    first; the staged files of a failed write are discarded with the run's stage)."""
    if WRITERS < 2 or len(jobs) < 2:
        for path, rows in jobs:
            write(path, rows)
        return
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="lake-write") as pool:
        futures = [pool.submit(write, path, rows) for path, rows in jobs]
    for future in futures:
        future.result()


def upsert(
    frame: pd.DataFrame,
    root: Path,
    key: Sequence[str],
    partition: Partitioner,
    sort: Sequence[str] | None = None,
) -> int:
    """Insert or replace rows by key; re-writing the same rows changes nothing.

    Every partition the rows fall in is read (if it exists) and written once. Returns the number
    of rows written.
    """
    if frame.empty:
        return 0
    parts = partition(frame)
    names = sorted(str(n) for n in pd.unique(parts.dropna()))
    old = [
        _read(p) if p.exists() else frame.iloc[0:0]
        for p in (partition_file(root, n) for n in names)
    ]
    _write_partitions(root, names, old, frame, parts, key, list(sort or key))
    return len(frame)


def _overlaps(path: Path, time_column: str, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """Whether a partition file may hold rows in [start, end): its parquet statistics say so
    without reading the column; without statistics the column is read."""
    try:
        meta = pq.ParquetFile(path).metadata
        column = meta.schema.names.index(time_column)
        lows, highs = [], []
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(column).statistics
            if stats is None or not stats.has_min_max:
                raise ValueError("no statistics")
            lows.append(pd.Timestamp(stats.min))
            highs.append(pd.Timestamp(stats.max))
        if not lows:
            return False
        lo, hi = min(lows), max(highs)
        lo = lo.tz_localize("UTC") if lo.tzinfo is None else lo
        hi = hi.tz_localize("UTC") if hi.tzinfo is None else hi
        return bool(lo < end and hi >= start)
    except (ValueError, TypeError):
        old = _read(path, [time_column])
        return bool(((old[time_column] >= start) & (old[time_column] < end)).any())


def replace_window(
    frame: pd.DataFrame,
    root: Path,
    time_column: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    partition: Partitioner,
    sort: Sequence[str],
) -> int:
    """Make the rows with start <= time < end exactly `frame` (a backfill or a re-run of a window).

    Rows outside the window are kept; rows inside it that `frame` no longer has are removed, so a
    re-run never duplicates and a corrected computation replaces the old one. Only partitions
    that get rows or hold rows of the window are read and written, each once.
    """
    outside = (frame[time_column] < start) | (frame[time_column] >= end)
    if outside.any():
        raise ValueError(f"{int(outside.sum())} rows fall outside the window [{start}, {end})")
    parts = partition(frame) if not frame.empty else pd.Series([], dtype=object)
    touched = {str(n) for n in pd.unique(parts.dropna())}
    for path in root.glob("**/data.parquet"):
        name = path.parent.relative_to(root).as_posix()
        if name not in touched and _overlaps(path, time_column, start, end):
            touched.add(name)
    names = sorted(touched)
    old = []
    for name in names:
        path = partition_file(root, name)
        kept = _read(path) if path.exists() else frame.iloc[0:0]
        in_window = (kept[time_column] >= start) & (kept[time_column] < end)
        old.append(kept[~in_window] if in_window.any() else kept)
    if names:
        _write_partitions(root, names, old, frame, parts, None, list(sort))
    return len(frame)


# ---- transactions ----------------------------------------------------------------------------

log = logging.getLogger(__name__)

# Test seam: FTI_FAULT_AT=<point> makes this process SIGKILL itself when it reaches that named
# point (e.g. "stage.write", "txn.commit", "txn.swap.2", "txn.committed"). Used by the tests
# that kill a run mid-write; never set in production.
FAULT_ENV = "FTI_FAULT_AT"
TXN_DIR = "txn"
_JOURNAL = "journal.json"


def fault_point(name: str) -> None:
    """SIGKILL the current process if FTI_FAULT_AT names this point (a test seam)."""
    if os.environ.get(FAULT_ENV) == name:
        log.warning("fault point %s reached: killing process %d", name, os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)


def _write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _files(root: Path) -> Iterator[Path]:
    """Regular files under root, skipping hidden temporaries (.name.tmp of an unfinished write)."""
    if not root.exists():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            yield path


def _movable(shadow: Path, files: int) -> bool:
    """Whether a shadow folder holds its `files` staged files and nothing else (no hidden
    temporary, no folder left empty): moved whole, it then adds exactly those files."""
    count = 0
    for _, folders, names in os.walk(shadow):
        if (not names and not folders) or any(n.startswith(".") for n in names):
            return False
        count += len(names)
    return count == files


def _same_file(a: Path, b: Path) -> bool:
    """The same inode (an untouched hard link) or the same bytes."""
    sa, sb = a.stat(), b.stat()
    if (sa.st_ino, sa.st_dev) == (sb.st_ino, sb.st_dev):
        return True
    return sa.st_size == sb.st_size and filecmp.cmp(a, b, shallow=False)


@dataclass
class Transaction:
    """All writes of one run under `<state>/txn/<id>/stage`, swapped in by `commit`.

    - `stage_dir(root)`: a shadow of a table folder (hard links of its files). The caller writes
      it with `upsert` / `replace_window` and reads it back with `read_table` exactly as the
      real table: a run reads its own writes, nothing outside sees them.
    - `stage_file(path)`: a private copy of one file (the SQLite online store, the registry).
    - `put(path)`: where to write a new file (validation records, quarantine entries).

    `commit` writes the journal (every file to replace or delete, and whether it existed), then
    for each file moves the current one to a backup and the staged one into place, marks the
    journal committed and removes the folder. A table folder the state does not have yet is one
    entry, moved in whole (a first load writes hundreds of partition folders: creating each
    again in the state cost more than writing its file). `recover` (run by `begin`, under the
    state lock) undoes a commit that did not reach "committed" by moving the backups back (and
    taking out what was new), and discards every uncommitted stage: after a kill at any point
    the state is as it was before the run.
    """

    state_dir: Path
    id: str
    _lock: int | None = None
    _dirs: dict[str, Path] = field(default_factory=dict)
    _files: dict[str, Path] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.state_dir / TXN_DIR / self.id

    @classmethod
    def begin(cls, state_dir: Path, name: str = "run") -> Transaction:
        """Take the state lock (one writer at a time), recover, and open a new stage."""
        state_dir = Path(state_dir)
        base = state_dir / TXN_DIR
        base.mkdir(parents=True, exist_ok=True)
        lock = os.open(base / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            recover(state_dir, locked=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            txn = cls(state_dir, f"{stamp}-{name}-{uuid.uuid4().hex[:8]}", lock)
            (txn.folder / "stage").mkdir(parents=True)
        except BaseException:
            os.close(lock)
            raise
        return txn

    def _rel(self, path: Path) -> str:
        path = Path(path)
        if path.is_absolute():
            path = path.resolve().relative_to(self.state_dir.resolve())
        return path.as_posix()

    def staged_path(self, path: Path | str) -> Path:
        return self.folder / "stage" / self._rel(Path(path))

    def stage_dir(self, root: Path) -> Path:
        """The shadow of a table folder (created on first use) to write and read in this run."""
        rel = self._rel(root)
        if rel not in self._dirs:
            shadow = self.staged_path(rel)
            shadow.mkdir(parents=True, exist_ok=True)
            real = self.state_dir / rel
            for path in _files(real):
                target = shadow / path.relative_to(real)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(path, target)
            self._dirs[rel] = shadow
        return self._dirs[rel]

    def stage_file(self, path: Path) -> Path:
        """A private copy of one file (absent if the file does not exist yet)."""
        rel = self._rel(path)
        if rel not in self._files:
            staged = self.staged_path(rel)
            staged.parent.mkdir(parents=True, exist_ok=True)
            real = self.state_dir / rel
            if real.exists():
                shutil.copy2(real, staged)
            self._files[rel] = staged
        return self._files[rel]

    def put(self, path: Path | str) -> Path:
        """Where to write a new or replacing file that appears at `path` on commit."""
        staged = self.stage_file(Path(path))
        staged.unlink(missing_ok=True)
        return staged

    def append(self, path: Path | str, text: str) -> None:
        """Append text to a file (e.g. a JSON-lines log) as part of the commit."""
        staged = self.stage_file(Path(path))
        with open(staged, "a", encoding="utf-8") as fh:
            fh.write(text)

    def drop(self, prefixes: Sequence[str]) -> None:
        """Forget staged writes under these state-relative prefixes (e.g. the stores)."""
        for rel in [r for r in (*self._dirs, *self._files) if r.startswith(tuple(prefixes))]:
            path = self._dirs.pop(rel, None) or self._files.pop(rel)
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    def _plan(self) -> list[dict[str, object]]:
        ops: list[dict[str, object]] = []
        for rel, shadow in sorted(self._dirs.items()):
            real = self.state_dir / rel
            staged = {p.relative_to(shadow).as_posix(): p for p in _files(shadow)}
            if staged and not real.exists() and _movable(shadow, len(staged)):
                ops.append(
                    {
                        "target": rel,
                        "staged": self._rel_txn(shadow),
                        "existed": False,
                        "files": len(staged),
                    }
                )
                continue
            current = {p.relative_to(real).as_posix(): p for p in _files(real)}
            for name, path in staged.items():
                if name in current and _same_file(path, current[name]):
                    continue
                ops.append(
                    {
                        "target": f"{rel}/{name}",
                        "staged": self._rel_txn(path),
                        "existed": name in current,
                    }
                )
            ops.extend(
                {"target": f"{rel}/{name}", "staged": None, "existed": True}
                for name in sorted(set(current) - set(staged))
            )
        for rel, staged_file in sorted(self._files.items()):
            real = self.state_dir / rel
            if not staged_file.exists():
                continue
            if real.exists() and _same_file(staged_file, real):
                continue
            ops.append(
                {"target": rel, "staged": self._rel_txn(staged_file), "existed": real.exists()}
            )
        return ops

    def _rel_txn(self, path: Path) -> str:
        return path.relative_to(self.folder).as_posix()

    def commit(self) -> int:
        """Swap every staged change in; returns the number of files changed."""
        ops = self._plan()
        fault_point("txn.commit.plan")
        journal = self.folder / _JOURNAL
        _write_json_atomic(journal, {"id": self.id, "state": "committing", "ops": ops})
        fault_point("txn.commit")
        backup = self.folder / "backup"
        backup.mkdir(exist_ok=True)
        for i, op in enumerate(ops):
            target = self.state_dir / str(op["target"])
            if op["existed"]:
                os.replace(target, backup / str(i))
            if op["staged"] is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.folder / str(op["staged"]), target)
            fault_point(f"txn.swap.{i + 1}")
        _write_json_atomic(journal, {"id": self.id, "state": "committed", "ops": ops})
        fault_point("txn.committed")
        self._close(remove=True)
        return sum(cast(int, op.get("files", 1)) for op in ops)  # a moved table folder: its files

    def abort(self) -> None:
        """Discard everything staged; the state is untouched."""
        self._close(remove=True)

    def _close(self, remove: bool) -> None:
        if remove and self.folder.exists():
            shutil.rmtree(self.folder)
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            self.abort()


def recover(state_dir: Path, locked: bool = False) -> list[str]:
    """Undo interrupted commits and discard unfinished stages; returns what was rolled back.

    Idempotent: a recovery killed half-way is completed by the next one.
    """
    base = Path(state_dir) / TXN_DIR
    if not base.exists():
        return []
    lock = None
    if not locked:
        lock = os.open(base / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock, fcntl.LOCK_EX)
    rolled_back = []
    try:
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            journal = folder / _JOURNAL
            data = json.loads(journal.read_text()) if journal.exists() else {}
            if data.get("state") == "committing":
                for i, op in reversed(list(enumerate(data["ops"]))):
                    target = Path(state_dir) / op["target"]
                    saved = folder / "backup" / str(i)
                    if saved.exists():
                        os.replace(saved, target)
                    elif not op["existed"] and target.exists():
                        staged = op["staged"] and (folder / op["staged"]).exists()
                        if not staged:  # the new file (or table folder) had been moved in
                            _remove(target)
                rolled_back.append(folder.name)
                log.warning("rolled back the interrupted commit %s", folder.name)
            elif data.get("state") != "committed":
                log.info("discarding the unfinished run %s", folder.name)
            fault_point("txn.recover")
            shutil.rmtree(folder)
    finally:
        if lock is not None:
            os.close(lock)
    return rolled_back


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@contextlib.contextmanager
def transaction(state_dir: Path, name: str = "run") -> Iterator[Transaction]:
    """A transaction that commits when the block ends normally and aborts on any error."""
    txn = Transaction.begin(state_dir, name)
    try:
        yield txn
    except BaseException:
        txn.abort()
        raise
    txn.commit()
