"""How an adaptive search (sweep.search: random | tpe) went, per architecture: the best validation MSE found so far
against the trial number and against wall time, and which hyperparameters went with a low validation MSE.

Importance is a rank association over the architecture's trials (no extra dependency, and honest about how little
6-20 trials can say): for a numeric hyperparameter, Spearman's rank correlation with the validation MSE (negative:
larger values went with lower MSE); for a categorical one, the correlation ratio (eta) of the MSE ranks on the
categories (0: no difference between categories, 1: the category alone orders the trials). Trials ASHA cut
early count with the score they reached.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports.runs import RunDir, TrialRecord

IMPORTANCE_TITLE = ("Which hyperparameters mattered: rank association with validation MSE over each architecture's "
                    "trials (numeric: Spearman's rho, negative = larger values went with lower MSE; categorical: "
                    "eta of the MSE ranks, 0 = no difference between categories; indicative with few trials)")


def _searched_values(t: TrialRecord) -> dict[str, Any]:
    values = {**t.hparams, **t.train}
    if t.window_input is not None:
        values["window_input"] = t.window_input
    return values


def _usable(run: RunDir) -> list[TrialRecord]:
    return [t for t in run.trials if t.status != "failed" and math.isfinite(t.best_val_mse) and t.history]


def _times(t: TrialRecord) -> tuple[float, float]:
    """(start, end) wall clock of a trial: its record's start and its last epoch's timestamp (a record converted
    from Ray's layout has no start: its first result's timestamp less Ray's time_total_s stands in)."""
    first, last = t.history[0], t.history[-1]
    end = float(last.get("timestamp", 0))
    if t.started_at is not None:
        return float(t.started_at), end
    return float(first.get("timestamp", end)) - float(first.get("time_total_s", 0.0)), end


def search_path(run: RunDir) -> pd.DataFrame:
    """One row per trial: model, trial number (order of start, per architecture), minutes since the search
    started at the trial's end, its best validation MSE and the best so far in either order."""
    trials = _usable(run)
    if not trials:
        return pd.DataFrame(columns=["model", "trial", "minutes", "val_mse", "best_by_trial", "best_by_time"])
    t0 = min(_times(t)[0] for t in trials)
    rows = [{"model": t.model, "start": _times(t)[0], "minutes": (_times(t)[1] - t0) / 60, "val_mse": t.best_val_mse}
            for t in trials]
    frame = pd.DataFrame(rows).sort_values(["model", "start"], kind="stable")
    frame["trial"] = frame.groupby("model").cumcount() + 1
    frame["best_by_trial"] = frame.groupby("model").val_mse.cummin()
    frame = frame.sort_values(["model", "minutes"], kind="stable")
    frame["best_by_time"] = frame.groupby("model").val_mse.cummin()
    return frame.drop(columns="start").sort_values(["model", "trial"]).reset_index(drop=True)


def importance(run: RunDir) -> pd.DataFrame:
    """Per architecture and searched hyperparameter (one whose value varied across its trials): the rank
    association with validation MSE, and the value of the best trial."""
    rows = []
    by_model: dict[str, list[TrialRecord]] = {}
    for t in _usable(run):
        by_model.setdefault(t.model, []).append(t)
    for model, trials in sorted(by_model.items()):
        if len(trials) < 3:
            continue
        values = pd.DataFrame([_searched_values(t) for t in trials])
        mse_rank = pd.Series([t.best_val_mse for t in trials]).rank().to_numpy()
        best = int(np.argmin([t.best_val_mse for t in trials]))
        for key in values.columns:
            col = values[key]
            if col.isna().any() or col.astype(str).nunique() < 2:
                continue
            numeric = pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
            if numeric:
                x = col.astype(float).rank().to_numpy()
                score, kind = float(np.corrcoef(x, mse_rank)[0, 1]), "spearman"
            else:
                score, kind = _eta(col.astype(str).to_numpy(), mse_rank), "eta"
            rows.append({"model": model, "hyperparameter": key, "association": round(score, 3), "measure": kind,
                         "trials": len(trials), "best trial's value": col.iloc[best]})
    table = pd.DataFrame(rows, columns=["model", "hyperparameter", "association", "measure", "trials",
                                        "best trial's value"])
    if len(table):
        table = table.assign(_abs=table.association.abs()).sort_values(["model", "_abs"], ascending=[True, False])
        table = table.drop(columns="_abs").reset_index(drop=True)
    return table


def _eta(groups: np.ndarray, ranks: np.ndarray) -> float:
    total = float(((ranks - ranks.mean()) ** 2).sum())
    if total == 0:
        return 0.0
    between = sum(len(r) * (r.mean() - ranks.mean()) ** 2 for g in np.unique(groups) for r in [ranks[groups == g]])
    return float(np.sqrt(between / total))


def search_path_figure(path: pd.DataFrame, out: Path) -> Path:
    from reports.figures import DPI, plt  # the report's headless matplotlib

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for i, (model, g) in enumerate(path.groupby("model")):
        axes[0].step(g.trial, g.best_by_trial, where="post", color=f"C{i}", label=model)
        axes[0].scatter(g.trial, g.val_mse, s=10, alpha=0.4, color=f"C{i}")
        by_time = g.sort_values("minutes")
        axes[1].step(by_time.minutes, by_time.best_by_time, where="post", color=f"C{i}", label=model)
    from matplotlib.ticker import MaxNLocator

    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))  # trials are counted, not measured
    axes[0].set_xlabel("trial number (per architecture)")
    axes[1].set_xlabel("minutes since the search started (at each trial's end)")
    axes[0].set_ylabel("best validation MSE so far (scaled)")
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle("Search path: best validation MSE so far per architecture (points: each trial)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "search_path.png", dpi=DPI)
    plt.close(fig)
    return out / "search_path.png"
