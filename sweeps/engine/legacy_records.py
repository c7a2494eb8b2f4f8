"""Run directories written before trials kept their own record (issue 27): their trials exist only as Ray's
trial folders (params.json, result.json, error.txt, checkpoint_*). This module reads that old layout once and
writes each trial's record (models/trial_record.py), after which the run reports, forecasts and resumes like a
new one. It is the only place that knows Ray's trial folders; nothing reads them afterwards.

    python -m sweeps.engine.legacy_records runs/<name>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from models.run_files import RunFiles
from models.run_records import FAILED, FINALS, RUNNING, SEARCH, STOPPED
from models.trial_record import FORMAT, write_record
from sweeps.engine.trial_files import CHRONOS_DIR, FINISHED_FILE, TRIAL_STATE_FILE, trial_status

PHASES = (SEARCH, FINALS)  # the older layout had no refit


def needs_conversion(run_dir: Path) -> bool:
    """A run directory with Ray trial folders but no trial records: written before the records existed."""
    files = RunFiles(run_dir)
    record = None if files.trials_dir.is_dir() else files.read_run_record()
    if record is None:
        return False
    if "://" in record.experiment_path:
        return True  # remote storage: assume trials ran rather than list a bucket here
    experiments = (_experiment_path(run_dir, phase) for phase in PHASES)
    return any(path is not None and any(path.glob("*/params.json")) for path in experiments)


def convert(run_dir: Path) -> int:
    """Write a record for every trial of the old layout (search and seed repeats); returns how many."""
    run_dir = Path(run_dir).resolve()
    files = RunFiles(run_dir)
    records = []
    for phase in PHASES:
        experiment = _experiment_path(run_dir, phase)
        if experiment is not None and experiment.exists():
            records += [r for d in sorted(experiment.iterdir()) if (r := _record(d, run_dir)) is not None]
    for record in records:
        write_record(files.record(record["model"], record["trial_id"]), record)
    files.trials_dir.mkdir(exist_ok=True)  # converted, even when no trial had started
    return len(records)


def _experiment_path(run_path: Path, phase: str) -> Path | None:
    """Where a phase's trials are: as run.json records it, mirrored when remote, or the run directory's own
    folder (the default layout, a copied or moved run directory)."""
    files = RunFiles(run_path)
    record = files.read_run_record()
    stored = None if record is None else record.experiment(phase)
    local = files.experiment(phase)
    if stored is None:
        return local if phase == SEARCH else None
    if "://" in stored:
        return mirror_remote(stored, files.mirror_of(local.name))
    if Path(stored).exists() or not local.exists():
        return Path(stored)
    return local  # a run directory copied or moved elsewhere: its own folder holds the results


def mirror_remote(uri: str, local: Path) -> Path:
    """Copy a sweep's trial files from remote storage (s3://, gs://, file://) to a local folder."""
    import pyarrow as pa
    import pyarrow.fs as pafs

    try:
        fs, root = pafs.FileSystem.from_uri(uri)
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    except (OSError, pa.ArrowException) as err:
        raise ValueError(f"cannot read sweep results at {uri}: {err}; check the storage path and credentials") from err
    wanted = ("params.json", "result.json", "error.txt", TRIAL_STATE_FILE, FINISHED_FILE)
    for info in infos:
        if info.type != pafs.FileType.File or not (info.path.endswith(wanted) or f"/{CHRONOS_DIR}/" in info.path):
            continue
        target = local / Path(info.path).relative_to(root.rstrip("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        with fs.open_input_stream(info.path) as src:
            target.write_bytes(src.read())
    return local


def _record(trial_dir: Path, run_dir: Path) -> dict[str, Any] | None:
    params_file = trial_dir / "params.json"
    if not trial_dir.is_dir() or not params_file.exists():
        return None
    trial = json.loads(params_file.read_text())["trial"]
    rows = _read_history(trial_dir / "result.json")
    error_file = trial_dir / "error.txt"
    error = error_file.read_text().strip().splitlines()[-1] if error_file.exists() else None
    checkpoints = sorted(trial_dir.glob("checkpoint_*"))
    status = trial_status(rows, checkpoints[-1] if checkpoints else None, errored=error is not None)
    checkpoint = None
    if checkpoints:
        found = next((checkpoints[-1] / n for n in (TRIAL_STATE_FILE, CHRONOS_DIR) if (checkpoints[-1] / n).exists()),
                     None)
        if found is not None:
            resolved = found.resolve()
            checkpoint = str(resolved.relative_to(run_dir) if resolved.is_relative_to(run_dir) else resolved)
    # The per-epoch rows, without a trained model's closing row (which repeats its last epoch); a one-shot trial
    # (a Chronos-2 fine-tune) reports only that closing row, which is then its whole history.
    history = [r for r in rows if not r.get("trial_finished")] or rows
    closing = next((r for r in rows if r.get("trial_finished")), {})
    return {"format": FORMAT, "trial_id": trial_dir.name.removeprefix(f"{trial['model']}_"), "model": trial["model"],
            "tag": trial["tag"], "trial": trial, "status": status if status != STOPPED else RUNNING,
            "history": history, "best_epoch": closing.get("best_epoch"), "best_val_mse": closing.get("best_val_mse"),
            "checkpoint": checkpoint, "errors": [error] if error and status == FAILED else [],
            "converted_from": str(trial_dir)}


def _read_history(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut short by a killed writer: everything before it is intact
    return rows


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sweeps.engine.legacy_records runs/<name>", file=sys.stderr)
        return 2
    run_dir = Path(args[0])
    if not needs_conversion(run_dir):
        print(f"{run_dir}: nothing to convert (it has trial records, or no Ray trial folders)")
        return 0
    print(f"{run_dir}: wrote {convert(run_dir)} trial records to {RunFiles(run_dir).trials_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
