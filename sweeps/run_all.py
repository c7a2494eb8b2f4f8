"""Forecast Sweep's main command: sweep every architecture with Ray Tune, then rank them on the test split.

    python sweeps/run_all.py                          # default profile on the embedded Seattle weather data
    python sweeps/run_all.py --profile smoke          # one tiny trial per model, ~1 minute
    python sweeps/run_all.py data.path=my.csv data.targets=[load] --models gru_nar,transformer
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script from a clone: make the project's packages importable without an install.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_pipeline import DataError  # noqa: E402
from reports.runs import RunDirError  # noqa: E402
from sweeps.config import PROFILES, ConfigError  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python sweeps/run_all.py",
        description="Sweep LSTM/GRU (autoregressive and not) and Transformer forecasters with Ray Tune, log every "
        "trial to W&B, and write a ranking report scored once on the test split.",
        epilog="Overrides are dotted key=value pairs, e.g. data.path=my.csv window.output=14 train.epochs=100 "
        "'models.gru_ar.hidden_size={grid: [32, 64]}'. Every key is listed in sweeps/configs/default.yaml.",
    )
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (dotted keys)")
    p.add_argument("--config", help="YAML config layered over sweeps/configs/default.yaml")
    p.add_argument("--profile", default="default", choices=PROFILES,
                   help="smoke: 1 tiny trial per model, 2 epochs; default: full grids with ASHA, then 2 "
                   "seed repeats of each architecture's best (~15 min on 2 cores); full: the seed's epoch budgets, for GPUs or clusters")
    p.add_argument("--models", help="comma-separated subset, e.g. gru_nar,transformer")
    p.add_argument("--name", help="run name; results go to <runs-dir>/<name> (default: <data>-<profile>)")
    p.add_argument("--runs-dir", default="runs", help="where run directories live (default: ./runs)")
    p.add_argument("--storage-path", help="shared storage for Ray results on multi-node clusters (NFS path or s3://)")
    p.add_argument("--address", help="join an existing Ray cluster ('auto', or host:port); default: RAY_ADDRESS "
                   "or a local Ray")
    p.add_argument("--resume", action="store_true",
                   help="resume an interrupted sweep of the same name (re-running the same name does too)")
    p.add_argument("--cpus-per-trial", type=float, help="CPUs per trial (default 1)")
    p.add_argument("--gpus-per-trial", type=float,
                   help="GPU share per trial (default with GPUs: GPUs / CPUs, so every core runs a trial)")
    p.add_argument("--wandb-mode", choices=("online", "offline", "disabled"),
                   help="default: online with a key and a reachable server, else offline")
    p.add_argument("--wandb-report", action="store_true", help="also create a W&B Report (online only)")
    p.add_argument("--seed", type=int, help="training seed (train.seed)")
    p.add_argument("--no-report", action="store_true", help="skip building the report after the sweep")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    return p.parse_intermixed_args(argv)


def _cli_overrides(args: argparse.Namespace) -> list[str]:
    out = list(args.overrides)
    for flag, key in (("storage_path", "sweep.storage_path"), ("cpus_per_trial", "sweep.cpus_per_trial"),
                      ("gpus_per_trial", "sweep.gpus_per_trial"), ("seed", "train.seed")):
        value = getattr(args, flag)
        if value is not None:
            out.append(f"{key}={value}")
    if args.wandb_report:
        out.append("wandb.report=true")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return _run(args)
    except (ConfigError, DataError, RunDirError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted: finished trials are saved; run the same command again to resume.", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    """The CLI is a thin wrapper over the Python API (sweeps/api.py): one code path, a line per trial."""
    from sweeps.api import sweep

    sweep(None, profile=args.profile, models=args.models, config=args.config, name=args.name,
          runs_dir=args.runs_dir, address=args.address, resume=args.resume, wandb_mode=args.wandb_mode,
          report=not args.no_report, progress="trial", overrides=_cli_overrides(args))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    sys.exit(main())
