"""The typed records of a run directory (models/run_files.py reads and writes them), and the names a run's records
share: trial statuses and phase names, defined here once.

A record read back from disk is checked here, once, and refused by name when it is malformed (a hand-edited or
cut-short file), so its readers (the finals, the report, the forecast, the Python API) handle typed fields, not
raw dicts. Records keep the keys this version does not know (`extra`), so a round trip loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_pipeline import DataConfig, SplitConfig, WindowConfig
from models.config import BaselinesConfig, TrainConfig

# A trial's status in its record. A record whose status never became final belongs to a trial stopped by ASHA,
# the time budget or an interruption: readers call it STOPPED.
RUNNING, FINISHED, STOPPED, FAILED = "running", "finished", "stopped", "failed"
FINAL_STATUSES = (FINISHED, FAILED)

# A sweep's phases, in order. REFIT is also the fold name of the refit's split (data_pipeline's SplitConfig.fold).
SEARCH, FINALS, REFIT = "search", "finals", "refit"
PHASES = (SEARCH, FINALS, REFIT)

_REDO = "restore it, or run the sweep again (a new --name, or delete this directory)"


class RunFilesError(ValueError):
    """A run directory's file is missing or malformed; the message names the file and what to do."""


def malformed(path: Path, what: str) -> RunFilesError:
    return RunFilesError(f"{path}: malformed run record ({what}); {_REDO}")


@dataclass(frozen=True)
class TrialSpec:
    """One trial as the sweep plans it (trials.json, finals.json, refit.json, a trial record's "trial")."""

    model: str
    tag: str
    hparams: dict[str, Any]
    train: dict[str, Any]
    window_input: int | None = None  # a searched input length; None: window.input
    final_of: str | None = None  # a seed repeat or refit: the tag of the search trial it repeats
    fold: int | str | None = None  # its backtest fold (1..split.folds), REFIT, or None: the run's own split
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Any, where: Path) -> TrialSpec:
        if not isinstance(raw, dict):
            raise malformed(where, "a trial is not a mapping")
        missing = [k for k in ("model", "tag") if not isinstance(raw.get(k), str)]
        missing += [k for k in ("hparams", "train") if not isinstance(raw.get(k, {}), dict)]
        if missing:
            raise malformed(where, f"a trial lacks or mistypes {', '.join(missing)}")
        known = {"model", "tag", "hparams", "train", "window_input", "final_of", "fold"}
        return cls(model=raw["model"], tag=raw["tag"], hparams=dict(raw.get("hparams") or {}),
                   train=dict(raw.get("train") or {}), window_input=raw.get("window_input"),
                   final_of=raw.get("final_of"), fold=raw.get("fold"),
                   extra={k: v for k, v in raw.items() if k not in known})

    def to_dict(self) -> dict[str, Any]:
        """The plain mapping Ray's param_space and the trainable take (optional keys only when set)."""
        out: dict[str, Any] = {"model": self.model, "hparams": self.hparams, "train": self.train, "tag": self.tag}
        for key in ("window_input", "final_of", "fold"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return {**out, **self.extra}


@dataclass
class RunRecord:
    """run.json: where a sweep's trials are stored and how it ran. Written before any trial runs, so a report
    can find the results even if the driver never returns."""

    name: str
    experiment_path: str  # the search's Ray experiment (a folder or a URI)
    wandb_mode: str | None = None
    n_trials: int | None = None
    started_at: float | None = None  # wall clock of the sweep's first start; None: unknown (older runs)
    resources_per_trial: dict[str, float] = field(default_factory=dict)
    phase_paths: dict[str, str] = field(default_factory=dict)  # FINALS / REFIT -> their Ray experiment
    wall_time_s: float | None = None
    finals_time_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = ("name", "experiment_path", "wandb_mode", "n_trials", "started_at", "resources_per_trial",
              "wall_time_s", "finals_time_s")

    def experiment(self, phase: str) -> str | None:
        """The Ray experiment a phase's trials were stored in (None: that phase never started)."""
        return self.experiment_path if phase == SEARCH else self.phase_paths.get(phase)

    @classmethod
    def from_dict(cls, raw: Any, where: Path) -> RunRecord:
        if not isinstance(raw, dict):
            raise malformed(where, "not a JSON object")
        if not isinstance(raw.get("experiment_path"), str):
            raise malformed(where, "no experiment_path")
        phases = {p: raw[f"{p}_path"] for p in PHASES if p != SEARCH and isinstance(raw.get(f"{p}_path"), str)}
        known = set(cls._KNOWN) | {f"{p}_path" for p in phases}
        return cls(name=str(raw.get("name", where.parent.name)), experiment_path=raw["experiment_path"],
                   wandb_mode=raw.get("wandb_mode"), n_trials=raw.get("n_trials"), started_at=raw.get("started_at"),
                   resources_per_trial=dict(raw.get("resources_per_trial") or {}), phase_paths=phases,
                   wall_time_s=raw.get("wall_time_s"), finals_time_s=raw.get("finals_time_s"),
                   extra={k: v for k, v in raw.items() if k not in known})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "experiment_path": self.experiment_path,
                               "wandb_mode": self.wandb_mode, "n_trials": self.n_trials, "started_at": self.started_at,
                               "resources_per_trial": self.resources_per_trial}
        out.update({f"{p}_path": path for p, path in self.phase_paths.items()})
        out.update({k: getattr(self, k) for k in ("wall_time_s", "finals_time_s") if getattr(self, k) is not None})
        return {**out, **self.extra}


@dataclass(frozen=True)
class SearchPlan:
    """search.json: an adaptive sweep's sampler and each architecture's trial budget."""

    search: str
    budgets: dict[str, int]

    @classmethod
    def from_dict(cls, raw: Any, where: Path) -> SearchPlan:
        if not isinstance(raw, dict) or not isinstance(raw.get("search"), str) or not isinstance(
                raw.get("budgets"), dict):
            raise malformed(where, "not a search plan (search, budgets)")
        return cls(raw["search"], {str(k): int(v) for k, v in raw["budgets"].items()})

    def to_dict(self) -> dict[str, Any]:
        return {"search": self.search, "budgets": self.budgets}


@dataclass(frozen=True)
class PhaseState:
    """One phase's entry in phases.json."""

    finished: bool
    trials: int | None = None


@dataclass
class StoredConfig:
    """config.yaml: the resolved config a sweep started with. Each section is validated where it is read (a report,
    a forecast), so a stored config holding only what one reader needs (a test's, a conversion's) still opens.

    Readers ask it, never `raw`: a key that is absent (a run made before the key existed) reads as the default that
    run was made under. `raw` stays for what must travel as written (a forecast's data.* overrides apply to it)."""

    raw: dict[str, Any]
    path: Path | None = None  # None: settings given in code (scoring without a run directory), not a file

    def data_configs(self) -> tuple[DataConfig, WindowConfig, SplitConfig]:
        self.require("data", "window", "split")
        try:
            return (DataConfig.model_validate(self.raw["data"]), WindowConfig.model_validate(self.raw["window"]),
                    SplitConfig.model_validate(self.raw["split"]))
        except ValueError as err:  # pydantic's ValidationError is a ValueError
            first = str(err).strip().splitlines()[0]
            raise malformed(self._where, f"{type(err).__name__}: {first}") from err

    def train_config(self) -> TrainConfig:
        self.require("train")
        return TrainConfig.model_validate(self.raw["train"])

    def baselines(self) -> BaselinesConfig:
        """The `baselines` section (its defaults when absent: runs made before it, settings given in code)."""
        try:
            return BaselinesConfig.model_validate(self._section("baselines"))
        except ValueError as err:  # pydantic's ValidationError is a ValueError
            first = str(err).strip().splitlines()[0]
            raise malformed(self._where, f"baselines: {type(err).__name__}: {first}") from err

    @property
    def folds(self) -> int:
        """split.folds: backtest folds (1: the run's own validation block only)."""
        return int(self._section("split").get("folds") or 1)

    @property
    def model_names(self) -> list[str]:
        """The architectures the sweep was asked to train (the `models` section's keys), in order."""
        return list(self._section("models"))

    @property
    def final_seeds(self) -> int:
        return int(self._section("sweep").get("final_seeds") or 0)

    @property
    def pretrained_path(self) -> str | None:
        """pretrained.path: Chronos-2's weights, a local folder or a hub id."""
        path = self._section("pretrained").get("path")
        return None if path is None else str(path)

    @property
    def data_cache_dir(self) -> Path:
        """data.cache_dir, or the default it had when unset (.cache/data)."""
        return Path(self._section("data").get("cache_dir") or Path(".cache") / "data")

    def ensemble_steps(self, default: int) -> int:
        """report.ensemble_steps (0: no ensemble); `default` (the ensemble's own) when the run never set it."""
        return int(self._section("report").get("ensemble_steps", default) or 0)

    @property
    def search(self) -> str:
        """The sweep's sampler: "grid" (also for a config stored before there was a choice), "random", "tpe"."""
        return str(self._section("sweep").get("search", "grid"))

    @property
    def final_refit(self) -> bool:
        return bool(self._section("report").get("final_refit"))

    @property
    def interval_levels(self) -> Any:
        """report.interval_levels as stored (None: not set); its reader (reports/intervals.py) validates it."""
        return self._section("report").get("interval_levels")

    def require(self, *sections: str) -> None:
        missing = [k for k in sections if not isinstance(self.raw.get(k), dict)]
        if missing:
            raise malformed(self._where, f"missing section(s) {', '.join(missing)}")

    @property
    def _where(self) -> Path:
        return self.path if self.path is not None else Path("config")

    def _section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name)
        return value if isinstance(value, dict) else {}
