"""What the covariates bought: permutation importance of the user's covariates for the entry chosen on validation.

For each covariate (a known-future column; a static column with all its one-hot parts) the validation windows'
values of that covariate are shuffled across windows, in the input window and on the forecast steps together, with
the fit held, and the validation MSE is measured again (the mean of a few shuffles). The rise is what the entry
gets from that covariate's link to the targets, on data it was not fitted on. Why a permutation and not the same
architecture trained without the covariates: it needs no second sweep, and it measures the chosen model itself.
Only validation is read: the test split stays untouched by anything the report computes to explain the choice.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from data_pipeline import SplitWindows, WindowedData
from models.forecasters import NotApplicable
from models.metrics import score_split
from reports.evaluate import Evaluated
from reports.scoring import selection_order

SHUFFLES = 5  # permutations per covariate: enough to steady the mean on a few dozen windows
SEED = 0


def covariate_groups(data: WindowedData) -> dict[str, list[str]]:
    """Each user covariate and the feature columns it became (a text static column: one per category)."""
    groups = {c: [c] for c in data.summary.get("known_future") or []}
    encoded = list(next(iter((data.summary.get("static_features") or {}).values()), {}))
    for col in data.summary.get("static_columns") or []:
        groups[col] = [e for e in encoded if e == col or e.startswith(f"{col}=")]
    return groups


def shuffled(columns: list[str], order: np.ndarray) -> Callable[[SplitWindows, list[str]], SplitWindows]:
    """An alteration (Fitted.predict_altered) that gives each window the `columns` of window `order[i]`, over the
    input window and the forecast steps alike; every other input and the targets stay."""
    def alter(windows: SplitWindows, names: list[str]) -> SplitWindows:
        x, future = windows.x.copy(), windows.future.copy()
        first_future = x.shape[2] - future.shape[2]  # the known-future block is the last features of x
        for col in columns:
            j = names.index(col)
            x[:, :, j] = windows.x[order, :, j]
            if j >= first_future:
                future[:, :, j - first_future] = windows.future[order, :, j - first_future]
        return SplitWindows(x, windows.y, windows.origin, future, windows.mask, windows.series)
    return alter


def importance(entry: Evaluated, data: WindowedData) -> dict[str, float]:
    """Validation MSE with each covariate shuffled (mean over SHUFFLES), plus "" for the intact windows and "all"
    for every covariate shuffled at once. Raises NotApplicable where the entry cannot forecast altered windows."""
    groups = covariate_groups(data)
    rng = np.random.default_rng(SEED)
    orders = [rng.permutation(len(data.val)) for _ in range(SHUFFLES)]

    def mse(alter: Callable[[SplitWindows, list[str]], SplitWindows]) -> float:
        return float(score_split(entry.own.predict_altered("val", alter).point, data.val, data)["mse"])

    out = {"": mse(lambda w, names: w)}
    everything = [c for group in groups.values() for c in group]
    for name, cols in {**groups, "all": everything}.items():
        out[name] = float(np.mean([mse(shuffled(cols, order)) for order in orders]))
    return out


def covariates_note(evaluated: list[Evaluated], data: WindowedData) -> str | None:
    """One paragraph for the report: what shuffling each covariate costs the validation winner (or, where the
    winner reads none or cannot be probed, the best entry that can), or None when the data has no covariates."""
    groups = covariate_groups(data)
    if not groups or not evaluated:
        return None
    by_name = {e.score.model: e for e in evaluated}
    order = [by_name[s.model] for s in selection_order([e.score for e in evaluated])]
    winner = order[0].score.model
    for e in order:
        if not e.score.covariates:
            continue
        try:
            mses = importance(e, data)
        except NotApplicable:
            continue
        base = mses[""]
        parts = [f"{name} {mses[name]:.4f} ({mses[name] / base - 1:+.1%})" for name in [*groups, "all"]
                 if name != "all" or len(groups) > 1]
        who = (f"the winner, {winner}" if e.score.model == winner else
               f"{e.score.model}, the best-ranked entry that reads them and forecasts from windows (the winner, "
               f"{winner}, {'reads none of them' if not order[0].score.covariates else 'cannot be probed this way'})")
        return (f"What the covariates bought ({who}): validation MSE {base:.4f} as fitted; with a covariate's values "
                f"shuffled across the {len(data.val)} validation windows (mean of {SHUFFLES} shuffles): "
                f"{', '.join(parts)}. A rise near 0 means the entry gets nothing from it.")
    return (f"Covariates {', '.join(groups)}: no ranked entry that reads them could be probed (the winner, {winner}, "
            f"{'reads none' if not order[0].score.covariates else 'cannot forecast altered windows'}).")
