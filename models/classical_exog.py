"""ARIMA's exogenous regressors: the user's known-future columns (data.known_future), one series at a time, in
original units, row for row beside the target history the classical models filter (models/classical.py).

Only the user's known-future columns: a panel's static features are constant within a series (a per-series
regression cannot tell them from its constant), and the calendar's sin/cos columns are left to ARIMA's own
seasonal differencing (reading them would change every calendar run's ARIMA, asked for or not).

Validation and test (and a backtest fold's or the refit's splits): the rows come from the windows, laid out as
`series_history` lays out the targets (a split's input-only rows before its first origin from its first window's
inputs, then every window's first forecast step, then the last window's later steps), each value from the step of
the window that holds it as a known-future value. Past the data's end: the series' loaded history
(FutureInputs.known_histories) and the values the user gave for the horizon (FutureInputs.future, brought back from
the run's scaled units by the run's scaler).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_pipeline import WindowedData
from models.classical import SeriesHistory


def known_columns(data: WindowedData) -> list[str]:
    """The user's known-future columns (data.known_future): ARIMA's regressors."""
    return list(data.summary.get("known_future") or [])


def exog_history(data: WindowedData, i: int, hist: SeriesHistory) -> pd.DataFrame | None:
    """Series `i`'s known-future columns, original units, one row per row of `hist.values` (series_history's);
    None where the data has none."""
    names = known_columns(data)
    if not names:
        return None
    cols = [data.feature_names.index(n) for n in names]
    if data.future_names[: len(names)] != names:  # the split's future arrays hold them first (data_pipeline.windows)
        raise ValueError(f"the known-future columns {names} are not the first of the windows' future inputs "
                         f"{data.future_names}")
    m = len(names)
    parts: list[np.ndarray] = []
    splits = [("train", np.arange(0))]
    splits += [(n, o) for n, o in (("val", hist.val_origins), ("test", hist.test_origins)) if len(o)]
    for name, origins in splits:
        split = data.split(name).of_series(i)
        start = sum(len(p) for p in parts)
        inputs = data.n_inputs if name == "train" else int(origins[0]) - start
        first = split.x[0][split.x.shape[1] - inputs:][:, cols]  # no input rows: empty
        parts.append(np.concatenate([first, split.future[:, 0, :m], split.future[-1, 1:, :m]]))
    scaled = np.concatenate(parts)
    if len(scaled) != len(hist.values):
        raise ValueError(f"series {i}: the known-future columns do not line up with the series ({len(scaled)} rows "
                         f"for {len(hist.values)})")
    sc = data.scaler.for_series(i)
    return pd.DataFrame(sc.inverse(scaled, cols), columns=names)


def future_exog(names: list[str], history: np.ndarray, future: np.ndarray | None, run_scaler, i: int,
                horizon: int) -> pd.DataFrame:
    """Series `i`'s known-future columns past the data's end: its loaded `history` of them ((rows, len(names)),
    original units), then the horizon's values from `future` (FutureInputs.future: (series, horizon, n_future), the
    run's scaled units, the known-future columns first), brought back by `run_scaler`."""
    m = len(names)
    if future is None or future.shape[-1] < m or future.shape[1] != horizon:
        raise ValueError(f"the forecast needs the future values of the known-future column(s) {names} on each of "
                         f"the next {horizon} steps")
    cols = [run_scaler.feature_names.index(n) for n in names]
    ahead = run_scaler.for_series(i).inverse(np.asarray(future[i, :, :m], np.float64), cols)
    return pd.DataFrame(np.concatenate([np.asarray(history, np.float64).reshape(-1, m), ahead]), columns=names)
