"""What a classical fit reads of a series whose mask marks cells missing or repaired (invented, not observed).

A masked cell is no observation: it must shape no fitted parameter and no forecast. How each model is kept from
reading it:

arima  the cell is NaN, a missing observation: statsmodels' state-space likelihood and Kalman filter skip it (no
       update, the state carried forward). The tests that choose the differencing (STL seasonal strength, KPSS)
       need every value: they read the training split filled as below.
ets, theta, mstl  need every value. Training split: masked cells filled by interpolation in the style of R's
       forecast::na.interp (linear where the series has no season or fewer than two seasons observed; else a
       robust STL (MSTL for two seasons) of a rough fill, the seasonally adjusted series interpolated linearly
       and the season added back). Interpolation reads the training values on both sides of a cell: no leak, the
       fit reads the whole split anyway and every forecast origin lies after it. After the training split an
       interpolation would read values after a forecast origin, so a masked cell there takes the model's own
       one-step forecast from the (filled) values before it: its error is zero, so the state is carried forward
       without an update, as the Kalman filter treats a missing value. Forecasts from an origin read nothing at
       or after it.

Every fit records it: spec["masked_training_cells"] (how many masked training cells it saw) and spec["masked_as"]
("missing" or the interpolation used). The windows record a mask for target cells only: the rows before the first
training window's first target are inputs only and read as observed.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd

from data_pipeline.types import WindowedData
from models.classical import (
    ClassicalFit,
    SeriesHistory,
    ets_filtered,
    fit_classical,
    forecast_with_quantiles,
    mstl_periods,
)

MAX_FOURIER_TERMS = 5  # na.interp's K = min(season / 2, 5) harmonics for the rough fill
MAX_TREND_DEGREE = 6  # and a polynomial trend of degree min(max(n / 10, 1), 6)


def interp_seasons(model: str, season: int | None, periods: tuple[int, int] | None) -> tuple[int, ...]:
    """The season(s) the interpolation follows: mstl's two, else the models' season (None or 1: none)."""
    if model == "mstl" and periods is not None:
        return tuple(periods)
    return (season,) if season is not None and season > 1 else ()


def na_interp(y: np.ndarray, observed: np.ndarray, seasons: tuple[int, ...] = ()) -> tuple[np.ndarray, str]:
    """`y` with its unobserved cells filled in the style of R's forecast::na.interp, and how ("linear" or
    "seasonal (STL, m=7)"); observed cells are returned as they are. Linear interpolation, constant beyond the
    first and last observed value (R's approx(rule = 2)), where no season has more than two cycles observed."""
    y = np.asarray(y, dtype=np.float64)
    observed = np.asarray(observed, dtype=bool) & np.isfinite(y)
    if observed.all():
        return y.copy(), "none"
    idx = np.flatnonzero(observed)
    if len(idx) == 0:
        raise ValueError("no observed value to interpolate from (every training value is missing or repaired)")
    t = np.arange(len(y))
    seasons = tuple(s for s in seasons if len(idx) > 2 * s)
    if not seasons:
        return np.where(observed, y, np.interp(t, idx, y[idx])), "linear"
    # a rough fill first (Fourier terms of each season, a polynomial trend, least squares on the observed cells), so
    # the decomposition has every value; then the robust decomposition's season is trusted, its remainder is not
    columns = [np.ones(len(y))]
    for s in seasons:
        for k in range(1, min(s // 2, MAX_FOURIER_TERMS) + 1):
            columns += [np.sin(2 * np.pi * k * t / s), np.cos(2 * np.pi * k * t / s)]
    degree = int(min(max(len(y) // 10, 1), MAX_TREND_DEGREE))
    trend = np.polynomial.legendre.legvander(np.linspace(-1.0, 1.0, len(y)), degree)[:, 1:]  # well conditioned
    design = np.column_stack([*columns, trend])
    coef = np.linalg.lstsq(design[observed], y[observed], rcond=None)[0]
    rough = np.where(observed, y, design @ coef)
    seasonal = _seasonal_component(rough, seasons)
    adjusted = rough - seasonal
    filled = np.interp(t, idx, adjusted[idx]) + seasonal
    how = "STL" if len(seasons) == 1 else "MSTL"
    return np.where(observed, y, filled), f"seasonal ({how}, m={'+'.join(map(str, seasons))})"


def _seasonal_component(y: np.ndarray, seasons: tuple[int, ...]) -> np.ndarray:
    from statsmodels.tsa.seasonal import MSTL, STL

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(seasons) == 1:
            return np.asarray(STL(y, period=seasons[0], robust=True).fit().seasonal)
        seasonal = np.asarray(MSTL(y, periods=seasons, stl_kwargs={"robust": True}).fit().seasonal)
        return seasonal.reshape(len(y), -1).sum(1)


def observed_history(data: WindowedData, i: int, hist: SeriesHistory) -> np.ndarray:
    """(n_rows, n_targets) bool aligned with `hist.values` (models.classical.series_history's): False where series
    `i`'s target cell is masked. Laid out as series_history lays out the values: per split, the input-only rows
    before its first origin (no mask: True), every window's first target, the last window's later targets."""
    k = data.n_targets
    parts: list[np.ndarray] = []
    splits = [("train", np.arange(0))]
    splits += [(n, o) for n, o in (("val", hist.val_origins), ("test", hist.test_origins)) if len(o)]
    for name, origins in splits:
        split = data.split(name).of_series(i)
        mask = np.ones(split.y.shape, bool) if split.mask is None else np.asarray(split.mask, bool)
        start = sum(len(p) for p in parts)
        inputs = data.n_inputs if name == "train" else int(origins[0]) - start
        parts.append(np.concatenate([np.ones((inputs, k), bool), mask[:, 0], mask[-1, 1:]]))
    observed = np.concatenate(parts)
    if observed.shape != hist.values.shape:
        raise ValueError(f"series {i}: the mask does not line up with the series ({observed.shape} cells for "
                         f"{hist.values.shape} values)")
    return observed


def fit_masked(model: str, y_train: np.ndarray, observed: np.ndarray, season: int | None,
               periods: tuple[int, int] | None = None, exog: pd.DataFrame | None = None) -> ClassicalFit:
    """`models.classical.fit_classical` on one target's training values with its unobserved cells read as the
    module docstring says, recorded in the fit's spec. Everything observed: exactly fit_classical's fit. `exog`:
    arima's known-future regressors on the training rows (never masked: the user's own values)."""
    y = np.asarray(y_train, dtype=np.float64)
    observed = np.asarray(observed, dtype=bool)
    if observed.all():
        return fit_classical(model, y, season, periods, exog=exog)
    filled, how = na_interp(y, observed, interp_seasons(model, season, periods))
    if model == "arima":
        fit = fit_classical(model, np.where(observed, y, np.nan), season, periods, complete=filled, exog=exog)
        how = "missing"
    else:
        fit = fit_classical(model, filled, season, periods)
    spec = dict(fit.spec, masked_training_cells=int((~observed).sum()), masked_as=how)
    return dataclasses.replace(fit, spec=spec)


def masked_history(fit: ClassicalFit, history: np.ndarray, observed: np.ndarray, n_train: int,
                   season: int | None, periods: tuple[int, int] | None = None) -> np.ndarray:
    """The history `fit`'s forecasts filter: arima: NaN at every masked cell; the others: the training split filled
    as the fit saw it, each later masked cell the model's one-step forecast from the values before it."""
    y = np.asarray(history, dtype=np.float64).copy()
    observed = np.asarray(observed, dtype=bool)
    if observed.all():
        return y
    if fit.model == "arima":
        return np.where(observed, y, np.nan)
    if not observed[:n_train].all():
        y[:n_train] = na_interp(y[:n_train], observed[:n_train], interp_seasons(fit.model, season, periods))[0]
    later = n_train + np.flatnonzero(~observed[n_train:])
    if fit.model == "theta":
        return _theta_fill(fit.spec, y, later)
    for t in later:  # in order: each fill reads the earlier ones
        y[t] = _one_step(fit, y[:t])
    return y


def future_history(fit: ClassicalFit, history: np.ndarray, n_train: int, season: int | None, frequency: str
                   ) -> np.ndarray:
    """The history `fit`'s forecast past the data's end filters: `history` (original units, from the fit's first
    training row, NaN where a cell is masked) read as `masked_history` reads the backtest's, so the future forecast
    skips a repaired value as the fit and the scored forecasts did instead of filtering the value the repair wrote."""
    periods = mstl_periods(frequency) if fit.model == "mstl" else None
    return masked_history(fit, history, np.isfinite(history), n_train, season, periods)


def _one_step(fit: ClassicalFit, y: np.ndarray) -> float:
    """ETS's (mstl: of the series less the held weekly cycle, plus it) forecast of the value after `y`."""
    if fit.model == "ets":
        spec, cycle = fit.spec, np.zeros(len(y) + 1)
    else:
        spec, weekly = fit.spec["ets"], np.asarray(fit.spec["weekly"])
        cycle = weekly[np.arange(len(y) + 1) % len(weekly)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(np.asarray(ets_filtered(spec, y - cycle[:-1]).forecast(1)).reshape(-1)[0]) + cycle[-1]


def _theta_fill(spec: dict, y: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Theta's SES (models.classical._forecast_theta's recursion, alpha and the seasonal factors held) with each
    of `cells` set to the level before it, reseasonalized: the SES level is carried over it unchanged."""
    alpha, factors, mul = spec["alpha"], np.asarray(spec["seasonal"]), spec["method"] == "mul"
    phase = np.arange(len(y)) % len(factors) if len(factors) else None
    x = y if phase is None else (y / factors[phase] if mul else y - factors[phase])
    todo = set(int(c) for c in cells)
    level = x[0]
    for t in range(len(y)):
        if t in todo:
            x[t] = level
            y[t] = level if phase is None else (level * factors[phase[t]] if mul else level + factors[phase[t]])
        level = alpha * x[t] + (1 - alpha) * level
    return y


def fit_and_forecast(model: str, values: np.ndarray, observed: np.ndarray, n_train: int, origins: np.ndarray,
                     horizon: int, season: int | None, periods: tuple[int, int] | None,
                     levels: tuple[float, ...], exog: pd.DataFrame | None = None
                     ) -> tuple[np.ndarray, np.ndarray, ClassicalFit]:
    """Fit `model` on one target's training values and forecast from each origin with its own quantiles at
    `levels`, masked cells read as the module docstring says: (point, quantiles, fit). `exog` (arima): the
    known-future regressors, one row per row of `values`."""
    fit = fit_masked(model, values[:n_train], observed[:n_train], season, periods,
                     None if exog is None else exog.iloc[:n_train])
    history = masked_history(fit, values, observed, n_train, season, periods)
    return (*forecast_with_quantiles(fit, history, origins, horizon, levels, exog), fit)


def target_task(model: str, values: np.ndarray, observed: np.ndarray, n_train: int, origins: np.ndarray,
                horizon: int, season: int | None, periods: tuple[int, int] | None,
                levels: tuple[float, ...], exog: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """`fit_and_forecast` with the fit as a dict: one task of the report's process pool (results it can pickle)."""
    point, quantiles, fit = fit_and_forecast(model, values, observed, n_train, origins, horizon, season, periods,
                                             levels, exog)
    return point, quantiles, fit.to_dict()


def masked_note(fits: list[ClassicalFit]) -> str | None:
    """One sentence for the report where some fit saw masked training cells; None where none did."""
    saw = [f for f in fits if f.spec.get("masked_training_cells")]
    if not saw:
        return None
    cells = sum(int(f.spec["masked_training_cells"]) for f in saw)
    models = sorted({f.model for f in saw})
    return (f"Masked (missing or repaired) training cells: {cells} over {len(saw)} fits ({', '.join(models)}); "
            "arima read them as missing, ets/theta/mstl as interpolated (R's na.interp style) in the training "
            "split and as their own one-step forecast after it; no forecast read a masked value.")
