"""Atomic file writes: a reader (a report, a resumed driver, a second process) sees the old file or the new one,
never half of either."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder, swapped in with one rename (the temporary
    name carries the process id, so two writers never share it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
