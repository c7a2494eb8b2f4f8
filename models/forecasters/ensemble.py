"""A weighted ensemble of every ranked entry, chosen out of fold: greedy forward selection with replacement.

Caruana et al. (2004), as AutoGluon-TimeSeries ends every fit: start from nothing, add at each step the member
(any entry, again if it helps) whose addition gives the lowest validation MSE of the running mean; keep the best
prefix of steps; the weights are each member's share of the steps. Where the plain mean of the selected members
does as well, it is kept instead (fewer moving parts). Scores pool every backtest fold (the geometric mean of each
fold's MSE, in that fold's units: models.metrics.fold_mean), the metric that ranks every other entry.

The ensemble must prove itself out of fold: its validation forecasts on fold j come from weights chosen on the
other folds only (nested), so its validation MSE compares with the other entries' like for like. The weights it
forecasts the test split with are chosen on every fold, frozen before the test split; each member's test forecast
is the member's own (its refit's, where it was refit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from models.forecasters.base import (
    Capabilities,
    Description,
    Fitted,
    Forecast,
    Forecaster,
    FutureInputs,
    NotApplicable,
    Span,
)
from models.metrics import fold_mean

ENSEMBLE_NAME = "weighted_ensemble"
DEFAULT_STEPS = 20  # AutoGluon's maintainers report 15-25 generalise better than their default 100
TIE = 1e-9  # relative: a plain mean within this of the weighted one is kept


@dataclass
class FoldTargets:
    """One validation block's targets and each cell's weight in its MSE (the split's score weights: the mask, and
    for a panel each series' equal share), so a candidate is scored as score_split would."""

    y: np.ndarray
    weights: np.ndarray | None

    def mse(self, pred: np.ndarray) -> float:
        sq = (pred.astype(np.float64) - self.y) ** 2
        if self.weights is None:
            return float(sq.mean())
        total = self.weights.sum()
        return float((sq * self.weights).sum() / (total if total > 0 else 1.0))


def pooled_mse(preds: list[np.ndarray], folds: list[FoldTargets],
               aggregate: Callable[[list[float]], float] = fold_mean) -> float:
    """The forecasts' score over the folds: by default the geometric mean of each fold's MSE, as every entry is
    ranked (`aggregate`: another rule over the fold MSEs, e.g. np.mean, as benchmarks/fold_aggregation.py compares)."""
    return float(aggregate([f.mse(p) for p, f in zip(preds, folds, strict=True)]))


def greedy_weights(members: list[list[np.ndarray]], folds: list[FoldTargets], steps: int = DEFAULT_STEPS,
                   aggregate: Callable[[list[float]], float] = fold_mean) -> np.ndarray:
    """Weights over `members` (each: its validation forecasts on every fold of `folds`) by greedy forward
    selection with replacement; the best prefix of `steps`; the plain mean of the chosen members on a tie.
    `aggregate`: how fold MSEs pool into one score (pooled_mse)."""
    def pooled(preds: list[np.ndarray]) -> float:
        return pooled_mse(preds, folds, aggregate)

    n = len(members)
    counts = np.zeros(n)
    running = [np.zeros_like(f.y) for f in folds]
    best_score, best_counts = np.inf, counts.copy()
    for step in range(1, steps + 1):
        scores = [pooled([(r + m) / step for r, m in zip(running, members[i], strict=True)]) for i in range(n)]
        chosen = int(np.argmin(scores))  # ties go to the earlier member (the better-ranked entry)
        counts[chosen] += 1
        running = [r + m for r, m in zip(running, members[chosen], strict=True)]
        if scores[chosen] < best_score * (1 - TIE):
            best_score, best_counts = scores[chosen], counts.copy()
    weights = best_counts / best_counts.sum()
    chosen = best_counts > 0
    plain = chosen / chosen.sum()
    if pooled(combine(members, plain)) <= best_score * (1 + TIE):
        return plain
    return weights


def combine(members: list[list[np.ndarray]], weights: np.ndarray) -> list[np.ndarray]:
    """The weighted sum of the members' forecasts, fold by fold."""
    return [sum(w * m[j] for w, m in zip(weights, members, strict=True) if w > 0).astype(np.float32)
            for j in range(len(members[0]))]


@dataclass
class Member:
    """A ranked entry as the ensemble sees it: its validation forecasts on every fold (fold -> forecasts, each in
    that fold's scaled units), its test forecasts (the run's units, refit where it was refit), and how it forecasts
    the future (inputs -> the run's units)."""

    name: str
    val: dict[int, np.ndarray]
    test: np.ndarray
    refit: bool
    future: Callable[[FutureInputs], np.ndarray]
    params: int = 0  # its own parameter count (a seed ensemble's: all its seeds')
    capabilities: Capabilities = field(default_factory=Capabilities)  # the entry's own: what it reads


def reads_of(members: list[Member]) -> Capabilities:
    """The ensemble's capabilities: it refits nothing itself, and reads every covariate any of `members` reads
    (its forecast needs what they need: a future frame where one of them reads data.known_future)."""
    return Capabilities(refits=False, past_covariates=any(m.capabilities.past_covariates for m in members),
                        known_future_covariates=any(m.capabilities.known_future_covariates for m in members),
                        static_covariates=any(m.capabilities.reads_static for m in members))


class WeightedEnsemble(Forecaster):
    """The greedy ensemble over `members`, scored out of fold (see the module's docstring)."""

    name = ENSEMBLE_NAME
    capabilities = Capabilities(refits=False)  # its members are refit (where they refit); its weights are not

    def __init__(self, members: list[Member], folds: dict[int, FoldTargets], steps: int = DEFAULT_STEPS):
        if len(folds) < 2:
            raise ValueError("an ensemble chosen out of fold needs two or more validation blocks (split.folds >= 2)")
        self.members, self.folds, self.steps = members, folds, steps
        order = sorted(folds)
        stack = [[m.val[f] for f in order] for m in members]
        self.weights = greedy_weights(stack, [folds[f] for f in order], steps)  # frozen before the test split
        self.capabilities = reads_of([m for m, w in zip(members, self.weights, strict=True) if w > 0])
        self.held_out = {}  # fold -> the weights chosen without it (its out-of-fold forecast)
        for j in order:
            others = [f for f in order if f != j]
            self.held_out[j] = greedy_weights([[m.val[f] for f in others] for m in members],
                                              [folds[f] for f in others], steps)

    def fit(self, span: Span) -> Fitted:
        if span.is_refit or int(span.fold) not in self.folds:
            raise NotApplicable("")
        return FittedEnsemble(self, int(span.fold))


class FittedEnsemble(Fitted):
    def __init__(self, ensemble: WeightedEnsemble, fold: int):
        self.ensemble, self.fold, self.notes = ensemble, fold, []
        self.refit_forecasts = any(m.refit for m, w in zip(ensemble.members, ensemble.weights, strict=True) if w > 0)

    def predict(self, split: str) -> Forecast:
        e = self.ensemble
        if split == "val":  # out of fold: this block's forecast by the weights chosen on the other blocks
            w = e.held_out[self.fold]
            return Forecast(sum(wi * m.val[self.fold] for wi, m in zip(w, e.members, strict=True) if wi > 0)
                            .astype(np.float32))
        return Forecast(sum(wi * m.test for wi, m in zip(e.weights, e.members, strict=True) if wi > 0)
                        .astype(np.float32))

    def describe(self) -> Description:
        e = self.ensemble
        shares = {m.name: float(w) for m, w in zip(e.members, e.weights, strict=True) if w > 0}
        weights = ", ".join(f"{name} {w:.2f}" for name, w in sorted(shares.items(), key=lambda kv: -kv[1]))
        # Its size is what forecasting with it takes: every chosen member's parameters (as a seed ensemble counts
        # all its seeds' and classical_combo all its members').
        params = sum(m.params for m, w in zip(e.members, e.weights, strict=True) if w > 0)
        return Description(ENSEMBLE_NAME, "ensemble", "ensemble", {"weights": weights, "steps": e.steps}, params,
                           members=tuple(shares))

    def forecast_future(self, inputs: FutureInputs) -> np.ndarray:
        e = self.ensemble
        return sum(w * m.future(inputs) for w, m in zip(e.weights, e.members, strict=True) if w > 0)
