"""The sweep's second phase: each architecture's best configuration trained again with more seeds.

One validation score from one seed cannot tell architectures apart when they sit within a few percent of each
other. So after the search, every trained architecture's validation-chosen configuration runs again with
`sweep.final_seeds` further seeds, as ordinary Ray Tune trials of a second experiment ("finals") beside the
search's: resumable, logged to W&B by the same trainable, shown by the same progress lines. The list of final
trials is written to the run directory once (finals.json), so a resumed sweep reruns exactly those; phases.json
records which phases finished.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FINALS_FILE = "finals.json"
PHASES_FILE = "phases.json"


def final_trials(search_trials: list[dict[str, Any]], best_tags: dict[str, str], seeds: int,
                 base_seed: int) -> list[dict[str, Any]]:
    """One trial per (architecture, extra seed): the best search trial's configuration with seed base_seed + k.

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
        for k in range(1, seeds + 1):
            seed = base_seed + k
            out.append({**trial, "train": {**trial["train"], "seed": seed}, "tag": f"{trial['tag']}_seed{seed}",
                        "final_of": trial["tag"]})
    return out


def planned_finals(run_dir: Path, search_trials: list[dict[str, Any]], seeds: int, base_seed: int
                   ) -> list[dict[str, Any]]:
    """The final trials of this run: those recorded when the phase first started, else a new list (recorded) of
    repeats of each architecture's best search trial, chosen from the trials' own records by
    models.trial_record.best_trials: the rule the report ranks by, so the repeats attach to the trial it shows."""
    from models.trial_record import best_trials, read_records

    stored = run_dir / FINALS_FILE
    if stored.exists():
        return json.loads(stored.read_text())
    best = best_trials([t for t in read_records(run_dir) if t.final_of is None])
    trials = final_trials(search_trials, {model: t.tag for model, t in best.items()}, seeds, base_seed)
    _write_atomic(stored, json.dumps(trials, indent=2))
    return trials


def mark_phase(run_dir: Path, phase: str, **info: Any) -> None:
    path = run_dir / PHASES_FILE
    phases = json.loads(path.read_text()) if path.exists() else {}
    phases[phase] = {"finished": True, **info}
    _write_atomic(path, json.dumps(phases, indent=2))


def finished_phases(run_dir: Path) -> set[str]:
    path = run_dir / PHASES_FILE
    return {p for p, v in (json.loads(path.read_text()) if path.exists() else {}).items() if v.get("finished")}


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


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
