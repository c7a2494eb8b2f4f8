"""How fast does a sweep go, and how close to its limit? All figures measured in one run on this machine.

    python benchmarks/throughput.py              # default profile, twice (~20 min on 2 cores)
    python benchmarks/throughput.py --smoke      # seconds; keeps the script working in CI

(a) seconds per epoch of our training loop vs a seed-style reference loop (same model, data and batch);
(b) a sweep's wall time, trials, trial-epochs per second;
(c) the ideal time = every trial's (seed repeats too) summed in-loop training time / the cores Ray used, and
    efficiency = ideal/actual;
(d) scaling: the same small sweep with 1 and with 2 concurrent trials;
(e) the profile sweep again as it ran before trials reported only at decisions (sweep.report_every_epoch=true),
    and a table of where each phase's core-seconds went, before and after (benchmarks/timeline.py).
Results: a table on stdout and benchmarks/results/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def sweep_figures(run_dir: Path, wall_s: float, cores: float) -> dict[str, Any]:
    """Every trial the sweep trained counts, its seed repeats included: their epochs fill part of the wall time too
    (counting only the search's training against the whole wall time once charged the seed-repeat phase, ~18% of
    the default sweep, to overhead)."""
    from reports.runs import read_run

    run = read_run(run_dir)
    trained = [*run.trials, *run.finals]
    epochs = sum(t.epochs for t in trained)
    in_loop = sum(t.train_time_s for t in trained)
    ideal = in_loop / cores
    return {
        "trials": len(run.trials),
        "trial_status": {s: sum(t.status == s for t in run.trials) for s in ("finished", "stopped", "failed")},
        "seed_repeats": len(run.finals),
        "trial_epochs": epochs,
        "wall_s": round(wall_s, 1),
        "trial_epochs_per_s": round(epochs / wall_s, 2),
        "in_loop_train_s": round(in_loop, 1),
        "search_in_loop_train_s": round(sum(t.train_time_s for t in run.trials), 1),
        "cores": cores,
        "ideal_s": round(ideal, 1),
        "efficiency": round(ideal / wall_s, 3),
    }


def run_sweep(runs: Path, name: str, args: list[str], wandb_mode: str = "disabled") -> float:
    from sweeps.run_all import main

    start = time.monotonic()
    code = main(["--runs-dir", str(runs), "--name", name, "--wandb-mode", wandb_mode, "--no-report", *args])
    if code != 0:
        raise SystemExit(f"sweep {name} failed with exit code {code}")
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> None:
    """`argv`: the arguments (default: the command line's); tests/test_benchmarks.py calls this in-process."""
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sweeps, for CI")
    p.add_argument("--profile", default="default", choices=["smoke", "default", "full"])
    p.add_argument("--wandb-mode", default="offline", choices=["offline", "disabled"],
                   help="W&B for the profile sweep (default offline: what the main command does without a key)")
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/throughput.json; --smoke: a temporary folder")
    args = p.parse_args(argv)
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "throughput.json", args.smoke)

    import epoch_speed
    import ray
    from timeline import format_table, phase_timeline

    results: dict[str, Any] = {"command": " ".join(["benchmarks/throughput.py", *argv]),
                               "cpu_count": os.cpu_count()}

    # (a) the training loop against the seed-style reference, same model and batch
    data, source = epoch_speed.load_data(args.smoke)
    timing_epochs = 2 if args.smoke else 5
    seed_s = epoch_speed.steady(epoch_speed.time_seed_loop(data, timing_epochs, epoch_speed.resolve_device("cpu")))
    ours_s = epoch_speed.steady(epoch_speed.time_fit("gru_ar", data, timing_epochs, "cpu", patience=10**6)["epoch_times"])
    results["epoch"] = {"data": source, "seed_s_per_epoch": round(seed_s, 4), "ours_s_per_epoch": round(ours_s, 4),
                        "ratio_seed_over_ours": round(seed_s / ours_s, 2)}

    # A Ray already running in this process (the test suite's) is used as it is: capacity is what it offers.
    own_ray = not ray.is_initialized()
    if own_ray:
        ray.init(include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    cores = ray.cluster_resources().get("CPU", 1.0)
    # a trial stopped by a time cap may still be writing into its folder as the benchmark ends (seen under load
    # in CI): a leftover file must not fail the run
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        runs = Path(tmp)
        # (b) + (c) one whole sweep of the chosen profile; (e) the same sweep as before the report cadence changed
        # (a blocking report to Ray every epoch, a checkpoint on every improvement), in the same run
        profile = "smoke" if args.smoke else args.profile
        results["timeline"] = {}
        variants = [("after", [])] if args.smoke else [("before", ["sweep.report_every_epoch=true"]), ("after", [])]
        walls = {}
        for variant, extra in variants:
            walls[variant] = run_sweep(runs, variant, ["--profile", profile, *extra], args.wandb_mode)
            for phase in ("search", "finals"):
                if (runs / variant / "timeline" / f"{phase}.json").exists():
                    results["timeline"][f"{variant} {phase}"] = phase_timeline(runs / variant, phase, cores)
        results["sweep"] = {"profile": profile, "wandb": args.wandb_mode, **sweep_figures(runs / "after", walls["after"], cores)}
        if "before" in walls:
            results["before"] = sweep_figures(runs / "before", walls["before"], cores)
            results["wall_before_over_after"] = round(walls["before"] / walls["after"], 2)

        # (d) scaling: the same 6 trials (--smoke: 2, the fewest that two at a time can overlap) with 1 and with 2
        # at a time
        archs = ["gru_nar"] if args.smoke else ["gru_nar", "gru_ar", "transformer"]
        small = ["--profile", "smoke", "--models", ",".join(archs), "train.epochs=" + ("2" if args.smoke else "10")]
        small += [f"models.{a}.{'d_model' if a == 'transformer' else 'hidden_size'}={{grid: [32, 64]}}" for a in archs]
        scaling = {}
        for concurrent in (1, 2):
            wall = run_sweep(runs, f"c{concurrent}", [*small, f"sweep.max_concurrent_trials={concurrent}"])
            scaling[concurrent] = sweep_figures(runs / f"c{concurrent}", wall, min(concurrent, cores))
        results["scaling"] = {
            "one_at_a_time": scaling[1], "two_at_a_time": scaling[2],
            "speedup_2_over_1": round(scaling[1]["wall_s"] / scaling[2]["wall_s"], 2),
        }
    if own_ray:
        ray.shutdown()

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    e, s, sc = results["epoch"], results["sweep"], results["scaling"]
    print("\n=== Sweep throughput (this machine, one run) ===")
    print(f"(a) epoch, GRU h64 x2, batch 128: ours {e['ours_s_per_epoch']:.3f} s, seed-style reference "
          f"{e['seed_s_per_epoch']:.3f} s -> reference/ours = {e['ratio_seed_over_ours']:.2f}x")
    print(f"(b) {s['profile']} sweep (W&B {s['wandb']}): {s['trials']} trials {s['trial_status']} + {s['seed_repeats']} seed "
          f"repeats, {s['trial_epochs']} trial-epochs "
          f"in {s['wall_s']:.0f} s = {s['trial_epochs_per_s']:.2f} trial-epochs/s")
    print(f"(c) ideal {s['ideal_s']:.0f} s (in-loop {s['in_loop_train_s']:.0f} s / {s['cores']:g} cores) -> "
          f"efficiency {s['efficiency']:.2f} (target >= 0.9); Ray overhead {1 - s['efficiency']:.0%} of core time")
    if "before" in results:
        b = results["before"]
        print(f"(e) the same sweep reporting every epoch (as before): {b['wall_s']:.0f} s, efficiency {b['efficiency']:.2f}"
              f" -> before/after wall time = {results['wall_before_over_after']:.2f}x")
    print(f"(d) {sc['one_at_a_time']['trials']} trials: 1 at a time {sc['one_at_a_time']['wall_s']:.0f} s, 2 at a time "
          f"{sc['two_at_a_time']['wall_s']:.0f} s -> speed-up {sc['speedup_2_over_1']:.2f}x (ideal 2.00x)")
    print("\n=== Where the sweep's core-seconds went (per phase; benchmarks/timeline.py) ===")
    print(format_table(results["timeline"]))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
