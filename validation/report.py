"""A readable validation report from GX result JSON: one self-contained HTML file.

GX's Data Docs load their styling and scripts from CDNs (and a logo from S3), so offline they
render as unstyled text. This report has its CSS inline and no external URL at all.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;
background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0}
.muted{color:#667085}.card{background:#fff;border:1px solid #e3e6eb;border-radius:8px;
padding:14px 18px;margin:14px 0}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.ok{background:#e3f5e9;color:#17663a}.fail{background:#fde8e8;color:#a11d1d}
.warn{background:#fff4d6;color:#8a5a00}
table{border-collapse:collapse;width:100%;margin-top:10px;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#f0f2f5;font-weight:600}tr.failed td{background:#fff6f6}
tr.warning td{background:#fffbeb}code{font:12px ui-monospace,Menlo,Consolas,monospace}
.summary span{margin-right:18px}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _sample(result: dict[str, Any]) -> str:
    values = result.get("partial_unexpected_list")
    if not values:
        details = result.get("details") or {}
        values = details.get("sample") or details.get("short_days") or details.get("mismatched")
    if not values:
        observed = result.get("observed_value")
        return "" if observed is None else json.dumps(observed, default=str)[:200]
    text = json.dumps(values[:5] if isinstance(values, list) else values, default=str)
    return text[:300] + ("..." if len(text) > 300 else "")


def _batch(item: dict[str, Any]) -> str:
    result = item["result"]
    stats = result.get("statistics") or {}
    rows = []
    for r in result.get("results", []):
        config = r.get("expectation_config") or {}
        kwargs = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
        severity = config.get("severity", "critical")
        success = r.get("success")
        css = "" if success else ("warning" if severity == "warning" else "failed")
        badge = (
            '<span class="badge ok">passed</span>'
            if success
            else f'<span class="badge {"warn" if severity == "warning" else "fail"}">'
            f"{'flagged' if severity == 'warning' else 'failed'}</span>"
        )
        res = r.get("result") or {}
        count = res.get("unexpected_count")
        total = res.get("element_count")
        counts = "" if count is None else f"{count:,}" + (f" / {total:,}" if total else "")
        protects = (config.get("meta") or {}).get("protects", "")
        rows.append(
            f'<tr class="{css}"><td>{badge}</td><td><code>{_esc(config.get("type"))}</code><br>'
            f'<span class="muted">{_esc(json.dumps(kwargs, default=str)[:160])}</span></td>'
            f"<td>{_esc(protects)}</td><td>{_esc(severity)}</td><td>{_esc(counts)}</td>"
            f"<td><code>{_esc('' if success else _sample(res))}</code></td></tr>"
        )
    ok = result.get("success")
    status = (
        '<span class="badge ok">passed</span>' if ok else '<span class="badge fail">failed</span>'
    )
    title = _esc(item.get("title") or result.get("suite_name") or "batch")
    return (
        f'<div class="card"><h2>{title} {status}</h2>'
        f'<div class="muted summary"><span>suite <code>{_esc(item.get("suite", ""))}</code> '
        f"version <code>{_esc(item.get('suite_version', ''))}</code></span>"
        f"<span>rows {_esc(item.get('rows', ''))}</span>"
        f"<span>expectations {stats.get('evaluated_expectations', len(rows))}</span>"
        f"<span>failed {stats.get('unsuccessful_expectations', '')}</span></div>"
        "<table><tr><th></th><th>expectation</th><th>protects against</th><th>severity</th>"
        "<th>unexpected</th><th>sample values</th></tr>" + "".join(rows) + "</table></div>"
    )


def render_html(items: Sequence[dict[str, Any]], title: str = "Validation report") -> str:
    """items: {"title", "suite", "suite_version", "rows", "result": GX result JSON}."""
    passed = sum(1 for i in items if i["result"].get("success"))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "".join(_batch(i) for i in items) or '<p class="muted">No batches.</p>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{_esc(title)}</h1><div class='muted'>{stamp} · {len(items)} batch(es), "
        f"{passed} passed, {len(items) - passed} failed</div>{body}</body></html>"
    )
