"""Run one sweep: data once -> Ray Tune trials over every architecture -> seed repeats -> results on disk.

The run directory's identity lives in sweeps/engine/run_dir.py, Ray start-up and trial resources in sweeps/engine/cluster.py,
the search Tuner in sweeps/engine/tuner.py and the seed-repeat phase's plan in sweeps/engine/finals.py; this module runs them
in order; what each trial did is read back from the trials' own records (models/trial_record.py).

Over 300 lines: the phases' order, their resume and the progress a person follows are one sequence, read top down.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_pipeline import WindowedData, build_windowed_data
from models.run_files import RunFiles
from models.run_records import FINALS, REFIT, SEARCH, RunRecord, SearchPlan
from models.trial_record import TrialRecord, read_records
from sweeps.config import ConfigError, SweepConfig
from sweeps.engine.cluster import init_ray, trial_resources
from sweeps.engine.finals import finals_tuner, planned_finals, planned_refit
from sweeps.engine.legacy_records import convert, needs_conversion
from sweeps.engine.progress import INTERRUPTED, LIVE_LINE, SweepProgress
from sweeps.engine.resume import older_module_paths, set_aside_lost_start
from sweeps.engine.run_dir import (
    absolute_data_paths,
    has_started_trials,
    prepare_run_dir,
    record_data_files,
    refuse_changed_data,
    refuse_changed_files,
    refuse_other_config,
)
from sweeps.engine.search_space import expand_trials, planned_budgets, probe_trials
from sweeps.engine.timeline import PhaseClock
from sweeps.engine.tracking import TrialWandb, WandbPlan, plan_wandb
from sweeps.engine.trial_files import METRIC
from sweeps.engine.trial_recorder import record_ray_failures
from sweeps.engine.tuner import build_tuner, decision_epochs, join_storage, trial_dirname


@dataclass
class SweepOptions:
    name: str
    runs_root: Path = Path("runs")
    address: str | None = None
    wandb_mode: str | None = None
    live_progress: bool = False  # one updating line per phase (notebooks) instead of a line per trial
    ray_logs: bool = False  # show Ray's own start-up and worker logs


@dataclass
class SweepOutcome:
    run_dir: Path
    experiment_path: str
    wandb: WandbPlan
    trials: list[dict[str, Any]] = field(default_factory=list)  # one row per trial: model, tag, status, metrics
    records: list[TrialRecord] = field(default_factory=list)  # the search trials' own records
    wall_time_s: float = 0.0  # this run of the driver
    sweep_started_at: float | None = None  # wall clock (epoch seconds) of the sweep's first start; None: unknown
    resumed: bool = False  # this run continued a sweep an earlier run started
    finals: list[dict[str, Any]] = field(default_factory=list)  # one row per seed-repeat trial (phase "finals")
    finals_time_s: float = 0.0


def run_dir_for(opts: SweepOptions) -> Path:
    return (opts.runs_root / opts.name).resolve()


def run_sweep(cfg: SweepConfig, opts: SweepOptions, trainable: Callable[..., None] | None = None) -> SweepOutcome:
    """`trainable` (default: sweeps.engine.trainable.train_trial) runs one trial; it is called with the same keywords
    as train_trial, so a caller may wrap it (e.g. to time or to fail trials on purpose)."""
    with older_module_paths():  # a sweep stored by an older version is read back through its module paths
        return _run_sweep(cfg, opts, trainable)


def _run_sweep(cfg: SweepConfig, opts: SweepOptions, trainable: Callable[..., None] | None) -> SweepOutcome:
    # Each checkpoint forces an experiment snapshot (CheckpointConfig(num_to_keep=1)), which makes Ray warn; the
    # cost is measured in benchmarks/throughput.py instead of printed each time.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    import ray
    from ray import tune

    from sweeps.engine.trainable import train_trial

    trial_fn = trainable or train_trial
    started = time.monotonic()
    run_dir = run_dir_for(opts)
    files = RunFiles(run_dir)
    absolute_data_paths(cfg)
    resolved = cfg.model_dump(mode="json")
    # Nothing is written to the run directory until the config, the data and every trial have validated.
    resuming = has_started_trials(run_dir)
    if resuming:
        refuse_other_config(run_dir, resolved)
        refuse_changed_files(run_dir, cfg)
    data = build_windowed_data(cfg.data, cfg.window, cfg.split)
    if resuming:
        refuse_changed_data(run_dir, data)
        if needs_conversion(run_dir):  # started before trials kept their own record: its trials get one now
            print(f"Writing trial records for the {convert(run_dir)} trials of the earlier run (older layout).")
    skipped = _check_pretrained(cfg)
    adaptive = cfg.sweep.search != "grid"
    # An adaptive search has no trial list before it runs: its probes (each model's space at its corners) are
    # checked instead, and its size is the sum of the per-architecture budgets.
    trials = [t for t in (probe_trials(cfg) if adaptive else expand_trials(cfg)) if t["model"] not in skipped]
    if not trials:
        raise ConfigError(f"nothing left to sweep: {'; '.join(skipped.values())}")
    check_trials(trials, cfg, data)
    prepare_run_dir(cfg, run_dir, resolved, resuming=resuming)
    record_data_files(run_dir, cfg, resuming=resuming)
    files.write_data_summary(data.summary)
    data.scaler.save(files.scaler)
    files.write_skipped(skipped)
    budgets = {m: n for m, n in planned_budgets(cfg).items() if m not in skipped}
    n_planned = sum(budgets.values()) if adaptive else len(trials)
    if adaptive:
        files.write_search_plan(SearchPlan(cfg.sweep.search, budgets))
    else:
        files.write_trial_list(SEARCH, trials)

    wandb_plan = plan_wandb(opts.wandb_mode or cfg.wandb.mode)
    print(wandb_plan.reason)
    # A notebook run keeps Ray's own warnings (e.g. about token authentication) out of its progress line too.
    init_ray(opts.address, wandb_online=wandb_plan.mode == "online", worker_logs=opts.ray_logs,
             log_level="INFO" if opts.ray_logs else "ERROR" if opts.live_progress else "WARNING")
    cpus, gpus = trial_resources(cfg, ray.cluster_resources(), on_cluster=bool(opts.address))
    storage_path = cfg.sweep.storage_path or str(run_dir)
    experiment_name = files.experiment_name(SEARCH, None if cfg.sweep.storage_path is None else opts.name)
    experiment_path = join_storage(storage_path, experiment_name)

    for invented in data.summary.get("invented_rows") or []:  # a calendar that is probably not the data's own
        if invented.get("warning"):
            print(f"warning: {invented['warning']}")
    for note in data.summary.get("notes") or []:  # what reading the data changed or left out (also in the report)
        print(f"note: {note}")
    windows = data.summary.get("windows", {})
    swept = list(dict.fromkeys(t["model"] for t in trials))
    print(
        f"Sweep {opts.name}: {n_planned}{'' if not adaptive else ' ' + cfg.sweep.search} trials over {', '.join(swept)}; windows train/val/test "
        f"{windows.get('train')}/{windows.get('val')}/{windows.get('test')}; {cpus:g} CPU + {gpus:g} GPU per trial; "
        f"results in {experiment_path}"
    )

    fold_data = _fold_data(cfg)
    if fold_data and REFIT in fold_data:  # the refit models read and forecast in their own scaler's units
        fold_data[REFIT].scaler.save(files.refit_scaler)
    resourced = tune.with_resources(
        tune.with_parameters(
            trial_fn,
            data=data,
            base_train=cfg.train.model_dump(),
            threads=max(1, int(cpus)),
            pretrained_path=cfg.pretrained.path,
            run_dir=str(run_dir),
            wandb=TrialWandb(wandb_plan.mode, cfg.wandb.project, cfg.wandb.entity, opts.name, str(run_dir)),
            checkpoint_every=cfg.sweep.checkpoint_every,
            report_epochs=None if cfg.sweep.report_every_epoch else decision_epochs(cfg, trials),
            fold_data=fold_data,
        ),
        {"cpu": cpus, "gpu": gpus},
    )
    # A resumed sweep keeps its first start time; an older run record without one leaves it unknown.
    sweep_started_at: float | None = time.time()
    if resuming:
        stored_record = files.read_run_record()
        sweep_started_at = stored_record.started_at if stored_record is not None else None
    if opts.live_progress:
        LIVE_LINE.set()
    else:
        LIVE_LINE.clear()
    callbacks: list[Any] = [SweepProgress(n_planned, sweep_started_at), PhaseClock(str(run_dir), SEARCH)]

    run_record = RunRecord(name=opts.name, experiment_path=experiment_path, wandb_mode=wandb_plan.mode,
                           n_trials=n_planned, started_at=sweep_started_at,
                           resources_per_trial={"cpu": cpus, "gpu": gpus})
    # Written before any trial runs, so a report can find the results even if this driver never returns.
    files.write_run_record(run_record)
    files.trials_dir.mkdir(exist_ok=True)  # where each trial keeps its record: this run has that layout
    _restart_a_lost_start(experiment_path, run_dir)
    tuner = build_tuner(cfg, resourced, trials, callbacks, storage_path, experiment_name, experiment_path)
    results = tuner.fit()
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt
    # A trial the time budget stopped before its first report has neither config nor metrics: nothing to rank.
    results = [r for r in results if r.config]
    record_ray_failures(run_dir, results)
    records = [t for t in read_records(run_dir) if t.final_of is None]
    rows = [trial_row(t) for t in records]
    if adaptive:  # the trials the searchers proposed, for the seed repeats and for the record
        trials = [r.config["trial"] for r in results if "trial" in r.config]
        files.write_trial_list(SEARCH, trials)
    files.mark_phase(SEARCH, trials=len(rows))
    finals_started = time.monotonic()
    final_rows = _run_finals(cfg, run_dir, trials, resourced, storage_path, experiment_name, run_record)
    if cfg.report.final_refit:
        final_rows += _run_refit(cfg, run_dir, trials, resourced, storage_path, experiment_name, run_record)
    outcome = SweepOutcome(run_dir, experiment_path, wandb_plan, rows, records, time.monotonic() - started,
                           sweep_started_at, resuming, final_rows, time.monotonic() - finals_started)
    run_record.wall_time_s, run_record.finals_time_s = outcome.wall_time_s, outcome.finals_time_s
    files.write_run_record(run_record)
    return outcome


def _fold_data(cfg: SweepConfig) -> dict[str, WindowedData] | None:
    """The windows of the earlier backtest folds and of the refit, each split (and scaled) on its own rows only;
    None when the run has neither."""
    from data_pipeline.splits import fold_split

    folds: list[int | str] = list(range(1, cfg.split.folds))
    if cfg.report.final_refit:
        folds.append(REFIT)
    return {str(f): build_windowed_data(cfg.data, cfg.window, fold_split(cfg.split, f)) for f in folds} or None


def _run_finals(cfg: SweepConfig, run_dir: Path, trials: list[dict[str, Any]], trainable: Any, storage_path: str,
                experiment_name: str, run_record: RunRecord
                ) -> list[dict[str, Any]]:
    """Phase 2: each architecture's best configuration again with `sweep.final_seeds` more seeds, on every fold of
    `split.folds` (sweeps/engine/finals.py). "Best" is models.trial_record.best_trials, the rule the report ranks by, so
    the repeats attach to its choice."""
    finals = planned_finals(run_dir, trials, cfg.sweep.final_seeds, cfg.train.seed, cfg.split.folds)
    if not finals:
        return []
    folds = f" on each of {cfg.split.folds} backtest folds" if cfg.split.folds > 1 else ""
    what = f"{cfg.sweep.final_seeds} more seed(s) of each architecture's best configuration{folds}"
    return _run_phase(cfg, run_dir, finals, trainable, storage_path, experiment_name, run_record, phase=FINALS,
                      label="seed repeats", headline=f"Seed repeats: {len(finals)} trials ({what})")


def _run_refit(cfg: SweepConfig, run_dir: Path, trials: list[dict[str, Any]], trainable: Any, storage_path: str,
               experiment_name: str, run_record: RunRecord) -> list[dict[str, Any]]:
    """Phase 3 (report.final_refit): each chosen configuration, every seed of its finals, on all data before the
    test split for the median of its best epochs (sweeps/engine/finals.py)."""
    finals = planned_finals(run_dir, trials, cfg.sweep.final_seeds, cfg.train.seed, cfg.split.folds)
    refits = planned_refit(run_dir, finals or _no_finals(run_dir), trials, cfg.train.seed)
    if not refits:
        return []
    epochs = sorted({t["train"]["epochs"] for t in refits})
    return _run_phase(cfg, run_dir, refits, trainable, storage_path, experiment_name, run_record, phase=REFIT,
                      label="refit", headline=f"Final refit: {len(refits)} trials (each choice on all data before "
                      f"the test split, {'/'.join(map(str, epochs))} epochs)")


def _restart_a_lost_start(experiment_path: str, run_dir: Path) -> None:
    lost = set_aside_lost_start(experiment_path, RunFiles(run_dir).trials_dir)
    if lost is not None:
        print(f"Ray's stored state in {experiment_path} is empty (the driver was stopped before Ray's first "
              f"snapshot): nothing to resume there. Its {lost[1]} started trial(s) are kept aside in {lost[0]}; "
              "this phase starts again.")


def _no_finals(run_dir: Path) -> list[dict[str, Any]]:
    """Without seed repeats or folds, the refit still retrains each architecture's best search trial."""
    from models.trial_record import best_trials

    return [{"model": t.model, "final_of": t.tag} for t in best_trials(read_records(run_dir)).values()]


def _run_phase(cfg: SweepConfig, run_dir: Path, planned: list[dict[str, Any]], trainable: Any, storage_path: str,
               experiment_name: str, run_record: RunRecord, *, phase: str, label: str, headline: str
               ) -> list[dict[str, Any]]:
    files = RunFiles(run_dir)
    name = files.experiment_name(phase, experiment_name)
    path = join_storage(storage_path, name)
    run_record.phase_paths[phase] = path
    files.write_run_record(run_record)
    print(f"{headline}; results in {path}")
    _restart_a_lost_start(path, run_dir)
    tuner = finals_tuner(cfg, trainable, planned, [SweepProgress(len(planned), phase=label),
                                                   PhaseClock(str(run_dir), phase)], storage_path, name, path,
                         trial_dirname, METRIC)
    results = tuner.fit()
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt
    record_ray_failures(run_dir, [r for r in results if r.config])
    keys = {(t["model"], t["tag"]) for t in planned}
    rows = [trial_row(t) for t in read_records(run_dir) if (t.model, t.tag) in keys]
    files.mark_phase(phase, trials=len(rows))
    return rows


def check_trials(trials: list[dict[str, Any]], cfg: SweepConfig, data: WindowedData) -> None:
    """Build every trial's model and training settings once, on the real data shapes, before Ray starts: a bad
    grid point (a float layer count, d_model not divisible by nhead, batch_size 0) is one clear error now, not
    a failure in every trial later."""
    from pydantic import ValidationError

    from models import TrainConfig, build
    from models.chronos import CHRONOS2
    from sweeps.config import format_validation_error

    for trial in trials:
        where = f"models.{trial['model']} ({trial['tag']})"
        if trial["model"] == CHRONOS2:
            continue
        try:
            TrainConfig.model_validate({**cfg.train.model_dump(), **trial["train"]})
        except ValidationError as err:
            raise ConfigError(f"{where}: {format_validation_error(err)}") from err
        try:
            shapes = dict(data.shapes, n_inputs=trial.get("window_input") or data.n_inputs)
            build(trial["model"], **shapes, **trial["hparams"])
        except (ValueError, TypeError, RuntimeError, AssertionError) as err:
            raise ConfigError(f"{where}: {str(err).splitlines()[0] or type(err).__name__}") from err


def _check_pretrained(cfg: SweepConfig) -> dict[str, str]:
    """Load the pretrained weights once before any trial, so a missing model costs one clear line, not a
    failed trial per grid point; the sweep goes on without it and the report says why."""
    from models.chronos import CHRONOS2

    skipped: dict[str, str] = {}
    if CHRONOS2 in cfg.models and cfg.data.panel_id_column is not None:
        # Its windows go back to original units through one scaler; a panel has one per series.
        skipped[CHRONOS2] = ("Chronos-2 skipped: the pretrained baseline takes single-series data only; this data "
                             "holds many series (data.id_column / data.series_columns)")
        print(skipped[CHRONOS2])
    elif CHRONOS2 in cfg.models:
        try:
            from models.chronos import load_chronos
            from sweeps.engine.hub import fetch_pretrained

            load_chronos(fetch_pretrained(cfg.pretrained.path), device="cpu")
        except (ImportError, RuntimeError) as err:
            skipped[CHRONOS2] = f"Chronos-2 skipped: {str(err).splitlines()[0]}"
            print(skipped[CHRONOS2])
    return skipped


def trial_row(t: TrialRecord) -> dict[str, Any]:
    """One line of the sweep's summary, from the trial's own record."""
    return {"model": t.model, "tag": t.tag, "status": t.status,
            "best_val_mse": t.best_val_mse if math.isfinite(t.best_val_mse) else None, "epochs": t.epochs or None, "error": t.error}
