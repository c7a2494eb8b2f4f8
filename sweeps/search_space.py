"""Expand each model's section of the config into the concrete list of trials the sweep runs.

Grids are expanded here, and random specs sampled here with a seeded generator, rather than by Ray: the trial
list is then fixed by the config alone, so an interrupted sweep resumes onto exactly the same trials and two
runs of one config sweep the same points.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from models.chronos import CHRONOS2
from sweeps.config import TRAIN_OVERRIDABLE, SweepConfig

_SHORT = {"hidden_size": "h", "d_model": "d", "num_layers": "l", "dropout": "p", "nhead": "nh",
          "learning_rate": "lr", "weight_decay": "wd", "batch_size": "bs", "teacher_forcing": "tf",
          "dim_feedforward": "ff", "steps": "s", "mode": "", "norm": "norm-",
          "linear_skip": "skip"}


def expand_trials(cfg: SweepConfig) -> list[dict[str, Any]]:
    rng = random.Random(cfg.train.seed)
    trials: list[dict[str, Any]] = []
    for model, section in cfg.models.items():
        section = section or {}
        grid_keys = [k for k, v in section.items() if _kind(v) == "grid"]
        fixed = {k: v for k, v in section.items() if _kind(v) is None}
        sampled = {k: v for k, v in section.items() if _kind(v) in ("choice", "uniform", "loguniform")}
        for point in itertools.product(*(section[k]["grid"] for k in grid_keys)):
            for _ in range(cfg.sweep.num_samples if sampled else 1):
                values = {**fixed, **dict(zip(grid_keys, point, strict=True))}
                values.update({k: _sample(spec, rng) for k, spec in sampled.items()})
                trials.append(_trial(model, values))
    return trials


def _trial(model: str, values: dict[str, Any]) -> dict[str, Any]:
    # Chronos-2's knobs (steps, learning rate, mode, batch size) all belong to its own fine-tuning call.
    train_keys = set() if model == CHRONOS2 else TRAIN_OVERRIDABLE
    hparams = {k: v for k, v in values.items() if k not in train_keys}
    train = {k: v for k, v in values.items() if k in train_keys}
    tag = "_".join(f"{_SHORT.get(k, k)}{_fmt(v)}" for k, v in sorted(values.items())) or "defaults"
    return {"model": model, "hparams": hparams, "train": train, "tag": tag}


def _kind(spec: Any) -> str | None:
    return next(iter(spec)) if isinstance(spec, dict) and len(spec) == 1 else None


def _sample(spec: dict[str, Any], rng: random.Random) -> Any:
    kind, arg = next(iter(spec.items()))
    if kind == "choice":
        return rng.choice(arg)
    if kind == "uniform":
        return rng.uniform(arg[0], arg[1])
    return math.exp(rng.uniform(math.log(arg[0]), math.log(arg[1])))


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)
