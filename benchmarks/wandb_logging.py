"""What does a trial's W&B run cost: a plain `wandb.init` (our hand-written logger's) vs Ray's in-trial helper
`ray.air.integrations.wandb.setup_wandb`? Same process, same runs, offline.

    python benchmarks/wandb_logging.py            # 8 runs of 20 epochs per variant, alternating
    python benchmarks/wandb_logging.py --smoke    # 2 runs of 3 epochs

A reused Ray worker opens one run after another in one process, as here. Results: a table and
benchmarks/results/wandb_logging.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def plain(run_dir: str, trial_id: str, epochs: int) -> None:
    """A plain wandb.init, as sweeps/engine/tracking.TrialLogger opened its runs before it used setup_wandb."""
    import wandb

    run = wandb.init(id=trial_id, name=f"gru_nar-h32-{trial_id}", group="bench", tags=["gru_nar"], project="bench",
                     mode="offline", dir=run_dir, config={"trial": {"model": "gru_nar"}}, resume="allow",
                     reinit="finish_previous", settings=wandb.Settings(silent=True, console="off"))
    for epoch in range(1, epochs + 1):
        run.log({"epoch": epoch, "val_mse": 1.0 / epoch, "train_loss": 1.0 / epoch})
    run.finish()


def rays(run_dir: str, trial_id: str, epochs: int) -> None:
    import wandb
    from ray.air.integrations.wandb import setup_wandb

    # Without a key, setup_wandb refuses to start unless WANDB_MODE says offline (a `mode=` argument is not enough).
    os.environ["WANDB_MODE"] = "offline"
    run = setup_wandb({"trial": {"model": "gru_nar"}}, trial_id=trial_id, trial_name=f"gru_nar-h32-{trial_id}",
                      project="bench", group="bench", tags=["gru_nar"], mode="offline", dir=run_dir,
                      resume="allow", reinit="finish_previous", settings=wandb.Settings(silent=True, console="off"))
    for epoch in range(1, epochs + 1):
        run.log({"epoch": epoch, "val_mse": 1.0 / epoch, "train_loss": 1.0 / epoch})
    run.finish()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=8)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/wandb_logging.json; --smoke: a temporary folder")
    args = p.parse_args()
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "wandb_logging.json", args.smoke)
    runs, epochs = (2, 3) if args.smoke else (args.runs, args.epochs)
    os.environ.pop("WANDB_API_KEY", None)
    times: dict[str, list[float]] = {"plain wandb.init": [], "ray setup_wandb": []}
    with tempfile.TemporaryDirectory() as tmp:
        plain(tmp, "warmup", 1)  # the first run in a process starts W&B's service: not a per-trial cost
        for i in range(runs):
            for name, fn in (("plain wandb.init", plain), ("ray setup_wandb", rays)):
                started = time.perf_counter()
                fn(tmp, f"{name[:3]}{i:04d}", epochs)
                times[name].append(time.perf_counter() - started)
    rows = {name: {"median_s": round(statistics.median(t), 3), "mean_s": round(statistics.mean(t), 3),
                   "runs": len(t)} for name, t in times.items()}
    ratio = rows["ray setup_wandb"]["median_s"] / rows["plain wandb.init"]["median_s"]
    print(f"W&B offline, one run of {epochs} epochs per trial, {runs} runs each (median / mean seconds per run):")
    for name, row in rows.items():
        print(f"  {name:<16} {row['median_s']:.3f} / {row['mean_s']:.3f}")
    print(f"  ratio setup_wandb / plain (median): {ratio:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"command": " ".join(["benchmarks/wandb_logging.py", *sys.argv[1:]]),
                                          "epochs": epochs, "variants": rows, "ratio_median": round(ratio, 3)},
                                         indent=2))


if __name__ == "__main__":
    main()
