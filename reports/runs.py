"""Read a sweep's run directory: its config and every trial's own record (models/trial_record.py).

Only the run directory's own files are read (no Ray import, no Ray trial folder): a run directory is the contract
between a sweep and its report. Which trial represents an architecture is models.trial_record.best_trials, the
same rule the sweep's seed repeats used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from data_pipeline import DataConfig, SplitConfig, WindowConfig
from models import TrainConfig
from models.forecasters import EntryError
from models.forecasters.trained import load_trial_model
from models.run_files import RunFiles
from models.run_records import RunFilesError, StoredConfig
from models.trial_record import TrialRecord, TrialRecordError, read_records
from models.trial_record import best_trials as best_of_records

__all__ = ["RunDir", "RunDirError", "TrialRecord", "best_trials", "load_best_model", "read_run"]

# The run directory is missing something the report needs; the message says what and how to fix it. One error
# for a broken run directory, whether models.run_files or the report found it.
RunDirError = RunFilesError


@dataclass
class RunDir:
    path: Path
    config: dict[str, Any]  # the stored config as read (`stored` is its typed view)
    trials: list[TrialRecord] = field(default_factory=list)  # the search's trials
    finals: list[TrialRecord] = field(default_factory=list)  # the seed repeats of each model's best configuration

    @property
    def files(self) -> RunFiles:
        return RunFiles(self.path)

    @property
    def stored(self) -> StoredConfig:
        return StoredConfig(self.config, self.files.config)

    def data_configs(self) -> tuple[DataConfig, WindowConfig, SplitConfig]:
        return self.stored.data_configs()

    def train_config(self) -> TrainConfig:
        return self.stored.train_config()


def read_run(path: str | Path) -> RunDir:
    run_path = Path(path).resolve()
    files = RunFiles(run_path)
    config = files.read_config().raw
    if not files.trials_dir.is_dir() and _written_before_records(files):
        raise RunDirError(
            f"{run_path} was written before trials kept their own record ({files.trials_dir.name}/ is missing): "
            f"convert it once with `python -m sweeps.engine.legacy_records {run_path}` (or resume the sweep), then report "
            "again")
    try:
        records = read_records(run_path)
    except TrialRecordError as err:
        raise RunDirError(str(err)) from err
    for t in records:
        if t.checkpoint is None and t.checkpoint_uri is not None:
            t.checkpoint = mirror_checkpoint(t.checkpoint_uri, files.checkpoint_mirror / f"{t.model}_{t.trial_id}")
    return RunDir(run_path, config, [t for t in records if t.final_of is None],
                  [t for t in records if t.final_of is not None])


def best_trials(run: RunDir) -> dict[str, TrialRecord]:
    """The best search trial of each model by validation MSE (models.trial_record.best_trials)."""
    return best_of_records(run.trials)


def _written_before_records(files: RunFiles) -> bool:
    """A run record names the trials' storage: an older sweep's trials live only there, in Ray's own layout."""
    return files.read_run_record() is not None


def mirror_checkpoint(uri: str, local: Path) -> Path:
    """A checkpoint on remote storage (s3://, gs://, file://), copied once to a local folder to load from."""
    import pyarrow as pa
    import pyarrow.fs as pafs

    target = local / Path(uri.rstrip("/")).name
    try:
        fs, root = pafs.FileSystem.from_uri(uri)
        info = fs.get_file_info(root)
        files = ([info] if info.type == pafs.FileType.File
                 else [i for i in fs.get_file_info(pafs.FileSelector(root, recursive=True))
                       if i.type == pafs.FileType.File])
        for f in files:
            dest = target if f.path == root else target / Path(f.path).relative_to(root.rstrip("/"))
            if dest.exists() and dest.stat().st_size == f.size:
                continue  # a checkpoint never changes once written: copy each file once
            dest.parent.mkdir(parents=True, exist_ok=True)
            with fs.open_input_stream(f.path) as src:
                dest.write_bytes(src.read())
    except (OSError, pa.ArrowException) as err:
        raise RunDirError(f"cannot read the checkpoint at {uri}: {err}; check the storage path and credentials") from err
    return target


def load_best_model(trial: TrialRecord, shapes: dict[str, int]) -> nn.Module:
    """Rebuild the trial's model and load its kept weights through models.load_trial_checkpoint (the shared
    reader: the spec a checkpoint carries, checked against the trial record; weights_only)."""
    try:
        return load_trial_model(trial, shapes)
    except EntryError as err:
        raise RunDirError(str(err)) from err
