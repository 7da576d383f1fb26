"""`fti predict`: the champion's batch predictions of one model, as of now or a given time."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from fti.settings import Settings

console = Console(stderr=True)
out = Console()


class ModelName(StrEnum):
    price = "price"
    cancellation = "cancellation"


def predict(
    model: Annotated[ModelName, typer.Argument(help="price or cancellation")],
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="Predict as of this time (UTC; default now): a backfill"),
    ] = None,
    window_days: Annotated[
        float,
        typer.Option(
            help="Cancellation: the bookings made in this many days; price: this many delivery "
            "days up to the next one (a backfill)"
        ),
    ] = 1.0,
) -> None:
    """Predict with models:/<name>@champion and store the predictions (dataset + Feast view)."""
    Settings().apply_process_env()
    from flows.batch_inference import InferenceStopped, batch_inference_flow
    from fti.prefect_env import in_process_runs

    try:
        with in_process_runs():
            summary = batch_inference_flow(model.value, as_of=as_of, window_days=window_days)  # type: ignore[arg-type]
    except InferenceStopped as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from err
    out.print_json(data=summary)


def register(app: typer.Typer) -> None:
    """Add `fti predict` to the CLI."""
    app.command("predict")(predict)
    app.command("api")(api)


def api(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Serve the champions' predictions over HTTP (FastAPI; OpenAPI schema at /docs)."""
    settings = Settings()
    settings.apply_process_env()
    from fti.api import serve

    console.print(f"prediction service on http://{host}:{port} (docs: /docs)")
    serve(settings, host, port)
