"""What a sweep trial leaves in its Ray checkpoints and results: the contract between the trainable that writes
them (sweeps/engine/trainable.py), the progress lines, and the reader of the layout older runs have
(sweeps/engine/legacy_records.py). Reports never read these: they read each trial's own record (models/trial_record.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from models.run_records import FAILED, FINISHED, STOPPED  # a trial's status: defined once, beside its record

__all__ = ["CHRONOS_DIR", "FAILED", "FINISHED", "FINISHED_FILE", "METRIC", "STOPPED", "TRIAL_STATE_FILE", "trial_status"]

TRIAL_STATE_FILE = "state.pt"  # a models.train.TrainState: weights, optimiser, best weights, history
CHRONOS_DIR = "chronos"  # a fine-tuned Chronos-2: a save_pretrained folder
FINISHED_FILE = "finished.json"  # present in a trial's closing checkpoint: it ended by its own rule

# What the search optimises and ASHA cuts on: the trial's best validation MSE so far, in every report it makes.
METRIC = "best_val_mse"


def trial_status(results: Iterable[dict[str, Any]], last_checkpoint: Path | None, *, errored: bool) -> str:
    """finished: ended by its own stopping rule (its closing result was recorded, or its closing checkpoint was,
    when the driver died in between). Otherwise failed if it errored, else stopped (by ASHA, or interrupted)."""
    if any(r.get("trial_finished") for r in results) or (
            last_checkpoint is not None and (last_checkpoint / FINISHED_FILE).exists()):
        return FINISHED
    return FAILED if errored else STOPPED
