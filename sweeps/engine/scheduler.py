"""ASHA early stopping applied within each architecture, never across them.

One plain ASHA over the whole sweep would compare a Transformer's epoch-5 loss with a GRU's and could stop a
whole family before it warms up; the ranking would then reflect the scheduler, not the architectures.
"""

from __future__ import annotations

import math
from typing import Any

from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler


def rung_epochs(max_t: int, grace_period: int, reduction_factor: float) -> list[int]:
    """The epochs at which ASHA compares a trial with its family: grace_period x reduction_factor^k below max_t
    (ASHA's rungs; it decides at the first result whose epoch reaches a rung). A trial that reports only at
    these epochs (and at its checkpoints) gets the same decisions as one that reports every epoch."""
    grace = min(grace_period, max_t)
    n_rungs = int(math.log(max_t / grace) / math.log(reduction_factor) + 1)
    return sorted({math.ceil(grace * reduction_factor**k) for k in range(n_rungs)})


class PerModelASHA(FIFOScheduler):
    def __init__(self, *, metric: str, mode: str, max_t: int, grace_period: int, reduction_factor: float):
        super().__init__()
        self._metric, self._mode = metric, mode
        self._asha_kwargs = dict(
            time_attr="epoch",  # not the report count: a trial reports only when a decision is due
            metric=metric,
            mode=mode,
            max_t=max_t,
            grace_period=min(grace_period, max_t),
            reduction_factor=reduction_factor,
        )
        self._per_model: dict[str, AsyncHyperBandScheduler] = {}
        # Our own books, so nothing reads ASHA's private state: the trials each ASHA was told about (ASHA
        # fails on a trial it never saw, e.g. one that finished before a resume) and how many it stopped.
        self._added: dict[str, set[str]] = {}
        self._stopped: dict[str, int] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True  # metric and mode are fixed at construction

    def _for(self, trial: Any) -> AsyncHyperBandScheduler:
        model = trial.config["trial"]["model"]
        if model not in self._per_model:
            self._per_model[model] = AsyncHyperBandScheduler(**self._asha_kwargs)
            self._added[model], self._stopped[model] = set(), 0
        return self._per_model[model]

    def _known(self, trial: Any) -> bool:
        self._for(trial)
        return trial.trial_id in self._added[trial.config["trial"]["model"]]

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._for(trial).on_trial_add(tune_controller, trial)
        self._added[trial.config["trial"]["model"]].add(trial.trial_id)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        decision = self._for(trial).on_trial_result(tune_controller, trial, result)
        if decision == self.STOP:
            self._stopped[trial.config["trial"]["model"]] += 1
        return decision

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
        if self._known(trial):
            self._for(trial).on_trial_complete(tune_controller, trial, result)
            self._added[trial.config["trial"]["model"]].discard(trial.trial_id)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        if self._known(trial):
            self._for(trial).on_trial_remove(tune_controller, trial)
            self._added[trial.config["trial"]["model"]].discard(trial.trial_id)

    def debug_string(self) -> str:
        return "Per-architecture ASHA: " + ", ".join(f"{m} stopped {n}" for m, n in sorted(self._stopped.items()))
