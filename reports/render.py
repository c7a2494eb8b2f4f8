"""Render the report's page (reports/sections.py: its blocks in reading order) as a self-contained HTML page
(figures inlined) and as Markdown: one renderer per format, each writing every kind of block."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import pandas as pd

from reports.sections import Figure, Heading, Notes, Page, Paragraph, Table

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


def render_html(page: Page) -> str:
    """A self-contained HTML page: every figure inlined, so the file can be sent alone."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(page.title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(page.title)}</h1>"]
    for block in page.blocks:
        match block:
            case Heading(level, text):
                parts.append(f"<h{level}>{html.escape(text)}</h{level}>")
            case Paragraph(text):
                parts.append(f"<p>{html.escape(text)}</p>")
            case Notes(items):
                parts += [f"<p class='note'>{html.escape(note)}</p>" for note in items]
            case Table(frame, index, by_kind):
                parts.append(table_html(frame, index=index, baseline_col="kind" if by_kind else None))
            case Figure(title, path):
                parts.append(_img(path, title))
    parts.append("</body></html>")
    return "".join(parts)


def render_markdown(page: Page) -> str:
    """The same page as Markdown beside its figures/ folder; each block is followed by a blank line."""
    out = [f"# {page.title}", ""]
    for block in page.blocks:
        match block:
            case Heading(level, text):
                out.append(f"{'#' * level} {text}")
            case Paragraph(text):
                out.append(text)
            case Notes(items):
                out += [f"> {note}" for note in items]
            case Table(frame, index, _):
                out.append(table_md(frame, index=index))
            case Figure(title, path):
                out.append(f"![{title}](figures/{path.name})")
        out.append("")
    return "\n".join(out)
