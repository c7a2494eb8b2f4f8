"""A trial's own record: one small JSON file per trial in the run directory, the contract between the sweep that
writes it (sweeps/engine/trainable.py) and everything that reads a run (the finals, the report, the forecast).

It lives beside the models because it describes a model's training (config, per-epoch history, best epoch,
checkpoint): sweeps and reports may both import models, and neither has to know the other or Ray's trial layout.

    <run dir>/trials/<model>_<trial id>.json
    {"format": 1, "trial_id", "model", "tag", "trial": {...}, "status": "running|finished|failed",
     "history": [{epoch, train_loss, val_mse, best_val_mse, epoch_time_s, train_time_s, timestamp}, ...],
     "best_epoch", "best_val_mse", "checkpoint", "checkpoint_epoch", "errors": [...], "started_at", "updated_at",
     "timeline": {"parts_s": {...}, "attempts": [...]}}

`checkpoint` names the file (a TrainState) or folder (a fine-tuned Chronos-2) to load: relative to the run
directory when it lies inside it (so a copied or moved run directory still finds its own), else absolute or a
URI (s3://, gs://). A record whose status never became final belongs to a trial stopped by ASHA, by the time
budget, or by an interruption: its readers call it "stopped".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_pipeline.files import write_atomic
from models.run_files import RunFiles
from models.run_records import FAILED, FINAL_STATUSES, FINISHED, RUNNING, STOPPED, TrialSpec

FORMAT = 1
__all__ = ["FAILED", "FINAL_STATUSES", "FINISHED", "FORMAT", "RUNNING", "STOPPED", "TrialRecord",
           "TrialRecordError", "best_trials", "from_record", "load_record", "read_records", "write_record"]


class TrialRecordError(ValueError):
    """A record file that cannot be read; the message names the file and what to do."""


def write_record(path: Path, record: dict[str, Any], history_json: list[str] | None = None) -> None:
    """Atomically: a reader (or a kill mid-write) sees the old record or the new one, never half of one.

    `history_json`: the history's rows already encoded (json.dumps of each), which the trainable keeps so an
    epoch's rewrite encodes one new row, not the whole history again: at 200 epochs 1.5 ms per rewrite instead
    of 5-15 ms (2 loaded cores)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if history_json is None:
        text = json.dumps(record, default=str)
    else:
        rest = json.dumps({k: v for k, v in record.items() if k != "history"}, default=str)
        text = f'{rest[:-1]}, "history": [{", ".join(history_json)}]}}'
    write_atomic(path, text)


def load_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise TrialRecordError(f"{path}: not a readable trial record ({err}); remove it or re-run that trial") from err
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise TrialRecordError(f"{path}: not a trial record of format {FORMAT}; remove it or re-run that trial")
    return record


@dataclass
class TrialRecord:
    trial_id: str
    model: str
    tag: str
    hparams: dict[str, Any]
    train: dict[str, Any]
    history: list[dict[str, Any]]
    status: str  # finished | stopped (ASHA, time budget or interrupted) | failed
    error: str | None  # the exception that failed it (only when failed)
    checkpoint: Path | None  # a local file or folder to load (remote ones are mirrored first), or None
    dir: Path  # the run directory it belongs to
    final_of: str | None = None  # a seed repeat (phase "finals") or refit: the tag of the search trial it repeats
    fold: int | str | None = None  # its backtest fold (1..split.folds), "refit", or None: the run's own split
    window_input: int | None = None  # the trial's own input length (searched or per model); None: window.input
    errors: list[str] = field(default_factory=list)  # every failed attempt's exception, retried ones included
    best_epoch: int | None = None
    checkpoint_uri: str | None = None  # where the checkpoint lies when it is not a local path
    started_at: float | None = None  # wall clock of the trial's first start (epoch seconds)

    checkpoint_epoch: int | None = None  # the epoch whose state the checkpoint holds (None: unknown, older records)

    @property
    def best_val_mse(self) -> float:
        """The best validation MSE whose weights were kept: a trial stopped between two checkpoints (time budget,
        interruption) may have improved after its last one, and those weights are gone."""
        rows = self.history
        if self.status != FINISHED and self.checkpoint_epoch is not None:
            rows = [r for r in rows if int(r.get("epoch", 0)) <= self.checkpoint_epoch]
        vals = [r.get("best_val_mse") for r in rows if _finite(r.get("best_val_mse"))]
        return float(min(vals)) if vals else math.inf

    @property
    def epochs(self) -> int:
        return max((int(r.get("epoch", 0)) for r in self.history), default=0)

    @property
    def train_time_s(self) -> float:
        return max((float(r.get("train_time_s", 0.0)) for r in self.history), default=0.0)


def from_record(record: dict[str, Any], run_dir: Path, where: Path | None = None) -> TrialRecord:
    spec = TrialSpec.from_dict(record.get("trial"), where or run_dir)
    status = record["status"] if record["status"] in FINAL_STATUSES else STOPPED
    stored = record.get("checkpoint")
    checkpoint, uri = None, None
    if stored and "://" in stored:
        uri = stored
    elif stored:
        local = run_dir / stored  # an absolute path stays absolute
        checkpoint = local if local.exists() else None
    errors = [str(e) for e in record.get("errors") or []]
    return TrialRecord(
        trial_id=record["trial_id"], model=spec.model, tag=spec.tag, hparams=spec.hparams,
        train=spec.train, history=list(record.get("history") or []), status=status,
        error=errors[-1] if status == FAILED and errors else None, checkpoint=checkpoint, dir=run_dir,
        final_of=spec.final_of, fold=spec.fold, window_input=spec.window_input, errors=errors,
        best_epoch=record.get("best_epoch"), checkpoint_uri=uri, started_at=record.get("started_at"),
        checkpoint_epoch=record.get("checkpoint_epoch"),
    )


def read_records(run_dir: Path) -> list[TrialRecord]:
    """Every trial record of a run directory (search trials and seed repeats alike), in a stable order."""
    folder = RunFiles(run_dir).trials_dir
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return [from_record(load_record(p), Path(run_dir), p) for p in paths]


def best_trials(trials: list[TrialRecord]) -> dict[str, TrialRecord]:
    """The best trial of each architecture by validation MSE (never by test): the one rule the seed repeats, the
    report and the forecast all use. A failed trial never counts (even with a checkpoint from before it failed),
    nor one without a checkpoint to load or without a finite validation score; seed repeats are not candidates.
    Ties go to the earlier trial (records are read in a stable order)."""
    best: dict[str, TrialRecord] = {}
    for t in trials:
        if t.final_of is not None or t.status == FAILED or not math.isfinite(t.best_val_mse):
            continue
        if t.checkpoint is None and t.checkpoint_uri is None:
            continue
        if t.model not in best or t.best_val_mse < best[t.model].best_val_mse:
            best[t.model] = t
    return best


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)
