"""Make an interrupted sweep's stored state restorable before handing it to `Tuner.restore`.

Ray keeps one checkpoint per trial (num_to_keep=1): registering a new one deletes the old one *before* the
experiment state that still names it is snapshotted. A driver killed in that window leaves a state naming a
deleted checkpoint, and Ray then fails that trial with "Could not recover from checkpoint". Keeping more
checkpoints does not close the window: Ray forces a snapshot after `num_to_keep` new checkpoints, i.e. at the very
registration that deletes the one its last snapshot names. The newest checkpoint of the same trial is a strictly
later state of the same run, so it is put where the state expects one. The stored state is read through Ray's
public `ExperimentAnalysis`.

A state stored before the engine moved to sweeps/engine/ names its old module paths (`older_module_paths`).
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

# The engine's modules that lived at sweeps/<name>.py before they moved to sweeps/engine/.
MOVED_MODULES = ("cluster", "driver", "finals", "hub", "legacy_records", "network", "progress", "resources", "resume",
                 "run_dir", "scheduler", "search_space", "searcher", "timeline", "tracking", "trainable",
                 "trial_files", "trial_recorder", "tuner")


@contextlib.contextmanager
def older_module_paths() -> Iterator[None]:
    """While a sweep runs, the engine's old module paths (`sweeps.tuner`, ...) name its modules.

    Ray pickles a sweep's scheduler, searcher, callbacks and trial-naming function into its stored state by module
    path, so a sweep started by an older version (and resumed, or run again under its name, by this one) can only
    be read back through those names. What Ray stores afterwards names the new paths."""
    added = [f"sweeps.{name}" for name in MOVED_MODULES if f"sweeps.{name}" not in sys.modules]
    for old in added:
        sys.modules[old] = importlib.import_module(f"sweeps.engine.{old.rpartition('.')[2]}")
    try:
        yield
    finally:
        for old in added:
            sys.modules.pop(old, None)


def referenced_checkpoints(experiment: Path) -> set[Path]:
    """The checkpoint directory each trial of the stored experiment state would be restored from."""
    from ray.tune import ExperimentAnalysis

    analysis = ExperimentAnalysis(str(experiment))
    found = set()
    for trial in analysis.trials:
        checkpoint = analysis.get_last_checkpoint(trial)
        if checkpoint is not None:
            found.add(Path(checkpoint.path))
    return found


def repair_missing_checkpoints(experiment: str) -> list[Path]:
    """Recreate each referenced-but-deleted checkpoint from its trial's newest one. Returns what was repaired."""
    if "://" in experiment or not Path(experiment).is_dir():
        return []  # remote storage: Ray's own rules apply
    repaired = []
    for missing in sorted(referenced_checkpoints(Path(experiment))):
        if missing.exists() or not missing.parent.is_dir():
            continue
        newer = sorted(missing.parent.glob("checkpoint_*"))
        if newer:
            shutil.copytree(newer[-1], missing)
            repaired.append(missing)
    return repaired


def set_aside_lost_start(experiment: str, records: Path) -> tuple[Path, int] | None:
    """A driver stopped before Ray's first snapshot leaves its state files empty: Ray can neither restore that
    start nor begin anew over it. The experiment folder and its trials' records (trials/<trial dir>.json) are
    moved, whole, beside it (`<folder>.lost-start-<time>`, kept as evidence, never read again), so the phase
    starts again. Returns (where they went, how many trials had started), or None when there is nothing to set
    aside: no stored state, a readable one, or remote storage (Ray's own rules apply)."""
    from ray import tune
    from ray.tune import ExperimentAnalysis

    if "://" in experiment or not tune.Tuner.can_restore(experiment):
        return None
    try:
        ExperimentAnalysis(experiment)
        return None
    except ValueError:  # json's JSONDecodeError: an empty or cut-short state file
        pass
    path = Path(experiment)
    aside = path.with_name(f"{path.name}.lost-start-{time.strftime('%Y%m%d-%H%M%S')}")
    trial_dirs = [d for d in path.iterdir() if d.is_dir()]
    path.rename(aside)
    lost_records = aside / "trial-records"
    lost_records.mkdir()
    for trial_dir in trial_dirs:
        record = records / f"{trial_dir.name}.json"
        if record.exists():
            record.rename(lost_records / record.name)
    return aside, len(trial_dirs)
