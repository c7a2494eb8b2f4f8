"""Classical models (ETS, Theta, ARIMA, MSTL): the library's own numbers and intervals, no look past the origin,
windows <-> series."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vega_datasets import local_data

from data_pipeline import build_windowed_data
from data_pipeline.config import DataConfig, SplitConfig, WindowConfig
from models.classical import (
    ETS_SEED,
    ETS_SIMULATIONS,
    ClassicalFit,
    fit_classical,
    forecast_origins,
    forecast_with_quantiles,
    mstl_periods,
    series_history,
    why_not,
)
from models.forecasters.classical_fits import classical_runs

N_TRAIN, H = 84, 6
LEVELS = (0.025, 0.1, 0.9, 0.975)  # the 95% and 80% intervals' bounds
HOURLY_TRAIN, HOURLY_H = 24 * 7 * 6, 24  # six weeks of hours: more than two weekly cycles


def _bounds(quantiles: np.ndarray, level: float) -> np.ndarray:
    """(horizon, 2): the lower and upper bound of the central interval at `level` from quantiles at LEVELS."""
    return quantiles[:, [LEVELS.index(round((1 - level) / 2, 6)), LEVELS.index(round((1 + level) / 2, 6))]]


@pytest.fixture(scope="module")
def retail() -> np.ndarray:
    """A real monthly series: US retail trade employment (thousands), 2006-2015, 120 months."""
    return local_data.us_employment()["retail_trade"].to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def fits(retail: np.ndarray) -> dict[str, ClassicalFit]:
    """Each model fitted once on the first 84 months (seven years), season 12."""
    return {m: fit_classical(m, retail[:N_TRAIN], season=12) for m in ("ets", "theta", "arima")}


@pytest.fixture(scope="module")
def temps() -> np.ndarray:
    """A real hourly series: Seattle's temperature (F), every hour of 2010."""
    return local_data.seattle_temps()["temp"].to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def mstl_fit(temps: np.ndarray) -> ClassicalFit:
    return fit_classical("mstl", temps[:HOURLY_TRAIN], season=24, periods=(24, 168))


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
    ours, quantiles = forecast_with_quantiles(fit, retail, np.array([100]), H, LEVELS)
    model = ARIMA(retail[:100], order=s["order"], seasonal_order=s["seasonal_order"], trend=s["trend"])
    direct = model.filter(s["params"]).get_forecast(H)
    np.testing.assert_allclose(ours[0], direct.predicted_mean, rtol=1e-9)
    for level in (0.8, 0.95):  # its own intervals: the library's
        np.testing.assert_allclose(_bounds(quantiles[0], level), direct.conf_int(alpha=1 - level), rtol=1e-9)


def test_ets_intervals_are_statsmodels_own(retail: np.ndarray, fits: dict[str, ClassicalFit]):
    """The closed-form variance (additive errors) at the end of training: statsmodels fitted on the same history."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    fit = fits["ets"]
    spec = fit.spec
    assert spec["error"] == "add"  # retail employment: ETS(A,Ad,A), a form with a closed-form variance
    _, quantiles = forecast_with_quantiles(fit, retail, np.array([N_TRAIN]), H, LEVELS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = ETSModel(pd.Series(retail[:N_TRAIN]), error="add", trend=spec["trend"], damped_trend=spec["damped"],
                          seasonal=spec["seasonal"], seasonal_periods=spec["season"],
                          initialization_method="heuristic").fit(disp=False)
        prediction = direct.get_prediction(start=N_TRAIN, end=N_TRAIN + H - 1)
    assert prediction.method == "exact"
    for level in (0.8, 0.95):
        np.testing.assert_allclose(_bounds(quantiles[0], level), prediction.pred_int(alpha=1 - level), rtol=1e-9)


def test_simulated_ets_intervals_are_statsmodels_own_with_the_training_variance_held():
    """A multiplicative-error form: statsmodels' simulated intervals, given the same draws, at the end of training
    and at a later origin (there with the training split's innovation variance, not the longer history's)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    construction = local_data.us_employment()["construction"].to_numpy(dtype=np.float64)
    fit = fit_classical("ets", construction[:N_TRAIN], season=12)
    spec = fit.spec
    assert fit.form == "ETS(M,Ad,N)"  # no closed form: statsmodels simulates
    _, quantiles = forecast_with_quantiles(fit, construction, np.array([N_TRAIN, 100]), H, LEVELS)
    form = dict(error="mul", trend="add", damped_trend=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = ETSModel(pd.Series(construction[:N_TRAIN]), **form, initialization_method="heuristic").fit(disp=False)
        draws = np.random.default_rng(ETS_SEED).standard_normal((H, ETS_SIMULATIONS)) * np.sqrt(direct.mse)
        at_end = direct.get_prediction(start=N_TRAIN, end=N_TRAIN + H - 1, random_errors=draws)
        later = ETSModel(pd.Series(construction[:100]), **form, initialization_method="known",
                         initial_level=spec["initial_level"], initial_trend=spec["initial_trend"]).smooth(direct.params)
        at_100 = later.get_prediction(start=100, end=100 + H - 1, random_errors=draws)
    assert at_end.method == "simulated" and not np.isclose(later.mse, direct.mse)
    for level in (0.8, 0.95):
        np.testing.assert_allclose(_bounds(quantiles[0], level), at_end.pred_int(alpha=1 - level), rtol=1e-9)
        np.testing.assert_allclose(_bounds(quantiles[1], level), at_100.pred_int(alpha=1 - level), rtol=1e-9)


def test_theta_intervals_are_statsmodels_own(retail: np.ndarray, fits: dict[str, ClassicalFit]):
    from statsmodels.tsa.forecasting.theta import ThetaModel

    _, quantiles = forecast_with_quantiles(fits["theta"], retail, np.array([N_TRAIN]), H, LEVELS)
    direct = ThetaModel(retail[:N_TRAIN], period=12).fit()
    for level in (0.8, 0.95):
        np.testing.assert_allclose(_bounds(quantiles[0], level), direct.prediction_intervals(H, alpha=1 - level),
                                   rtol=1e-9)


def test_mstl_holds_the_weekly_cycle_and_forecasts_the_rest_with_a_daily_ets(temps: np.ndarray,
                                                                              mstl_fit: ClassicalFit):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.seasonal import MSTL

    ets = mstl_fit.spec["ets"]
    assert mstl_fit.form.startswith("MSTL(24,168): weekly cycle held + ETS(") and ets["season"] == 24
    origins = np.array([HOURLY_TRAIN, HOURLY_TRAIN + 30])
    ours, quantiles = forecast_with_quantiles(mstl_fit, temps, origins, HOURLY_H, LEVELS)
    train = temps[:HOURLY_TRAIN]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weekly = np.asarray(MSTL(train, periods=(24, 168)).fit().seasonal)[:, 1]
        # the weekly component's last training cycle, repeated over every row (seasonal naive of the component)
        cycle = weekly[HOURLY_TRAIN - 168 + (np.arange(len(temps)) - HOURLY_TRAIN) % 168]
        adjusted = temps - cycle
        form = dict(error=ets["error"], trend=ets["trend"], damped_trend=ets["damped"], seasonal=ets["seasonal"],
                    seasonal_periods=24)
        direct = ETSModel(pd.Series(adjusted[:HOURLY_TRAIN]), **form, initialization_method="heuristic").fit(disp=False)
        # later: the ETS filtered, parameters and initial states held, over the next hours less the held cycle
        init = {"initial_level": direct.initial_level, "initial_seasonal": direct.initial_seasonal}
        if ets["trend"]:
            init["initial_trend"] = direct.initial_trend
        later = ETSModel(pd.Series(adjusted[:origins[1]]), **form, initialization_method="known", **init)
        later = later.smooth(direct.params)
    for k, res in enumerate((direct, later)):
        ahead = origins[k] + np.arange(HOURLY_H)
        np.testing.assert_allclose(ours[k], np.asarray(res.forecast(HOURLY_H)) + cycle[ahead], rtol=1e-7)
    assert (quantiles[:, :, 0] < ours).all() and (ours < quantiles[:, :, -1]).all()


def test_mstl_needs_sub_daily_data_and_two_weekly_cycles():
    assert mstl_periods("h") == (24, 168) and mstl_periods("30min") == (48, 336)
    assert mstl_periods("D") is None and mstl_periods("15min") is None
    assert "not hourly or half-hourly" in why_not("mstl", 1000, 7, None)
    assert "at least 2 × 168 + 1 = 337 needed" in why_not("mstl", 336, 24, (24, 168))
    assert why_not("mstl", 337, 24, (24, 168)) is None and why_not("ets", 100, 7, None) is None


@pytest.mark.parametrize("model", ["ets", "theta", "arima", "mstl"])
def test_a_forecast_never_reads_a_value_at_or_after_its_origin(retail: np.ndarray, fits: dict[str, ClassicalFit],
                                                               temps: np.ndarray, mstl_fit: ClassicalFit,
                                                               model: str):
    # mstl on the hourly series, forecasting a day ahead from the first 48 hours after training
    fit, series, n_train, h = ((mstl_fit, temps[:HOURLY_TRAIN + 96], HOURLY_TRAIN, HOURLY_H) if model == "mstl"
                               else (fits[model], retail, N_TRAIN, H))
    origins = np.arange(n_train, len(series) - h + 1)
    before, before_q = forecast_with_quantiles(fit, series, origins, h, LEVELS)
    cut = n_train + 16
    rewritten = series.copy()
    rewritten[cut:] = rewritten[cut:] * 3.0 + 1e4  # every value from the cut on is changed
    after, after_q = forecast_with_quantiles(fit, rewritten, origins, h, LEVELS)
    upto = origins <= cut
    np.testing.assert_array_equal(before[upto], after[upto])
    np.testing.assert_array_equal(before_q[upto], after_q[upto])  # its own intervals, too
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


def test_an_earlier_fold_forecasts_its_validation_block_and_a_refit_its_test_split(tmp_path: Path):
    """An earlier backtest fold's test split lies blocks after its validation block, and a refit's validation
    rows are training rows: neither joins into one series with all three splits, so each forecasts its own."""
    frame = local_data.us_employment()[["month", "retail_trade"]]
    csv = tmp_path / "retail.csv"
    frame.to_csv(csv, index=False)
    raw = frame.retail_trade.to_numpy(dtype=np.float64)

    def split(fold: int | str) -> object:
        return build_windowed_data(DataConfig(path=str(csv), date_column="month"), WindowConfig(input=24, output=H),
                                   SplitConfig(val_fraction=0.15, test_fraction=0.15, folds=2, fold=fold), cache=False)

    for data, forecast in ((split(1), ("val",)), (split("refit"), ("test",))):
        with pytest.raises(ValueError, match="do not join into one series"):
            series_history(data, 0)
        hist = series_history(data, 0, forecast)
        sc = data.scaler
        np.testing.assert_allclose(hist.values[:, 0] * sc.scale[0] + sc.center[0], raw[: len(hist.values)], rtol=1e-6)
        origins = hist.val_origins if forecast == ("val",) else hist.test_origins
        assert len(origins) == len(data.split(forecast[0])) and origins[0] == hist.n_train
        assert len(hist.test_origins if forecast == ("val",) else hist.val_origins) == 0
        runs, notes = classical_runs(data, ["theta"], None, [tmp_path / "cache"], quiet=True, forecast=forecast)
        assert notes == [] and [r.model for r in runs] == ["theta"]
        fit = fit_classical("theta", raw[: hist.n_train], season=12)  # on this fold's (or the refit's) rows only
        pred, other = (runs[0].val_pred, runs[0].test_pred) if forecast == ("val",) else (runs[0].test_pred,
                                                                                         runs[0].val_pred)
        np.testing.assert_allclose(pred[:, :, 0] * sc.scale[0] + sc.center[0],
                                   forecast_origins(fit, raw, origins, H), rtol=1e-5)
        assert np.isnan(other).all()  # the split it does not forecast is not invented


def test_unknown_classical_model_is_named(tmp_path: Path):
    data, _ = _monthly_data(tmp_path)
    with pytest.raises(ValueError, match="baselines.classical: unknown model.*'prophet'.*ets, theta, arima, mstl"):
        classical_runs(data, ["prophet"], None)


def test_the_config_key_lists_the_classical_models():
    from sweeps.config import ConfigError, load_config

    assert load_config(None, ["baselines.classical=[theta]"]).baselines.classical == ["theta"]
    assert load_config(None, []).baselines.classical == "all"  # default: all that fit the data
    # the smoke profile (a plumbing check) leaves them out; an override brings them back
    assert load_config(None, [], profile="smoke").baselines.classical == []
    assert load_config(None, ["baselines.classical=all"], profile="smoke").baselines.classical == "all"
    # null meant "all" before the word existed: a run directory that stores it keeps that meaning
    assert load_config(None, ["baselines.classical=null"], profile="smoke").baselines.classical == "all"
    with pytest.raises(ConfigError, match="baselines.classical: .*'every' is not a choice: write all, \\[\\] "):
        load_config(None, ["baselines.classical=every"])
    with pytest.raises(ConfigError, match="baselines.classical: .*unknown model.*'prophet'.*ets, theta, arima, mstl"):
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


def _hourly_data(tmp_path: Path, hours: int) -> tuple[object, np.ndarray]:
    frame = local_data.seattle_temps().iloc[:hours]
    csv = tmp_path / f"temps{hours}.csv"
    frame.to_csv(csv, index=False)
    data = build_windowed_data(DataConfig(path=str(csv), date_column="date"), WindowConfig(input=48, output=24),
                               SplitConfig(), cache=False)
    return data, frame.temp.to_numpy(dtype=np.float64)


def test_mstl_enters_the_report_on_hourly_data_with_two_weekly_cycles_in_training(tmp_path: Path):
    data, raw = _hourly_data(tmp_path, 600)  # 420 training hours: two weeks and a half
    assert data.summary["frequency"] == "h"
    runs, notes = classical_runs(data, ["mstl"], None, [tmp_path / "cache"], quiet=True)
    assert notes == [] and [r.model for r in runs] == ["mstl"]
    hist = series_history(data, 0)
    fit = fit_classical("mstl", raw[: hist.n_train], season=24, periods=(24, 168))
    direct = forecast_origins(fit, raw, hist.test_origins, 24)
    sc = data.scaler
    np.testing.assert_allclose(runs[0].test_pred[:, :, 0] * sc.scale[0] + sc.center[0], direct, rtol=1e-5)
    # its own band, on the last test windows (a simulated band costs 1000 paths per origin)
    _, quantiles = forecast_with_quantiles(fit, raw, hist.test_origins[-3:], 24, runs[0].quantile_levels)
    np.testing.assert_allclose(runs[0].test_quantiles[-3:, :, 0] * sc.scale[0] + sc.center[0], quantiles, rtol=1e-5)
    short, _ = _hourly_data(tmp_path, 400)  # fewer than two weekly cycles in training
    n_train = series_history(short, 0).n_train
    runs, skips = classical_runs(short, ["mstl"], None, quiet=True)
    assert runs == [] and [s.note for s in skips] == [
        f"mstl skipped: the training split has {n_train} rows, too short for two full cycles of the weekly "
        "season (at least 2 × 168 + 1 = 337 needed)."]


def test_a_missing_classical_model_is_explained_by_its_own_skip_else_by_the_skip_of_them_all():
    from models.forecasters.classical import SpanFits
    from models.forecasters.classical_fits import Skip

    fits = SpanFits({}, [Skip("mstl", "the data is not hourly or half-hourly"), Skip(None, "no series")])
    assert fits.why_not("mstl") == "mstl skipped: the data is not hourly or half-hourly."
    assert fits.why_not("ets") == "Classical models skipped: no series."
    assert SpanFits({}, []).why_not("ets") == ""
