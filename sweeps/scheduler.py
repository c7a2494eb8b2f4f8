"""ASHA early stopping applied within each architecture, never across them.

One plain ASHA over the whole sweep would compare a Transformer's epoch-5 loss with a GRU's and could stop a
whole family before it warms up; the ranking would then reflect the scheduler, not the architectures.
"""

from __future__ import annotations

from typing import Any

from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler


class PerModelASHA(FIFOScheduler):
    def __init__(self, *, metric: str, mode: str, max_t: int, grace_period: int, reduction_factor: float):
        super().__init__()
        self._metric, self._mode = metric, mode
        self._asha_kwargs = dict(
            time_attr="training_iteration",
            metric=metric,
            mode=mode,
            max_t=max_t,
            grace_period=min(grace_period, max_t),
            reduction_factor=reduction_factor,
        )
        self._per_model: dict[str, AsyncHyperBandScheduler] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True  # metric and mode are fixed at construction

    def _for(self, trial: Any) -> AsyncHyperBandScheduler:
        model = trial.config["trial"]["model"]
        if model not in self._per_model:
            self._per_model[model] = AsyncHyperBandScheduler(**self._asha_kwargs)
        return self._per_model[model]

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._for(trial).on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        return self._for(trial).on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
        asha = self._for(trial)
        if trial.trial_id in asha._trial_info:
            asha.on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        asha = self._for(trial)
        if trial.trial_id in asha._trial_info:
            asha.on_trial_remove(tune_controller, trial)

    def debug_string(self) -> str:
        return "Per-architecture ASHA: " + ", ".join(
            f"{m} stopped {s._num_stopped}" for m, s in sorted(self._per_model.items())
        )
