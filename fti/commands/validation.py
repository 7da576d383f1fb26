"""`fti validate` and `fti quarantine`: check raw files, inspect and release the quarantine."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from fti.settings import Settings

console = Console(stderr=True)
out = Console()
quarantine_app = typer.Typer(help="What the validation gate set aside.", no_args_is_help=True)


class RawSource(StrEnum):
    prices = "prices"
    bookings = "bookings"
    weather = "weather"
    guests = "guests"
    sessions = "sessions"


class Status(StrEnum):
    open = "open"
    released = "released"
    accepted = "accepted"
    all = "all"


def _settings() -> Settings:
    settings = Settings()
    settings.apply_process_env()
    return settings


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def validate(
    paths: Annotated[list[Path], typer.Argument(help="Raw files or folders to check")],
    source: Annotated[
        RawSource | None, typer.Option(help="Source of the files (default: detected)")
    ] = None,
    report: Annotated[
        bool, typer.Option("--report", help="Write an offline HTML report and print its path")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Check raw files with the gate, exactly as ingestion would, without writing anything.

    Exits non-zero when a file would be rejected or have rows quarantined; prints one line per
    such file: file, problem, where.
    """
    settings = _settings()
    from features.raw import expand
    from validation.files import check_file

    files = expand([str(p) for p in paths])
    if not files:
        _fail(f"no files in {', '.join(map(str, paths))}")
    checks = []
    for path in files:
        try:
            checks.append(check_file(settings, path, source.value if source else None))
        except ValueError as err:
            _fail(str(err))
    if as_json:
        sys.stdout.write(json.dumps([_check_dict(c) for c in checks], indent=1, default=str) + "\n")
    else:
        for check in checks:
            _print_check(check)
    if report:
        path = _write_report(settings, checks)
        out.print(f"report: {path}", highlight=False, soft_wrap=True)
    failed = [c for c in checks if not c.ok]
    for check in failed:
        console.print(f"[red]error:[/red] {check.error}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def _check_dict(check: Any) -> dict[str, Any]:
    outcome = check.outcome.summary() if check.outcome else None
    return {
        "file": str(check.path),
        "source": check.source,
        "policy": check.policy,
        "ok": check.ok,
        "error": check.error,
        "rows": check.rows,
        "dropped": check.dropped,
        "would_write": check.written,
        "would_quarantine": check.quarantined,
        "validation": outcome,
    }


def _print_check(check: Any) -> None:
    mark = "[green]ok[/green]" if check.ok else "[red]FAIL[/red]"
    line = f"{mark} {check.path.name} ({check.source}, policy {check.policy}): {check.rows:,} rows"
    if check.outcome is not None:
        o = check.outcome
        line += f", {o.evaluated} expectations, {len(o.failures)} failed, {len(o.warnings)} flagged"
        if not check.ok and check.policy == "quarantine" and not o.batch_failures:
            line += f"; would write {check.written:,}, quarantine {check.quarantined:,}"
    out.print(line, highlight=False, soft_wrap=True)
    if check.outcome is not None:
        for f in check.outcome.failures:
            out.print(f"  failed  {f.name}: {f.describe()}", highlight=False, soft_wrap=True)
        for w in check.outcome.warnings:
            out.print(f"  flagged {w.name}: {w.describe()}", highlight=False, soft_wrap=True)


def _write_report(settings: Settings, checks: list[Any]) -> Path:
    from validation.records import REPORT
    from validation.report import render_html

    items = [
        {
            "title": f"{c.path.name} ({c.source})",
            "suite": c.outcome.suite,
            "suite_version": c.outcome.suite_version,
            "rows": c.rows,
            "result": c.outcome.result,
        }
        for c in checks
        if c.outcome is not None
    ]
    path = settings.state_dir / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(items, "fti validate"), encoding="utf-8")
    return path


@quarantine_app.command("list")
def quarantine_list(
    status: Annotated[Status, typer.Option(help="Which entries")] = Status.open,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Entries of the quarantine, newest first: id, table, kind, status, rows, date, why."""
    from validation.quarantine import list_entries

    entries = list_entries(_settings(), None if status == Status.all else status.value)
    if as_json:
        sys.stdout.write(json.dumps(entries, indent=1, default=str) + "\n")
        return
    if not entries:
        out.print("no quarantine entries" + ("" if status == Status.all else f" ({status.value})"))
    for e in entries:
        rows = f"{e.get('rows', 0):,}" + (f"+{e['defects']}" if e.get("defects") else "")
        source = (e.get("source") or {}).get("name") or e["table"]
        out.print(
            f"{e['id']:<24} {e['table']:<22} {e['kind']:<5} {e['status']:<8} {rows:>7} "
            f"{e.get('last_seen', '')[:10]}  {source}: {e['reason']}",
            highlight=False,
            soft_wrap=True,
        )


@quarantine_app.command("show")
def quarantine_show(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="Quarantine entry id")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """One entry: why, what failed with sample values, where its files are."""
    from validation.quarantine import entry_dir, load

    settings = _settings()
    try:
        entry = load(settings, entry_id)
    except KeyError as err:
        _fail(str(err.args[0]))
    if as_json:
        sys.stdout.write(json.dumps(entry, indent=1, default=str) + "\n")
        return
    folder = entry_dir(settings, entry_id)
    source = entry.get("source") or {}
    out.print(f"[bold]{entry['id']}[/bold] ({entry['status']})", highlight=False)
    for label, value in (
        ("table", entry["table"]),
        ("kind", entry["kind"]),
        ("policy", entry["policy"]),
        ("reason", entry["reason"]),
        ("source", source.get("path") or "-"),
        ("sha256", source.get("sha256") or "-"),
        ("suite", f"{entry.get('suite')} {entry.get('suite_version') or ''}".strip()),
        ("rows", entry.get("rows", 0)),
        ("defects", entry.get("defects", 0)),
        ("seen", f"{entry.get('times_seen', 1)} time(s), last {entry.get('last_seen')}"),
        ("folder", folder),
    ):
        out.print(f"  {label:8} {value}", highlight=False, soft_wrap=True)
    for f in entry.get("failed_expectations", []):
        columns = ", ".join(f.get("columns") or [])
        count = f.get("unexpected_count")
        out.print(
            f"  failed   {f.get('expectation')}({columns}): {f.get('protects', '')}"
            + (f"; {count} rows" if count is not None else "")
            + (
                f"; e.g. {json.dumps(f.get('sample', [])[:3], default=str)}"
                if f.get("sample")
                else ""
            ),
            highlight=False,
            soft_wrap=True,
        )
    for name, rel in (entry.get("files") or {}).items():
        out.print(f"  file     {name}: {folder / rel}", highlight=False, soft_wrap=True)
    for h in entry.get("history", []):
        out.print(
            f"  history  {h.get('at', '')[:19]} {h.get('action')} {h.get('reason') or ''}",
            highlight=False,
            soft_wrap=True,
        )


@quarantine_app.command("release")
def quarantine_release(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="Quarantine entry id")],
    accept: Annotated[
        bool, typer.Option("--accept", help="Write the data despite its failures")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why the data is accepted (required)")] = None,
    path: Annotated[Path | None, typer.Option(help="A fixed version of the raw file")] = None,
) -> None:
    """Re-run the gate after a fix (a fixed file, a changed suite) or accept with a reason."""
    settings = _settings()
    from features.common import RawFormatError
    from validation.files import ReleaseError, release

    try:
        result = release(settings, entry_id, accept=accept, reason=reason, path=path)
    except KeyError as err:
        _fail(str(err.args[0]))
    except (ReleaseError, RawFormatError) as err:
        _fail(str(err))
    out.print_json(data=result)


def register(app: typer.Typer) -> None:
    """Add `fti validate` and the `fti quarantine` group to the CLI."""
    app.command("validate")(validate)
    app.add_typer(quarantine_app, name="quarantine")
