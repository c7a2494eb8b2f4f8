"""A real sweep with backtest folds and a final refit: the phases run and are recorded, selection ranks by the mean
over folds (computed here from the trials' own records), the refit trains exactly its planned epochs and forecasts
test and the future, intervals are calibrated on every fold, and rewriting the test targets changes no choice."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import sweep_argv

from models.forecasters import Description, Fitted, Forecast, Forecaster, FutureInputs, Span
from reports.build import load_data, score_run
from reports.runs import best_trials, read_run
from reports.scoring import ranking_table
from sweeps.run_all import main

pytestmark = pytest.mark.slow
MODELS = ("gru_nar", "lstm_nar")


@pytest.fixture(scope="module")
def folds_run(ray_session, tmp_path_factory, data_cache) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    # theta (the cheapest classical fit) so the classical entries' fold path is exercised too
    argv = sweep_argv(runs, "folds", data_cache, "--models", ",".join(MODELS), "--wandb-mode", "disabled",
                      "split.folds=2", "report.final_refit=true", "sweep.final_seeds=1", "train.epochs=2",
                      "baselines.classical=[theta]")
    assert main(argv) == 0
    return runs / "folds"


def test_the_phases_run_in_order_and_the_refit_trains_its_planned_epochs(folds_run: Path):
    assert list(json.loads((folds_run / "phases.json").read_text())) == ["search", "finals", "refit"]
    page = (folds_run / "report" / "report.md").read_text()
    assert "validation block (fold) by the interval calibrated on the other blocks" in page and "cross-conformal" in page
    run = read_run(folds_run)
    best = best_trials(run)
    refit = [t for t in run.finals if t.fold == "refit"]
    assert sorted((t.model, t.train["seed"]) for t in refit) == [(m, s) for m in MODELS for s in (0, 1)]
    for t in refit:
        chosen = best[t.model]
        epochs = sorted(int(r.best_epoch) for r in [chosen, *run.finals]
                        if r.model == t.model and r.fold != "refit" and (r.final_of or r.tag) == chosen.tag)
        assert len(epochs) == 4  # two folds x two seeds
        assert t.train["epochs"] == max(1, round(float(np.median(epochs)))) and t.train["keep"] == "last"
        assert [r["epoch"] for r in t.history] == list(range(1, t.train["epochs"] + 1)) and t.status == "finished"
    # the refit's scaler saw the validation rows too: not the run's own
    assert json.loads((folds_run / "scaler-refit.json").read_text()) != json.loads(
        (folds_run / "scaler.json").read_text())


def test_selection_ranks_by_the_geometric_mean_over_folds_and_intervals_see_every_fold(folds_run: Path):
    run = read_run(folds_run)
    data = load_data(run)
    results, notes = score_run(run, data)
    ranking = ranking_table(results, data).set_index("model")
    best = best_trials(run)
    for model in MODELS:
        chosen = best[model]
        last = [chosen.best_val_mse, *(t.best_val_mse for t in run.finals
                                       if t.model == model and t.fold is None)]
        earlier = [t.best_val_mse for t in run.finals if t.model == model and t.fold == 1]
        assert len(last) == len(earlier) == 2
        # the geometric mean of the folds' MSEs (each fold's the mean over its seeds)
        assert ranking.loc[model, "val_mse_mean"] == pytest.approx(np.sqrt(np.mean(last) * np.mean(earlier)))
        assert ranking.loc[model, "folds"] == 2 and bool(ranking.loc[model, "refit"])
        entry = next(r for r in results if r.model == model)
        assert entry.calib_errors is not None and len(entry.calib_errors) > len(data.val)  # both folds' windows
    # the baselines are fitted on each fold too, and the fitted ones refitted like the finalists
    assert ranking.loc["ridge", "folds"] == 2 and ranking.loc["ridge", "refit"]
    assert ranking.loc["theta", "folds"] == 2 and ranking.loc["theta", "refit"]
    assert ranking.loc["persistence", "folds"] == 2 and not ranking.loc["persistence", "refit"]
    assert any("Backtest folds: 2" in n for n in notes)
    assert list(ranking.index) == list(ranking.sort_values("val_mse_mean").index)


def test_the_refit_changes_test_forecasts_only_and_rewriting_test_targets_changes_no_choice(folds_run: Path):
    run = read_run(folds_run)
    data = load_data(run)
    with_refit, _ = score_run(run, data)
    before = ranking_table(with_refit, data).set_index("model")
    without = dataclasses.replace(run, config={**run.config, "report": {**run.config["report"], "final_refit": False}})
    no_refit = ranking_table(score_run(without, data)[0], data).set_index("model")
    validation = ["rank", "val_mse", "val_mse_mean", "val_mse_sd", "folds", "val_mse_fold_sd", "trial_id"]
    pd.testing.assert_frame_equal(before[validation], no_refit.loc[before.index, validation])
    for model in (*MODELS, "ridge"):
        assert before.loc[model, "test_mse"] != pytest.approx(no_refit.loc[model, "test_mse"])
    assert before.loc["persistence", "test_mse"] == no_refit.loc["persistence", "test_mse"]

    loser = before.index[-1]  # make the validation-last entry perfect on test: a choice that read test would flip
    loser_pred = next(r.y_pred for r in with_refit if r.model == loser)
    rewritten = dataclasses.replace(data, test=dataclasses.replace(data.test, y=loser_pred.copy()))
    after = ranking_table(score_run(run, rewritten)[0], rewritten).set_index("model")
    assert after.loc[loser, "test_mse"] == pytest.approx(0.0, abs=1e-10)
    # nothing chosen moves: not the ranking, nor any entry's hyperparameters, nor the ensemble's members and weights
    chosen = [*validation, "hparams"]
    assert "weights=" in before.loc["weighted_ensemble", "hparams"]
    pd.testing.assert_frame_equal(before[chosen], after.loc[before.index, chosen])


def test_the_forecast_comes_from_the_refit_models(folds_run: Path):
    from reports.forecast import forecast

    frame = forecast(folds_run, model="gru_nar_ensemble")
    assert "final refit" in frame.attrs["note"] and len(frame) == 7
    assert np.isfinite(frame.select_dtypes("number").to_numpy()).all()
    # Its intervals are the report's: the same half-width per day ahead and target (calibrated on both folds'
    # out-of-fold errors, real targets only), so the forecast promises what the report measured.
    _assert_widths_are_the_reports(frame, folds_run, "gru_nar_ensemble")


def test_a_classical_forecast_is_calibrated_on_every_fold_like_its_report_entry(folds_run: Path):
    from reports.forecast import forecast

    ranking = pd.read_csv(folds_run / "report" / "ranking.csv").set_index("model")
    assert ranking.loc["theta", "folds"] == 2  # scored (and so calibrated) on both folds' fits
    frame = forecast(folds_run, model="theta")
    assert len(frame) == 7 and np.isfinite(frame.select_dtypes("number").to_numpy()).all()
    assert "final refit" in frame.attrs["note"]  # its point forecast from the refit's fits, as the report's test
    _assert_widths_are_the_reports(frame, folds_run, "theta")



def test_a_repaired_value_reaches_no_classical_future_forecast_whatever_the_repair_wrote(folds_run: Path,
                                                                                          tmp_path: Path):
    """The forecast command's classical history reads a repaired cell as missing, as the scored forecasts do: the
    sweep's data with a garbage last value forecasts the same whether the repair carried the last good value
    forward, clipped it, or kept it (policy keep: 1e4 stays in the frame, masked)."""
    from vega_datasets import local_data

    from reports.forecast import forecast

    df = local_data.seattle_weather()  # the sweep's data (the smoke profile's embedded source), as a file
    df.loc[len(df) - 1, "temp_max"] = 1e4  # the last day: the one the next steps follow
    path = tmp_path / "newer.csv"
    df.assign(date=df["date"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
    frames = {policy: forecast(folds_run, "theta", [f"data.path={path}", f"data.outlier_policy={policy}"])
              for policy in ("ffill", "clip", "keep")}
    assert np.isfinite(frames["keep"].select_dtypes("number").to_numpy()).all()
    pd.testing.assert_frame_equal(frames["ffill"], frames["clip"])
    pd.testing.assert_frame_equal(frames["ffill"], frames["keep"])


def _assert_widths_are_the_reports(frame: pd.DataFrame, run: Path, model: str) -> None:
    """The forecast's interval widths per day ahead and target are those the report's rule gives `model` at the
    forecast's own origin (its first date): the weighted conformal quantile of the entry's out-of-fold errors as
    the report keeps them (out_of_fold.parquet, original units), by time of year where the folds span a year; below
    the forecast, a target with a floor of zero stops at it (reports/floors.py)."""
    from reports.floors import zero_floored
    from reports.intervals import calibrated_half_width

    data = load_data(read_run(run))
    floored = dict(zip(data.scaler.feature_names[:data.n_targets], zero_floored(data), strict=True))
    oof = pd.read_parquet(run / "report" / "out_of_fold.parquet")
    entry = oof[(oof.model == model) & oof.scored]
    assert entry.fold.nunique() >= 2  # calibrated on every fold, not the last block alone
    origin = np.asarray(pd.to_datetime(frame.date.iloc[:1]), "datetime64[ns]")
    for target, rows in entry.groupby("target"):
        wide = rows.pivot_table(index="forecast_origin", columns="horizon", values="y_pred", aggfunc="first")
        truth = rows.pivot_table(index="forecast_origin", columns="horizon", values="y_true", aggfunc="first")
        errors = (wide - truth).abs().to_numpy()[..., None]
        for level in ("80", "95"):
            half = calibrated_half_width(errors, None, wide.index.to_numpy(), origin, int(level) / 100)[0, :, 0]
            point = frame[target].to_numpy()
            np.testing.assert_allclose(frame[f"{target}_hi{level}"].to_numpy() - point, half, rtol=1e-4, atol=1e-6)
            lower = point - half
            if floored[target]:
                lower = np.maximum(lower, np.minimum(0.0, point))
            np.testing.assert_allclose(frame[f"{target}_lo{level}"].to_numpy(), lower, rtol=1e-4, atol=1e-6)


def test_an_unfinished_refit_or_fold_leaves_a_report_that_says_so(folds_run: Path, tmp_path: Path):
    import shutil

    from reports.build import build_report

    copy = tmp_path / "folds"
    shutil.copytree(folds_run, copy)
    run = read_run(copy)
    # as if the driver had died before these ran: gru_nar's seed-1 refit and both of its fold-1 trials
    gone = [t for t in run.finals if t.model == "gru_nar"
            and (t.fold == 1 or (t.fold == "refit" and t.train["seed"] == 1))]
    assert len(gone) == 3
    for t in gone:
        (copy / "trials" / f"{t.model}_{t.trial_id}.json").unlink()
    phases = json.loads((copy / "phases.json").read_text())
    del phases["refit"]
    (copy / "phases.json").write_text(json.dumps(phases))
    ranking = build_report(copy, quiet=True).ranking.set_index("model")
    page = (copy / "report" / "report.md").read_text()
    assert "The final refit has not finished" in page and "gru_nar (1)" in page
    assert not ranking.loc["gru_nar", "refit"] and ranking.loc["gru_nar", "folds"] == 1
    assert ranking.loc["lstm_nar", "refit"] and ranking.loc["lstm_nar", "folds"] == 2


class _FittedDrift(Fitted):
    """The drift method: the last value plus the input window's average step, continued over the horizon."""

    def __init__(self, data):
        self.data, self.notes = data, []

    def _drift(self, x: np.ndarray) -> np.ndarray:
        k, steps = self.data.n_targets, np.arange(1, self.data.n_outputs + 1)
        last, slope = x[:, -1, :k], (x[:, -1, :k] - x[:, 0, :k]) / (x.shape[1] - 1)
        return (last[:, None, :] + steps[None, :, None] * slope[:, None, :]).astype(np.float32)

    def predict(self, split: str) -> Forecast:
        return Forecast(self._drift(self.data.split(split).x))

    def describe(self) -> Description:
        return Description("drift", "baseline", "naive")

    def forecast_future(self, inputs: FutureInputs) -> np.ndarray:
        return self._drift(inputs.in_units(self.data.scaler, self.data.n_future)[0])


class _Drift(Forecaster):
    name = "drift"

    def fit(self, span: Span) -> Fitted:
        return _FittedDrift(span.data)


def test_an_entry_defined_in_a_test_is_backtested_refit_ranked_calibrated_and_forecast(folds_run: Path,
                                                                                         tmp_path: Path):
    """Adding a model is one class and one line (register): nothing in reports/ names it, yet it is fitted on every
    fold and on the refit, ranked, calibrated, written to predictions.parquet and forecasts the future."""
    import shutil

    from models.forecasters import register, unregister
    from reports.build import build_report
    from reports.forecast import forecast

    copy = tmp_path / "folds"
    shutil.copytree(folds_run, copy)
    register("drift", lambda ctx: [_Drift()])
    try:
        ranking = build_report(copy, quiet=True).ranking.set_index("model")
        frame = forecast(copy, model="drift")
    finally:
        unregister("drift")
    drift = ranking.loc["drift"]
    assert drift.folds == 2 and drift.refit and drift.kind == "baseline"  # both folds, then the refit
    assert 0.0 < drift.coverage_80 <= 1.0 and np.isfinite(drift.test_mse)
    preds = pd.read_parquet(copy / "report" / "predictions.parquet")
    assert {"lo80", "hi80"} <= set(preds.columns) and (preds.model == "drift").any()
    assert "final refit" in frame.attrs["note"] and len(frame) == 7
    _assert_widths_are_the_reports(frame, copy, "drift")
    # its validation MSE on the run's own block is what the test computes from the windows itself
    data = load_data(read_run(copy))
    own = _FittedDrift(data).predict("val").point
    from models.metrics import score_split

    assert drift.val_mse == pytest.approx(score_split(own, data.val, data)["mse"], rel=1e-6)
    assert drift.val_mse_mean != drift.val_mse  # ranked by the mean over both folds, not the last block alone


def test_the_weighted_ensemble_is_chosen_out_of_fold_kept_with_its_forecasts_and_forecasts(folds_run: Path):
    """Every entry's validation forecasts of both folds are kept (out_of_fold.parquet); the ensemble's validation
    score on each fold is that of weights chosen on the other fold, recomputed here from those files alone."""
    from models.forecasters.ensemble import FoldTargets, greedy_weights
    from reports.forecast import forecast

    ranking = pd.read_csv(folds_run / "report" / "ranking.csv").set_index("model")
    entry = ranking.loc["weighted_ensemble"]
    assert entry.folds == 2 and entry.kind == "ensemble" and "weights=" in entry.hparams
    oof = pd.read_parquet(folds_run / "report" / "out_of_fold.parquet")
    members = sorted(set(oof[oof.model != "weighted_ensemble"].model))
    assert set(oof.model) == set(ranking.index) and set(oof.fold) == {1, 2}
    # rebuild each fold's validation targets and every member's forecasts, in scaled units via the run's data
    run = read_run(folds_run)
    data = load_data(run)
    from reports.folds import fold_datasets

    blocks = {1: fold_datasets(run, data)[1], 2: data}
    complete = [m for m in members if set(oof[oof.model == m].fold) == {1, 2}]

    def scaled(model: str, fold: int) -> np.ndarray:
        d = blocks[fold]
        rows = oof[(oof.model == model) & (oof.fold == fold)]
        original = rows.y_pred.to_numpy().reshape(d.val.y.shape)
        return d.scaler.transform(original, d.val.series, slice(0, d.n_targets)).astype(np.float32)

    targets = {f: FoldTargets(d.val.y, d.val.score_weights()) for f, d in blocks.items()}
    for fold, other in ((1, 2), (2, 1)):
        w = greedy_weights([[scaled(m, other)] for m in complete], [targets[other]], 20)
        combined = sum(wi * scaled(m, fold) for wi, m in zip(w, complete, strict=True) if wi > 0)
        own = scaled("weighted_ensemble", fold)
        np.testing.assert_allclose(own, combined, rtol=2e-3, atol=2e-3)
    frame = forecast(folds_run, model="weighted_ensemble")
    assert len(frame) == 7 and np.isfinite(frame.select_dtypes("number").to_numpy()).all()
    _assert_widths_are_the_reports(frame, folds_run, "weighted_ensemble")


def test_intervals_are_calibrated_by_time_of_year_as_the_season_benchmark_measures(folds_run: Path, tmp_path: Path):
    """The folds' origins span more than a year, so the report weighs each out-of-fold error by time of year and
    says so; benchmarks/calibration_season.py's "time of year" rule gives every entry the coverage the report
    shows, and weighing every error alike (the rule before) gives other intervals."""
    import importlib.util

    page = (folds_run / "report" / "report.md").read_text()
    assert "(cross-conformal, weighted by time of year)" in page and "weighted conformal quantile" in page
    spec = importlib.util.spec_from_file_location("calibration_season",
                                                  Path(__file__).resolve().parents[1] / "benchmarks" /
                                                  "calibration_season.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "season.json"
    bench.main([str(folds_run), "--out", str(out)])
    measured = json.loads(out.read_text())["runs"][folds_run.name]["entries"]["0.8"]
    ranking = pd.read_csv(folds_run / "report" / "ranking.csv").set_index("model")
    assert set(measured["time of year"]) == set(ranking.index)  # every entry was backtested
    for model, scores in measured["time of year"].items():
        assert scores["coverage"] == pytest.approx(ranking.loc[model, "coverage_80"], abs=1e-9), model
    assert any(measured["every error"][m]["winkler_scaled"] != s["winkler_scaled"]
               for m, s in measured["time of year"].items())


def test_the_fold_aggregation_benchmarks_geometric_rule_is_the_reports(folds_run: Path, tmp_path: Path):
    """benchmarks/fold_aggregation.py's "geometric" rule reproduces the report: every entry's validation score
    (the ensemble's out of fold too), the chosen entry and the ensemble's test score; the arithmetic mean, the rule
    before, scores the entries otherwise."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fold_aggregation", Path(__file__).resolve().parents[1] /
                                                  "benchmarks" / "fold_aggregation.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "fold_aggregation.json"
    bench.main([str(folds_run), "--out", str(out)])
    measured = json.loads(out.read_text())["runs"][folds_run.name]["rules"]
    ranking = pd.read_csv(folds_run / "report" / "ranking.csv").set_index("model")
    geometric = measured["geometric"]
    assert set(geometric["validation"]) == set(ranking.index)
    for model, score in geometric["validation"].items():
        assert score == pytest.approx(ranking.loc[model, "val_mse_mean"], rel=1e-6), model
    assert geometric["chosen"] == ranking.index[0]
    assert geometric["test"]["weighted_ensemble"] == pytest.approx(ranking.loc["weighted_ensemble", "test_mse"],
                                                                   rel=1e-5)
    assert any(measured["arithmetic"]["validation"][m] != pytest.approx(s, rel=1e-6)
               for m, s in geometric["validation"].items())
