"""How much of a node one trial takes, and waiting for a cluster to grow into a sweep.

Defaults (measured by benchmarks/gpu.py; README "GPU sizing"): 1 CPU per trial; with GPUs, a GPU share of
GPUs / CPUs, so every core runs a trial and all of them share the GPUs (on a 16-core, 1-GPU machine: 16 trials
per GPU; on a 4-vCPU g5.xlarge: 4). These models are small: a trial keeps its process's one CPU thread busy
launching kernels, so the CPU count, not the GPU, bounds how many trials run at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class ResourceError(ValueError):
    """The cluster cannot run one trial with the requested resources; the message says what to change."""


def default_trial_resources(cluster: dict[str, float], cpus: float | None, gpus: float | None) -> tuple[float, float]:
    """(CPUs, GPUs) per trial: the requested values, or the defaults above for those left as None."""
    cpus = 1.0 if cpus is None else cpus
    if gpus is None:
        n_gpu, n_cpu = cluster.get("GPU", 0.0), cluster.get("CPU", 0.0)
        # Rounded down to Ray's resource precision (1e-4), so GPU-share x trials never exceeds the GPUs.
        gpus = math.floor(min(1.0, n_gpu / max(n_cpu / cpus, 1.0)) * 10_000) / 10_000 if n_gpu > 0 else 0.0
    return cpus, gpus


def missing(cluster: dict[str, float], cpus: float, gpus: float) -> str | None:
    """What the cluster lacks for one trial, in words, or None when one trial fits."""
    lacking = []
    if cpus > cluster.get("CPU", 0.0):
        lacking.append(f"{cpus:g} CPU (Ray sees {cluster.get('CPU', 0.0):g})")
    if gpus > cluster.get("GPU", 0.0):
        lacking.append(f"{gpus:g} GPU (Ray sees {cluster.get('GPU', 0.0):g})")
    return " and ".join(lacking) or None


def wait_for_resources(
    read: Callable[[], dict[str, float]],
    cpus: float,
    gpus: float,
    *,
    timeout_s: float,
    poll_s: float = 5.0,
    message_every_s: float = 30.0,
    ask: Callable[[dict[str, float] | None], None] | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, float]:
    """Poll `read()` (the cluster's resources) until one trial of (cpus, gpus) fits; return what it saw then.

    On an autoscaling cluster the nodes come up after the driver starts (a head with `CPU: 0`, GPU workers that
    take minutes to boot): `ask` requests one trial's bundle from the autoscaler while waiting, and is called
    with None to withdraw the request. Gives up after `timeout_s` with one line saying what is missing.
    """
    started = time.monotonic()
    cluster = read()
    lacking = missing(cluster, cpus, gpus)
    if lacking is None:
        return cluster
    if ask is not None:
        ask({"CPU": cpus, **({"GPU": gpus} if gpus > 0 else {})})
    try:
        last_message = -math.inf
        while lacking is not None:
            waited = time.monotonic() - started
            if waited >= timeout_s:
                raise ResourceError(
                    f"the Ray cluster still lacks {lacking} for one trial after waiting {waited:.0f} s; check "
                    "`ray status` (did the workers start?), raise sweep.resource_wait_s, or lower "
                    "--cpus-per-trial / --gpus-per-trial")
            if waited - last_message >= message_every_s:
                say(f"Waiting for the cluster to add nodes: one trial needs {lacking}; "
                    f"{waited:.0f} s of {timeout_s:.0f} s (sweep.resource_wait_s)")
                last_message = waited
            time.sleep(min(poll_s, max(timeout_s - waited, 0.0)))
            cluster = read()
            lacking = missing(cluster, cpus, gpus)
        say(f"The cluster has grown to {cluster.get('CPU', 0.0):g} CPU + {cluster.get('GPU', 0.0):g} GPU after "
            f"{time.monotonic() - started:.0f} s")
        return cluster
    finally:
        if ask is not None:
            ask(None)
