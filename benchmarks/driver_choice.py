"""Ridge's and ARIMA's choice of the user's drivers, on four real series (issue 42's shuffled-driver control).

Ridge reads the user's known-future columns only where they lower its validation MSE (models.fit_ridge's
`drivers`); ARIMA regresses on them only where they lower its AICc (models/classical.py). This measures both
choices without a sweep, on one split per series, in three arms: `none` (the target alone), `known` (the drivers as
data.known_future) and `shuffled` (the drivers permuted in time: they carry nothing). Per arm: ridge's test MSE
with the choice and with every column read (the rule before the choice), whether it read the drivers, and ARIMA's
test MSE with the form AICc chose. MSE in the run's scaled units (train-split z-scores), on the same test windows
in every arm.

    elecdaily, chicago   the covariates benchmark's daily series (benchmarks/covariates_data.py), 28 days in, 7 out
    seatbelts            UK drivers killed a month ~ petrol price and distance driven, 24 months in, 6 out
    us_change            US consumption growth ~ income, production, savings, unemployment, 8 quarters in, 4 out

    python benchmarks/driver_choice.py                    # the four series (about 30 s on 2 cores)
    python benchmarks/driver_choice.py --permutations 10  # and how often ARIMA keeps shuffled drivers (~2 min)
    python benchmarks/driver_choice.py --smoke            # us_change only: checks the script runs

--permutations N: per series, N more permutations of the drivers (seeds 100..), ARIMA fitted on the training rows
(the split's 70%) each time; counts the fits that kept any shuffled column (false inclusions), beside whether the
real drivers are kept on the same rows.

Results: a table on stdout and benchmarks/results/driver_choice.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

WINDOW = {"elecdaily": (28, 7), "chicago": (28, 7), "seatbelts": (24, 6), "us_change": (8, 4)}
ARMS = ("none", "known", "shuffled")


def arm_windows(data: Any, arm: str, work: Path):
    """The arm's windowed data: the same split and windows in every arm, only the drivers differ."""
    from covariates_data import shuffled

    from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data

    source = shuffled(data) if arm == "shuffled" else data
    path = work / f"{data.name}-{arm}.csv"
    source.frame.to_csv(path, index=False)
    known = None if arm == "none" else list(data.drivers)
    cfg = DataConfig(path=str(path), targets=[data.target], known_future=known,
                     features=[data.target] if arm == "none" else None, outlier_policy="keep")
    n_in, n_out = WINDOW[data.name]
    return build_windowed_data(cfg, WindowConfig(input=n_in, output=n_out), SplitConfig(), cache=False)


def measure_arm(wd) -> dict[str, Any]:
    from models import build, fit_ridge, predict
    from models.forecasters.base import Span
    from models.forecasters.classical_fits import classical_runs
    from models.forecasters.naive import Ridge

    def test_mse(pred: np.ndarray) -> float:
        return float(np.mean((pred - wd.test.y) ** 2))

    ridge = Ridge()
    chosen = ridge.fit(Span(wd, fold=1, own=True)).predict("test").point
    every = build("ridge", **wd.shapes)
    fit_ridge(every, wd.train, wd.val)  # no `drivers`: every column read, the rule before the choice
    runs, _ = classical_runs(wd, ["arima"], None, quiet=True)
    return {"test_windows": len(wd.test), "ridge": test_mse(chosen), "ridge_reads_drivers": bool(ridge.reads_drivers),
            "ridge_every_column": test_mse(predict(every, wd.test.x, future=wd.test.future)),
            "arima": test_mse(runs[0].test_pred), "arima_form": runs[0].fits[0].form,
            "arima_reads": list(runs[0].fits[0].spec.get("exog") or [])}


SEASON = {"elecdaily": 7, "chicago": 7, "seatbelts": 12, "us_change": None}


def false_inclusions(data: Any, permutations: int) -> dict[str, Any]:
    """How many of `permutations` shuffles of the drivers ARIMA keeps, fitted on the first 70% of the rows."""
    from covariates_data import shuffled

    from models.classical import fit_classical

    n = int(len(data.frame) * 0.7)
    y = data.frame[data.target].to_numpy(float)[:n]
    kept = 0
    for seed in range(100, 100 + permutations):
        exog = shuffled(data, seed).frame[data.drivers].iloc[:n]
        kept += bool(fit_classical("arima", y, SEASON[data.name], exog=exog).spec.get("exog"))
    real = fit_classical("arima", y, SEASON[data.name], exog=data.frame[data.drivers].iloc[:n]).spec.get("exog")
    return {"permutations": permutations, "shuffled_kept": kept, "real_kept": list(real or [])}


def main(argv: list[str] | None = None) -> None:
    import tempfile

    from covariates_data import load

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", default=list(WINDOW), choices=list(WINDOW))
    p.add_argument("--smoke", action="store_true", help="us_change only")
    p.add_argument("--permutations", type=int, default=0, help="count ARIMA's false inclusions over N shuffles")
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/driver_choice.json; --smoke: a temporary folder")
    args = p.parse_args(argv)
    from results_path import results_path, write_results  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "driver_choice.json", args.smoke)
    names = ["us_change"] if args.smoke else args.data
    results: dict[str, Any] = {"command": " ".join(["benchmarks/driver_choice.py", *(argv or sys.argv[1:])]),
                               "metric": "test MSE, scaled units", "datasets": {}}
    print(f"{'data':10} {'arm':9} {'ridge':>8} {'reads':>6} {'every col':>10} {'arima':>8}  arima's form")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            data = load(name)
            rows = {arm: measure_arm(arm_windows(data, arm, Path(tmp))) for arm in ARMS}
            results["datasets"][name] = {"source": data.source, "drivers": list(data.drivers),
                                         "window": list(WINDOW[name]), "arms": rows}
            for arm, r in rows.items():
                print(f"{name:10} {arm:9} {r['ridge']:8.4f} {'yes' if r['ridge_reads_drivers'] else 'no':>6} "
                      f"{r['ridge_every_column']:10.4f} {r['arima']:8.4f}  {r['arima_form']}")
    for name in names if args.permutations else []:
        found = false_inclusions(load(name), args.permutations)
        results["datasets"][name]["arima_false_inclusions"] = found
        print(f"{name:10} ARIMA kept shuffled drivers in {found['shuffled_kept']} of {found['permutations']} "
              f"permutations; the real ones: {', '.join(found['real_kept']) or 'none'}")
    write_results(args.out, results)


if __name__ == "__main__":
    main()
