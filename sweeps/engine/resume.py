"""Make an interrupted sweep's stored state restorable before handing it to `Tuner.restore`.

Ray keeps one checkpoint per trial (num_to_keep=1): registering a new one deletes the old one *before* the
experiment state that still names it is snapshotted. A driver killed in that window leaves a state naming a
deleted checkpoint, and Ray then fails that trial with "Could not recover from checkpoint". Keeping more
checkpoints does not close the window: Ray forces a snapshot after `num_to_keep` new checkpoints, i.e. at the very
registration that deletes the one its last snapshot names. The newest checkpoint of the same trial is a strictly
later state of the same run, so it is put where the state expects one. The stored state is read through Ray's
public `ExperimentAnalysis`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path


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
