"""Read a training checkpoint (a models.train.TrainState file) and the model spec it carries.

A checkpoint written since models carry their spec (models/spec.py) holds the architecture and its arguments
beside the weights, so `models.load_checkpoint(path)` (beside the registry it builds from, in models/__init__.py)
needs no run directory, config or trial record. Older checkpoints (no spec) still read here; their model is
rebuilt from the trial record that names them (reports.runs.load_best_model). Every read uses
`torch.load(weights_only=True)`: a checkpoint is data, not code.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from models.spec import ModelSpec, SpecError
from models.train import TrainState


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or rebuilt; the message names the file and what is wrong."""


def read_checkpoint(path: str | Path) -> tuple[TrainState, ModelSpec | None]:
    """The training state stored at `path`, and the model spec it carries (None: written before specs)."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise CheckpointError(
            f"{path} is not a plain weights checkpoint and was not loaded (only tensors and plain values are "
            f"accepted): {str(err).splitlines()[0]}. Re-run that trial or remove its directory.") from err
    try:
        state = TrainState.from_dict(raw)
    except TypeError as err:  # not a mapping, or other keys than a TrainState's
        raise CheckpointError(f"{path} is not a training checkpoint (a TrainState): {err}") from err
    if state.spec is None:
        return state, None
    try:
        return state, ModelSpec.from_dict(state.spec)
    except SpecError as err:
        raise CheckpointError(f"{path}: its model spec is malformed ({err}); re-run that trial") from err
