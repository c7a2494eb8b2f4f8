"""Does the code rank as the code before a redesign did? (issue 38: behaviour unchanged where nothing was meant to)

Runs the default sweep of an earlier commit (a git worktree of it, its own modules first on the path) on Seattle and
on the seed's Delhi task, keeps its report, then, with today's code on the same machine in the same run:

1. rebuilds each of those run directories' reports (`sweeps.open_run(..., rebuild=True)`: an old run directory
   still opens; no cached classical fit is reused) and compares every entry's validation and test MSE with the
   old report's, to 4 decimals;
2. sweeps the same config again with today's code (`benchmarks/default_profile.py`'s REFERENCE overrides bring back
   the default as it was before it backtested) and compares those rankings with the old sweep's.

The first isolates the report layer and every entry fitted there (baselines, ridge, classical, Chronos-2); the
second adds the sweep engine (training, ASHA, seed repeats). Entries that differ are listed with both scores, and
entries present on one side only (a kind added since) by name.

    python benchmarks/redesign_parity.py                     # 753c70f (stop 43, before #38) vs today (~70 min)
    python benchmarks/redesign_parity.py --no-sweep          # the report rebuilds only (~35 min: the old sweeps)
    python benchmarks/redesign_parity.py --runs-dir DIR      # a run directory in DIR with a report is reused

Results: a table on stdout and benchmarks/results/redesign_parity.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

BEFORE = "753c70f"  # stop 43's main: the layout move and the cleaning rule landed, the forecaster interface had not
DECIMALS = 4


def data_sets() -> dict[str, list[str]]:
    from backtest import delhi_args

    return {"seattle": [], "delhi": delhi_args()}


def old_sweep(commit: str, runs_dir: Path, name: str, data_args: list[str]) -> float:
    """The earlier commit's `sweeps/run_all.py` (its default profile) in a worktree; returns its wall seconds."""
    tree = runs_dir / f"tree-{commit}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(tree), commit], check=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    started = time.time()
    subprocess.run([sys.executable, str(tree / "sweeps" / "run_all.py"), "--runs-dir", str(runs_dir), "--name", name,
                    "wandb.mode=offline", *data_args], cwd=tree, env=env, check=True)
    return time.time() - started


def new_sweep(runs_dir: Path, name: str, data_args: list[str]) -> float:
    from default_profile import REFERENCE

    from sweeps.run_all import main as sweep

    started = time.time()
    if sweep(["--runs-dir", str(runs_dir), "--name", name, "--wandb-mode", "offline", *data_args, *REFERENCE]) != 0:
        raise SystemExit(f"today's sweep {name} failed; see above")
    return time.time() - started


def rebuild(run_dir: Path) -> Path:
    """Today's report of an old run directory, beside the old one (kept as report_before/). The classical models
    are fitted again: the run's cache of their fits is set aside (classical_before/) and the shared data cache
    (data.cache_dir, relative to the working directory when unset) is an empty folder."""
    from sweeps import open_run

    before = run_dir / "report_before"
    if not before.exists():
        shutil.copytree(run_dir / "report", before)
    if (run_dir / "classical").exists():
        shutil.rmtree(run_dir / "classical_before", ignore_errors=True)
        (run_dir / "classical").rename(run_dir / "classical_before")
    cwd = Path.cwd()
    with tempfile.TemporaryDirectory() as fresh:
        os.chdir(fresh)
        try:
            open_run(run_dir.resolve(), rebuild=True)
        finally:
            os.chdir(cwd)
    return before / "ranking.csv"


def scores(ranking_csv: Path) -> dict[str, tuple[float, float]]:
    r = pd.read_csv(ranking_csv)
    val = "val_mse_mean" if "val_mse_mean" in r else "val_mse"
    return {str(m): (round(float(v), DECIMALS), round(float(t), DECIMALS))
            for m, v, t in zip(r["model"], r[val], r["test_mse"], strict=True)}


def compare(before: Path, after: Path) -> dict[str, Any]:
    old, new = scores(before), scores(after)
    shared = sorted(set(old) & set(new))
    differ = {m: {"before": old[m], "after": new[m]} for m in shared if old[m] != new[m]
              and not all(pd.isna(a) and pd.isna(b) for a, b in zip(old[m], new[m], strict=True))}
    return {"before": str(before), "after": str(after), "entries": len(shared), "equal": len(shared) - len(differ),
            "differ": differ, "only_before": sorted(set(old) - set(new)), "only_after": sorted(set(new) - set(old))}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", default=BEFORE, help="the earlier commit (default: %(default)s)")
    p.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "parity")
    p.add_argument("--no-sweep", action="store_true", help="skip today's sweeps (the report rebuilds only)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "redesign_parity.json")
    args = p.parse_args(argv)
    args.runs_dir, args.out = args.runs_dir.resolve(), args.out.resolve()
    os.environ.setdefault("WANDB_MODE", "offline")
    # today's sweeps run where no earlier run left a cache (./.cache/data holds classical fits keyed by the data)
    os.chdir(tempfile.mkdtemp(prefix="parity-"))
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"command": " ".join(["benchmarks/redesign_parity.py", *(argv or sys.argv[1:])]),
                               "before": args.before, "decimals": DECIMALS, "data": {}}
    for data, data_args in data_sets().items():
        old_dir, new_dir = args.runs_dir / f"{data}_old", args.runs_dir / f"{data}_new"
        row: dict[str, Any] = {}
        if not (old_dir / "report_before").exists() and not (old_dir / "report" / "ranking.csv").exists():
            row["old_sweep_s"] = round(old_sweep(args.before, args.runs_dir, old_dir.name, data_args), 1)
        row["rebuilt"] = compare(rebuild(old_dir), old_dir / "report" / "ranking.csv")
        if not args.no_sweep:
            if not (new_dir / "report" / "ranking.csv").exists():
                row["new_sweep_s"] = round(new_sweep(args.runs_dir, new_dir.name, data_args), 1)
            row["swept"] = compare(old_dir / "report_before" / "ranking.csv", new_dir / "report" / "ranking.csv")
        results["data"][data] = row
    for data, row in results["data"].items():
        for how in ("rebuilt", "swept"):
            if how in row:
                c = row[how]
                print(f"{data:8s} {how:8s} {c['equal']}/{c['entries']} entries equal to {DECIMALS} decimals; "
                      f"differ: {sorted(c['differ']) or 'none'}; only before: {c['only_before'] or 'none'}; "
                      f"only after: {c['only_after'] or 'none'}")
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
