"""The report's figures follow the series' own frequency: hourly, weekly and monthly data plot on their dates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data
from reports import figures
from reports.evaluate import baseline_scores


@pytest.mark.parametrize(("freq", "step"), [("h", "hour"), ("W-SUN", "week"), ("MS", "month"), ("D", "day")])
def test_forecast_figures_put_each_window_on_its_own_dates(freq: str, step: str, tmp_path: Path):
    dates = pd.date_range("2001-01-07", periods=300, freq=freq)
    t = np.arange(len(dates))
    frame = pd.DataFrame({"date": dates, "load": 10 + np.sin(t / 5) + 0.01 * t, "temp": np.cos(t / 7)})
    frame.to_csv(tmp_path / "series.csv", index=False)
    data = build_windowed_data(DataConfig(path=str(tmp_path / "series.csv"), cache_dir=str(tmp_path / "cache")),
                               WindowConfig(input=8, output=3), SplitConfig())
    assert pd.tseries.frequencies.to_offset(data.summary["frequency"]) == pd.tseries.frequencies.to_offset(freq)

    # The dates a window is drawn on hold exactly the values it forecasts and the values it saw.
    by_date = frame.set_index("date")
    w = len(data.test) // 2
    past, future = figures.window_dates(pd.Timestamp(data.test.origin[w]), data.n_inputs, data.n_outputs,
                                        data.summary["frequency"])
    targets = data.targets_to_original(data.test.y[w])
    inputs = data.scaler.inverse(data.test.x[w])
    for j, name in enumerate(data.target_names):
        np.testing.assert_allclose(by_date.loc[future, name].to_numpy(), targets[:, j], rtol=1e-5)
        np.testing.assert_allclose(by_date.loc[past, name].to_numpy(), inputs[:, j], rtol=1e-5)

    results, _ = baseline_scores(data)  # (scores, notes on baselines that do not apply)
    assert figures.forecast_examples(results, data, tmp_path).stat().st_size > 0
    assert figures.step_name(data.summary["frequency"]) == step
