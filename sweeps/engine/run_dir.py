"""A sweep's run directory: its identity (the config and data it was started with), and safe writes into it.

Nothing is written here until the config and data have validated (sweeps/engine/driver.py calls `prepare_run_dir` last),
and a directory whose trials never started never binds its name to a config.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from data_pipeline import WindowedData
from models.run_files import RunFiles
from sweeps.config import ConfigError, SweepConfig


def absolute_data_paths(cfg: SweepConfig) -> None:
    """The report and the forecast command may run from another directory: store data paths absolute."""
    for key in ("path", "test_path"):
        value = getattr(cfg.data, key)
        if value and "://" not in value:
            setattr(cfg.data, key, str(Path(value).expanduser().resolve()))


def has_started_trials(run_dir: Path) -> bool:
    """Whether any trial of the sweep stored in `run_dir` has started (Ray wrote its params.json). Only then do
    its config and data bind the name: a start that failed before its first trial leaves nothing to protect."""
    record = RunFiles(run_dir).read_run_record()
    if record is None:
        return False
    experiment = record.experiment_path
    if "://" in experiment:
        return True  # remote storage: assume trials ran rather than list a bucket here
    return any(Path(experiment).glob("*/params.json"))


def refuse_other_config(run_dir: Path, resolved: dict[str, Any]) -> None:
    """Refuse to mix two different sweeps under one name (called only when the stored one has started trials)."""
    files = RunFiles(run_dir)
    if not files.is_run():
        return
    stored = _with_current_defaults(files.read_config().raw)
    if _identity(stored) != _identity(resolved):
        diff = sorted(_diff_keys(_identity(stored), _identity(resolved)))
        raise ConfigError(
            f"{run_dir} already holds a sweep with a different config (differs at: {', '.join(diff[:6])}); "
            "use another --name, or delete that directory to start over"
        )


def prepare_run_dir(cfg: SweepConfig, run_dir: Path, resolved: dict[str, Any], *, resuming: bool) -> None:
    """Create runs/<name> and write its config: only once the config, the data and every trial have validated."""
    check_writable(run_dir, "run directory", "pass another --runs-dir")
    if cfg.sweep.storage_path and "://" not in cfg.sweep.storage_path:
        check_writable(Path(cfg.sweep.storage_path), "sweep.storage_path", "point --storage-path at a writable "
                        "directory shared by all nodes")
    if resuming:
        return
    # A start that never reached a trial may have left Ray's snapshot of its (other) trial list: start afresh.
    files = RunFiles(run_dir)
    record = files.read_run_record()
    if record is not None:
        stale = record.experiment_path
        if "://" not in stale and Path(stale).is_dir():
            shutil.rmtree(stale)
        files.run_record.unlink()
    files.write_config(resolved)


# What defines a sweep's trials and results. Resources, retries, storage and W&B may change between an
# interrupted run and its resumption.
_IDENTITY_SWEEP_KEYS = ("search", "scheduler", "grace_period", "reduction_factor", "num_samples")


def _with_current_defaults(stored: dict[str, Any]) -> dict[str, Any]:
    """A run started before a key existed stores no value for it: fill today's default, so a resume is refused
    only for a real difference (data that a new default would read differently fails the scaler check instead)."""
    try:
        return SweepConfig.model_validate(stored).model_dump(mode="json")
    except ValueError:
        return stored  # no longer valid: compared as stored, so the difference is still named


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    out = {k: config.get(k) for k in ("data", "window", "split", "train", "models")}
    out["sweep"] = {k: (config.get("sweep") or {}).get(k) for k in _IDENTITY_SWEEP_KEYS}
    if isinstance(out["data"], dict):
        out["data"] = {k: v for k, v in out["data"].items() if k != "cache_dir"}
    return out


def refuse_changed_data(run_dir: Path, data: WindowedData) -> None:
    """A resumed sweep must train on the data its finished trials saw: the stored train-only scaler tells."""
    from data_pipeline import Scaler

    stored = RunFiles(run_dir).scaler
    if stored.exists() and not Scaler.load(stored).matches(data.scaler):
        raise ConfigError(f"the data behind {run_dir} changed since its trials ran (its training-split statistics "
                          "differ); restore the original file, or use another --name for the new data")


def refuse_changed_files(run_dir: Path, cfg: SweepConfig) -> None:
    """A resumed sweep refuses data files whose content hashes differ from those recorded at its start."""
    from data_pipeline.identity import check_data_identity

    check_data_identity(RunFiles(run_dir).data_identity, cfg.data, "restore the original file, or use another --name "
                        "for the new data")


def record_data_files(run_dir: Path, cfg: SweepConfig, *, resuming: bool) -> None:
    """Record the data files' content hashes when a sweep starts (a run directory whose trials never started
    holds no sweep yet: its record is replaced)."""
    if not resuming:
        RunFiles(run_dir).data_identity.unlink(missing_ok=True)
    refuse_changed_files(run_dir, cfg)  # writes the record when there is none


def check_writable(path: Path, what: str, fix: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"{what} {path} is not writable ({err.strerror or err}); {fix}") from err


def _diff_keys(a: Any, b: Any, prefix: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for k in set(a) | set(b):
            out |= _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return set() if a == b else {prefix.rstrip(".")}


