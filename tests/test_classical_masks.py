"""Classical fits honour the mask: a masked (missing or repaired) cell shapes no fitted parameter and no forecast.

Each test plants a huge value in masked cells and compares with the same series holding a plausible value there:
the forecasts must not move. The controls show the same planted values move them when nothing is masked, so the
tests can fail. Forecasts from an origin still read nothing at or after it where masked cells are filled.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data
from data_pipeline.types import Scaler, WindowedData
from data_pipeline.windows import make_windows
from models.classical import forecast_with_quantiles, series_history
from models.classical_series import (
    fit_and_forecast,
    fit_masked,
    masked_history,
    masked_note,
    na_interp,
    observed_history,
)
from models.forecasters.classical_fits import classical_runs, data_key

N, N_IN, N_OUT = 420, 14, 7
N_TRAIN, N_VAL_END = 294, 357  # 70% / 85%
PLANTED = 1e4
TRAIN_CELLS = (60, 61, 150, 230)  # after the first window's inputs: rows a window's targets cover
LATER_CELLS = (N_TRAIN + 5, N_VAL_END + 3)  # one validation row, one test row


def _series(seed: int = 0) -> np.ndarray:
    """A positive daily series with a weekly season and a trend: every ETS form is a candidate."""
    rng = np.random.default_rng(seed)
    t = np.arange(N, dtype=np.float64)
    return 20 + 0.02 * t + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.4, N)


def _windowed(values: np.ndarray, observed: np.ndarray | None, center: float, scale: float) -> WindowedData:
    """Stride-1 windows of one target, split 70/15/15 (validation and test inputs reach back), with the mask the
    data pipeline would give it; the scaler is fixed, as the pipeline fits it on repaired values."""
    scaler = Scaler("standard", ["y"], np.array([center]), np.array([scale]))
    scaled = scaler.transform(values[:, None])
    dates = pd.date_range("2020-01-01", periods=N, freq="D")
    obs = None if observed is None else observed[:, None]

    def split(first: int, stop: int):
        return make_windows(scaled, dates, np.arange(first, stop - N_OUT + 1), N_IN, N_OUT, 1, None, obs)

    return WindowedData(split(N_IN, N_TRAIN), split(N_TRAIN, N_VAL_END), split(N_VAL_END, N), ["y"], ["y"], scaler,
                        N_IN, N_OUT, summary={"frequency": "D"})


@pytest.fixture(scope="module")
def variants() -> dict[str, WindowedData]:
    """The same series with its masked cells plausible, or huge; and huge with nothing masked (the control)."""
    plausible = _series()
    huge = plausible.copy()
    cells = list(TRAIN_CELLS + LATER_CELLS)
    huge[cells] = PLANTED
    observed = np.ones(N, bool)
    observed[cells] = False
    center, scale = plausible[:N_TRAIN].mean(), plausible[:N_TRAIN].std()
    return {"plausible": _windowed(plausible, observed, center, scale),
            "huge": _windowed(huge, observed, center, scale),
            "unmasked": _windowed(huge, None, center, scale)}


def test_the_mask_lines_up_with_the_series(variants):
    data = variants["huge"]
    hist = series_history(data, 0)
    observed = observed_history(data, 0, hist)[:, 0]
    assert sorted(np.flatnonzero(~observed)) == sorted(TRAIN_CELLS + LATER_CELLS)
    # and the masked cells are the planted ones
    assert np.all(data.scaler.inverse(hist.values, slice(0, 1))[~observed, 0] == pytest.approx(PLANTED))


@pytest.mark.parametrize("model", ["ets", "theta", "arima"])
def test_a_masked_value_changes_no_classical_forecast(variants, model):
    runs = {name: classical_runs(d, [model], None, quiet=True, n_jobs=1) for name, d in variants.items()}
    (plausible,), notes = runs["plausible"]
    assert notes == []
    (huge,), _ = runs["huge"]
    for a, b in ((plausible.val_pred, huge.val_pred), (plausible.test_pred, huge.test_pred),
                 (plausible.val_quantiles, huge.val_quantiles), (plausible.test_quantiles, huge.test_quantiles)):
        np.testing.assert_array_equal(a, b)
    assert plausible.fits[0].form == huge.fits[0].form
    spec = huge.fits[0].spec
    assert spec["masked_training_cells"] == len(TRAIN_CELLS)
    assert spec["masked_as"] == ("missing" if model == "arima" else "seasonal (STL, m=7)")
    # the control: read as an observation, the planted value moves the forecasts far
    unmasked = runs["unmasked"][0]
    moved = [np.nanmax(np.abs(r.val_pred - plausible.val_pred)) for r in unmasked]
    assert not unmasked or min(moved) > 0.5, moved  # scaled units: the series' sd is 1


def test_forecasts_read_nothing_at_or_after_their_origin_where_cells_are_masked():
    values = _series(1)
    observed = np.ones(N, bool)
    observed[[100, N_TRAIN + 2, N_TRAIN + 9, N_TRAIN + 20]] = False
    origin = N_TRAIN + 10  # two masked cells before it, one after
    origins = np.array([N_TRAIN + 1, origin])
    later = values.copy()
    later[origin:] += np.random.default_rng(2).normal(0, 5, N - origin)
    later[N_TRAIN + 20] = PLANTED
    for model in ("ets", "theta", "arima"):
        fit = fit_masked(model, values[:N_TRAIN], observed[:N_TRAIN], 7)  # the training rows are the same
        a, b = (forecast_with_quantiles(fit, masked_history(fit, v, observed, N_TRAIN, 7), origins, N_OUT,
                                        (0.1, 0.9)) for v in (values, later))
        np.testing.assert_array_equal(a[0], b[0], err_msg=model)
        np.testing.assert_array_equal(a[1], b[1], err_msg=model)
        assert not np.allclose(masked_history(fit, values, observed, N_TRAIN, 7)[origin:],
                               masked_history(fit, later, observed, N_TRAIN, 7)[origin:], equal_nan=True)


def test_arima_reads_masked_cells_as_missing_in_statsmodels_own_filter():
    from statsmodels.tsa.arima.model import ARIMA

    values = _series(3)
    observed = np.ones(N, bool)
    observed[[40, 41, N_TRAIN + 3]] = False
    origin = N_TRAIN + 8
    point, _, fit = fit_and_forecast("arima", values, observed, N_TRAIN, np.array([origin]), N_OUT, 7, None, ())
    s = fit.spec
    with_nan = np.where(observed, values, np.nan)[:origin]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ARIMA(with_nan, order=s["order"], seasonal_order=s["seasonal_order"], trend=s["trend"])
        direct = model.filter(s["params"]).get_forecast(N_OUT)
    np.testing.assert_allclose(point[0], direct.predicted_mean, rtol=1e-9)


def test_na_interp_is_linear_without_a_season_and_follows_the_season_with_one():
    t = np.arange(200, dtype=np.float64)
    line = 3.0 + 0.5 * t
    observed = np.ones(200, bool)
    observed[[0, 1, 50, 51, 52, 199]] = False
    filled, how = na_interp(np.where(observed, line, PLANTED), observed)
    assert how == "linear"
    np.testing.assert_allclose(filled[50:53], line[50:53])
    assert filled[0] == filled[1] == line[2] and filled[199] == line[198]  # constant beyond the ends (rule = 2)
    # a weekly season with its peaks masked: linear interpolation cuts them off, the seasonal fill restores them
    seasonal = 10 + 0.05 * t + 4 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(0).normal(0, 0.1, 200)
    peaks = np.flatnonzero(np.sin(2 * np.pi * t / 7) > 0.9)[3:12]
    observed = np.ones(200, bool)
    observed[peaks] = False
    garbage = np.where(observed, seasonal, PLANTED)
    by_season, how = na_interp(garbage, observed, (7,))
    linear, _ = na_interp(garbage, observed)
    assert how == "seasonal (STL, m=7)"
    season_error = np.abs(by_season[peaks] - seasonal[peaks]).max()
    assert season_error < 0.5 < np.abs(linear[peaks] - seasonal[peaks]).max()
    np.testing.assert_array_equal(by_season[observed], seasonal[observed])


def test_a_repair_by_the_data_pipeline_reaches_the_classical_fits(tmp_path: Path):
    """End to end: a garbage value in a file is repaired and masked by the pipeline; the fits read the mask and say
    so, and the cache key tells the masked windows from the same windows unmasked."""
    rng = np.random.default_rng(0)
    t = np.arange(400)
    df = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=400, freq="D").strftime("%Y-%m-%d"),
                       "a": 10 + np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.1, 400)})
    df.loc[150, "a"] = 1e4
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    data = build_windowed_data(DataConfig(path=str(path), cache_dir=str(tmp_path / "cache")),
                               WindowConfig(input=10, output=3), SplitConfig(), cache=False)
    assert not data.train.mask.all()
    (run,), notes = classical_runs(data, ["theta"], None, [tmp_path / "cache"], quiet=True)
    assert notes == [] and np.isfinite(run.val_pred).all()
    assert run.fits[0].spec["masked_training_cells"] == 1
    assert masked_note(run.fits).startswith("Masked (missing or repaired) training cells: 1 over 1 fits (theta)")
    unmasked = WindowedData(**{**data.__dict__, "train": data.train.take(slice(None))})
    unmasked.train.mask = None
    assert data_key(data, "theta", 7) != data_key(unmasked, "theta", 7)


@pytest.mark.parametrize("model", ["ets", "theta", "arima"])
def test_the_future_forecast_reads_a_masked_cell_as_missing_like_the_scored_forecasts(variants, model):
    """`python -m reports.forecast`'s path: the history it gives (NaN where a cell is masked, `observed_values`)
    filtered by the fits. Cut just after the masked test cell, it must give the scored forecast of the test window
    from there, which read the masked cells as missing; the history read as observed (the repair's value) does not."""
    from models.forecasters.base import FutureInputs, Span
    from models.forecasters.classical import FittedClassical
    from models.forecasters.classical_fits import classical_season

    data = variants["huge"]
    (run,), _ = classical_runs(data, [model], None, quiet=True, n_jobs=1)
    fitted = FittedClassical(model, [run], Span(data, 1, own=True), classical_season(data, None), [])
    hist = series_history(data, 0)
    window = int(np.flatnonzero(hist.test_origins == LATER_CELLS[-1] + 1)[0])
    origin = int(hist.test_origins[window])
    stored = data.scaler.inverse(hist.values, slice(0, 1))[:origin]  # the masked cells hold PLANTED
    observed = observed_history(data, 0, hist)[:origin]
    assert (~observed).sum() == len(TRAIN_CELLS + LATER_CELLS)

    def future(history: np.ndarray) -> np.ndarray:
        inputs = FutureInputs(np.zeros((1, N_IN, 1), np.float32), None, None, data.scaler, N_OUT,
                              load_histories=lambda: ([history], ["series"]))
        return fitted.forecast_future(inputs)[0]

    scored = run.test_pred[window]
    np.testing.assert_allclose(future(np.where(observed, stored, np.nan)), scored, rtol=1e-5, atol=1e-5)
    # the control: the same history with the planted values read as observations moves the forecast far
    assert np.abs(future(stored) - scored).max() > 0.5


def test_the_forecast_history_of_a_file_is_nan_where_the_pipeline_repaired_or_invented_a_cell(tmp_path: Path):
    """What `python -m reports.forecast` gives the classical filters (`SeriesBundle.observed_values`): the cleaned
    values, NaN at a repaired value and at a gap row the pipeline filled; the frame keeps the repairs for inputs."""
    from data_pipeline.series import load_series

    rng = np.random.default_rng(1)
    dates = pd.date_range("2020-01-01", periods=300, freq="D")
    df = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "a": 10 + rng.normal(0, 0.1, 300)})
    df.loc[250, "a"] = 1e4  # garbage: repaired
    df = df.drop(index=270)  # a missing day: invented by the gap policy
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    bundle = load_series(DataConfig(path=str(path), gap_policy="ffill", cache_dir=str(tmp_path / "cache")))
    history = bundle.observed_values(["a"])[:, 0]
    assert list(np.flatnonzero(np.isnan(history))) == [250, 270]
    frame = bundle.frame["a"].to_numpy()
    assert np.isfinite(frame).all() and frame[250] < 100  # the repair stays in the frame (an input)
    np.testing.assert_array_equal(np.delete(history, [250, 270]), np.delete(frame, [250, 270]))
