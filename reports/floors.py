"""Interval bounds that respect a target's floor of zero: rain, counts, sales never go below it.

Conformal bands are symmetric around the point forecast, so a dry-day precipitation forecast got an 80% interval
of [-1.9, 9.3] mm. A target whose real training values are all at or above zero and reach it (at least one value
is 0: the data shows the floor is there, as rain, demand and counts do, where a temperature that happens to stay
positive does not) has its lower bounds raised to 0. That excludes no value the target can take, so coverage is
unchanged wherever the floor holds, and the interval (Winkler) score can only improve. Point forecasts are left
as the models made them (the ranking scores those); where one is itself below zero, its interval's lower bound
stops at it, so an interval always holds its forecast.
"""

from __future__ import annotations

import numpy as np

from data_pipeline import WindowedData

ZERO_TOLERANCE = 1e-6  # relative to the target's largest value: scaling there and back is not exact


def zero_floored(data: WindowedData) -> np.ndarray:
    """(n_targets,) whether each target's real training values are all >= 0 and some are 0 (every series of a
    panel together)."""
    y = data.targets_to_original(data.train.y, data.train.series)
    real = np.ones(y.shape, bool) if data.train.mask is None else np.asarray(data.train.mask, bool)
    out = np.zeros(data.n_targets, bool)
    for j in range(data.n_targets):
        values = y[..., j][real[..., j]]
        if values.size:
            tolerance = ZERO_TOLERANCE * max(1.0, float(np.abs(values).max()))
            out[j] = bool((values >= -tolerance).all() and (np.abs(values) <= tolerance).any())
    return out


def floor_lower_scaled(lower: np.ndarray, data: WindowedData, series: np.ndarray | None,
                       floored: np.ndarray | None = None, point: np.ndarray | None = None) -> np.ndarray:
    """Lower bounds (windows, steps, targets; scaled) raised to zero's scaled value for the zero-floored targets
    (`floored`: zero_floored(data), computed here when not given); `series`: each window's series id (panels).
    `point`: the forecast the band surrounds; where it is itself below zero the bound stops at it instead, so an
    interval always holds its own forecast."""
    floored = zero_floored(data) if floored is None else floored
    if not floored.any():
        return lower
    floor = data.scaler.transform(np.zeros(lower.shape), series, slice(0, data.n_targets))
    if point is not None:
        floor = np.minimum(floor, point)
    return np.where(floored, np.maximum(lower, floor), lower).astype(lower.dtype)
