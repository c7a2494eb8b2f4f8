"""The benchmarks page, built from benchmarks/results/*.json: per file, the command that wrote it, the date it
was committed, its tables (lists of records) and its headline figures (numbers and short values up to two levels
deep). Figures only: the reading of them belongs in the page's prose, which names the file it reads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from docgen import REPO

RESULTS = REPO / "benchmarks" / "results"
MAX_SCALARS = 40  # a file's headline figures shown; the JSON holds the rest
MAX_ROWS = 40
SKIP_KEYS = {"corpus", "runs", "env"}  # per-series detail and paths of the machine that ran it


def committed(path: Path) -> str:
    """The date the file was last committed (the results carry no date of their own); 'not committed' outside
    git."""
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%cs", "--", str(path.relative_to(REPO))], cwd=REPO,
                             capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return out or "not committed"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _scalars(node: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if not isinstance(node, dict):
        return out
    for key, value in node.items():
        if key in SKIP_KEYS or key == "command":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth < 2:
            out += _scalars(value, f"{name}.", depth + 1)
        elif isinstance(value, (int, float, bool)) or (isinstance(value, str) and len(value) <= 80) or isinstance(value, list) and value and all(isinstance(v, (int, float, str)) for v in value) \
                and len(value) <= 8:
            out.append((name, value))
    return out


def _record_tables(node: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, list[dict[str, Any]]]]:
    out = []
    if not isinstance(node, dict):
        return out
    for key, value in node.items():
        if key in SKIP_KEYS:
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out.append((f"{prefix}{key}", value))
        elif isinstance(value, dict) and depth < 1:
            out += _record_tables(value, f"{prefix}{key}.", depth + 1)
    return out


def _table(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k, v in row.items() if k not in columns and not isinstance(v, (dict, list))]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:MAX_ROWS]:
        lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
    if len(rows) > MAX_ROWS:
        lines.append(f"\n{len(rows) - MAX_ROWS} more rows in the file.")
    return lines


def benchmark_section(path: Path) -> str:
    data = json.loads(path.read_text())
    rel = path.relative_to(REPO)
    lines = [f"### {path.stem}", "",
             f"- file: `{rel}`",
             f"- command: `python {data['command']}`" if "command" in data else "- command: not recorded",
             f"- committed: {committed(path)}", ""]
    scalars = _scalars(data)
    if scalars:
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| `{k}` | {_fmt(v)} |" for k, v in scalars[:MAX_SCALARS]]
        if len(scalars) > MAX_SCALARS:
            lines.append(f"\n{len(scalars) - MAX_SCALARS} more figures in the file.")
        lines.append("")
    for name, rows in _record_tables(data):
        lines += [f"**`{name}`**", "", *_table(rows), ""]
    return "\n".join(lines)


def benchmarks_markdown() -> str:
    return "\n".join(benchmark_section(p) for p in sorted(RESULTS.glob("*.json")))
