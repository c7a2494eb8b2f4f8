"""The trained architectures as ranked entries: each architecture's validation-chosen trial, and the mean of its
seed repeats (`<architecture>_ensemble`), on every span the sweep trained them on.

"Fitting" a trained entry loads the weights the sweep trained on that span: the search trial and its seed repeats
on the run's own split, the finals' fold trials on an earlier fold, the refit trials on every row before the test
split. Nothing is retrained here; a span the sweep has not finished is None (ranked on the spans it has).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from torch import nn

from data_pipeline import SplitWindows, WindowedData, with_input_length
from models import CheckpointError, count_parameters, load_trial_checkpoint, predict
from models.forecasters.base import (
    Capabilities,
    Context,
    Description,
    EntryError,
    Fitted,
    Forecast,
    Forecaster,
    FutureInputs,
    Span,
)
from models.trial_record import FAILED, TrialRecord, best_trials

TRAINED = "trained"
ENSEMBLE = "ensemble"
CAPABILITIES = Capabilities(past_covariates=True, known_future_covariates=True)


def load_trial_model(trial: TrialRecord, shapes: dict[str, int]) -> nn.Module:
    """Rebuild the trial's model and load its kept weights (models.load_trial_checkpoint: the spec the checkpoint
    carries, checked against the record; weights_only: a checkpoint is data, not code)."""
    if trial.checkpoint is None:
        raise EntryError(f"trial {trial.trial_id} ({trial.model}) has no checkpoint")
    try:
        return load_trial_checkpoint(trial.checkpoint, trial.model, shapes, trial.hparams)
    except CheckpointError as err:
        raise EntryError(str(err)) from err


class TrainedTrials:
    """One architecture's chosen trial and the finals trained from its configuration, by span."""

    def __init__(self, chosen: TrialRecord, finals: list[TrialRecord], base_seed: int):
        self.chosen, self.seed = chosen, int(chosen.train.get("seed", base_seed))
        self.finals = [t for t in finals if t.model == chosen.model and t.final_of == chosen.tag
                       and t.status != FAILED and t.checkpoint is not None]
        self._loaded: list[tuple[WindowedData, list[nn.Module]]] = []

    @property
    def repeats(self) -> list[TrialRecord]:
        """The seed repeats on the run's own split, by tag (the seed ensemble's other members)."""
        return sorted((t for t in self.finals if t.fold is None and math.isfinite(t.best_val_mse)),
                      key=lambda t: t.tag)

    def on(self, span: Span) -> list[TrialRecord]:
        """The trials trained on `span`, the search trial's seed first; [] where that span is unfinished."""
        if span.own:
            return [self.chosen, *self.repeats]
        found = sorted((t for t in self.finals if t.fold == span.fold and math.isfinite(t.best_val_mse)),
                       key=lambda t: int(t.train.get("seed", 0)))
        found.sort(key=lambda t: int(t.train.get("seed", self.seed)) != self.seed)
        if span.is_refit:  # the refit forecasts only once every seed of the entry has its refit model
            wanted = {self.seed} | {int(t.train.get("seed", 0)) for t in self.repeats}
            if {int(t.train.get("seed", 0)) for t in found} != wanted:
                return []
        return found

    def models(self, span: Span, trials: list[TrialRecord]) -> tuple[WindowedData, list[nn.Module]]:
        """The span's windows cut to the trials' input length, and the trials' models (loaded once per span)."""
        for data, models in self._loaded:
            if data is span.data and len(models) == len(trials):
                return with_input_length(data, self.chosen.window_input), models
        cut = with_input_length(span.data, self.chosen.window_input)
        models = [load_trial_model(t, cut.shapes) for t in trials]
        self._loaded.append((span.data, models))
        return cut, models


class FittedTrained(Fitted):
    """Trained models on one span; `combine`: forecast by the mean of every seed (the seed ensemble) instead of the
    search trial's seed alone."""

    def __init__(self, entry: Trained, span: Span, trials: list[TrialRecord], combine: bool):
        self.entry, self.span, self.trials, self.combine = entry, span, trials, combine
        self.data, self.nets = entry.trials.models(span, trials)
        self.recorded_val_mse = None if combine else [t.best_val_mse for t in trials]
        self.notes = []

    def predict(self, split: str) -> Forecast:
        return self._predict(self.data.split(split))

    def predict_altered(self, split: str, alter: Callable[[SplitWindows, list[str]], SplitWindows]) -> Forecast:
        return self._predict(alter(self.data.split(split), self.data.feature_names))

    def _predict(self, windows: SplitWindows) -> Forecast:
        preds = [predict(net, windows.x, future=windows.future, series=windows.series) for net in self.nets]
        if self.combine:
            return Forecast(np.mean(preds, 0).astype(np.float32))
        return Forecast(preds[0], seeds=preds if len(preds) > 1 or self.span.is_refit else None)

    def describe(self) -> Description:
        return self.entry.description(count_parameters(self.nets[0], trainable_only=False), len(self.nets))

    def forecast_future(self, inputs: FutureInputs) -> np.ndarray:
        x, future = inputs.in_units(self.data.scaler, self.data.n_future)
        x = x[:, -self.data.n_inputs:]
        preds = [predict(net, x, future=future, series=inputs.series) for net in self.nets]
        return np.mean(preds, 0) if self.combine else preds[0]


class Trained(Forecaster):
    """An architecture's validation-chosen trial (its own seed; the repeats give the seed spread)."""

    capabilities = CAPABILITIES
    combine = False

    def __init__(self, trials: TrainedTrials):
        self.trials = trials
        self.name = trials.chosen.model

    def fit(self, span: Span) -> Fitted | None:
        trials = self.trials.on(span)
        return FittedTrained(self, span, trials, self.combine) if trials else None

    def description(self, params: int, n_models: int) -> Description:
        t = self.trials.chosen
        hparams = {**t.hparams, **t.train, **({} if t.window_input is None else {"window_input": t.window_input})}
        return Description(self.name, TRAINED, t.model, hparams, params, epochs=t.epochs,
                           train_time_s=round(t.train_time_s, 2), trial_id=t.trial_id)


class SeedEnsemble(Trained):
    """`<architecture>_ensemble`: the mean of the chosen configuration's seeds' forecasts."""

    combine = True

    def __init__(self, trials: TrainedTrials):
        super().__init__(trials)
        self.name = f"{trials.chosen.model}_ensemble"

    def description(self, params: int, n_models: int) -> Description:
        single = super().description(params, n_models)
        repeats = self.trials.repeats
        # the repeats in the run's record order, as the trial column has always listed them
        seeds = [self.trials.chosen, *(t for t in self.trials.finals if t in repeats)]
        return Description(self.name, ENSEMBLE, single.family, {**single.hparams, "seeds": len(seeds)},
                           params * len(seeds), members=tuple(t.trial_id for t in seeds),
                           trial_id=",".join(t.trial_id for t in seeds))


def architecture_entries(chosen: TrialRecord, ctx: Context) -> list[Forecaster]:
    """An architecture's chosen trial, and its seed ensemble where it has seed repeats."""
    trials = TrainedTrials(chosen, ctx.finals, ctx.base_seed)
    return [Trained(trials), *([SeedEnsemble(trials)] if trials.repeats else [])]


def register_trial_entries(architecture: str, make: Callable[[TrialRecord, Context], list[Forecaster]],
                           ranked_as: str | None = None) -> None:
    """Rank the chosen trial of `architecture` through `make` instead of as a torch model (Chronos-2's fine-tuning
    is a trial of the sweep, but its checkpoint is a pipeline folder); `ranked_as`: the entry's name in the
    ranking where it is not the architecture's."""
    _TRIAL_ENTRIES[architecture] = make
    if ranked_as is not None:
        _RANKED_AS[architecture] = ranked_as


_TRIAL_ENTRIES: dict[str, Callable[[TrialRecord, Context], list[Forecaster]]] = {}
_RANKED_AS: dict[str, str] = {}


def entry_name(architecture: str) -> str:
    """The ranked entry an architecture's chosen trial becomes (a user may name either, e.g. `--model`)."""
    return _RANKED_AS.get(architecture, architecture)


def trained_entries(ctx: Context) -> list[Forecaster]:
    """Every architecture's validation-chosen trial (and seed ensemble), by architecture name."""
    return [entry for name, chosen in sorted(best_trials(ctx.trials).items())
            for entry in _TRIAL_ENTRIES.get(name, architecture_entries)(chosen, ctx)]
