"""Expand each model's section of the config into the concrete list of trials the sweep runs.

Grids are expanded here, and a grid's sampled specs drawn here (by Ray Tune's own domains, `SearchSpec.sample`,
with a generator seeded by train.seed) rather than when Ray starts: the trial list is then fixed by the config
alone, so an interrupted sweep resumes onto exactly the same trials and two runs of one config sweep the same
points.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np

from data_pipeline.config import WindowConfig
from models import hparam_defaults
from models.chronos import CHRONOS2, CHRONOS2_HPARAMS
from sweeps.config import SweepConfig
from sweeps.model_sections import NUM_SAMPLES, TRAIN_OVERRIDABLE, WINDOW_INPUT
from sweeps.spec import GridSpec, SearchSpec

_SHORT = {"hidden_size": "h", "d_model": "d", "num_layers": "l", "dropout": "p", "nhead": "nh",
          "learning_rate": "lr", "weight_decay": "wd", "batch_size": "bs", "teacher_forcing": "tf",
          "dim_feedforward": "ff", "steps": "s", "mode": "", "norm": "norm-",
          "linear_skip": "skip", WINDOW_INPUT: "in"}


def expand_trials(cfg: SweepConfig) -> list[dict[str, Any]]:
    rng = np.random.default_rng(cfg.train.seed)
    trials: list[dict[str, Any]] = []
    for model, (specs, fixed, n_samples) in model_spaces(cfg).items():
        grid_keys = [k for k, v in specs.items() if isinstance(v, GridSpec)]
        sampled = {k: v for k, v in specs.items() if not isinstance(v, GridSpec)}
        for point in itertools.product(*(specs[k].values for k in grid_keys)):
            for _ in range(n_samples if sampled else 1):
                values = {**fixed, **dict(zip(grid_keys, point, strict=True))}
                values.update({k: spec.sample(rng) for k, spec in sampled.items()})
                trials.append(_trial(model, values))
    return trials


def _trial(model: str, values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A trial in the shape the trainable reads. `window_input` (only when the model's input length is set per
    model or searched) is its own key: it selects the data the model sees, not a build or training argument."""
    # Chronos-2's knobs (steps, learning rate, mode, batch size) all belong to its own fine-tuning call.
    train_keys = set() if model == CHRONOS2 else TRAIN_OVERRIDABLE
    hparams = {k: v for k, v in values.items() if k not in train_keys and k != WINDOW_INPUT}
    train = {k: v for k, v in values.items() if k in train_keys}
    tag = prefix + ("_".join(f"{_SHORT.get(k, k)}{_fmt(v)}" for k, v in sorted(values.items())) or "defaults")
    trial = {"model": model, "hparams": hparams, "train": train, "tag": tag}
    if WINDOW_INPUT in values:
        trial[WINDOW_INPUT] = int(values[WINDOW_INPUT])
    return trial


def make_trial(model: str, values: dict[str, Any], number: int) -> dict[str, Any]:
    """A trial an adaptive searcher proposed: its number within the architecture leads the tag, so two proposals
    with the same rounded values still get distinct tags (seed repeats find their trial by tag)."""
    return _trial(model, values, prefix=f"n{number:02d}_")


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def model_spaces(cfg: SweepConfig) -> dict[str, tuple[dict[str, SearchSpec], dict[str, Any], int]]:
    """Per model: (searched key -> spec, fixed key -> value, trial budget). A grid expands each of its points
    `budget` times when it also has sampled keys; an adaptive search runs `budget` trials. A model with nothing
    to search gets one trial: more would only repeat it."""
    out = {}
    for model, section in cfg.models.items():
        section = dict(section or {})
        budget = int(section.pop(NUM_SAMPLES, cfg.sweep.num_samples))
        specs = {k: v for k, v in section.items() if isinstance(v, SearchSpec)}
        fixed = {k: v for k, v in section.items() if k not in specs}
        out[model] = (specs, fixed, budget if specs else 1)
    return out


def default_point(cfg: SweepConfig, model: str, specs: dict[str, SearchSpec]) -> dict[str, Any]:
    """A value for every searched key: the tool's default where the spec holds it (the model's own default
    hyperparameters, `train.*`, the window's default input length), else the spec's centre (the first value of a
    grid or choice, the midpoint of a range, geometric for loguniform). A searcher starts from it."""
    if model == CHRONOS2:  # its knobs, learning rate and batch size included, belong to its own fine-tuning call
        defaults = dict(CHRONOS2_HPARAMS)
    else:
        defaults = {**hparam_defaults(model), **{k: getattr(cfg.train, k) for k in TRAIN_OVERRIDABLE},
                    WINDOW_INPUT: WindowConfig.model_fields["input"].default}
    return {key: defaults[key] if spec.holds(defaults.get(key)) else spec.centre() for key, spec in specs.items()}


def planned_budgets(cfg: SweepConfig) -> dict[str, int]:
    return {m: budget for m, (_, _, budget) in model_spaces(cfg).items()}


def probe_trials(cfg: SweepConfig) -> list[dict[str, Any]]:
    """Trials at the corners of each model's search space (every spec at its low end, at its high end, and each
    categorical value once), so the driver can build them before Ray starts: a space holding an impossible
    configuration is one clear error, not a failed trial whenever the sampler lands there."""
    trials = []
    for model, (specs, fixed, _) in model_spaces(cfg).items():
        ends = [{k: v.ends()[i] for k, v in specs.items()} for i in (0, 1)]
        for key, spec in specs.items():
            if spec.categorical:
                ends += [{**ends[0], key: v} for v in spec.values]
        unique = {json.dumps(e, sort_keys=True, default=str): e for e in ends}
        trials += [_trial(model, {**fixed, **values}, prefix="probe_") for values in unique.values()]
    return trials
