"""Selection never reads test: on a real sweep with several trials per model, rewriting the test targets changes
test figures only; the chosen trials, every validation figure, the ranks and the winner stay as they were."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import sweep_argv

from reports.build import load_data, score_run
from reports.runs import best_trials, read_run
from reports.scoring import ranking_table
from sweeps.run_all import main

pytestmark = pytest.mark.slow
MULTI = ("models.gru_nar.hidden_size={grid: [8, 16]}", "models.lstm_nar.hidden_size={grid: [8, 16]}",
         "sweep.final_seeds=1")


@pytest.fixture(scope="module")
def multi_run(ray_session, tmp_path_factory, data_cache) -> Path:
    """Two architectures, two grid points each, two epochs: more than one trial per model to choose from."""
    from vega_datasets import local_data

    runs = tmp_path_factory.mktemp("runs")
    csv = runs / "weather.csv"
    local_data.seattle_weather().to_csv(csv, index=False)
    argv = sweep_argv(runs, "multi", data_cache, f"data.path={csv}", "--models", "gru_nar,lstm_nar",
                      "--wandb-mode", "disabled", *MULTI)
    assert main(argv) == 0
    return runs / "multi"


def test_rewriting_test_targets_changes_no_choice_and_no_validation_figure(multi_run: Path):
    run = read_run(multi_run)
    assert all(sum(t.model == m for t in run.trials) == 2 for m in ("gru_nar", "lstm_nar"))
    data = load_data(run)
    results, _ = score_run(run, data)
    before = ranking_table(results, data).set_index("model")

    # Make the validation-last entry perfect on test: any choice that read test would now pick it.
    loser = before.index[-1]
    loser_pred = next(r.y_pred for r in results if r.model == loser)
    rewritten = dataclasses.replace(data, test=dataclasses.replace(data.test, y=loser_pred.copy()))
    after_results, _ = score_run(run, rewritten)
    after = ranking_table(after_results, rewritten).set_index("model")

    assert after.loc[loser, "test_mse"] == pytest.approx(0.0, abs=1e-10)
    assert not np.allclose(before.test_mse, after.loc[before.index, "test_mse"])
    assert list(after.index) == list(before.index)  # same order, same winner
    validation = ["rank", "val_mse", "val_mse_mean", "val_mse_sd", "seeds", "trial_id", "hparams"]
    assert set(before.seeds) == {1, 2}  # the seed repeats are part of what selection compares
    pd.testing.assert_frame_equal(before[validation], after.loc[before.index, validation])
    assert {m: t.trial_id for m, t in best_trials(run).items()} == {
        m: before.loc[m, "trial_id"] for m in ("gru_nar", "lstm_nar")}


def test_report_headline_console_and_forecast_name_the_validation_winner(multi_run: Path, capsys):
    from reports.build import build_report
    from reports.forecast import main as forecast_main

    report = build_report(multi_run)
    ranking = pd.read_csv(multi_run / "report" / "ranking.csv")
    assert ranking.val_mse_mean.is_monotonic_increasing
    assert list(ranking["rank"]) == list(range(1, len(ranking) + 1))
    winner = ranking.model.iloc[0]
    page = (multi_run / "report" / "report.md").read_text()
    assert f"Chosen on validation: {winner}" in page
    assert "best on test" not in page.lower()
    assert f"Chosen on validation: {winner}" in capsys.readouterr().out
    assert report.ranking_rows[0]["model"] == winner
    assert forecast_main([str(multi_run)]) == 0
    # every ranked entry forecasts (models.forecasters): the forecast is the validation winner's, whatever its kind
    assert f"Forecast by {winner} " in capsys.readouterr().out


def test_changed_data_is_refused_by_a_resumed_sweep_and_a_rebuilt_report(multi_run: Path, data_cache: Path,
                                                                         capsys):
    from reports.build import build_report
    from reports.runs import RunDirError

    csv = multi_run.parent / "weather.csv"
    original = csv.read_bytes()
    frame = pd.read_csv(csv)
    frame.loc[len(frame) - 1, "wind"] += 1.0  # one value on the last (test) day: the scaler would not notice
    frame.to_csv(csv, index=False)
    try:
        with pytest.raises(RunDirError, match=f"{csv}.*has changed"):
            build_report(multi_run, quiet=True)
        argv = sweep_argv(multi_run.parent, "multi", data_cache, f"data.path={csv}", "--models", "gru_nar,lstm_nar",
                          "--wandb-mode", "disabled", *MULTI)
        assert main(argv) == 2
        assert f"{csv} has changed" in capsys.readouterr().err
    finally:
        csv.write_bytes(original)
    build_report(multi_run, quiet=True)


def test_seed_repeats_of_each_best_configuration_are_ranked_with_their_ensemble(multi_run: Path):
    run = read_run(multi_run)
    best = best_trials(run)
    assert sorted((t.model, t.final_of, t.train["seed"], t.status) for t in run.finals) == [
        ("gru_nar", best["gru_nar"].tag, 1, "finished"), ("lstm_nar", best["lstm_nar"].tag, 1, "finished")]
    assert json.loads((multi_run / "phases.json").read_text()).keys() == {"search", "finals"}
    ranking = pd.read_csv(multi_run / "report" / "ranking.csv").set_index("model")
    for model in ("gru_nar", "lstm_nar"):
        repeat = next(t for t in run.finals if t.model == model)
        row = ranking.loc[model]
        assert row.seeds == 2
        assert row.val_mse_mean == pytest.approx((best[model].best_val_mse + repeat.best_val_mse) / 2)
        assert row.val_mse_sd == pytest.approx(abs(best[model].best_val_mse - repeat.best_val_mse) / 2 ** 0.5)
        assert f"{model}_ensemble" in ranking.index
    preds = pd.read_parquet(multi_run / "report" / "predictions.parquet")
    assert {"gru_nar_ensemble", "lstm_nar_ensemble"} <= set(preds.model)
    for col in ("val_mse_mean", "val_mse_sd", "test_mse_mean", "test_mse_sd", "seeds", "tied_with_winner",
                "vs_ridge_ci_low", "vs_ridge_ci_high"):
        assert col in ranking.columns
