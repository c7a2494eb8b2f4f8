"""Grid vs TPE on the seed task (Delhi daily climate, 7 days out, all 4 features), in one run:

    (a) grid      today's default grids (16 trials per architecture)
    (b) tpe       TPE over sweeps/configs/tpe.yaml's wide spaces, the same 16 trials per architecture (each
                  architecture's first trial: the tool's defaults, sweep.start_from_defaults)
    (c) tpe-6     the same TPE with 6 trials per architecture

    python benchmarks/search.py            # about 25 minutes on 2 CPU cores
    python benchmarks/search.py --smoke    # seconds; keeps the script working in CI

`sweep.final_seeds=0` for all three: they compare search only. Every variant scores the same validation and test
target windows: test windows may take their inputs from the end of the train file (split.test_inputs_from_train),
since TPE searches input lengths up to 120 days and the test file alone holds 114 (the seed task keeps test inputs
inside the test file: 78 windows at 30 days in; here 108). Per architecture: best validation MSE (scaled), test MSE
of the chosen trial (scaled, and on the seed deck's scale via benchmarks/seed_task.py's scorer), trials run and
their summed training time; per variant the search's wall time. Targets (issue #13): (b) reaches a lower
validation MSE than (a) for at least 4 of 5 architectures; (c) is within 3% of (a)'s validation MSE at a third
of its wall time. Results: benchmarks/results/search.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from seed_task import DELHI, FEATURES, seed_scale_scores  # noqa: E402

FIVE = ["lstm_ar", "lstm_nar", "gru_ar", "gru_nar", "transformer"]
TPE_CONFIG = REPO / "sweeps" / "configs" / "tpe.yaml"


def variants(smoke: bool) -> list[tuple[str, list[str]]]:
    if smoke:  # tiny: one architecture, 2 trials, 2 epochs, one small layer, no classical baselines
        small = ["--models", "gru_nar", "train.epochs=2", "train.patience=2", "sweep.scheduler=none",
                 "models.gru_nar.num_layers=1", "baselines.classical=[]"]
        # TPE's smoke spaces are small too (tpe.yaml's reach 128 units, 3 layers and 120 days in): the searched
        # input length and a searched width keep the adaptive path's logic, at a fraction of the cost
        tpe_small = [*small, "window.input={choice: [14, 30]}", "models.gru_nar.hidden_size={choice: [8, 16]}"]
        return [("grid", [*small, "models.gru_nar.hidden_size={grid: [8, 16]}", "models.gru_nar.dropout=0.0",
                          "models.gru_nar.norm=none"]),
                ("tpe", ["--config", str(TPE_CONFIG), *tpe_small, "sweep.num_samples=2"]),
                ("tpe-6", ["--config", str(TPE_CONFIG), *tpe_small, "sweep.num_samples=1"])]
    models = ["--models", ",".join(FIVE)]
    return [("grid", models),
            ("tpe", ["--config", str(TPE_CONFIG), *models, "sweep.num_samples=16"]),
            ("tpe-6", ["--config", str(TPE_CONFIG), *models, "sweep.num_samples=6"])]


def run_variant(name: str, extra: list[str], runs_dir: Path, prefix: str) -> dict[str, Any]:
    from reports.runs import best_trials, read_run
    from sweeps.run_all import main as sweep

    run_name = f"{prefix}-{name}"
    argv = ["--runs-dir", str(runs_dir), "--name", run_name, "--wandb-mode", "disabled",
            f"data.path={DELHI / 'DailyDelhiClimateTrain.csv'}", f"data.test_path={DELHI / 'DailyDelhiClimateTest.csv'}",
            f"data.features={FEATURES}", f"data.targets={FEATURES}", "window.output=7",
            "split.test_inputs_from_train=true", "sweep.final_seeds=0", *extra]
    if sweep(argv) != 0:
        raise SystemExit(f"the {name} sweep failed; see above")
    run_dir = runs_dir / run_name
    run = read_run(run_dir)
    ranking = pd.read_csv(run_dir / "report" / "ranking.csv").set_index("model")
    deck = seed_scale_scores(pd.read_parquet(run_dir / "report" / "predictions.parquet")).set_index("model")
    record = json.loads((run_dir / "run.json").read_text())
    per_model = {}
    for model, best in sorted(best_trials(run).items()):
        trials = [t for t in run.trials if t.model == model]
        per_model[model] = {
            "best_val_mse": best.best_val_mse, "test_mse": float(ranking.loc[model, "test_mse"]),
            "deck_scale_test_mse": float(deck.loc[model, "seed_scale_mse"]), "trials": len(trials),
            "train_time_s": round(sum(t.train_time_s for t in trials), 1), "chosen": best.tag,
            "window_input": best.window_input or run.config["window"]["input"],
        }
    return {"run_dir": str(run_dir), "wall_time_s": round(record.get("wall_time_s", float("nan")), 1),
            "test_windows": int(deck["windows"].max()), "models": per_model}


def verdict(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    grid, tpe, tpe6 = (results[k]["models"] for k in ("grid", "tpe", "tpe-6"))
    shared = sorted(set(grid) & set(tpe) & set(tpe6))
    tpe_better = [m for m in shared if tpe[m]["best_val_mse"] < grid[m]["best_val_mse"]]
    within = [m for m in shared if tpe6[m]["best_val_mse"] <= 1.03 * grid[m]["best_val_mse"]]
    wall_ratio = results["tpe-6"]["wall_time_s"] / results["grid"]["wall_time_s"]
    return {
        "tpe_lower_val_than_grid": tpe_better,
        "target_b_met": len(tpe_better) >= min(4, len(shared)) and bool(shared),
        "tpe6_within_3pct_of_grid": within,
        "tpe6_wall_time_ratio": round(wall_ratio, 3),
        "target_c_met": len(within) == len(shared) and bool(shared) and wall_ratio <= 1 / 3,
    }


def main(argv: list[str] | None = None) -> None:
    """`argv`: the arguments (default: the command line's); tests/test_benchmarks.py calls this in-process."""
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--runs-dir", default=str(REPO / "runs"))
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/search.json; --smoke: a temporary folder")
    args = p.parse_args(argv)
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "search.json", args.smoke)
    prefix = "search-smoke" if args.smoke else "search"
    results = {name: run_variant(name, extra, Path(args.runs_dir), prefix) for name, extra in variants(args.smoke)}
    summary = verdict(results)
    rows = [{"variant": v, "model": m, **{k: r[k] for k in ("best_val_mse", "test_mse", "deck_scale_test_mse",
                                                           "trials", "train_time_s", "window_input")}}
            for v, res in results.items() for m, r in res["models"].items()]
    table = pd.DataFrame(rows)
    print("\n=== Search: grid vs TPE on Delhi (7 out, same validation/test windows; scaled MSE) ===")
    print(table.pivot(index="model", columns="variant", values="best_val_mse").to_string(float_format="{:.4f}".format))
    print("\nTest MSE of the chosen trial (scaled):")
    print(table.pivot(index="model", columns="variant", values="test_mse").to_string(float_format="{:.4f}".format))
    print("\nPer trial detail:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("\nWall time of the search (s): " + ", ".join(f"{v} {r['wall_time_s']}" for v, r in results.items()))
    print(f"(b) TPE below the grid on validation: {', '.join(summary['tpe_lower_val_than_grid']) or 'none'} -> "
          f"target (>= 4 of 5) {'met' if summary['target_b_met'] else 'MISSED'}")
    print(f"(c) TPE-6 within 3% of the grid: {', '.join(summary['tpe6_within_3pct_of_grid']) or 'none'}; wall time "
          f"{summary['tpe6_wall_time_ratio']:.2f} of the grid's -> target (all, <= 1/3) "
          f"{'met' if summary['target_c_met'] else 'MISSED'}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"command": " ".join(["benchmarks/search.py", *argv]),
                                          "results": results, "verdict": summary}, indent=2, default=str))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
