"""Known-future inputs: the calendar values of each window's forecast days reach the decoders, and nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data, future_input
from data_pipeline.calendars import CALENDAR_COLUMNS, calendar_frame
from models import TRAINED_MODELS, TrainConfig, build, evaluate, fit, predict

W = WindowConfig(input=14, output=5)


def _csv(tmp_path, name="s.csv", bump=0.0, n=400):
    t = np.arange(n)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "date": pd.date_range("2021-01-01", periods=n, freq="D"),
        "load": 0.05 * t + np.sin(2 * np.pi * t / 7) + 0.1 * rng.standard_normal(n) + bump * (t % 3),
        "temp": np.cos(2 * np.pi * t / 365) + 0.1 * rng.standard_normal(n),
    })
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _data(tmp_path, path, calendar=True, cache=False):
    cfg = DataConfig(path=str(path), targets=["load"], calendar_features=calendar, cache_dir=str(tmp_path / "c"))
    return build_windowed_data(cfg, W, SplitConfig(), cache=cache)


def test_future_holds_the_scaled_calendar_values_of_the_target_days(tmp_path):
    wd = _data(tmp_path, _csv(tmp_path))
    assert wd.future_names == list(CALENDAR_COLUMNS) and wd.shapes["n_future"] == 4
    cols = [wd.feature_names.index(c) for c in CALENDAR_COLUMNS]
    for split in (wd.train, wd.val, wd.test):
        assert split.future.shape == (len(split), 5, 4) and split.future.dtype == np.float32
        days = pd.DatetimeIndex(split.origin).values[:, None] + np.arange(5) * np.timedelta64(1, "D")
        raw = calendar_frame(pd.DatetimeIndex(days.reshape(-1)))[list(CALENDAR_COLUMNS)].to_numpy()
        expected = (raw - wd.scaler.center[cols]) / wd.scaler.scale[cols]
        np.testing.assert_allclose(split.future.reshape(-1, 4), expected, atol=1e-5)
    # the first forecast day is the day after the input window's last day, whose calendar values x holds
    step = (wd.train.future[:-1, 0] - wd.train.x[1:, -1, cols])
    np.testing.assert_allclose(step, 0, atol=1e-6)


def test_future_never_carries_target_values(tmp_path):
    """Other target values, same dates: x and y change, the known-future inputs do not."""
    a = _data(tmp_path, _csv(tmp_path, "a.csv"))
    b = _data(tmp_path, _csv(tmp_path, "b.csv", bump=5.0))
    assert not np.allclose(a.test.y, b.test.y)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(a.split(name).future, b.split(name).future)


def test_calendar_off_keeps_shapes_and_has_no_future(tmp_path):
    wd = _data(tmp_path, _csv(tmp_path), calendar=False)
    assert wd.future_names == [] and wd.shapes["n_future"] == 0
    assert wd.train.x.shape[2] == 2 and wd.train.future.shape == (len(wd.train), 5, 0)


def test_cache_round_trip_keeps_future(tmp_path):
    path = _csv(tmp_path)
    first = _data(tmp_path, path, cache=True)
    again = _data(tmp_path, path, cache=True)
    assert first.summary["cache"] == "miss" and again.summary["cache"] == "hit"
    assert again.future_names == first.future_names
    np.testing.assert_array_equal(again.test.future, first.test.future)


def test_forecast_future_matches_the_windows(tmp_path):
    wd = _data(tmp_path, _csv(tmp_path))
    dates = pd.date_range(pd.Timestamp(wd.test.origin[3]), periods=5, freq="D")
    f = future_input(dates, wd.scaler, wd.future_names)
    np.testing.assert_allclose(f[0], wd.test.future[3], atol=1e-6)


@pytest.mark.parametrize("name", TRAINED_MODELS)
def test_models_train_and_evaluate_with_future(tmp_path, name):
    wd = _data(tmp_path, _csv(tmp_path))
    small = {"d_model": 16, "nhead": 2} if name == "transformer" else {"hidden_size": 16}
    model = build(name, **wd.shapes, seed=0, **small, norm="window", linear_skip=True)
    result = fit(model, wd, TrainConfig(epochs=2, device="cpu"))
    assert np.isfinite(result.best_val_mse)
    ev = evaluate(model, wd.test, wd)
    assert np.isfinite(ev["mse"])
    # the forecast uses the future inputs: other calendar values give another forecast
    other = predict(model, wd.test.x, future=np.roll(wd.test.future, 3, axis=0))
    assert not np.allclose(other, predict(model, wd.test.x, future=wd.test.future))
    with pytest.raises(ValueError, match="known-future"):
        model(torch.as_tensor(wd.test.x[:2]))


@pytest.mark.slow
def test_sweep_report_and_forecast_with_calendar_inputs_and_options(ray_session, tmp_path, data_cache):
    """The whole path: a sweep whose decoders read the calendar, its report, and a forecast of the next days."""
    from conftest import sweep_argv

    from reports.forecast import main as forecast_main
    from sweeps.run_all import main

    runs = tmp_path / "runs"
    argv = sweep_argv(runs, "cal", data_cache, "data.calendar_features=true", "--models", "gru_ar,transformer",
                      "models.gru_ar.norm=revin", "models.gru_ar.linear_skip=true", "models.transformer.norm=window",
                      "--wandb-mode", "disabled")
    assert main(argv) == 0
    ranking = pd.read_csv(runs / "cal" / "report" / "ranking.csv")
    assert {"gru_ar", "transformer", "ridge", "persistence"} <= set(ranking.model)
    assert "norm=revin" in ranking.set_index("model").hparams["gru_ar"]
    assert forecast_main([str(runs / "cal"), "--model", "gru_ar"]) == 0
    frame = pd.read_csv(runs / "cal" / "forecast.csv")
    assert len(frame) == 7 and frame.drop(columns="date").notna().all().all()
