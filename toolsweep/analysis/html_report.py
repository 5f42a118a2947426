"""``report.html``: the whole report in one self-contained file (images inlined as base64, no scripts, no
network), so it can be mailed, attached to a ticket or opened from a cluster's shared disk as is."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from toolsweep.analysis.rundir import RunDir

__all__ = ["render_html", "table_html"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1150px;color:#222}
h1{margin-bottom:.2rem} h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0} th,td{border:1px solid #ddd;padding:.25rem .5rem}
th{background:#f4f4f4;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best{background:#fff6d5} .rule{background:#eef5ff;border-left:4px solid #3b82f6;padding:.5rem 1rem}
.muted{color:#777;font-size:.85rem} figure{display:inline-block;margin:.5rem} img{max-width:100%;border:1px solid #eee}
.scroll{overflow-x:auto}
"""


def _fmt(value: Any, percent: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "★" if value else ""
    if isinstance(value, float):
        return f"{100 * value:.1f}%" if percent else f"{value:.4g}"
    return html.escape(str(value))


def table_html(rows: list[dict[str, Any]], *, percent_columns: set[str] = frozenset(), highlight: str | None = None) -> str:
    """A plain HTML table; the row whose ``trial_id`` is ``highlight`` is marked."""
    if not rows:
        return "<p class='muted'>nothing to show</p>"
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cls = " class='best'" if highlight is not None and row.get("trial_id") == highlight else ""
        cells = "".join(
            f"<td class='num'>{_fmt(row[c], c in percent_columns)}</td>" if isinstance(row[c], (int, float)) and not isinstance(row[c], bool)
            else f"<td>{_fmt(row[c])}</td>" for c in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


def _image(path: Path, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'><figcaption class='muted'>{html.escape(caption)}</figcaption></figure>"


def _retries_html(retries: dict[str, str]) -> str:
    if not retries:
        return "<p class='muted'>every trial ran in one attempt</p>"
    items = "".join(f"<li><code>{html.escape(trial)}</code>: {html.escape(text)}</li>" for trial, text in retries.items())
    return f"<ul>{items}</ul>"


def render_html(run: RunDir, frame: Any, variants: dict[str, Any] | None, variant_rows: list[dict[str, Any]],
                plots: dict[str, Path], retries: dict[str, str] | None = None) -> str:
    """The report page as a string; ``retries``: trial id → how it was retried (``report.trial_retries``)."""
    best = run.summary.best_trial
    counts = frame["status"].value_counts().to_dict()
    status_line = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    best_row = frame[frame["best"]].to_dict("records")
    best_html = ""
    if best_row:
        record = best_row[0]
        values = ", ".join(f"<code>{html.escape(p)}={_fmt(record.get(p))}</code>" for p in run.searched)
        best_html = (f"<p><b>Best trial:</b> {html.escape(str(best))} — {run.metric} = {_fmt(record.get(run.metric))}, "
                     f"test exact match = {_fmt(record.get('test/exact_match'), True)}; {values}</p>")
    percent = {c for c in frame.columns if "exact_match" in c}
    variant_html = "<p class='muted'>not computed</p>"
    if variants is not None:
        variant_html = (f"<p class='muted'>Trial {html.escape(str(variants['trial_id']))}, "
                        f"{variants['test_examples']} held-out test examples; accuracy = exact match.</p>"
                        + table_html(variant_rows, percent_columns={c for c in variant_rows[0] if c != "variant"}))
        notes = variants.get("notes") or {}
        if notes:
            variant_html += "<p class='muted'>" + "; ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in notes.items()) + "</p>"
    captions = {"parallel_coordinates": "all searched fields at once", "learning_curves": "top trials over training",
                "error_taxonomy": "failed test examples by kind"}
    figures = "".join(_image(path, captions.get(name, name.replace("vs_", f"{run.metric} vs ").replace("_", " ")))
                      for name, path in plots.items())
    board_rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                  for row in frame.to_dict("records")]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>toolsweep report: {html.escape(run.name)}</title>
<style>{_STYLE}</style></head><body>
<h1>toolsweep report: {html.escape(run.name)}</h1>
<p class="muted">{html.escape(str(run.path))} · {len(frame)} trials ({html.escape(status_line)}) · searched: {html.escape(", ".join(run.searched) or "nothing")}</p>
<div class="rule"><b>Pick rule:</b> {html.escape(run.rule)}</div>
{best_html}
<h2>Variants of the best configuration (test split)</h2>
{variant_html}
<h2>Leaderboard</h2>
{table_html(board_rows, percent_columns=percent, highlight=best)}
<h2>Retries</h2>
{_retries_html(retries or {})}
<h2>Plots</h2>
{figures or "<p class='muted'>no plots</p>"}
</body></html>
"""
