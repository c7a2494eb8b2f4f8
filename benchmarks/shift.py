"""Do the deep models hold up when the level moves? Trend, level shift, random walk, and a real trending series.

    python benchmarks/shift.py            # 4 cases x 2 variants, 4 trials per architecture each (~10 min, 2 cores)
    python benchmarks/shift.py --smoke    # the co2 case, one 2-epoch trial of GRU-AR; keeps it working

Cases (seeds fixed; the last 15% of each series is test, so with a trend the test range lies beyond training):
    trend        daily, linear trend + weekly and yearly seasonality + noise
    level_shift  daily, stationary seasonal series that jumps by 6 noise-sds just before the test period
    random_walk  daily, cumulative Gaussian noise: persistence is optimal, nothing should beat it beyond noise
    co2          weekly Mauna Loa CO2 1958-2001 (statsmodels' bundled `co2` dataset; `pip install .[bench]`)

Variants, the same budget of 4 trials per architecture (chosen on validation, scored once on test):
    plain     norm=none, linear_skip=false, no calendar inputs; grid hidden size x dropout
    options   grid norm in {window, revin} x linear_skip in {true, false}; calendar features on (so the decoders also
              read the forecast days' calendar values)
Against persistence and ridge (the lower ridge of the two variants: with calendar inputs it differs slightly).
Prints test MSE per model and the ratios (best architecture / ridge, each architecture / persistence), and the 95%
moving-block interval of MSE - MSE(persistence) that the report shows. Results: benchmarks/results/shift.json.
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
# --smoke: one architecture (the comparison's logic is the same for any set)
SMOKE_ARCHS = ("gru_ar",)
TRENDING = ("trend", "level_shift", "co2")
WINDOWS = {"trend": (30, 7), "level_shift": (30, 7), "random_walk": (30, 7), "co2": (52, 8)}


# ------------------------------------------------------------------------------------------------- data


def synthetic(case: str, n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    season = 1.5 * np.sin(2 * np.pi * t / 7) + 2.0 * np.sin(2 * np.pi * t / 365.25)
    noise = 0.5 * rng.standard_normal(n)
    if case == "trend":
        value = 0.03 * t + season + noise
    elif case == "level_shift":
        # the jump comes just before the test period (the last 15%), inside validation: training never sees it
        value = season + noise + 3.0 * (t >= int(0.80 * n))
    elif case == "random_walk":
        value = np.cumsum(rng.standard_normal(n))
    else:
        raise ValueError(f"unknown synthetic case {case!r}")
    return pd.DataFrame({"date": pd.date_range("2015-01-01", periods=n, freq="D"), "value": value})


def co2() -> pd.DataFrame:
    try:
        from statsmodels.datasets import co2 as dataset
    except ImportError as err:
        raise SystemExit("the co2 case needs statsmodels: pip install -c constraints.txt '.[bench]'") from err
    frame = dataset.load_pandas().data  # weekly, 59 missing weeks: the pipeline fills them forward and says so
    return frame.rename_axis("date").reset_index()


def write_case(case: str, folder: Path, n: int) -> Path:
    frame = co2() if case == "co2" else synthetic(case, n)
    path = folder / f"{case}.csv"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------------------------- sweeps


def model_section(variant: str, archs: tuple[str, ...] = ARCHS) -> dict[str, dict[str, Any]]:
    """Four trials per architecture in either variant; one layer, so the budget fits a shared 2-core machine."""
    out = {}
    for arch in archs:
        size = {"d_model": 32, "nhead": 4} if arch == "transformer" else {"hidden_size": 32}
        if variant == "plain":
            width = "d_model" if arch == "transformer" else "hidden_size"
            out[arch] = {**size, width: {"grid": [32, 64]}, "num_layers": 1, "dropout": {"grid": [0.0, 0.1]},
                         "norm": "none", "linear_skip": False}
        else:
            # linear_skip true first: the smoke profile keeps each grid's first value
            out[arch] = {**size, "num_layers": 1, "dropout": 0.1, "norm": {"grid": ["window", "revin"]},
                         "linear_skip": {"grid": [True, False]}}
    return out


def run_case(case: str, variant: str, path: Path, args: argparse.Namespace) -> pd.DataFrame:
    import yaml

    from sweeps.run_all import main as sweep

    n_in, n_out = WINDOWS[case]
    config = Path(args.runs_dir) / "shift-configs" / f"{case}-{variant}.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump({"models": model_section(variant, SMOKE_ARCHS if args.smoke else ARCHS)}))
    name = f"shift-{case}-{variant}{'-smoke' if args.smoke else ''}"
    argv = ["--config", str(config), "--profile", "smoke" if args.smoke else "default", "--runs-dir",
            args.runs_dir, "--name", name, "--wandb-mode", "disabled", f"data.path={path}", "data.targets=[value]"
            if case != "co2" else "data.targets=[co2]", f"window.input={n_in}", f"window.output={n_out}",
            f"data.calendar_features={'true' if variant == 'options' else 'false'}",
            f"data.cache_dir={Path(args.runs_dir) / 'shift-cache'}", "sweep.scheduler=none", "train.seed=0"]
    if not args.smoke:
        argv += [f"train.epochs={args.epochs}", f"train.patience={args.patience}"]
    if not args.summary_only and sweep(argv) != 0:
        raise SystemExit(f"the {case}/{variant} sweep failed; see above")
    return Path(args.runs_dir) / name / "report"


def errors(report: Path, model: str) -> np.ndarray:
    """(windows, horizon, targets) forecast errors of one model on the test windows, original units."""
    frame = pd.read_parquet(report / "predictions.parquet")
    frame = frame[frame.model == model].sort_values(["forecast_origin", "horizon", "target"])
    n_windows, n_h = frame.forecast_origin.nunique(), frame.horizon.nunique()
    return (frame.y_pred - frame.y_true).to_numpy().reshape(n_windows, n_h, -1)


# --------------------------------------------------------------------------------------------- verdict


def summarise(case: str, reports: dict[str, Path]) -> dict[str, Any]:
    from reports.scoring import bootstrap_mse_diff

    rankings = {v: pd.read_csv(r / "ranking.csv") for v, r in reports.items()}

    def mse(variant: str, model: str) -> float:
        r = rankings[variant]
        return float(r.loc[r.model == model, "test_mse"].iloc[0])

    persistence = mse("plain", "persistence")
    ridge_variant = min(rankings, key=lambda v: mse(v, "ridge"))
    ridge = mse(ridge_variant, "ridge")
    ridge_err = errors(reports[ridge_variant], "ridge")
    out: dict[str, Any] = {"persistence": persistence, "ridge": ridge,
                           "ridge_by_variant": {v: mse(v, "ridge") for v in rankings}, "variants": {}}
    for variant, r in rankings.items():
        arch = r[r.model.isin(ARCHS)].set_index("model")
        best = arch.test_mse.idxmin()
        # is the best architecture's gap to ridge more than noise? the report's moving-block bootstrap, relative
        lo, hi = bootstrap_mse_diff(errors(reports[variant], best), ridge_err, block=ridge_err.shape[1])
        ridge_mse_orig = float(np.mean(ridge_err**2))
        out["variants"][variant] = {
            "test_mse": arch.test_mse.to_dict(),
            "hparams": arch.hparams.to_dict(),
            "best": best,
            "best_over_ridge": float(arch.test_mse.min() / ridge),
            "best_minus_ridge_ci_relative": [lo / ridge_mse_orig, hi / ridge_mse_orig],
            "over_persistence": (arch.test_mse / persistence).to_dict(),
            # the report's claim: the 95% interval of MSE - MSE(persistence) entirely below zero
            "reliably_beats_persistence": (arch.vs_persistence_ci_high < 0).to_dict(),
            "ci": {m: [float(lo), float(hi)] for m, lo, hi in zip(arch.index, arch.vs_persistence_ci_low,
                                                                   arch.vs_persistence_ci_high,
                                                                   strict=True)},
        }
    if case in TRENDING:
        v = out["variants"]["options"]
        out["done"] = {"best_le_ridge": v["best_over_ridge"] <= 1.0,
                       "every_arch_below_persistence": all(x < 1.0 for x in v["over_persistence"].values())}
    else:
        # judged on the options variant, as for the trending cases; the plain variant's claims are listed beside
        claims = {v: [m for m, yes in x["reliably_beats_persistence"].items() if yes]
                  for v, x in out["variants"].items()}
        out["done"] = {"no_claim_beyond_noise": not claims["options"], "claims": claims}
    return out


def print_case(case: str, s: dict[str, Any]) -> None:
    print(f"\n=== {case}: test MSE (scaled) — persistence {s['persistence']:.4f}, ridge {s['ridge']:.4f} ===")
    rows = []
    swept = next(iter(s["variants"].values()))["test_mse"]
    for arch in [a for a in ARCHS if a in swept]:
        row = {"model": arch}
        for variant, v in s["variants"].items():
            row[f"{variant} mse"] = v["test_mse"][arch]
            row[f"{variant} /persistence"] = v["over_persistence"][arch]
            lo, hi = v["ci"][arch]
            row[f"{variant} CI vs persistence"] = f"[{lo:+.3f}, {hi:+.3f}]"
        rows.append(row)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    for variant, v in s["variants"].items():
        lo, hi = v["best_minus_ridge_ci_relative"]
        print(f"  {variant}: best {v['best']} ({v['hparams'][v['best']]}), best/ridge {v['best_over_ridge']:.3f} "
              f"(95% CI of (MSE - MSE(ridge)) / MSE(ridge): [{lo:+.3f}, {hi:+.3f}])")
    print(f"  done: {s['done']}")


def main(argv: list[str] | None = None) -> None:
    """`argv`: the arguments (default: the command line's); tests/test_benchmarks.py calls this in-process."""
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--cases", default=None, help="comma-separated subset of trend,level_shift,random_walk,co2")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--patience", type=int, default=8)
    p.add_argument("--length", type=int, default=1200, help="days of each synthetic series")
    p.add_argument("--runs-dir", default=str(REPO / "runs"))
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/shift.json; --smoke: a temporary folder")
    p.add_argument("--summary-only", action="store_true", help="re-read the finished runs' rankings; no sweeps")
    args = p.parse_args(argv)
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "shift.json", args.smoke)
    # --smoke: the real-data case only (the synthetic cases differ only in how their series is made)
    default_cases = "co2" if args.smoke else "trend,level_shift,random_walk,co2"
    cases = [c.strip() for c in (args.cases or default_cases).split(",") if c.strip()]
    length = 300 if args.smoke else args.length

    started = time.monotonic()
    results: dict[str, Any] = {}
    for case in cases:
        path = Path(args.runs_dir) / "shift-data" / f"{case}.csv"
        if not args.summary_only:
            path = write_case(case, Path(args.runs_dir) / "shift-data", length)
        reports = {variant: run_case(case, variant, path, args) for variant in ("plain", "options")}
        results[case] = summarise(case, reports)
    elapsed = time.monotonic() - started
    for case, s in results.items():
        print_case(case, s)
    record: dict[str, Any] = {"command": " ".join(["benchmarks/shift.py", *argv]),
                              "wall_time_s": round(elapsed, 1), "cases": results}
    if args.summary_only and Path(args.out).exists():
        # keep the measuring run's command and time: this call only re-read its rankings
        old = json.loads(Path(args.out).read_text())
        record.update(command=old.get("command"), wall_time_s=old.get("wall_time_s"))
    else:
        print(f"\nall sweeps: {elapsed:.0f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2, default=str))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
