"""Build runs/<name>/report/ from a finished (or interrupted) sweep, without retraining anything.

Protocol: each model's trial is chosen on validation MSE alone; the chosen weights are then scored once on the
test split, beside the baselines under the same windows and metrics. The ranking, its headline and the winner are
decided by validation (mean over seeds where there are seeds); test columns only show how that choice held up.

Over 250 lines: it is the one place that assembles every section of the report (scoring, intervals, figures,
tables, notes) in order; each section's logic lives in its own module (scoring, intervals, figures, data_section).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from data_pipeline import DataError, Scaler, WindowedData, build_windowed_data
from data_pipeline.identity import check_data_identity
from models.forecasters import SKILL_BASE
from models.forecasters.naive import BASELINE
from models.run_files import ReportFiles, RunFiles
from models.run_records import FINALS
from reports import figures, folds, intervals, panel, search_path
from reports.covariates import covariates_note
from reports.data_section import data_tables
from reports.evaluate import score_entries
from reports.intervals import own_band_coverage
from reports.render import render_html, render_markdown
from reports.runs import RunDir, RunDirError, best_trials, read_run
from reports.scoring import (
    ModelScore,
    per_horizon_table,
    per_target_table,
    predictions_frame,
    ranking_table,
    reference_names,
    verdict,
)
from reports.seasons import SEASON_BANDWIDTH_DAYS
from reports.sections import IntervalSection, ReportSections, TitledTable, layout


@dataclass
class Report:
    dir: Path
    index_html: Path
    ranking: pd.DataFrame
    figures: list[Path]
    intervals: pd.DataFrame | None = None  # reports.intervals.interval_table: test scores of every interval

    @property
    def ranking_rows(self) -> list[dict[str, Any]]:
        return json.loads(self.ranking.to_json(orient="records"))

    @property
    def interval_rows(self) -> list[dict[str, Any]]:
        return [] if self.intervals is None else json.loads(self.intervals.to_json(orient="records"))


def load_data(run: RunDir) -> WindowedData:
    identity = RunFiles(run.path).data_identity
    if identity.exists():  # run directories from before data identities were recorded have only the scaler
        try:
            check_data_identity(identity, run.data_configs()[0], "restore the original data file to rebuild "
                                "this report")
        except DataError as err:
            raise RunDirError(str(err)) from err
    data = build_windowed_data(*run.data_configs())
    stored = RunFiles(run.path).scaler
    if stored.exists() and not Scaler.load(stored).matches(data.scaler):
        raise RunDirError(f"the data behind {run.path} changed since the sweep (its scaler no longer matches "
                          f"{stored}); restore the original data file to rebuild this report")
    return data


def build_report(run_path: str | Path, *, quiet: bool = False) -> Report:
    started = time.monotonic()
    run = read_run(run_path)
    data = load_data(run)
    best = best_trials(run)
    skipped = read_skipped(run)
    # the earlier folds' (and the refit's) windows, built once: scored in score_run, labelled in the fold table
    datasets = folds.fold_datasets(run, data) if folds.n_folds(run) > 1 or folds.refit_wanted(run) else {}
    results, notes = score_run(run, data, skipped, quiet=quiet, datasets=datasets)
    levels = intervals.interval_levels(run.stored)
    bands = intervals.all_bands(results, data, levels)
    interval_scores = intervals.interval_table(bands, data)
    ranking = intervals.ranking_columns(ranking_table(results, data), interval_scores)
    scales = None
    if data.is_panel:  # series of different sizes weigh alike: MASE against each series' own seasonal naive
        season = panel.mase_season(data, run.stored.baselines().season)
        scales = panel.naive_scales(data, season)
        ranking = panel.mase_columns(ranking, results, data, scales)
    # The winner's intervals are shaded: the validation winner (rank 1), the model `python -m reports.forecast` uses.
    winner = next((r for r in results if r.model == ranking.model.iloc[0]), None)
    winner_bands = [(b.level, b.lower, b.upper) for b in bands
                    if winner is not None and b.model == winner.model and b.method == intervals.CONFORMAL]

    final = RunFiles(run.path).report_dir
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    out = ReportFiles(tmp)  # written whole beside the old report, then swapped in
    out.figures.mkdir(parents=True)
    fig_dir = out.figures
    horizon = per_horizon_table(results)
    dashed = {r.model for r in results if r.kind == BASELINE}  # drawn dashed in every figure
    figs = [
        ("Forecast vs actual on test windows", figures.forecast_examples(
            results, data, fig_dir, bands=winner_bands, band_model=winner.model if winner else "")),
        ("Training curves", figures.loss_curves(best, fig_dir)),
        ("Error by forecast horizon", figures.per_horizon(horizon, fig_dir, data.summary.get("frequency", "D"), dashed)),
    ]
    adaptive = run.stored.search != "grid"
    figs.append((f"Sensitivity to the {'search space' if adaptive else 'grid'}: validation MSE of every trial",
                 figures.val_distribution(run, fig_dir)))
    if adaptive:  # how the searchers went: only for an adaptive search (a grid has no order to learn from)
        figs.append(("Search path: best validation MSE so far, per architecture",
                     search_path.search_path_figure(search_path.search_path(run), fig_dir)))
    interval_horizon = intervals.coverage_by_horizon(bands, data)
    if bands:
        figs.append(("Prediction intervals: nominal vs empirical coverage on test",
                     figures.calibration(interval_horizon, fig_dir, data.summary.get("frequency", "D"), dashed)))
    series_table = None
    if scales is not None:
        series_table, best_arch = panel.per_series_table(ranking, results, data, scales)
        figs.append(("Best and worst series (by the best architecture's test MASE)",
                     panel.best_worst_figure(series_table, best_arch, results, data, fig_dir)))
    with_quantiles = [r for r in results if r.quantiles is not None]
    if with_quantiles:
        coverage = {r.model: own_band_coverage(r, data) for r in with_quantiles}
        figs.append((f"Models' own intervals ({', '.join(coverage)}): how often the 10-90% interval holds the "
                     "actual value",
                     figures.interval_coverage(coverage, fig_dir)))
    sections = _sections(run, data, ranking, results, horizon, figs, skipped)
    if series_table is not None:
        sections.per_series = series_table
        series_table.to_csv(out.series, index=False)
    sections.notes += notes
    if adaptive:
        sections.search_tables.append(TitledTable(search_path.IMPORTANCE_TITLE, search_path.importance(run)))
    by_fold = (folds.fold_coverage(results, levels, folds.fold_labels(datasets, data))
               if folds.n_folds(run) > 1 else None)
    if by_fold is not None and len(by_fold):  # backtest folds: does an interval carry from one validation season to another?
        sections.search_tables.append(TitledTable(
            "Conformal coverage of each validation block (fold) by the interval calibrated on the other blocks",
            by_fold))
    calibration = ""
    if folds.n_folds(run) > 1:
        calibration = (f" With {folds.n_folds(run)} backtest folds the errors are those of every fold's models on "
                       "their own validation block (cross-conformal), in the run's scaled units; the refit's are "
                       "never used.")
        if folds.by_time_of_year(results):
            calibration += (" Their forecast origins span a year or more, so each error is weighted by how close "
                            f"its origin's time of year is to the forecast's (a {SEASON_BANDWIDTH_DAYS:.0f}-day "
                            "Gaussian kernel, a weighted conformal quantile): a spring forecast is calibrated "
                            "mostly on spring errors.")
    interval_text = _interval_text(levels, len(data.val), winner.model if winner else None, interval_scores,
                                   calibration)
    sections.intervals = IntervalSection(
        interval_text, intervals.reading_table(interval_scores, list(ranking.model), data.target_names),
        interval_horizon)
    without = [r.model for r in results if r.val_pred is None]
    if without:
        sections.notes.append(f"No prediction interval for {', '.join(without)}: no validation forecasts kept.")
    ranking.to_csv(out.ranking, index=False)
    intervals.add_prediction_columns(predictions_frame(results, data), results, bands, data).to_parquet(
        out.predictions, index=False)
    folds.out_of_fold_frame(results, datasets, data).to_parquet(out.out_of_fold, index=False)
    interval_scores.to_csv(out.intervals, index=False)
    page = layout(sections)
    out.index_html.write_text(render_html(page))
    out.markdown.write_text(render_markdown(page))
    _swap_in(tmp, final)
    done = ReportFiles(final)
    if not quiet:
        print(f"Report built in {time.monotonic() - started:.1f} s: {done.index_html}")
        print(verdict(ranking))
        print(ranking[["rank", "model", "val_mse_mean", "val_mse_sd", "test_mse", "test_mae", f"skill_vs_{SKILL_BASE}",
                       "tied_with_winner"]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return Report(final, done.index_html, ranking, [done.figures / f.name for _, f in figs],
                  interval_scores)


def _interval_text(levels: tuple[float, ...], n_val: int, winner: str | None, scores: pd.DataFrame,
                   calibration: str = "") -> str:
    """The interval section's paragraph; `calibration`: how backtest folds calibrate, right after the rule."""
    shown = ", ".join(f"{level:.0%}" for level in levels)
    held = scores[scores.model == winner] if winner is not None and len(scores) else scores.iloc[0:0]
    return (f"Split-conformal intervals at {shown}: each model's absolute errors on the {n_val} validation windows, "
            f"per target and forecast day, give the half-width (the ceil((n+1)·level)-th smallest error); test "
            f"targets only score them.{calibration} Models with their own intervals (quantiles or a forecast variance: the "
            f"capability `own_intervals`) also get CQR: their own band widened by the validation margin. Coverage is the share of test values inside; the interval score (Winkler) is "
            f"width + 2/(1-level) × distance outside, in scaled units; widths are in original units."
            + (f" Shaded in the forecast figure: {winner}, the validation winner, whose intervals held "
               + ", ".join(f"{r.coverage:.1%} [{r.coverage_ci_low:.1%}, {r.coverage_ci_high:.1%}] (nominal "
                           f"{r.level:.0%})" for r in held.itertuples())
               + " of test values (95% block-bootstrap intervals over test windows)." if winner and len(held) else "")
            + _coverage_misses(scores))


def _coverage_misses(scores: pd.DataFrame) -> str:
    """The entries whose test coverage misses the nominal level beyond noise (its bootstrap interval excludes it),
    by level and side: a short test split can miss by several points by chance, these did not."""
    if not len(scores):
        return ""
    clauses = []
    for level, rows in scores.groupby("level", sort=True):
        side = intervals.off_nominal(level, rows.coverage_ci_low, rows.coverage_ci_high)
        under = [f"{r.model} {r.coverage:.1%}" for r, s in zip(rows.itertuples(), side, strict=True) if s < 0]
        over = [f"{r.model} {r.coverage:.1%}" for r, s in zip(rows.itertuples(), side, strict=True) if s > 0]
        for side, names in (("below", under), ("above", over)):
            if names:
                clauses.append(f"{side} {level:.0%}: {', '.join(names)}")
    n = len(set(scores.model))
    return (" Off the nominal level beyond the test split's noise (the coverage's interval excludes it): "
            + "; ".join(clauses) + "."
            if clauses else f" Every interval's test coverage ({n} entries) is within noise of its nominal level.")


def read_skipped(run: RunDir) -> dict[str, str]:
    """The models the sweep skipped on purpose (its skipped.json): name -> the reason it gave."""
    skipped_file = RunFiles(run.path).skipped
    return json.loads(skipped_file.read_text()) if skipped_file.exists() else {}


def score_run(run: RunDir, data: WindowedData, skipped: dict[str, str] | None = None, quiet: bool = True,
              datasets: dict[int | str, WindowedData] | None = None) -> tuple[list[ModelScore], list[str]]:
    """Every entry of the ranking (models.forecasters' registry) fitted and scored on `data` (reports/evaluate.py).

    Which trial represents an architecture is decided from the run's validation records alone; `data`'s test split
    is only scored. Returns the scores and notes for the report (e.g. a skipped baseline).
    `skipped`: `read_skipped(run)`, read here when not given. `quiet`: no progress lines from the classical fits.
    `datasets`: `folds.fold_datasets(run, data)` where the run has folds or a refit, built here when not given.
    """
    skipped = read_skipped(run) if skipped is None else skipped
    evaluated, notes = score_entries(run, data, skipped, quiet, datasets)
    results = [e.score for e in evaluated]
    bought = covariates_note(evaluated, data)  # what the user's covariates buy the choice, on validation
    if bought:
        notes.append(bought)
    if folds.n_folds(run) > 1:
        notes.append(folds.folds_note(run, results))
    return results, notes


def _swap_in(tmp: Path, final: Path) -> None:
    """Replace the old report only once the new one is complete: a crash mid-build leaves the old one intact."""
    old = final.with_name(f"{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _interval(lo: float, hi: float) -> str:
    return f"[{lo:+.3f}, {hi:+.3f}]"


def _ranking_for_reading(ranking: pd.DataFrame) -> pd.DataFrame:
    """The ranking as a person reads it: validation first (it decides the order), then how the choice held up
    on test, intervals in one cell, rounded numbers (ranking.csv keeps all)."""
    out = ranking[["rank", "model", "kind"]].copy()
    out["val MSE"] = [f"{m:.4f}" if n < 2 else f"{m:.4f} ± {sd:.4f}"
                      for m, sd, n in zip(ranking.val_mse_mean, ranking.val_mse_sd, ranking.seeds, strict=True)]
    out["seeds"] = ranking.seeds
    out["test MSE"] = [f"{t:.4f}" if n < 2 else f"{t:.4f} (seeds {m:.4f} ± {sd:.4f})"
                       for t, m, sd, n in zip(ranking.test_mse, ranking.test_mse_mean, ranking.test_mse_sd,
                                              ranking.seeds, strict=True)]
    out["test MAE"] = ranking.test_mae
    if "test_mase" in ranking:  # panels: the mean over series of each series' MASE
        out["test MASE"] = ranking.test_mase
    out[f"skill vs {SKILL_BASE}"] = [f"{v:+.1%}" for v in ranking[f"skill_vs_{SKILL_BASE}"]]
    out["tied with winner"] = ["winner" if i == 0 else ("tied" if t else "")
                               for i, t in enumerate(ranking.tied_with_winner)]
    out["MSE - winner (95% CI)"] = ["" if i == 0 else _interval(lo, hi) for i, (lo, hi) in
                                    enumerate(zip(ranking.vs_winner_ci_low, ranking.vs_winner_ci_high, strict=True))]
    for ref in reference_names(ranking):
        out[f"MSE - {ref} (95% CI)"] = ["" if m == ref else _interval(lo, hi) for m, lo, hi in
                                        zip(ranking.model, ranking[f"vs_{ref}_ci_low"], ranking[f"vs_{ref}_ci_high"],
                                            strict=True)]
    if "covariates" in ranking:  # the user's known-future / static columns each entry reads
        out["covariates"] = ranking.covariates
    out["hyperparameters"] = ranking.hparams
    out["params"] = ranking.params
    out["epochs"] = ranking.epochs.astype("Int64")
    out["train s"] = ranking.train_time_s
    out["trial"] = ranking.trial_id
    return out


def _per_target_wide(long: pd.DataFrame, ranking: pd.DataFrame) -> pd.DataFrame:
    """One row per model (in ranking order), RMSE and MAE per target side by side."""
    wide = long.pivot(index="model", columns="target", values=["rmse", "mae"])
    wide.columns = [f"{target} {metric.upper()}" for metric, target in wide.columns]
    wide = wide[sorted(wide.columns, key=lambda c: (c.rsplit(" ", 1)[0], c.endswith("MAE")))]
    return wide.reindex(ranking.model).reset_index()


def _trial_counts(run: RunDir) -> pd.DataFrame:
    rows: dict[str, dict[str, int]] = {}
    for t in run.trials:
        row = rows.setdefault(t.model, {"model": t.model, "trials": 0, "finished": 0, "stopped": 0, "failed": 0})
        row["trials"] += 1
        row[t.status] += 1
    for t in run.finals:  # each chosen configuration's seed repeats, earlier folds and refit (phases finals, refit)
        row = rows.setdefault(t.model, {"model": t.model, "trials": 0, "finished": 0, "stopped": 0, "failed": 0})
        column = "seed repeats" if t.fold is None else "refit" if t.fold == folds.REFIT else "earlier folds"
        row[column] = row.get(column, 0) + (t.status != "failed")
    table = pd.DataFrame(sorted(rows.values(), key=lambda r: r["model"]))
    return table.rename(columns={"finished": "finished (own stopping rule)",
                                 "stopped": "stopped early by ASHA / interrupted"})


def _sections(run: RunDir, data: WindowedData, ranking: pd.DataFrame, results: list[ModelScore],
              horizon: pd.DataFrame, figs: list[tuple[str, Path]], skipped: dict[str, str]) -> ReportSections:
    summary = data.summary
    windows = summary.get("windows", {})
    protocol = (
        f"Each architecture's trial was chosen by validation MSE only, and the ranking is ordered by validation "
        f"MSE (mean over seeds where a model was trained with several): rank 1 is the model to deploy. The chosen "
        f"weights were then scored once on all {windows.get('test', len(data.test))} test windows "
        f"({data.n_inputs} steps in, {data.n_outputs} out; targets {', '.join(data.target_names)}). MSE/MAE are "
        f"in scaled units (scaler fitted on the training split). Skill = 1 - MSE/MSE({SKILL_BASE}). Intervals are "
        f"95% paired circular block bootstraps (blocks of {data.n_outputs} consecutive windows, which share days) "
        f"of MSE(model) - MSE(reference) on test, against the winner and the reference entries "
        f"({', '.join(reference_names(ranking))}): entirely below zero means reliably better than the reference; "
        f"a model whose interval against the winner contains zero is tied with it."
    )
    if data.is_panel:
        protocol += (f" The data holds {data.n_series} series, each scaled on its own training part and cut at the "
                     f"same dates; one global model per architecture is trained on the windows of all of them, and "
                     f"every MSE is the mean over series of that series' MSE. MASE: each series' mean absolute error "
                     f"divided by its in-sample seasonal naive error on its training part, averaged over series. The "
                     f"bootstrap's blocks are {data.n_outputs} consecutive forecast origins, each taking every "
                     f"series' window at that origin, so a block never joins two series.")
    notes = [verdict(ranking)]
    tied = [m for m in ranking.model.iloc[1:][ranking.tied_with_winner.iloc[1:]]]
    if tied:
        notes.append(f"Tied with the winner on test (difference within noise): {', '.join(tied)}.")
    masked = summary.get("masked_target_cells") or {}
    if any(masked.values()):
        notes.append(f"Not scored: {masked.get('test', 0)} test and {masked.get('val', 0)} validation target "
                     f"cell(s) that were missing or flagged implausible in the source (repaired from earlier days "
                     f"for use as inputs; left out of every model's metrics alike).")
    # more than a few made-up rows: the calendar assumed is probably not the data's own
    notes += [f"Warning: {inv['warning']}." for inv in summary.get("invented_rows") or [] if inv.get("warning")]
    notes += [f"Data: {n}." for n in summary.get("notes") or []]  # what reading the data changed or left out
    wanted_seeds = run.stored.final_seeds
    finished = RunFiles(run.path).finished_phases()
    if wanted_seeds and FINALS not in finished:
        notes.append(f"The seed repeats ({wanted_seeds} more seeds per architecture) have not finished: models are "
                     f"ranked on the seeds available. Run the same sweep command again to complete them.")
    if folds.refit_wanted(run) and folds.REFIT not in finished:
        notes.append("The final refit has not finished: the test forecasts of a model without all its refit seeds "
                     "come from its fold models. Run the same sweep command again to complete it.")
    # models the sweep skipped on purpose have their own note
    missing = sorted(set(run.stored.model_names) - {r.model for r in results} - set(skipped))
    if missing:
        notes.append(f"Not ranked (no trial with a checkpoint): {', '.join(missing)}.")
    failed = pd.DataFrame([{"model": t.model, "trial": t.trial_id, "hparams": t.tag, "error": t.error}
                           for t in run.trials if t.status == "failed"])
    return ReportSections(
        title=f"Forecast Sweep report: {run.path.name}", protocol=protocol, notes=notes,
        ranking=_ranking_for_reading(ranking), trial_counts=_trial_counts(run),
        per_target=_per_target_wide(per_target_table(results), ranking), per_horizon=horizon, failed=failed,
        figures=figs, data_tables=data_tables(summary))
