"""The embedded panel end to end on a real local Ray: a smoke sweep of all five architectures trained globally on
24 series, its report (aggregate and per-series rankings, MASE, best/worst figure, ids in the predictions) and a
forecast with one block of rows per series."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FIVE, REPO, sweep_argv

from reports.forecast import forecast
from sweeps.run_all import main

pytestmark = pytest.mark.slow
PANEL = str(REPO / "sweeps" / "configs" / "panel.yaml")


@pytest.fixture(scope="module")
def panel_run(ray_session, tmp_path_factory, data_cache) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    # Theta alone of the classical models: it runs the panel path (per-series fits and scalers) in seconds; ETS and
    # ARIMA on these 24 daily series cost minutes of statsmodels fitting (README, classical baselines). One epoch per
    # trial: nothing below depends on how well the networks trained, only on the panel's plumbing and report.
    assert main(sweep_argv(runs, "panel", data_cache, "--config", PANEL, "--wandb-mode", "disabled",
                           "baselines.classical=[theta]", "train.epochs=1")) == 0
    return runs / "panel"


def test_panel_smoke_sweep_ranks_over_series(panel_run: Path):
    summary = json.loads((panel_run / "data_summary.json").read_text())
    assert summary["series"]["count"] == 24 and len(summary["series"]["names"]) == 24
    ranking = pd.read_csv(panel_run / "report" / "ranking.csv")
    assert set(FIVE) <= set(ranking.model) and {"ridge", "seasonal_naive", "persistence"} <= set(ranking.model)
    assert "climatology" not in set(ranking.model) and "chronos2_zeroshot" not in set(ranking.model)
    assert "theta" in set(ranking.model) and "ets" not in set(ranking.model)  # baselines.classical chooses
    assert "classical_combo" not in set(ranking.model)  # a mean of one model would be that model again
    assert ranking.test_mase.notna().all() and (ranking.test_mase > 0).all()
    # the aggregate is the mean over series of each series' own score
    per_series = pd.read_csv(panel_run / "report" / "series.csv")
    assert len(per_series) == 24 and per_series.windows.sum() == summary["windows"]["test"]
    by_model = ranking.set_index("model")
    for name in ("ridge", "seasonal_naive"):
        assert by_model.loc[name, "test_mse"] == pytest.approx(per_series[f"{name} MSE"].mean(), rel=1e-9)
        assert by_model.loc[name, "test_mase"] == pytest.approx(per_series[f"{name} MASE"].mean(), rel=1e-9)
    report = (panel_run / "report" / "report.md").read_text()
    assert "Per series (test)" in report and "series_best_worst.png" in report
    assert (panel_run / "report" / "figures" / "series_best_worst.png").stat().st_size > 0
    assert "Chronos-2 skipped" in (panel_run / "skipped.json").read_text()


def test_panel_predictions_name_the_series(panel_run: Path):
    preds = pd.read_parquet(panel_run / "report" / "predictions.parquet")
    assert preds.columns[0] == "series" and preds.series.nunique() == 24
    one = preds[(preds.model == "persistence") & (preds.horizon == 1)]
    # persistence repeats each series' own last value: forecasts of one series stay on that series' level
    levels = one.groupby("series").y_true.mean()
    preds_levels = one.groupby("series").y_pred.mean()
    assert np.corrcoef(levels, preds_levels)[0, 1] > 0.99 and levels.max() / levels.min() > 10


def test_panel_forecast_writes_one_block_per_series(panel_run: Path):
    frame = forecast(panel_run, model="gru_nar")
    assert list(frame.columns[:3]) == ["series", "date", "value"]
    assert frame.series.nunique() == 24 and len(frame) == 24 * 7
    assert (frame.groupby("series").date.min() == pd.Timestamp("2022-01-01").date()).all()
    assert (frame.value_lo80 <= frame.value).all() and (frame.value <= frame.value_hi80).all()
    # each block is on its own series' scale
    last = pd.read_parquet(panel_run / "report" / "predictions.parquet").groupby("series").y_true.mean()
    assert np.corrcoef(frame.groupby("series").value.mean().loc[last.index], last)[0, 1] > 0.9
