"""Backtest folds and the final refit in the report: their windows, units, residuals and tables.

Folds (`split.folds` > 1): each ranked entry is also scored on the validation block of every earlier fold, fitted
on that fold's rows only (reports/evaluate.py), and selection ranks by the geometric mean of the validation MSEs
over folds (models.metrics.fold_mean: a hard fold does not outweigh the others). Each fold's MSE is in that fold's
scaled units (its scaler saw only its own training rows); every entry is scored on the same folds, so the means
compare. The out-of-fold residuals of all folds, brought into the run's scaled
units, calibrate the intervals (cross-conformal), so an interval has seen more than one season.

Refit (`report.final_refit`): the chosen configuration retrained on every row before the test split forecasts the
test windows; its predictions are brought into the run's scaled units before scoring. Its validation rows were
training rows, so nothing of it is used for selection or calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data_pipeline import WindowedData, build_windowed_data
from data_pipeline.splits import fold_split
from models.forecasters import REFIT
from reports.intervals import conformal_quantile
from reports.runs import RunDir, RunDirError
from reports.scoring import ModelScore
from reports.seasons import spans_a_year


def n_folds(run: RunDir) -> int:
    return run.stored.folds


def refit_wanted(run: RunDir) -> bool:
    return run.stored.final_refit


def fold_datasets(run: RunDir, data: WindowedData) -> dict[int | str, WindowedData]:
    """The windows of each earlier fold (1..folds-1) and, with a refit, of the refit: the run's own data config
    split at that fold, through the same cache as the sweep."""
    d, w, s = run.data_configs()
    wanted: list[int | str] = list(range(1, n_folds(run)))
    if refit_wanted(run):
        wanted.append(REFIT)
    out = {f: build_windowed_data(d, w, fold_split(s, f)) for f in wanted}
    for f, fd in out.items():
        if fd.series_names != data.series_names:
            raise RunDirError(f"fold {f} of {run.path} keeps other series than the run's own split (a series too "
                              f"short for that fold was dropped); lower split.folds or drop the short series")
    return out


def in_run_units(pred: np.ndarray, source: WindowedData, split: str, run_data: WindowedData) -> np.ndarray:
    """`source`'s scaled forecasts (or targets) of its `split` windows, in the run's scaled units."""
    series = source.split(split).series
    original = source.targets_to_original(pred, series)
    return run_data.scaler.transform(original, series, slice(0, run_data.n_targets)).astype(np.float32)


@dataclass
class FoldResiduals:
    """Out-of-fold errors (prediction - target) in the run's scaled units, and which cells were real targets."""

    errors: list[np.ndarray] = field(default_factory=list)
    observed: list[np.ndarray] = field(default_factory=list)
    folds: list[np.ndarray] = field(default_factory=list)  # the fold of each window
    origins: list[np.ndarray] = field(default_factory=list)  # the forecast origin of each window

    def add(self, pred: np.ndarray, data: WindowedData, run_data: WindowedData, fold: int) -> None:
        y = data.val.y
        self.errors.append(in_run_units(pred, data, "val", run_data) - in_run_units(y, data, "val", run_data))
        self.observed.append(np.ones(y.shape, bool) if data.val.mask is None else np.asarray(data.val.mask, bool))
        self.folds.append(np.full(len(y), fold))
        self.origins.append(np.asarray(data.val.origin))

    def attach(self, entry: ModelScore) -> None:
        """Make these errors the entry's calibration set."""
        entry.calib_errors, entry.calib_observed = np.concatenate(self.errors), np.concatenate(self.observed)
        entry.calib_fold = np.concatenate(self.folds)
        entry.calib_origin = np.concatenate(self.origins)


def by_time_of_year(results: list[ModelScore]) -> bool:
    """Whether the entries' out-of-fold errors span a year, so their intervals are calibrated by time of year."""
    return any(spans_a_year(r.calib_origin) for r in results)


def folds_note(run: RunDir, results: list[ModelScore]) -> str:
    """What the folds are and which entries were ranked on fewer of them."""
    k = n_folds(run)
    fewer = sorted(f"{r.model} ({len(r.fold_means)})" for r in results if len(r.fold_means) < k)
    return (f"Backtest folds: {k} consecutive validation blocks before the test split; each fold's models trained "
            f"only on the rows before its block. Ranked by the geometric mean of the validation MSEs over "
            f"folds (each fold in its own scaled units; each fold's ratios count alike, so the hardest fold does "
            f"not decide alone), fold spread in val_mse_fold_sd; conformal intervals calibrated on the out-of-fold "
            f"errors of every fold (cross-conformal"
            + (", weighted by time of year" if by_time_of_year(results) else "") + ")."
            + (f" Scored on fewer folds (a fold without a model: an unfinished finals phase, or a baseline that "
               f"does not apply to that fold's shorter history): {', '.join(fewer)}." if fewer else ""))


def out_of_fold_frame(results: list[ModelScore], datasets: dict[int | str, WindowedData], run_data: WindowedData
                      ) -> pd.DataFrame:
    """Every entry's validation forecasts of every fold it was scored on, long and in original units: model, fold,
    (series,) forecast_origin, horizon, target, y_true, y_pred, scored. The combinations of entries (the ensemble)
    are fitted on these; kept in the report so another combination can be checked without retraining."""
    blocks = {int(f): d for f, d in datasets.items() if f != REFIT}
    own = len(blocks) + 1
    blocks[own] = run_data
    frames = []
    for fold, d in sorted(blocks.items()):
        val = d.val
        n, h, k = val.y.shape
        base = {"fold": fold, "forecast_origin": np.repeat(pd.to_datetime(val.origin).values, h * k),
                "horizon": np.tile(np.repeat(np.arange(1, h + 1), k), n),
                "target": np.tile(np.array(d.target_names, dtype=object), n * h),
                "y_true": d.targets_to_original(val.y, val.series).reshape(-1),
                "scored": np.ones(n * h * k, bool) if val.mask is None else np.asarray(val.mask, bool).reshape(-1)}
        if d.is_panel:
            base["series"] = np.repeat(np.asarray(d.series_names, dtype=object)[val.series], h * k)
        for r in results:
            pred = r.val_pred if fold == own else r.fold_val_pred.get(fold)
            if pred is None:
                continue
            frames.append(pd.DataFrame({"model": r.model, **base,
                                        "y_pred": d.targets_to_original(pred, val.series).reshape(-1)}))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    order = ["model", "fold", "series", "forecast_origin", "horizon", "target", "y_true", "y_pred", "scored"]
    return out[[c for c in order if c in out.columns]]


def fold_labels(datasets: dict[int | str, WindowedData], run_data: WindowedData) -> dict[int, str]:
    """'fold j (first day of its validation block on)', the last fold being the run's own split."""
    earlier = {int(f): d for f, d in datasets.items() if f != REFIT}
    blocks = {**earlier, len(earlier) + 1: run_data}

    def start(d: WindowedData) -> str:
        cut = (d.summary.get("series") or {}).get("cut")  # a panel: one calendar cut for every series
        return str(cut["val_start"] if cut else d.summary["splits"]["val"]["start"])

    return {f: f"fold {f} (from {start(d)})" for f, d in blocks.items()}


def fold_coverage(results: list[ModelScore], levels: tuple[float, ...], labels: dict[int, str] | None = None
                  ) -> pd.DataFrame:
    """Per entry and level, the coverage of each validation block by the interval calibrated on the *other* blocks
    (leave one fold out): does the interval carry from one season to another? Real cells only."""
    rows = []
    for r in results:
        if r.calib_errors is None or r.calib_fold is None or len(np.unique(r.calib_fold)) < 2:
            continue
        err = np.abs(r.calib_errors.astype(np.float64))
        seen = np.ones(err.shape, bool) if r.calib_observed is None else r.calib_observed
        for level in levels:
            row: dict[str, Any] = {"model": r.model, "level": level}
            for fold in np.unique(r.calib_fold):
                held = r.calib_fold == fold
                q = conformal_quantile(err[~held], level, seen[~held])
                inside = (err[held] <= q) & seen[held]
                label = (labels or {}).get(int(fold), f"fold {int(fold)}")
                row[label] = float(inside.sum() / max(seen[held].sum(), 1))
            rows.append(row)
    return pd.DataFrame(rows)
