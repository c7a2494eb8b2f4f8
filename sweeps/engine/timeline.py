"""The driver's side of where a phase's time goes: when Ray started and ended each trial, the phase's wall time,
the driver's own CPU seconds and the whole machine's, written to the run directory's timeline (models.run_files.RunFiles.timeline).

With the trials' own timelines (sweeps/engine/trial_recorder.py: set-up, W&B, epochs, reports, checkpoints), this
splits every core-second of a phase into training, per-trial overhead and idle (benchmarks/throughput.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

from models.run_files import RunFiles


def machine_cpu_s() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine since boot, summed over cores; None off Linux."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest time is inside user)
    return (total - idle) / tick, total / tick


class PhaseClock(Callback):
    def __init__(self, run_dir: str, phase: str):
        self.files = RunFiles(run_dir)
        self.phase = phase
        self._reset()

    def _reset(self) -> None:
        self.started_at, self.driver_cpu_at, self.machine_at = time.time(), time.process_time(), machine_cpu_s()
        self.trials: dict[str, dict[str, Any]] = {}

    def setup(self, **info: Any) -> None:
        self._reset()  # a resumed phase is timed from its restart; its trials' own records keep every attempt

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.trials.setdefault(trial.trial_id, {"model": trial.config["trial"]["model"], "spans": []})
        self.trials[trial.trial_id]["spans"].append({"started_at": time.time()})

    def _ended(self, trial: Any, how: str) -> None:
        spans = self.trials.get(trial.trial_id, {}).get("spans") or [{}]
        spans[-1].update(ended_at=time.time(), how=how)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ended(trial, "complete")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ended(trial, "error")

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        now, machine = time.time(), machine_cpu_s()
        record = {"phase": self.phase, "started_at": self.started_at, "ended_at": now,
                  "driver_cpu_s": time.process_time() - self.driver_cpu_at, "trials": self.trials}
        if machine is not None and self.machine_at is not None:
            record["machine_busy_cpu_s"] = machine[0] - self.machine_at[0]
            record["machine_total_cpu_s"] = machine[1] - self.machine_at[1]
        self.files.write_timeline(self.phase, record)
