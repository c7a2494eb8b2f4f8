"""Shared fixtures: one real local Ray for the whole session, and one real smoke sweep that many tests read."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DELHI = SHARED / "data" / "delhi_climate"
DELHI_FILES = {"train": "DailyDelhiClimateTrain.csv", "test": "DailyDelhiClimateTest.csv"}


def delhi(part: str) -> Path:
    """The seed project's Delhi file (`train` or `test`). It is not shipped with the repository (it lives in
    ../shared beside a clone): the calling test is skipped, saying so, where it is absent."""
    path = DELHI / DELHI_FILES[part]
    if not path.exists():
        pytest.skip(f"the Delhi climate files are not beside this clone ({path} missing): they are the seed "
                    "project's data, kept in ../shared/data/delhi_climate, not in the repository")
    return path
FIVE = ("lstm_ar", "lstm_nar", "gru_ar", "gru_nar", "transformer")

# Hermetic: the suite behaves the same on a networked machine and an offline one. W&B never reaches for a
# network or a login prompt; the Hugging Face hub is never asked, and its cache is an empty one of our own, so
# the default config's Chronos-2 entry is skipped the same way everywhere (tests that need Chronos-2 build a tiny
# local model). Set here, before anything imports huggingface_hub, and inherited by subprocesses and Ray workers.
os.environ.pop("WANDB_API_KEY", None)
os.environ.setdefault("WANDB_SILENT", "true")
os.environ["WANDB_MODE"] = "offline"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = tempfile.mkdtemp(prefix="fs-tests-hf-cache-")
atexit.register(shutil.rmtree, os.environ["HF_HUB_CACHE"], ignore_errors=True)  # one per pytest process: not left behind
# Under pytest-xdist two workers share the two cores: torch's in-process work takes one thread each (inherited by
# the subprocesses a test starts), instead of two threads each spinning against the other worker's.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


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
    # with the classical baselines, which the smoke profile leaves out: the report tests read them here
    assert main(sweep_argv(runs, "smoke", data_cache, "--models", ",".join(FIVE), "baselines.classical=all")) == 0
    return runs / "smoke"


# Fixtures that run a sweep (or start a loopback Ray cluster: test_cluster.py's `loopback`) once and serve many
# tests. Under `pytest -n 2 --dist loadgroup` (the README's test command) every test that reads one of them goes to
# the same worker, so each runs once per suite, not once per worker. The other tests are spread one by one.
SHARED_SWEEPS = ("smoke_run", "multi_run", "folds_run", "panel_run", "swept", "loopback")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        shared = [name for name in SHARED_SWEEPS if name in item.fixturenames]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
