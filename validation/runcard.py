"""The run card: a markdown summary of a gated flow run (published as a Prefect artifact)."""

from __future__ import annotations

from typing import Any


def render(report: dict[str, Any], title: str) -> str:
    """Rows in / written / quarantined, failed expectations, warnings, freshness after the run."""
    status = "FAILED: nothing written" if report["failed"] else "committed"
    lines = [
        f"# {title}",
        "",
        f"**{status}** · run `{report['run_id']}` · rows in **{report['rows_in']:,}** · "
        f"written **{report['rows_written']:,}** · quarantined **{report['rows_quarantined']:,}**",
        "",
    ]
    if report.get("message"):
        lines += [f"> {report['message']}", ""]
    lines += [
        "| table | source | policy | rows in | written | quarantined | failed expectations |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for b in report["batches"]:
        failed = "; ".join(b["failed"][:4]) + (" ..." if len(b["failed"]) > 4 else "")
        lines.append(
            f"| {b['table']} | {b['source'] or '-'} | {b['policy']} | {b['rows_in']:,} | "
            f"{b['rows_written'] if not report['failed'] else 0:,} | {b['rows_quarantined']:,} | "
            f"{failed or 'none'} |"
        )
    warnings: dict[str, int] = {}
    for b in report["batches"]:
        for name, count in b["warnings"].items():
            key = f"{b['table']}: {name}"
            warnings[key] = warnings.get(key, 0) + count
    if warnings:
        lines += ["", "**Warnings** (kept, flagged):", ""]
        lines += [f"- {name}: {count:,} rows" for name, count in sorted(warnings.items())]
    if report.get("quarantine"):
        lines += ["", "**Quarantine**: " + ", ".join(f"`{q}`" for q in report["quarantine"])]
        lines += ["", "Inspect with `fti quarantine show ID`."]
    freshness = report.get("freshness") or {}
    if freshness:
        lines += ["", "| freshness | newest row | age (h) | rows / keys |", "|---|---|---:|---:|"]
        for table, f in sorted(freshness.items()):
            age = "-" if f.get("age_hours") is None else f"{f['age_hours']:,}"
            rows = "-" if f.get("rows") is None else f"{f['rows']:,}"
            lines.append(f"| {table} | {f.get('newest') or '-'} | {age} | {rows} |")
    return "\n".join(lines) + "\n"


def publish(report: dict[str, Any], flow: str) -> None:
    """Create the markdown artifact `run-card-<flow>` (no-op outside a Prefect run)."""
    try:
        from prefect.artifacts import create_markdown_artifact
        from prefect.context import FlowRunContext

        if FlowRunContext.get() is None:
            return
        create_markdown_artifact(
            key=f"run-card-{flow}",
            markdown=render(report, f"Run card: {flow}"),
            description=f"{flow}: {report['rows_written']} rows written, "
            f"{report['rows_quarantined']} quarantined",
        )
    except Exception as exc:  # an artifact must never fail the run it describes
        import logging

        logging.getLogger(__name__).warning("run card not published: %s", exc)
