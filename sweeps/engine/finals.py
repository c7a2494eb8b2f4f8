"""The sweep's later phases: each architecture's best configuration trained again with more seeds on every
backtest fold (finals), then, optionally, on all data before the test split (refit).

One validation score from one seed on one block cannot tell architectures apart when they sit within a few percent
of each other. So after the search, every trained architecture's validation-chosen configuration runs again with
`sweep.final_seeds` further seeds, and on each earlier fold of `split.folds` with every seed, as ordinary Ray Tune
trials of a second experiment ("finals") beside the search's: resumable, logged to W&B by the same trainable,
shown by the same progress lines. With `report.final_refit`, a third experiment ("refit") trains each choice with
the same seeds on every row before the test split, for the median of its best epochs over folds and seeds, and
keeps the last epoch's weights. Each phase's trial list is written to the run directory once
(models.run_files.RunFiles.trial_list), so a resumed sweep reruns exactly those; RunFiles.mark_phase records which
phases finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.run_files import RunFiles
from models.run_records import FINALS, FINISHED, REFIT


def final_trials(search_trials: list[dict[str, Any]], best_tags: dict[str, str], seeds: int,
                 base_seed: int, folds: int = 1) -> list[dict[str, Any]]:
    """One trial per (architecture, fold, seed) but the search trial itself (the last fold, seed base_seed): the
    best search trial's configuration with seed base_seed + k, on fold j (`fold`: 1..folds-1; the last fold,
    the search's own split, has none).

    `best_tags`: the tag of each model's best search trial, as models.trial_record.best_trials chooses it (the
    rule the report ranks by). Chronos-2 fine-tunes are not repeated (it is a baseline, not one of the
    architectures under comparison).
    """
    from models import TRAINED_MODELS

    by_key = {(t["model"], t["tag"]): t for t in search_trials}
    out = []
    for model in sorted(best_tags):
        trial = by_key.get((model, best_tags[model]))
        if trial is None or model not in TRAINED_MODELS:
            continue
        for fold in range(1, folds + 1):
            for k in range(0 if fold < folds else 1, seeds + 1):
                seed = base_seed + k
                repeat = {**trial, "train": {**trial["train"], "seed": seed}, "final_of": trial["tag"]}
                if fold < folds:
                    out.append({**repeat, "fold": fold, "tag": f"{trial['tag']}_fold{fold}_seed{seed}"})
                else:
                    out.append({**repeat, "tag": f"{trial['tag']}_seed{seed}"})
    return out


def refit_epochs(best_epochs: list[int]) -> int:
    """How long a refit trains: the median of the best epochs its configuration reached over folds and seeds
    (the middle of what validation chose; more data per epoch is not scaled for)."""
    return max(1, int(round(float(np.median(best_epochs))))) if best_epochs else 1


def refit_trials(finals: list[dict[str, Any]], search_trials: list[dict[str, Any]],
                 best_epochs: dict[tuple[str, str], list[int]], base_seed: int) -> list[dict[str, Any]]:
    """One refit per (architecture, seed of its finals): the chosen configuration on fold "refit" (every row before
    the test split) for `refit_epochs` epochs, keeping the last epoch's weights. `best_epochs`: per chosen
    (model, tag), the best epochs of its search trial and its finals. (Tags repeat across models: keys pair them.)"""
    by_key = {(t["model"], t["tag"]): t for t in search_trials}
    out = []
    for key in dict.fromkeys((t["model"], t["final_of"]) for t in finals):
        chosen = by_key.get(key)
        if chosen is None:
            continue
        own_seed = int(chosen["train"].get("seed", base_seed))  # the search trial's: train.seed unless searched
        seeds = sorted({own_seed} | {int(t["train"]["seed"]) for t in finals
                                     if (t["model"], t["final_of"]) == key and "train" in t})
        epochs = refit_epochs(best_epochs.get(key, []))
        for seed in seeds:
            out.append({**chosen, "train": {**chosen["train"], "seed": seed, "epochs": epochs, "keep": "last"},
                        "tag": f"{key[1]}_refit_seed{seed}", "final_of": key[1], "fold": REFIT})
    return out


def planned_finals(run_dir: Path, search_trials: list[dict[str, Any]], seeds: int, base_seed: int,
                   folds: int = 1) -> list[dict[str, Any]]:
    """The final trials of this run: those recorded when the phase first started, else a new list (recorded) of
    repeats of each architecture's best search trial, chosen from the trials' own records by
    models.trial_record.best_trials: the rule the report ranks by, so the repeats attach to the trial it shows."""
    from models.trial_record import best_trials, read_records

    files = RunFiles(run_dir)
    stored = files.read_trial_list(FINALS)
    if stored is not None:
        return [t.to_dict() for t in stored]
    best = best_trials([t for t in read_records(run_dir) if t.final_of is None])
    trials = final_trials(search_trials, {model: t.tag for model, t in best.items()}, seeds, base_seed, folds)
    files.write_trial_list(FINALS, trials)
    return trials


def planned_refit(run_dir: Path, finals: list[dict[str, Any]], search_trials: list[dict[str, Any]],
                  base_seed: int) -> list[dict[str, Any]]:
    """The refit trials of this run: those recorded when the phase first started, else a new list (recorded) from
    the finished finals' best epochs."""
    from models.trial_record import read_records

    files = RunFiles(run_dir)
    stored = files.read_trial_list(REFIT)
    if stored is not None:
        return [t.to_dict() for t in stored]
    best_epochs: dict[tuple[str, str], list[int]] = {}
    chosen = {(t["model"], t["final_of"]) for t in finals}
    for t in read_records(run_dir):
        key = (t.model, t.final_of or t.tag)
        if key in chosen and t.fold != REFIT and t.status == FINISHED and t.best_epoch:
            best_epochs.setdefault(key, []).append(int(t.best_epoch))
    trials = refit_trials(finals, search_trials, best_epochs, base_seed)
    files.write_trial_list(REFIT, trials)
    return trials


def finals_tuner(cfg: Any, trainable: Any, trials: list[dict[str, Any]], callbacks: list[Any], storage_path: str,
                 experiment_name: str, experiment_path: str, dirname: Any, metric: str) -> Any:
    """A Tuner over the final trials (no early cutting across trials: each trains to its own stopping rule),
    or the stored one when the finals phase was interrupted."""
    from ray import tune

    if tune.Tuner.can_restore(experiment_path):
        print(f"Resuming the seed repeats stored in {experiment_path}.")
        return tune.Tuner.restore(experiment_path, trainable=trainable, resume_errored=True)
    return tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(trials)},
        tune_config=tune.TuneConfig(metric=metric, mode="min", reuse_actors=cfg.sweep.reuse_actors,
                                    max_concurrent_trials=cfg.sweep.max_concurrent_trials,
                                    trial_dirname_creator=dirname),
        run_config=tune.RunConfig(
            name=experiment_name, storage_path=storage_path,
            failure_config=tune.FailureConfig(max_failures=cfg.sweep.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1), callbacks=callbacks, verbose=0,
        ),
    )
