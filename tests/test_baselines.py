"""Seasonal naive and climatology against hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from data_pipeline import Scaler, SplitWindows, WindowedData
from models import build, predict
from models.baselines import (
    climatology_applies,
    climatology_forecast,
    default_season,
    fit_climatology,
)


@pytest.mark.parametrize("freq,season", [("D", 7), ("W-SUN", 52), ("h", 24), ("MS", 12), ("ME", 12), ("QS-JAN", 4),
                                         ("QE-DEC", 4), ("QS-OCT", 4), ("2D", None), ("YS", None)])
def test_season_follows_the_data_frequency(freq, season):
    assert default_season(freq) == season


def test_seasonal_naive_repeats_the_value_one_season_back():
    x = torch.arange(10, dtype=torch.float32).view(1, 10, 1)  # inputs 0..9, the last observed value is 9
    naive = build("seasonal_naive", n_features=1, n_targets=1, n_inputs=10, n_outputs=5, season=3)
    # h=1..3 are 3 steps back from days 10..12 -> 7, 8, 9; h=4..5 are 6 steps back -> 7, 8
    assert predict(naive, x.numpy())[0, :, 0].tolist() == [7, 8, 9, 7, 8]
    with pytest.raises(ValueError, match="baselines.season"):
        build("seasonal_naive", n_features=1, n_targets=1, n_inputs=5, n_outputs=2, season=7)


def test_climatology_is_the_training_mean_of_the_same_day_of_year():
    dates = pd.date_range("2019-01-01", "2020-12-31", freq="D")  # 2 years, 2020 a leap year
    values = np.stack([np.arange(len(dates), dtype=float), np.full(len(dates), 5.0)], 1)
    assert climatology_applies(dates, "D") is None
    clim = fit_climatology(dates, values, "D")
    out = climatology_forecast(clim, pd.DatetimeIndex(["2021-03-01", "2021-01-01", "2024-02-29"]))
    mar1 = (dates.get_loc(pd.Timestamp("2019-03-01")) + dates.get_loc(pd.Timestamp("2020-03-01"))) / 2
    assert out[0, 0] == pytest.approx(mar1) and out[1, 0] == pytest.approx((0 + 365) / 2)
    # 29 Feb shares 28 Feb's bucket: the mean of 2019-02-28, 2020-02-28 and 2020-02-29
    feb = [dates.get_loc(pd.Timestamp(d)) for d in ("2019-02-28", "2020-02-28", "2020-02-29")]
    assert out[2, 0] == pytest.approx(np.mean(feb))
    assert np.all(out[:, 1] == 5.0)


def test_climatology_needs_two_years_of_daily_weekly_or_monthly_data():
    assert "1.0 years" in climatology_applies(pd.date_range("2019-01-01", periods=366, freq="D"), "D")
    assert "not daily" in climatology_applies(pd.date_range("2019-01-01", periods=24 * 800, freq="h"), "h")
    weeks = pd.date_range("2015-01-04", periods=200, freq="W-SUN")
    clim = fit_climatology(weeks, np.arange(200.0)[:, None], "W-SUN")
    week10 = [i for i, d in enumerate(weeks) if d.isocalendar().week == 10]
    assert climatology_forecast(clim, pd.DatetimeIndex([pd.Timestamp("2030-03-10")]))[0, 0] == pytest.approx(
        np.mean(week10))


def test_both_baselines_enter_the_ranking_scored_like_every_model():
    from reports.evaluate import baseline_scores
    from reports.scoring import ranking_table

    dates = pd.date_range("2018-01-01", periods=1200, freq="D")
    rng = np.random.default_rng(0)
    series = np.sin(2 * np.pi * dates.day_of_year.to_numpy() / 365.25) + 0.1 * rng.normal(size=len(dates))

    def split(lo: int, hi: int) -> SplitWindows:
        origins = np.arange(lo + 14, hi - 3 + 1)
        x = np.stack([series[o - 14:o] for o in origins])[..., None].astype(np.float32)
        y = np.stack([series[o:o + 3] for o in origins])[..., None].astype(np.float32)
        return SplitWindows(x, y, dates.to_numpy()[origins])

    scaler = Scaler("standard", ["t"], np.zeros(1), np.ones(1))
    data = WindowedData(split(0, 900), split(900, 1050), split(1050, 1200), ["t"], ["t"], scaler, 14, 3,
                        {"frequency": "D"})
    results, notes = baseline_scores(data)
    assert notes == []
    by_name = {r.model: r for r in results}
    assert set(by_name) == {"persistence", "ridge", "seasonal_naive", "climatology"}
    # hand computation of climatology's test forecast: the mean for each (month, day) of the training days that
    # are some training window's target (from day 14: the first 14 are inputs only), where 29 Feb 2020 joins 28 Feb
    train_days = pd.Series(series[14:900], index=dates[14:900])
    key = train_days.index.month * 100 + np.minimum(train_days.index.day, np.where(train_days.index.month == 2, 28, 31))
    means = train_days.groupby(key).mean()
    test_dates = pd.DatetimeIndex(data.test.origin)
    expected = np.stack([means.loc[(test_dates + pd.Timedelta(days=h)).month * 100
                                   + (test_dates + pd.Timedelta(days=h)).day].to_numpy() for h in range(3)], 1)
    np.testing.assert_allclose(by_name["climatology"].y_pred[..., 0], expected, rtol=1e-5)
    np.testing.assert_allclose(by_name["seasonal_naive"].y_pred[:, :, 0], data.test.x[:, [7, 8, 9], 0])
    table = ranking_table(results, data).set_index("model")
    assert table.loc["climatology", "test_mse"] == pytest.approx(np.mean((expected - data.test.y[..., 0]) ** 2),
                                                                 rel=1e-5)
    assert table.loc["climatology", "test_mse"] < table.loc["persistence", "test_mse"]  # a seasonal series
