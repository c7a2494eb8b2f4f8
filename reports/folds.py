"""Backtest folds and the final refit in the report.

Folds (`split.folds` > 1): each ranked entry is also scored on the validation block of every earlier fold, with
models trained on that fold's rows only (the finals' fold trials; ridge, seasonal naive, climatology and the
classical models fitted on that fold's training rows), and selection ranks by the mean validation MSE over folds.
Each fold's MSE is in that fold's scaled units (its scaler saw only its own training rows); every entry is scored
on the same folds, so the means compare. The out-of-fold residuals of all folds, brought into the run's scaled
units, calibrate the intervals (cross-conformal), so an interval has seen more than one season.

Refit (`report.final_refit`): the chosen configuration retrained on every row before the test split forecasts the
test windows; its predictions are brought into the run's scaled units before scoring. Its validation rows were
training rows, so nothing of it is used for selection or calibration.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data_pipeline import WindowedData, build_windowed_data, with_input_length
from data_pipeline.splits import fold_split
from models import predict
from models.metrics import score_split
from reports.intervals import conformal_quantile
from reports.runs import RunDir, RunDirError, TrialRecord, load_best_model
from reports.scoring import ModelScore

REFIT = "refit"


def n_folds(run: RunDir) -> int:
    return int((run.config.get("split") or {}).get("folds") or 1)


def refit_wanted(run: RunDir) -> bool:
    return bool((run.config.get("report") or {}).get("final_refit"))


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

    def add(self, pred: np.ndarray, data: WindowedData, run_data: WindowedData, fold: int) -> None:
        y = data.val.y
        self.errors.append(in_run_units(pred, data, "val", run_data) - in_run_units(y, data, "val", run_data))
        self.observed.append(np.ones(y.shape, bool) if data.val.mask is None else np.asarray(data.val.mask, bool))
        self.folds.append(np.full(len(y), fold))

    def attach(self, entry: ModelScore) -> None:
        """Make these errors the entry's calibration set."""
        entry.calib_errors, entry.calib_observed = np.concatenate(self.errors), np.concatenate(self.observed)
        entry.calib_fold = np.concatenate(self.folds)


def trials_of(run: RunDir, chosen: TrialRecord, fold: int | str | None) -> list[TrialRecord]:
    """The finals (or refit) trials of `chosen`'s configuration on `fold` that can be loaded, by seed."""
    found = [t for t in run.finals if t.model == chosen.model and t.final_of == chosen.tag and t.fold == fold
             and t.status != "failed"
             and t.checkpoint is not None and math.isfinite(t.best_val_mse)]
    return sorted(found, key=lambda t: int(t.train.get("seed", 0)))


def fold_forecasts(trials: list[TrialRecord], data: WindowedData, split: str, window_input: int | None
                   ) -> list[np.ndarray]:
    """Each trial's forecasts of `data`'s `split` windows (its own scaled units)."""
    cut = with_input_length(data, window_input)
    windows = cut.split(split)
    return [predict(load_best_model(t, cut.shapes), windows.x, future=windows.future, series=windows.series)
            for t in trials]


def own_seed_first(trials: list[TrialRecord], seed: int) -> list[TrialRecord]:
    """The trial with the search trial's seed first (the single entry's model), then the others by seed."""
    return sorted(trials, key=lambda t: (int(t.train.get("seed", seed)) != seed, int(t.train.get("seed", 0))))


@dataclass
class FoldScores:
    """Per fold, the validation MSE of one entry (each of its seeds for a single model; its mean for the
    ensemble), and the residuals to calibrate with."""

    val_mse: dict[int, list[float]] = field(default_factory=dict)
    residuals: FoldResiduals = field(default_factory=FoldResiduals)


def model_folds(run: RunDir, chosen: TrialRecord, datasets: dict[int | str, WindowedData], run_data: WindowedData,
                base_seed: int) -> tuple[FoldScores, FoldScores]:
    """(the single model's, the seed ensemble's) scores on every earlier fold; the last fold is the caller's."""
    single, ensemble = FoldScores(), FoldScores()
    seed = int(chosen.train.get("seed", base_seed))
    for fold in range(1, n_folds(run)):
        trials = own_seed_first(trials_of(run, chosen, fold), seed)
        if not trials:  # the finals were interrupted (or failed) there: ranked on the folds it has, and said so
            continue
        fd = datasets[fold]
        preds = fold_forecasts(trials, fd, "val", chosen.window_input)
        single.val_mse[fold] = [t.best_val_mse for t in trials]
        single.residuals.add(preds[0], fd, run_data, fold)
        mean = np.mean(preds, 0)
        ensemble.val_mse[fold] = [score_split(mean, fd.val, fd)["mse"]]
        ensemble.residuals.add(mean, fd, run_data, fold)
    return single, ensemble


def refit_forecasts(run: RunDir, chosen: TrialRecord, datasets: dict[int | str, WindowedData],
                    run_data: WindowedData, base_seed: int) -> list[np.ndarray]:
    """The refit models' test forecasts in the run's scaled units, the search trial's seed first; [] when the run
    has no refit (or it has not finished)."""
    if REFIT not in datasets:
        return []
    seed = int(chosen.train.get("seed", base_seed))
    trials = own_seed_first(trials_of(run, chosen, REFIT), seed)
    wanted = {seed} | {int(t.train.get("seed", 0)) for t in trials_of(run, chosen, None)}
    if {int(t.train.get("seed", 0)) for t in trials} != wanted:  # an unfinished refit: the fold models forecast
        return []
    rd = datasets[REFIT]
    return [in_run_units(p, rd, "test", run_data) for p in fold_forecasts(trials, rd, "test", chosen.window_input)]


def apply_folds(run: RunDir, chosen_trial: TrialRecord, chosen: ModelScore, ensemble: ModelScore | None,
                datasets: dict[int | str, WindowedData], run_data: WindowedData, base_seed: int) -> None:
    """Give an architecture's entries (its chosen model and seed ensemble) their earlier folds' validation MSEs
    and out-of-fold residuals, and, with a refit, the refit models' test forecasts and scores."""
    entries = [(chosen, 0), *([(ensemble, 1)] if ensemble is not None else [])]
    if n_folds(run) > 1:
        scores = model_folds(run, chosen_trial, datasets, run_data, base_seed)
        for entry, i in entries:
            entry.fold_val_mse = scores[i].val_mse
            residuals = scores[i].residuals
            residuals.add(entry.val_pred, run_data, run_data, n_folds(run))  # the last: the run's own block
            residuals.attach(entry)
    refits = refit_forecasts(run, chosen_trial, datasets, run_data, base_seed)
    if not refits:
        return
    chosen.y_pred, chosen.test = refits[0], score_split(refits[0], run_data.test, run_data)
    chosen.seed_test_mse = [score_split(p, run_data.test, run_data)["mse"] for p in refits]
    chosen.refit = True
    if ensemble is not None:
        mean = np.mean(refits, 0).astype(np.float32)
        ensemble.y_pred, ensemble.test, ensemble.refit = mean, score_split(mean, run_data.test, run_data), True


def apply_baseline_folds(results: list[ModelScore], datasets: dict[int | str, WindowedData],
                         run_data: WindowedData, score: Callable[[WindowedData], list[ModelScore]]) -> None:
    """The baselines (and classical models) scored on each earlier fold like the trained entries: `score(fold
    data)` fits them on that fold's training rows and returns their ModelScores."""
    by_name = {r.model: r for r in results}
    residuals: dict[str, FoldResiduals] = {}
    for fold, fd in sorted((f, d) for f, d in datasets.items() if f != REFIT):
        for r in score(fd):
            if r.model not in by_name:
                continue
            by_name[r.model].fold_val_mse[int(fold)] = [r.val_mse]
            if r.val_pred is not None:
                residuals.setdefault(r.model, FoldResiduals()).add(r.val_pred, fd, run_data, int(fold))
    for name, res in residuals.items():
        entry = by_name[name]
        if entry.val_pred is None or len(res.errors) != n_earlier(datasets):
            continue
        res.add(entry.val_pred, run_data, run_data, n_earlier(datasets) + 1)
        res.attach(entry)


def n_earlier(datasets: dict[int | str, WindowedData]) -> int:
    return sum(1 for f in datasets if f != REFIT)


def folds_note(run: RunDir, results: list[ModelScore]) -> str:
    """What the folds are and which entries were ranked on fewer of them."""
    k = n_folds(run)
    fewer = sorted(f"{r.model} ({len(r.fold_means)})" for r in results if len(r.fold_means) < k)
    return (f"Backtest folds: {k} consecutive validation blocks before the test split; each fold's models trained "
            f"only on the rows before its block. Ranked by the mean validation MSE over folds (each fold in its "
            f"own scaled units), fold spread in val_mse_fold_sd; conformal intervals calibrated on the out-of-fold "
            f"errors of every fold (cross-conformal)."
            + (f" Scored on fewer folds (a fold without a model: an unfinished finals phase, or a baseline that "
               f"does not apply to that fold's shorter history): {', '.join(fewer)}." if fewer else ""))


# Baselines with nothing to fit: a refit would forecast exactly as they do.
NOTHING_TO_FIT = ("persistence", "seasonal_naive")


def apply_baseline_refit(results: list[ModelScore], refit_data: WindowedData, run_data: WindowedData,
                         score: Callable[[WindowedData], list[ModelScore]]) -> None:
    """The fitted baselines (ridge, climatology, the classical models) refitted like the finalists, on every row
    before the test split: `score(refit data)` fits them there; their test forecasts (and own quantiles) replace
    the entries', in the run's units. Validation scores and calibration stay those of the fits that did not see
    the validation rows."""
    by_name = {r.model: r for r in results}
    for r in score(refit_data):
        entry = by_name.get(r.model)
        if entry is None or r.model in NOTHING_TO_FIT:
            continue
        entry.y_pred = in_run_units(r.y_pred, refit_data, "test", run_data)
        entry.test = score_split(entry.y_pred, run_data.test, run_data)
        if r.quantiles is not None and entry.quantiles is not None:
            entry.quantiles = np.stack([in_run_units(r.quantiles[..., i], refit_data, "test", run_data)
                                        for i in range(r.quantiles.shape[-1])], axis=-1)
        entry.refit = True


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
