"""Render the report as a self-contained HTML page (figures inlined) and as Markdown."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import pandas as pd

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}td.num{text-align:right}
th{background:#f3f3f3}tr.baseline{color:#555;font-style:italic}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}.note{background:#fffbe6;border:1px solid #e6d98c;padding:.6em 1em}
code{background:#f3f3f3;padding:0 3px}
"""


def _fmt(v: Any) -> str:
    if v is None or (not isinstance(v, (list, dict, str)) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def _cell(v: Any) -> str:
    numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
    return f"<td{' class=num' if numeric else ''}>{html.escape(_fmt(v))}</td>"


def table_html(df: pd.DataFrame, *, index: bool = False, baseline_col: str | None = "kind") -> str:
    frame = df.reset_index() if index else df
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cls = ' class="baseline"' if baseline_col and row.get(baseline_col) == "baseline" else ""
        cells = "".join(_cell(v) for v in row.tolist())
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def table_md(df: pd.DataFrame, *, index: bool = False) -> str:
    frame = df.reset_index() if index else df
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def render_html(sections: dict[str, Any]) -> str:
    s = sections
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(s['title'])}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(s['title'])}</h1>"]
    parts.append(f"<p>{html.escape(s['protocol'])}</p>")
    for note in s["notes"]:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    parts.append("<h2>Ranking (ordered by validation; test scored once)</h2>" + table_html(s["ranking"]))
    if len(s.get("intervals", [])):
        parts.append("<h2>Prediction intervals (test split, calibrated on validation)</h2>"
                     f"<p>{html.escape(s['interval_text'])}</p>" + table_html(s["intervals"], baseline_col=None))
        parts.append("<h3>Interval coverage per forecast day (test)</h3>"
                     + table_html(s["interval_horizon"], index=True, baseline_col=None))
    if s.get("per_series") is not None:
        parts.append("<h2>Per series (test): best architecture vs ridge vs seasonal naive</h2>"
                     + table_html(s["per_series"], baseline_col=None))
    parts.append("<h2>Trials per model</h2>" + table_html(s["trial_counts"], baseline_col=None))
    for title, fig in s["figures"]:
        parts.append(f"<h2>{html.escape(title)}</h2>{_img(fig, title)}")
    for title, table in s.get("search_tables", []):
        parts.append(f"<h2>{html.escape(title)}</h2>" + table_html(table, baseline_col=None))
    parts.append("<h2>Per-target error (original units)</h2>" + table_html(s["per_target"], baseline_col=None))
    parts.append("<h2>Per-horizon test MSE (scaled)</h2>" + table_html(s["per_horizon"], index=True, baseline_col=None))
    if len(s["failed"]):
        parts.append("<h2>Failed trials</h2>" + table_html(s["failed"], baseline_col=None))
    parts.append("<h2>Data</h2>")
    for title, table in s["data_tables"]:
        parts.append(f"<h3>{html.escape(title)}</h3>" + table_html(table, baseline_col=None))
    parts.append("</body></html>")
    return "".join(parts)


def render_markdown(sections: dict[str, Any]) -> str:
    s = sections
    out = [f"# {s['title']}", "", s["protocol"], ""]
    out += [f"> {n}" for n in s["notes"]] + [""]
    out += ["## Ranking (ordered by validation; test scored once)", "", table_md(s["ranking"]), ""]
    if len(s.get("intervals", [])):
        out += ["## Prediction intervals (test split, calibrated on validation)", "", s["interval_text"], "",
                table_md(s["intervals"]), "", "### Interval coverage per forecast day (test)", "",
                table_md(s["interval_horizon"], index=True), ""]
    if s.get("per_series") is not None:
        out += ["## Per series (test): best architecture vs ridge vs seasonal naive", "",
                table_md(s["per_series"]), ""]
    out += ["## Trials per model", "", table_md(s["trial_counts"]), ""]
    for title, fig in s["figures"]:
        out += [f"## {title}", "", f"![{title}](figures/{fig.name})", ""]
    for title, table in s.get("search_tables", []):
        out += [f"## {title}", "", table_md(table), ""]
    out += ["## Per-target error (original units)", "", table_md(s["per_target"]), ""]
    out += ["## Per-horizon test MSE (scaled)", "", table_md(s["per_horizon"], index=True), ""]
    if len(s["failed"]):
        out += ["## Failed trials", "", table_md(s["failed"]), ""]
    out += ["## Data", ""]
    for title, table in s["data_tables"]:
        out += [f"### {title}", "", table_md(table), ""]
    return "\n".join(out)
