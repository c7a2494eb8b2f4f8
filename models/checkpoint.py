"""Model checkpoints that rebuild themselves and never unpickle code.

The file holds only tensors, numbers, strings, lists and dicts, so it loads with
`torch.load(weights_only=True)`; a checkpoint smuggling any other pickled object is refused.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import torch
from torch import nn

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    pass


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    name: str,
    build_kwargs: dict,
    hparams: dict,
    extra: dict | None = None,
) -> None:
    """Write atomically: a reader sees the old file or the complete new one, never half of one."""
    model = getattr(model, "_orig_mod", model)  # torch.compile wrapper -> the real module
    payload = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "build_kwargs": dict(build_kwargs),
        "hparams": {k: list(v) if isinstance(v, tuple) else v for k, v in hparams.items()},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": dict(extra or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict]:
    """Rebuild the model with `build(name, **build_kwargs, **hparams)`, load its weights, put it in eval mode.

    Returns (model, payload-without-state_dict) so callers can read name, hparams and extra.
    """
    from models import build  # late: models/__init__ imports this module

    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"refusing to load {path}: it is not a plain weights-only checkpoint ({e})"
        ) from e
    if not isinstance(payload, dict) or "state_dict" not in payload or "name" not in payload:
        raise CheckpointError(f"{path} is not a Forecast Sweep model checkpoint")
    model = build(payload["name"], **payload["build_kwargs"], **payload["hparams"])
    model.load_state_dict(payload["state_dict"])
    model.to(map_location).eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model, meta


# The files of a sweep trial's checkpoint folder: the contract between the trainable that writes them
# (sweeps/) and the report that reads them (reports/).
TRIAL_STATE_FILE = "state.pt"  # a TrainState: weights, optimiser, best weights, history
CHRONOS_DIR = "chronos"  # a fine-tuned Chronos-2: a save_pretrained folder
FINISHED_FILE = "finished.json"  # present in a trial's closing checkpoint: it ended by its own rule
