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
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from data_pipeline import DataError
from sweeps.config import ConfigError, load_config
from sweeps.overrides import Overrides, override_pairs, override_string
from sweeps.result import SweepResult

if TYPE_CHECKING:
    from sweeps.engine.driver import SweepOutcome


def sweep(data: Any = None, *, profile: str = "default", models: Sequence[str] | str | None = None,
          config: str | Path | None = None, name: str | None = None, runs_dir: str | Path = "runs",
          address: str | None = None, resume: bool = False, wandb_mode: str | None = None, report: bool = True,
          progress: Literal["phase", "trial"] = "phase", ray_logs: bool = False, overrides: Overrides = None,
          **options: Any) -> SweepResult:
    """Sweep every selected architecture on `data`, rank them on the test split, and return the result.

    The CLI (`python sweeps/run_all.py`) is a thin wrapper over this function: every flag is a keyword here.

    Args:
        data: A pandas DataFrame, the path of a CSV/Parquet file, or None for `data.source` (the embedded Seattle
            weather by default). Nixtla (`unique_id, ds, y`) and AutoGluon (`item_id, timestamp, target`) long
            frames are recognised; a frame with a DatetimeIndex is one multivariate series; any other frame needs a
            `date` column. A frame is written once into the run directory as data.parquet, and data.path points
            there.
        profile: "smoke" (one tiny trial per model, 2 epochs), "default" (the grids with ASHA, then seed repeats)
            or "full" (long budgets, for GPUs and clusters).
        models: A subset of the architectures, as a list or "gru_nar,transformer"; None: every model the config
            lists.
        config: A YAML file layered over sweeps/configs/default.yaml.
        name: The run's name (its directory under `runs_dir`). None: the data file's stem and the profile, or for
            a frame a name made from the frame and the call's settings, so re-running a cell reopens its run.
        runs_dir: Where run directories live.
        address: An existing Ray cluster to join ("auto" or host:port); None: RAY_ADDRESS or a local Ray.
        resume: Resume the interrupted sweep of this name (re-running the same name does too).
        wandb_mode: "online", "offline" or "disabled"; None: online with a key and a reachable server, else
            offline.
        report: Build the report after the sweep (the CLI's --no-report is report=False).
        progress: "phase", one line per phase updated in place (notebooks); "trial", a line per trial (the CLI).
        ray_logs: Show Ray's start-up messages and the workers' output (hidden by default).
        overrides: Config keys, dotted as in sweeps/configs/default.yaml, with Python values
            (`{"window.input": 60}`), or CLI-style "key=value" strings.
        **options: More config keys, as `**{"train.epochs": 5}`.

    Returns:
        The run directory read as Python objects: ranking, winner, predictions, forecast().

    Raises:
        ConfigError: A config key, value, profile or model name is wrong (the message names it).
        DataError: The data cannot be read or swept (the message names the file, column or rows).
        RunDirError: The run directory holds something this sweep cannot continue.
    """
    from data_pipeline.frames import read_frame, write_frame
    from models.run_files import RunFiles
    from sweeps.engine.driver import SweepOptions, run_dir_for, run_sweep
    from sweeps.engine.run_dir import has_started_trials

    if progress not in ("phase", "trial"):
        raise ConfigError(f"progress: {progress!r} is not one of phase, trial")
    pairs = override_pairs(overrides, options)
    given = {p.partition("=")[0].strip() for p in pairs}
    if data is not None and "data.path" in given:
        raise ConfigError("data is given twice: as the first argument and as data.path; pass one of them")
    frame = None if data is None or isinstance(data, (str, Path)) else read_frame(data)
    if isinstance(data, (str, Path)):
        pairs.insert(0, override_string("data.path", str(data)))
    selected = [m.strip() for m in models.split(",") if m.strip()] if isinstance(models, str) else models
    runs_root = Path(runs_dir)
    if frame is not None:
        name = name or _frame_run_name(frame.digest, profile, selected, pairs, config)
        pairs.append(override_string("data.path", str(RunFiles((runs_root / name).resolve()).frame)))
    cfg = load_config(config, pairs, profile=profile, models=list(selected) if selected else None,
                      base_overrides=frame.keys if frame is not None else None)
    file_layout = _file_layout(cfg) if frame is None else None
    if file_layout is not None:  # a Nixtla/AutoGluon file: its keys under the user's own, as for a frame
        cfg = load_config(config, pairs, profile=profile, models=list(selected) if selected else None,
                          base_overrides=file_layout[1])
        print(f"Data: {cfg.data.path} read as {file_layout[0]}")
    opts = SweepOptions(name=name or default_name(cfg, profile), runs_root=runs_root, address=address,
                        wandb_mode=wandb_mode, live_progress=progress == "phase", ray_logs=ray_logs)
    run_dir = run_dir_for(opts)
    files = RunFiles(run_dir)
    if resume and not files.is_run():
        raise ConfigError(f"--resume: no sweep named {opts.name!r} in {opts.runs_root}/; check --name")
    wrote = False
    if frame is not None:
        wrote = write_frame(frame, files.frame, sweep_started=has_started_trials(run_dir))
        print(f"Data: the DataFrame ({len(frame.frame)} rows) read as {frame.layout}; stored as "
              f"{files.frame}")
    try:
        with _tune_banners(shown=progress == "trial" or ray_logs):
            outcome = run_sweep(cfg, opts)
    except BaseException as err:
        if wrote and not files.is_run():
            # Refused before the run directory held a sweep: leave nothing behind, as for a file's data.
            files.frame.unlink(missing_ok=True)
            _remove_if_empty(run_dir)
        if frame is not None and isinstance(err, DataError):
            # The user passed a DataFrame: the run directory's copy of it is ours, not a file they know.
            raise DataError(str(err).replace(str(files.frame), "the DataFrame")) from err
        raise
    _print_outcome(outcome)
    if report:
        _report(outcome, cfg, opts.name, quiet=progress == "phase")
    return SweepResult(outcome.run_dir, outcome)


def _file_layout(cfg: Any) -> tuple[str, list[str]] | None:
    """(how a data file is read, the data.* keys its layout implies) for a file in a long layout other tools use
    (data_pipeline.layouts) whose date column is not set to one of its columns; None otherwise."""
    from data_pipeline.io import read_columns
    from data_pipeline.layouts import layout_overrides, long_layout

    if not cfg.data.path:
        return None
    columns = read_columns(cfg.data.path)
    found = long_layout(columns)
    if found is None or cfg.data.date_column in columns:
        return None
    name, cols = found
    return f"{name} ({', '.join(cols)})", [override_string(k, v) for k, v in layout_overrides(cols).items()]


def default_name(cfg: Any, profile: str) -> str:
    """A run's name when none is given: the data file's stem (or the embedded source) and the profile."""
    source = Path(cfg.data.path).stem if cfg.data.path else cfg.data.source
    return f"{source}-{profile}"


def _frame_run_name(digest: str, profile: str, models: Sequence[str] | None, pairs: list[str],
                    config: str | Path | None) -> str:
    """A frame has no file name to call its run by: the frame and the call's settings name it, so re-running a
    notebook cell reopens (or resumes) its run, while another frame or other settings start their own run instead
    of being refused by this one."""
    config_text = Path(config).read_bytes().hex() if config is not None and Path(config).is_file() else str(config)
    settings = json.dumps([digest, profile, list(models or []), pairs, config_text])
    return f"frame-{hashlib.sha256(settings.encode()).hexdigest()[:8]}-{profile}"


def open_run(run_dir: str | Path, *, rebuild: bool = False) -> SweepResult:
    """An earlier run directory as a SweepResult; its report is built first when it has none yet.

    Args:
        run_dir: The run directory, e.g. "runs/seattle_weather-default".
        rebuild: Rebuild the report even when it exists (e.g. after editing `report:` in its config.yaml).

    Returns:
        The same object `sweep` returns, without this session's sweep outcome.

    Raises:
        RunDirError: `run_dir` is not a sweep's run directory, or its records are malformed.
    """
    from reports.runs import read_run

    result = SweepResult(read_run(run_dir).path)
    if rebuild or not result.files.report.exists():
        result.build_report(quiet=True)
    return result


def _print_outcome(outcome: SweepOutcome) -> None:
    """What the sweep did: trials, failures, each model's best validation MSE, the seed repeats."""
    import time

    from models.run_records import FAILED
    from models.trial_record import best_trials

    best = best_trials(outcome.records)  # the trial the seed repeats and the report use
    failed = [r for r in outcome.trials if r["status"] == FAILED]
    since = ""
    if outcome.resumed and outcome.sweep_started_at is not None:
        since = f"; {time.time() - outcome.sweep_started_at:.0f} s since the sweep first started"
    print(f"\nSweep finished in {outcome.wall_time_s:.0f} s (this run{since}): {len(outcome.trials)} trials, "
          f"{len(failed)} failed.")
    print("Best trial per model (validation MSE, scaled units):")
    for model, trial in sorted(best.items(), key=lambda kv: kv[1].best_val_mse):
        print(f"  {model:<12} {trial.best_val_mse:.4f}  {trial.tag}")
    for row in failed:
        print(f"  failed: {row['model']} {row['tag']}: {row['error']}")
    if outcome.finals:
        failed_finals = [r for r in outcome.finals if r["status"] == FAILED]
        print(f"Seed repeats, folds and refit: {len(outcome.finals)} trials in {outcome.finals_time_s:.0f} s, "
              f"{len(failed_finals)} failed.")


def _report(outcome: SweepOutcome, cfg: Any, name: str, *, quiet: bool) -> None:
    """Build the report, name the validation winner, and log the summary (and a W&B Report when asked)."""
    try:
        from reports.build import build_report  # noqa: PLC0415 - the report layer is optional here
    except ImportError as err:
        if err.name != "reports":  # a broken install or module, not an absent report layer: say so
            raise
        print(f"No report: the reports package is not importable here; the sweep is in {outcome.run_dir}.")
        return
    from sweeps.engine.tracking import create_wandb_report, log_summary, validation_winner

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


__all__ = ["SweepResult", "open_run", "sweep"]
