"""Missing cells: counted (and refused under data.nan_policy=error), and every hole filled from earlier rows only."""

from __future__ import annotations

import pandas as pd

from data_pipeline.errors import DataError


def check_nans(frame: pd.DataFrame, gap_rows: pd.Series, policy: str, label: str) -> dict[str, int]:
    """Count missing cells in observed rows (gap rows are reported separately); raise under nan_policy=error."""
    cells = frame[~gap_rows].isna()
    counts = {c: int(n) for c, n in cells.sum().items() if n}
    for col in frame.columns:
        if frame[col].isna().all():
            raise DataError(f"{label}: column {col!r} has no values at all; drop it from data.features")
    if counts and policy == "error":
        col = next(iter(counts))
        dates = frame.index[~gap_rows.to_numpy() & cells[col].to_numpy()]
        shown = ", ".join(str(d.date()) for d in dates[:5])
        raise DataError(
            f"{label}: {sum(counts.values())} missing value(s); column {col!r} is empty on {shown}; "
            "fill them or set data.nan_policy=ffill"
        )
    return counts


def fill_missing(frame: pd.DataFrame, gap_rows: pd.Series, gap_policy: str,
                 history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fill every hole (gap row, missing cell, removed outlier) from earlier rows only: the last good value.

    Causal on purpose: an interpolation would repair an input day from a later (possibly target) day; hence the
    one policy's name, `ffill`. `history` (e.g. the training file before a test file) supplies the last good
    value for holes at the start of `frame`; holes before any observation at all (the very first rows of the
    series) take the first observed value, the only repair with no past.
    """
    del gap_rows, gap_policy  # every hole is filled the same causal way
    if history is None or history.empty:
        return frame.ffill().bfill()
    joined = pd.concat([history, frame]).ffill()
    return joined.iloc[len(history):].bfill()
