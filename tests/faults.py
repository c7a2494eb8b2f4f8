"""Trials that fail on purpose, injected from the tests through run_sweep's `trainable` seam (never part of the
product): each wraps the real trainable and makes a chosen model's first attempts fail the way real trials do."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ray import tune

from sweeps.engine.trainable import train_trial


def with_faults(faults: dict[str, tuple[str, int]], counter_dir: Path) -> Callable[..., None]:
    """`faults`: model -> (kind, times). The first `times` attempts of that model's trials fail; retries after
    that run normally. kind: "raise" (an exception), "oom" (torch's out-of-memory error), "nan" (the attempt
    trains on poisoned inputs, so the real training loop meets a non-finite loss)."""
    counter_dir = Path(counter_dir)

    def trainable(config: dict[str, Any], *, data: Any, **kwargs: Any) -> None:
        kind, times = faults.get(config["trial"]["model"], (None, 0))
        counter = counter_dir / f"{tune.get_context().get_trial_id()}.count"
        fired = int(counter.read_text()) if counter.exists() else 0
        if kind is not None and fired < times:
            counter_dir.mkdir(parents=True, exist_ok=True)
            counter.write_text(str(fired + 1))
            if kind == "raise":
                raise RuntimeError("injected fault")
            if kind == "oom":
                raise torch.OutOfMemoryError("injected out-of-memory")
            poisoned_x = data.train.x.copy()
            poisoned_x[0, 0, 0] = np.nan
            data = dataclasses.replace(data, train=dataclasses.replace(data.train, x=poisoned_x))
        return train_trial(config, data=data, **kwargs)

    return trainable
