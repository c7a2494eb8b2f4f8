"""The one owner of a run directory's layout: every file and folder name of `runs/<name>/` is written here and
nowhere else (tests/test_run_files.py scans the source for any other module that names one).

    runs/<name>/
      config.yaml          the resolved config (StoredConfig)        run.json       where the trials are (RunRecord)
      data_summary.json    what the data layer read                  data_identity.json  the data files' hashes
      scaler.json          the train-only scaler                     scaler-refit.json   the refit's scaler
      data.parquet         a DataFrame passed to sweeps.sweep        skipped.json   models left out, and why
      search.json          an adaptive sweep's plan (SearchPlan)     trials.json / finals.json / refit.json: each
      phases.json          which phases finished (PhaseState)          phase's trial list (TrialSpec)
      trials/<model>_<trial id>.json   each trial's own record (models/trial_record.py)
      timeline/<phase>.json            the driver's side of a phase's time (sweeps/engine/timeline.py)
      ray/, ray-finals/, ray-refit/    Ray's experiments (default storage)   checkpoint-mirror/  remote checkpoints
      report/   ranking.csv predictions.parquet intervals.csv series.csv out_of_fold.parquet index.html
                report.md figures/
      forecast.csv                     `python -m reports.forecast`'s output

It lives in models (layer 1) so that both the sweep, which writes a run directory, and the report, which reads it,
can import it; it knows nothing of Ray or W&B.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from data_pipeline.files import write_atomic
from models.run_records import (
    FINALS,
    REFIT,
    SEARCH,
    PhaseState,
    RunFilesError,
    RunRecord,
    SearchPlan,
    StoredConfig,
    TrialSpec,
    malformed,
)

__all__ = ["ReportFiles", "RunFiles", "RunFilesError"]

_TRIAL_LISTS = {SEARCH: "trials.json", FINALS: "finals.json", REFIT: "refit.json"}
RAY_EXPERIMENT = "ray"  # the search's Ray experiment under the run directory; a later phase's is "ray-<phase>"
MIRROR_SUFFIX = "-mirror"


class _Entry:
    """A fixed file or folder name under the owner's folder (`files.config` is a Path); the class keeps the names
    for the test that checks no other module writes one out."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, owner_obj: Any, owner: type | None = None) -> Path:
        if owner_obj is None:
            raise AttributeError(f"{self.name}: a path of a RunFiles / ReportFiles instance")
        return Path(owner_obj.dir) / self.name


class ReportFiles:
    """A report folder's files: the run's report/, or the staging folder a report is built in before it replaces
    the old one whole."""

    def __init__(self, folder: str | Path):
        self.dir = Path(folder)

    ranking = _Entry("ranking.csv")
    predictions = _Entry("predictions.parquet")
    intervals = _Entry("intervals.csv")
    series = _Entry("series.csv")  # a panel's per-series scores
    out_of_fold = _Entry("out_of_fold.parquet")  # every entry's out-of-fold forecasts (the weighted ensemble's)
    index_html = _Entry("index.html")
    markdown = _Entry("report.md")
    figures = _Entry("figures")

    def exists(self) -> bool:
        """A report was built (its ranking is the last file a report writes before index.html)."""
        return self.ranking.exists()


class RunFiles:
    """The paths of a run directory, and typed reads and atomic writes of its records."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def dir(self) -> Path:
        return self.root

    # -- what the sweep writes when it starts
    config = _Entry("config.yaml")
    run_record = _Entry("run.json")
    data_summary = _Entry("data_summary.json")
    data_identity = _Entry("data_identity.json")
    scaler = _Entry("scaler.json")
    refit_scaler = _Entry("scaler-refit.json")  # the refit models' units
    frame = _Entry("data.parquet")  # a DataFrame's rows, stored as the sweep's data file
    skipped = _Entry("skipped.json")
    search_plan = _Entry("search.json")
    phases = _Entry("phases.json")
    # -- what trials and phases add
    trials_dir = _Entry("trials")
    timeline_dir = _Entry("timeline")
    checkpoint_mirror = _Entry("checkpoint-mirror")
    # -- what the report and the forecast write
    report_dir = _Entry("report")

    @property
    def report(self) -> ReportFiles:
        return ReportFiles(self.report_dir)
    forecast_csv = _Entry("forecast.csv")

    def trial_list(self, phase: str) -> Path:
        """A phase's planned trials (SEARCH: the grid, or what an adaptive search proposed)."""
        return self.root / _TRIAL_LISTS[phase]

    def record(self, model: str, trial_id: str) -> Path:
        # The same name as the trial's Ray folder (sweeps.engine.tuner.trial_dirname), so the driver can match the two.
        return self.trials_dir / f"{model}_{trial_id}.json"

    def timeline(self, phase: str) -> Path:
        return self.timeline_dir / f"{phase}.json"

    @staticmethod
    def experiment_name(phase: str, base: str | None = None) -> str:
        """A phase's Ray experiment name: under the run directory `ray` (`ray-finals`, ...); on
        sweep.storage_path the run's name (`<name>-finals`, ...)."""
        base = base or RAY_EXPERIMENT
        return base if phase == SEARCH else f"{base}-{phase}"

    def experiment(self, phase: str) -> Path:
        """Where a phase's Ray experiment lies by default (the run directory's own storage)."""
        return self.root / self.experiment_name(phase)

    def mirror_of(self, folder: str) -> Path:
        """A local copy of a remote experiment (older runs' conversion)."""
        return self.root / f"{folder}{MIRROR_SUFFIX}"

    def is_run(self) -> bool:
        return self.config.exists()

    # -- config.yaml
    def write_config(self, resolved: dict[str, Any]) -> None:
        write_atomic(self.config, yaml.safe_dump(resolved, sort_keys=False))

    def read_config(self) -> StoredConfig:
        """The stored config, refused by name when it is not one (a broken or hand-edited run record)."""
        if not self.config.exists():
            raise RunFilesError(f"{self.root} is not a sweep run directory (no {self.config.name}); pass runs/<name>")
        try:
            raw = yaml.safe_load(self.config.read_text())
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise malformed(self.config, f"cannot be read as YAML: {first}") from err
        if not isinstance(raw, dict):
            raise malformed(self.config, "not a mapping of config sections")
        return StoredConfig(raw, self.config)

    # -- run.json
    def write_run_record(self, record: RunRecord) -> None:
        write_atomic(self.run_record, json.dumps(record.to_dict(), indent=2))

    def read_run_record(self) -> RunRecord | None:
        """None when the sweep never reached its trials (no run.json)."""
        raw = self._read_json(self.run_record)
        return None if raw is None else RunRecord.from_dict(raw, self.run_record)

    # -- small JSON records
    def write_data_summary(self, summary: dict[str, Any]) -> None:
        write_atomic(self.data_summary, json.dumps(summary, indent=2, default=str))

    def read_data_summary(self) -> dict[str, Any]:
        raw = self._read_json(self.data_summary)
        if not isinstance(raw, dict):
            raise malformed(self.data_summary, "missing, or not a JSON object")
        return raw

    def write_skipped(self, skipped: dict[str, str]) -> None:
        write_atomic(self.skipped, json.dumps(skipped, indent=2))

    def read_skipped(self) -> dict[str, str]:
        """The models the sweep left out, with why ({} for runs written before it recorded them)."""
        raw = self._read_json(self.skipped) or {}
        if not isinstance(raw, dict):
            raise malformed(self.skipped, "not a JSON object")
        return {str(k): str(v) for k, v in raw.items()}

    def write_search_plan(self, plan: SearchPlan) -> None:
        write_atomic(self.search_plan, json.dumps(plan.to_dict(), indent=2))

    def read_search_plan(self) -> SearchPlan | None:
        raw = self._read_json(self.search_plan)
        return None if raw is None else SearchPlan.from_dict(raw, self.search_plan)

    def write_trial_list(self, phase: str, trials: list[dict[str, Any]]) -> None:
        write_atomic(self.trial_list(phase), json.dumps(trials, indent=2))

    def read_trial_list(self, phase: str) -> list[TrialSpec] | None:
        """A phase's recorded trial list (None: not planned yet), each trial checked."""
        path = self.trial_list(phase)
        raw = self._read_json(path)
        if raw is None:
            return None
        if not isinstance(raw, list):
            raise malformed(path, "not a list of trials")
        return [TrialSpec.from_dict(t, path) for t in raw]

    # -- phases.json
    def mark_phase(self, phase: str, **info: Any) -> None:
        raw = self._read_json(self.phases) or {}
        raw[phase] = {"finished": True, **info}
        write_atomic(self.phases, json.dumps(raw, indent=2))

    def read_phases(self) -> dict[str, PhaseState]:
        raw = self._read_json(self.phases) or {}
        if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
            raise malformed(self.phases, "not a mapping of phases")
        return {p: PhaseState(bool(v.get("finished")), v.get("trials")) for p, v in raw.items()}

    def finished_phases(self) -> set[str]:
        return {p for p, state in self.read_phases().items() if state.finished}

    # -- timeline/<phase>.json
    def write_timeline(self, phase: str, record: dict[str, Any]) -> None:
        path = self.timeline(phase)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(record, indent=1))

    def read_timeline(self, phase: str) -> dict[str, Any] | None:
        return self._read_json(self.timeline(phase))

    @staticmethod
    def _read_json(path: Path) -> Any:
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, OSError, UnicodeDecodeError) as err:
            raise malformed(path, f"not valid JSON: {err}") from err


def owned_names() -> set[str]:
    """Every file and folder name this module owns (what tests/test_run_files.py looks for elsewhere)."""
    entries = {v.name for cls in (RunFiles, ReportFiles) for v in vars(cls).values() if isinstance(v, _Entry)}
    experiments = {RunFiles.experiment_name(p) for p in (SEARCH, FINALS, REFIT)}
    return entries | set(_TRIAL_LISTS.values()) | experiments
