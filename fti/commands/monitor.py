"""`fti monitor`: realized metrics, drift and freshness; exits non-zero when a check fails."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from fti.settings import Settings

console = Console(stderr=True)
out = Console()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    return "-" if value is None else str(value)


def print_predictions(predicted: dict[str, Any], console: Console = out) -> None:
    """One line per model: version, rows, window (or why it did not predict)."""
    for kind, s in predicted.items():
        if "stopped" in s:
            console.print(f"predictions {kind}: [yellow]not made[/yellow]: {s['stopped']}")
            continue
        console.print(
            f"predictions {kind}: {s['model']} v{s['version']} ({s['feature_service']}), "
            f"{s['rows']:,} rows for [{s['window'][0][:16]}, {s['window'][1][:16]}) "
            f"as of {s['as_of'][:16]} -> {s['dataset']}",
            highlight=False,
            soft_wrap=True,
        )


def print_monitoring(summary: dict[str, Any], console: Console = out) -> None:
    """Realized metrics, drift and freshness in a few lines, then every alert."""
    console.print(f"monitoring as of {summary['as_of'][:19]}:", highlight=False)
    for kind, r in summary["realized"].items():
        recent = r.get("recent") or {}
        metrics = ", ".join(f"{k} {_fmt(v)}" for k, v in recent.items()) or r.get("note", "-")
        test = {k: v for k, v in r.items() if k.startswith("test_")}
        tested = ", ".join(f"{k} {_fmt(v)}" for k, v in test.items())
        console.print(
            f"  realized {kind} (champion v{r.get('champion')}, last "
            f"{_fmt(r.get('recent_days'))} days): {metrics}" + (f" | {tested}" if tested else ""),
            highlight=False,
            soft_wrap=True,
        )
    for kind, d in summary["drift"].items():
        if "note" in d:
            console.print(f"  drift {kind}: {d['note']}", highlight=False)
            continue
        console.print(
            f"  drift {kind}: {d['rows']:,} inference rows vs {d['reference_rows']:,} training "
            f"rows, {d['features']} features; drifted: {', '.join(d['drifted']) or 'none'}; "
            f"outside [0,1]: {d['out_of_range']}; unseen categories: {d['unseen']}",
            highlight=False,
            soft_wrap=True,
        )
    stale = [f["view"] for f in summary["freshness"] if not f["ok"]]
    console.print(
        f"  freshness: {len(summary['freshness']) - len(stale)}/{len(summary['freshness'])} "
        f"views within their objective" + (f" (stale: {', '.join(stale)})" if stale else ""),
        highlight=False,
        soft_wrap=True,
    )
    if summary.get("realized", {}).get("price", {}).get("plot"):
        plot = summary["realized"]["price"]["plot"]
        console.print(f"  plot: {plot}", highlight=False, soft_wrap=True)
    if summary["alerts"]:
        console.print(f"[red]{len(summary['alerts'])} alert(s):[/red]")
        for a in summary["alerts"]:
            console.print(
                f"  [red]{a['check']}[/red] {a['subject']}: {a['message']}",
                highlight=False,
                soft_wrap=True,
            )
    else:
        console.print("[green]no alerts: every check passed[/green]")


def monitor(
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="Monitor as of this time (UTC; default now)"),
    ] = None,
    drift_days: Annotated[
        float, typer.Option(help="Compare the inference inputs of this many days with training")
    ] = 14.0,
    recent_days: Annotated[
        float, typer.Option(help="Realized metrics of the champion over this many days")
    ] = 7.0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Realized metrics, drift and freshness of both champions; exit 1 when any check fails."""
    Settings().apply_process_env()
    from flows.monitoring import monitoring_flow
    from fti.prefect_env import in_process_runs

    with in_process_runs():
        summary = monitoring_flow(as_of=as_of, drift_days=drift_days, recent_days=recent_days)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    else:
        print_monitoring(summary)
    if summary["alerts"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `fti monitor` to the CLI."""
    app.command("monitor")(monitor)
