"""Adaptive search (sweep.search: random | tpe): one Optuna sampler per architecture behind one Ray Tune Searcher.

Why one Tuner with a dispatching searcher rather than one Tuner per architecture: the sweep stays one Ray
experiment, so the run directory, the progress lines, the per-architecture ASHA, resume and the report read it
exactly as they read a grid sweep. Each architecture still gets its own budget (`sweep.num_samples`, or
`models.<name>.num_samples`) and its own sampler state, so TPE never compares a Transformer's loss with a GRU's
and never starves an architecture that warms up slower: proposals go round-robin to the architecture with the
fewest trials so far. Each sampler sits behind Ray's `ConcurrencyLimiter`, so it proposes at most
`sweep.search_concurrency` trials before their results are back.

Spec -> Optuna distribution (`SearchSpec.optuna`, sweeps/spec.py): grid and choice -> categorical, uniform ->
float, loguniform -> float on a log scale, int -> integer. Plain values stay fixed. A model with nothing to search gets one trial. With
`sweep.start_from_defaults` (on by default) each architecture's first trial is the tool's defaults
(`search_space.default_point`), given to OptunaSearch as Ray's `points_to_evaluate`.
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import Any

from ray.tune.search import ConcurrencyLimiter, Searcher
from ray.tune.search.optuna import OptunaSearch

from sweeps.config import SweepConfig
from sweeps.engine.search_space import default_point, make_trial, model_spaces
from sweeps.engine.trial_files import METRIC

MODE = "min"


class PerModelSearch(Searcher):
    """Dispatches each new trial to one architecture's `ConcurrencyLimiter(OptunaSearch)` and routes its results
    back to it. `suggest` returns the trial in the shape the trainable reads: {"trial": {model, hparams, train,
    tag[, window_input]}}."""

    def __init__(self, cfg: SweepConfig, models: list[str], sampler: str = "tpe"):
        super().__init__(metric=METRIC, mode=MODE)
        import optuna

        # Ray already says what each trial does; Optuna's per-trial INFO lines would double the console output.
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        spaces = model_spaces(cfg)
        self._fixed: dict[str, dict[str, Any]] = {}
        self._budget: dict[str, int] = {}
        self._optuna: dict[str, OptunaSearch] = {}
        self._limiters: dict[str, ConcurrencyLimiter] = {}
        for i, model in enumerate(models):
            specs, fixed, budget = spaces[model]
            self._fixed[model], self._budget[model] = fixed, budget
            if not specs:
                continue
            space = {k: spec.optuna() for k, spec in specs.items()}
            seed = cfg.train.seed + i
            if sampler == "tpe":
                # Optuna's default waits for 10 random trials before TPE models anything: with 6 trials per
                # architecture TPE would never start. A third of the budget (at least 2) explores at random.
                chosen = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, budget // 3)))
            else:
                chosen = optuna.samplers.RandomSampler(seed=seed)
            # The first trial is the tool's defaults (sweep.start_from_defaults): a known-reasonable point that
            # TPE's model starts from, rather than a random one in a corner of a wide space.
            start = [default_point(cfg, model, specs)] if cfg.sweep.start_from_defaults else None
            self._optuna[model] = OptunaSearch(space, metric=METRIC, mode=MODE, sampler=chosen,
                                               points_to_evaluate=start)
            self._limiters[model] = ConcurrencyLimiter(self._optuna[model], max_concurrent=cfg.sweep.search_concurrency)
        self._proposed: dict[str, int] = {m: 0 for m in models}
        self._model_of: dict[str, str] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # metric, mode and spaces are fixed at construction

    def suggest(self, trial_id: str) -> dict | str | None:
        open_models = [m for m, n in self._proposed.items() if n < self._budget[m]]
        if not open_models:
            return Searcher.FINISHED
        # The architecture with the fewest trials so far first: budgets are spent evenly over the sweep.
        for model in sorted(open_models, key=lambda m: self._proposed[m]):
            if model in self._limiters:
                values = self._limiters[model].suggest(trial_id)
                if values is None:
                    continue  # this architecture waits for results; another may go
            else:
                values = {}
            self._proposed[model] += 1
            self._model_of[trial_id] = model
            return {"trial": make_trial(model, {**self._fixed[model], **values}, self._proposed[model])}
        return None

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        model = self._model_of.get(trial_id)
        if model in self._limiters and METRIC in result:
            self._limiters[model].on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        model = self._model_of.get(trial_id)
        if model in self._limiters:
            self._limiters[model].on_trial_complete(trial_id, result=result, error=error)

    def save(self, checkpoint_path: str) -> None:
        """Our books, each limiter's state (`get_state`) and each OptunaSearch's own save file, in one file."""
        state: dict[str, Any] = {"proposed": self._proposed, "model_of": self._model_of, "limiters": {},
                                 "optuna": {}}
        with tempfile.TemporaryDirectory() as tmp:
            for model, limiter in self._limiters.items():
                state["limiters"][model] = limiter.get_state()
                path = str(Path(tmp) / model)
                self._optuna[model].save(path)
                state["optuna"][model] = Path(path).read_bytes()
        with open(checkpoint_path, "wb") as f:
            pickle.dump(state, f)

    def restore(self, checkpoint_path: str) -> None:
        # The file is the one this class wrote into the sweep's own experiment directory (as OptunaSearch does).
        with open(checkpoint_path, "rb") as f:
            state = pickle.load(f)
        self._proposed.update(state["proposed"])
        self._model_of.update(state["model_of"])
        with tempfile.TemporaryDirectory() as tmp:
            for model, blob in state["optuna"].items():
                path = Path(tmp) / model
                path.write_bytes(blob)
                self._optuna[model].restore(str(path))
                self._limiters[model].set_state(state["limiters"][model])

    @property
    def proposed(self) -> dict[str, int]:
        return dict(self._proposed)
