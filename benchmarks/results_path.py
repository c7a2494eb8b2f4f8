"""Where a benchmark writes its results: `benchmarks/results/<name>` for a measurement, a temporary folder for a
`--smoke` run, so a run that only checks the script works never overwrites the figures the docs are built from."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SMOKE_FOLDER = "forecast-sweep-smoke-results"


def results_path(out: str | Path | None, name: str, smoke: bool) -> Path:
    """`--out` when given; else the measured results file, or (smoke) its twin in the system's temp directory."""
    if out is not None:
        return Path(out)
    return (Path(tempfile.gettempdir()) / SMOKE_FOLDER if smoke else RESULTS) / name


def write_results(out: Path, results: dict[str, Any]) -> None:
    """The results as indented JSON at `out` (its folder made), and where they went."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written to {out}")
