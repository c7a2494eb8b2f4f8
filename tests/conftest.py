"""Shared fixtures: one real local Ray for the whole session, and one real smoke sweep that many tests read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DELHI = SHARED / "data" / "delhi_climate"

# W&B must never reach for a network or a login prompt in tests.
os.environ.pop("WANDB_API_KEY", None)
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(scope="session")
def ray_session():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data-cache")


def sweep_argv(runs_dir: Path, name: str, cache: Path, *extra: str) -> list[str]:
    return ["--profile", "smoke", "--runs-dir", str(runs_dir), "--name", name, f"data.cache_dir={cache}", *extra]


@pytest.fixture(scope="session")
def smoke_run(ray_session, tmp_path_factory, data_cache) -> Path:
    """A finished five-model smoke sweep (with its report) on the embedded data."""
    from sweeps.run_all import main

    runs = tmp_path_factory.mktemp("runs")
    assert main(sweep_argv(runs, "smoke", data_cache)) == 0
    return runs / "smoke"
