"""Make an interrupted sweep's stored state restorable before handing it to `Tuner.restore`.

Ray keeps one checkpoint per trial (num_to_keep=1): registering a new one deletes the old one *before* the
experiment state that still names it is snapshotted. A driver killed in that window leaves a state naming a
deleted checkpoint, and Ray then fails that trial with "Could not recover from checkpoint". The newest checkpoint
of the same trial is a strictly later state of the same run, so it is put where the state expects one.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

_CHECKPOINT_PATH = re.compile(rb"(/[^\x00-\x1f\"]*?/checkpoint_\d{6})")


def referenced_checkpoints(experiment: Path) -> set[Path]:
    """Checkpoint directories named by the newest experiment-state snapshot (paths live in pickled blobs)."""
    states = sorted(experiment.glob("experiment_state-*.json"), key=lambda p: p.stat().st_mtime)
    if not states:
        return set()
    found: set[Path] = set()
    for trial_state, run_metadata in json.loads(states[-1].read_text()).get("trial_data", []):
        for blob in re.findall(r'"value":\s*"([0-9a-f]+)"', run_metadata + trial_state):
            found |= {Path(m.decode()) for m in _CHECKPOINT_PATH.findall(bytes.fromhex(blob))}
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
