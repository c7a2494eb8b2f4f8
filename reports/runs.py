"""Read a sweep's run directory: its config and every trial's own record (models/trial_record.py).

Only the run directory's own files are read (no Ray import, no Ray trial folder): a run directory is the contract
between a sweep and its report. Which trial represents an architecture is models.trial_record.best_trials, the
same rule the sweep's seed repeats used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from torch import nn

from data_pipeline import DataConfig, SplitConfig, WindowConfig
from models import TrainConfig
from models.forecasters import EntryError
from models.forecasters.trained import load_trial_model
from models.trial_record import RECORDS_DIR, REFIT_SCALER, TrialRecord, TrialRecordError, read_records
from models.trial_record import best_trials as best_of_records

__all__ = ["REFIT_SCALER", "RunDir", "RunDirError", "TrialRecord", "best_trials", "load_best_model", "read_run"]


class RunDirError(ValueError):
    """The run directory is missing something the report needs; the message says what and how to fix it."""


@dataclass
class RunDir:
    path: Path
    config: dict[str, Any]
    trials: list[TrialRecord] = field(default_factory=list)  # the search's trials
    finals: list[TrialRecord] = field(default_factory=list)  # the seed repeats of each model's best configuration

    def data_configs(self) -> tuple[DataConfig, WindowConfig, SplitConfig]:
        c = self.config
        self._require("data", "window", "split")
        try:
            return (DataConfig.model_validate(c["data"]), WindowConfig.model_validate(c["window"]),
                    SplitConfig.model_validate(c["split"]))
        except (KeyError, ValueError) as err:  # pydantic's ValidationError is a ValueError
            first = str(err).strip().splitlines()[0]
            raise RunDirError(f"{self.path / 'config.yaml'}: malformed run record ({type(err).__name__}: "
                              f"{first}); {_REDO}") from err

    def train_config(self) -> TrainConfig:
        self._require("train")
        return TrainConfig.model_validate(self.config["train"])

    def _require(self, *sections: str) -> None:
        """Checked where a section is read (a report, a forecast), so a run record holding only what a reader
        needs (a test's, a conversion's) still opens."""
        missing = [k for k in sections if not isinstance(self.config.get(k), dict)]
        if missing:
            raise RunDirError(f"{self.path / 'config.yaml'}: malformed run record (missing section(s) "
                              f"{', '.join(missing)}); {_REDO}")


def read_run(path: str | Path) -> RunDir:
    run_path = Path(path).resolve()
    config_file = run_path / "config.yaml"
    if not config_file.exists():
        raise RunDirError(f"{run_path} is not a sweep run directory (no config.yaml); pass runs/<name>")
    config = _read_config(config_file)
    if not (run_path / RECORDS_DIR).is_dir() and _written_before_records(run_path):
        raise RunDirError(
            f"{run_path} was written before trials kept their own record ({RECORDS_DIR}/ is missing): convert it "
            f"once with `python -m sweeps.legacy_records {run_path}` (or resume the sweep), then report again")
    try:
        records = read_records(run_path)
    except TrialRecordError as err:
        raise RunDirError(str(err)) from err
    for t in records:
        if t.checkpoint is None and t.checkpoint_uri is not None:
            t.checkpoint = mirror_checkpoint(t.checkpoint_uri, run_path / "checkpoint-mirror" / f"{t.model}_{t.trial_id}")
    return RunDir(run_path, config, [t for t in records if t.final_of is None],
                  [t for t in records if t.final_of is not None])


def best_trials(run: RunDir) -> dict[str, TrialRecord]:
    """The best search trial of each model by validation MSE (models.trial_record.best_trials)."""
    return best_of_records(run.trials)


_REDO = "restore it, or run the sweep again (a new --name, or delete this directory)"


def _read_config(config_file: Path) -> dict[str, Any]:
    """The run's stored config, refused by name when it is not one (a broken or hand-edited run record)."""
    try:
        config = yaml.safe_load(config_file.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RunDirError(f"{config_file}: malformed run record (cannot be read as YAML: {first}); {_REDO}") from err
    if not isinstance(config, dict):
        raise RunDirError(f"{config_file}: malformed run record (not a mapping of config sections); {_REDO}")
    return config


def _written_before_records(run_path: Path) -> bool:
    """A run.json names the trials' storage: an older sweep's trials live only there, in Ray's own layout."""
    run_json = run_path / "run.json"
    if not run_json.exists():
        return False
    try:
        record = json.loads(run_json.read_text())
    except (json.JSONDecodeError, OSError, UnicodeDecodeError) as err:
        raise RunDirError(f"{run_json}: malformed run record (not valid JSON: {err}); {_REDO}") from err
    if not isinstance(record, dict):
        raise RunDirError(f"{run_json}: malformed run record (not a JSON object); {_REDO}")
    return "experiment_path" in record


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
    """Rebuild the trial's model and load its best-epoch weights (weights_only: a checkpoint is data, not code)."""
    try:
        return load_trial_model(trial, shapes)
    except EntryError as err:
        raise RunDirError(str(err)) from err
