"""The trainable's side of the trial record (models/trial_record.py): what one trial knows about itself, written
to the run directory as it goes, so nothing downstream reads Ray's trial folders.

A trial stopped by ASHA, the time budget or a killed driver simply never writes a final status; a failure is
recorded where the trainable sees the exception (and the driver records the ones only Ray saw: a killed worker,
an error before the trainable ran).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

from models.run_files import RunFiles
from models.trial_record import FAILED, FINISHED, FORMAT, RUNNING, TrialRecordError, load_record, write_record


class Part(str, Enum):
    """The parts of a trial's life its timeline times (the record's `timeline.parts_s`, seconds per part);
    benchmarks/timeline.py places them in a phase's core-seconds."""

    RESTORE = "restore_s"  # checkpoint restore
    BUILD = "build_s"  # model build
    WANDB = "wandb_s"  # W&B init and finish
    WANDB_LOG = "wandb_log_s"  # W&B per-epoch log
    RECORD = "record_s"  # trial record writes
    CHECKPOINT = "checkpoint_s"  # snapshot, save, persist via Ray
    REPORT = "report_s"  # reports to Ray
    FIT = "fit_s"  # the whole fit call (the loop and what runs inside it)
    CLOSING = "closing_s"  # the closing report and checkpoint


class TrialRecorder:
    def __init__(self, path: Path, run_dir: Path, *, trial_id: str, trial: dict[str, Any]):
        self.path, self.run_dir = Path(path), Path(run_dir)
        previous: dict[str, Any] = {}
        if self.path.exists():  # a retried or resumed trial keeps its earlier attempts' errors and start time
            try:
                previous = load_record(self.path)
            except TrialRecordError:
                previous = {}  # a record we cannot read is rewritten from what this attempt knows
        self.record: dict[str, Any] = {
            "format": FORMAT, "trial_id": trial_id, "model": trial["model"], "tag": trial["tag"], "trial": trial,
            "status": RUNNING, "history": previous.get("history", []), "best_epoch": previous.get("best_epoch"),
            "best_val_mse": previous.get("best_val_mse"), "checkpoint": previous.get("checkpoint"),
            "errors": previous.get("errors", []), "started_at": previous.get("started_at", time.time()),
            # Where this trial's seconds went, summed over its attempts (benchmarks/throughput.py reads it):
            # wall-clock seconds per part, the attempts' entry/exit times and the worker's CPU seconds.
            "timeline": previous.get("timeline", {}),
        }
        self._attempt = {"entered_at": time.time(), "cpu_at_entry": time.process_time()}
        self._history_json = [json.dumps(h, default=str) for h in self.record["history"]]

    def start(self, history: list[dict[str, Any]], checkpoint: Any, inner: str) -> None:
        """A (re)started attempt: its history and checkpoint are the restored state's (epochs after that checkpoint
        were lost); one that starts afresh has neither until it saves its first checkpoint."""
        self.record["history"] = [dict(h) for h in history]
        self._history_json = [json.dumps(h, default=str) for h in self.record["history"]]
        self.record["checkpoint"] = None if checkpoint is None else checkpoint_location(checkpoint, inner, self.run_dir)
        self.record["checkpoint_epoch"] = max((int(h.get("epoch", 0)) for h in history), default=None)
        self._write()

    def epoch(self, metrics: dict[str, Any], best_epoch: int | None = None) -> None:
        row = {**metrics, "timestamp": time.time()}  # wall clock: the report's search path
        history = self.record["history"]
        if history and history[-1].get("epoch") == row.get("epoch"):  # the same epoch again: replaced
            history.pop()
            self._history_json.pop()
        history.append(row)
        self._history_json.append(json.dumps(row, default=str))
        if best_epoch is not None:
            self.record["best_epoch"] = best_epoch
        self.record["best_val_mse"] = metrics.get("best_val_mse", self.record["best_val_mse"])
        self._write()

    def checkpointed(self, checkpoint: Any, inner: str, epoch: int | None = None) -> None:
        """`checkpoint`: Ray's persisted checkpoint (tune.get_checkpoint() after the report that saved it), holding
        the state after `epoch`."""
        if checkpoint is not None:
            self.record["checkpoint"] = checkpoint_location(checkpoint, inner, self.run_dir)
            self.record["checkpoint_epoch"] = epoch
        self._write()

    def finish(self, best_epoch: int | None, best_val_mse: float | None) -> None:
        self.record.update(status=FINISHED, best_epoch=best_epoch, best_val_mse=best_val_mse)
        self._write()

    def fail(self, err: BaseException, *, ray_error: bool = False) -> None:
        self.record["status"] = FAILED
        self.record["errors"] = [*self.record["errors"], describe_ray_error(err) if ray_error else describe_error(err)]
        self._write()

    @contextmanager
    def timed(self, part: Part) -> Iterator[None]:
        """Add the block's wall-clock seconds to the timeline's `part` (written with the record's next write)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            parts = self.record["timeline"].setdefault("parts_s", {})
            parts[part] = parts.get(part, 0.0) + time.perf_counter() - started

    def leave(self) -> None:
        """The attempt ends (finished, failed or stopped): its span and CPU seconds join the timeline."""
        attempt = dict(self._attempt, left_at=time.time(), cpu_s=time.process_time() - self._attempt["cpu_at_entry"])
        del attempt["cpu_at_entry"]
        self.record["timeline"]["attempts"] = [*self.record["timeline"].get("attempts", []), attempt]
        self._write()

    def _write(self) -> None:
        self.record["updated_at"] = time.time()
        write_record(self.path, self.record, self._history_json)


def describe_error(err: BaseException) -> str:
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {first}"[:500]


def describe_ray_error(err: BaseException) -> str:
    """Ray wraps a trial's exception in its own, whose text ends with the original `Type: message` line."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (lines[-1] if lines else type(err).__name__)[:500]


def checkpoint_location(checkpoint: Any, inner: str, run_dir: Path) -> str:
    """Where the checkpoint's `inner` file or folder lies, as the record stores it: relative to the run directory
    when inside it, else an absolute path, or a URI on remote storage (Checkpoint.path has no scheme there)."""
    path = f"{checkpoint.path.rstrip('/')}/{inner}"
    kind = getattr(checkpoint.filesystem, "type_name", "local")
    if kind != "local":
        return f"{'gs' if kind == 'gcs' else kind}://{path.lstrip('/')}"
    local = Path(path)
    try:
        return str(local.resolve().relative_to(run_dir.resolve()))
    except ValueError:
        return str(local.resolve())


def record_ray_failures(run_dir: Path, results: list[Any]) -> None:
    """Failures only Ray saw (a killed worker, an error raised around the trainable): their records say failed
    too. `results`: Ray Tune's Result objects; each trial's folder is named <model>_<trial id> (trial_dirname)."""
    for result in results:
        if result.error is None or not result.config or "trial" not in result.config:
            continue
        trial = result.config["trial"]
        name = Path(result.path).name
        trial_id = name.removeprefix(f"{trial['model']}_")
        recorder = TrialRecorder(RunFiles(run_dir).record(trial["model"], trial_id), run_dir, trial_id=trial_id,
                                 trial=trial)
        errors = recorder.record["errors"]
        if recorder.path.exists() and load_record(recorder.path)["status"] == FAILED and errors:
            continue  # the trainable recorded it itself
        recorder.fail(result.error, ray_error=True)
