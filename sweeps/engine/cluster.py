"""Where trials run: starting or joining Ray, and how many CPUs/GPUs each trial takes (waiting on a cluster)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sweeps.config import ConfigError, SweepConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def init_ray(address: str | None, *, wandb_online: bool = False, log_level: str = "WARNING",
             worker_logs: bool = False) -> None:
    """Start a local Ray or join a cluster. `log_level`: Ray's own messages (WARNING: no start-up banner);
    `worker_logs`: show the trials' output in the driver."""
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
        ray.init(address=address, runtime_env=runtime_env, logging_level=log_level, log_to_driver=worker_logs)
    else:
        ray.init(include_dashboard=False, logging_level=log_level, log_to_driver=worker_logs)


def trial_resources(cfg: SweepConfig, cluster: dict[str, float], *, on_cluster: bool) -> tuple[float, float]:
    from sweeps.engine.resources import ResourceError, default_trial_resources, missing, wait_for_resources

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
