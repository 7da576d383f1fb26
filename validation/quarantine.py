"""The quarantine: what the gate set aside, with why, under `<state>/quarantine/<id>/`.

Layout of an entry (nothing is ever deleted; the raw input is never touched):

    entry.json      id, table, kind, status, the one-line reason, the source file (path, sha256),
                    failed expectations with sample values, counts, history of actions
    raw/<file>      a copy of the whole raw file (unreadable files, rejected raw batches)
    batch.parquet   the whole parsed batch, `_failed` naming the expectations each row failed
                    (rejected batches: what `release --accept` would write)
    rows.parquet    the failing rows only, with `_failed` (row policy)
    defects.csv     rows the reader dropped as defects: line, reason, the raw text
    result.json     the GX validation result of the batch

Kinds: ``file`` (the reader could not read it), ``batch`` (a batch rejected as a whole),
``rows`` (rows set aside, the rest written). Status: ``open``, ``released`` (re-validated and
written after a fix), ``accepted`` (written despite the failures, with a recorded reason).

The same failure seen again (same table, same content, same problem) updates its entry
(`times_seen`) instead of creating a new one.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from fti.lake import Transaction
from fti.settings import Settings
from validation.records import now_iso

QUARANTINE = "quarantine"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def frame_digest(frame: pd.DataFrame) -> str:
    if frame.empty:
        return hashlib.sha256(",".join(map(str, frame.columns)).encode()).hexdigest()
    hashed = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def entry_id(table: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join((table, *parts)).encode()).hexdigest()[:10]
    return f"{table.replace('_', '-')}-{digest}"


def entry_dir(settings: Settings, qid: str) -> Path:
    return settings.state_dir / QUARANTINE / qid


def load(settings: Settings, qid: str) -> dict[str, Any]:
    path = entry_dir(settings, qid) / "entry.json"
    if not path.exists():
        known = ", ".join(e["id"] for e in list_entries(settings)[:5])
        raise KeyError(f"no quarantine entry {qid!r}" + (f" (e.g. {known})" if known else ""))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def list_entries(settings: Settings, status: str | None = None) -> list[dict[str, Any]]:
    base = settings.state_dir / QUARANTINE
    if not base.exists():
        return []
    out = []
    for path in sorted(base.glob("*/entry.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        if status is None or entry.get("status") == status:
            out.append(entry)
    return sorted(out, key=lambda e: e.get("last_seen", ""), reverse=True)


def _raw_lines(path: Path, lines: pd.Series) -> list[str]:
    """The text of the given 1-based lines of a raw file (best effort: it may be unreadable)."""
    try:
        from features.bookings import read_raw_text

        text = read_raw_text(path).replace("\r\n", "\n").split("\n")
    except Exception:
        return [""] * len(lines)
    return [text[n - 1] if 0 < n <= len(text) else "" for n in lines.astype(int).tolist()]


def stage(
    txn: Transaction,
    settings: Settings,
    *,
    table: str,
    kind: str,
    reason: str,
    policy: str,
    run_id: str,
    flow: str,
    flow_run_id: str | None,
    source: Path | None = None,
    batch: pd.DataFrame | None = None,
    rows: pd.DataFrame | None = None,
    defects: pd.DataFrame | None = None,
    failed: list[dict[str, Any]] | None = None,
    result: dict[str, Any] | None = None,
    suite: str | None = None,
    suite_version: str | None = None,
    window: list[str | None] | None = None,
    copy_raw: bool = False,
) -> str:
    """Write (in the run's transaction) a quarantine entry; returns its id."""
    source_sha = file_digest(source) if source is not None and source.exists() else ""
    content = source_sha or frame_digest(
        batch if batch is not None else rows if rows is not None else pd.DataFrame()
    )
    qid = entry_id(table, kind, source.name if source else "", content, reason)
    folder = f"{QUARANTINE}/{qid}"
    existing = settings.state_dir / folder / "entry.json"
    now = now_iso()
    if existing.exists():
        entry = json.loads(existing.read_text(encoding="utf-8"))
        entry["times_seen"] = int(entry.get("times_seen", 1)) + 1
        entry["last_seen"] = now
        if entry.get("status") != "open":
            entry["history"].append({"at": now, "action": "reopened", "run_id": run_id})
            entry["status"] = "open"
    else:
        entry = {
            "id": qid,
            "table": table,
            "kind": kind,
            "status": "open",
            "reason": reason,
            "policy": policy,
            "suite": suite,
            "suite_version": suite_version,
            "source": {
                "path": str(source.resolve()) if source is not None else None,
                "name": source.name if source is not None else None,
                "sha256": source_sha or None,
            },
            "window": window,
            "flow": flow,
            "flow_run_id": flow_run_id,
            "run_id": run_id,
            "created_at": now,
            "last_seen": now,
            "times_seen": 1,
            "rows": 0,
            "defects": 0,
            "failed_expectations": failed or [],
            "files": {},
            "history": [{"at": now, "action": "quarantined", "run_id": run_id, "reason": reason}],
        }
        files: dict[str, str] = {}
        if copy_raw and source is not None and source.exists():
            target = txn.put(f"{folder}/raw/{source.name}")
            shutil.copy2(source, target)
            files["raw"] = f"raw/{source.name}"
        for name, frame in (("batch", batch), ("rows", rows)):
            if frame is not None and not frame.empty:
                _write_parquet(frame, txn.put(f"{folder}/{name}.parquet"))
                files[name] = f"{name}.parquet"
        if rows is not None:
            entry["rows"] = len(rows)
        elif batch is not None:
            entry["rows"] = len(batch)
        if defects is not None and not defects.empty:
            text = defects.copy()
            text["text"] = _raw_lines(source, text["line"]) if source is not None else ""
            buffer = io.StringIO()
            text.to_csv(buffer, index=False)
            txn.put(f"{folder}/defects.csv").write_text(buffer.getvalue(), encoding="utf-8")
            files["defects"] = "defects.csv"
            entry["defects"] = len(defects)
        if result is not None:
            txn.put(f"{folder}/result.json").write_text(json.dumps(result, default=str))
            files["result"] = "result.json"
        entry["files"] = files
    txn.put(f"{folder}/entry.json").write_text(json.dumps(entry, indent=1, default=str))
    return qid


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    out = frame.reset_index(drop=True).copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype(object)
    if "_failed" in out:
        out["_failed"] = out["_failed"].astype(str)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_parquet(path, index=False)


def update_status(
    txn: Transaction,
    settings: Settings,
    qid: str,
    status: str,
    *,
    reason: str | None = None,
    run_id: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Mark an entry released or accepted (in a transaction), with who/why in its history."""
    entry = load(settings, qid)
    entry["status"] = status
    entry["history"].append(
        {"at": now_iso(), "action": status, "reason": reason, "run_id": run_id, "note": note}
    )
    txn.put(f"{QUARANTINE}/{qid}/entry.json").write_text(json.dumps(entry, indent=1, default=str))
    return entry


def read_frame(settings: Settings, entry: dict[str, Any], name: str) -> pd.DataFrame | None:
    rel = entry.get("files", {}).get(name)
    if not rel:
        return None
    return pd.read_parquet(entry_dir(settings, entry["id"]) / rel)
