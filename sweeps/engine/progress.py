"""Progress a person can follow: one line per finished or failed trial, with per-model counts and best so far; or,
for a notebook (the Python API's default), one line per phase that updates in place."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections import defaultdict
from typing import Any

from ray.tune import Callback

from sweeps.engine.trial_files import FINISHED, trial_status

# Module-level, not on the callback: Ray pickles callbacks with the experiment state.
INTERRUPTED = threading.Event()
# Set by the driver for a run that wants one updating line per phase. Module-level for the same reason: a
# resumed sweep gets back the callback pickled at its first start, which may have been started the other way.
LIVE_LINE = threading.Event()


class SweepProgress(Callback):
    """Two clocks: the bracketed seconds count from this run's start (a resumed sweep starts them again); the
    line printed on a resume says how long ago the sweep itself first started. Counts include restored trials."""

    # No stream attribute: Ray pickles callbacks with the experiment state, and sys.stdout cannot be pickled.
    # A restored sweep gets back the callback pickled at its first start: `setup` resets what is per run.
    def __init__(self, total_trials: int, sweep_started_at: float | None = None, phase: str = "search"):
        self.total = total_trials
        self.phase = phase
        self.sweep_started_at = time.time() if sweep_started_at is None else sweep_started_at  # wall clock
        self._reset()

    def _reset(self) -> None:
        self.started = time.monotonic()
        self.done: dict[str, int] = defaultdict(int)
        self.failed: dict[str, int] = defaultdict(int)
        self.best: dict[str, float] = {}
        self.epochs: dict[str, int] = {}
        self.restored: int | None = None
        self.live_width = 0  # characters of the live line now shown (a shorter update pads over the rest)

    def setup(self, **info: Any) -> None:
        """Note a Ctrl-C before Ray's own handler turns it into a graceful stop, so the driver can tell an
        interrupted sweep (resume it) from a finished one (report it)."""
        self._reset()
        INTERRUPTED.clear()
        if threading.current_thread() is not threading.main_thread():
            return
        ray_handler = signal.getsignal(signal.SIGINT)

        def note_interrupt(sig: int, frame: Any) -> None:
            INTERRUPTED.set()
            if callable(ray_handler):
                ray_handler(sig, frame)

        signal.signal(signal.SIGINT, note_interrupt)

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        if self.restored is not None:
            return
        # Trials that ended in an earlier run of this sweep are not run again: count them once, up front.
        ended = [t for t in trials if t.status in ("TERMINATED", "ERROR")]
        self.restored = len(ended)
        for trial in ended:
            model = trial.config["trial"]["model"]
            (self.failed if trial.status == "ERROR" else self.done)[model] += 1
            self._note_best(model, trial.last_result or {})
        if ended:
            since = time.time() - self.sweep_started_at
            self._say(f"resumed: {len(ended)}/{self.total} trials restored from earlier runs (the sweep first "
                      f"started {since:.0f} s ago; times in [ ] count from this run's start) {self._counts()}",
                      keep=True)
        if LIVE_LINE.is_set():
            self._say("")  # the phase's line appears at once, before its first trial ends

    def _note_best(self, model: str, result: dict) -> None:
        val = result.get("best_val_mse")
        if isinstance(val, (int, float)) and val < self.best.get(model, float("inf")):
            self.best[model] = float(val)

    def _say(self, text: str, *, keep: bool = False) -> None:
        """One line per event; in live mode the phase's line is rewritten instead, except lines to `keep`."""
        elapsed = time.monotonic() - self.started
        if not LIVE_LINE.is_set():
            print(f"[{elapsed:7.1f}s] {text}", file=sys.stdout, flush=True)
            return
        counts = self._counts().removeprefix("| ")
        line = f"[{elapsed:7.1f}s] " + (text if keep else f"{getattr(self, 'phase', 'search')}: {counts}")
        # A carriage return rewinds to the line's start in a terminal and in Jupyter's output area alike.
        pad = " " * max(0, getattr(self, "live_width", 0) - len(line))
        sys.stdout.write(f"\r{line}{pad}" + ("\n" if keep else ""))
        sys.stdout.flush()
        self.live_width = 0 if keep else len(line)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        if LIVE_LINE.is_set() and getattr(self, "live_width", 0):
            sys.stdout.write("\n")  # the phase's last state stays on screen; the next output starts below it
            sys.stdout.flush()
            self.live_width = 0

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._note_best(trial.config["trial"]["model"], result)
        self.epochs[trial.trial_id] = int(result.get("epoch", 0))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        model = trial.config["trial"]["model"]
        self.done[model] += 1
        epochs = self.epochs.get(trial.trial_id, 0)
        # Finished by its own early stopping / epoch budget, or cut short by ASHA for trailing its family.
        finished = trial_status([trial.last_result or {}], None, errored=False) == FINISHED
        how = "done  " if finished else "cut   "
        self._say(f"{how} {model:<12} {trial.config['trial']['tag']:<24} epochs={epochs:<4} {self._counts()}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        model = trial.config["trial"]["model"]
        self.failed[model] += 1
        self._say(f"FAILED {model:<12} {trial.config['trial']['tag']:<28} (see its error.txt) {self._counts()}",
                  keep=True)

    def _counts(self) -> str:
        finished = sum(self.done.values()) + sum(self.failed.values())
        best = ", ".join(f"{m} {v:.4f}" for m, v in sorted(self.best.items(), key=lambda kv: kv[1]))
        return f"| {finished}/{self.total} trials | best val MSE: {best}"
