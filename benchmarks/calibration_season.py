"""Calibration by time of year vs every out-of-fold error alike (issue 39's coverage target; the report's rule).

Reads finished run directories with backtest folds whose origins span a year or more, scores every entry as the
report does (`reports.build.score_run`: the same out-of-fold errors, run-scaled), and builds each entry's conformal
interval on test two ways:

    every error    every fold's absolute errors alike (the rule before reports/seasons.py)
    time of year   each error weighted by a Gaussian kernel (30 days) in day-of-year distance between its forecast
                   origin and the test window's (reports.seasons; the report's rule since it was measured here)

and prints, per run, level and rule: how many entries' test coverage lands within 5 points of 80% (2.5 of 95%),
how many miss the level beyond the test split's noise (the coverage's block-bootstrap interval excludes it), the
mean absolute deviation from the level, and the interval (Winkler) score of the time-of-year rule over the other's,
a geometric mean over entries (below 1: better intervals, not only better coverage).

    python benchmarks/calibration_season.py RUN_DIR [RUN_DIR ...]   # e.g. the default profile's runs

Results: the table on stdout and benchmarks/results/calibration_season.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

RULES = ("every error", "time of year")
TOLERANCE = {0.8: 0.05, 0.95: 0.025}


def rule_scores(run_path: Path, levels: tuple[float, ...] = (0.8, 0.95)) -> dict[str, Any]:
    """Per level and rule: each entry's test coverage, its interval's verdict and its Winkler score."""
    from reports.build import load_data, score_run
    from reports.intervals import CONFORMAL, Band, band_scores, calibrated_half_width, off_nominal
    from reports.runs import read_run

    run = read_run(run_path)
    data = load_data(run)
    results, _ = score_run(run, data)
    out: dict[str, Any] = {}
    for level in levels:
        per_rule: dict[str, dict[str, dict[str, float]]] = {rule: {} for rule in RULES}
        for r in results:
            if r.calib_errors is None:  # no backtest errors: the last block calibrates, with no seasons to weigh
                continue
            for rule in RULES:
                origin = r.calib_origin if rule == "time of year" else None
                q = calibrated_half_width(np.abs(r.calib_errors.astype(np.float64)), r.calib_observed, origin,
                                          data.test.origin, level)
                s = band_scores(Band(r.model, CONFORMAL, level, r.y_pred - q, r.y_pred + q), data)
                per_rule[rule][r.model] = {
                    "coverage": s["coverage"], "winkler_scaled": s["winkler_scaled"],
                    "off": int(off_nominal(level, s["coverage_ci_low"], s["coverage_ci_high"]))}
        out[f"{level:g}"] = per_rule
    return out


def summary(per_rule: dict[str, dict[str, dict[str, float]]], level: float) -> dict[str, Any]:
    entries = sorted(per_rule[RULES[0]])
    out: dict[str, Any] = {"entries": len(entries)}
    for rule in RULES:
        cov = np.array([per_rule[rule][m]["coverage"] for m in entries])
        out[rule] = {"within": int((np.abs(cov - level) <= TOLERANCE[level] + 1e-12).sum()),
                     "off_beyond_noise": [m for m in entries if per_rule[rule][m]["off"] != 0],
                     "mean_abs_deviation": float(np.abs(cov - level).mean())}
    ratio = [per_rule[RULES[1]][m]["winkler_scaled"] / per_rule[RULES[0]][m]["winkler_scaled"] for m in entries]
    out["winkler_time_of_year_over_every_error"] = float(np.exp(np.mean(np.log(ratio))))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="run directories with backtest folds (split.folds >= 2)")
    p.add_argument("--out", type=Path, default=None, help="default benchmarks/results/calibration_season.json")
    args = p.parse_args(argv)
    from results_path import results_path, write_results  # benchmarks/: one rule for every script

    args.out = results_path(args.out, "calibration_season.json", False)
    results: dict[str, Any] = {"command": " ".join(["benchmarks/calibration_season.py", *(argv or sys.argv[1:])]),
                               "table": [], "runs": {}}
    print(f"{'run':34} {'level':>5}  {'rule':12} {'within':>7} {'off (noise)':>11} {'mean |dev|':>10}  Winkler")
    for run in args.runs:
        scored = rule_scores(run)
        results["runs"][run.name] = {"entries": scored, "summary": {}}
        for level_key, per_rule in scored.items():
            level = float(level_key)
            s = summary(per_rule, level)
            results["runs"][run.name]["summary"][level_key] = s
            for rule in RULES:
                winkler = s["winkler_time_of_year_over_every_error"] if rule == RULES[1] else 1.0
                results["table"].append({
                    "run": run.name, "level": level, "rule": rule, "within": f"{s[rule]['within']}/{s['entries']}",
                    "off_beyond_noise": len(s[rule]["off_beyond_noise"]),
                    "mean_abs_deviation": round(s[rule]["mean_abs_deviation"], 4),
                    "winkler_vs_every_error": round(winkler, 4)})
                ratio = f"{winkler:.3f}x" if rule == RULES[1] else "1"
                print(f"{run.name:34} {level:5.2f}  {rule:12} {s[rule]['within']:>3}/{s['entries']:<3} "
                      f"{len(s[rule]['off_beyond_noise']):>11} {s[rule]['mean_abs_deviation']:10.4f}  {ratio}")
    write_results(args.out, results)


if __name__ == "__main__":
    main()
