"""Calibration by time of year: out-of-fold errors weighted by how close their forecast origin's season is.

Weather and demand err more in some seasons than in others, and a test split is usually one season. With every
out-of-fold error alike, Delhi's spring test windows were under-covered and Seattle's climatology over-covered
its June-December ones (benchmarks/calibration_season.py). When the backtest's origins span a year or more, each calibration window
weighs by a Gaussian kernel (bandwidth 30 days) in day-of-year distance between its forecast origin and the
forecast's, and the half-width is the weighted conformal quantile (Barber et al. 2023, "Conformal prediction beyond
exchangeability"), so a spring forecast is calibrated mostly on spring errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEASON_BANDWIDTH_DAYS = 30.0
SEASON_MIN_SPAN_DAYS = 365
YEAR_DAYS = 365.25
CHUNK_CELLS = 4_000_000  # weights x scores cells per step (32 MB of float64): hourly data has many windows


def spans_a_year(calib_origin: np.ndarray | None) -> bool:
    """Whether calibration windows' origins are dates spanning a year or more: then every season has errors."""
    if calib_origin is None or not len(calib_origin) or not np.issubdtype(np.asarray(calib_origin).dtype,
                                                                           np.datetime64):
        return False
    calib = pd.DatetimeIndex(calib_origin)
    return bool((calib.max() - calib.min()) >= pd.Timedelta(days=SEASON_MIN_SPAN_DAYS))


def season_weights(calib_origin: np.ndarray | None, origins: np.ndarray) -> np.ndarray | None:
    """(len(origins), len(calib_origin)) kernel weights in time-of-year distance between forecast origins; None
    (every calibration window alike) where the origins are not dates or the calibration spans less than a year,
    so that some season would have no errors of its own."""
    if not spans_a_year(calib_origin):
        return None
    calib = pd.DatetimeIndex(calib_origin)

    def phase(when: pd.DatetimeIndex) -> np.ndarray:  # days into the year (hours do not matter at 30 days' width)
        return np.asarray(when.day_of_year - 1, np.float64)

    gap = np.abs(phase(pd.DatetimeIndex(origins))[:, None] - phase(calib)[None, :])
    gap = np.minimum(gap, YEAR_DAYS - gap)
    return np.exp(-0.5 * (gap / SEASON_BANDWIDTH_DAYS) ** 2)


def weighted_conformal_quantile(scores: np.ndarray, level: float, weights: np.ndarray,
                                observed: np.ndarray | None = None) -> np.ndarray:
    """Per row of weights (m, n) and cell of scores[0]: the weighted conformal quantile (Barber et al. 2023), the
    smallest score whose weight share reaches `level` when the forecast's own point counts with weight 1 (a
    kernel's weight at distance 0); +inf where no score reaches it. With every weight 1 this is
    conformal_quantile's ceil((n+1)·level)-th smallest score. Returns (m, *scores.shape[1:])."""
    n, m = len(scores), len(weights)
    flat = scores.reshape(n, -1).astype(np.float64)
    seen = np.ones(flat.shape, bool) if observed is None else np.asarray(observed, bool).reshape(n, -1)
    order = np.argsort(np.where(seen, flat, np.inf), axis=0, kind="stable")  # (n, cells)
    ranked = np.take_along_axis(np.where(seen, flat, np.inf), order, axis=0)
    kept = np.take_along_axis(seen, order, axis=0)[None]  # a missing or repaired target weighs nothing
    out = np.empty((m, flat.shape[1]))
    step = max(1, CHUNK_CELLS // max(1, flat.size))  # rows at a time: (rows, n, cells) stays ~CHUNK_CELLS floats
    for start in range(0, m, step):
        w = weights[start:start + step, order] * kept  # each row's weights in each cell's sorted order
        cum = np.cumsum(w, axis=1)
        reached = cum / (cum[:, -1:, :] + 1.0) >= level - 1e-12
        k = reached.argmax(axis=1)  # (rows, cells): the first sorted score whose share reaches the level
        out[start:start + step] = np.where(reached.any(axis=1), ranked[k, np.arange(flat.shape[1])], np.inf)
    return out.reshape((m, *scores.shape[1:]))
