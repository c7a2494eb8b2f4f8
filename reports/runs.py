"""Read a sweep's run directory: its config, and every Ray trial's params, history, status and checkpoint.

Only files are read (no Ray import): a run directory is the contract between a sweep and its report.
"""

from __future__ import annotations

import json
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from data_pipeline import DataConfig, SplitConfig, WindowConfig
from models import TrainConfig, build
from models.train import TrainState
from sweeps.trial_files import CHRONOS_DIR, FAILED, FINISHED_FILE, trial_status
from sweeps.trial_files import TRIAL_STATE_FILE as STATE_FILE


class RunDirError(ValueError):
    """The run directory is missing something the report needs; the message says what and how to fix it."""


@dataclass
class TrialRecord:
    trial_id: str
    model: str
    tag: str
    hparams: dict[str, Any]
    train: dict[str, Any]
    history: list[dict[str, Any]]
    status: str  # finished | stopped (ASHA or interrupted) | failed
    error: str | None
    checkpoint: Path | None
    dir: Path
    final_of: str | None = None  # a seed repeat (phase "finals"): the tag of the search trial it repeats
    window_input: int | None = None  # the trial's own input length (searched or per model); None: window.input

    @property
    def best_val_mse(self) -> float:
        vals = [r.get("best_val_mse") for r in self.history if _finite(r.get("best_val_mse"))]
        return float(min(vals)) if vals else math.inf

    @property
    def epochs(self) -> int:
        return max((int(r.get("epoch", 0)) for r in self.history), default=0)

    @property
    def train_time_s(self) -> float:
        return max((float(r.get("train_time_s", 0.0)) for r in self.history), default=0.0)


@dataclass
class RunDir:
    path: Path
    config: dict[str, Any]
    experiment_path: Path
    trials: list[TrialRecord] = field(default_factory=list)  # the search's trials
    finals: list[TrialRecord] = field(default_factory=list)  # the seed repeats of each model's best configuration

    def data_configs(self) -> tuple[DataConfig, WindowConfig, SplitConfig]:
        c = self.config
        return (DataConfig.model_validate(c["data"]), WindowConfig.model_validate(c["window"]),
                SplitConfig.model_validate(c["split"]))

    def train_config(self) -> TrainConfig:
        return TrainConfig.model_validate(self.config["train"])


def read_run(path: str | Path) -> RunDir:
    run_path = Path(path).resolve()
    config_file = run_path / "config.yaml"
    if not config_file.exists():
        raise RunDirError(f"{run_path} is not a sweep run directory (no config.yaml); pass runs/<name>")
    config = yaml.safe_load(config_file.read_text())
    experiment = _experiment_path(run_path)
    trials = _read_trials(experiment)
    finals = _experiment_path(run_path, "finals_path", "ray-finals")
    return RunDir(run_path, config, experiment, trials, _read_trials(finals) if finals else [])


def _read_trials(experiment: Path) -> list[TrialRecord]:
    return [t for d in sorted(experiment.iterdir()) if (t := _read_trial(d)) is not None] if experiment.exists() else []


def _experiment_path(run_path: Path, key: str = "experiment_path", local: str = "ray") -> Path | None:
    """Where an experiment's trials are: as run.json records it, mirrored when remote, or the run directory's own
    folder (the default layout, a copied or moved run directory, or before run.json exists)."""
    run_json = run_path / "run.json"
    if run_json.exists():
        stored = json.loads(run_json.read_text()).get(key)
        if stored is None:
            return None if key != "experiment_path" else run_path / local
        if "://" in stored:
            return mirror_remote(stored, run_path / f"{local}-mirror")
        if Path(stored).exists() or not (run_path / local).exists():
            return Path(stored)
        # A run directory copied or moved elsewhere: its own folder holds the results.
    return run_path / local


def mirror_remote(uri: str, local: Path) -> Path:
    """Copy a sweep's trial files from remote storage (s3://, gs://, file://) to a local folder, skipping what
    the report never reads (Ray's own experiment snapshots)."""
    import pyarrow as pa
    import pyarrow.fs as pafs

    try:
        fs, root = pafs.FileSystem.from_uri(uri)
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    except (OSError, pa.ArrowException) as err:
        raise RunDirError(f"cannot read sweep results at {uri}: {err}; check the storage path and credentials") from err
    wanted = ("params.json", "result.json", "error.txt", STATE_FILE, FINISHED_FILE)
    for info in infos:
        if info.type != pafs.FileType.File or not (info.path.endswith(wanted) or f"/{CHRONOS_DIR}/" in info.path):
            continue
        target = local / Path(info.path).relative_to(root.rstrip("/"))
        if target.exists() and target.stat().st_size == info.size and not info.path.endswith("result.json"):
            continue  # checkpoints never change once written: copy each once
        target.parent.mkdir(parents=True, exist_ok=True)
        with fs.open_input_stream(info.path) as src:
            target.write_bytes(src.read())
    return local


def _read_trial(trial_dir: Path) -> TrialRecord | None:
    params_file = trial_dir / "params.json"
    if not trial_dir.is_dir() or not params_file.exists():
        return None
    info = json.loads(params_file.read_text())["trial"]
    history = _read_history(trial_dir / "result.json")
    error_file = trial_dir / "error.txt"
    error = error_file.read_text().strip().splitlines()[-1] if error_file.exists() else None
    checkpoints = sorted(trial_dir.glob("checkpoint_*"))
    status = trial_status(history, checkpoints[-1] if checkpoints else None, errored=error is not None)
    # A trained model's checkpoint is its training state; a fine-tuned Chronos-2 one is a model directory.
    checkpoint = None
    if checkpoints:
        checkpoint = next((checkpoints[-1] / n for n in (STATE_FILE, CHRONOS_DIR) if (checkpoints[-1] / n).exists()),
                          None)
    return TrialRecord(
        trial_id=trial_dir.name.removeprefix(f"{info['model']}_"), model=info["model"], tag=info["tag"],
        hparams=info["hparams"], train=info["train"], history=_epoch_rows(history),
        status=status, error=error if status == FAILED else None,
        checkpoint=checkpoint if checkpoint is not None and checkpoint.exists() else None, dir=trial_dir,
        final_of=info.get("final_of"), window_input=info.get("window_input"),
    )


def _epoch_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-epoch rows, without a trained model's closing row (which repeats its last epoch). A one-shot
    trial (a Chronos-2 fine-tune) reports only that closing row, which is then its whole history."""
    epochs = [r for r in rows if not r.get("trial_finished")]
    return epochs or rows


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


def best_trials(run: RunDir) -> dict[str, TrialRecord]:
    """The best trial of each model by validation MSE (never by test), among trials with a checkpoint.

    A failed trial never counts, even with a checkpoint from before it failed (as the driver's best_per_model)."""
    best: dict[str, TrialRecord] = {}
    for t in run.trials:
        if t.status == "failed" or t.checkpoint is None or not math.isfinite(t.best_val_mse):
            continue
        if t.model not in best or t.best_val_mse < best[t.model].best_val_mse:
            best[t.model] = t
    return best


def load_best_model(trial: TrialRecord, shapes: dict[str, int]) -> nn.Module:
    """Rebuild the trial's model and load its best-epoch weights (weights_only: a checkpoint is data, not code)."""
    if trial.checkpoint is None:
        raise RunDirError(f"trial {trial.trial_id} ({trial.model}) has no checkpoint")
    try:
        state = TrainState.from_dict(torch.load(trial.checkpoint, map_location="cpu", weights_only=True))
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise RunDirError(
            f"{trial.checkpoint} is not a plain weights checkpoint and was not loaded (only tensors and plain "
            f"values are accepted): {str(err).splitlines()[0]}. Re-run that trial or remove its directory."
        ) from err
    model = build(trial.model, **shapes, **trial.hparams)
    model.load_state_dict(state.best_state)
    return model.eval()


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)
