"""Calibrated prediction intervals for every ranked model: split conformal on validation residuals.

Split conformal: a model's absolute errors on the validation windows, taken separately per forecast day and
target, give a half-width q = the ceil((n+1)·level)-th smallest of the n errors; the interval is point ± q. If
validation and test errors are exchangeable this covers at least `level` of test values, whatever the model.
For models that forecast quantiles (Chronos-2) the same idea applied to their own band is CQR (Romano et al.
2019): the margin by which validation values fall outside [lo, hi] widens (or narrows) the band.

Only validation data calibrates: test targets are read solely to score the finished intervals, once.
Everything here works on `ModelScore`s, so any entry the report ranks gets intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from data_pipeline import WindowedData
from models.forecasters.base import DEFAULT_INTERVAL_LEVELS, QUANTILES
from models.run_records import StoredConfig
from reports.floors import floor_lower_scaled, zero_floored
from reports.runs import RunDirError
from reports.scoring import ModelScore, block_bootstrap_mean, bootstrap_time_index
from reports.seasons import season_weights, weighted_conformal_quantile

DEFAULT_LEVELS = DEFAULT_INTERVAL_LEVELS
CONFORMAL = "conformal"
CQR = "cqr"


def interval_levels(config: StoredConfig) -> tuple[float, ...]:
    """The levels of a run's config (`report.interval_levels`), or the defaults for runs made before it existed."""
    levels = config.interval_levels or list(DEFAULT_LEVELS)
    if not all(isinstance(v, (int, float)) and 0 < v < 1 for v in levels):
        raise RunDirError(f"report.interval_levels: every level must lie strictly between 0 and 1, got {levels}; "
                          "fix it in the run's config.yaml")
    return tuple(sorted({float(v) for v in levels}))


def level_tag(level: float) -> str:
    """0.8 -> '80', 0.95 -> '95', 0.975 -> '97.5': the suffix of interval columns (`_lo80`, `_hi80`)."""
    return f"{level * 100:.10g}"


def conformal_rank(n: int, level: float) -> int:
    """The finite-sample corrected order statistic: ceil((n+1)·level), the k-th smallest of n scores."""
    return math.ceil((n + 1) * level - 1e-9)  # the epsilon keeps (n+1)·level = 80.0000001 from rounding up


def conformal_quantile(scores: np.ndarray, level: float, observed: np.ndarray | None = None) -> np.ndarray:
    """Per cell of scores[0] (axis 0: calibration windows), the ceil((n+1)·level)-th smallest score; +inf when
    that exceeds n (too few windows for the level: no finite interval is guaranteed). `observed` (like scores):
    only those scores calibrate (a missing or repaired target is no observation), so n is counted per cell."""
    if observed is None:
        n = scores.shape[0]
        k = conformal_rank(n, level)
        if n == 0 or k > n:
            return np.full(scores.shape[1:], np.inf)
        return np.sort(scores, axis=0)[k - 1]
    n = observed.sum(axis=0)
    k = np.ceil((n + 1) * level - 1e-9).astype(int)  # conformal_rank, cell by cell
    ranked = np.sort(np.where(observed, scores, np.inf), axis=0)
    if not len(ranked):
        return np.full(scores.shape[1:], np.inf)
    picked = np.take_along_axis(ranked, np.clip(k - 1, 0, len(ranked) - 1)[None], axis=0)[0]
    return np.where((n > 0) & (k <= n), picked, np.inf)


def conformal_half_width(val_pred: np.ndarray, val_y: np.ndarray, level: float,
                         observed: np.ndarray | None = None) -> np.ndarray:
    """(n_outputs, n_targets) half-widths, scaled units, from the validation absolute residuals of real
    targets (`observed`, like val_y; None: all)."""
    return conformal_quantile(np.abs(np.asarray(val_y, np.float64) - np.asarray(val_pred, np.float64)), level,
                              observed)


def calibrated_half_width(abs_errors: np.ndarray, observed: np.ndarray | None, calib_origin: np.ndarray | None,
                          origins: np.ndarray, level: float) -> np.ndarray:
    """Half-widths for forecasts made at `origins`: (len(origins), *abs_errors.shape[1:]), from out-of-fold
    absolute errors, weighted by time of year where season_weights applies (else every error alike); an origin
    whose season holds too few errors for the level (an infinite weighted quantile) takes the unweighted one."""
    plain = conformal_quantile(abs_errors, level, observed)
    origins = np.asarray(origins)
    weights = None
    if np.issubdtype(origins.dtype, np.datetime64) and len(origins):
        # one weighted quantile per day of the year the origins fall on (an hourly test split has few of them)
        _, first, where = np.unique(pd.DatetimeIndex(origins).day_of_year, return_index=True, return_inverse=True)
        weights = season_weights(calib_origin, origins[first])
    if weights is None:
        return np.broadcast_to(plain, (len(origins), *plain.shape)).copy()
    seasonal = weighted_conformal_quantile(abs_errors, level, weights, observed)
    seasonal = np.where(np.isfinite(seasonal), seasonal, plain[None])
    return seasonal[where.reshape(-1)]


def cqr_margin(val_lo: np.ndarray, val_hi: np.ndarray, val_y: np.ndarray, level: float,
               observed: np.ndarray | None = None) -> np.ndarray:
    """(n_outputs, n_targets) CQR margins: how far validation values fall outside the model's own band."""
    y = np.asarray(val_y, np.float64)
    return conformal_quantile(np.maximum(np.asarray(val_lo, np.float64) - y, y - np.asarray(val_hi, np.float64)),
                              level, observed)


@dataclass(frozen=True)
class Band:
    """One model's interval at one level on the test windows, in scaled units, (n, n_outputs, n_targets)."""

    model: str
    method: str  # conformal | cqr
    level: float
    lower: np.ndarray
    upper: np.ndarray

    @property
    def label(self) -> str:
        return self.model if self.method == CONFORMAL else f"{self.model} ({self.method.upper()})"


def model_bands(result: ModelScore, data: WindowedData, levels: tuple[float, ...]) -> list[Band]:
    """Split-conformal bands around the model's test point forecasts, and CQR bands when it has quantiles.

    Reads data.val (calibration) and the model's stored predictions; never data.test.y.
    """
    if result.val_pred is None:
        raise ValueError(f"{result.model}: no validation predictions kept, so no interval can be calibrated")
    bands = []
    observed = data.val.mask
    floored = zero_floored(data)  # targets whose lower bounds stop at 0 (reports/floors.py)
    for level in levels:
        if result.calib_errors is not None:  # every backtest fold's out-of-fold errors (cross-conformal)
            q = calibrated_half_width(np.abs(result.calib_errors.astype(np.float64)), result.calib_observed,
                                      result.calib_origin, data.test.origin, level)
        else:
            q = conformal_half_width(result.val_pred, data.val.y, level, observed)
        lower = floor_lower_scaled(result.y_pred - q, data, data.test.series, floored, result.y_pred)
        bands.append(Band(result.model, CONFORMAL, level, lower, result.y_pred + q))
    if result.val_quantiles is not None and result.quantiles is not None and result.quantile_levels is not None:
        for level in levels:
            lo_i, hi_i = _band_indices(result.quantile_levels, level)
            m = cqr_margin(result.val_quantiles[..., lo_i], result.val_quantiles[..., hi_i], data.val.y, level,
                           observed)
            lower = floor_lower_scaled(result.quantiles[..., lo_i] - m, data, data.test.series, floored)
            bands.append(Band(result.model, CQR, level, lower, result.quantiles[..., hi_i] + m))
    return bands


def own_band_coverage(result: ModelScore, data: WindowedData) -> list[float]:
    """Share of test values inside an entry's own 10%-90% band, per forecast step (0.8 when calibrated)."""
    assert result.quantiles is not None and result.quantile_levels is not None
    lo_i, hi_i = (list(result.quantile_levels).index(q) for q in (QUANTILES[0], QUANTILES[-1]))
    lo, hi = result.quantiles[..., lo_i], result.quantiles[..., hi_i]
    inside = (data.test.y >= lo) & (data.test.y <= hi)
    return [float(v) for v in inside.mean(axis=(0, 2))]


def _band_indices(quantile_levels: tuple[float, ...], level: float) -> tuple[int, int]:
    qs = np.asarray(quantile_levels)
    return int(np.argmin(np.abs(qs - (1 - level) / 2))), int(np.argmin(np.abs(qs - (1 + level) / 2)))


def all_bands(results: list[ModelScore], data: WindowedData, levels: tuple[float, ...]) -> list[Band]:
    """Bands for every result that kept validation predictions (an entry without them is left out, not faked)."""
    return [b for r in results if r.val_pred is not None for b in model_bands(r, data, levels)]


def band_scores(band: Band, data: WindowedData, coverage_interval: bool = True) -> dict[str, Any]:
    """Scored once on test: coverage (overall, per forecast day, per target), mean width and the interval
    (Winkler) score, width + (2/alpha)·distance outside, in original units per target and scaled overall."""
    y = np.asarray(data.test.y, np.float64)
    lo, hi = band.lower.astype(np.float64), band.upper.astype(np.float64)
    inside = (y >= lo) & (y <= hi)
    alpha = 1.0 - band.level
    lo_o, hi_o, y_o = (data.targets_to_original(a, data.test.series) for a in (lo, hi, y))
    # only real test targets score an interval (a missing or repaired value is no observation to cover)
    real = np.ones(y.shape, bool) if data.test.mask is None else np.asarray(data.test.mask, bool)

    def mean(values: np.ndarray, axis: int | tuple[int, ...] | None = None, keep: np.ndarray = real) -> Any:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (values * keep).sum(axis) / keep.sum(axis)

    def winkler(lo_: np.ndarray, hi_: np.ndarray, y_: np.ndarray) -> np.ndarray:
        return (hi_ - lo_) + (2 / alpha) * (np.maximum(lo_ - y_, 0) + np.maximum(y_ - hi_, 0))

    win_o = winkler(lo_o, hi_o, y_o)
    # how far the test split lets coverage be read: the ranking's block bootstrap over windows (a panel's over
    # forecast origins), so a miss of the nominal level can be told from the noise of a short test split
    ci_low, ci_high = (block_bootstrap_mean(inside.astype(np.float64), data.n_outputs, weights=real,
                                            time_index=bootstrap_time_index(data)) if coverage_interval else (np.nan, np.nan))
    out: dict[str, Any] = {
        "model": band.label, "method": band.method, "level": band.level,
        "coverage": float(mean(inside)), "coverage_ci_low": ci_low, "coverage_ci_high": ci_high,
        "winkler_scaled": float(mean(winkler(lo, hi, y))),
        "coverage_per_horizon": [float(v) for v in mean(inside, (0, 2))],
    }
    for j, target in enumerate(data.target_names):
        out[f"{target}_coverage"] = float(mean(inside[..., j], keep=real[..., j]))
        out[f"{target}_width"] = float((hi_o - lo_o)[..., j].mean())
        out[f"{target}_winkler"] = float(mean(win_o[..., j], keep=real[..., j]))
    return out


def off_nominal(level: float, ci_low: Any, ci_high: Any) -> np.ndarray:
    """Where a coverage misses its nominal level beyond the test split's noise (its bootstrap interval excludes the
    level): -1 below it, +1 above it, 0 within noise (also where no interval was computed); elementwise on arrays."""
    low, high = np.asarray(ci_low, np.float64), np.asarray(ci_high, np.float64)
    return (low > level).astype(int) - (high < level).astype(int)


def interval_table(bands: list[Band], data: WindowedData) -> pd.DataFrame:
    """One row per model, method and level: the test scores of its interval."""
    rows = [band_scores(b, data) for b in bands]
    return pd.DataFrame([{k: v for k, v in r.items() if k != "coverage_per_horizon"} for r in rows])


def coverage_by_horizon(bands: list[Band], data: WindowedData) -> pd.DataFrame:
    """Test coverage per forecast day (rows), one column per model and level."""
    cols = {f"{b.label} {level_tag(b.level)}%": band_scores(b, data, coverage_interval=False)["coverage_per_horizon"]
            for b in bands}
    return pd.DataFrame(cols, index=pd.Index(range(1, data.n_outputs + 1), name="horizon_day"))


def ranking_columns(ranking: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The ranking with each model's split-conformal coverage and interval score beside the point metrics (same
    rows, same order: intervals never change the ranking)."""
    out = ranking.copy()
    conformal = table[table.method == CONFORMAL].set_index(["model", "level"]) if len(table) else None
    for level in sorted(set(table.level)) if len(table) else []:
        tag = level_tag(level)
        for col, src in ((f"coverage_{tag}", "coverage"), (f"coverage_{tag}_ci_low", "coverage_ci_low"),
                         (f"coverage_{tag}_ci_high", "coverage_ci_high"), (f"winkler_{tag}", "winkler_scaled")):
            out[col] = [float(conformal.loc[(m, level), src]) if (m, level) in conformal.index else np.nan
                        for m in out.model]
    return out


def prediction_columns(result: ModelScore, bands: list[Band], data: WindowedData) -> dict[str, np.ndarray]:
    """Flat interval columns in original units, aligned with the long predictions frame (`lo80`, `hi80`, and
    `cqr_lo80`... for quantile models); missing ones are filled with NaN by the caller."""
    cols = {}
    for b in bands:
        if b.model != result.model:
            continue
        prefix = "" if b.method == CONFORMAL else f"{b.method}_"
        tag = level_tag(b.level)
        cols[f"{prefix}lo{tag}"] = data.targets_to_original(b.lower, data.test.series).reshape(-1)
        cols[f"{prefix}hi{tag}"] = data.targets_to_original(b.upper, data.test.series).reshape(-1)
    return cols


def add_prediction_columns(frame: pd.DataFrame, results: list[ModelScore], bands: list[Band],
                           data: WindowedData) -> pd.DataFrame:
    """The long predictions frame (reports.scoring.predictions_frame) with each row's interval bounds, original
    units: `lo80`/`hi80`... for every model, `cqr_lo80`/`cqr_hi80`... where a quantile model has them."""
    out = frame.copy()
    for r in results:
        rows = (out.model == r.model).to_numpy()
        for col, values in prediction_columns(r, bands, data).items():
            if col not in out:
                out[col] = np.nan
            out.loc[rows, col] = values
    return out


def reading_table(table: pd.DataFrame, order: list[str], target_names: list[str]) -> pd.DataFrame:
    """The interval scores as a person reads them: one row per model (ranking order, CQR rows after their model),
    per level the coverage, the interval score (scaled) and the mean width per target (original units)."""
    if not len(table):
        return pd.DataFrame()
    rows = []
    labels = list(dict.fromkeys(table.model))
    rank = {m: i for i, m in enumerate(order)}
    for label in sorted(labels, key=lambda lb: (rank.get(lb.split(" (")[0], len(rank)), lb)):
        sub = table[table.model == label].set_index("level")
        row: dict[str, Any] = {"model": label, "method": sub.method.iloc[0]}
        for level in sub.index:
            tag = level_tag(level)
            cover = f"{sub.loc[level, 'coverage']:.1%}"
            if np.isfinite(sub.loc[level].get("coverage_ci_low", np.nan)):  # its interval over test windows
                cover += f" [{sub.loc[level, 'coverage_ci_low']:.1%}, {sub.loc[level, 'coverage_ci_high']:.1%}]"
            row[f"cover {tag}%"] = cover
            row[f"interval score {tag}%"] = float(sub.loc[level, "winkler_scaled"])
        for level in sub.index:
            for t in target_names:
                row[f"{t} width {level_tag(level)}%"] = float(sub.loc[level, f"{t}_width"])
        rows.append(row)
    return pd.DataFrame(rows)
