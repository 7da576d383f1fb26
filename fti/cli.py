"""The `fti` command line: the user's front door to the platform (heavy imports stay lazy)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fti.prefect_env import in_process_runs
from fti.settings import Settings

app = typer.Typer(
    help="fti-platform: feature, training and inference pipelines.", no_args_is_help=True
)
features_app = typer.Typer(help="Feature pipelines.", no_args_is_help=True)
app.add_typer(features_app, name="features")
# Command groups of later pipelines live in fti/commands/<group>.py (heavy imports inside the
# commands) and are registered here, one line each.
__import__("fti.commands.validation", fromlist=["register"]).register(app)  # validate, quarantine
__import__("fti.commands.models", fromlist=["register"]).register(app)  # train, models
__import__("fti.commands.predict", fromlist=["register"]).register(app)  # predict, api
__import__("fti.commands.monitor", fromlist=["register"]).register(app)  # monitor
console = Console(stderr=True)
out = Console()


class SourceName(StrEnum):
    prices = "prices"
    bookings = "bookings"
    weather = "weather"


def _settings() -> Settings:
    settings = Settings()
    settings.apply_process_env()
    return settings


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)  # one line
    raise typer.Exit(1)


def _unreachable(err: Exception) -> str | None:
    """One line for an error of a service's driver (Redis, PostgreSQL), else None."""
    if type(err).__module__.split(".")[0] not in ("redis", "sqlalchemy", "psycopg"):
        return None
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


@app.command()
def run(
    data: Annotated[
        str, typer.Option(help="synthetic (seeded generator) or real (shared data)")
    ] = "",
    size: Annotated[str, typer.Option(help="Synthetic size: tiny, small or default")] = "",
) -> None:
    """Run the whole platform end to end (what `make run` calls)."""
    settings = _settings()
    from flows.orchestrator import platform_flow

    with (
        console.status("running the platform (ingest, features, training, inference)..."),
        in_process_runs(),
    ):
        summary = platform_flow(  # type: ignore[call-overload]
            data=data or settings.data,
            size=size or settings.synthetic_size,
            seed=settings.seed,
        )
    console.print(f"raw input: {summary['raw']}")
    _print_status(settings)
    out.print(f"offline store: {settings.offline_dir}")
    out.print(f"online store:  {settings.feast_dir / 'online_store.db'}")
    out.print(f"registry:      {settings.feast_dir / 'registry.db'}")
    if "predicted" in summary:
        from fti.commands.monitor import print_monitoring, print_predictions

        print_predictions(summary["predicted"])
        print_monitoring(summary["monitoring"])
    out.print("MLflow UI:  fti ui mlflow   (http://127.0.0.1:5000)", highlight=False)
    out.print("Prefect UI: fti ui prefect  (http://127.0.0.1:4200)", highlight=False)


@app.command()
def ingest(
    source: Annotated[SourceName, typer.Argument(help="Which raw source the files are")],
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest")],
) -> None:
    """Parse raw files into the lake (idempotent: the same file twice changes nothing)."""
    settings = _settings()
    from features.common import RawFormatError
    from flows.ingestion import ingestion_flow

    try:
        with in_process_runs():
            summary = ingestion_flow(source.value, [str(p) for p in paths], seed=settings.seed)  # type: ignore[arg-type]
    except (RawFormatError, FileNotFoundError) as err:
        _fail(str(err))
    out.print_json(data=summary)


@features_app.command("list")
def features_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Every feature in the registry with its type, sensitivity class, owner and description."""
    settings = _settings()
    from fti.store import load_definitions

    rows = [
        {
            "feature": f"{fv.name}:{field.name}",
            "dtype": str(field.dtype),
            "sensitivity": field.tags.get("sensitivity", "unclassified"),
            "owner": fv.owner,
            "description": field.description,
        }
        for fv in sorted(load_definitions().feature_views, key=lambda v: v.name)
        for field in sorted(fv.schema, key=lambda f: f.name)
    ]
    del settings
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.table import Table

    table = Table(title="features")
    for col in ("feature", "dtype", "sensitivity", "owner", "description"):
        table.add_column(col, no_wrap=col != "description")
    for r in rows:
        style = {"protected": "red", "personal": "yellow"}.get(r["sensitivity"], "")
        table.add_row(
            *(r[c] for c in ("feature", "dtype")),
            f"[{style}]{r['sensitivity']}[/]" if style else r["sensitivity"],
            r["owner"],
            r["description"],
        )
    Console(width=max(out.width, 140)).print(table)


@features_app.command("backfill")
def features_backfill(
    start: Annotated[datetime, typer.Option(help="First event time (UTC) to recompute")],
    end: Annotated[datetime, typer.Option(help="End of the window (UTC, exclusive)")],
    group: Annotated[
        list[str] | None, typer.Option(help="prices, bookings, guests, weather (repeatable)")
    ] = None,
) -> None:
    """Recompute the offline features of a window from the lake (replaces that window)."""
    _settings()
    from flows.features import features_flow
    from validation.run import BatchRejected

    try:
        with in_process_runs():
            summary = features_flow(groups=group, start=start, end=end)
    except BatchRejected as err:  # the gate refused a feature table: nothing was written
        _fail(str(err))
    out.print_json(data=summary)


@app.command()
def materialize(
    end: Annotated[
        datetime | None, typer.Option(help="Materialize up to this time (default now)")
    ] = None,
    full: Annotated[bool, typer.Option(help="From the beginning instead of incrementally")] = False,
) -> None:
    """Load the latest feature values into the online store (incremental)."""
    _settings()
    from flows.materialize import materialize_flow
    from validation.run import BatchRejected

    try:
        with in_process_runs():
            summary = materialize_flow(end=end, full=full)
    except BatchRejected as err:  # the gate refused the online rows: nothing was written
        _fail(str(err))
    except Exception as err:  # Redis or PostgreSQL still unreachable after the task retries
        line = _unreachable(err)
        if line is None:
            raise
        _fail(line)
    out.print_json(data=summary)


def _print_status(settings: Settings, as_json: bool = False) -> None:
    from rich.table import Table

    from fti.status import collect

    rows = collect(settings)
    if as_json:
        sys.stdout.write(json.dumps([r.as_dict() for r in rows], indent=2) + "\n")
        return
    table = Table(title="feature views")
    table.add_column("view", no_wrap=True)
    for col in ("offline rows", "first event", "last event", "age (h)", "online keys"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(
            r.view,
            f"{r.offline_rows:,}",
            (r.first_event or "-")[:10],
            (r.last_event or "-")[:10],
            "-" if r.freshness_hours is None else f"{r.freshness_hours:,.1f}",
            f"{r.online_entities:,}",
        )
    Console(width=max(out.width, 100)).print(table)  # legible in a pipe, whose default is 80


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Every feature view: rows, time range, freshness, online entities."""
    _print_status(_settings(), as_json)


@app.command()
def serve() -> None:
    """Serve every scheduled deployment (feature pipelines, training, inference) from here."""
    settings = _settings()
    from flows.deployments import SCHEDULES
    from flows.deployments import serve as serve_all

    for s in SCHEDULES:
        console.print(f"{s.name}: {settings.schedules.get(s.name, s.cron)} ({s.timezone})")
    serve_all(settings)


class UiName(StrEnum):
    mlflow = "mlflow"
    prefect = "prefect"
    feast = "feast"


UI_PORTS = {"mlflow": 5000, "prefect": 4200, "feast": 8888}


@app.command()
def ui(
    which: Annotated[UiName, typer.Argument(help="Which UI to open on the local state folder")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (default per UI)")] = 0,
) -> None:
    """Start the MLflow, Prefect or Feast UI on 127.0.0.1 against this platform's state."""
    import os

    settings = _settings()
    port = port or UI_PORTS[which.value]
    bin_dir = Path(sys.executable).parent
    host = "127.0.0.1"
    server = {"mlflow": settings.mlflow_tracking_uri, "prefect": os.environ.get("PREFECT_API_URL")}
    if server.get(which.value):  # production: the UI is the tracking / orchestration server's
        out.print(f"{which.value} UI: {str(server[which.value]).removesuffix('/api')}")
        return
    if which is UiName.mlflow:
        uri = settings.tracking_uri
        command = [str(bin_dir / "mlflow"), "ui", "--backend-store-uri", uri]
        command += ["--host", host, "--port", str(port)]
    elif which is UiName.prefect:
        command = [str(bin_dir / "prefect"), "server", "start", "--host", host]
        command += ["--port", str(port)]
    else:
        from fti.settings import FEATURE_REPO
        from fti.store import config_file

        os.chdir(FEATURE_REPO)  # the profile's yaml: the SQL registry and Redis in production
        command = [str(bin_dir / "feast"), "-f", config_file(settings).name, "ui"]
        command += ["-h", host, "-p", str(port)]
    console.print(f"{which.value} UI on http://{host}:{port} (Ctrl-C stops it)")
    os.execv(command[0], command)


@app.command()
def env() -> None:
    """Print the environment for using Feast directly: eval "$(fti env)"."""
    settings = Settings()
    env = settings.process_env()
    if settings.feature_engine == "spark":
        # feature_repo/data_sources.py then builds SparkSources, as Feast's Spark store reads.
        env["FTI_FEAST_SOURCES"] = "spark"
    for key, value in env.items():
        sys.stdout.write(f"export {key}={value}\n")


if __name__ == "__main__":
    app()
