"""Baselines every trained model has to beat.

persistence  every forecast day repeats the last observed target values. Nothing to fit.
ridge        one linear map from the flattened input window (and, where the data has known-future inputs, their
             values on every forecast step: known-future columns and calendar) to the flattened output window,
             fitted in closed form by `fit_ridge`. It predicts the change from the last observed value, so a
             large penalty shrinks it towards persistence rather than towards zero.
seasonal_naive  every forecast step repeats the value one season earlier (7 for daily data, 5 business-daily,
             52 weekly, 24 hourly, 12 monthly; `baselines.season` overrides). Nothing to fit; needs
             season <= window.input.
climatology  the training split's mean for the same day of year / week of year / month (`fit_climatology`);
             only where the training split spans at least two years of daily, business-daily, weekly or monthly
             data, so every bucket has at least two years behind it. Business days use the week of year: a
             calendar date is a business day in only some years (and a holiday in all), so its own bucket would
             often be empty.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import (
    BQuarterBegin,
    BQuarterEnd,
    BusinessDay,
    Day,
    Hour,
    MonthBegin,
    MonthEnd,
    QuarterBegin,
    QuarterEnd,
    Week,
)
from torch import nn

from data_pipeline.types import SplitWindows

DEFAULT_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)
PERSISTENCE_HPARAMS: dict = {}
RIDGE_HPARAMS = {"alphas": DEFAULT_ALPHAS}


class Persistence(nn.Module):
    def __init__(self, n_features: int, n_targets: int, n_inputs: int, n_outputs: int, n_future: int = 0):
        super().__init__()
        self.n_targets, self.n_outputs = n_targets, n_outputs
        # a buffer so .to(device), state_dict and checkpointing work like for any other model
        self.register_buffer("dummy", torch.zeros(()))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, future: torch.Tensor | None = None) -> torch.Tensor:
        last = x[:, -1, : self.n_targets]
        return last.unsqueeze(1).expand(-1, self.n_outputs, -1).contiguous()


class Ridge(nn.Module):
    def __init__(
        self,
        n_features: int,
        n_targets: int,
        n_inputs: int,
        n_outputs: int,
        n_future: int = 0,  # known-future inputs per forecast step: regressors beside the input window
        alphas: Sequence[float] = DEFAULT_ALPHAS,
    ):
        super().__init__()
        if not alphas or any(a <= 0 for a in alphas):
            raise ValueError(f"alphas must be a non-empty sequence of positive numbers, got {alphas!r}")
        self.n_targets, self.n_outputs, self.n_future = n_targets, n_outputs, n_future
        self.alphas = tuple(float(a) for a in alphas)
        n_in, n_out = n_inputs * n_features + n_outputs * n_future, n_outputs * n_targets
        # buffers, not parameters: gradient descent has nothing to do here, fit_ridge sets them
        self.register_buffer("weight", torch.zeros(n_in, n_out))
        self.register_buffer("bias", torch.zeros(n_out))
        # the chosen penalty; NaN = not fitted yet
        self.register_buffer("alpha", torch.tensor(float("nan"), dtype=torch.float64))
        # untrained, it is exactly persistence

    @property
    def fitted(self) -> bool:
        return bool(torch.isfinite(self.alpha))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, future: torch.Tensor | None = None) -> torch.Tensor:
        last = x[:, -1, : self.n_targets]
        design = x.flatten(1)
        if self.n_future:  # the forecast steps' known-future values: regressors of the step they belong to
            want = (x.shape[0], self.n_outputs, self.n_future)
            if future is None or tuple(future.shape) != want:
                raise ValueError(f"ridge reads {self.n_future} known-future input(s) per forecast step: pass future "
                                 f"of shape {want}, got {None if future is None else tuple(future.shape)}")
            design = torch.cat([design, future.flatten(1)], dim=1)
        delta = design @ self.weight + self.bias
        return last.unsqueeze(1) + delta.view(-1, self.n_outputs, self.n_targets)


def _design(split: SplitWindows, n_targets: int, n_future: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(split.x, dtype=np.float64)
    y = np.asarray(split.y, dtype=np.float64)
    residual = y - x[:, -1:, :n_targets]
    design = x.reshape(len(x), -1)
    if n_future:
        design = np.concatenate([design, np.asarray(split.future, np.float64).reshape(len(x), -1)], axis=1)
    return design, residual.reshape(len(y), -1)


def driver_columns(n_features: int, n_inputs: int, n_outputs: int, n_future: int, features: Sequence[int],
                   future: Sequence[int]) -> list[int]:
    """Ridge's design columns that hold the given input features (every input step) and known-future inputs
    (every forecast step): the design is the flattened window (step-major), then the flattened future."""
    offset = n_inputs * n_features
    return ([t * n_features + j for t in range(n_inputs) for j in features]
            + [offset + s * n_future + k for s in range(n_outputs) for k in future])


def fit_ridge(
    model: Ridge, train: SplitWindows, val: SplitWindows, alphas: Sequence[float] | None = None,
    drivers: Sequence[int] = (), reads_drivers: bool | None = None,
) -> dict:
    """Closed-form ridge for each alpha on `train` (its real target cells only); keep the alpha with the lowest
    MSE on `val` (its scored cells). `drivers`: design columns (`driver_columns`) ridge may leave out; with
    `reads_drivers` None it fits with and without them and keeps them only where they lower the validation MSE (a
    driver that carries nothing must not cost the forecast a shifted penalty), True/False fixes the choice.
    Returns {"alpha", "reads_drivers", "val_mse", "val_mse_by_alpha"}; val_mse in scaled units."""
    alphas = tuple(alphas) if alphas is not None else model.alphas
    xt, rt = _design(train, model.n_targets, model.n_future)
    xv, rv = _design(val, model.n_targets, model.n_future)
    # unscored cells out; with several series, each series' cells share an equal weight (as in every score)
    weights = val.score_weights()
    mv = None if weights is None else weights.reshape(len(weights), -1)
    if not (np.isfinite(xt).all() and np.isfinite(rt).all()):
        raise ValueError("ridge: training windows contain non-finite values")
    # A training target that was missing or repaired is no observation: it never enters the fit. Each output
    # column is its own regression, so each one fits on the windows whose target in that column is real.
    observed = None if train.mask is None else train.mask.reshape(len(train.mask), -1)
    if observed is not None and observed.all():
        observed = None
    drivers = list(drivers)
    choices = [False, True] if drivers and reads_drivers is None else [bool(drivers) and reads_drivers is not False]
    by_alpha: dict[bool, dict[float, float]] = {reads: {} for reads in choices}
    best = None
    for reads in choices:  # without the drivers first: on a tie the simpler fit stays
        rows_in = np.ones(xt.shape[1], bool)
        rows_in[drivers] = reads  # the design columns this fit reads; the others keep a zero weight
        x = xt[:, rows_in]
        solutions = [_ridge_path(x, rt, alphas)] if observed is None else [
            _ridge_path(x[rows], rt[rows][:, cols], alphas, cols)
            for rows, cols in _column_groups(observed)]
        for a in alphas:
            w = np.zeros((xt.shape[1], rt.shape[1]))
            b = np.zeros(rt.shape[1])
            for solve in solutions:
                cols, w_cols, b_cols = solve(a)
                w[np.ix_(rows_in, np.arange(rt.shape[1])[cols])], b[cols] = w_cols, b_cols
            sq = (xv @ w + b - rv) ** 2  # residual error == forecast error
            mse = float(np.mean(sq) if mv is None else np.sum(sq * mv) / (mv.sum() if mv.sum() > 0 else 1.0))
            by_alpha[reads][a] = mse
            if best is None or mse < best[1]:
                best = (a, mse, w, b, reads)
    alpha, val_mse, w, b, reads = best
    dev = model.weight.device
    model.weight.copy_(torch.as_tensor(w, dtype=torch.float32, device=dev))
    model.bias.copy_(torch.as_tensor(b, dtype=torch.float32, device=dev))
    model.alpha.fill_(alpha)
    return {"alpha": alpha, "reads_drivers": bool(drivers) and reads, "val_mse": val_mse,
            "val_mse_by_alpha": by_alpha[reads]}


def _ridge_path(x: np.ndarray, r: np.ndarray, alphas: Sequence[float], cols: np.ndarray | slice = slice(None)
                ) -> Callable[[float], tuple[np.ndarray | slice, np.ndarray, np.ndarray]]:
    """alpha -> (cols, weight, bias) of ridge from x to r. One eigendecomposition of the centred Gram matrix
    serves every alpha; the intercept is not penalised (it comes from the centring)."""
    if len(x) == 0:  # no real target in these columns: predict no change (persistence)
        return lambda a: (cols, np.zeros((x.shape[1], r.shape[1])), np.zeros(r.shape[1]))
    x_mean, r_mean = x.mean(0), r.mean(0)
    xc, rc = x - x_mean, r - r_mean
    evals, evecs = np.linalg.eigh(xc.T @ xc)
    proj = evecs.T @ (xc.T @ rc)  # the data part of the solution, in the eigenbasis

    def solve(a: float) -> tuple[np.ndarray | slice, np.ndarray, np.ndarray]:
        w = evecs @ (proj / (np.clip(evals, 0.0, None) + a)[:, None])
        return cols, w, r_mean - x_mean @ w

    return solve


def _column_groups(observed: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows, columns) pairs: the output columns that share one pattern of observed rows, and those rows (targets
    missing on the same days share a pattern, so a series with a few gaps needs few solves)."""
    groups: dict[bytes, list[int]] = {}
    for j in range(observed.shape[1]):
        groups.setdefault(np.packbits(observed[:, j]).tobytes(), []).append(j)
    return [(np.flatnonzero(observed[:, cols[0]]), np.asarray(cols)) for cols in groups.values()]


def default_season(frequency: str) -> int | None:
    """Steps per season for the data's frequency (pandas freqstr): the cycle a seasonal naive forecast repeats."""
    try:
        offset = to_offset(frequency)
    except ValueError:
        return None
    if offset.n != 1:
        return None
    for kind, season in ((Day, 7), (BusinessDay, 5), (Week, 52), (Hour, 24), (MonthBegin, 12), (MonthEnd, 12),
                         (QuarterBegin, 4), (QuarterEnd, 4), (BQuarterBegin, 4), (BQuarterEnd, 4)):
        if isinstance(offset, kind):
            return season
    return None


class SeasonalNaive(nn.Module):
    """Forecast step h (1-based) = the observed value k*season steps earlier, k = ceil(h / season): the last
    value at the same phase of the cycle that the input window holds."""

    def __init__(self, n_features: int, n_targets: int, n_inputs: int, n_outputs: int, season: int = 7,
                 n_future: int = 0):  # n_future: accepted for a uniform build(); the input window is all it reads
        super().__init__()
        if season < 1 or season > n_inputs:
            raise ValueError(f"seasonal naive needs 1 <= season <= window.input ({n_inputs}), got season={season}; "
                             "set baselines.season or a longer window.input")
        self.n_targets, self.n_outputs, self.season = n_targets, n_outputs, season
        h = np.arange(1, n_outputs + 1)
        # position in the input window (0 = oldest) of the value one whole number of seasons back
        self.register_buffer("source", torch.as_tensor(n_inputs - 1 + h - season * np.ceil(h / season), dtype=torch.long))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, future: torch.Tensor | None = None) -> torch.Tensor:
        return x[:, self.source, : self.n_targets].contiguous()


MIN_CLIMATOLOGY_YEARS = 2


@dataclass(frozen=True)
class Climatology:
    """Per-bucket training means of the targets (scaled units); bucket = day of year, week of year or month."""

    frequency: str
    means: dict[int, np.ndarray]  # bucket -> (n_targets,)
    overall: np.ndarray  # fallback for a bucket the training split never saw (e.g. ISO week 53)


def climatology_bucket(dates: pd.DatetimeIndex, frequency: str) -> np.ndarray:
    """Day of year on a 365-day calendar (29 Feb counts as 28 Feb), ISO week of year (weekly and business-day
    data), or month."""
    offset = to_offset(frequency)
    if isinstance(offset, (Week, BusinessDay)):
        return dates.isocalendar().week.to_numpy().astype(int)
    if isinstance(offset, (MonthBegin, MonthEnd)):
        return dates.month.to_numpy()
    leap_day = (dates.month == 2) & (dates.day == 29)
    return np.where(leap_day, 2 * 100 + 28, dates.month.to_numpy() * 100 + dates.day.to_numpy())


def climatology_applies(dates: pd.DatetimeIndex, frequency: str) -> str | None:
    """None when climatology applies to a training split with these dates; otherwise why not."""
    try:
        offset = to_offset(frequency)
    except ValueError:
        return f"frequency {frequency!r} is not daily, weekly or monthly"
    if offset.n != 1 or not isinstance(offset, (Day, BusinessDay, Week, MonthBegin, MonthEnd)):
        return f"frequency {frequency!r} is not daily, weekly or monthly"
    span_years = (dates.max() - dates.min()).days / 365.25
    if span_years < MIN_CLIMATOLOGY_YEARS - 0.02:  # a day or two short of two calendar years still counts
        return f"the training split spans {span_years:.1f} years (climatology needs {MIN_CLIMATOLOGY_YEARS})"
    return None


def fit_climatology(dates: pd.DatetimeIndex, targets: np.ndarray, frequency: str,
                    observed: np.ndarray | None = None) -> Climatology:
    """Mean of each bucket over the training days. `targets`: (n_days, n_targets), one row per date; `observed`
    (like targets): False where a value was missing or repaired, which then enters no mean (a bucket left with no
    real value takes the overall mean)."""
    buckets = climatology_bucket(dates, frequency)
    values = np.asarray(targets, dtype=np.float64)
    if observed is not None:
        values = np.where(observed, values, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing bucket: handled just below
        overall = np.nanmean(values, 0)
        means = {int(b): np.nanmean(values[buckets == b], 0) for b in np.unique(buckets)}
    means = {b: np.where(np.isfinite(m), m, overall) for b, m in means.items()}
    return Climatology(frequency, means, overall)


def climatology_forecast(clim: Climatology, dates: pd.DatetimeIndex) -> np.ndarray:
    """(len(dates), n_targets): each date's bucket mean."""
    buckets = climatology_bucket(dates, clim.frequency)
    return np.stack([clim.means.get(int(b), clim.overall) for b in buckets]).astype(np.float32)
