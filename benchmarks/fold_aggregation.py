"""How backtest folds pool into one validation score: the arithmetic vs the geometric mean of the fold MSEs.

Reads finished run directories with backtest folds (split.folds >= 2), scores every entry as the report does
(`reports.evaluate.score_entries`: the same fits, folds and out-of-fold forecasts) and, for each rule,

    arithmetic   the mean of each fold's validation MSE (the rule before models.metrics.fold_mean)
    geometric    the geometric mean (the report's rule since it was measured here)

ranks every entry by it, fits the weighted ensemble with it (greedy forward selection whose candidates are scored
by the rule; its validation score out of fold, as the report's) and prints which entry the rule chooses, its test
score (MSE; panels: MASE, per series then averaged), the selection regret (the chosen entry's test score over the
best entry's, minus one), and the ensemble's test score against the best single entry's chosen by the same rule.
Nothing is retrained: both rules read the same forecasts, so the difference is the rule's alone.

    python benchmarks/fold_aggregation.py RUN_DIR [RUN_DIR ...]   # e.g. the default profile's runs

Results: the table on stdout and benchmarks/results/fold_aggregation.json.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

ENSEMBLE = "weighted_ensemble"


def rules() -> dict[str, Callable[[list[float]], float]]:
    from models.metrics import fold_mean

    return {"arithmetic": lambda xs: float(np.mean(xs)), "geometric": fold_mean}


def run_scores(run_path: Path) -> dict[str, Any]:
    """Per rule: every entry's validation score and test score, the chosen entry, regret and the ensemble's weights."""
    from models.forecasters.ensemble import DEFAULT_STEPS, FoldTargets, greedy_weights
    from models.metrics import score_split
    from reports import folds as run_folds
    from reports import panel
    from reports.build import load_data, read_skipped
    from reports.evaluate import run_spans, score_entries
    from reports.runs import read_run

    run = read_run(run_path)
    data = load_data(run)
    datasets = run_folds.fold_datasets(run, data)
    spans = run_spans(run, data, datasets)
    evaluated, _ = score_entries(run, data, read_skipped(run), True, datasets)
    results = [e.score for e in evaluated if e.score.model != ENSEMBLE]
    steps = run.stored.ensemble_steps(DEFAULT_STEPS)

    if data.is_panel:
        scales = panel.naive_scales(data, panel.mase_season(data, run.stored.baselines().season))

        def test_score(pred: np.ndarray) -> float:
            return float(panel.series_errors(pred, data.test, data, scales).mase.mean())
    else:
        def test_score(pred: np.ndarray) -> float:
            return float(score_split(pred, data.test, data)["mse"])

    targets = {int(s.fold): FoldTargets(s.data.val.y, s.data.val.score_weights()) for s in spans.earlier}
    targets[int(spans.own.fold)] = FoldTargets(data.val.y, data.val.score_weights())
    order = sorted(targets)
    members = [r for r in results if set({**r.fold_val_pred, int(spans.own.fold): r.val_pred}) == set(order)
               and all(v is not None and np.isfinite(v).all()
                       for v in {**r.fold_val_pred, int(spans.own.fold): r.val_pred}.values())]

    def val_of(r: Any, fold: int) -> np.ndarray:
        return r.val_pred if fold == int(spans.own.fold) else r.fold_val_pred[fold]

    test = {r.model: test_score(r.y_pred) for r in results}
    out: dict[str, Any] = {"data": str(data.summary.get("name", run_path.name)), "panel": bool(data.is_panel),
                           "score": "test_mase" if data.is_panel else "test_mse", "steps": steps, "rules": {}}
    for name, aggregate in rules().items():
        val = {r.model: aggregate(r.fold_means) for r in results}
        held_out = []
        for j in order:  # the ensemble's validation score on fold j: weights chosen on the other folds
            others = [f for f in order if f != j]
            w = greedy_weights([[val_of(m, f) for f in others] for m in members], [targets[f] for f in others],
                               steps, aggregate)
            held_out.append(targets[j].mse(sum(wi * val_of(m, j) for wi, m in zip(w, members, strict=True)
                                               if wi > 0)))
        w = greedy_weights([[val_of(m, f) for f in order] for m in members], [targets[f] for f in order], steps,
                           aggregate)
        val[ENSEMBLE] = aggregate(held_out)
        scores = {**test, ENSEMBLE: test_score(sum(wi * m.y_pred for wi, m in zip(w, members, strict=True)
                                                   if wi > 0))}
        chosen = min(val, key=lambda m: (val[m], m))
        single = min((m for m in val if m != ENSEMBLE), key=lambda m: (val[m], m))
        best = min(scores, key=lambda m: (scores[m], m))
        out["rules"][name] = {
            "chosen": chosen, "chosen_test": scores[chosen], "best_in_hindsight": best, "best_test": scores[best],
            "regret": scores[chosen] / scores[best] - 1.0,
            "best_single_on_validation": single, "single_test": scores[single],
            "ensemble_test": scores[ENSEMBLE], "ensemble_vs_single": scores[ENSEMBLE] / scores[single] - 1.0,
            "ensemble_weights": {m.model: round(float(x), 3) for m, x in zip(members, w, strict=True) if x > 0},
            "validation": val, "test": scores}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="run directories with backtest folds (split.folds >= 2)")
    p.add_argument("--out", type=Path, default=None, help="default benchmarks/results/fold_aggregation.json")
    args = p.parse_args(argv)
    from results_path import results_path, write_results

    out = results_path(args.out, "fold_aggregation.json", False)
    runs = {}
    print(f"{'run':34} {'rule':10} {'chosen':22} {'test':>8} {'best on test':22} {'regret':>7} "
          f"{'ensemble':>8} {'vs single':>9}  single chosen on validation")
    for path in args.runs:
        r = run_scores(path)
        runs[path.name] = r
        for name, s in r["rules"].items():
            print(f"{path.name[:34]:34} {name:10} {s['chosen']:22} {s['chosen_test']:8.4f} "
                  f"{s['best_in_hindsight']:22} {s['regret']:+7.1%} {s['ensemble_test']:8.4f} "
                  f"{s['ensemble_vs_single']:+9.1%}  {s['best_single_on_validation']}", flush=True)
    write_results(out, {"command": " ".join(["benchmarks/fold_aggregation.py", *(argv or sys.argv[1:])]),
                        "runs": runs})


if __name__ == "__main__":
    main()
