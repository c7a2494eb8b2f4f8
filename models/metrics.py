"""Predictions and scores. Scaled-unit MSE/MAE for model selection; per-target RMSE/MAE in original units."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from data_pipeline.types import SplitWindows, WindowedData, score_weights
from models.blocks import series_kwargs


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def model_device(model: nn.Module) -> torch.device:
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


@torch.no_grad()
def predict(
    model: nn.Module,
    x: np.ndarray,
    batch_size: int = 1024,
    device: str | torch.device | None = None,
    future: np.ndarray | None = None,
    series: np.ndarray | None = None,
) -> np.ndarray:
    """Scaled forecasts (n, n_outputs, n_targets) float32, in eval mode; y is never passed.

    `future`: the windows' known-future inputs (SplitWindows.future), for models built with n_future > 0.
    `series`: the windows' series ids (SplitWindows.series), for models built with a series embedding.
    """
    device = torch.device(device) if device is not None else model_device(model)
    was_training = model.training
    model.eval()
    try:
        xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
        ft = None if future is None else torch.as_tensor(np.asarray(future, dtype=np.float32))
        st = None if series is None else torch.as_tensor(np.asarray(series, dtype=np.int64))

        def batch(i: int) -> torch.Tensor:
            f = None if ft is None else ft[i : i + batch_size].to(device)
            ids = series_kwargs(model, None if st is None else st[i : i + batch_size].to(device))
            return model(xt[i : i + batch_size].to(device), future=f, **ids).float().cpu()

        outs = [batch(i) for i in range(0, len(xt), batch_size)]
    finally:
        model.train(was_training)
    if not outs:
        raise ValueError("predict: x holds no windows")
    return torch.cat(outs).numpy()


def fold_mean(fold_mses: list[float] | np.ndarray) -> float:
    """The score of validation MSEs on several backtest folds: their geometric mean.

    Folds differ in difficulty (a shock, a harder season) and each is in its own scaled units, so an arithmetic
    mean lets the hardest fold decide: on a real monthly panel one shock fold, where every model errs five times
    as much, chose an entry that lost 11% on test to one better on the other two folds. The geometric mean counts
    each fold's ratios alike (A beats B when the mean log ratio of their fold MSEs is below zero), and equals the
    plain MSE with one fold. A perfect fold (MSE 0) is floored so the logarithm stays finite.
    """
    values = np.asarray(fold_mses, dtype=np.float64)
    if values.size == 0:
        return float("nan")
    return float(np.exp(np.mean(np.log(np.maximum(values, 1e-12)))))


def _mean(values: np.ndarray, weight: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Mean over the cells with weight 1 (NaN where none is)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(values * weight, axis=axis) / np.sum(weight, axis=axis)


def scores(y_true_scaled: np.ndarray, y_pred_scaled: np.ndarray, data: WindowedData,
           mask: np.ndarray | None = None, series: np.ndarray | None = None) -> dict:
    """Scores from saved predictions; same dict as `evaluate`. `mask` (like y, bool) keeps the cells to score:
    targets that were missing or flagged in the source are left out, for every model alike. `series`: each
    window's series id, needed for a panel (each series has its own scaler); with several series every score is
    the mean over series of that series' own score (SplitWindows.score_weights), so long series weigh no more."""
    yt = np.asarray(y_true_scaled, dtype=np.float64)
    yp = np.asarray(y_pred_scaled, dtype=np.float64)
    if yt.shape != yp.shape:
        raise ValueError(f"shape mismatch: y_true {yt.shape} vs y_pred {yp.shape}")
    if data.is_panel and series is None:
        raise ValueError("scores: this data holds several series; pass each window's series id (split.series)")
    observed = np.ones_like(yt) if mask is None else np.asarray(mask, dtype=np.float64)
    weights = score_weights(yt.shape, mask, series)
    w = observed if weights is None else weights
    err = yp - yt
    err_orig = data.targets_to_original(yp, series) - data.targets_to_original(yt, series)
    per_target = {
        name: {
            "rmse": float(np.sqrt(_mean(err_orig[..., j] ** 2, w[..., j]))),
            "mae": float(_mean(np.abs(err_orig[..., j]), w[..., j])),
        }
        for j, name in enumerate(data.target_names)
    }
    return {
        "mse": float(_mean(err**2, w)),
        "mae": float(_mean(np.abs(err), w)),
        "per_target": per_target,
        "per_horizon_mse": [float(v) for v in _mean(err**2, w, axis=(0, 2))],
        "n_windows": int(yt.shape[0]),
        "masked_cells": int(observed.size - observed.sum()),
    }


def score_split(y_pred_scaled: np.ndarray, split: SplitWindows, data: WindowedData) -> dict:
    """`scores` of forecasts for `split`'s windows: its targets, mask and series ids."""
    return scores(split.y, y_pred_scaled, data, split.mask, split.series)


def evaluate(model: nn.Module, split: SplitWindows, data: WindowedData) -> dict:
    """{"mse", "mae"} scaled (mean over windows x horizons x targets), "per_target" {name: {rmse, mae}} in
    original units, "per_horizon_mse" (scaled, one per forecast day), "n_windows"; unobserved targets (the
    split's mask) left out."""
    return score_split(predict(model, split.x, future=split.future, series=split.series), split, data)
