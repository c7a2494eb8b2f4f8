"""The classical entries on a real hourly series: mstl beside ets, theta, arima and seasonal naive.

    python benchmarks/classical_hourly.py                    # mstl ets theta arima (~3-8 min on 1 core)
    python benchmarks/classical_hourly.py mstl ets           # a subset

Series: vega_datasets' seattle-temps (hourly temperature normals of Seattle, every hour of 2010: a strong daily
cycle whose amplitude moves with the season, no weekly one), through the project's own pipeline (the calendar
gives MSTL its two seasons, 24 and 168), `window.input=168 window.output=24`, default splits (val / test 15%).
Each classical model is scored by the report's own function (`reports.evaluate.score_data_entries`: fitted once on
the training split, parameters held at every origin); MASE is against the training split's seasonal-naive error
(season 24), as the report's panels. Coverage: split-conformal, and the model's own band raw and after CQR.
Results: benchmarks/results/classical_hourly.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from vega_datasets import local_data

from data_pipeline import build_windowed_data
from data_pipeline.config import DataConfig, SplitConfig, WindowConfig
from reports.evaluate import baseline_scores, score_data_entries
from reports.intervals import band_scores, model_bands
from reports.panel import naive_scales, series_errors
from reports.scoring import ModelScore

LEVELS = (0.8, 0.95)
RESULTS = Path(__file__).parent / "results" / "classical_hourly.json"


def raw_coverage(result: ModelScore, y: np.ndarray, real: np.ndarray, level: float) -> float | None:
    """Share of real test values inside the model's own band, before any calibration."""
    if result.quantiles is None or result.quantile_levels is None:
        return None
    qs = [round(q, 6) for q in result.quantile_levels]
    lo = result.quantiles[..., qs.index(round((1 - level) / 2, 6))]
    hi = result.quantiles[..., qs.index(round((1 + level) / 2, 6))]
    return float((((y >= lo) & (y <= hi)) & real).sum() / real.sum())


def main(models: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "seattle_temps.csv"
        local_data.seattle_temps().to_csv(csv, index=False)
        data = build_windowed_data(DataConfig(path=str(csv), date_column="date"), WindowConfig(input=168, output=24),
                                   SplitConfig(), cache=False)
        started = time.monotonic()
        config = {"baselines": {"classical": models}, "data": {"cache_dir": tmp}}  # no fit reused from elsewhere
        classical, notes = score_data_entries(data, config, ["classical"])
        wall = time.monotonic() - started
    baselines, _ = baseline_scores(data)
    results = [r for r in baselines if r.model in ("seasonal_naive", "persistence")] + classical
    scales = naive_scales(data, 24)
    y = data.test.y
    real = np.ones(y.shape, bool) if data.test.mask is None else data.test.mask.astype(bool)
    rows = []
    for r in results:
        bands = {(b.method, b.level): band_scores(b, data)["coverage"] for b in model_bands(r, data, LEVELS)}
        rows.append({
            "model": r.model, "form": (r.hparams or {}).get("form", ""), "val_mse": r.val_mse,
            "test_mse": r.test["mse"], "val_mase": float(series_errors(r.val_pred, data.val, data, scales).mase.mean()),
            "test_mase": float(series_errors(r.y_pred, data.test, data, scales).mase.mean()),
            "fit_time_s": r.train_time_s,
            **{f"conformal_{lv:g}": bands[("conformal", lv)] for lv in LEVELS},
            **{f"own_raw_{lv:g}": raw_coverage(r, y, real, lv) for lv in LEVELS},
            **{f"own_cqr_{lv:g}": bands.get(("cqr", lv)) for lv in LEVELS},
        })
    print(f"train / val / test windows {len(data.train)} / {len(data.val)} / {len(data.test)}; "
          f"classical fitting and forecasting {wall:.0f} s wall")
    print("\n".join(notes))
    for row in rows:
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    RESULTS.write_text(json.dumps({"series": "vega_datasets seattle-temps (hourly, 2010)", "window": [168, 24],
                                   "classical_wall_s": round(wall, 1), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or ["mstl", "ets", "theta", "arima"])
