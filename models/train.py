"""One training entry point for every model: `fit(model, data, cfg, on_epoch, resume)`.

Over 250 lines: the loop, its device/precision policy and its resumable state belong together (a checkpoint must
restore exactly what the loop reads), so they stay in one file read top to bottom.

Trained models (RNNs, Transformer): AdamW on MSE of scaled targets (real target cells only: a missing or
repaired target carries no loss), gradient clipping, early stopping on
validation MSE, best-epoch weights loaded back at the end. A model's linear skip path, if it has one, starts from
its closed-form least-squares fit on the training windows (`models.blocks.fit_linear_core`).
Ridge: closed-form fit via `fit_ridge` (alpha chosen on validation); one history entry.
Persistence (or any model without trainable parameters): evaluated only; one history entry.

Speed: train/val arrays go to the device once; each epoch draws a seeded `torch.randperm` and slices
batches from those tensors (no Dataset/DataLoader in the hot path); the loss is summed on the device and read
back once per epoch. The best epoch's weights are kept as a copy on the device (no host transfer per epoch).
Precision policy (`precision_policy`): see there; on CPU everything runs in fp32 and is bit-for-bit
reproducible for a given seed.

`on_epoch(metrics, end)` is called after every epoch; it may raise to stop training (the exception
propagates). `end` says whether validation improved and whether this is the last epoch; `end.snapshot()`
builds the full TrainState (copied to the CPU) only when the caller wants to save it: it can be saved with
`torch.save(state.to_dict())` and passed back as
`resume=TrainState.from_dict(torch.load(..., map_location="cpu", weights_only=True))`.

Reproducibility note: `fit` seeds torch/numpy/random from cfg.seed, but the model was initialised before
`fit` was called; build it with `build(..., seed=...)` to make the initial weights reproducible too.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from data_pipeline.types import SplitWindows, WindowedData
from models.baselines import Ridge, fit_ridge
from models.blocks import LinearSkip, WindowNorm, fit_linear_core, series_kwargs
from models.config import TrainConfig
from models.spec import ATTRIBUTE as SPEC_ATTRIBUTE

EVAL_BATCH = 4096


class NonFiniteLossError(RuntimeError):
    """Training produced NaN/inf: raised instead of carrying on with poisoned weights."""


@dataclass
class TrainState:
    """Everything needed to continue training where it stopped (after `epoch` completed epochs)."""

    epoch: int
    model: dict
    optimizer: dict
    best_state: dict
    best_val_mse: float
    best_epoch: int
    bad_epochs: int
    history: list[dict] = field(default_factory=list)
    rng: dict = field(default_factory=dict)  # torch CPU / CUDA / batch-order generator states
    train_time_s: float = 0.0
    # The model's own configuration (models.spec.ModelSpec.to_dict()), so the file alone rebuilds the model;
    # None: a model built outside models.build, or a checkpoint written before states carried it.
    spec: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        """Only tensors, numbers, strings, lists and dicts: safe for torch.load(weights_only=True)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainState:
        return cls(**d)


@dataclass(frozen=True)
class EpochEnd:
    """What `on_epoch` learns about the epoch that just ended, besides its metrics."""

    epoch: int
    improved: bool  # validation MSE reached a new best this epoch
    final: bool  # the loop ends after this epoch (epoch cap or early stopping)
    bad_epochs: int
    snapshot: Callable[[], TrainState]  # copies everything to the CPU: call it only when a checkpoint is due


@dataclass
class FitResult:
    best_val_mse: float
    best_epoch: int
    epochs_run: int
    history: list[dict]
    train_time_s: float
    stopped_early: bool


# ---------------------------------------------------------------------------------------------- helpers


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def has_rnn(model: nn.Module) -> bool:
    return any(isinstance(m, nn.RNNBase) for m in model.modules())


def precision_policy(precision: str, device: torch.device, model: nn.Module) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None for fp32, whether to scale the loss). Mixed precision is CUDA-only here.

    fp32 is the default, measured (benchmarks/gpu.py on an H200): at these sizes autocast only adds casts. The seed GRU
    ran 0.60x fp32's speed in bf16 and 0.61x in fp16, the Transformer (d_model 64) 0.78x in bf16, all reaching
    the same validation MSE within 0.3%. bf16 / fp16 stay available for larger models. The loss is scaled
    (GradScaler) whenever fp16 runs: for fp16, and for bf16 on a model with LSTM/GRU layers, because PyTorch's
    autocast runs cuDNN RNNs in fp16 whatever dtype it is given (seen on the H200: a GRU's output is float16).
    """
    if device.type != "cuda":
        return None, False
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    scale = dtype == torch.float16 or (dtype == torch.bfloat16 and has_rnn(model))
    return dtype, scale


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _clone(obj: Any) -> Any:
    """Deep copy of a (nested) state dict with tensors detached and cloned."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_clone(v) for v in obj)
    return copy.deepcopy(obj)


def _to_cpu(obj: Any) -> Any:
    """Copy of a (nested) state dict with every tensor on the CPU: what a checkpoint holds."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return copy.deepcopy(obj)


def _check_finite(value: float, what: str, epoch: int) -> None:
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"{what} is {value} at epoch {epoch}: check the inputs for NaN/inf, or lower the learning rate"
        )


@torch.no_grad()
def _val_errors(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                future: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                series: torch.Tensor | None = None, reads_series: bool = False) -> tuple[float, float]:
    """Scaled MSE and MAE on a device-resident split, in fp32 and eval mode, over the cells `mask` keeps
    (all when None): unobserved targets are never scored, as in `models.metrics.scores`."""
    model.eval()
    sq = torch.zeros((), device=x.device, dtype=torch.float64)
    ab = torch.zeros((), device=x.device, dtype=torch.float64)
    for i in range(0, len(x), EVAL_BATCH):
        f = None if future is None else future[i : i + EVAL_BATCH]
        ids = {"series": series[i : i + EVAL_BATCH]} if reads_series else {}  # models with a series embedding
        err = model(x[i : i + EVAL_BATCH], future=f, **ids).float() - y[i : i + EVAL_BATCH]
        if mask is None:
            sq += err.double().pow(2).sum()
            ab += err.double().abs().sum()
        else:  # a 0/1 mask, or a panel's per-cell weights (each series' cells share an equal total)
            m = mask[i : i + EVAL_BATCH].double()
            sq += (err.double().pow(2) * m).sum()
            ab += (err.double().abs() * m).sum()
    if mask is None:
        return float(sq) / y.numel(), float(ab) / y.numel()
    total = float(mask.double().sum())
    n = total if total > 0 else 1.0
    return float(sq) / n, float(ab) / n


def _loss(pred: torch.Tensor, y: torch.Tensor, observed: torch.Tensor | None) -> torch.Tensor:
    """MSE over the batch's real target cells (all of them when `observed` is None)."""
    if observed is None:
        return nn.functional.mse_loss(pred, y)
    return ((pred - y).pow(2) * observed).sum() / observed.sum().clamp(min=1.0)


def _series_ids(split: SplitWindows) -> np.ndarray:
    return np.zeros(len(split), np.int64) if split.series is None else split.series.astype(np.int64)


def _mask_tensor(mask: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    """The split's score weights on the device: float64, so a panel's small per-cell weights stay exact."""
    return None if mask is None else torch.as_tensor(mask, dtype=torch.float64, device=device)


def _rng_state(gen: torch.Generator, device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state(), "batch_order": gen.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device).cpu()
    return state


def _set_rng_state(state: dict, gen: torch.Generator, device: torch.device) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "batch_order" in state:
        gen.set_state(state["batch_order"].cpu())
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


# ------------------------------------------------------------------------------------------------- fit


def fit(
    model: nn.Module,
    data: WindowedData,
    cfg: TrainConfig,
    on_epoch: Callable[[dict, EpochEnd], None] | None = None,
    resume: TrainState | None = None,
) -> FitResult:
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    model.to(device)
    if isinstance(model, Ridge) or not any(p.requires_grad for p in model.parameters()):
        return _fit_closed_form(model, data, cfg, device, on_epoch)

    # the whole data set lives on the device; batches are index slices of these tensors
    x_train = torch.as_tensor(data.train.x, dtype=torch.float32, device=device)
    y_train = torch.as_tensor(data.train.y, dtype=torch.float32, device=device)
    x_val = torch.as_tensor(data.val.x, dtype=torch.float32, device=device)
    y_val = torch.as_tensor(data.val.y, dtype=torch.float32, device=device)
    # known-future inputs (calendar values of the forecast days); zero columns when the data has none
    f_train = torch.as_tensor(data.train.future, dtype=torch.float32, device=device)
    f_val = torch.as_tensor(data.val.future, dtype=torch.float32, device=device)
    m_val = _mask_tensor(data.val.score_weights(), device)
    # Training targets that were missing or repaired are not observations: they carry no loss. None when every
    # training target is real (then the loss is the plain MSE, bit for bit as before masks existed).
    observed = data.train.mask
    m_train = (None if observed is None or observed.all()
               else torch.as_tensor(observed, dtype=torch.float32, device=device))
    # each window's series id, read only by a model built with a series embedding
    reads_series = bool(series_kwargs(model, None))
    s_train, s_val = (torch.as_tensor(_series_ids(s), device=device) for s in (data.train, data.val))
    n = len(x_train)
    if n == 0 or len(x_val) == 0:
        raise ValueError(f"fit needs train and val windows, got {n} and {len(x_val)}")

    skip, norm = getattr(model, "skip", None), getattr(model, "norm", None)
    if resume is None and isinstance(skip, LinearSkip) and isinstance(norm, WindowNorm):
        fit_linear_core(norm, skip, data.train, data.val)  # the linear path starts at ridge (models/blocks.py)

    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    amp_dtype, scale_loss = precision_policy(cfg.precision, device, model)
    scaler = torch.amp.GradScaler("cuda", enabled=scale_loss)
    autocast = (
        (lambda: torch.autocast("cuda", dtype=amp_dtype)) if amp_dtype is not None else contextlib.nullcontext
    )
    step_model = torch.compile(model) if cfg.compile and device.type == "cuda" else model
    gen = torch.Generator().manual_seed(cfg.seed)  # batch order; CPU so it is identical on every device

    start_epoch, best_val, best_epoch, bad_epochs = 0, math.inf, 0, 0
    best_state: dict = _clone(model.state_dict())  # on the device: copied to the CPU only in a snapshot
    history: list[dict] = []
    train_time = 0.0
    if resume is not None:
        model.load_state_dict(resume.model)
        optimizer.load_state_dict(resume.optimizer)
        best_state = {k: v.to(device) for k, v in resume.best_state.items()}
        start_epoch, best_val, best_epoch = resume.epoch, resume.best_val_mse, resume.best_epoch
        bad_epochs, history, train_time = resume.bad_epochs, list(resume.history), resume.train_time_s
        _set_rng_state(resume.rng, gen, device)

    stopped_early = bad_epochs >= cfg.patience
    epoch = start_epoch
    while epoch < cfg.epochs and not stopped_early:
        epoch += 1
        t0 = time.perf_counter()
        step_model.train()
        loss_sum = torch.zeros((), device=device)
        order = torch.randperm(n, generator=gen).to(device)
        for i in range(0, n, cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            with autocast():
                ids = {"series": s_train[idx]} if reads_series else {}
                pred = step_model(xb, yb, future=f_train[idx], **ids)  # y only matters to AR teacher forcing
            loss = _loss(pred.float(), yb, None if m_train is None else m_train[idx])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.detach() * len(idx)
        train_loss = float(loss_sum) / n  # the one host sync of the training pass
        _check_finite(train_loss, "train loss", epoch)

        val_mse, val_mae = _val_errors(step_model, x_val, y_val, f_val, m_val, s_val, reads_series)
        _check_finite(val_mse, "validation MSE", epoch)
        # keep=last: every epoch is "the best" so far, so its weights are kept and nothing stops training early.
        improved = val_mse < best_val or cfg.keep == "last"
        if improved:
            best_val, best_epoch, bad_epochs = val_mse, epoch, 0
            best_state = _clone(model.state_dict())
        else:
            bad_epochs += 1
        stopped_early = bad_epochs >= cfg.patience
        epoch_time = time.perf_counter() - t0
        train_time += epoch_time

        metrics = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_mse": val_mse,
            "val_mae": val_mae,
            "best_val_mse": best_val,
            "epoch_time_s": epoch_time,
            "train_time_s": train_time,
        }
        history.append(metrics)
        if on_epoch is not None:
            snapshot = _snapshot_fn(model, optimizer, best_state, best_val, best_epoch, bad_epochs, history, gen,
                                    device, epoch, train_time)
            final = stopped_early or epoch >= cfg.epochs
            on_epoch(dict(metrics), EpochEnd(epoch, improved, final, bad_epochs, snapshot))

    model.load_state_dict(best_state)
    model.eval()
    return FitResult(
        best_val_mse=best_val,
        best_epoch=best_epoch,
        epochs_run=epoch,
        history=history,
        train_time_s=train_time,
        stopped_early=stopped_early,
    )


def _snapshot_fn(model: nn.Module, optimizer: torch.optim.Optimizer, best_state: dict, best_val: float,
                 best_epoch: int, bad_epochs: int, history: list[dict], gen: torch.Generator,
                 device: torch.device, epoch: int, train_time: float) -> Callable[[], TrainState]:
    """The TrainState of this epoch's end, built only if asked for (before the next epoch starts)."""

    def snapshot() -> TrainState:
        return TrainState(
            epoch=epoch,
            model=_to_cpu(model.state_dict()),
            optimizer=_to_cpu(optimizer.state_dict()),
            best_state=_to_cpu(best_state),
            best_val_mse=best_val,
            best_epoch=best_epoch,
            bad_epochs=bad_epochs,
            history=[dict(h) for h in history],
            rng=_rng_state(gen, device),
            train_time_s=train_time,
            spec=spec_of(model),
        )

    return snapshot


def spec_of(model: nn.Module) -> dict | None:
    """The plain-data spec `models.build` attached to the model (None for a model built otherwise)."""
    spec = getattr(model, SPEC_ATTRIBUTE, None)
    return None if spec is None else spec.to_dict()


def _fit_closed_form(
    model: nn.Module,
    data: WindowedData,
    cfg: TrainConfig,
    device: torch.device,
    on_epoch: Callable[[dict, EpochEnd], None] | None,
) -> FitResult:
    """Ridge: solve on train, pick alpha on val. Persistence: nothing to fit. Either way one 'epoch'."""
    t0 = time.perf_counter()
    if isinstance(model, Ridge):
        for split in ("train", "val"):
            s = data.split(split)
            if not (np.isfinite(s.x).all() and np.isfinite(s.y).all()):
                raise NonFiniteLossError(f"ridge: {split} windows contain NaN/inf values at epoch 1")
        fit_ridge(model, data.train, data.val)
        model.to(device)
    xt = torch.as_tensor(data.train.x, dtype=torch.float32, device=device)
    yt = torch.as_tensor(data.train.y, dtype=torch.float32, device=device)
    train_loss, _ = _val_errors(model, xt, yt, mask=_mask_tensor(data.train.mask, device))
    val_mse, val_mae = _val_errors(
        model,
        torch.as_tensor(data.val.x, dtype=torch.float32, device=device),
        torch.as_tensor(data.val.y, dtype=torch.float32, device=device),
        mask=_mask_tensor(data.val.score_weights(), device),
    )
    _check_finite(train_loss, "train loss", 1)
    _check_finite(val_mse, "validation MSE", 1)
    elapsed = time.perf_counter() - t0
    metrics = {
        "epoch": 1,
        "train_loss": train_loss,
        "val_mse": val_mse,
        "val_mae": val_mae,
        "best_val_mse": val_mse,
        "epoch_time_s": elapsed,
        "train_time_s": elapsed,
    }
    if on_epoch is not None:
        state_dict = _to_cpu(model.state_dict())
        state = TrainState(
            epoch=1,
            model=state_dict,
            optimizer={},
            best_state=_to_cpu(state_dict),
            best_val_mse=val_mse,
            best_epoch=1,
            bad_epochs=0,
            history=[dict(metrics)],
            train_time_s=elapsed,
            spec=spec_of(model),
        )
        on_epoch(dict(metrics), EpochEnd(1, True, True, 0, lambda: state))
    model.eval()
    return FitResult(val_mse, 1, 1, [metrics], elapsed, False)
