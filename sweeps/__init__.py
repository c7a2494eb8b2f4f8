"""Forecast Sweep's sweep layer, and the Python API for notebooks (sweeps/api.py):

    import sweeps
    result = sweeps.sweep(df, profile="smoke")   # a DataFrame or a path in; a SweepResult out
    result.ranking, result.winner, result.forecast()
    sweeps.open_run("runs/<name>")               # an earlier run as the same object

`import sweeps` stays light: the API (and with it Ray, torch, pandas) loads on first use of these names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sweeps.api import SweepResult, open_run, sweep

__all__ = ["SweepResult", "open_run", "sweep"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sweeps import api

        return getattr(api, name)
    raise AttributeError(f"module 'sweeps' has no attribute {name!r}")
