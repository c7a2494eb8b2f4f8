"""The Python API: a DataFrame or a path plus overrides in, a `SweepResult` out. The CLI (sweeps/run_all.py) is a
thin wrapper over `sweep`, so both take one code path.

    import sweeps
    result = sweeps.sweep(df, profile="smoke", models=["gru_nar"], **{"window.input": 60})
    result.ranking        # the report's ranking.csv as a DataFrame, ordered by validation
    result.winner         # the model chosen on validation
    result.forecast()     # the next window.output steps with intervals, as `python -m reports.forecast` writes them
    sweeps.open_run(result.run_dir)   # the same object for an earlier run directory

Like run_all.py this is a composition root (config -> sweep -> report), so it may import the report layer.
Problems raise ConfigError, DataError or RunDirError with the messages the CLI prints; nothing here exits.
"""

from __future__ import annotations

import contextlib
import html
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sweeps.config import ConfigError, load_config, override_string

if TYPE_CHECKING:
    import pandas as pd

    from sweeps.driver import SweepOutcome

Overrides = Mapping[str, Any] | Sequence[str] | None
# The columns of the ranking a reader looks at first (ranking.csv keeps every figure).
SHOWN_COLUMNS = ("rank", "model", "kind", "val_mse_mean", "test_mse", "test_mae", "skill_vs_persistence",
                 "tied_with_winner")


def sweep(data: Any = None, *, profile: str = "default", models: Sequence[str] | str | None = None,
          config: str | Path | None = None, name: str | None = None, runs_dir: str | Path = "runs",
          address: str | None = None, resume: bool = False, wandb_mode: str | None = None, report: bool = True,
          progress: Literal["phase", "trial"] = "phase", ray_logs: bool = False, overrides: Overrides = None,
          **options: Any) -> SweepResult:
    """Sweep every selected architecture on `data`, rank them on the test split, and return the result.

    data: a pandas DataFrame (Nixtla `unique_id, ds, y` and AutoGluon `item_id, timestamp, target` long frames are
        recognised; a frame with a DatetimeIndex is one multivariate series; otherwise a `date` column), the path
        of a CSV/Parquet file, or None for `data.source` (the embedded Seattle weather by default). A frame is
        written once into the run directory as data.parquet, and data.path points there.
    profile, models, config, name, runs_dir, address, resume, wandb_mode: as the CLI's flags. models: a list
        or "gru_nar,transformer".
    report: build the report after the sweep (the CLI's --no-report is report=False).
    progress: "phase", one line per phase updated in place (notebooks); "trial", a line per trial (the CLI).
    ray_logs: show Ray's start-up messages and the workers' output (hidden by default).
    overrides / **options: config keys, dotted as in sweeps/configs/default.yaml, with Python values
        (`overrides={"window.input": 60}` or `**{"train.epochs": 5}`), or CLI-style "key=value" strings.
    """
    from sweeps.driver import SweepOptions, run_dir_for, run_sweep
    from sweeps.frames import FRAME_FILE, read_frame, write_frame
    from sweeps.run_dir import has_started_trials

    if progress not in ("phase", "trial"):
        raise ConfigError(f"progress: {progress!r} is not one of phase, trial")
    pairs = _override_strings(overrides) + [override_string(k, v) for k, v in _dotted(options).items()]
    given = {p.partition("=")[0].strip() for p in pairs}
    if data is not None and "data.path" in given:
        raise ConfigError("data is given twice: as the first argument and as data.path; pass one of them")
    frame = None if data is None or isinstance(data, (str, Path)) else read_frame(data)
    if isinstance(data, (str, Path)):
        pairs.insert(0, override_string("data.path", str(data)))
    selected = [m.strip() for m in models.split(",") if m.strip()] if isinstance(models, str) else models
    runs_root = Path(runs_dir)
    if frame is not None:
        # A frame has no file name to call the run by: its content names it, so re-running a notebook cell with the
        # same frame resumes (or reopens) the same run, and another frame never collides with it.
        name = name or f"frame-{frame.digest[:8]}-{profile}"
        pairs.append(override_string("data.path", str((runs_root / name).resolve() / FRAME_FILE)))
    cfg = load_config(config, pairs, profile=profile, models=list(selected) if selected else None,
                      base_overrides=frame.keys if frame is not None else None)
    opts = SweepOptions(name=name or default_name(cfg, profile), runs_root=runs_root, address=address,
                        wandb_mode=wandb_mode, live_progress=progress == "phase", ray_logs=ray_logs)
    run_dir = run_dir_for(opts)
    if resume and not (run_dir / "config.yaml").exists():
        raise ConfigError(f"--resume: no sweep named {opts.name!r} in {opts.runs_root}/; check --name")
    wrote = False
    if frame is not None:
        wrote = write_frame(frame, run_dir / FRAME_FILE, sweep_started=has_started_trials(run_dir))
        print(f"Data: the DataFrame ({len(frame.frame)} rows) read as {frame.layout}; stored as "
              f"{run_dir / FRAME_FILE}")
    try:
        with _tune_banners(shown=progress == "trial" or ray_logs):
            outcome = run_sweep(cfg, opts)
    except BaseException:
        if wrote and not (run_dir / "config.yaml").exists():
            # Refused before the run directory held a sweep: leave nothing behind, as for a file's data.
            (run_dir / FRAME_FILE).unlink(missing_ok=True)
            _remove_if_empty(run_dir)
        raise
    _print_outcome(outcome)
    if report:
        _report(outcome, cfg, opts.name, quiet=progress == "phase")
    return SweepResult(outcome.run_dir, outcome)


def default_name(cfg: Any, profile: str) -> str:
    """A run's name when none is given: the data file's stem (or the embedded source) and the profile."""
    source = Path(cfg.data.path).stem if cfg.data.path else cfg.data.source
    return f"{source}-{profile}"


def open_run(run_dir: str | Path, *, rebuild: bool = False) -> SweepResult:
    """An earlier run directory (runs/<name>) as a SweepResult; its report is built first when it has none yet
    (an interrupted sweep, --no-report) or when `rebuild`."""
    from reports.runs import read_run

    result = SweepResult(read_run(run_dir).path)
    if rebuild or not (result.report_dir / "ranking.csv").exists():
        result.build_report(quiet=True)
    return result


@dataclass
class SweepResult:
    """A sweep's run directory read as Python objects; every table is read from the report's own files."""

    run_dir: Path
    outcome: SweepOutcome | None = None  # this session's sweep (trials, wall time); None for open_run

    @property
    def report_dir(self) -> Path:
        return self.run_dir / "report"

    @property
    def report_path(self) -> Path | None:
        """The self-contained HTML report, or None before one was built."""
        path = self.report_dir / "index.html"
        return path if path.exists() else None

    @cached_property
    def ranking(self) -> pd.DataFrame:
        """ranking.csv: every entry, ordered and ranked by validation MSE, with its test scores and intervals."""
        import pandas as pd

        return pd.read_csv(self._report_file("ranking.csv"), dtype={"trial_id": str})

    @property
    def winner(self) -> str:
        """The model chosen on validation (rank 1), the one the console, W&B and `forecast()` name."""
        ranked = self.ranking.dropna(subset=["rank"])
        return str(ranked.loc[ranked["rank"].idxmin(), "model"])

    @cached_property
    def predictions(self) -> pd.DataFrame:
        """predictions.parquet: every entry's test forecasts beside the actual values, with interval bounds."""
        import pandas as pd

        return pd.read_parquet(self._report_file("predictions.parquet"))

    def forecast(self, model: str | None = None, overrides: Overrides = None, **options: Any) -> pd.DataFrame:
        """The next window.output steps after the data's last date, as `python -m reports.forecast` writes them:
        the date (or step), then per target the point forecast and `<target>_lo80`, `_hi80`, ... in original
        units. model: default the validation winner. overrides: data.* keys only (e.g. data.path=newer.csv)."""
        from reports.forecast import forecast

        pairs = _override_strings(overrides) + [override_string(k, v) for k, v in _dotted(options).items()]
        return forecast(self.run_dir, model, pairs)

    def build_report(self, *, quiet: bool = False) -> Path:
        """(Re)build the report from the run directory without retraining; returns its index.html."""
        from reports.build import build_report

        report = build_report(self.run_dir, quiet=quiet)
        for cached in ("ranking", "predictions"):
            self.__dict__.pop(cached, None)
        return report.index_html

    def show_report(self, height: int = 800) -> InlineReport:
        """The full HTML report, displayed inline in a notebook (the report is self-contained: figures included)."""
        return InlineReport(self._report_file("index.html"), height)

    def _report_file(self, name: str) -> Path:
        from reports.runs import RunDirError

        path = self.report_dir / name
        if not path.exists():
            raise RunDirError(f"{self.run_dir} has no report yet ({path} is missing); build it with "
                              f"result.build_report() or `python -m reports {self.run_dir}`")
        return path

    def __repr__(self) -> str:
        built = f"winner {self.winner!r}" if (self.report_dir / "ranking.csv").exists() else "no report yet"
        return f"SweepResult({str(self.run_dir)!r}, {built})"

    def _repr_html_(self) -> str:
        if not (self.report_dir / "ranking.csv").exists():
            return f"<p>Forecast Sweep run <code>{html.escape(str(self.run_dir))}</code>: no report yet.</p>"
        from reports.scoring import verdict

        table = self.ranking[[c for c in SHOWN_COLUMNS if c in self.ranking]]
        return (f"<div><p><b>Forecast Sweep run</b> <code>{html.escape(str(self.run_dir))}</code></p>"
                f"<p>{html.escape(verdict(self.ranking))}</p>"
                f"{table.to_html(index=False, float_format=lambda v: f'{v:.4f}', na_rep='')}"
                f"<p>Report: <code>{html.escape(str(self.report_path))}</code> "
                f"(inline: <code>result.show_report()</code>)</p></div>")


@dataclass
class InlineReport:
    """A report shown in a notebook cell: the whole self-contained page in an iframe."""

    index_html: Path
    height: int = 800

    def _repr_html_(self) -> str:
        page = html.escape(self.index_html.read_text(), quote=True)
        return f'<iframe srcdoc="{page}" style="width:100%;height:{self.height}px;border:0"></iframe>'


def _override_strings(overrides: Overrides) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [override_string(k, v) for k, v in _dotted(overrides).items()]
    if isinstance(overrides, str):
        overrides = [overrides]
    pairs = list(overrides)
    for pair in pairs:
        if not isinstance(pair, str) or "=" not in pair:
            raise ConfigError(f"override {pair!r} is not key=value (e.g. train.epochs=50)")
    return pairs


def _dotted(options: Mapping[str, Any]) -> dict[str, Any]:
    """Config keys are dotted (`window.input`); a bare word is most likely a misspelt keyword argument."""
    for key in options:
        if "." not in key:
            raise ConfigError(f"unknown option {key!r}: sweep's keywords are profile, models, config, name, "
                              f"runs_dir, address, resume, wandb_mode, report, progress, ray_logs, overrides; "
                              f"config keys are dotted, e.g. **{{'window.input': 60}} or "
                              f"overrides={{'train.epochs': 50}}")
    return dict(options)


def _print_outcome(outcome: SweepOutcome) -> None:
    """What the sweep did: trials, failures, each model's best validation MSE, the seed repeats."""
    import time

    from sweeps.driver import best_per_model

    best = best_per_model(outcome.trials)
    failed = [r for r in outcome.trials if r["status"] == "failed"]
    since = ""
    if outcome.resumed and outcome.sweep_started_at is not None:
        since = f"; {time.time() - outcome.sweep_started_at:.0f} s since the sweep first started"
    print(f"\nSweep finished in {outcome.wall_time_s:.0f} s (this run{since}): {len(outcome.trials)} trials, "
          f"{len(failed)} failed.")
    print("Best trial per model (validation MSE, scaled units):")
    for model, row in sorted(best.items(), key=lambda kv: kv[1]["best_val_mse"]):
        print(f"  {model:<12} {row['best_val_mse']:.4f}  {row['tag']}")
    for row in failed:
        print(f"  failed: {row['model']} {row['tag']}: {row['error']}")
    if outcome.finals:
        failed_finals = [r for r in outcome.finals if r["status"] == "failed"]
        print(f"Seed repeats: {len(outcome.finals)} trials in {outcome.finals_time_s:.0f} s, "
              f"{len(failed_finals)} failed.")


def _report(outcome: SweepOutcome, cfg: Any, name: str, *, quiet: bool) -> None:
    """Build the report, name the validation winner, and log the summary (and a W&B Report when asked)."""
    try:
        from reports.build import build_report  # noqa: PLC0415 - the report layer is optional here
    except ImportError:
        return
    from sweeps.tracking import create_wandb_report, log_summary, validation_winner

    report = build_report(outcome.run_dir, quiet=quiet)
    print(f"\nChosen on validation: {validation_winner(report.ranking_rows)} (see the report for ties)")
    print(f"Report: {report.index_html}")
    log_summary(outcome.wandb, project=cfg.wandb.project, entity=cfg.wandb.entity, group=name,
                wandb_dir=outcome.run_dir, ranking_rows=report.ranking_rows, figures=report.figures,
                interval_rows=report.interval_rows)
    if cfg.wandb.report:
        create_wandb_report(outcome.wandb, project=cfg.wandb.project, entity=cfg.wandb.entity, group=name,
                            ranking_rows=report.ranking_rows)


@contextlib.contextmanager
def _tune_banners(*, shown: bool) -> Iterator[None]:
    """Ray Tune's console engine prints a configuration box and result paths at every fit, whatever its
    verbosity; its legacy engine, chosen by Ray's RAY_AIR_NEW_OUTPUT=0, honours our verbose=0 and prints nothing
    (it is also what Ray itself uses inside Jupyter). Set only while the sweep runs; the caller's value returns."""
    if shown:
        yield
        return
    before = os.environ.get("RAY_AIR_NEW_OUTPUT")
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = before


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):  # it holds something else: not ours to remove
        path.rmdir()


__all__ = ["InlineReport", "SweepResult", "open_run", "sweep"]
