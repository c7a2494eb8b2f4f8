"""Chronos-2 pretrained baseline: load, zero-shot forecast and fine-tune on our windows.

Over 300 lines: one model family per file, read top to bottom (as nanoGPT's model.py), its loading, windows-to-
series conversion and fine-tuning all tied to the one pipeline object.

Knows nothing of Ray or W&B (see DESIGN.md: models is layer 1). `chronos-forecasting` is an optional extra
(`pip install .[chronos]`) and is imported lazily, so importing this module costs nothing without it.

    pipeline = load_chronos(DEFAULT_CHRONOS2)                       # hub cache (or a local directory)
    point, q = chronos_predict(pipeline, data.val.x, n_targets=data.n_targets,
                               n_outputs=data.n_outputs, scaler=data.scaler)
    scores(data.val.y, point, data)                                 # point is in our scaled units
    tuned = chronos_finetune(pipeline, data.train, data.val, scaler=data.scaler, n_targets=data.n_targets,
                             n_outputs=data.n_outputs, steps=200, learning_rate=1e-5, output_dir=run_dir)
    tuned.save_pretrained(ckpt_dir); load_chronos(ckpt_dir)         # self-contained, even after LoRA

How our arrays map onto Chronos-2: every window is one forecasting task. Its context is the window's inputs in
ORIGINAL units (Chronos normalises each series itself); the targets are forecast jointly as variates of one
group and the remaining features ride along as past-only covariates (values known only up to the origin).

One file, over 250 lines on purpose: like rnn.py and transformer.py it holds one model family whole, and loading,
zero-shot forecasting and fine-tuning all share the window <-> task mapping above.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import random
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from data_pipeline.types import Scaler, SplitWindows
from models.train import resolve_device

if TYPE_CHECKING:
    from chronos import Chronos2Pipeline

DEFAULT_CHRONOS2 = "autogluon/chronos-2-small"
DEFAULT_QUANTILES = (0.1, 0.5, 0.9)
FINETUNE_MODES = ("full", "lora")


class PretrainedUnavailable(RuntimeError):
    """A pretrained model could not be loaded: not a local model directory, and not fetchable from the hub."""

    @classmethod
    def for_path(cls, path: str, why: str) -> PretrainedUnavailable:
        return cls(
            f"pretrained Chronos-2 model {path!r} could not be loaded: {why}. "
            f"Set pretrained.path to a local copy: a directory written by save_pretrained, or one made with "
            f"`hf download {DEFAULT_CHRONOS2} --local-dir DIR` on a machine with network access."
        )


def _import_chronos2():
    try:
        from chronos import Chronos2Pipeline
    except ImportError as e:  # optional extra
        raise ImportError(
            "Chronos-2 needs the optional `chronos-forecasting` package: "
            "pip install -c constraints.txt 'chronos-forecasting==2.3.2' (or `pip install .[chronos]`)"
        ) from e
    return Chronos2Pipeline


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No "Loading weights" / "Writing model shards" progress bars in sweep logs."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def looks_like_local_path(path: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else is meant as a path on disk.
    return (
        os.path.isabs(path)
        or path.startswith((".", "~"))
        or "\\" in path
        or path.count("/") > 1
        or os.path.exists(path)
    )


def _from_hub_cache(repo_id: str) -> Path:
    """The local hub-cache snapshot of `repo_id`; never asks the network (the sweep's fetch puts it there)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True, allow_patterns=["*.json", "*.safetensors"]))
    except Exception as e:  # a cache miss, an invalid id
        raise PretrainedUnavailable.for_path(repo_id, "not in the local hub cache (a sweep downloads it there "
                                                      "when the hub answers)") from e


def load_chronos(path: str | os.PathLike = DEFAULT_CHRONOS2, *, device: str = "auto") -> Chronos2Pipeline:
    """A Chronos-2 pipeline from a local model directory or a hugging-face hub id, in float32 and eval mode.

    Never uses the network: a hub id is looked up in the local hub cache only (sweeps/engine/hub.py fetches it there).
    Every failure to find the model raises `PretrainedUnavailable`: one line naming `path` and how to set
    `pretrained.path`.
    """
    Chronos2Pipeline = _import_chronos2()
    path = os.fspath(path)
    dev = resolve_device(device)
    local = Path(path).expanduser()

    if local.is_dir():
        if not (local / "config.json").is_file() and not (local / "adapter_config.json").is_file():
            raise PretrainedUnavailable.for_path(
                path, "the directory holds no config.json (not a save_pretrained directory)")
        try:
            with _quiet_transformers():
                pipeline = Chronos2Pipeline.from_pretrained(str(local), local_files_only=True)
        except (OSError, AssertionError, ValueError, KeyError) as e:
            first_line = (str(e).strip().splitlines() or [""])[0]
            raise PretrainedUnavailable.for_path(
                path, f"not a Chronos-2 model directory ({type(e).__name__}: {first_line})"
            ) from e
    elif looks_like_local_path(path):
        raise PretrainedUnavailable.for_path(path, "no such local directory")
    else:
        local = _from_hub_cache(path)
        with _quiet_transformers():
            pipeline = Chronos2Pipeline.from_pretrained(str(local), local_files_only=True)

    pipeline.model.to(device=dev, dtype=torch.float32)
    pipeline.model.eval()
    return pipeline


def save_chronos(pipeline: Chronos2Pipeline, directory: str | os.PathLike) -> Path:
    """`pipeline.save_pretrained(directory)` without progress bars; `load_chronos(directory)` reads it back."""
    directory = Path(directory)
    with _quiet_transformers():
        pipeline.save_pretrained(directory)
    return directory


def _feature_names(scaler: Scaler, n_features: int, n_targets: int) -> list[str]:
    names = list(scaler.feature_names)
    if len(names) != n_features or len(set(names)) != n_features:
        names = [f"feature_{j}" for j in range(n_features)]
    return names


def _check_shapes(x: np.ndarray, n_targets: int, scaler: Scaler) -> None:
    if scaler.per_series:  # windows go back to original units through one scaler; a panel has one per series
        raise ValueError("the Chronos-2 baseline takes single-series data only; this scaler holds one set of "
                         "statistics per series (a panel)")
    if x.ndim != 3:
        raise ValueError(f"x must be (n_windows, n_inputs, n_features), got shape {x.shape}")
    if len(x) == 0:
        raise ValueError("x holds no windows")
    if not 1 <= n_targets <= x.shape[2]:
        raise ValueError(f"n_targets ({n_targets}) must be in 1..n_features ({x.shape[2]})")
    if len(scaler.center) != x.shape[2]:
        raise ValueError(f"scaler has {len(scaler.center)} features but x has {x.shape[2]}")


def _task(series: np.ndarray, n_targets: int, names: Sequence[str]) -> dict[str, Any]:
    """One Chronos-2 task from a (n_features, length) original-unit array: targets + past-only covariates."""
    task: dict[str, Any] = {"target": series[:n_targets]}
    if series.shape[0] > n_targets:
        task["past_covariates"] = {names[j]: series[j] for j in range(n_targets, series.shape[0])}
    return task


def chronos_predict(
    pipeline: Chronos2Pipeline,
    x: np.ndarray,
    *,
    n_targets: int,
    n_outputs: int,
    scaler: Scaler,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Forecast every window of `x` (n, n_inputs, n_features), scaled as our models see it.

    Returns (point, quantiles), both in OUR scaled units, float32:
      point (n, n_outputs, n_targets) - the median forecast, comparable with `split.y` and `scores`;
      quantiles (n, n_outputs, n_targets, len(quantiles)) - levels the model was not trained on are interpolated.
    `batch_size` counts windows per forward pass. Windows are independent (no cross-learning between them).
    """
    x = np.asarray(x)
    _check_shapes(x, n_targets, scaler)
    if n_outputs < 1:
        raise ValueError(f"n_outputs must be positive, got {n_outputs}")
    levels = [float(q) for q in quantiles]
    if not levels or not all(0.0 < q < 1.0 for q in levels):
        raise ValueError(f"quantiles must lie strictly between 0 and 1, got {list(quantiles)}")
    n_features = x.shape[2]
    names = _feature_names(scaler, n_features, n_targets)

    raw = np.ascontiguousarray(scaler.inverse(x).astype(np.float32).transpose(0, 2, 1))  # (n, n_feat, n_in)
    tasks = [_task(window, n_targets, names) for window in raw]
    model = pipeline.model
    was_training = model.training
    model.eval()
    try:
        q_list, median_list = pipeline.predict_quantiles(
            tasks,
            prediction_length=n_outputs,
            quantile_levels=levels,
            batch_size=max(1, int(batch_size))
            * n_features,  # the pipeline counts series, covariates included
        )
    finally:
        model.train(was_training)

    q_raw = torch.stack(q_list).numpy().astype(np.float64)  # (n, n_targets, n_outputs, n_q)
    median_raw = torch.stack(median_list).numpy().astype(np.float64)  # (n, n_targets, n_outputs)
    center, scale = scaler.center[:n_targets], scaler.scale[:n_targets]
    point = (median_raw.transpose(0, 2, 1) - center) / scale
    q_scaled = (q_raw.transpose(0, 2, 1, 3) - center[:, None]) / scale[:, None]
    return point.astype(np.float32), q_scaled.astype(np.float32)


def _runs(split: SplitWindows) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The windows' order by origin, and the [start, stop) of each contiguous run of windows (each window one step
    after the last) in that order."""
    x = np.asarray(split.x)
    order = np.argsort(split.origin, kind="stable") if len(split.origin) == len(x) else np.arange(len(x))
    x = x[order]
    starts = [0] + [i + 1 for i in range(len(x) - 1) if not np.array_equal(x[i + 1, :-1], x[i, 1:])]
    return order, list(zip(starts, [*starts[1:], len(x)], strict=True))


def _run_observed(mask: np.ndarray, start: int, stop: int, n_inputs: int) -> np.ndarray:
    """(n_inputs + run - 1 + n_outputs, n_targets) bool over a run's rows (windows in origin order): False where a
    target cell is masked. The first window's inputs carry no mask (they are no window's target): True."""
    return np.concatenate([np.ones((n_inputs, mask.shape[2]), bool), mask[start:stop - 1, 0], mask[stop - 1]])


def windows_to_series(split: SplitWindows, scaler: Scaler, n_targets: int, *, masked: bool = True) -> list[np.ndarray]:
    """The original-unit series behind a split's sliding windows: one (n_features, length) array per
    contiguous run of windows (each window one step after the last). The last n_outputs steps hold only
    target values (covariates NaN there): `y` carries targets only. `masked`: a target cell the split's mask
    marks missing or repaired is NaN (Chronos-2 reads NaN as missing: no context, no training target).
    """
    x = np.asarray(split.x)
    y = np.asarray(split.y)
    _check_shapes(x, n_targets, scaler)
    order, runs = _runs(split)
    x, y = x[order], y[order]
    mask = None if split.mask is None or not masked else np.asarray(split.mask, bool)[order]
    series = []
    for start, stop in runs:
        inputs = np.concatenate([x[start], x[start + 1 : stop, -1]], axis=0)  # (n_inputs + run - 1, n_feat)
        tail = np.full((y.shape[1], x.shape[2]), np.nan)
        tail[:, :n_targets] = scaler.inverse(y[stop - 1], slice(0, n_targets))
        run = np.concatenate([scaler.inverse(inputs), tail], axis=0)
        if mask is not None:
            run[:, :n_targets][~_run_observed(mask, start, stop, x.shape[1])] = np.nan
        series.append(run.T.astype(np.float32))
    return series


def _observed_before(split: SplitWindows, earlier: SplitWindows | None, n_targets: int) -> np.ndarray | None:
    """The mask of the input rows before `split`'s first origin where `earlier`'s windows (the training split)
    end just there: the last n_inputs rows of its last run, which are its targets; else None (no mask known)."""
    if earlier is None or earlier.mask is None or not len(earlier) or not len(split):
        return None
    order, runs = _runs(earlier)
    start, stop = runs[-1]
    x, y = np.asarray(earlier.x)[order], np.asarray(earlier.y)[order]
    rows = np.concatenate([x[start, :, :n_targets], x[start + 1 : stop, -1, :n_targets], y[stop - 1]])
    first = np.asarray(split.x)[_runs(split)[0][0], :, :n_targets]
    if not np.array_equal(rows[-len(first):], first):
        return None
    return _run_observed(np.asarray(earlier.mask, bool)[order], start, stop, x.shape[1])[-len(first):]


def _window_tasks(split: SplitWindows, scaler: Scaler, n_targets: int, names: Sequence[str],
                  before: np.ndarray | None = None) -> list[dict]:
    """One validation task per window: its inputs then its targets (covariates unknown over the horizon); target
    cells the mask marks missing or repaired (targets, and inputs that are an earlier window's targets) NaN.
    `before`: the mask of the input rows before the split's first origin (`_observed_before`), if known."""
    raw_x = scaler.inverse(split.x)
    tail = np.full((*split.y.shape[:2], split.x.shape[2]), np.nan)
    tail[..., :n_targets] = scaler.inverse(split.y, slice(0, n_targets))
    full = np.concatenate([raw_x, tail], axis=1)  # (n, n_inputs + n_outputs, n_features)
    if split.mask is not None:
        order, runs = _runs(split)
        mask, n_in, n_out = np.asarray(split.mask, bool)[order], split.x.shape[1], split.y.shape[1]
        for start, stop in runs:
            observed = _run_observed(mask, start, stop, n_in)
            if start == 0 and before is not None:
                observed[:n_in] = before
            for j, window in enumerate(order[start:stop]):
                full[window, :, :n_targets][~observed[j : j + n_in + n_out]] = np.nan
    return [_task(w, n_targets, names) for w in full.transpose(0, 2, 1).astype(np.float32)]


def finetune_tasks(train: SplitWindows, val: SplitWindows | None, scaler: Scaler,
                   n_targets: int) -> tuple[list[dict], list[dict] | None]:
    """The Chronos-2 tasks `chronos_finetune` trains on (the series behind `train`'s windows) and validates on (one
    per `val` window; None without one), masked target cells NaN in both."""
    names = _feature_names(scaler, train.x.shape[2], n_targets)
    train_tasks = [_task(s, n_targets, names) for s in windows_to_series(train, scaler, n_targets)]
    val_tasks = (_window_tasks(val, scaler, n_targets, names, _observed_before(val, train, n_targets))
                 if val is not None and len(val) else None)
    return train_tasks, val_tasks


@contextlib.contextmanager
def _preserve_global_rng() -> Iterator[None]:
    # transformers' Trainer seeds python/numpy/torch globally; keep callers' random streams untouched.
    py_state, np_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def chronos_finetune(
    pipeline: Chronos2Pipeline,
    train: SplitWindows,
    val: SplitWindows | None,
    *,
    scaler: Scaler,
    n_targets: int,
    n_outputs: int,
    steps: int = 200,
    learning_rate: float = 1e-5,
    mode: str = "full",
    batch_size: int = 32,
    output_dir: str | os.PathLike,
    seed: int = 0,
    lora_config: dict | None = None,
) -> Chronos2Pipeline:
    """Fine-tune a copy of `pipeline` with Chronos-2's own `fit`; the input pipeline is left unchanged.

    Training data: the contiguous original-unit series rebuilt from `train`'s windows (see `windows_to_series`),
    target cells the mask marks missing or repaired NaN: Chronos-2 masks NaN out of the context and the loss;
    `fit` samples random forecast origins in it, with contexts of exactly n_inputs steps and n_outputs-step
    horizons. `val` (optional): every window is one validation task; the quantile loss on them is evaluated
    every 100 steps and at the end, and the best of those checkpoints is kept (transformers'
    load_best_model_at_end). `batch_size` counts windows (tasks) per step. mode "lora" trains a LoRA adapter
    (needs `peft`) and merges it into the weights, so the result is a plain model that `save_pretrained`
    writes out whole. `output_dir` receives fit's own save in `finetuned-ckpt/` (for LoRA: the adapter only;
    intermediate `checkpoint-*` folders are removed). Device: the pipeline's. Global RNG state is preserved.
    """
    if mode not in FINETUNE_MODES:
        raise ValueError(f"mode must be one of {FINETUNE_MODES}, got {mode!r}")
    if mode == "lora":
        from transformers.utils.import_utils import is_peft_available

        if not is_peft_available():  # chronos would silently fall back to full fine-tuning
            raise ImportError("mode='lora' needs `peft`: pip install -c constraints.txt peft")
    elif lora_config is not None:
        raise ValueError("lora_config is only meaningful with mode='lora'")
    if int(steps) < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not (learning_rate > 0 and math.isfinite(learning_rate)):
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")

    n_inputs, n_features = train.x.shape[1], train.x.shape[2]
    train_tasks, val_tasks = finetune_tasks(train, val, scaler, n_targets)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)

    with _preserve_global_rng(), _quiet_transformers():
        tuned = pipeline.fit(
            train_tasks,
            prediction_length=n_outputs,
            validation_inputs=val_tasks,
            finetune_mode=mode,
            lora_config=lora_config,
            context_length=n_inputs,
            min_past=n_inputs,
            learning_rate=float(learning_rate),
            num_steps=int(steps),
            batch_size=max(1, int(batch_size))
            * n_features,  # the pipeline counts series, covariates included
            output_dir=out,
            remove_printer_callback=True,
            disable_tqdm=True,
            seed=int(seed),
            data_seed=int(seed),
        )
    for ckpt in out.glob("checkpoint-*"):
        shutil.rmtree(ckpt, ignore_errors=True)

    model = tuned.model
    if hasattr(model, "merge_and_unload"):  # a peft LoRA wrapper
        model = model.merge_and_unload()
        tuned = type(pipeline)(model=model)
    model.eval()
    return tuned


# The sweep's name for this family, and the fine-tuning knobs a config may set or sweep over.
CHRONOS2 = "chronos2"
# Their defaults are chronos_finetune's own (written once, there).
CHRONOS2_HPARAMS: dict[str, Any] = {k: inspect.signature(chronos_finetune).parameters[k].default
                                    for k in ("steps", "learning_rate", "mode", "batch_size")}
