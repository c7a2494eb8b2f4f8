"""Peak memory of ARIMA's order selection against one fit of the order it chose, on seasonal sub-daily series.

statsmodels' ARIMA results hold filter output that grows with the series' length times the seasonal lag. Order
selection fits six (p, q) orders (twelve with regressors); it kept every candidate's results until the choice, so
its peak was the sum of theirs: 11.3 GB for 2000 half-hourly steps with a daily season (48), and a process fitting
5760 such steps was killed at 24 GB. It now keeps each candidate's criteria and parameters only (models.classical.
OrderFit). Each measurement runs in a fresh process (peak resident memory, ru_maxrss):

    selection   models.classical.fit_classical("arima", y, season): every order, the choice
    one fit     the chosen order fitted once (statsmodels, innovations MLE): the floor selection can reach

and the table prints their ratio (1.0: selection never holds more than one fit's output at a time).

    python benchmarks/arima_memory.py            # (2000 steps, season 48), (4000, 24): about 3 minutes
    python benchmarks/arima_memory.py --smoke    # (300, 24): checks the script runs

Results: the table on stdout and benchmarks/results/arima_memory.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

CASES = ((2000, 48), (4000, 24))
SMOKE_CASES = ((300, 24),)

# Each runs in a fresh interpreter and prints one JSON line. SELECTION: argv n, season.
SELECTION = r"""
import json, resource, sys, time
import numpy as np
from models.classical import fit_classical
n, season = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
t = np.arange(n)
y = 10 + 3 * np.sin(2 * np.pi * t / season) + np.cumsum(rng.normal(0, 0.05, n)) + rng.normal(0, 0.5, n)
started = time.perf_counter()
fit = fit_classical("arima", y, season)
print(json.dumps({"form": fit.form, "seconds": time.perf_counter() - started,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                  "spec": {k: fit.spec[k] for k in ("order", "seasonal_order", "trend")}}))
"""

# ONE_FIT: argv n, season, the chosen spec (JSON); the same series.
ONE_FIT = r"""
import json, resource, sys, time
import numpy as np
from models.classical import _arima
n, season, spec = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
rng = np.random.default_rng(0)
t = np.arange(n)
y = 10 + 3 * np.sin(2 * np.pi * t / season) + np.cumsum(rng.normal(0, 0.05, n)) + rng.normal(0, 0.5, n)
started = time.perf_counter()
_arima(y, {**spec, "exog": []}).fit(method="innovations_mle")
print(json.dumps({"seconds": time.perf_counter() - started,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))
"""


def child(code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the measurement {args} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    from results_path import results_path, write_results

    out = results_path(args.out, "arima_memory.json", args.smoke)
    rows = []
    print(f"{'steps':>6} {'season':>6} {'form':28} {'selection GB':>12} {'one fit GB':>10} {'ratio':>6} {'selection s':>11}")
    for n, season in SMOKE_CASES if args.smoke else CASES:
        selection = child(SELECTION, str(n), str(season))
        one = child(ONE_FIT, str(n), str(season), json.dumps(selection["spec"]))
        row = {"steps": n, "season": season, "form": selection["form"], "selection_peak_gb": selection["peak_gb"],
               "one_fit_peak_gb": one["peak_gb"], "ratio": selection["peak_gb"] / one["peak_gb"],
               "selection_s": selection["seconds"], "one_fit_s": one["seconds"]}
        rows.append(row)
        print(f"{n:6d} {season:6d} {row['form']:28} {row['selection_peak_gb']:12.2f} {row['one_fit_peak_gb']:10.2f} "
              f"{row['ratio']:6.2f} {row['selection_s']:11.1f}", flush=True)
    write_results(out, {"command": " ".join(["benchmarks/arima_memory.py", *(argv or sys.argv[1:])]), "cases": rows})


if __name__ == "__main__":
    main()
