"""Every ranked entry fitted and scored the same way: the run's own split, the backtest folds, the final refit.

For each entry (models.forecasters): fit on the run's own training rows and score its validation and test
forecasts; with backtest folds (`split.folds` > 1), fit on each earlier fold's training rows and score that fold's
validation block (its MSE in that fold's scaled units; its out-of-fold errors, in the run's units, calibrate the
intervals: cross-conformal); with a final refit (`report.final_refit`), fit on every row before the test split and
let those forecasts, brought into the run's scaled units, replace the test forecasts. Selection never reads test.
Nothing here asks which kind an entry is: what differs is declared by the entry (its capabilities, its fits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from data_pipeline import Scaler, WindowedData
from models.forecasters import (
    REFIT,
    Capabilities,
    Context,
    EntryError,
    Fitted,
    Forecaster,
    FutureInputs,
    NotApplicable,
    Span,
    entries,
)
from models.forecasters.ensemble import DEFAULT_STEPS, ENSEMBLE_NAME, FoldTargets, Member, WeightedEnsemble
from models.metrics import score_split
from models.run_records import StoredConfig
from reports.folds import FoldResiduals, fold_datasets, in_run_units, n_folds, refit_wanted
from reports.intervals import interval_levels
from reports.runs import RunDir, RunDirError, best_trials
from reports.scoring import ModelScore


@dataclass
class Spans:
    """The spans a run scores its entries on: its own split, each earlier fold's, and the refit's."""

    own: Span
    earlier: list[Span] = field(default_factory=list)
    refit: Span | None = None


def run_spans(run: RunDir, data: WindowedData, datasets: dict[int | str, WindowedData] | None = None) -> Spans:
    """`data`'s own span and, where the run has them, its earlier folds' and refit's (`datasets`:
    folds.fold_datasets(run, data), built here when not given)."""
    k = n_folds(run)
    if datasets is None:
        datasets = fold_datasets(run, data) if k > 1 or refit_wanted(run) else {}
    earlier = [Span(d, int(f), ("val",)) for f, d in sorted((f, d) for f, d in datasets.items() if f != REFIT)]
    refit = Span(datasets[REFIT], REFIT, ("test",)) if REFIT in datasets else None
    return Spans(Span(data, k, ("val", "test"), own=True), earlier, refit)


def run_context(run: RunDir, data: WindowedData, skipped: dict[str, str] | None = None, quiet: bool = True
                ) -> Context:
    return Context(run.stored, run.path, data, interval_levels(run.stored), run.trials, run.finals,
                   run.train_config().seed, dict(skipped or {}), quiet)


@dataclass
class Evaluated:
    """One entry's score, and the fits of its spans (the forecast reads them)."""

    score: ModelScore
    own: Fitted
    refit: Fitted | None = None  # the refit's fit, where it forecast the test split
    refit_data: WindowedData | None = None  # the refit span's windows (their scaler: every row before test)
    notes: list[str] = field(default_factory=list)
    capabilities: Capabilities = field(default_factory=Capabilities)  # the entry's own declaration


def _fit(entry: Forecaster, span: Span) -> Fitted | None:
    try:
        return entry.fit(span)
    except EntryError as err:  # the entry's files are broken: the run directory needs fixing
        raise RunDirError(str(err)) from err


def evaluate(entry: Forecaster, spans: Spans) -> Evaluated | str | None:
    """`entry` fitted and scored on every span; the note saying why it was left out (str), or None when it has
    nothing on the run's own span."""
    data = spans.own.data
    try:
        own = _fit(entry, spans.own)
    except NotApplicable as why:
        return str(why)
    if own is None:
        return None
    val, test = own.predict("val"), own.predict("test")
    described = own.describe()
    recorded = own.recorded_val_mse
    val_mse = recorded[0] if recorded else score_split(val.point, data.val, data)["mse"]
    score = ModelScore(
        described.name, described.kind, float(val_mse), score_split(test.point, data.test, data),
        np.asarray(test.point, np.float32), described.params, hparams=dict(described.hparams),
        epochs=described.epochs, train_time_s=described.train_time_s, trial_id=described.trial_id,
        quantiles=test.quantiles, val_pred=np.asarray(val.point, np.float32), val_quantiles=val.quantiles,
        quantile_levels=test.quantile_levels)
    score.covariates = covariates_read(entry, data)
    score.reference = entry.capabilities.reference
    if recorded and len(recorded) > 1:  # trained with several seeds: each seed's scores, its own first
        score.seed_val_mse = list(recorded)
        score.seed_test_mse = [score_split(p, data.test, data)["mse"] for p in test.seeds or []]
    if spans.earlier and entry.capabilities.backtests:
        _backtest(entry, spans, score)
    result = Evaluated(score, own, notes=list(own.notes), capabilities=entry.capabilities)
    score.refit = own.refit_forecasts
    if spans.refit is not None and entry.capabilities.refits:
        result.refit = _refit(entry, spans.refit, data, score)
        result.refit_data = spans.refit.data if result.refit is not None else None
    return result


def covariates_read(entry: Forecaster, data: WindowedData) -> list[str] | None:
    """The user's covariate columns `entry` reads (its capabilities say which kinds), or None where the data has
    no covariates; the report states it for every entry."""
    known = list(data.summary.get("known_future") or [])
    static = list(data.summary.get("static_columns") or [])
    if not known and not static:
        return None
    # a panel's static features ride with the known-future inputs (data_pipeline/statics.py): the same readers,
    # unless the entry says otherwise (ARIMA's per-series regression reads data.known_future only)
    caps = entry.capabilities
    return (known if caps.known_future_covariates else []) + (static if caps.reads_static else [])


def _backtest(entry: Forecaster, spans: Spans, score: ModelScore) -> None:
    """The entry's validation MSE on every earlier fold it fits, and its out-of-fold errors as its calibration."""
    run_data = spans.own.data
    residuals = FoldResiduals()
    for span in spans.earlier:
        try:
            fitted = _fit(entry, span)
        except NotApplicable:  # e.g. a baseline that needs a longer history than this fold's
            continue
        if fitted is None:  # that fold's models were not trained (an interrupted finals phase)
            continue
        pred = fitted.predict("val").point
        fd = span.data
        score.fold_val_mse[int(span.fold)] = list(fitted.recorded_val_mse or [score_split(pred, fd.val, fd)["mse"]])
        score.fold_val_pred[int(span.fold)] = np.asarray(pred, np.float32)
        residuals.add(pred, fd, run_data, int(span.fold))
    if residuals.errors and score.val_pred is not None:
        residuals.add(score.val_pred, run_data, run_data, int(spans.own.fold))  # the run's own block last
        residuals.attach(score)


def _refit(entry: Forecaster, span: Span, run_data: WindowedData, score: ModelScore) -> Fitted | None:
    """The entry refitted on every row before the test split: its test forecasts (and own quantiles) replace the
    score's, in the run's units. Validation scores and calibration stay those of the fits that did not see the
    validation rows."""
    try:
        fitted = _fit(entry, span)
    except NotApplicable:
        return None
    if fitted is None:  # an unfinished refit: the run's own fits forecast the test split, and the report says so
        return None
    test = fitted.predict("test")
    score.y_pred = in_run_units(test.point, span.data, "test", run_data)
    score.test = score_split(score.y_pred, run_data.test, run_data)
    if test.seeds is not None:
        score.seed_test_mse = [score_split(in_run_units(p, span.data, "test", run_data), run_data.test,
                                           run_data)["mse"] for p in test.seeds]
    if test.quantiles is not None and score.quantiles is not None:
        score.quantiles = np.stack([in_run_units(test.quantiles[..., i], span.data, "test", run_data)
                                    for i in range(test.quantiles.shape[-1])], axis=-1)
    score.refit = True
    return fitted


def evaluate_all(found: list[Forecaster], spans: Spans, ensemble_steps: int = 0
                 ) -> tuple[list[Evaluated], list[str]]:
    """Every entry evaluated, in order, then (with backtest folds and `ensemble_steps` > 0) the weighted ensemble
    of them all, chosen out of fold; and the report's notes (each said once)."""
    results: list[Evaluated] = []
    notes: list[str] = []
    for entry in found:
        outcome = evaluate(entry, spans)
        if isinstance(outcome, Evaluated):
            results.append(outcome)
            notes += outcome.notes
        elif outcome:
            notes.append(outcome)
    if ensemble_steps > 0 and spans.earlier:
        ensemble, note = weighted_ensemble(results, spans, ensemble_steps)
        notes.append(note)
        if ensemble is not None:
            outcome = evaluate(ensemble, spans)
            if isinstance(outcome, Evaluated):
                results.append(outcome)
    return results, list(dict.fromkeys(n for n in notes if n))


def in_scaler_units(y: np.ndarray, source: Scaler, target: Scaler, series: np.ndarray | None) -> np.ndarray:
    """Target forecasts (series, horizon, targets) scaled by `source` (a refit's own scaler), in `target`'s units."""
    k = y.shape[-1]
    return target.transform(source.inverse(y, slice(0, k), series), series, slice(0, k)).astype(np.float32)


def future_in_run_units(evaluated: Evaluated) -> Callable[[FutureInputs], np.ndarray]:
    """How `evaluated` forecasts the future in the run's scaled units: its refit's fit where it was refit (brought
    from the refit's units), else its own fit (whose units are the run's)."""
    def forecast(inputs: FutureInputs) -> np.ndarray:
        y = (evaluated.refit or evaluated.own).forecast_future(inputs)
        if evaluated.refit_data is None:
            return y
        return in_scaler_units(y, evaluated.refit_data.scaler, inputs.run_scaler, inputs.series)

    return forecast


def weighted_ensemble(results: list[Evaluated], spans: Spans, steps: int) -> tuple[WeightedEnsemble | None, str]:
    """The greedy ensemble over every entry with a validation forecast on every fold, and the note saying which
    entries it could not use (no forecast on some fold) or why there is none."""
    folds = {int(s.fold): FoldTargets(s.data.val.y, s.data.val.score_weights()) for s in spans.earlier}
    own = spans.own.data
    folds[int(spans.own.fold)] = FoldTargets(own.val.y, own.val.score_weights())
    members, left_out = [], []
    for e in results:
        s = e.score
        val = {**s.fold_val_pred, int(spans.own.fold): s.val_pred}
        if set(val) != set(folds) or any(v is None or not np.isfinite(v).all() for v in val.values()):
            left_out.append(s.model)
            continue
        members.append(Member(s.model, val, s.y_pred, s.refit, future_in_run_units(e), params=s.params,
                              capabilities=e.capabilities))
    if len(members) < 2:
        return None, "No weighted ensemble: fewer than two entries have a forecast on every backtest fold."
    ensemble = WeightedEnsemble(members, folds, steps)
    return ensemble, (
        f"{ENSEMBLE_NAME}: greedy forward selection with replacement ({steps} steps, best prefix; the plain mean of "
        f"the chosen members on a tie) over the validation forecasts of every fold; its own validation score on "
        f"each fold comes from weights chosen on the other folds (out of fold), its test forecast from the weights "
        f"chosen on all of them." + (f" Not a member (no forecast on every fold): {', '.join(left_out)}."
                                     if left_out else ""))


def score_entries(run: RunDir, data: WindowedData, skipped: dict[str, str] | None = None, quiet: bool = True,
                  datasets: dict[int | str, WindowedData] | None = None, only: list[str] | None = None
                  ) -> tuple[list[Evaluated], list[str]]:
    """Every registered entry of `run` (or of the sources in `only`) evaluated on `data`, with notes."""
    if only is None and not best_trials(run):
        raise RunDirError(f"no trial in {run.path} has a checkpoint yet; run or resume the sweep first")
    ctx = run_context(run, data, skipped, quiet)
    steps = run.stored.ensemble_steps(DEFAULT_STEPS)
    return evaluate_all(entries(ctx, only), run_spans(run, data, datasets), 0 if only else steps)


def score_data_entries(data: WindowedData, config: dict | None = None, only: list[str] | None = None,
                       quiet: bool = True) -> tuple[list[ModelScore], list[str]]:
    """The entries that need no run directory (the baselines, the classical models: `only` names their sources)
    fitted on `data`'s own training rows and scored, with notes; `config`: the settings they read (`baselines.*`,
    `report.interval_levels`)."""
    stored = StoredConfig(dict(config or {}))
    ctx = Context(stored, None, data, interval_levels(stored), quiet=quiet)
    evaluated, notes = evaluate_all(entries(ctx, only), Spans(Span(data, 1, ("val", "test"), own=True)))
    return [e.score for e in evaluated], notes


def baseline_scores(data: WindowedData, season: int | None = None) -> tuple[list[ModelScore], list[str]]:
    """Persistence, ridge, seasonal naive and (on two or more years of training data) climatology scored on
    `data`, with notes on any that does not apply."""
    return score_data_entries(data, {"baselines": {"season": season}}, ["naive"])
