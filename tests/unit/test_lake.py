"""The lake's partitioned parquet tables: upserts are idempotent, windows are replaced exactly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fti import lake


def _frame(hours: range, zone: str = "SE3", value: float = 1.0) -> pd.DataFrame:
    ts = pd.date_range("2020-12-31 22:00", periods=len(hours), freq="h", tz="UTC")
    return pd.DataFrame({"zone": zone, "ts": ts, "v": [value + h for h in hours]})


PART = lake.by_column_and_year("zone", "ts")


def test_upsert_twice_changes_nothing(tmp_path: Path) -> None:
    frame = _frame(range(5))
    lake.upsert(frame, tmp_path, ["zone", "ts"], PART)
    first = lake.read_table(tmp_path).sort_values("ts").reset_index(drop=True)
    lake.upsert(frame, tmp_path, ["zone", "ts"], PART)
    again = lake.read_table(tmp_path).sort_values("ts").reset_index(drop=True)
    pd.testing.assert_frame_equal(first, again)
    # The window crosses a year boundary: two partition files.
    assert len(list(tmp_path.glob("**/data.parquet"))) == 2


def test_upsert_replaces_by_key(tmp_path: Path) -> None:
    lake.upsert(_frame(range(3)), tmp_path, ["zone", "ts"], PART)
    lake.upsert(_frame(range(3), value=10.0).iloc[1:], tmp_path, ["zone", "ts"], PART)
    got = lake.read_table(tmp_path).sort_values("ts")["v"].tolist()
    assert got == [1.0, 11.0, 12.0]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # A window in the middle: only its rows are replaced.
        ("2020-12-31 23:00", "2021-01-01 01:00", [0.0, 101.0, 102.0, 3.0, 4.0]),
        # A window that covers everything.
        ("2020-01-01", "2022-01-01", [100.0, 101.0, 102.0, 103.0, 104.0]),
    ],
)
def test_replace_window(tmp_path: Path, start: str, end: str, expected: list[float]) -> None:
    lake.upsert(_frame(range(5), value=0.0), tmp_path, ["zone", "ts"], PART)
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    new = _frame(range(5), value=100.0)
    new = new[(new["ts"] >= lo) & (new["ts"] < hi)]
    lake.replace_window(new, tmp_path, "ts", lo, hi, PART, ["zone", "ts"])
    lake.replace_window(new, tmp_path, "ts", lo, hi, PART, ["zone", "ts"])  # a re-run
    assert lake.read_table(tmp_path).sort_values("ts")["v"].tolist() == expected


def test_replace_window_removes_rows_that_disappeared(tmp_path: Path) -> None:
    lake.upsert(_frame(range(5)), tmp_path, ["zone", "ts"], PART)
    lo, hi = pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2022-01-01", tz="UTC")
    lake.replace_window(_frame(range(5)).iloc[:0], tmp_path, "ts", lo, hi, PART, ["zone", "ts"])
    assert lake.read_table(tmp_path).empty


def test_replace_window_refuses_rows_outside(tmp_path: Path) -> None:
    lo, hi = pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2021-01-02", tz="UTC")
    with pytest.raises(ValueError, match="outside the window"):
        lake.replace_window(_frame(range(5)), tmp_path, "ts", lo, hi, PART, ["zone", "ts"])


def _files_of(root: Path) -> dict[str, pd.DataFrame]:
    return {p.relative_to(root).as_posix(): lake._read(p) for p in root.glob("**/data.parquet")}


@pytest.mark.parametrize("writers", [1, 3])  # one thread; a pool with more files than threads
def test_partitions_written_in_a_pool_are_the_sequential_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writers: int
) -> None:
    frames = [_frame(range(0, 9000, 7), zone=z) for z in ("SE1", "SE2", "SE3")]
    frame = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=0)
    monkeypatch.setattr(lake, "WRITERS", 1)
    lake.upsert(frame, tmp_path / "one", ["zone", "ts"], PART)
    monkeypatch.setattr(lake, "WRITERS", writers)
    lake.upsert(frame, tmp_path / "pool", ["zone", "ts"], PART)
    one, pool = _files_of(tmp_path / "one"), _files_of(tmp_path / "pool")
    assert sorted(one) == sorted(pool) and len(one) == 6  # 3 zones x 2 years
    for name, expected in one.items():
        pd.testing.assert_frame_equal(pool[name], expected)


def test_a_failed_partition_write_raises_after_every_write_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pd.concat([_frame(range(3), zone=z) for z in ("SE1", "SE2", "SE3", "SE4")])
    written: list[str] = []
    write = lake._atomic_write

    def failing(table: object, path: Path, **kwargs: object) -> None:
        if "zone=SE2" in path.as_posix() or "zone=SE3" in path.as_posix():
            raise OSError(f"disk full at {path.parent.name}")
        write(table, path, **kwargs)  # type: ignore[arg-type]
        written.append(path.parent.name)

    monkeypatch.setattr(lake, "WRITERS", 2)
    monkeypatch.setattr(lake, "_atomic_write", failing)
    with pytest.raises(OSError, match="zone=SE2"):  # the first failure in partition order
        lake.upsert(frame, tmp_path, ["zone", "ts"], PART)
    # No write runs on after the error: the caller can discard the stage at once.
    assert sorted(written) == ["zone=SE1", "zone=SE1", "zone=SE4", "zone=SE4"]


# ---- transactions ----------------------------------------------------------------------------


class Killed(Exception):
    """Stands in for SIGKILL at a fault point (the subprocess tests use the real signal)."""


def _hashes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and lake.TXN_DIR not in p.relative_to(root).parts
    }


def _state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    lake.upsert(_frame(range(5)), state / "lake" / "prices", ["zone", "ts"], PART)
    (state / "feast").mkdir(parents=True)
    (state / "feast" / "online_store.db").write_bytes(b"old online")
    return state


def _stage_run(txn: lake.Transaction, state: Path) -> None:
    root = txn.stage_dir(state / "lake" / "prices")
    lake.upsert(_frame(range(3, 30), value=7.0), root, ["zone", "ts"], PART)
    txn.stage_file(state / "feast" / "online_store.db").write_bytes(b"new online")
    txn.put("validation/batches.jsonl").write_text("{}\n")


def test_transaction_commits_everything_and_reads_its_own_writes(tmp_path: Path) -> None:
    state = _state(tmp_path)
    with lake.transaction(state, "t") as txn:
        _stage_run(txn, state)
        staged = lake.read_table(txn.stage_dir(state / "lake" / "prices"))
        assert len(staged) == 27  # the run sees its own rows
        assert len(lake.read_table(state / "lake" / "prices")) == 5  # nobody else does
    assert len(lake.read_table(state / "lake" / "prices")) == 27
    assert (state / "feast" / "online_store.db").read_bytes() == b"new online"
    assert not [p for p in (state / lake.TXN_DIR).iterdir() if p.is_dir()]


def test_transaction_abort_changes_nothing(tmp_path: Path) -> None:
    state = _state(tmp_path)
    before = _hashes(state)
    with pytest.raises(RuntimeError), lake.transaction(state, "t") as txn:
        _stage_run(txn, state)
        raise RuntimeError("validation failed")
    assert _hashes(state) == before


def test_commit_of_identical_content_swaps_nothing(tmp_path: Path) -> None:
    state = _state(tmp_path)
    txn = lake.Transaction.begin(state, "t")
    lake.upsert(_frame(range(5)), txn.stage_dir(state / "lake" / "prices"), ["zone", "ts"], PART)
    assert txn.commit() == 0


@pytest.mark.parametrize(
    "point",
    [
        "stage.write",  # mid-staging
        "txn.commit.plan",  # staged, journal not written
        "txn.commit",  # journal written, nothing swapped
        "txn.swap.1",  # first file swapped
        "txn.swap.3",  # all but the last swapped
        "txn.swap.4",  # everything swapped, not marked committed
    ],
)
def test_recover_rolls_back_an_interrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    state = _state(tmp_path)
    before = _hashes(state)

    def fault(name: str) -> None:
        if name == point:
            raise Killed(name)

    monkeypatch.setattr(lake, "fault_point", fault)
    txn = lake.Transaction.begin(state, "t")
    with pytest.raises(Killed):
        _stage_run(txn, state)
        txn.commit()
    txn._close(remove=False)  # the process died: its lock is released, its folder stays
    monkeypatch.undo()
    assert lake.recover(state) in ([], [txn.id])
    assert _hashes(state) == before
    # The re-run completes.
    with lake.transaction(state, "t") as again:
        _stage_run(again, state)
    assert len(lake.read_table(state / "lake" / "prices")) == 27


def test_recover_after_the_commit_point_keeps_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _state(tmp_path)
    monkeypatch.setattr(
        lake,
        "fault_point",
        lambda name: (_ for _ in ()).throw(Killed()) if name == "txn.committed" else None,
    )
    txn = lake.Transaction.begin(state, "t")
    _stage_run(txn, state)
    with pytest.raises(Killed):
        txn.commit()
    txn._close(remove=False)
    monkeypatch.undo()
    lake.recover(state)
    assert len(lake.read_table(state / "lake" / "prices")) == 27
    assert (state / "feast" / "online_store.db").read_bytes() == b"new online"


@pytest.mark.parametrize(
    "point",
    [
        None,  # committed
        "txn.swap.3",  # killed right after the new table moved in (after two prices files)
        "txn.swap.4",  # killed after the next file
    ],
)
def test_a_new_table_moves_in_whole_and_rolls_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str | None
) -> None:
    state = _state(tmp_path)
    before = _hashes(state)
    monkeypatch.setattr(
        lake, "fault_point", lambda name: (_ for _ in ()).throw(Killed()) if name == point else None
    )
    txn = lake.Transaction.begin(state, "t")
    new = txn.stage_dir(state / "offline" / "zone_prices")
    frame = pd.concat([_frame(range(30), zone=z) for z in ("SE1", "SE2")], ignore_index=True)
    lake.upsert(frame, new, ["zone", "ts"], PART)
    _stage_run(txn, state)
    ops = txn._plan()
    assert [op["target"] for op in ops][2] == "offline/zone_prices"
    assert [op["target"] for op in ops if "files" in op] == ["offline/zone_prices"]
    if point is None:
        # Four partition files, a changed prices partition, the online store, the records.
        assert txn.commit() == 4 + 2 + 1 + 1
        assert sorted(_files_of(state / "offline" / "zone_prices")) == [
            f"year={y}/zone={z}/data.parquet" for y in (2020, 2021) for z in ("SE1", "SE2")
        ]
        assert len(lake.read_table(state / "offline" / "zone_prices")) == 60
        return
    with pytest.raises(Killed):
        txn.commit()
    assert (state / "offline" / "zone_prices").exists()
    txn._close(remove=False)
    monkeypatch.undo()
    assert lake.recover(state) == [txn.id]
    assert _hashes(state) == before
    assert not (state / "offline" / "zone_prices").exists()


def test_a_new_table_with_a_leftover_temporary_moves_file_by_file(tmp_path: Path) -> None:
    state = _state(tmp_path)
    txn = lake.Transaction.begin(state, "t")
    new = txn.stage_dir(state / "offline" / "zone_prices")
    lake.upsert(_frame(range(30)), new, ["zone", "ts"], PART)
    (new / "year=2021" / "zone=SE3" / ".data.parquet.1234.tmp").write_bytes(b"half a file")
    assert not any("files" in op for op in txn._plan())
    assert txn.commit() == 2
    assert not list((state / "offline").rglob(".*"))


def test_transaction_drop_keeps_only_the_records(tmp_path: Path) -> None:
    state = _state(tmp_path)
    before = _hashes(state)
    txn = lake.Transaction.begin(state, "t")
    _stage_run(txn, state)
    txn.drop(["lake/", "feast/"])
    txn.commit()
    after = _hashes(state)
    assert after.pop("validation/batches.jsonl") == b"{}\n"
    assert after == before
