"""`python -m reports.forecast runs/<name> [--model NAME] [--future FILE] [data.path=...]`: forecast the next steps.

Any ranked entry forecasts (models.forecasters: the validation winner, rank 1 of the report's ranking, or
--model): a trained model from the last N_INPUTS steps of the data, its seed ensemble by the mean of its seeds, a
classical model from its fitted state over each series' whole history, a baseline as it forecast the test
windows. Where the run has a final refit, the refit's fits forecast, as they forecast the report's test split. It
writes the next N_OUTPUTS steps (on the data's calendar; steps +1..+H under data.frequency=rows) in original units to
runs/<name>/forecast.csv: per target the point forecast and `_lo80/_hi80/_lo95/_hi95` (the run's
`report.interval_levels`), split-conformal intervals calibrated exactly as the report calibrates that entry (its
errors on the run's validation windows; with backtest folds, on every fold's out-of-fold errors). A panel (many
series) gets one block of rows per series, each from that series' own last steps, with its id in the first column.
A run with known-future columns (data.known_future) needs their values on every forecast date: --future FILE.
"""

from __future__ import annotations

import argparse
import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data_pipeline import (
    DataConfig,
    DataError,
    Scaler,
    WindowedData,
    apply_overrides,
    forecast_input,
    future_input,
)
from data_pipeline.forecast import known_future_values, panel_forecast_input
from data_pipeline.panel import clean_panel
from data_pipeline.series import SeriesBundle, load_series
from models.forecasters import Forecaster, FutureInputs, NotApplicable, entries, entry_name
from models.forecasters.ensemble import DEFAULT_STEPS, ENSEMBLE_NAME
from models.run_files import RunFiles
from models.run_records import StoredConfig
from reports import folds
from reports.evaluate import (
    Evaluated,
    evaluate,
    future_in_run_units,
    run_context,
    run_spans,
    score_entries,
)
from reports.floors import zero_floored
from reports.intervals import calibrated_half_width, interval_levels, level_tag
from reports.runs import RunDir, RunDirError, best_trials, read_run
from reports.scoring import ModelScore


def forecast(run_path: str | Path, model: str | None = None, overrides: list[str] | None = None,
             future: pd.DataFrame | str | Path | None = None) -> pd.DataFrame:
    """The next window.output steps with intervals (see the module's docstring). `future`: the values of the
    run's known-future columns (data.known_future) on every forecast step, a frame or a CSV/Parquet file with the
    date column (and a panel's id column); required when the run has such columns."""
    run = read_run(run_path)
    if not best_trials(run):
        raise RunDirError(f"no trained model with a checkpoint in {run.path}; run the sweep first")
    overrides = overrides or []
    for pair in overrides:
        if not pair.startswith("data."):
            raise RunDirError(f"{pair!r}: only data.* keys can change for a forecast (the model fixes the rest)")
    raw = apply_overrides({"data": run.config["data"]}, overrides)
    if any(p.startswith("data.path=") for p in overrides) and not any(p.startswith("data.test_path=") for p in overrides):
        raw["data"]["test_path"] = None  # a new data file replaces the sweep's train+test files as a whole
    data_cfg = DataConfig.model_validate(raw["data"])
    from reports.build import load_data, read_skipped

    try:  # the run's own validation windows calibrate the interval, whatever data.path is now
        full = load_data(run)
    except DataError as err:
        raise RunDirError(f"the forecast's intervals are calibrated on the sweep's validation windows, which need "
                          f"the sweep's own data files: {err}") from err
    found = {e.name: e for e in entries(run_context(run, full, read_skipped(run)))}
    model = entry_name(model) if model is not None else None  # the architecture's name, as before
    combined = folds.n_folds(run) > 1 and run.stored.ensemble_steps(DEFAULT_STEPS) > 0
    if model is None:
        model = default_model(run, found, ENSEMBLE_NAME if combined else None)
    elif model not in found and not (combined and model == ENSEMBLE_NAME):
        raise RunDirError(f"--model {model!r} is not a ranked entry of {run.path}; available: "
                          f"{', '.join(sorted([*found, *([ENSEMBLE_NAME] if combined else [])]))}")
    if model in found:
        evaluated = evaluate(found[model], run_spans(run, full))
    else:  # the ensemble combines every entry: all of them are evaluated first
        everything, _ = score_entries(run, full, read_skipped(run))
        evaluated = next((e for e in everything if e.score.model == model), None)
    if not isinstance(evaluated, Evaluated):
        raise RunDirError(f"--model {model}: not fitted on this run's data ({evaluated or 'nothing to load'})")
    inputs = future_inputs(run, data_cfg, full, future)
    note = None
    if evaluated.refit is not None:  # the report's test forecasts come from the refit's fits: so does this
        note = "forecast by the final refit's fits (on every row before the test split)"
    try:
        y = future_in_run_units(evaluated)(inputs)
    except NotApplicable as why:
        raise RunDirError(f"--model {model}: {why}") from why
    calib = calibration(evaluated.score, full)
    floored = zero_floored(full)  # as the report's test intervals (reports/floors.py)
    names = full.series_names if full.is_panel else None
    if names is not None:
        frame = pd.concat([_block(y[i], inputs.dates[i], inputs.run_scaler.for_series(i), calib, run.stored, floored)
                           .assign(series=name) for i, name in enumerate(names)], ignore_index=True)
        frame = frame[["series", *[c for c in frame.columns if c != "series"]]]
    else:
        frame = _block(y[0], inputs.dates[0], inputs.run_scaler, calib, run.stored, floored)
        if inputs.dates[0] is None:
            rows_note = (f"data.frequency=rows: no calendar, so the forecast's dates are unknown; steps "
                         f"+1..+{len(frame)} follow the data's last row")
            note = rows_note if note is None else f"{note}; {rows_note}"
    frame.attrs.update(model=model, note=note)
    return frame


def future_inputs(run: RunDir, data_cfg: DataConfig, full: WindowedData,
                  future: pd.DataFrame | str | Path | None = None) -> FutureInputs:
    """What every entry's forecast past the data's end reads: each series' last input window and known-future
    values (the user's, from `future`, and the calendar's; the run's scaled units), the horizon's dates, and (for
    the classical models) every series' whole history in original units."""
    _, window, _ = run.data_configs()
    files = RunFiles(run.path)
    scaler = Scaler.load(files.scaler)
    summary = files.read_data_summary()
    future_names = list(summary.get("future_names", []))  # the calendar values the decoders read
    if scaler.per_series:  # a panel: every series' own last steps, scaled by its own scaler
        x, dates, names = panel_forecast_input(data_cfg, window, scaler)
        series = np.arange(len(names))
    else:
        x, one = forecast_input(data_cfg, window, scaler, scaler.feature_names)
        dates, series = [one], None
    # data.frequency=rows refuses calendar and known-future inputs, so without dates there are none to read
    known = known_future_values(future, data_cfg, dates, full.series_names if scaler.per_series else None)
    statics = summary.get("static_features") or {}
    if statics:  # a panel's static features: each series' own values, the same on every forecast step
        known = [(k if k is not None else pd.DataFrame(index=d)).assign(**statics[name])
                 for k, d, name in zip(known, dates, full.series_names, strict=True)]
    future = (None if dates[0] is None or not future_names else
              np.concatenate([future_input(d, scaler.for_series(i), future_names, known[i])
                              for i, d in enumerate(dates)]))

    @functools.cache
    def loaded() -> list[SeriesBundle]:
        if scaler.per_series:
            bundles = clean_panel(data_cfg)
            missing = [n for n in full.series_names if n not in bundles]
            if missing:
                raise DataError(f"{data_cfg.path or data_cfg.source}: series {missing[:10]} of the sweep are missing")
            return [bundles[n] for n in full.series_names]
        return [load_series(data_cfg)]

    def histories() -> tuple[list[np.ndarray], list[str]]:
        chosen = loaded()
        # NaN where a target cell is masked (missing or repaired): the classical filters skip it as their fits did
        return ([b.observed_values(full.target_names) for b in chosen], [str(b.summary["source"]) for b in chosen])

    def known_histories() -> list[np.ndarray]:  # ARIMA's regressors: the user's known-future columns
        names = list(summary.get("known_future") or [])
        return [b.frame[names].to_numpy(dtype=np.float64) for b in loaded()]

    return FutureInputs(x, future, series, scaler, window.output, dates=list(dates), load_histories=histories,
                        load_known_histories=known_histories)


@dataclass(frozen=True)
class Calibration:
    """An entry's calibration set as the report uses it: absolute errors (scaled units), which were real targets,
    and each error's forecast origin where out-of-fold errors calibrate by time of year (else None)."""

    abs_errors: np.ndarray
    observed: np.ndarray | None
    origins: np.ndarray | None = None


def calibration(entry: ModelScore, data: WindowedData) -> Calibration:
    """The report's calibration set for an entry (reports.intervals.model_bands): its out-of-fold errors of every
    fold where it was backtested, else its errors on the run's own validation windows; real targets only."""
    if entry.calib_errors is not None:
        return Calibration(np.abs(entry.calib_errors.astype(np.float64)), entry.calib_observed, entry.calib_origin)
    assert entry.val_pred is not None
    observed = np.ones(data.val.y.shape, bool) if data.val.mask is None else np.asarray(data.val.mask, bool)
    return Calibration(np.abs((entry.val_pred - data.val.y).astype(np.float64)), observed)


def _block(y_scaled: np.ndarray, dates: pd.DatetimeIndex, scaler: Scaler, calib: Calibration,
           config: StoredConfig, floored: np.ndarray) -> pd.DataFrame:
    """One series' forecast rows: the date, then per target the point forecast and its interval bounds, in
    original units (`scaler`: that series' own); half-widths from `calib` as the report's test intervals get
    them, for a forecast whose origin is its first date; `floored` targets' lower bounds stop at 0."""
    k = y_scaled.shape[-1]
    columns: dict[str, np.ndarray] = {}
    point = scaler.inverse(y_scaled, slice(0, k))
    bounds = {}
    # the forecast's origin is its first date; without a calendar every calibration error counts alike
    origin = np.arange(1) if dates is None else np.asarray(dates[:1], "datetime64[ns]")
    for level in interval_levels(config):
        q = calibrated_half_width(calib.abs_errors, calib.observed, calib.origins, origin, level)[0]
        lower = scaler.inverse(y_scaled - q, slice(0, k))
        floor = np.minimum(0.0, point)  # as reports.floors: never above the forecast itself
        bounds[level] = (np.where(floored, np.maximum(lower, floor), lower), scaler.inverse(y_scaled + q, slice(0, k)))
    for j, target in enumerate(scaler.feature_names[:k]):
        columns[target] = point[:, j]
        for level, (lo, hi) in bounds.items():
            columns[f"{target}_lo{level_tag(level)}"] = lo[:, j]
            columns[f"{target}_hi{level_tag(level)}"] = hi[:, j]
    frame = pd.DataFrame(columns)
    if dates is None:
        # No calendar (data.frequency=rows): the steps after the last row have no knowable dates.
        frame.insert(0, "step", [f"+{h}" for h in range(1, len(frame) + 1)])
    else:
        frame.insert(0, "date", dates.date if bool((dates == dates.normalize()).all()) else dates)
    return frame


def default_model(run: RunDir, found: dict[str, Forecaster], combination: str | None = None) -> str:
    """The report's validation winner (rank 1 of ranking.csv), so the forecast and the report agree; without a
    report yet, the trained architecture with the lowest validation MSE. `combination`: the ensemble's name where
    the run has one (it is no registered entry: it combines them)."""
    ranking_csv = RunFiles(run.path).report.ranking
    if ranking_csv.exists():
        ranked = [m for m in pd.read_csv(ranking_csv).sort_values("rank").model if m in found or m == combination]
        if ranked:
            return ranked[0]
    best = best_trials(run)
    chosen = min(best, key=lambda m: best[m].best_val_mse)
    return entry_name(chosen)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reports.forecast", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("overrides", nargs="*", metavar="data.key=value", help="e.g. data.path=newer.csv")
    p.add_argument("--model", help="use this model's best trial instead of the validation winner")
    p.add_argument("--future", metavar="FILE", help="CSV/Parquet with the values of the run's known-future columns "
                   "(data.known_future) on every forecast date: the date column (a panel: also its id column) and "
                   "those columns; required when the run has them")
    p.add_argument("--debug", action="store_true")
    args = p.parse_args(argv)
    try:
        frame = forecast(args.run_dir, args.model, args.overrides, args.future)
    except (RunDirError, DataError, ValueError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = RunFiles(args.run_dir).forecast_csv
    tmp = out.with_suffix(".csv.tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(out)
    if frame.attrs.get("note"):
        print(f"Note: {frame.attrs['note']}")
    print(f"Forecast by {frame.attrs['model']} (original units) -> {out}")
    with pd.option_context("display.float_format", lambda v: f"{v:.2f}"):
        print(frame.to_string(index=False))
    return 0


if __name__ == "__main__":
    np.set_printoptions(suppress=True)
    sys.exit(main())
