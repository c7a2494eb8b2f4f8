"""Would recent folds calibrate intervals better? (issue 39's coverage target, a rule tried and not adopted.)

Reads finished run directories with backtest folds (`report/out_of_fold.parquet`: every fold's validation
forecasts; `report/predictions.parquet`: the test forecasts) and recalibrates each entry's split-conformal 80%
interval three ways, per target and forecast step (panels: also per series, in original units, since the report's
pooled quantile needs each series' scaler):

    all folds   every fold's absolute errors alike (the report's rule before calibration_season.py's)
    last fold   the most recent fold's errors only
    decay 0.5   every fold's errors, weighted 0.5 per fold back (a weighted conformal quantile, Barber et al. 2023:
                the test point's own weight goes to +inf)

and prints, per run and rule, the mean, lowest and highest test coverage over entries and how many entries land
within 5 points of the level.

    python benchmarks/calibration_recency.py runs/seattle_weather-default [more run directories ...]

Results: the table on stdout (docs/guides/backtesting.md quotes it for the default profile's four runs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RULES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "all folds": lambda fold, last: np.ones(len(fold)),
    "last fold": lambda fold, last: (fold == last).astype(float),
    "decay 0.5": lambda fold, last: 0.5 ** (last - fold),
}


def weighted_conformal_quantile(abs_errors: np.ndarray, weights: np.ndarray, level: float) -> float:
    """The report's weighted conformal quantile (reports.seasons) of one cell's errors: the smallest error whose
    weighted share reaches `level`, the test point counted with weight 1 (the largest weight of every rule here,
    whose last fold weighs 1); with equal weights the ceil((n+1)·level)-th smallest error."""
    from reports.seasons import weighted_conformal_quantile as weighted

    return float(weighted(abs_errors[:, None], level, weights[None, :])[0, 0])


def coverage_by_rule(run: Path, level: float) -> dict[str, list[float]]:
    """Each rule's test coverage for every entry with out-of-fold errors."""
    oof = pd.read_parquet(run / "report" / "out_of_fold.parquet")
    test = pd.read_parquet(run / "report" / "predictions.parquet")
    oof, test = oof[oof.scored].copy(), test[test.scored].copy()
    keys = ["horizon", "target"] + (["series"] if "series" in oof else [])
    for frame in (oof, test):
        frame["abs_error"] = (frame.y_true - frame.y_pred).abs()
    last = int(oof.fold.max())
    out: dict[str, list[float]] = {rule: [] for rule in RULES}
    for model, errors in oof.groupby("model"):
        scored = test[test.model == model]
        if scored.empty:
            continue
        for rule, weigh in RULES.items():
            half = errors.groupby(keys).apply(lambda g, weigh=weigh: weighted_conformal_quantile(
                g.abs_error.to_numpy(), weigh(g.fold.to_numpy(), last), level), include_groups=False)
            joined = scored.join(half.rename("half_width"), on=keys)
            out[rule].append(float((joined.abs_error <= joined.half_width).mean()))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="run directories with backtest folds (split.folds >= 2)")
    p.add_argument("--level", type=float, default=0.8)
    args = p.parse_args(argv)
    print(f"{'run':40} {'rule':10} {'mean':>6} {'lowest':>7} {'highest':>8}  within 5 points of {args.level:.0%}")
    for run in args.runs:
        for rule, cover in coverage_by_rule(run, args.level).items():
            c = np.asarray(cover)
            print(f"{run.name:40} {rule:10} {c.mean():6.3f} {c.min():7.3f} {c.max():8.3f}  "
                  f"{int((np.abs(c - args.level) <= 0.05).sum())}/{len(c)}")


if __name__ == "__main__":
    main()
