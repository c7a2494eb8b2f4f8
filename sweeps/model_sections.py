"""The `models` section of the config: per architecture, which keys it may set (typed from the model's config
dataclass, train.* from TrainConfig), each a fixed value or a search spec (sweeps/spec.py), checked against the
key's allowed values; and the searched input length (`window.input`, `window_input`) carried per model.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import TypeAdapter, ValidationError

from models import TrainConfig
from models.blocks import NORMS
from sweeps.spec import LogUniformSpec, SearchSpec, UniformSpec, checked_values, parse_value

# Keys of a model section that are not hyperparameters of the model or of its training: how many trials the
# architecture gets (adaptive search: its budget; grid: samples per grid point) and its input length.
NUM_SAMPLES, WINDOW_INPUT = "num_samples", "window_input"


def sweepable_models() -> tuple[str, ...]:
    from models import TRAINED_MODELS
    from models.chronos import CHRONOS2

    return (*TRAINED_MODELS, CHRONOS2)


def section_types(name: str) -> dict[str, Any]:
    """The keys a model section may set, each with its type: the model's hyperparameters typed by its config
    dataclass (Chronos-2: by its defaults), the per-architecture train.* keys typed by TrainConfig, its trial
    budget and (trained models) its input length. Each default stays where the model writes it."""
    from models import hparam_types
    from models.chronos import CHRONOS2, CHRONOS2_HPARAMS

    if name == CHRONOS2:
        return {**{k: type(v) for k, v in CHRONOS2_HPARAMS.items()}, NUM_SAMPLES: int}
    train = {k: TrainConfig.model_fields[k].annotation for k in TRAIN_OVERRIDABLE}
    return {**hparam_types(name), **train, NUM_SAMPLES: int, WINDOW_INPUT: int}


def parse_model_section(name: str, params: Any) -> dict[str, Any]:
    """One architecture's section, each value parsed (`sweeps.spec.parse_value`) and checked against the key's
    type and allowed values. Errors name `models.<name>.<key>`, what is wrong and what to write."""
    if name not in sweepable_models():
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(sweepable_models())}")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValueError(f"models.{name} must be a mapping of hyperparameters, got {type(params).__name__}")
    types = section_types(name)
    section = {}
    for key, raw in params.items():
        where = f"models.{name}.{key}"
        if key not in types:
            raise ValueError(f"{where}: unknown hyperparameter; allowed: {', '.join(sorted(types))}")
        if key == NUM_SAMPLES:
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
                raise ValueError(f"{where}: the number of trials is a positive integer, got {raw!r}")
            section[key] = raw
            continue
        value = parse_value(raw, where)
        if key == WINDOW_INPUT:
            _check_input_lengths(value, where)
        _check_allowed(key, checked_values(value), where)  # the named rules first: their message says more
        _check_type(value, types[key], where)
        section[key] = value
    return section


def _check_type(value: Any, expected: Any, where: str) -> None:
    adapter = TypeAdapter(expected)
    for v in checked_values(value):
        try:
            adapter.validate_python(v, strict=True)
        except ValidationError:
            kind = getattr(expected, "__name__", str(expected))
            hint = " (search an integer with int, choice or grid)" if expected is int and isinstance(
                value, SearchSpec) else ""
            raise ValueError(f"{where}: takes {kind} values, got {v!r}{hint}") from None


def _check_allowed(key: str, values: list[Any], where: str) -> None:
    if key == "mode" and any(v not in ("full", "lora") for v in values):
        raise ValueError(f"{where}: fine-tuning mode is 'full' or 'lora', got {values}")
    if key == "steps" and any(not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"{where}: steps must be positive integers, got {values}")
    if key == "norm" and any(v not in NORMS for v in values):
        raise ValueError(f"{where}: norm is one of {', '.join(NORMS)}, got {values}")
    if key == "series_embedding" and any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
        raise ValueError(f"{where}: series_embedding is the size of a learned vector per series (0: off), "
                         f"got {values}")
    if key == "linear_skip" and any(not isinstance(v, bool) for v in values):
        raise ValueError(f"{where}: linear_skip is true or false, got {values}")
    if key in ("dropout", "teacher_forcing"):
        hi_ok = (lambda v: v <= 1) if key == "teacher_forcing" else (lambda v: v < 1)
        for v in values:
            if not isinstance(v, (int, float)) or v < 0 or not hi_ok(v):
                bound = "[0, 1]" if key == "teacher_forcing" else "[0, 1)"
                raise ValueError(f"{where}: {v!r} is outside {bound}")


# Training settings a model section may set per architecture (and sweep over).
TRAIN_OVERRIDABLE = {"learning_rate", "weight_decay", "batch_size", "grad_clip", "patience", "epochs"}


def _check_input_lengths(value: Any, where: str) -> None:
    if isinstance(value, (UniformSpec, LogUniformSpec)):
        raise ValueError(f"{where}: input lengths are positive integers (steps): search them with int or choice")
    bad = [v for v in checked_values(value) if isinstance(v, bool) or not isinstance(v, int) or v < 1]
    if bad:
        raise ValueError(f"{where}: input lengths are positive integers (steps), got {bad}")


def window_input_per_model(raw: Any) -> Any:
    """`window.input` may be a search spec (`{choice: [14, 30, 60]}`), and a model section may set its own
    `window_input`. The data is windowed once, at the largest input length any trial can take, so every trial is
    scored on the same target windows; each trained model's section then carries its own `window_input` (the
    global spec, or the global length where only other models search it). The result validates to itself, so a
    resolved config.yaml reloads unchanged."""
    if not isinstance(raw, dict) or not isinstance(raw.get("window"), dict) or not isinstance(raw.get("models"), dict):
        return raw
    from models import TRAINED_MODELS

    global_spec = raw["window"].get("input")
    if global_spec is None:
        return raw
    global_value = parse_value(global_spec, "window.input")
    if isinstance(global_value, SearchSpec):
        _check_input_lengths(global_value, "window.input")
    sections = {m: p for m, p in raw["models"].items() if m in TRAINED_MODELS and (p is None or isinstance(p, dict))}
    lengths = checked_values(global_value)
    for m, params in sections.items():
        own = (params or {}).get(WINDOW_INPUT)
        if own is not None:
            where = f"models.{m}.{WINDOW_INPUT}"
            own_value = parse_value(own, where)
            _check_input_lengths(own_value, where)
            lengths += checked_values(own_value)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in lengths):
        return raw  # a non-integer length: WindowConfig names it
    if not isinstance(global_value, SearchSpec) and max(lengths) == global_value:
        return raw  # every trial reads the windows as built: nothing to carry per model
    raw = copy.deepcopy(raw)
    raw["window"]["input"] = max(lengths)
    for m in sections:
        params = raw["models"][m] or {}
        params.setdefault(WINDOW_INPUT, copy.deepcopy(global_spec))
        raw["models"][m] = params
    return raw
