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

import torch
from torch import nn

from models.baselines import PERSISTENCE_HPARAMS, RIDGE_HPARAMS, Persistence, Ridge, SeasonalNaive, fit_ridge
from models.config import TrainConfig
from models.metrics import count_parameters, evaluate, predict, scores
from models.rnn import AR_HPARAMS, NAR_HPARAMS, RNNConfig, Seq2SeqRNN
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
    global RNG.
    """
    ctor, defaults = _entry(name)
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
    if seed is None:
        return ctor(**shapes, **kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ctor(**shapes, **kwargs)


__all__ = [
    "BASELINES",
    "MODEL_NAMES",
    "TRAINED_MODELS",
    "EpochEnd",
    "FitResult",
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
    "predict",
    "scores",
]
