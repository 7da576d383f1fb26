"""`fti train` and `fti models`: train and gate a model, list versions, promote, roll back."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from fti.settings import Settings

console = Console(stderr=True)
out = Console()
models_app = typer.Typer(
    help="Registered models: versions, promotion, rollback.", no_args_is_help=True
)


class ModelName(StrEnum):
    price = "price"
    cancellation = "cancellation"


class Family(StrEnum):
    hgb = "hgb"
    linear = "linear"


def _settings() -> Settings:
    settings = Settings()
    settings.apply_process_env()
    return settings


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _registered(name: str) -> str:
    from models.specs import spec_for

    try:
        return spec_for(name).registered_name
    except KeyError as err:
        _fail(str(err.args[0]))


def _read_params(path: Path) -> dict[str, Any]:
    import yaml

    from models.config import TrainingConfig

    try:
        data = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
    except (OSError, yaml.YAMLError) as err:
        _fail(f"{path}: {err}")
    if not isinstance(data, dict):
        _fail(f"{path}: expected a mapping of TrainingConfig fields")
    try:  # fail here, with the field's name, rather than inside the flow
        TrainingConfig.model_validate({**data, "kind": "price"})
    except ValueError as err:
        _fail(f"{path}: {err}")
    return dict(data)


def train(
    model: Annotated[ModelName, typer.Argument(help="Which model to train")],
    family: Annotated[Family, typer.Option(help="hgb (gradient boosting) or linear")] = Family.hgb,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: FTI_SEED)")] = None,
    start: Annotated[datetime | None, typer.Option(help="First entity time (UTC)")] = None,
    end: Annotated[
        datetime | None, typer.Option(help="End of the entity times (UTC, exclusive)")
    ] = None,
    from_run: Annotated[
        str | None, typer.Option(help="Re-train from this MLflow run's recorded lineage")
    ] = None,
    params: Annotated[
        Path | None,
        typer.Option(help="JSON or YAML file of TrainingConfig overrides (hyperparameters, gate)"),
    ] = None,
    feature_service: Annotated[
        str | None,
        typer.Option(help="Train through this feature service (it must keep to the policy)"),
    ] = None,
    compare_sensitive: Annotated[
        bool,
        typer.Option(
            "--compare-sensitive",
            help="cancellation: train with and without the protected attributes on the same "
            "split and log both runs side by side (nothing is registered)",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Train a model, register it as `challenger` and run the promotion gate."""
    _settings()
    overrides = _read_params(params) if params else None
    from flows.training import compare_sensitive_flow, training_flow
    from fti.prefect_env import in_process_runs
    from models.policy import FeaturePolicyViolation

    if compare_sensitive:
        if model != ModelName.cancellation:
            _fail("--compare-sensitive applies to the cancellation model")
        with (
            console.status("training the cancellation model with and without..."),
            in_process_runs(),
        ):
            try:
                result = compare_sensitive_flow(
                    seed=seed,
                    start=start,
                    end=end,
                    params={**(overrides or {}), "family": family.value},
                )
            except FeaturePolicyViolation as err:
                _fail(str(err))
        if as_json:
            sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
        else:
            _print_comparison(result)
        return
    with console.status(f"training the {model.value} model..."), in_process_runs():
        try:
            summary = training_flow(
                model=model.value,  # type: ignore[arg-type]
                family=family.value,  # type: ignore[arg-type]
                seed=seed,
                start=start,
                end=end,
                from_run=from_run,
                params=overrides,
                feature_service=feature_service,
            )
        except FeaturePolicyViolation as err:
            _fail(str(err))
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    elif summary["decision"] != "skipped":
        _print_summary(summary)
    if summary["decision"] == "skipped":
        _fail(f"nothing trained: {summary['reason']}")


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.table import Table

    out.print(
        f"{summary['model']} v{summary['version']} (run {summary['run_id']}): "
        f"[bold]{summary['decision']}[/bold]"
    )
    out.print(summary["reason"], highlight=False, soft_wrap=True)
    table = Table(title="test split")
    table.add_column("scored", no_wrap=True)
    metrics = list(summary["test"])
    for name in metrics:
        table.add_column(name, justify="right")
    table.add_row("model", *(f"{summary['test'][m]:.4g}" for m in metrics))
    for name, values in summary["baselines_test"].items():
        table.add_row(f"baseline {name}", *(f"{values.get(m, float('nan')):.4g}" for m in metrics))
    out.print(table)
    out.print(f"rows: {summary['rows']}  fit: {summary['fit_seconds']} s")


def _print_comparison(result: dict[str, Any]) -> None:
    from rich.table import Table

    variants = result["variants"]
    table = Table(title=f"test split, MLflow experiment {result['experiment']}")
    table.add_column("", no_wrap=True)
    for name in variants:
        table.add_column(name, justify="right")
    for metric in ("roc_auc", "log_loss", "brier"):
        table.add_row(metric, *(f"{v['test'][metric]:.4f}" for v in variants.values()))
    for metric in ("roc_auc", "fpr", "fnr"):
        cells = []
        for v in variants.values():
            gap = v["largest_gaps"].get(metric, {})
            value = gap.get("value", float("nan"))
            cells.append(f"{value:.3f} ({gap.get('high', '')} vs {gap.get('low', '')})")
        table.add_row(f"largest {metric} gap", *cells)
    table.add_row("run", *(v["run_id"] for v in variants.values()))
    out.print(table)


@models_app.command("list")
def list_models(
    name: Annotated[str | None, typer.Argument(help="Only this model")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Every registered version: aliases, gate decision, test metric, reason."""
    settings = _settings()
    from models.registry import list_versions
    from models.tracking import Tracking

    tracking = Tracking(settings)
    versions = list_versions(tracking, [_registered(name)] if name else None)
    rows = []
    for v in versions:
        metric = v.tags.get("gate.metric", "")
        rows.append(
            {
                "model": v.name,
                "version": v.version,
                "aliases": ",".join(v.aliases),
                "created": v.created.isoformat(timespec="seconds"),
                "decision": v.tags.get("gate.decision", "-"),
                "metric": metric,
                "challenger": v.tags.get(f"gate.challenger_{metric}", ""),
                "champion_then": v.tags.get(f"gate.champion_{metric}", ""),
                "baseline": v.tags.get(f"gate.baseline_{metric}", ""),
                "override": v.tags.get("override.reason", ""),
                "rolled_back": v.tags.get("rollback.reason", ""),
                "reason": v.tags.get("gate.reason", ""),
                "group_gaps": {
                    m: v.tags[f"gate.group_gap_{m}"]
                    for m in ("roc_auc", "fpr", "fnr")
                    if v.tags.get(f"gate.group_gap_{m}")
                },
                "run_id": v.run_id,
            }
        )
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not rows:
        out.print("no registered models yet: run `fti train price` or `fti train cancellation`")
        return
    from rich.table import Table

    def num(text: str) -> str:
        try:
            return f"{float(text):.4g}"
        except ValueError:
            return text or "-"

    from rich import box

    table = Table(title=f"registered models ({tracking.uri})", box=box.SIMPLE, pad_edge=False)
    table.add_column("model", overflow="fold", min_width=12)
    table.add_column("v", no_wrap=True)
    table.add_column("aliases", overflow="fold", min_width=10)
    for col in ("decision", "metric", "test", "champion", "baseline"):
        table.add_column(col, no_wrap=True, min_width=len(col))
    for r in rows:
        table.add_row(
            r["model"],
            r["version"],
            r["aliases"].replace(",", " ") or "-",
            r["decision"],
            r["metric"] or "-",
            num(r["challenger"]),
            num(r["champion_then"]),
            num(r["baseline"]),
        )
    out.print(table)
    for r in rows:
        notes = [r["reason"]] if r["reason"] else []
        if r["override"]:
            notes.insert(0, f"override: {r['override']}")
        if r["rolled_back"]:
            notes.insert(0, f"rolled back: {r['rolled_back']}")
        if r["group_gaps"]:
            gaps = ", ".join(f"{m} {num(g)}" for m, g in r["group_gaps"].items())
            notes.insert(0, f"largest group gaps: {gaps}")
        if notes:
            out.print(f"{r['model']} v{r['version']}: " + " | ".join(notes), highlight=False)


@models_app.command("promote")
def promote(
    name: Annotated[str, typer.Argument(help="Registered model (or price / cancellation)")],
    version: Annotated[str, typer.Argument(help="Version to make champion")],
    reason: Annotated[str, typer.Option(help="Why the gate is overridden (recorded)")],
) -> None:
    """Make a version champion by a human decision, recorded with its reason."""
    settings = _settings()
    from models.registry import override_promote
    from models.tracking import Tracking

    registered = _registered(name)
    try:
        previous = override_promote(Tracking(settings), registered, version, reason)
    except Exception as err:  # unknown version, empty reason: one line for the user
        _fail(f"{registered} v{version}: {err}")
    out.print(f"{registered}: champion is v{version} (was {previous or 'none'})")


@models_app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument(help="Registered model (or price / cancellation)")],
    reason: Annotated[str, typer.Option(help="Why (recorded on the version)")] = "",
) -> None:
    """The previous champion returns; the rolled-back version keeps a record of why."""
    settings = _settings()
    from models.registry import rollback as roll_back
    from models.tracking import Tracking

    registered = _registered(name)
    try:
        current, restored = roll_back(Tracking(settings), registered, reason)
    except ValueError as err:
        _fail(str(err))
    out.print(f"{registered}: champion is v{restored} again (v{current} rolled back)")


def register(app: typer.Typer) -> None:
    """Add `fti train` and the `fti models` group to the CLI."""
    app.command("train")(train)
    app.add_typer(models_app, name="models")
