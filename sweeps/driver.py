"""Run one sweep: data once -> Ray Tune trials over every architecture -> results on disk (resumable)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from data_pipeline import WindowedData, build_windowed_data
from models.checkpoint import FINISHED_FILE
from sweeps.config import ConfigError, SweepConfig
from sweeps.progress import INTERRUPTED, SweepProgress
from sweeps.resume import repair_missing_checkpoints
from sweeps.search_space import expand_trials
from sweeps.tracking import TrialWandb, WandbPlan, plan_wandb

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
    wall_time_s: float = 0.0


def run_dir_for(opts: SweepOptions) -> Path:
    return (opts.runs_root / opts.name).resolve()


def prepare_run_dir(cfg: SweepConfig, opts: SweepOptions) -> Path:
    """Create runs/<name>, refusing to mix two different sweeps under one name."""
    run_dir = run_dir_for(opts)
    # Absolute data paths: the report and the forecast command may run from another directory.
    for key in ("path", "test_path"):
        value = getattr(cfg.data, key)
        if value and "://" not in value:
            setattr(cfg.data, key, str(Path(value).expanduser().resolve()))
    resolved = cfg.model_dump(mode="json")
    stored_path = run_dir / "config.yaml"
    _check_writable(run_dir, "run directory", "pass another --runs-dir")
    if cfg.sweep.storage_path and "://" not in cfg.sweep.storage_path:
        _check_writable(Path(cfg.sweep.storage_path), "sweep.storage_path", "point --storage-path at a writable "
                        "directory shared by all nodes")
    if stored_path.exists():
        stored = yaml.safe_load(stored_path.read_text())
        if _identity(stored) != _identity(resolved):
            diff = sorted(_diff_keys(_identity(stored), _identity(resolved)))
            raise ConfigError(
                f"{run_dir} already holds a sweep with a different config (differs at: {', '.join(diff[:6])}); "
                "use another --name, or delete that directory to start over"
            )
    else:
        _write_atomic(stored_path, yaml.safe_dump(resolved, sort_keys=False))
    return run_dir


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


def _check_writable(path: Path, what: str, fix: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"{what} {path} is not writable ({err.strerror or err}); {fix}") from err


def run_sweep(cfg: SweepConfig, opts: SweepOptions) -> SweepOutcome:
    # Trials checkpoint often (on every improvement, and every sweep.checkpoint_every epochs), which makes Ray
    # warn on forced experiment snapshots; the cost is measured in benchmarks/ instead of printed each time.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    import ray
    from ray import tune

    from sweeps.trainable import train_trial

    started = time.monotonic()
    run_dir = prepare_run_dir(cfg, opts)
    data = build_windowed_data(cfg.data, cfg.window, cfg.split)
    _refuse_changed_data(run_dir, data)
    _write_atomic(run_dir / "data_summary.json", json.dumps(data.summary, indent=2, default=str))
    data.scaler.save(run_dir / "scaler.json")
    skipped = _check_pretrained(cfg, run_dir)
    trials = [t for t in expand_trials(cfg) if t["model"] not in skipped]
    if not trials:
        raise ConfigError(f"nothing left to sweep: {'; '.join(skipped.values())}")
    check_trials(trials, cfg, data)
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

    trainable = tune.with_resources(
        tune.with_parameters(
            train_trial,
            data=data,
            base_train=cfg.train.model_dump(),
            threads=max(1, int(cpus)),
            faults=[f.model_dump() for f in cfg.sweep.fault_injection],
            pretrained_path=cfg.pretrained.path,
            wandb=TrialWandb(wandb_plan.mode, cfg.wandb.project, cfg.wandb.entity, opts.name, str(run_dir)),
            fault_dir=str(run_dir / "faults"),
            checkpoint_every=cfg.sweep.checkpoint_every,
        ),
        {"cpu": cpus, "gpu": gpus},
    )
    callbacks: list[Any] = [SweepProgress(len(trials))]

    run_record = {"name": opts.name, "experiment_path": experiment_path, "wandb_mode": wandb_plan.mode,
                  "n_trials": len(trials), "resources_per_trial": {"cpu": cpus, "gpu": gpus}}
    # Written before any trial runs, so a report can find the results even if this driver never returns.
    _write_atomic(run_dir / "run.json", json.dumps(run_record, indent=2))
    tuner = _tuner(cfg, trainable, trials, callbacks, storage_path, experiment_name, experiment_path)
    results = tuner.fit()
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt
    rows = [_trial_row(r) for r in results]
    outcome = SweepOutcome(run_dir, experiment_path, wandb_plan, rows, time.monotonic() - started)
    _write_atomic(run_dir / "run.json", json.dumps(dict(run_record, wall_time_s=outcome.wall_time_s), indent=2))
    return outcome


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


def _check_pretrained(cfg: SweepConfig, run_dir: Path) -> dict[str, str]:
    """Load the pretrained weights once before any trial, so a missing model costs one clear line, not a
    failed trial per grid point; the sweep goes on without it and the report says why."""
    from models.chronos import CHRONOS2

    skipped: dict[str, str] = {}
    if CHRONOS2 in cfg.models:
        try:
            from models.chronos import load_chronos

            load_chronos(cfg.pretrained.path, device="cpu")
        except (ImportError, RuntimeError) as err:
            skipped[CHRONOS2] = f"Chronos-2 skipped: {str(err).splitlines()[0]}"
            print(skipped[CHRONOS2])
    _write_atomic(run_dir / "skipped.json", json.dumps(skipped, indent=2))
    return skipped


def trial_dirname(trial: Any) -> str:
    return f"{trial.config['trial']['model']}_{trial.trial_id}"


def _trial_row(result: Any) -> dict[str, Any]:
    info = result.config["trial"]
    metrics = result.metrics or {}
    finished_marker = result.checkpoint is not None and "://" not in result.checkpoint.path and (
        Path(result.checkpoint.path) / FINISHED_FILE).exists()
    if result.error is not None:
        status = "failed"
    elif metrics.get("trial_finished") or finished_marker:
        status = "finished"
    else:
        status = "stopped"  # by ASHA, or interrupted before it finished
    return {
        "model": info["model"],
        "tag": info["tag"],
        "status": status,
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

