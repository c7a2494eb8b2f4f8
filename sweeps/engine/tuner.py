"""The search phase's Ray Tune Tuner: a new one (over the expanded trial list for a grid, or with the adaptive
searcher of sweeps/engine/searcher.py for random | tpe), or the stored one on resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sweeps.config import SweepConfig
from sweeps.engine.resume import repair_missing_checkpoints
from sweeps.engine.trial_files import METRIC
from sweeps.spec import checked_values


def build_tuner(cfg: SweepConfig, trainable: Any, trials: list[dict[str, Any]], callbacks: list[Any],
           storage_path: str, experiment_name: str, experiment_path: str) -> Any:
    """A new Tuner, or the stored one when this sweep was interrupted (finished trials stay finished)."""
    from ray import tune

    from sweeps.engine.scheduler import PerModelASHA

    if tune.Tuner.can_restore(experiment_path):
        print(f"Resuming the sweep stored in {experiment_path}: finished trials are kept, the rest continue.")
        for path in repair_missing_checkpoints(experiment_path):
            print(f"  restored {path.parent.name}/{path.name} from that trial's newest checkpoint")
        return tune.Tuner.restore(experiment_path, trainable=trainable, resume_errored=True)
    scheduler = None
    if cfg.sweep.scheduler == "asha":
        scheduler = PerModelASHA(metric=METRIC, mode="min", max_t=asha_max_t(cfg, trials),
                                 grace_period=cfg.sweep.grace_period, reduction_factor=cfg.sweep.reduction_factor)
    if cfg.sweep.search == "grid":
        param_space, search_alg, num_samples = {"trial": tune.grid_search(trials)}, None, 1
    else:
        from sweeps.engine.search_space import planned_budgets
        from sweeps.engine.searcher import PerModelSearch

        models = list(dict.fromkeys(t["model"] for t in trials))
        # The searcher proposes every trial ({"trial": ...}); num_samples is the sum of the per-model budgets.
        param_space, search_alg = {}, PerModelSearch(cfg, models, sampler=cfg.sweep.search)
        num_samples = sum(n for m, n in planned_budgets(cfg).items() if m in models)
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=METRIC,
            mode="min",
            search_alg=search_alg,
            num_samples=num_samples,
            time_budget_s=cfg.sweep.time_budget_s,
            scheduler=scheduler,
            reuse_actors=cfg.sweep.reuse_actors,
            max_concurrent_trials=cfg.sweep.max_concurrent_trials,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=experiment_name,
            storage_path=storage_path,
            failure_config=tune.FailureConfig(max_failures=cfg.sweep.max_failures),
            # One checkpoint per trial (the latest, which also holds its best weights): disk stays bounded.
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=callbacks,
            verbose=0,
        ),
    )


def asha_max_t(cfg: SweepConfig, trials: list[dict[str, Any]]) -> int:
    """ASHA's horizon: the most epochs any trial may run (+1: a trial's closing report comes after its last epoch;
    per-model `epochs` may exceed train.epochs)."""
    return 1 + max([cfg.train.epochs, *(int(t["train"].get("epochs", 0)) for t in trials), *_searched_epochs(cfg)])


def decision_epochs(cfg: SweepConfig, trials: list[dict[str, Any]]) -> tuple[int, ...]:
    """The epochs at which Ray must hear from a trial besides its checkpoints: ASHA's rungs (none without ASHA)."""
    from sweeps.engine.scheduler import rung_epochs

    if cfg.sweep.scheduler != "asha":
        return ()
    return tuple(rung_epochs(asha_max_t(cfg, trials), cfg.sweep.grace_period, cfg.sweep.reduction_factor))


def _searched_epochs(cfg: SweepConfig) -> list[int]:
    """Every `epochs` value a model section can give a trial (a searched range counts by its bounds)."""
    return [int(v) for m, section in cfg.models.items() if "epochs" in (section or {})
            for v in checked_values(section["epochs"])]


def trial_dirname(trial: Any) -> str:
    return f"{trial.config['trial']['model']}_{trial.trial_id}"


def join_storage(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}" if "://" in base else str(Path(base).resolve() / name)
