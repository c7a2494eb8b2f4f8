"""mkdocs hook: pages hold markers such as `<!-- docgen:config -->`, replaced at build time by what the docgen
package generates from the code (config keys, CLI options, file columns, benchmark results)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the clone's packages and docgen, uninstalled too

MARKER = re.compile(r"<!-- docgen:([a-z_]+) -->")


def _generated(name: str) -> str:
    if str(REPO) not in sys.path:  # put back: plugins may reset sys.path after the hooks load
        sys.path.insert(0, str(REPO))
    from docgen import benchmarks, cli_reference, columns, config_reference

    makers = {
        "config": config_reference.config_reference_markdown,
        "cli": cli_reference.cli_reference_markdown,
        "ranking_columns": lambda: columns.table_markdown(columns.RANKING_COLUMNS),
        "forecast_columns": lambda: columns.table_markdown(columns.FORECAST_COLUMNS),
        "benchmarks": benchmarks.benchmarks_markdown,
        "changelog": lambda: (REPO / "CHANGELOG.md").read_text(),  # one changelog, at the repository's root
    }
    if name not in makers:
        raise ValueError(f"unknown docgen marker {name!r}; known: {', '.join(makers)}")
    return makers[name]()


def on_page_markdown(markdown: str, **_: Any) -> str:
    return MARKER.sub(lambda m: _generated(m.group(1)), markdown)
