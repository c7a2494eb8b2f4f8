"""The default profile end to end, timed phase by phase, with what its ranking is worth (issue 39).

The main command (`python sweeps/run_all.py`: search, seed repeats on every backtest fold, the refit, the report
with its classical fits and weighted ensemble) on the embedded data, and the same command as the default was before
it backtested (the reference: one validation block, no refit, two seed repeats, dropout searched), in the same run:

    python benchmarks/default_profile.py                   # both profiles on the embedded data (~35 min on 2 cores)
    python benchmarks/default_profile.py --no-reference    # the default profile only (~17 min)
    python benchmarks/default_profile.py --data delhi      # the seed's task (its test file, seed-deck scale too)
    python benchmarks/default_profile.py --smoke           # the smoke profile: checks the script runs (~1 min)

Per profile: wall seconds and share of each phase (setup: config, data and Ray before the first trial; search;
finals: the seed repeats and every earlier fold; refit; the glue between phases; report: classical fits, scoring,
ensemble, intervals, pages) read from the run's timeline, the total against the 15-minute target and as a ratio
of the reference's; then the ranking as benchmarks/backtest.py scores it: the validation winner, its test MSE,
the selection regret (its test MSE over the best entry's, minus one) and the worst 80%/95% coverage deviation on
test, of the trained entries and of every entry. Timings are only worth reading on quiet cores: the load average at the start is kept.
Results: a table on stdout and benchmarks/results/default_profile.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

TARGET_S = 15 * 60
ARCHITECTURES = ("lstm_ar", "lstm_nar", "gru_ar", "gru_nar", "transformer")
# The default profile before it backtested (stop 45's sweeps/configs/default.yaml), as overrides of today's
REFERENCE = ["split.folds=1", "report.final_refit=false", "sweep.final_seeds=2",
             *(f"models.{a}.dropout={{grid: [0.0, 0.2]}}" for a in ARCHITECTURES)]
PHASES = ("search", "finals", "refit")
# --smoke: the smoke profile trains once on one block; these bring back the default's phases (folds, refit, ensemble)
SMOKE_PHASES = ["split.folds=2", "report.final_refit=true", "sweep.final_seeds=1"]


def phase_walls(run_dir: Path, started: float, ended: float) -> dict[str, float]:
    """Wall seconds of setup, each sweep phase, the glue between them and the report, summing to the total."""
    stamps = {}
    for phase in PHASES:
        f = run_dir / "timeline" / f"{phase}.json"
        if f.exists():
            t = json.loads(f.read_text())
            stamps[phase] = (float(t["started_at"]), float(t["ended_at"]))
    out: dict[str, float] = {}
    cursor = started
    for phase, (begin, end) in stamps.items():
        key = "setup" if cursor == started else "glue"
        out[key] = out.get(key, 0.0) + begin - cursor
        out[phase] = end - begin
        cursor = end
    out["report"] = ended - cursor
    return {k: round(v, 1) for k, v in out.items()}


def run_profile(name: str, runs_dir: Path, data_args: list[str], extra: list[str], smoke: bool) -> dict[str, Any]:
    from sweeps.run_all import main as sweep

    argv = ["--profile", "smoke" if smoke else "default", "--runs-dir", str(runs_dir), "--name", name,
            "--wandb-mode", "offline", *data_args, *extra]
    load = os.getloadavg()[0]
    started = time.time()
    if sweep(argv) != 0:
        raise SystemExit(f"the sweep {name} failed; see above")
    ended = time.time()
    # the 15-minute load average as it ends: above ~2.3 something else shared the two cores
    return {"run_dir": str(runs_dir / name), "overrides": extra, "load_at_start": round(load, 2),
            "load15_at_end": round(os.getloadavg()[2], 2),
            "wall_s": round(ended - started, 1), "phases": phase_walls(runs_dir / name, started, ended)}


def ranking_quality(run_dir: Path, delhi: bool) -> dict[str, Any]:
    """The run scored as its own config says (folds, refit, ensemble), as benchmarks/backtest.py scores a variant."""
    import yaml
    from backtest import score_variant

    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    return score_variant(run_dir, int(cfg["split"]["folds"]), bool(cfg["report"]["final_refit"]), delhi,
                         int(cfg["report"].get("ensemble_steps", 0)))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=["embedded", "delhi"], default="embedded")
    p.add_argument("--no-reference", action="store_true", help="time the default profile only")
    p.add_argument("--smoke", action="store_true", help="the smoke profile (2 models): checks the script runs")
    p.add_argument("--runs-dir", type=Path, default=REPO / "runs")
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/default_profile.json; --smoke: a temporary folder")
    args = p.parse_args(argv)
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "default_profile.json", args.smoke)

    data_args: list[str] = []
    if args.data == "delhi":
        from backtest import delhi_args

        data_args = delhi_args()
    if args.smoke:
        data_args += ["--models", "gru_nar,lstm_ar"]
    default = SMOKE_PHASES if args.smoke else []
    profiles = {"default": default} if args.no_reference else {"reference": REFERENCE, "default": default}
    results: dict[str, Any] = {"command": " ".join(["benchmarks/default_profile.py", *(argv or sys.argv[1:])]),
                               "cpu_count": os.cpu_count(), "target_s": TARGET_S, "profiles": {}}
    for label, extra in profiles.items():
        name = f"profile-{args.data}-{label}" + ("-smoke" if args.smoke else "")
        print(f"=== {label}: {' '.join(extra) or 'the default profile as it is'} ===", flush=True)
        timing = run_profile(name, args.runs_dir, data_args, extra, args.smoke)
        timing["ranking"] = ranking_quality(Path(timing["run_dir"]), args.data == "delhi")
        results["profiles"][label] = timing

    print("\n=== Wall time per phase (s, share of the total) ===")
    for label, r in results["profiles"].items():
        shares = ", ".join(f"{ph} {s:.0f} ({s / r['wall_s']:.0%})" for ph, s in r["phases"].items())
        print(f"{label:9} total {r['wall_s']:.0f} s = {r['wall_s'] / TARGET_S:.2f} x the 15-minute target "
              f"(load {r['load_at_start']:.2f} at start, 15-min load {r['load15_at_end']:.2f} at end): {shares}")
    if "reference" in results["profiles"]:
        ratio = results["profiles"]["default"]["wall_s"] / results["profiles"]["reference"]["wall_s"]
        results["default_over_reference"] = round(ratio, 2)
        print(f"default / reference wall time: {ratio:.2f}x")
    print("\n=== The ranking each profile hands over ===")
    for label, r in results["profiles"].items():
        q = r["ranking"]
        seed = f", seed-deck scale {q['winner_seed_scale_mse']:.4f}" if "winner_seed_scale_mse" in q else ""
        print(f"{label:9} winner {q['winner']} (val {q['winner_val_mse']:.4f}, test {q['winner_test_mse']:.4f}"
              f"{seed}); best on test {q['best_test_entry']}; regret {q['regret']:+.1%}; worst coverage deviation "
              "of the trained entries " + ", ".join(f"{lv}: {d:+.1%}" for lv, d in q["worst_deviation"].items())
              + "; of every entry " + ", ".join(f"{lv}: {d:+.1%} ({q['worst_entry_all'][lv]})"
                                                for lv, d in q["worst_deviation_all"].items())
              + "; off nominal beyond noise " + ", ".join(f"{lv}: {', '.join(m) or 'none'}"
                                                          for lv, m in q["off_beyond_noise"].items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
