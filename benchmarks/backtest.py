"""Backtest folds and the final refit, measured: one sweep per data set with `split.folds=K report.final_refit=true`,
then its report scored six ways from the same trials: folds 1 or K (selection and calibration on the last
validation block, or the mean over K blocks and cross-conformal), refit off or on (test forecast by the fold models,
or by the models retrained on every row before the test split), and with K folds the weighted ensemble off or on
(report.ensemble_steps). Each variant's selection regret: the winner's test MSE over the best entry's, minus one.

    python benchmarks/backtest.py                          # Delhi (the seed task) and the Seattle default, K=3
    python benchmarks/backtest.py --delhi-run DIR --seattle-run DIR    # score runs made with folds + refit
    python benchmarks/backtest.py --smoke                  # ~2 min: tiny Delhi sweep, checks the script runs

For each variant: the validation winner, its test MSE (Delhi also on the seed deck's scale, comparable with 0.248),
and the 80%/95% test coverage of every trained entry (deviation from nominal, the worst one); the cost of each phase
in wall time from the run's timeline. "folds 1" reads only the last block's trials of the same run, which are
exactly a folds=1 run's (same search, same seed repeats); its refit, though, trains for the median best epoch over
all K folds (a folds=1 run's would take the median over the last block's seeds only).
Results: tables and benchmarks/results/backtest.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def variant_config(config: dict[str, Any], folds: int, refit: bool, ensemble_steps: int = 0) -> dict[str, Any]:
    return {**config, "split": {**config["split"], "folds": folds},
            "report": {**config.get("report", {}), "final_refit": refit, "ensemble_steps": ensemble_steps}}


def score_variant(run_path: Path, folds: int, refit: bool, seed_scale: bool, ensemble_steps: int = 0
                  ) -> dict[str, Any]:
    from reports import intervals
    from reports.build import load_data, score_run
    from reports.runs import read_run
    from reports.scoring import predictions_frame, ranking_table

    run = read_run(run_path)
    run = dataclasses.replace(run, config=variant_config(run.config, folds, refit, ensemble_steps))
    data = load_data(run)
    results, _ = score_run(run, data)
    ranking = ranking_table(results, data)
    bands = intervals.all_bands(results, data, intervals.interval_levels(run.stored))
    coverage = intervals.interval_table(bands, data)
    coverage = coverage[coverage.method == intervals.CONFORMAL]
    winner = ranking.iloc[0]
    trained = set(ranking.model[ranking.kind.isin(["trained", "ensemble"])])
    deep = coverage[coverage.model.isin(trained)]
    best = ranking.loc[ranking.test_mse.idxmin()]
    out: dict[str, Any] = {
        "folds": folds, "refit": refit, "ensemble_steps": ensemble_steps, "winner": winner.model,
        "winner_val_mse": float(winner.val_mse_mean), "winner_test_mse": float(winner.test_mse),
        # selection regret: the chosen entry's test MSE over the best entry's (0: validation chose the best)
        "best_test_entry": best.model, "regret": float(winner.test_mse / best.test_mse - 1.0),
        "coverage": {f"{m}@{lv:g}": float(c) for m, lv, c in zip(deep.model, deep.level, deep.coverage, strict=True)},
        "worst_deviation": {f"{lv:g}": float((g.coverage - lv).abs().max()) for lv, g in deep.groupby("level")},
        "within_5pp": {f"{lv:g}": bool(((g.coverage - lv).abs() <= 0.05).all()) for lv, g in deep.groupby("level")},
        # every ranked entry with conformal intervals (baselines and classical too), not only the trained ones
        "worst_deviation_all": {f"{lv:g}": float((g.coverage - lv).abs().max()) for lv, g in coverage.groupby("level")},
        "worst_entry_all": {f"{lv:g}": str(g.model.iloc[int((g.coverage - lv).abs().to_numpy().argmax())])
                            for lv, g in coverage.groupby("level")},
        # the entries whose coverage interval over test windows excludes the level: misses beyond the test's noise
        "off_beyond_noise": {f"{lv:g}": list(g.model[intervals.off_nominal(lv, g.coverage_ci_low, g.coverage_ci_high) != 0])
                             for lv, g in coverage.groupby("level")},
        "winner_coverage": {f"{lv:g}": float(c) for lv, c in
                            zip(*coverage[coverage.model == winner.model][["level", "coverage"]].T.values,
                                strict=True)},
    }
    if seed_scale:
        from seed_task import seed_scale_scores

        scores = seed_scale_scores(predictions_frame(results, data)).set_index("model")
        out["winner_seed_scale_mse"] = float(scores.loc[winner.model, "seed_scale_mse"])
    return out


def phase_costs(run_path: Path) -> dict[str, float]:
    """Wall seconds of each phase (search, finals, refit) from the run's timeline, and the report's."""
    out = {}
    for phase in ("search", "finals", "refit"):
        f = run_path / "timeline" / f"{phase}.json"
        if f.exists():
            t = json.loads(f.read_text())
            out[phase] = round(float(t["ended_at"]) - float(t["started_at"]), 1)
    return out


def run_sweep(name: str, runs_dir: Path, folds: int, smoke: bool, extra: list[str]) -> Path:
    from sweeps.run_all import main as sweep

    argv = ["--profile", "smoke" if smoke else "default", "--runs-dir", str(runs_dir), "--name", name,
            "--wandb-mode", "disabled", f"split.folds={folds}", "report.final_refit=true", *extra]
    if sweep(argv) != 0:
        raise SystemExit(f"the sweep {name} failed; see above")
    return runs_dir / name


def delhi_args() -> list[str]:
    from seed_task import DELHI, FEATURES

    return [f"data.path={DELHI / 'DailyDelhiClimateTrain.csv'}", f"data.test_path={DELHI / 'DailyDelhiClimateTest.csv'}",
            f"data.features={FEATURES}", f"data.targets={FEATURES}", "window.input=30", "window.output=7"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--ensemble-steps", type=int, default=20, help="the weighted ensemble's greedy steps")
    p.add_argument("--delhi-run", type=Path, default=None)
    p.add_argument("--seattle-run", type=Path, default=None)
    p.add_argument("--smoke", action="store_true", help="tiny sweeps (2 models, 2 epochs), Delhi only")
    p.add_argument("--delhi-only", action="store_true", help="no Seattle sweep (half the time)")
    p.add_argument("--runs-dir", type=Path, default=REPO / "runs")
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/backtest.json; --smoke: a temporary folder")
    args = p.parse_args()
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "backtest.json", args.smoke)

    smoke_extra = ["--models", "gru_nar,lstm_ar", "sweep.final_seeds=1"] if args.smoke else []
    runs = {"delhi": args.delhi_run or run_sweep(f"backtest-delhi-f{args.folds}", args.runs_dir, args.folds,
                                                 args.smoke, delhi_args() + smoke_extra)}
    if not args.smoke and not args.delhi_only:
        runs["seattle"] = args.seattle_run or run_sweep(f"backtest-seattle-f{args.folds}", args.runs_dir, args.folds,
                                                        False, [])
    rows, costs = [], {}
    for name, path in runs.items():
        k = int(yaml.safe_load((path / "config.yaml").read_text())["split"]["folds"])
        costs[name] = phase_costs(path)
        for folds in sorted({1, k}):
            for refit in (False, True):
                for steps in (0,) if folds == 1 else (0, args.ensemble_steps):
                    print(f"scoring {name}: folds {folds}, refit {'on' if refit else 'off'}, ensemble steps {steps}"
                          " ...", flush=True)
                    rows.append({"data": name, **score_variant(path, folds, refit, name == "delhi", steps)})
    table = pd.DataFrame(rows)
    cols = ["data", "folds", "refit", "ensemble_steps", "winner", "winner_val_mse", "winner_test_mse",
            "best_test_entry", "regret",
            *(["winner_seed_scale_mse"] if "winner_seed_scale_mse" in table else [])]
    print("\n=== Validation winner and its test MSE, by folds and refit ===")
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("\n=== Conformal coverage of the trained entries on test: worst deviation from nominal (within ±5 pp?) ===")
    for r in rows:
        print(f"{r['data']:8} folds {r['folds']} refit {'on ' if r['refit'] else 'off'} ensemble "
              f"{r['ensemble_steps']:2}: "
              + ", ".join(f"{lv}: worst {d:+.1%} ({'yes' if r['within_5pp'][lv] else 'NO'}), winner "
                          f"{r['winner_coverage'].get(lv, float('nan')):.1%}" for lv, d in r["worst_deviation"].items()))
    print("\n=== Wall time per phase (s) ===")
    for name, c in costs.items():
        print(f"{name:8} " + ", ".join(f"{ph} {s:.0f}" for ph, s in c.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join(["benchmarks/backtest.py", *sys.argv[1:]]),
                                    "runs": {k: str(v) for k, v in runs.items()}, "variants": rows,
                                    "phase_wall_s": costs}, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
