"""Score each model's chosen trial once on the test split, beside the persistence and ridge baselines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data_pipeline import WindowedData
from models import build, count_parameters, fit_ridge, predict, scores

BOOTSTRAP_SAMPLES = 2000


@dataclass
class ModelScore:
    model: str
    kind: str  # trained | baseline
    val_mse: float
    test: dict[str, Any]  # models.scores() on the test split
    y_pred: np.ndarray  # (n_windows, n_outputs, n_targets), scaled
    params: int
    hparams: dict[str, Any] = field(default_factory=dict)
    epochs: int | None = None
    train_time_s: float | None = None
    trial_id: str | None = None
    quantiles: np.ndarray | None = None  # (n_windows, n_outputs, n_targets, len(quantile_levels)), scaled
    # Validation forecasts, kept so reports/intervals.py can calibrate intervals without touching test targets.
    val_pred: np.ndarray | None = None  # (n_val_windows, n_outputs, n_targets), scaled
    val_quantiles: np.ndarray | None = None
    quantile_levels: tuple[float, ...] | None = None


def score_model(name: str, model: Any, data: WindowedData, *, kind: str, **info: Any) -> ModelScore:
    val_mse = info.pop("val_mse", None)
    val_pred = predict(model, data.val.x, future=data.val.future)
    if val_mse is None:
        val_mse = scores(data.val.y, val_pred, data)["mse"]
    y_pred = predict(model, data.test.x, future=data.test.future)
    # Ridge keeps its closed-form weights in buffers: count them; persistence has nothing to learn.
    params = count_parameters(model, trainable_only=False)
    if name == "ridge":
        params += sum(b.numel() for n, b in model.named_buffers() if n != "alpha")
    return ModelScore(name, kind, float(val_mse), scores(data.test.y, y_pred, data), y_pred, params,
                      val_pred=val_pred, **info)


def baseline_scores(data: WindowedData) -> list[ModelScore]:
    persistence = build("persistence", **data.shapes)
    ridge = build("ridge", **data.shapes)
    chosen = fit_ridge(ridge, data.train, data.val)
    return [
        score_model("persistence", persistence, data, kind="baseline"),
        score_model("ridge", ridge, data, kind="baseline", val_mse=chosen["val_mse"],
                    hparams={"alpha": chosen["alpha"]}),
    ]


def bootstrap_mse_diff(err_model: np.ndarray, err_ref: np.ndarray, block: int, seed: int = 0) -> tuple[float, float]:
    """95% interval of MSE(model) - MSE(reference) by a moving-block bootstrap over consecutive test windows.

    Windows advance one day at a time, so a day's error appears in up to `block` (= n_outputs) windows and
    neighbouring windows are far from independent: resampling single windows would make the interval too narrow.
    Resampling runs of `block` consecutive windows keeps that dependence inside each draw.
    """
    per_window = (err_model**2).reshape(len(err_model), -1).mean(1) - (err_ref**2).reshape(len(err_ref), -1).mean(1)
    n = len(per_window)
    block = max(1, min(block, n))
    n_blocks = int(np.ceil(n / block))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - block + 1, size=(BOOTSTRAP_SAMPLES, n_blocks))
    idx = (starts[..., None] + np.arange(block)).reshape(BOOTSTRAP_SAMPLES, -1)[:, :n]
    means = per_window[idx].mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def ranking_table(results: list[ModelScore], data: WindowedData) -> pd.DataFrame:
    ref = next(r for r in results if r.model == "persistence")
    ref_err = ref.y_pred - data.test.y
    rows = []
    for r in sorted(results, key=lambda r: r.test["mse"]):
        lo, hi = bootstrap_mse_diff(r.y_pred - data.test.y, ref_err, block=data.n_outputs)
        rows.append({
            "model": r.model,
            "kind": r.kind,
            "test_mse": r.test["mse"],
            "test_mae": r.test["mae"],
            "val_mse": r.val_mse,
            "skill_vs_persistence": 1.0 - r.test["mse"] / ref.test["mse"],
            "mse_diff_vs_persistence_ci_low": lo,
            "mse_diff_vs_persistence_ci_high": hi,
            "hparams": ", ".join(f"{k}={v}" for k, v in sorted(r.hparams.items())),
            "params": r.params,
            "epochs": r.epochs,
            "train_time_s": r.train_time_s,
            "trial_id": r.trial_id,
            "test_windows": r.test["n_windows"],
        })
    table = pd.DataFrame(rows)
    table.insert(1, "rank", range(1, len(table) + 1))
    return table


def per_target_table(results: list[ModelScore]) -> pd.DataFrame:
    rows = []
    for r in results:
        for target, m in r.test["per_target"].items():
            rows.append({"model": r.model, "target": target, "rmse": m["rmse"], "mae": m["mae"]})
    return pd.DataFrame(rows)


def per_horizon_table(results: list[ModelScore]) -> pd.DataFrame:
    return pd.DataFrame(
        {r.model: r.test["per_horizon_mse"] for r in results},
        index=pd.Index(range(1, len(results[0].test["per_horizon_mse"]) + 1), name="horizon_day"),
    )


def predictions_frame(results: list[ModelScore], data: WindowedData) -> pd.DataFrame:
    """Long format, original units: model, forecast_origin, horizon, target, y_true, y_pred."""
    n, h, k = data.test.y.shape
    y_true = data.targets_to_original(data.test.y)
    origin = np.repeat(pd.to_datetime(data.test.origin).values, h * k)
    horizon = np.tile(np.repeat(np.arange(1, h + 1), k), n)
    target = np.tile(np.array(data.target_names, dtype=object), n * h)
    frames = []
    for r in results:
        frames.append(pd.DataFrame({
            "model": r.model, "forecast_origin": origin, "horizon": horizon, "target": target,
            "y_true": y_true.reshape(-1), "y_pred": data.targets_to_original(r.y_pred).reshape(-1),
        }))
    return pd.concat(frames, ignore_index=True)
