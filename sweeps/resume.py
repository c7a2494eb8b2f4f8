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
