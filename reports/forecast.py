"""`python -m reports.forecast runs/<name> [--model NAME] [data.path=...]`: forecast the next days with the winner.

Loads the best checkpoint (of the model ranked first on validation, or of --model), feeds it the last N_INPUTS
days of the data (a classical model: ets, theta, arima, mstl or classical_combo, its fitted state over the whole series), and writes the next N_OUTPUTS days (on the data's calendar; steps +1..+H under data.frequency=rows)
in original units to runs/<name>/forecast.csv: per target the point forecast and `_lo80/_hi80/_lo95/_hi95` (the
run's `report.interval_levels`), split-conformal intervals calibrated on the model's errors on the run's own
validation windows (with backtest folds: on every fold's out-of-fold errors, as in the report). A panel (many
series) gets one block of rows per series, each from that series' own last days, with its id in the first column.

Over 300 lines: one command for every kind of ranked entry (a trained model, its seed ensemble, its final refit,
Chronos-2, the classical models), each calibrated exactly as the report calibrates it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    with_input_length,
)
from data_pipeline.forecast import panel_forecast_input
from data_pipeline.series import load_series
from models import predict
from models.chronos import CHRONOS2
from models.classical import CLASSICAL_MODELS, COMBO, FORECAST_SPLITS, forecast_origins, series_history
from reports import folds
from reports.intervals import conformal_quantile, interval_levels, level_tag
from reports.runs import (
    REFIT_SCALER,
    RunDir,
    RunDirError,
    TrialRecord,
    best_trials,
    load_best_model,
    read_run,
)
from reports.scoring import ModelScore


def forecast(run_path: str | Path, model: str | None = None, overrides: list[str] | None = None) -> pd.DataFrame:
    run = read_run(run_path)
    best = best_trials(run)
    if not best:
        raise RunDirError(f"no trained model with a checkpoint in {run.path}; run the sweep first")
    note = None
    ensembles = {f"{m}_ensemble": [t, *_repeats(run, t)] for m, t in best.items() if _repeats(run, t)}
    if model is None:
        model, note = default_model(run.path, best, ensembles)
    elif model not in best and model not in ensembles and model not in CLASSICAL_ENTRIES:
        available = ", ".join(sorted([*best, *ensembles, *CLASSICAL_ENTRIES]))
        raise RunDirError(f"--model {model!r} has no checkpoint in {run.path}; available: {available}")
    overrides = overrides or []
    for pair in overrides:
        if not pair.startswith("data."):
            raise RunDirError(f"{pair!r}: only data.* keys can change for a forecast (the model fixes the rest)")
    raw = apply_overrides({"data": run.config["data"]}, overrides)
    if any(p.startswith("data.path=") for p in overrides) and not any(p.startswith("data.test_path=") for p in overrides):
        raw["data"]["test_path"] = None  # a new data file replaces the sweep's train+test files as a whole
    data_cfg = DataConfig.model_validate(raw["data"])
    _, window, _ = run.data_configs()
    scaler = Scaler.load(run.path / "scaler.json")
    if model in CLASSICAL_ENTRIES:
        frame, fit_note = _classical_forecast(run, model, data_cfg, window.output, scaler)
        frame.attrs.update(model=model, note="; ".join(n for n in (note, fit_note) if n) or None)
        return frame
    names: list[str] | None = None
    if scaler.per_series:  # a panel: every series' own last days, scaled by its own scaler
        x, series_dates, names = panel_forecast_input(data_cfg, window, scaler)
        dates = series_dates[0]
    else:
        x, dates = forecast_input(data_cfg, window, scaler, scaler.feature_names)

    summary = json.loads((run.path / "data_summary.json").read_text())
    n_targets = len(summary["target_names"])
    from reports.build import load_data

    # A trial with its own input length (searched) reads the last that many steps; seed repeats share it.
    used = ensembles.get(model) or [best[model]]
    n_inputs = used[0].window_input or window.input
    x = x[:, -n_inputs:]
    try:  # the run's own validation windows calibrate the interval, whatever data.path is now
        full = load_data(run)
        run_data = with_input_length(full, n_inputs)
    except DataError as err:
        raise RunDirError(f"the forecast's intervals are calibrated on the sweep's validation windows, which need "
                          f"the sweep's own data files: {err}") from err
    refit = None  # the final refit's forecaster (trained models only)
    if model == CHRONOS2:
        from models.chronos import chronos_predict, load_chronos

        pipeline = load_chronos(Path(best[model].checkpoint))

        future = None  # Chronos-2 reads no known-future inputs

        def run_model(inputs: np.ndarray, known_future: np.ndarray | None,
                      series: np.ndarray | None = None) -> np.ndarray:
            return chronos_predict(pipeline, inputs, n_targets=n_targets, n_outputs=window.output, scaler=scaler)[0]
    else:
        future_names = list(summary.get("future_names", []))  # the calendar values the decoders read
        shapes = dict(n_features=len(scaler.feature_names), n_targets=n_targets, n_inputs=n_inputs,
                      n_outputs=window.output, n_future=len(future_names), n_series=max(1, len(names or [])))
        # a seed ensemble (`<model>_ensemble`): the mean of its seeds' forecasts
        nets = [load_best_model(t, shapes) for t in ensembles.get(model) or [best[model]]]
        refit = _refit_models(run, used, shapes, scaler, len(future_names))
        # data.frequency=rows refuses calendar inputs, so without dates there are no known-future values to read
        future = (None if dates is None or not future_names else future_input(dates, scaler, future_names)
                  if names is None else
                  np.concatenate([future_input(d, scaler.for_series(i), future_names)
                                  for i, d in enumerate(series_dates)]))

        def run_model(inputs: np.ndarray, known_future: np.ndarray | None,
                      series: np.ndarray | None = None) -> np.ndarray:
            return np.mean([predict(net, inputs, future=known_future, series=series) for net in nets], 0)
    # The validation forecasts that calibrate the interval come from the models that did not train on those windows
    # (never the refit's); the forecast itself from the refit models, when the run has them.
    val = run_data.val
    val_pred = run_model(val.x, val.future, val.series)
    # Chronos-2 is scored on the run's own block only (the report's folds note says so); the trained models on all
    earlier = folds.FoldResiduals() if model == CHRONOS2 else _earlier_folds(run, used[0], model in ensembles, full)
    calib = _calibration(earlier, val_pred, run_data, folds.n_folds(run))
    if refit is not None:
        run_model = refit
        refit_note = "forecast by the final refit's models (retrained on every row before the test split)"
        note = refit_note if note is None else f"{note}; {refit_note}"
    if names is not None:
        frame = pd.concat([_block(y, series_dates[i], scaler.for_series(i), calib, run.config)
                           .assign(**{"series": names[i]})
                           for i, y in enumerate(run_model(x, future, np.arange(len(names))))],
                          ignore_index=True)
        frame = frame[["series", *[c for c in frame.columns if c != "series"]]]
        frame.attrs.update(model=model, note=note)
        return frame
    y_scaled = run_model(x, future)[0]
    frame = _block(y_scaled, dates, scaler, calib, run.config)
    if dates is None:
        rows_note = (f"data.frequency=rows: no calendar, so the forecast's dates are unknown; steps +1..+{len(frame)} "
                     "follow the data's last row")
        note = rows_note if note is None else f"{note}; {rows_note}"
    frame.attrs["model"] = model
    frame.attrs["note"] = note
    return frame


CLASSICAL_ENTRIES = (*CLASSICAL_MODELS, COMBO)


def _earlier_folds(run: RunDir, chosen: TrialRecord, as_ensemble: bool, full: WindowedData) -> folds.FoldResiduals:
    """With backtest folds, the out-of-fold errors of `chosen`'s configuration on every earlier fold (its seed
    ensemble's when `as_ensemble`), as the report computes them; empty without folds. `full`: the run's data."""
    if folds.n_folds(run) < 2:
        return folds.FoldResiduals()
    single, ensemble = folds.model_folds(run, chosen, folds.fold_datasets(run, full), full, run.train_config().seed)
    return (ensemble if as_ensemble else single).residuals


def _calibration(earlier: folds.FoldResiduals, val_pred: np.ndarray, data: WindowedData, last_fold: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The report's calibration set for an entry: its absolute errors on the earlier folds' validation blocks
    (`earlier`), then on the run's own (`val_pred` on `data.val`), real targets only, in the run's scaled units."""
    earlier.add(val_pred, data, data, last_fold)
    return np.abs(np.concatenate(earlier.errors).astype(np.float64)), np.concatenate(earlier.observed)


def _refit_models(run: RunDir, used: list[TrialRecord], shapes: dict[str, int], scaler: Scaler, n_future: int
                  ) -> Callable[..., np.ndarray] | None:
    """With a final refit (report.final_refit), the forecaster made of the refit models of `used` (the same
    seeds): it takes inputs in the run's scaled units and returns forecasts in them, converting through the refit's
    own scaler (fitted on every row before the test split). None without a (complete) refit."""
    stored = run.path / REFIT_SCALER
    refits = [t for t in run.finals if t.model == used[0].model and t.final_of == used[0].tag and t.fold == "refit"
              and t.status == "finished" and t.checkpoint is not None]
    seeds = {int(t.train.get("seed", run.train_config().seed)) for t in used}
    refits = [t for t in refits if int(t.train.get("seed", 0)) in seeds]
    if not stored.exists() or len(refits) != len(seeds):
        return None
    refit_scaler = Scaler.load(stored)
    nets = [load_best_model(t, shapes) for t in refits]
    k, n_features = shapes["n_targets"], shapes["n_features"]
    future_cols = list(range(n_features - n_future, n_features))

    def rescale(values: np.ndarray, src: Scaler, dst: Scaler, columns: Any, series: np.ndarray | None) -> np.ndarray:
        return dst.transform(src.inverse(values, columns, series), series, columns)

    def run_refit(inputs: np.ndarray, known_future: np.ndarray | None, series: np.ndarray | None = None
                  ) -> np.ndarray:
        x = rescale(inputs, scaler, refit_scaler, None, series)
        future = None if known_future is None else rescale(known_future, scaler, refit_scaler, future_cols, series)
        pred = np.mean([predict(net, x, future=future, series=series) for net in nets], 0)
        return rescale(pred, refit_scaler, scaler, slice(0, k), series)

    return run_refit


def _classical_calibration(run: RunDir, entry: ModelScore, data: WindowedData,
                           datasets: dict[int | str, WindowedData]) -> tuple[np.ndarray, np.ndarray]:
    """A classical entry's calibration set, made by the report's own rule (reports.folds.apply_baseline_folds: its
    fits on every earlier fold's training rows, cached in the run directory by the report, or its own block only
    where a fold lacks one). `entry`: its score on the run's own block, from the fits the caller loaded;
    `datasets`: folds.fold_datasets(run, data) (empty without folds or a refit)."""
    if folds.n_folds(run) > 1:
        from reports.classical import classical_scores

        def score(d: WindowedData) -> list:
            return classical_scores(d, run.config, run.path, quiet=True, forecast=("val",))[0]

        folds.apply_baseline_folds([entry], datasets, data, score)
        if entry.calib_errors is not None:
            return np.abs(entry.calib_errors.astype(np.float64)), entry.calib_observed
    return _calibration(folds.FoldResiduals(), entry.val_pred, data, folds.n_folds(run))


def _classical_forecast(run: RunDir, model: str, data_cfg: DataConfig, horizon: int, scaler: Scaler
                        ) -> tuple[pd.DataFrame, str | None]:
    """A classical model (or their mean) forecasting the next `horizon` steps from each series' whole history,
    with the parameters fitted for the report (cached in the run directory) held: the final refit's where the
    run has one, as the report's test forecasts; conformal intervals from its forecasts of the run's validation
    windows, like every model's. Returns the rows and a note on which fits forecast."""
    from reports.build import load_data
    from reports.classical import cache_dirs, classical_entries, classical_runs, own_quantile_levels

    try:
        data = load_data(run)
    except DataError as err:
        raise RunDirError(f"a classical model's forecast starts from its fitted state, which needs the sweep's own "
                          f"data files: {err}") from err
    baselines = run.config.get("baselines") or {}

    def fitted(d: WindowedData, splits: tuple[str, ...]) -> list:
        runs = classical_runs(d, baselines.get("classical"), baselines.get("season"), cache_dirs(run.path, run.config),
                              quiet=True, levels=own_quantile_levels(run.config), forecast=splits)[0]
        return runs if model == COMBO else [r for r in runs if r.model == model]

    members = fitted(data, FORECAST_SPLITS)  # the report's: its cached fits
    entry = next((e for e in classical_entries(members, data, run.config) if e.model == model), None)
    if entry is None:
        raise RunDirError(f"--model {model}: not fitted on this run's data (see the report's notes for why)")
    # every earlier fold's and the refit's windows, built once for the calibration and the refit's fits
    datasets = folds.fold_datasets(run, data) if folds.n_folds(run) > 1 or folds.refit_wanted(run) else {}
    calib = _classical_calibration(run, entry, data, datasets)
    fitted_on, forecast_splits, note = data, FORECAST_SPLITS, None
    if folds.REFIT in datasets:  # the report's test forecasts come from the refit's fits: so does this
        refit_data = datasets[folds.REFIT]
        refit_members = fitted(refit_data, ("test",))
        if len(refit_members) == len(members):
            members, fitted_on, forecast_splits = refit_members, refit_data, ("test",)
            note = "forecast by the final refit's fits (on every row before the test split)"
        else:
            note = "the final refit could not fit this model (see the report's notes): forecast by the run's own fits"
    k = data.n_targets
    if scaler.per_series:
        from data_pipeline.panel import clean_panel

        bundles = clean_panel(data_cfg)
        missing = [n for n in data.series_names if n not in bundles]
        if missing:
            raise DataError(f"{data_cfg.path or data_cfg.source}: series {missing[:10]} of the sweep are missing")
        bundles = [bundles[n] for n in data.series_names]
    else:
        bundles = [load_series(data_cfg)]
    blocks = []
    for i, bundle in enumerate(bundles):
        sc, fit_sc = scaler.for_series(i), fitted_on.scaler.for_series(i)
        values = bundle.frame[data.target_names].to_numpy(dtype=np.float64)
        hist = series_history(fitted_on, i, forecast_splits)
        trained = hist.values[: hist.n_train] * fit_sc.scale[:k] + fit_sc.center[:k]
        if len(values) < hist.n_train or not np.allclose(values[: hist.n_train], trained, rtol=1e-4,
                                                         atol=1e-5 * float(np.max(fit_sc.scale[:k]))):
            raise DataError(f"{bundle.summary['source']}: a classical model filters the series from the first row "
                            f"it was fitted on, but this data does not begin with the sweep's training rows; give "
                            f"the sweep's data with the newer rows appended")
        point = np.mean([[forecast_origins(r.fits[i * k + j], values[:, j], np.array([len(values)]), horizon)[0]
                          for j in range(k)] for r in members], 0).T  # (horizon, k), original units
        dates = (None if bundle.freq is None else
                 pd.DatetimeIndex(pd.date_range(bundle.frame.index[-1], periods=horizon + 1, freq=bundle.freq)[1:]))
        block = _block((point - sc.center[:k]) / sc.scale[:k], dates, sc, calib, run.config)
        blocks.append(block.assign(series=data.series_names[i]) if data.is_panel else block)
    frame = pd.concat(blocks, ignore_index=True)
    if data.is_panel:
        frame = frame[["series", *[c for c in frame.columns if c != "series"]]]
    return frame, note


def _block(y_scaled: np.ndarray, dates: pd.DatetimeIndex, scaler: Scaler, calib: tuple[np.ndarray, np.ndarray],
           config: dict) -> pd.DataFrame:
    """One series' forecast rows: the date, then per target the point forecast and its interval bounds, in
    original units (`scaler`: that series' own); half-widths from `calib` (`_calibration`: the validation errors
    and which of them were real targets, scaled units)."""
    k = y_scaled.shape[-1]
    columns: dict[str, np.ndarray] = {}
    point = scaler.inverse(y_scaled, slice(0, k))
    bounds = {}
    for level in interval_levels(config):
        q = conformal_quantile(calib[0], level, calib[1])
        bounds[level] = (scaler.inverse(y_scaled - q, slice(0, k)), scaler.inverse(y_scaled + q, slice(0, k)))
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


def _repeats(run: RunDir, trial: TrialRecord) -> list[TrialRecord]:
    """The seed repeats of a model's chosen trial that the report's `<model>_ensemble` averages."""
    return sorted((t for t in run.finals if t.model == trial.model and t.final_of == trial.tag and t.fold is None
                   and t.status != "failed" and t.checkpoint is not None), key=lambda t: t.tag)


def default_model(run_path: Path, best: dict, ensembles: dict | None = None) -> tuple[str, str | None]:
    """The report's validation winner (rank 1 of ranking.csv), so the forecast and the report agree.

    The classical models (ets, theta, arima, mstl, classical_combo) are forecast like trained models; the other
    baselines are not: when one wins, the best-ranked model this command can run is used and the note says so.
    Without a report yet, the lowest validation MSE among the trained models.
    """
    ranking_csv = run_path / "report" / "ranking.csv"
    if not ranking_csv.exists():
        return min(best, key=lambda m: best[m].best_val_mse), None
    ranked = pd.read_csv(ranking_csv).sort_values("rank").model.tolist()
    runnable = {CHRONOS2 + "_finetuned": CHRONOS2, **{m: m for m in best}, **{m: m for m in ensembles or {}}}
    usable = [m for m in ranked if m in CLASSICAL_ENTRIES
              or (m in runnable and (runnable[m] in best or runnable[m] in (ensembles or {})))]
    if usable and usable[0] in CLASSICAL_ENTRIES:
        chosen = usable[0]
        return chosen, None if ranked[0] == chosen else (
            f"the validation winner {ranked[0]} is a baseline this command does not forecast with; using the "
            f"best-ranked model it can run, {chosen}")
    if not usable:
        return min(best, key=lambda m: best[m].best_val_mse), None
    chosen = runnable[usable[0]]
    if ranked[0] != usable[0]:
        return chosen, (f"the validation winner {ranked[0]} is a baseline this command does not forecast with; "
                        f"using the best-ranked trained model, {usable[0]}")
    return chosen, None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reports.forecast", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("overrides", nargs="*", metavar="data.key=value", help="e.g. data.path=newer.csv")
    p.add_argument("--model", help="use this model's best trial instead of the validation winner")
    p.add_argument("--debug", action="store_true")
    args = p.parse_args(argv)
    try:
        frame = forecast(args.run_dir, args.model, args.overrides)
    except (RunDirError, DataError, ValueError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.run_dir) / "forecast.csv"
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
