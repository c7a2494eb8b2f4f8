"""Chronos-2 as ranked entries: zero-shot from the configured weights, and fine-tuned (the sweep's best trial).

Both forecast every window from its inputs alone and bring their own quantiles (scored as CQR); they are scored on
the run's own split only (not backtested, not refit: the zero-shot model fits nothing, and the sweep fine-tunes
on the run's own training rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.chronos import CHRONOS2
from models.forecasters.base import (
    Capabilities,
    Context,
    Description,
    Fitted,
    Forecast,
    Forecaster,
    FutureInputs,
    NotApplicable,
    Span,
    own_quantile_levels,
)
from models.trial_record import TrialRecord

PRETRAINED = "pretrained"
CAPABILITIES = Capabilities(own_intervals=True, past_covariates=True, backtests=False, refits=False)


class FittedChronos(Fitted):
    def __init__(self, pipeline: Any, span: Span, description: Description, levels: tuple[float, ...],
                 recorded_val_mse: float | None = None):
        self.pipeline, self.data, self.description, self.levels = pipeline, span.data, description, levels
        self.recorded_val_mse = None if recorded_val_mse is None else [recorded_val_mse]
        self.notes = []

    def predict(self, split: str) -> Forecast:
        from models.chronos import chronos_predict

        data = self.data
        point, q = chronos_predict(self.pipeline, data.split(split).x, n_targets=data.n_targets,
                                   n_outputs=data.n_outputs, scaler=data.scaler, quantiles=self.levels)
        return Forecast(point, np.sort(q, axis=-1), self.levels)  # a model's quantiles may come out unordered

    def describe(self) -> Description:
        return self.description

    def forecast_future(self, inputs: FutureInputs) -> np.ndarray:
        from models.chronos import chronos_predict

        return chronos_predict(self.pipeline, inputs.x, n_targets=self.data.n_targets, n_outputs=inputs.horizon,
                               scaler=inputs.run_scaler)[0]


def _params(pipeline: Any) -> int:
    from models import count_parameters

    return count_parameters(pipeline.model, trainable_only=False)


class ChronosZeroShot(Forecaster):
    name = "chronos2_zeroshot"
    capabilities = CAPABILITIES

    def __init__(self, path: str, levels: tuple[float, ...], skipped: str | None = None):
        self.path, self.levels, self.skipped = path, own_quantile_levels(levels), skipped

    def fit(self, span: Span) -> Fitted:
        if self.skipped:  # the sweep skipped Chronos-2 on purpose and said why
            raise NotApplicable(self.skipped)
        from models.chronos import load_chronos

        try:
            pipeline = load_chronos(self.path)
        except (ImportError, RuntimeError) as err:
            raise NotApplicable(f"Chronos-2 zero-shot skipped: {str(err).splitlines()[0]}") from err
        return FittedChronos(pipeline, span, Description(self.name, PRETRAINED, CHRONOS2, {"weights": self.path},
                                                         _params(pipeline)), self.levels)


class ChronosFinetuned(Forecaster):
    name = f"{CHRONOS2}_finetuned"
    capabilities = CAPABILITIES

    def __init__(self, trial: TrialRecord, levels: tuple[float, ...]):
        self.trial, self.levels = trial, own_quantile_levels(levels)

    def fit(self, span: Span) -> Fitted:
        from models.chronos import load_chronos

        t = self.trial
        assert t.checkpoint is not None  # best_trials keeps only trials with a checkpoint
        pipeline = load_chronos(Path(t.checkpoint))
        return FittedChronos(pipeline, span, Description(self.name, PRETRAINED, CHRONOS2, dict(t.hparams),
                                                         _params(pipeline), train_time_s=round(t.train_time_s, 2),
                                                         trial_id=t.trial_id),
                             self.levels, recorded_val_mse=t.best_val_mse)


def finetuned_entries(chosen: TrialRecord, ctx: Context) -> list[Forecaster]:
    return [ChronosFinetuned(chosen, ctx.interval_levels)]


def zeroshot_entries(ctx: Context) -> list[Forecaster]:
    if CHRONOS2 not in ctx.config.model_names:
        return []
    path = str(ctx.config.pretrained_path)
    return [ChronosZeroShot(path, ctx.interval_levels, ctx.skipped.get(CHRONOS2))]
