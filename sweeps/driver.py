"""Run one sweep: data once -> Ray Tune trials over every architecture -> results on disk (resumable).

Over 250 lines for now: it still holds the run directory's identity, Ray start-up and resources, and the Tuner's
build/restore. Splitting it along those lines waits until the parallel driver changes (selection phases, resources)
have landed, so the split moves their code once instead of conflicting with it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from data_pipeline import WindowedData, build_windowed_data
from sweeps.config import ConfigError, SweepConfig
from sweeps.finals import finals_tuner, mark_phase, planned_finals
from sweeps.progress import INTERRUPTED, SweepProgress
from sweeps.resume import repair_missing_checkpoints
from sweeps.search_space import expand_trials
from sweeps.tracking import TrialWandb, WandbPlan, plan_wandb
from sweeps.trial_files import trial_status

PROJECT_ROOT = Path(__file__).resolve().parents[1]
METRIC = "best_val_mse"


@dataclass
class SweepOptions:
    name: str
    runs_root: Path = Path("runs")
    address: str | None = None
    wandb_mode: str | None = None


@dataclass
class SweepOutcome:
    run_dir: Path
    experiment_path: str
    wandb: WandbPlan
    trials: list[dict[str, Any]] = field(default_factory=list)  # one row per trial: model, tag, status, metrics
    wall_time_s: float = 0.0  # this run of the driver
    sweep_started_at: float | None = None  # wall clock (epoch seconds) of the sweep's first start; None: unknown
    resumed: bool = False  # this run continued a sweep an earlier run started
    finals: list[dict[str, Any]] = field(default_factory=list)  # one row per seed-repeat trial (phase "finals")
    finals_time_s: float = 0.0


def run_dir_for(opts: SweepOptions) -> Path:
    return (opts.runs_root / opts.name).resolve()


def absolute_data_paths(cfg: SweepConfig) -> None:
    """The report and the forecast command may run from another directory: store data paths absolute."""
    for key in ("path", "test_path"):
        value = getattr(cfg.data, key)
        if value and "://" not in value:
            setattr(cfg.data, key, str(Path(value).expanduser().resolve()))


def has_started_trials(run_dir: Path) -> bool:
    """Whether any trial of the sweep stored in `run_dir` has started (Ray wrote its params.json). Only then do
    its config and data bind the name: a start that failed before its first trial leaves nothing to protect."""
    run_json = run_dir / "run.json"
    if not run_json.exists():
        return False
    experiment = json.loads(run_json.read_text())["experiment_path"]
    if "://" in experiment:
        return True  # remote storage: assume trials ran rather than list a bucket here
    return any(Path(experiment).glob("*/params.json"))


def refuse_other_config(run_dir: Path, resolved: dict[str, Any]) -> None:
    """Refuse to mix two different sweeps under one name (called only when the stored one has started trials)."""
    stored_path = run_dir / "config.yaml"
    if not stored_path.exists():
        return
    stored = yaml.safe_load(stored_path.read_text())
    if _identity(stored) != _identity(resolved):
        diff = sorted(_diff_keys(_identity(stored), _identity(resolved)))
        raise ConfigError(
            f"{run_dir} already holds a sweep with a different config (differs at: {', '.join(diff[:6])}); "
            "use another --name, or delete that directory to start over"
        )


def prepare_run_dir(cfg: SweepConfig, run_dir: Path, resolved: dict[str, Any], *, resuming: bool) -> None:
    """Create runs/<name> and write its config: only once the config, the data and every trial have validated."""
    _check_writable(run_dir, "run directory", "pass another --runs-dir")
    if cfg.sweep.storage_path and "://" not in cfg.sweep.storage_path:
        _check_writable(Path(cfg.sweep.storage_path), "sweep.storage_path", "point --storage-path at a writable "
                        "directory shared by all nodes")
    if resuming:
        return
    # A start that never reached a trial may have left Ray's snapshot of its (other) trial list: start afresh.
    run_json = run_dir / "run.json"
    if run_json.exists():
        stale = json.loads(run_json.read_text())["experiment_path"]
        if "://" not in stale and Path(stale).is_dir():
            shutil.rmtree(stale)
        run_json.unlink()
    _write_atomic(run_dir / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))


# What defines a sweep's trials and results. Resources, retries, storage and W&B may change between an
# interrupted run and its resumption.
_IDENTITY_SWEEP_KEYS = ("scheduler", "grace_period", "reduction_factor", "num_samples")


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    out = {k: config.get(k) for k in ("data", "window", "split", "train", "models")}
    out["sweep"] = {k: (config.get("sweep") or {}).get(k) for k in _IDENTITY_SWEEP_KEYS}
    if isinstance(out["data"], dict):
        out["data"] = {k: v for k, v in out["data"].items() if k != "cache_dir"}
    return out


def _refuse_changed_data(run_dir: Path, data: WindowedData) -> None:
    """A resumed sweep must train on the data its finished trials saw: the stored train-only scaler tells."""
    from data_pipeline import Scaler

    stored = run_dir / "scaler.json"
    if stored.exists() and not Scaler.load(stored).matches(data.scaler):
        raise ConfigError(f"the data behind {run_dir} changed since its trials ran (its training-split statistics "
                          "differ); restore the original file, or use another --name for the new data")


def _refuse_changed_files(run_dir: Path, cfg: SweepConfig) -> None:
    """A resumed sweep refuses data files whose content hashes differ from those recorded at its start."""
    from data_pipeline.series import IDENTITY_FILE, check_data_identity

    check_data_identity(run_dir / IDENTITY_FILE, cfg.data, "restore the original file, or use another --name "
                        "for the new data")


def _record_data_files(run_dir: Path, cfg: SweepConfig, *, resuming: bool) -> None:
    """Record the data files' content hashes when a sweep starts (a run directory whose trials never started
    holds no sweep yet: its record is replaced)."""
    from data_pipeline.series import IDENTITY_FILE

    if not resuming:
        (run_dir / IDENTITY_FILE).unlink(missing_ok=True)
    _refuse_changed_files(run_dir, cfg)  # writes the record when there is none


def _check_writable(path: Path, what: str, fix: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"{what} {path} is not writable ({err.strerror or err}); {fix}") from err


def run_sweep(cfg: SweepConfig, opts: SweepOptions, trainable: Callable[..., None] | None = None) -> SweepOutcome:
    """`trainable` (default: sweeps.trainable.train_trial) runs one trial; it is called with the same keywords
    as train_trial, so a caller may wrap it (e.g. to time or to fail trials on purpose)."""
    # Trials checkpoint often (on every improvement, and every sweep.checkpoint_every epochs), which makes Ray
    # warn on forced experiment snapshots; the cost is measured in benchmarks/ instead of printed each time.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    import ray
    from ray import tune

    from sweeps.trainable import train_trial

    trial_fn = trainable or train_trial
    started = time.monotonic()
    run_dir = run_dir_for(opts)
    absolute_data_paths(cfg)
    resolved = cfg.model_dump(mode="json")
    # Nothing is written to the run directory until the config, the data and every trial have validated.
    resuming = has_started_trials(run_dir)
    if resuming:
        refuse_other_config(run_dir, resolved)
        _refuse_changed_files(run_dir, cfg)
    data = build_windowed_data(cfg.data, cfg.window, cfg.split)
    if resuming:
        _refuse_changed_data(run_dir, data)
    skipped = _check_pretrained(cfg)
    trials = [t for t in expand_trials(cfg) if t["model"] not in skipped]
    if not trials:
        raise ConfigError(f"nothing left to sweep: {'; '.join(skipped.values())}")
    check_trials(trials, cfg, data)
    prepare_run_dir(cfg, run_dir, resolved, resuming=resuming)
    _record_data_files(run_dir, cfg, resuming=resuming)
    _write_atomic(run_dir / "data_summary.json", json.dumps(data.summary, indent=2, default=str))
    data.scaler.save(run_dir / "scaler.json")
    _write_atomic(run_dir / "skipped.json", json.dumps(skipped, indent=2))
    _write_atomic(run_dir / "trials.json", json.dumps(trials, indent=2))

    wandb_plan = plan_wandb(opts.wandb_mode or cfg.wandb.mode)
    print(wandb_plan.reason)
    _init_ray(opts.address, wandb_online=wandb_plan.mode == "online")
    cpus, gpus = _trial_resources(cfg, ray.cluster_resources(), on_cluster=bool(opts.address))
    storage_path = cfg.sweep.storage_path or str(run_dir)
    experiment_name = "ray" if cfg.sweep.storage_path is None else opts.name
    experiment_path = _join(storage_path, experiment_name)

    windows = data.summary.get("windows", {})
    swept = list(dict.fromkeys(t["model"] for t in trials))
    print(
        f"Sweep {opts.name}: {len(trials)} trials over {', '.join(swept)}; windows train/val/test "
        f"{windows.get('train')}/{windows.get('val')}/{windows.get('test')}; {cpus:g} CPU + {gpus:g} GPU per trial; "
        f"results in {experiment_path}"
    )

    resourced = tune.with_resources(
        tune.with_parameters(
            trial_fn,
            data=data,
            base_train=cfg.train.model_dump(),
            threads=max(1, int(cpus)),
            pretrained_path=cfg.pretrained.path,
            wandb=TrialWandb(wandb_plan.mode, cfg.wandb.project, cfg.wandb.entity, opts.name, str(run_dir)),
            checkpoint_every=cfg.sweep.checkpoint_every,
        ),
        {"cpu": cpus, "gpu": gpus},
    )
    # A resumed sweep keeps its first start time; an older run.json without one leaves it unknown.
    sweep_started_at = json.loads((run_dir / "run.json").read_text()).get("started_at") if resuming else time.time()
    callbacks: list[Any] = [SweepProgress(len(trials), sweep_started_at)]

    run_record = {"name": opts.name, "experiment_path": experiment_path, "wandb_mode": wandb_plan.mode,
                  "n_trials": len(trials), "started_at": sweep_started_at,
                  "resources_per_trial": {"cpu": cpus, "gpu": gpus}}
    # Written before any trial runs, so a report can find the results even if this driver never returns.
    _write_atomic(run_dir / "run.json", json.dumps(run_record, indent=2))
    tuner = _tuner(cfg, resourced, trials, callbacks, storage_path, experiment_name, experiment_path)
    results = tuner.fit()
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt
    rows = [_trial_row(r) for r in results]
    mark_phase(run_dir, "search", trials=len(rows))
    finals_started = time.monotonic()
    final_rows = _run_finals(cfg, run_dir, trials, rows, resourced, storage_path, experiment_name, run_record)
    outcome = SweepOutcome(run_dir, experiment_path, wandb_plan, rows, time.monotonic() - started, sweep_started_at,
                           resuming, final_rows, time.monotonic() - finals_started)
    _write_atomic(run_dir / "run.json", json.dumps(dict(run_record, wall_time_s=outcome.wall_time_s,
                                                        finals_time_s=outcome.finals_time_s), indent=2))
    return outcome


def _run_finals(cfg: SweepConfig, run_dir: Path, trials: list[dict[str, Any]], rows: list[dict[str, Any]],
                trainable: Any, storage_path: str, experiment_name: str, run_record: dict[str, Any]
                ) -> list[dict[str, Any]]:
    """Phase 2: each architecture's best configuration again with `sweep.final_seeds` more seeds (sweeps/finals.py)."""
    finals = planned_finals(run_dir, trials, best_per_model(rows), cfg.sweep.final_seeds, cfg.train.seed)
    if not finals:
        return []
    name = f"{experiment_name}-finals"
    path = _join(storage_path, name)
    run_record["finals_path"] = path
    _write_atomic(run_dir / "run.json", json.dumps(run_record, indent=2))
    print(f"Seed repeats: {len(finals)} trials ({cfg.sweep.final_seeds} more seed(s) of each architecture's best "
          f"configuration); results in {path}")
    tuner = finals_tuner(cfg, trainable, finals, [SweepProgress(len(finals))], storage_path, name, path,
                         trial_dirname, METRIC)
    results = tuner.fit()
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt
    final_rows = [_trial_row(r) for r in results]
    mark_phase(run_dir, "finals", trials=len(final_rows))
    return final_rows


def _tuner(cfg: SweepConfig, trainable: Any, trials: list[dict[str, Any]], callbacks: list[Any],
           storage_path: str, experiment_name: str, experiment_path: str) -> Any:
    """A new Tuner, or the stored one when this sweep was interrupted (finished trials stay finished)."""
    from ray import tune

    from sweeps.scheduler import PerModelASHA

    if tune.Tuner.can_restore(experiment_path):
        print(f"Resuming the sweep stored in {experiment_path}: finished trials are kept, the rest continue.")
        for path in repair_missing_checkpoints(experiment_path):
            print(f"  restored {path.parent.name}/{path.name} from that trial's newest checkpoint")
        return tune.Tuner.restore(experiment_path, trainable=trainable, resume_errored=True)
    scheduler = None
    if cfg.sweep.scheduler == "asha":
        # +1: a trial's closing report comes after its last epoch. Per-model `epochs` may exceed train.epochs.
        max_epochs = max([cfg.train.epochs, *(int(t["train"].get("epochs", 0)) for t in trials)])
        scheduler = PerModelASHA(metric=METRIC, mode="min", max_t=max_epochs + 1,
                                 grace_period=cfg.sweep.grace_period, reduction_factor=cfg.sweep.reduction_factor)
    return tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(trials)},
        tune_config=tune.TuneConfig(
            metric=METRIC,
            mode="min",
            scheduler=scheduler,
            reuse_actors=cfg.sweep.reuse_actors,
            max_concurrent_trials=cfg.sweep.max_concurrent_trials,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=experiment_name,
            storage_path=storage_path,
            failure_config=tune.FailureConfig(max_failures=cfg.sweep.max_failures),
            # One checkpoint per trial (the latest, which also holds its best weights): disk stays bounded.
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=callbacks,
            verbose=0,
        ),
    )


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
            build(trial["model"], **data.shapes, **trial["hparams"])
        except (ValueError, TypeError, RuntimeError, AssertionError) as err:
            raise ConfigError(f"{where}: {str(err).splitlines()[0] or type(err).__name__}") from err


def _check_pretrained(cfg: SweepConfig) -> dict[str, str]:
    """Load the pretrained weights once before any trial, so a missing model costs one clear line, not a
    failed trial per grid point; the sweep goes on without it and the report says why."""
    from models.chronos import CHRONOS2

    skipped: dict[str, str] = {}
    if CHRONOS2 in cfg.models:
        try:
            from models.chronos import load_chronos
            from sweeps.hub import fetch_pretrained

            load_chronos(fetch_pretrained(cfg.pretrained.path), device="cpu")
        except (ImportError, RuntimeError) as err:
            skipped[CHRONOS2] = f"Chronos-2 skipped: {str(err).splitlines()[0]}"
            print(skipped[CHRONOS2])
    return skipped


def trial_dirname(trial: Any) -> str:
    return f"{trial.config['trial']['model']}_{trial.trial_id}"


def _trial_row(result: Any) -> dict[str, Any]:
    info = result.config["trial"]
    metrics = result.metrics or {}
    local = result.checkpoint is not None and "://" not in result.checkpoint.path
    return {
        "model": info["model"],
        "tag": info["tag"],
        "status": trial_status([metrics], Path(result.checkpoint.path) if local else None,
                               errored=result.error is not None),
        "best_val_mse": metrics.get(METRIC),
        "epochs": metrics.get("epoch"),
        "error": None if result.error is None else f"{type(result.error).__name__}: {result.error}"[:300],
    }


def best_per_model(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        val = row.get("best_val_mse")
        if row["status"] == "failed" or not isinstance(val, (int, float)):
            continue
        if row["model"] not in best or val < best[row["model"]]["best_val_mse"]:
            best[row["model"]] = row
    return best


def _init_ray(address: str | None, *, wandb_online: bool = False) -> None:
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        # The driver's sys.path does not reach other nodes: ship the project's code with the job.
        # Inside `ray job submit --working-dir .` the job already ships it, and Ray refuses a second working_dir.
        job_env = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}")).get("runtime_env") or {}
        runtime_env = None if job_env.get("working_dir") else {
            "working_dir": str(PROJECT_ROOT),
            "excludes": ["runs/", ".venv/", ".cache/", ".git/", "**/__pycache__/", "benchmarks/results/"],
        }
        if runtime_env is not None and wandb_online and os.environ.get("WANDB_API_KEY"):
            # Trials on other nodes open their own W&B runs: they need the key in their environment (handed over
            # in memory through Ray, as Ray's own W&B integration does; never written by us).
            runtime_env["env_vars"] = {"WANDB_API_KEY": os.environ["WANDB_API_KEY"]}
        ray.init(address=address, runtime_env=runtime_env, logging_level="WARNING", log_to_driver=False)
    else:
        ray.init(include_dashboard=False, logging_level="WARNING", log_to_driver=False)


def _trial_resources(cfg: SweepConfig, cluster: dict[str, float], *, on_cluster: bool) -> tuple[float, float]:
    from sweeps.resources import ResourceError, default_trial_resources, missing, wait_for_resources

    asked_cpus, asked_gpus = cfg.sweep.cpus_per_trial, cfg.sweep.gpus_per_trial
    if on_cluster:
        # An autoscaling cluster may not have its workers yet (the head offers `CPU: 0`): wait for them, bounded.
        import ray

        try:
            cluster = wait_for_resources(ray.cluster_resources, asked_cpus or 1.0, asked_gpus or 0.0,
                                         timeout_s=cfg.sweep.resource_wait_s, ask=_ask_autoscaler,
                                         say=lambda line: print(line, flush=True))
        except ResourceError as err:
            raise ConfigError(str(err)) from err
    cpus, gpus = default_trial_resources(cluster, asked_cpus, asked_gpus)
    lacking = missing(cluster, cpus, gpus)
    if lacking is not None:
        raise ConfigError(f"one trial needs {lacking}: set --cpus-per-trial / --gpus-per-trial (sweep.*) to what "
                          "this machine has, or run on a bigger one")
    return cpus, gpus


def _ask_autoscaler(bundle: dict[str, float] | None) -> None:
    """Ask Ray's autoscaler for one trial's resources (None withdraws the request); a cluster without an
    autoscaler simply ignores it."""
    from ray.autoscaler.sdk import request_resources

    try:
        request_resources(bundles=[bundle] if bundle else [])
    except Exception as err:  # noqa: BLE001 - only a hint to the autoscaler; waiting works without it
        print(f"(could not ask the autoscaler for resources: {type(err).__name__}: {err})")


def _join(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}" if "://" in base else str(Path(base).resolve() / name)


def _diff_keys(a: Any, b: Any, prefix: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for k in set(a) | set(b):
            out |= _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return set() if a == b else {prefix.rstrip(".")}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)

