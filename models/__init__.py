"""Forecasting models: a registry to build them by name, one `fit` to train any of them, metrics, checkpoints.

Knows nothing of Ray or W&B (see DESIGN.md: models is layer 1).

    model = build("gru_nar", n_features=4, n_targets=2, n_inputs=30, n_outputs=7, hidden_size=64,
                  norm="window", linear_skip=True)
    result = fit(model, data, TrainConfig(epochs=100))
    evaluate(model, data.test, data)
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from models.baselines import PERSISTENCE_HPARAMS, RIDGE_HPARAMS, Persistence, Ridge, SeasonalNaive, fit_ridge
from models.checkpoint import CheckpointError, read_checkpoint
from models.config import TrainConfig
from models.metrics import count_parameters, evaluate, predict, scores
from models.rnn import AR_HPARAMS, NAR_HPARAMS, RNNConfig, Seq2SeqRNN
from models.spec import ATTRIBUTE as SPEC_ATTRIBUTE
from models.spec import ModelSpec
from models.train import EpochEnd, FitResult, NonFiniteLossError, TrainState, fit
from models.transformer import HPARAMS as TRANSFORMER_HPARAMS
from models.transformer import TimeSeriesTransformer, TransformerConfig

TRAINED_MODELS = ("lstm_ar", "lstm_nar", "gru_ar", "gru_nar", "transformer")
BASELINES = ("persistence", "ridge", "seasonal_naive")
MODEL_NAMES = TRAINED_MODELS + BASELINES


def _rnn(cell: str, decoder: str) -> Callable[..., nn.Module]:
    return lambda **kw: Seq2SeqRNN(RNNConfig(cell=cell, decoder=decoder, **kw))


# name -> (constructor taking the shape kwargs + hparams, {hparam: default})
_REGISTRY: dict[str, tuple[Callable[..., nn.Module], dict]] = {
    "lstm_ar": (_rnn("lstm", "ar"), AR_HPARAMS),
    "lstm_nar": (_rnn("lstm", "nar"), NAR_HPARAMS),
    "gru_ar": (_rnn("gru", "ar"), AR_HPARAMS),
    "gru_nar": (_rnn("gru", "nar"), NAR_HPARAMS),
    "transformer": (lambda **kw: TimeSeriesTransformer(TransformerConfig(**kw)), TRANSFORMER_HPARAMS),
    "persistence": (lambda **kw: Persistence(**kw), PERSISTENCE_HPARAMS),
    "ridge": (lambda **kw: Ridge(**kw), RIDGE_HPARAMS),
    "seasonal_naive": (lambda **kw: SeasonalNaive(**kw), {"season": 7}),
}
assert set(_REGISTRY) == set(MODEL_NAMES)
# The config dataclass of each trained model: its hyperparameters' types (and, via *_HPARAMS, their defaults).
_CONFIG_CLASSES: dict[str, type] = {"lstm_ar": RNNConfig, "lstm_nar": RNNConfig, "gru_ar": RNNConfig,
                                    "gru_nar": RNNConfig, "transformer": TransformerConfig}


def _entry(name: str) -> tuple[Callable[..., nn.Module], dict]:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    return _REGISTRY[name]


def hparam_names(name: str) -> set[str]:
    """The hyperparameters `build(name, ...)` accepts (beyond the four shape arguments)."""
    return set(_entry(name)[1])


def hparam_defaults(name: str) -> dict:
    return dict(_entry(name)[1])


def hparam_types(name: str) -> dict[str, object]:
    """Each hyperparameter's type as its model's config dataclass declares it (trained models; {} otherwise)."""
    if name not in _CONFIG_CLASSES:
        return {}
    hints = typing.get_type_hints(_CONFIG_CLASSES[name])
    return {k: hints[k] for k in hparam_names(name)}


def build(
    name: str,
    *,
    n_features: int,
    n_targets: int,
    n_inputs: int,
    n_outputs: int,
    n_future: int = 0,
    n_series: int = 1,
    seed: int | None = None,
    **hparams,
) -> nn.Module:
    """Build a model by name. Unset hparams take their defaults; unknown ones are an error, not ignored.

    `n_future`: known-future inputs per forecast day (the data's calendar values); trained models then need
    `future=` in forward. `n_series`: the data's series count, read by a model built with `series_embedding`
    (it then needs `series=` ids in forward). `seed`, if given, makes the weight initialisation reproducible without touching the
    global RNG. The model carries its own `model_spec` (`model_spec(...)` of the same arguments, the seed aside),
    which its training checkpoints keep, so `load_checkpoint(path)` rebuilds it from the file alone.
    """
    spec = model_spec(name, n_features=n_features, n_targets=n_targets, n_inputs=n_inputs, n_outputs=n_outputs,
                      n_future=n_future, n_series=n_series, **hparams)
    ctor, defaults = _entry(name)
    kwargs = dict(defaults, **hparams)
    if seed is None:
        model = ctor(**spec.shapes, **kwargs)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = ctor(**spec.shapes, **kwargs)
    setattr(model, SPEC_ATTRIBUTE, spec)
    return model


def model_spec(
    name: str,
    *,
    n_features: int,
    n_targets: int,
    n_inputs: int,
    n_outputs: int,
    n_future: int = 0,
    n_series: int = 1,
    **hparams,
) -> ModelSpec:
    """What `build` with these arguments makes, checked, without making it: the name, the shapes its constructor
    takes and every hyperparameter (defaults filled). `build(spec.name, **spec.build_kwargs())` rebuilds it."""
    _, defaults = _entry(name)
    unknown = sorted(set(hparams) - set(defaults))
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "none"
        raise ValueError(f"unknown hparam(s) {', '.join(unknown)} for model {name!r}; allowed: {allowed}")
    for k, v in {
        "n_features": n_features,
        "n_targets": n_targets,
        "n_inputs": n_inputs,
        "n_outputs": n_outputs,
    }.items():
        if int(v) != v or v < 1:
            raise ValueError(f"{k} must be a positive integer, got {v!r}")
    if int(n_future) != n_future or n_future < 0:
        raise ValueError(f"n_future must be a non-negative integer, got {n_future!r}")
    kwargs = dict(defaults, **hparams)
    shapes = dict(
        n_features=int(n_features), n_targets=int(n_targets), n_inputs=int(n_inputs), n_outputs=int(n_outputs)
    )
    if n_future:  # only when present, so the default call is exactly what it was
        shapes["n_future"] = int(n_future)
    if int(n_series) != n_series or n_series < 1:
        raise ValueError(f"n_series must be a positive integer, got {n_series!r}")
    if kwargs.get("series_embedding"):  # only models that read series ids take the count
        shapes["n_series"] = int(n_series)
    if n_targets > n_features:
        raise ValueError(
            f"n_targets ({n_targets}) cannot exceed n_features ({n_features}): targets are features"
        )
    return ModelSpec(name, shapes, kwargs)  # refuses a value a checkpoint cannot hold (SpecError, a ValueError)


def load_checkpoint(path: str | Path) -> nn.Module:
    """The model stored at `path`, rebuilt from the checkpoint alone (eval mode, on the CPU): the architecture and
    arguments its spec names, holding its kept weights (the best epoch's, or the last for train.keep=last)."""
    state, spec = read_checkpoint(path)
    if spec is None:
        raise CheckpointError(f"{path} was written before checkpoints carried their model's spec: load it through "
                              "its run directory (reports.runs.load_best_model)")
    return model_from_checkpoint(path, state, spec)


def model_from_checkpoint(path: str | Path, state: TrainState, spec: ModelSpec) -> nn.Module:
    """The model `spec` describes with the state's kept weights, in eval mode (`path` only names it in errors)."""
    try:
        model = build(spec.name, **spec.build_kwargs())
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path}: its model spec cannot be built ({str(err).splitlines()[0]}); the "
                              "checkpoint is from another version or was edited") from err
    try:
        model.load_state_dict(state.best_state)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: the weights do not fit the model its spec describes "
                              f"({str(err).splitlines()[0]})") from err
    return model.eval()


def load_trial_checkpoint(path: str | Path, name: str, shapes: dict[str, int], hparams: dict) -> nn.Module:
    """A trial's model from its checkpoint, where the caller knows what it should be (a trial record's `name` and
    `hparams`, the data's `shapes`): rebuilt from the spec the file carries once it agrees with that; from the
    caller's description for a checkpoint written before checkpoints carried their spec."""
    state, spec = read_checkpoint(path)
    if spec is None:
        model = build(name, **shapes, **hparams)
        model.load_state_dict(state.best_state)
        return model.eval()
    expected = model_spec(name, **shapes, **hparams)
    if not _same_model(spec, expected):
        raise CheckpointError(f"{path} holds {_describe(spec)}, but its trial record and the run's data describe "
                              f"{_describe(expected)}; re-run that trial or restore its record")
    return model_from_checkpoint(path, state, spec)


def _same_model(stored: ModelSpec, expected: ModelSpec) -> bool:
    """The same architecture, shapes and hyperparameters; a hyperparameter one side lacks (added to the model
    after the checkpoint was written) takes its default and is not a difference."""
    shared = set(stored.hparams) & set(expected.hparams)
    return (stored.name == expected.name and stored.shapes == expected.shapes
            and all(stored.hparams[k] == expected.hparams[k] for k in shared))


def _describe(spec: ModelSpec) -> str:
    return f"{spec.name} {spec.build_kwargs()}"


__all__ = [
    "BASELINES",
    "CheckpointError",
    "MODEL_NAMES",
    "TRAINED_MODELS",
    "EpochEnd",
    "FitResult",
    "ModelSpec",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainState",
    "build",
    "count_parameters",
    "evaluate",
    "fit",
    "fit_ridge",
    "hparam_defaults",
    "hparam_names",
    "hparam_types",
    "load_checkpoint",
    "load_trial_checkpoint",
    "model_from_checkpoint",
    "model_spec",
    "predict",
    "read_checkpoint",
    "scores",
]
