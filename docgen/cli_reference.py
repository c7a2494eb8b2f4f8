"""The command-line options, as each command's own argparse parser prints them with `--help`: the page shows
exactly what the installed code accepts."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable

# (command as a user types it, "module:function" that parses argv and exits on --help)
COMMANDS = (
    ("python sweeps/run_all.py", "sweeps.run_all:main"),
    ("python -m data_pipeline", "data_pipeline.__main__:main"),
    ("python -m reports", "reports.__main__:main"),
    ("python -m reports.forecast", "reports.forecast:main"),
    ("python -m sweeps.engine.legacy_records", "sweeps.engine.legacy_records:main"),
)


def _entry(target: str) -> Callable[[list[str]], int]:
    import importlib

    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


def help_text(target: str, width: int = 100) -> str:
    """What `<command> --help` prints (argparse wraps to $COLUMNS, set here so the page does not depend on the
    terminal that built it)."""
    out = io.StringIO()
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            _entry(target)(["--help"])
    finally:
        if before is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = before
    return out.getvalue().rstrip()


def cli_reference_markdown() -> str:
    parts = []
    for command, target in COMMANDS:
        parts += [f"## `{command}`", "", "```text", help_text(target), "```", ""]
    return "\n".join(parts)
