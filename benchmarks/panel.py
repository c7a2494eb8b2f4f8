"""Global models on the embedded panel: do they beat per-series ridge and seasonal naive, and what does a panel cost?

    python benchmarks/panel.py            # two sweeps of 10 trials, 8 epochs (~5-10 min on 2 busy cores)
    python benchmarks/panel.py --smoke    # one 2-epoch trial of 2 architectures in each sweep; keeps the script working

1. The panel sweep: `sweeps/configs/panel.yaml` (24 synthetic daily series, 28 in / 7 out), every architecture
   trained globally on all series' windows, with a reduced budget that fits a shared 2-core machine: one layer,
   width 32, dropout 0.1, grid norm in {none, window} (2 trials per architecture), `--epochs` epochs, patience 4,
   no ASHA, no seed repeats. The report's validation winner among the architectures is "the global best".
2. Quality, on the panel's test windows: aggregate MASE (mean over series of each series' MASE against its in-sample
   seasonal naive on its own training part) and aggregate MSE (mean of per-series scaled MSE) of the global best,
   of ridge fitted *per series* (one closed-form ridge per series on its own windows, alpha chosen on its own
   validation windows), of the global ridge and of seasonal naive (7 days); and on how many series the global best
   beats per-series ridge.
3. Cost: the same sweep (same models, grid, epochs) on ONE synthetic series of the same recipe whose train /
   validation / test window counts equal the panel's; the wall-time ratio panel / single says what the series axis
   costs beyond the windows themselves.
Results: benchmarks/results/panel.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

ARCHS = ("lstm_ar", "lstm_nar", "gru_ar", "gru_nar", "transformer")
# --smoke: one architecture (the script's logic is the same for any set; each more costs the CI smoke a trial
# in each of its sweeps)
SMOKE_ARCHS = ("gru_nar",)


def model_section(smoke: bool = False) -> dict[str, dict[str, Any]]:
    out = {}
    for arch in SMOKE_ARCHS if smoke else ARCHS:
        size = {"d_model": 32, "nhead": 4} if arch == "transformer" else {"hidden_size": 32}
        out[arch] = {**size, "num_layers": 1, "dropout": 0.1, "norm": {"grid": ["none", "window"]},
                     "linear_skip": False}
    return out


def sweep(name: str, extra: list[str], args: argparse.Namespace) -> float:
    """One sweep through the main command; its wall time in seconds."""
    import yaml

    from sweeps.run_all import main as run

    config = Path(args.runs_dir) / "panel-bench-configs" / f"{name}.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump({"models": model_section(args.smoke)}))
    argv = ["--config", str(config), "--profile", "smoke" if args.smoke else "default", "--runs-dir",
            args.runs_dir, "--name", name, "--wandb-mode", "disabled", "sweep.scheduler=none",
            "sweep.final_seeds=0", "train.seed=0", "window.input=28", "window.output=7",
            f"data.cache_dir={Path(args.runs_dir) / 'panel-bench-cache'}", *extra]
    if not args.smoke:
        argv += [f"train.epochs={args.epochs}", "train.patience=4"]
    started = time.monotonic()
    if run(argv) != 0:
        raise SystemExit(f"the {name} sweep failed; see above")
    return time.monotonic() - started


def single_series_csv(counts: dict[str, int], folder: Path) -> tuple[Path, float, float]:
    """One long series of the panel's recipe whose window counts equal `counts`; with the split fractions that
    give exactly those (train windows need input+output-1 more rows, validation and test output-1 more)."""
    rows = {"train": counts["train"] + 34, "val": counts["val"] + 6, "test": counts["test"] + 6}
    n = sum(rows.values())
    rng = np.random.default_rng(7)
    dates = pd.date_range("1990-01-01", periods=n, freq="D")
    t = np.arange(n) / 365.0
    season = (1 + 0.25 * np.sin(2 * np.pi * dates.day_of_week.to_numpy() / 7)
              + 0.15 * np.sin(2 * np.pi * dates.day_of_year.to_numpy() / 365.25))
    noise = np.zeros(n)
    shocks = rng.normal(0, 0.06, n)
    for k in range(1, n):
        noise[k] = 0.6 * noise[k - 1] + shocks[k]
    value = 100 * (1 + 0.02 * t) * season + 100 * noise
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "single.csv"
    pd.DataFrame({"date": dates, "value": value}).to_csv(path, index=False)
    test_fraction = rows["test"] / n
    val_fraction = rows["val"] / (n - rows["test"])
    return path, val_fraction, test_fraction


def per_series_ridge(data: Any, scales: np.ndarray) -> pd.DataFrame:
    """Ridge fitted on each series alone (its own train windows, alpha on its own validation windows)."""
    from models import build, fit_ridge, predict
    from reports.panel import series_errors

    preds = np.zeros_like(data.test.y)
    for i in range(data.n_series):
        ridge = build("ridge", **{k: v for k, v in data.shapes.items() if k != "n_series"})
        fit_ridge(ridge, data.train.of_series(i), data.val.of_series(i))
        sel = data.test.series == i
        preds[sel] = predict(ridge, data.test.x[sel])
    return series_errors(preds, data.test, data, scales)


def trial_epochs(run_dir: Path) -> dict[str, float]:
    """Trial-epochs and in-loop training seconds of a sweep: wall time per unit of work, beside the wall time."""
    from reports.runs import read_run

    trials = read_run(run_dir).trials
    epochs = sum(t.epochs or 0 for t in trials)
    train_s = sum(t.train_time_s or 0.0 for t in trials)
    return {"trial_epochs": epochs, "train_time_s": round(train_s, 1),
            "train_s_per_trial_epoch": round(train_s / max(1, epochs), 3)}


def summarise(run_dir: Path) -> dict[str, Any]:
    from reports.build import load_data
    from reports.panel import naive_scales
    from reports.runs import read_run

    run = read_run(run_dir)
    data = load_data(run)
    ranking = pd.read_csv(run_dir / "report" / "ranking.csv")
    per_series = pd.read_csv(run_dir / "report" / "series.csv")
    best = ranking[ranking.kind != "baseline"].iloc[0].model
    scales = naive_scales(data, 7)
    ridge_each = per_series_ridge(data, scales)
    by = ranking.set_index("model")
    best_rows = per_series.set_index("series")[f"{best} MASE"]
    beats = int((best_rows.loc[ridge_each.series].to_numpy() < ridge_each.mase.to_numpy()).sum())
    return {
        "global_best": best, "global_best_hparams": by.loc[best, "hparams"],
        "series": data.n_series,
        "mase": {"global_best": float(by.loc[best, "test_mase"]), "ridge_per_series": float(ridge_each.mase.mean()),
                 "ridge_global": float(by.loc["ridge", "test_mase"]),
                 "seasonal_naive": float(by.loc["seasonal_naive", "test_mase"]),
                 "persistence": float(by.loc["persistence", "test_mase"])},
        "mse": {"global_best": float(by.loc[best, "test_mse"]), "ridge_per_series": float(ridge_each.mse.mean()),
                "ridge_global": float(by.loc["ridge", "test_mse"]),
                "seasonal_naive": float(by.loc["seasonal_naive", "test_mse"])},
        "series_where_global_best_beats_ridge_per_series": beats,
        "architectures_test_mase": {m: float(by.loc[m, "test_mase"]) for m in ARCHS if m in by.index},
        "validation_winner_overall": str(ranking.iloc[0].model),
    }


def main(argv: list[str] | None = None) -> None:
    """`argv`: the arguments (default: the command line's); tests/test_benchmarks.py calls this in-process."""
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--runs-dir", default=str(REPO / "runs"))
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/panel.json; --smoke: a temporary folder")
    args = p.parse_args(argv)
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "panel.json", args.smoke)
    suffix = "-smoke" if args.smoke else ""

    panel_name = f"panel-bench{suffix}"
    # the data keys of sweeps/configs/panel.yaml (its window, 28 in / 7 out, is set for both sweeps)
    panel_s = sweep(panel_name, ["data.source=synthetic_panel", "data.id_column=series"], args)
    panel_dir = Path(args.runs_dir) / panel_name
    counts = json.loads((panel_dir / "data_summary.json").read_text())["windows"]
    csv, val_fraction, test_fraction = single_series_csv(counts, Path(args.runs_dir) / "panel-bench-data")
    single_name = f"panel-bench-single{suffix}"
    single_s = sweep(single_name, [f"data.path={csv}", f"split.val_fraction={val_fraction!r}",
                                   f"split.test_fraction={test_fraction!r}"], args)
    single_counts = json.loads((Path(args.runs_dir) / single_name / "data_summary.json").read_text())["windows"]

    quality = summarise(panel_dir)
    record = {"command": " ".join(["benchmarks/panel.py", *argv]), "smoke": args.smoke,
              "epochs": 2 if args.smoke else args.epochs,
              "wall_time_s": {"panel": round(panel_s, 1), "single_series_same_windows": round(single_s, 1),
                              "ratio_panel_over_single": round(panel_s / single_s, 3)},
              "work": {"panel": trial_epochs(panel_dir), "single_series": trial_epochs(Path(args.runs_dir) / single_name)},
              "windows": {"panel": counts, "single_series": single_counts}, **quality}
    m = quality["mase"]
    print(f"\n=== panel: {quality['series']} series, windows train/val/test "
          f"{counts['train']}/{counts['val']}/{counts['test']} ===")
    print(f"test MASE (mean over series): global best {quality['global_best']} {m['global_best']:.3f} | "
          f"ridge per series {m['ridge_per_series']:.3f} | global ridge {m['ridge_global']:.3f} | "
          f"seasonal naive {m['seasonal_naive']:.3f} | persistence {m['persistence']:.3f}")
    print(f"global best beats per-series ridge on {quality['series_where_global_best_beats_ridge_per_series']}"
          f"/{quality['series']} series")
    print(f"wall time: panel {panel_s:.0f} s, single series with the same windows "
          f"({single_counts['train']}/{single_counts['val']}/{single_counts['test']}) {single_s:.0f} s: "
          f"ratio {panel_s / single_s:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2, default=str))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
