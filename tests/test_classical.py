"""Classical models (ETS, Theta, ARIMA): the library's own numbers, no look past the origin, windows <-> series."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from vega_datasets import local_data

from data_pipeline import build_windowed_data
from data_pipeline.config import DataConfig, SplitConfig, WindowConfig
from models.classical import ClassicalFit, fit_classical, forecast_origins, forecast_with_sd, series_history
from reports.classical import classical_runs

N_TRAIN, H = 84, 6


@pytest.fixture(scope="module")
def retail() -> np.ndarray:
    """A real monthly series: US retail trade employment (thousands), 2006-2015, 120 months."""
    return local_data.us_employment()["retail_trade"].to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def fits(retail: np.ndarray) -> dict[str, ClassicalFit]:
    """Each model fitted once on the first 84 months (seven years), season 12."""
    return {m: fit_classical(m, retail[:N_TRAIN], season=12) for m in ("ets", "theta", "arima")}


def test_ets_forecasts_are_statsmodels_own(retail: np.ndarray, fits: dict[str, ClassicalFit]):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    fit = fits["ets"]
    spec = fit.spec
    form = dict(error=spec["error"], trend=spec["trend"], damped_trend=spec["damped"], seasonal=spec["seasonal"],
                seasonal_periods=spec["season"])
    ours = forecast_origins(fit, retail, np.array([N_TRAIN, 100]), H)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # at the end of training: the library fitted and forecasting on the same history
        direct = ETSModel(retail[:N_TRAIN], **form, initialization_method="heuristic").fit(disp=False)
        np.testing.assert_allclose(ours[0], direct.forecast(H), rtol=1e-9)
        # later: the library on the history up to the origin, with the fitted parameters and initial states held
        init = {"initial_level": spec["initial_level"]}
        if spec["trend"]:
            init["initial_trend"] = spec["initial_trend"]
        if spec["seasonal"]:
            init["initial_seasonal"] = np.asarray(spec["initial_seasonal"])
        later = ETSModel(retail[:100], **form, initialization_method="known", **init).smooth(direct.params)
    np.testing.assert_allclose(ours[1], later.forecast(H), rtol=1e-9)
    assert fit.form.startswith("ETS(")


def test_theta_forecast_is_statsmodels_own(retail: np.ndarray, fits: dict[str, ClassicalFit]):
    from statsmodels.tsa.forecasting.theta import ThetaModel

    fit = fits["theta"]
    ours = forecast_origins(fit, retail, np.array([N_TRAIN]), H)[0]
    np.testing.assert_allclose(ours, ThetaModel(retail[:N_TRAIN], period=12).fit().forecast(H), rtol=1e-9)
    assert fit.form == "Theta(mul season m=12)"  # retail employment is seasonal and positive


def test_arima_forecast_is_statsmodels_filter_with_the_fitted_parameters(retail: np.ndarray,
                                                                         fits: dict[str, ClassicalFit]):
    from statsmodels.tsa.arima.model import ARIMA

    fit = fits["arima"]
    s = fit.spec
    ours, sd = forecast_with_sd(fit, retail, np.array([100]), H)
    model = ARIMA(retail[:100], order=s["order"], seasonal_order=s["seasonal_order"], trend=s["trend"])
    direct = model.filter(s["params"]).get_forecast(H)
    np.testing.assert_allclose(ours[0], direct.predicted_mean, rtol=1e-9)
    np.testing.assert_allclose(sd[0], direct.se_mean, rtol=1e-9)  # its own intervals: the library's variance
    assert forecast_with_sd(fits["theta"], retail, np.array([100]), H)[1] is None


@pytest.mark.parametrize("model", ["ets", "theta", "arima"])
def test_a_forecast_never_reads_a_value_at_or_after_its_origin(retail: np.ndarray, fits: dict[str, ClassicalFit],
                                                               model: str):
    fit = fits[model]
    origins = np.arange(N_TRAIN, len(retail) - H + 1)
    before = forecast_origins(fit, retail, origins, H)
    cut = 100
    rewritten = retail.copy()
    rewritten[cut:] = rewritten[cut:] * 3.0 + 1e4  # every value from the cut on is changed
    after = forecast_origins(fit, rewritten, origins, H)
    upto = origins <= cut
    np.testing.assert_array_equal(before[upto], after[upto])
    assert not np.allclose(before[~upto], after[~upto])  # later origins do read the rewritten values


def _monthly_data(tmp_path: Path) -> tuple[object, np.ndarray]:
    frame = local_data.us_employment()[["month", "retail_trade"]]
    csv = tmp_path / "retail.csv"
    frame.to_csv(csv, index=False)
    data = build_windowed_data(DataConfig(path=str(csv), date_column="month"), WindowConfig(input=24, output=H),
                               SplitConfig(val_fraction=0.15, test_fraction=0.15), cache=False)
    return data, frame.retail_trade.to_numpy(dtype=np.float64)


def test_windows_join_back_into_the_series_and_the_report_forecasts_match(tmp_path: Path):
    data, raw = _monthly_data(tmp_path)
    hist = series_history(data, 0)
    sc = data.scaler
    original = hist.values[:, 0] * sc.scale[0] + sc.center[0]
    np.testing.assert_allclose(original, raw, rtol=1e-6)  # every month, in order, from the windows alone
    assert hist.val_origins[0] == hist.n_train and hist.test_origins[-1] == len(raw) - H
    np.testing.assert_allclose(sc.inverse(data.test.y[:, 0], slice(0, 1))[:, 0], raw[hist.test_origins], rtol=1e-6)

    runs, notes = classical_runs(data, ["theta"], None, [tmp_path / "cache"], quiet=True)
    assert notes == [] and [r.model for r in runs] == ["theta"]
    fit = fit_classical("theta", raw[: hist.n_train], season=12)  # the season follows the monthly calendar
    direct = forecast_origins(fit, raw, hist.test_origins, H)
    np.testing.assert_allclose(runs[0].test_pred[:, :, 0] * sc.scale[0] + sc.center[0], direct, rtol=1e-5)
    # a rebuild reads the cached fits instead of refitting
    again, _ = classical_runs(data, ["theta"], None, [tmp_path / "cache"], quiet=True)
    assert again[0].cached and np.array_equal(again[0].test_pred, runs[0].test_pred)


def test_unknown_classical_model_is_named(tmp_path: Path):
    data, _ = _monthly_data(tmp_path)
    with pytest.raises(ValueError, match="baselines.classical: unknown model.*'prophet'.*ets, theta, arima"):
        classical_runs(data, ["prophet"], None)


def test_the_config_key_lists_the_classical_models():
    from sweeps.config import ConfigError, load_config

    assert load_config(None, ["baselines.classical=[theta]"]).baselines.classical == ["theta"]
    assert load_config(None, []).baselines.classical is None  # default: all that fit the data
    # the smoke profile (a plumbing check) leaves them out; an override brings them back
    assert load_config(None, [], profile="smoke").baselines.classical == []
    assert load_config(None, ["baselines.classical=null"], profile="smoke").baselines.classical is None
    with pytest.raises(ConfigError, match="baselines.classical.0: Input should be 'ets', 'theta' or 'arima'"):
        load_config(None, ["baselines.classical=[prophet]"])


def test_a_panels_windows_join_back_into_each_series(tmp_path: Path):
    names = ["retail_trade", "construction", "utilities"]
    frame = local_data.us_employment()[["month", *names]]
    csv = tmp_path / "wide.csv"
    frame.to_csv(csv, index=False)
    data = build_windowed_data(DataConfig(path=str(csv), date_column="month", series_columns=names),
                               WindowConfig(input=24, output=H), SplitConfig(), cache=False)
    assert data.is_panel and data.n_series == 3
    for i, name in enumerate(data.series_names):
        hist = series_history(data, i)
        sc = data.scaler.for_series(i)  # each series scaled on its own training part
        np.testing.assert_allclose(hist.values[:, 0] * sc.scale[0] + sc.center[0], frame[name], rtol=1e-6)
        assert len(hist.val_origins) == int((data.val.series == i).sum())
        assert len(hist.test_origins) == int((data.test.series == i).sum())
