"""Baselines every trained model has to beat.

persistence  every forecast day repeats the last observed target values. Nothing to fit.
ridge        one linear map from the flattened input window to the flattened output window, fitted in closed
             form by `fit_ridge`. It predicts the change from the last observed value, so a large penalty
             shrinks it towards persistence rather than towards zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from data_pipeline.types import SplitWindows

DEFAULT_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)
PERSISTENCE_HPARAMS: dict = {}
RIDGE_HPARAMS = {"alphas": DEFAULT_ALPHAS}


class Persistence(nn.Module):
    def __init__(self, n_features: int, n_targets: int, n_inputs: int, n_outputs: int, n_future: int = 0):
        super().__init__()
        self.n_targets, self.n_outputs = n_targets, n_outputs
        # a buffer so .to(device), state_dict and checkpointing work like for any other model
        self.register_buffer("dummy", torch.zeros(()))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, future: torch.Tensor | None = None) -> torch.Tensor:
        last = x[:, -1, : self.n_targets]
        return last.unsqueeze(1).expand(-1, self.n_outputs, -1).contiguous()


class Ridge(nn.Module):
    def __init__(
        self,
        n_features: int,
        n_targets: int,
        n_inputs: int,
        n_outputs: int,
        n_future: int = 0,  # accepted for a uniform build(); ridge reads the input window only
        alphas: Sequence[float] = DEFAULT_ALPHAS,
    ):
        super().__init__()
        if not alphas or any(a <= 0 for a in alphas):
            raise ValueError(f"alphas must be a non-empty sequence of positive numbers, got {alphas!r}")
        self.n_targets, self.n_outputs = n_targets, n_outputs
        self.alphas = tuple(float(a) for a in alphas)
        n_in, n_out = n_inputs * n_features, n_outputs * n_targets
        # buffers, not parameters: gradient descent has nothing to do here, fit_ridge sets them
        self.register_buffer("weight", torch.zeros(n_in, n_out))
        self.register_buffer("bias", torch.zeros(n_out))
        # the chosen penalty; NaN = not fitted yet
        self.register_buffer("alpha", torch.tensor(float("nan"), dtype=torch.float64))
        # untrained, it is exactly persistence

    @property
    def fitted(self) -> bool:
        return bool(torch.isfinite(self.alpha))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, future: torch.Tensor | None = None) -> torch.Tensor:
        last = x[:, -1, : self.n_targets]
        delta = x.flatten(1) @ self.weight + self.bias
        return last.unsqueeze(1) + delta.view(-1, self.n_outputs, self.n_targets)


def _design(split: SplitWindows, n_targets: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(split.x, dtype=np.float64)
    y = np.asarray(split.y, dtype=np.float64)
    residual = y - x[:, -1:, :n_targets]
    return x.reshape(len(x), -1), residual.reshape(len(y), -1)


def fit_ridge(
    model: Ridge, train: SplitWindows, val: SplitWindows, alphas: Sequence[float] | None = None
) -> dict:
    """Closed-form ridge for each alpha on `train`; keep the alpha with the lowest MSE on `val`.

    One eigendecomposition of the centred Gram matrix serves every alpha. The intercept is not penalised
    (it comes from the centring). Returns {"alpha", "val_mse", "val_mse_by_alpha"}; val_mse in scaled units.
    """
    alphas = tuple(alphas) if alphas is not None else model.alphas
    xt, rt = _design(train, model.n_targets)
    xv, rv = _design(val, model.n_targets)
    if not (np.isfinite(xt).all() and np.isfinite(rt).all()):
        raise ValueError("ridge: training windows contain non-finite values")
    x_mean, r_mean = xt.mean(0), rt.mean(0)
    xc, rc = xt - x_mean, rt - r_mean
    evals, evecs = np.linalg.eigh(xc.T @ xc)
    proj = evecs.T @ (xc.T @ rc)  # the data part of the solution, in the eigenbasis

    by_alpha: dict[float, float] = {}
    best = None
    for a in alphas:
        w = evecs @ (proj / (np.clip(evals, 0.0, None) + a)[:, None])
        b = r_mean - x_mean @ w
        mse = float(np.mean((xv @ w + b - rv) ** 2))  # residual error == forecast error
        by_alpha[a] = mse
        if best is None or mse < best[1]:
            best = (a, mse, w, b)
    alpha, val_mse, w, b = best
    dev = model.weight.device
    model.weight.copy_(torch.as_tensor(w, dtype=torch.float32, device=dev))
    model.bias.copy_(torch.as_tensor(b, dtype=torch.float32, device=dev))
    model.alpha.fill_(alpha)
    return {"alpha": alpha, "val_mse": val_mse, "val_mse_by_alpha": by_alpha}
