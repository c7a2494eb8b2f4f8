"""Where a sweep phase's core-seconds go: training, each kind of per-trial overhead, and idle.

Reads a run directory only: the driver's phase clock (`timeline/<phase>.json`, sweeps/engine/timeline.py) and each trial's
own timeline (`trials/*.json`, sweeps/engine/trial_recorder.py). Used by benchmarks/throughput.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sweeps.engine.trial_recorder import Part

# (key, what a reader sees): the rows of the table, in the order a trial lives through them
ROWS = [
    ("startup", "worker start-up (Ray start -> trainable entered: actor, data fetch)"),
    ("restore_build", "checkpoint restore + model build"),
    ("wandb", "W&B (init, per-epoch log, finish)"),
    ("fit_setup", "fit set-up (tensors to device, linear core)"),
    ("in_loop", "training loop (epochs: train + validation)"),
    ("report", "per-epoch reports to Ray (blocking round trip)"),
    ("checkpoint", "checkpoints (snapshot, save, persist via Ray)"),
    ("record", "trial record writes"),
    ("closing", "closing report + checkpoint"),
    ("trainable_other", "rest inside the trainable"),
    ("teardown", "teardown (trainable left -> Ray ended it)"),
    ("idle", "idle slots (no trial running on a core)"),
]

# the parts timed inside the fit call (so not part of its set-up)
INSIDE_FIT = (Part.REPORT, Part.CHECKPOINT, Part.RECORD, Part.WANDB_LOG)

def phase_timeline(run_dir: Path, phase: str, cores: float) -> dict[str, Any]:
    """Core-seconds per row of ROWS for one phase (search | finals), summing to cores x the phase's wall time."""
    from models.run_files import RunFiles
    from models.trial_record import load_record

    clock = json.loads((Path(run_dir) / "timeline" / f"{phase}.json").read_text())
    wall = clock["ended_at"] - clock["started_at"]
    records = {r["trial_id"]: r for r in (load_record(p) for p in sorted(RunFiles(run_dir).trials_dir.glob("*.json")))}
    sums = dict.fromkeys([k for k, _ in ROWS], 0.0)
    spans_s = worker_cpu_s = 0.0
    n_trials = n_epochs = 0
    for trial_id, seen in clock["trials"].items():
        record = records.get(trial_id)
        spans = [s for s in seen["spans"] if "ended_at" in s]
        spans_s += sum(s["ended_at"] - s["started_at"] for s in spans)
        if record is None:
            continue
        n_trials += 1
        timeline = record.get("timeline", {})
        parts = timeline.get("parts_s", {})
        attempts = timeline.get("attempts", [])[-len(spans):] if spans else []
        in_loop = sum(float(h.get("epoch_time_s", 0.0)) for h in record.get("history", []))
        n_epochs += len(record.get("history", []))
        inside_fit = sum(parts.get(k, 0.0) for k in INSIDE_FIT)
        sums["in_loop"] += in_loop
        sums["fit_setup"] += max(0.0, parts.get(Part.FIT, 0.0) - in_loop - inside_fit)
        sums["report"] += parts.get(Part.REPORT, 0.0)
        sums["checkpoint"] += parts.get(Part.CHECKPOINT, 0.0)
        sums["record"] += parts.get(Part.RECORD, 0.0)
        sums["wandb"] += parts.get(Part.WANDB, 0.0) + parts.get(Part.WANDB_LOG, 0.0)
        sums["restore_build"] += parts.get(Part.RESTORE, 0.0) + parts.get(Part.BUILD, 0.0)
        sums["closing"] += parts.get(Part.CLOSING, 0.0)
        # fit_s holds the per-epoch parts; the others were timed outside fit
        timed = sum(v for k, v in parts.items() if k not in INSIDE_FIT)
        inside = 0.0
        for span, attempt in zip(spans, attempts, strict=False):
            sums["startup"] += max(0.0, attempt["entered_at"] - span["started_at"])
            sums["teardown"] += max(0.0, span["ended_at"] - attempt["left_at"])
            inside += attempt["left_at"] - attempt["entered_at"]
            worker_cpu_s += attempt.get("cpu_s", 0.0)
        sums["trainable_other"] += max(0.0, inside - timed)
    capacity = cores * wall
    sums["idle"] = max(0.0, capacity - spans_s)
    out = {"phase": phase, "wall_s": round(wall, 1), "cores": cores, "capacity_core_s": round(capacity, 1),
           "trials": n_trials, "epochs": n_epochs, "core_s": {k: round(v, 1) for k, v in sums.items()},
           "accounted_core_s": round(sum(sums.values()), 1), "driver_cpu_s": round(clock["driver_cpu_s"], 1),
           "worker_cpu_s": round(worker_cpu_s, 1)}
    if "machine_busy_cpu_s" in clock:
        out["machine_busy_cpu_s"] = round(clock["machine_busy_cpu_s"], 1)
    out["efficiency"] = round(sums["in_loop"] / capacity, 3) if capacity else None
    return out


def format_table(columns: dict[str, dict[str, Any]]) -> str:
    """One row per part, one column per measured phase (e.g. before / after): core-seconds and share of capacity."""
    names = list(columns)
    lines = [f"{'where the core-seconds went':<64}" + "".join(f"{n:>22}" for n in names)]
    for key, label in ROWS:
        cells = []
        for n in names:
            c = columns[n]
            v = c["core_s"][key]
            cells.append(f"{v:>10.1f} s {v / c['capacity_core_s']:>7.1%}   ")
        lines.append(f"{label:<64}" + "".join(cells))
    lines.append(f"{'capacity (cores x phase wall time)':<64}" + "".join(
        f"{columns[n]['capacity_core_s']:>10.1f} s {'':>10}" for n in names))
    for key, label in (("driver_cpu_s", "driver process CPU (Tune's loop, callbacks, snapshots)"),
                       ("worker_cpu_s", "trial workers' CPU while in the trainable"),
                       ("machine_busy_cpu_s", "whole machine busy CPU")):
        lines.append(f"{label:<64}" + "".join(f"{columns[n].get(key, float('nan')):>10.1f} s {'':>10}" for n in names))
    lines.append(f"{'per trial: overhead outside the training loop':<64}" + "".join(
        f"{_overhead_per_trial(columns[n]):>10.2f} s {'':>10}" for n in names))
    return "\n".join(lines)


def _overhead_per_trial(c: dict[str, Any]) -> float:
    busy = sum(v for k, v in c["core_s"].items() if k not in ("in_loop", "idle"))
    return busy / max(1, c["trials"])
