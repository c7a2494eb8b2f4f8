"""Score each model's chosen trial once on the test split, beside the baselines; rank by validation, never test."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from data_pipeline import WindowedData
from models.forecasters import SKILL_BASE
from models.metrics import fold_mean

BOOTSTRAP_SAMPLES = 2000


@dataclass
class ModelScore:
    model: str
    kind: str  # trained | ensemble | baseline | pretrained (models.forecasters.Description.kind)
    val_mse: float
    test: dict[str, Any]  # models.scores() on the test split
    y_pred: np.ndarray  # (n_windows, n_outputs, n_targets), scaled
    params: int
    hparams: dict[str, Any] = field(default_factory=dict)
    epochs: int | None = None
    train_time_s: float | None = None
    trial_id: str | None = None
    quantiles: np.ndarray | None = None  # (n_windows, n_outputs, n_targets, len(quantile_levels)), scaled
    # Validation forecasts, kept so reports/intervals.py can calibrate intervals without touching test targets.
    val_pred: np.ndarray | None = None  # (n_val_windows, n_outputs, n_targets), scaled
    val_quantiles: np.ndarray | None = None
    quantile_levels: tuple[float, ...] | None = None
    # One entry per training seed (the search's own trial first), where the model was trained with several.
    seed_val_mse: list[float] = field(default_factory=list)
    seed_test_mse: list[float] = field(default_factory=list)
    # Backtest folds before the run's own validation block (split.folds > 1): fold -> its validation MSE(s)
    # (one per seed for a trained model), each in that fold's scaled units (reports/folds.py).
    fold_val_mse: dict[int, list[float]] = field(default_factory=dict)
    # Its validation forecasts on each of those folds, in that fold's scaled units (the ensemble combines them).
    fold_val_pred: dict[int, np.ndarray] = field(default_factory=dict)
    # Out-of-fold errors (prediction - target) of every fold, run-scaled, and their real cells: when set, they
    # calibrate the conformal intervals instead of the last block's alone (cross-conformal).
    calib_errors: np.ndarray | None = None
    calib_observed: np.ndarray | None = None
    calib_fold: np.ndarray | None = None  # the fold each calibration window belongs to
    calib_origin: np.ndarray | None = None  # each calibration window's forecast origin (seasonal weights)
    refit: bool = False  # its test forecasts come from models retrained on every row before the test split
    reference: bool = False  # a yardstick every entry is compared with on test (Capabilities.reference)
    # The user's covariate columns (data.known_future, data.static_columns) this entry reads; None: the data has
    # none, so the ranking has no covariates column.
    covariates: list[str] | None = None

    @property
    def fold_means(self) -> list[float]:
        """Validation MSE per fold (mean over seeds), the run's own block last."""
        last = float(np.mean(self.seed_val_mse)) if self.seed_val_mse else self.val_mse
        return [float(np.mean(v)) for _, v in sorted(self.fold_val_mse.items())] + [last]

    @property
    def selection_mse(self) -> float:
        """What selection compares: validation MSE, averaged over seeds where there are several, and its geometric
        mean over backtest folds where there are several (models.metrics.fold_mean: each fold counts alike)."""
        return fold_mean(self.fold_means)


def bootstrap_mse_diff(err_model: np.ndarray, err_ref: np.ndarray, block: int, seed: int = 0,
                       mask: np.ndarray | None = None, time_index: np.ndarray | None = None) -> tuple[float, float]:
    """95% interval of MSE(model) - MSE(reference) by a paired circular block bootstrap over test windows.

    Windows advance one day at a time, so a day's error appears in up to `block` (= n_outputs) windows and
    neighbouring windows are far from independent: resampling single windows would make the interval too narrow.
    Resampling runs of `block` consecutive windows keeps that dependence inside each draw; wrapping the runs
    around the end (circular) gives the first and last windows the same weight as the others. Both models are
    resampled with the same indices (paired), and every call with the same `seed` draws the same indices, so the
    intervals of one ranking are comparable. Cells outside `mask` (unobserved targets) are not scored: each draw
    is the mean over the scored cells of the windows it holds.

    `time_index` (panels): each window's position on the shared time axis (its forecast origin). The blocks are
    then runs of consecutive origins, each taking the windows of every series at those origins: a block never
    joins the end of one series to the start of the next, and errors that series share on a day (a holiday, a
    common shock) stay together in a draw. With one window per origin it is the plain bootstrap above.
    """
    diff = err_model.astype(np.float64) ** 2 - err_ref.astype(np.float64) ** 2
    return block_bootstrap_mean(diff, block, seed=seed, weights=mask, time_index=time_index)


def bootstrap_time_index(data: WindowedData) -> np.ndarray | None:
    """The bootstrap's `time_index` for the test split: a panel resamples blocks of forecast origins (all series
    together), not runs of windows in file order; one series: None (its windows are its origins)."""
    return np.unique(data.test.origin, return_inverse=True)[1] if data.is_panel else None


def block_bootstrap_mean(values: np.ndarray, block: int, seed: int = 0, weights: np.ndarray | None = None,
                         time_index: np.ndarray | None = None) -> tuple[float, float]:
    """95% interval of the weighted mean of `values` (windows first, then any cell axes) by the circular block
    bootstrap over windows that `bootstrap_mse_diff` describes (blocks of `block` consecutive windows or, with
    `time_index`, origins; `weights`: each cell's weight, 0 for an unscored one)."""
    w = np.ones(values.shape) if weights is None else np.asarray(weights, dtype=np.float64)
    per_window = (values * w).reshape(len(values), -1).sum(1)
    counts = w.reshape(len(w), -1).sum(1)
    if time_index is not None:  # one entry per origin: the sums over every series' window at that origin
        per_window, counts = np.bincount(time_index, per_window), np.bincount(time_index, counts)
    draws = _bootstrap_draws(len(per_window), block, seed)
    means = (draws @ per_window) / np.maximum(draws @ counts, 1.0)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


@lru_cache(maxsize=1)  # one report: one number of test windows (or origins)
def _bootstrap_draws(n: int, block: int, seed: int) -> np.ndarray:
    """The draws as counts: row b says how often draw b took each of the n windows (runs of `block` windows from
    random starts, wrapped, n in all). Kept for the next call: a report draws the same windows for every entry's
    intervals and coverage (measured: building the draws was most of a call's ~7 ms on 213 windows)."""
    block = max(1, min(block, n))
    n_blocks = int(np.ceil(n / block))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n, size=(BOOTSTRAP_SAMPLES, n_blocks))
    idx = ((starts[..., None] + np.arange(block)) % n).reshape(BOOTSTRAP_SAMPLES, -1)[:, :n]
    draws = np.zeros((BOOTSTRAP_SAMPLES, n))
    np.add.at(draws, (np.arange(BOOTSTRAP_SAMPLES)[:, None], idx), 1.0)
    draws.flags.writeable = False
    return draws


def _sd(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def selection_order(results: list[ModelScore]) -> list[ModelScore]:
    """Every entry ordered by its validation MSE (mean over seeds where there are seeds); test is never read.

    The first entry is the model a user should deploy. Ties on validation break by name, so the order is
    stable across rebuilds.
    """
    return sorted(results, key=lambda r: (r.selection_mse, r.model))


def ranking_table(results: list[ModelScore], data: WindowedData) -> pd.DataFrame:
    """The ranking, ordered and ranked by validation; the test columns show how that choice held up.

    Intervals: MSE(model) - MSE(the validation winner | each reference entry) on test, paired over windows.
    A model whose interval against the winner contains 0 is `tied_with_winner`: the test data cannot tell
    them apart.
    """
    ordered = selection_order(results)
    by_name = {r.model: r for r in results}
    y = data.test.y
    err = {r.model: r.y_pred - y for r in results}
    winner = ordered[0]
    references = [r.model for r in results if r.reference]  # in the registry's order
    skill_base = by_name.get(SKILL_BASE)
    mask = data.test.score_weights()  # the mask; for several series also each series' equal weight
    origins = bootstrap_time_index(data)
    block = data.n_outputs
    rows = []
    for rank, r in enumerate(ordered, start=1):
        w_lo, w_hi = bootstrap_mse_diff(err[r.model], err[winner.model], block=block, mask=mask, time_index=origins)
        vs_references = {}
        for ref in references:
            lo, hi = bootstrap_mse_diff(err[r.model], err[ref], block=block, mask=mask, time_index=origins)
            vs_references |= {f"vs_{ref}_ci_low": lo, f"vs_{ref}_ci_high": hi}
        seeds_val = r.seed_val_mse or [r.val_mse]
        seeds_test = r.seed_test_mse or [r.test["mse"]]
        rows.append({
            "model": r.model,
            "rank": rank,
            "kind": r.kind,
            "val_mse_mean": r.selection_mse,
            "val_mse_sd": _sd(seeds_val),
            "seeds": len(seeds_val),
            "folds": len(r.fold_means),
            "val_mse_fold_sd": _sd(r.fold_means),
            "refit": r.refit,
            "test_mse": r.test["mse"],
            "test_mae": r.test["mae"],
            "test_mse_mean": float(np.mean(seeds_test)),
            "test_mse_sd": _sd(seeds_test),
            "val_mse": r.val_mse,
            f"skill_vs_{SKILL_BASE}": 1.0 - r.test["mse"] / skill_base.test["mse"] if skill_base else np.nan,
            "tied_with_winner": bool(w_lo <= 0.0 <= w_hi),
            "vs_winner_ci_low": w_lo,
            "vs_winner_ci_high": w_hi,
            **vs_references,
            "hparams": ", ".join(f"{k}={v}" for k, v in sorted(r.hparams.items())),
            "params": r.params,
            "epochs": r.epochs,
            "train_time_s": r.train_time_s,
            "trial_id": r.trial_id,
            "test_windows": r.test["n_windows"],
            "test_masked_cells": r.test.get("masked_cells", 0),
            **({} if r.covariates is None else {"covariates": ", ".join(r.covariates) or "none"}),
        })
    return pd.DataFrame(rows)


def reference_names(ranking: pd.DataFrame) -> list[str]:
    """The reference entries the ranking compares every entry with: its `vs_<name>_ci_low` columns."""
    return [c.removeprefix("vs_").removesuffix("_ci_low") for c in ranking.columns
            if c.startswith("vs_") and c.endswith("_ci_low") and c != "vs_winner_ci_low"]


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def verdict(ranking: pd.DataFrame) -> str:
    """One sentence: which model validation chose, whether it beats each reference entry beyond noise, and which
    entries beat it on test beyond noise."""
    top = ranking.iloc[0]
    seeds = f" ± {top.val_mse_sd:.4f} over {int(top.seeds)} seeds" if top.seeds > 1 else ""
    references = reference_names(ranking)
    beats, worse, same = "beats {} beyond noise", "is worse than {} beyond noise", "is not distinguishable from {}"
    outcomes: dict[str, list[str]] = {beats: [], worse: [], same: []}  # one clause per outcome, in this order
    for ref in references:
        if top.model == ref:
            continue
        lo, hi = top[f"vs_{ref}_ci_low"], top[f"vs_{ref}_ci_high"]
        outcomes[beats if hi < 0 else worse if lo > 0 else same].append(ref)
    parts = [clause.format(_listed(names)) for clause, names in outcomes.items() if names]
    mase = f", test MASE {top.test_mase:.3f}, mean over series" if "test_mase" in ranking else ""  # panels
    head = (f"Chosen on validation: {top.model} (validation MSE {top.val_mse_mean:.4f}{seeds}; "
            f"test MSE {top.test_mse:.4f}{mase})")
    tail = (f"; on test it {' and '.join(parts)} (95% block-bootstrap intervals of the MSE difference)."
            if parts else ".")
    # Every other entry the test split shows better than the choice beyond noise (not only the fixed references):
    # the selection regret a user must see in the headline, not find in the table.
    better = ranking.iloc[1:][ranking.vs_winner_ci_high.iloc[1:] < 0]
    better = better[~better.model.isin(references)]
    if len(better):
        best = better.loc[better.test_mse.idxmin()]
        tail += (f" Beaten on test beyond noise by {', '.join(better.model)} (best: {best.model}, test MSE "
                 f"{best.test_mse:.4f}, {best.test_mse / top.test_mse - 1:+.1%} against the choice's): validation "
                 "chose differently, and the test split alone cannot say it would again.")
    return head + tail


def per_target_table(results: list[ModelScore]) -> pd.DataFrame:
    rows = []
    for r in results:
        for target, m in r.test["per_target"].items():
            rows.append({"model": r.model, "target": target, "rmse": m["rmse"], "mae": m["mae"]})
    return pd.DataFrame(rows)


def per_horizon_table(results: list[ModelScore]) -> pd.DataFrame:
    return pd.DataFrame(
        {r.model: r.test["per_horizon_mse"] for r in results},
        index=pd.Index(range(1, len(results[0].test["per_horizon_mse"]) + 1), name="horizon_day"),
    )


def predictions_frame(results: list[ModelScore], data: WindowedData) -> pd.DataFrame:
    """Long format, original units: model, forecast_origin, horizon, target, y_true, y_pred; a panel's rows also
    name their series (`series`, first column)."""
    n, h, k = data.test.y.shape
    ids = data.test.series
    y_true = data.targets_to_original(data.test.y, ids)
    origin = np.repeat(pd.to_datetime(data.test.origin).values, h * k)
    horizon = np.tile(np.repeat(np.arange(1, h + 1), k), n)
    target = np.tile(np.array(data.target_names, dtype=object), n * h)
    # False: the actual value was missing or flagged in the source (y_true is its repair); not in any score
    scored = np.ones(n * h * k, bool) if data.test.mask is None else data.test.mask.reshape(-1)
    frames = []
    for r in results:
        frame = pd.DataFrame({
            "model": r.model, "forecast_origin": origin, "horizon": horizon, "target": target,
            "y_true": y_true.reshape(-1), "y_pred": data.targets_to_original(r.y_pred, ids).reshape(-1),
            "scored": scored,
        })
        if data.is_panel:
            frame.insert(0, "series", np.repeat(np.asarray(data.series_names, dtype=object)[ids], h * k))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
