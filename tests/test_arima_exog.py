"""ARIMA with the user's known-future columns as regressors (regression with ARIMA errors): a real driver cuts its
error, a shuffled one buys nothing; a forecast never reads a target after its origin nor a regressor after its
horizon; the forecast past the data's end reads the values the user gave; ETS and Theta say they read none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data
from models.classical import fit_classical, forecast_origins, forecast_with_quantiles, series_history
from models.classical_exog import exog_history
from models.forecasters.base import Context, FutureInputs, Span
from models.forecasters.classical import classical_entries
from models.forecasters.classical_fits import classical_runs, data_key
from models.run_records import StoredConfig
from reports.evaluate import covariates_read

N, N_IN, N_OUT = 420, 14, 7
N_TRAIN = 303  # SplitConfig()'s training rows of N (the first window's inputs, its windows' targets)


def promo_frame(seed: int = 0, n: int = N) -> pd.DataFrame:
    """Daily sales: a weekly cycle, AR(1) noise and +6 on the days of a planned promotion (known ahead)."""
    rng = np.random.default_rng(seed)
    promo = (rng.random(n) < 0.2).astype(float)
    noise = np.zeros(n)
    for t in range(1, n):
        noise[t] = 0.6 * noise[t - 1] + rng.normal(0, 0.5)
    t = np.arange(n)
    sales = 20 + 2 * np.sin(2 * np.pi * t / 7) + 6 * promo + noise
    return pd.DataFrame({"date": pd.date_range("2021-01-01", periods=n, freq="D"), "sales": sales, "promo": promo})


def windows(tmp_path: Path, frame: pd.DataFrame, **data: object):
    path = tmp_path / f"data-{len(list(tmp_path.glob('data-*')))}.csv"
    frame.to_csv(path, index=False)
    cfg = DataConfig(path=str(path), targets=["sales"], **data)
    return build_windowed_data(cfg, WindowConfig(input=N_IN, output=N_OUT), SplitConfig(), cache=False)


def arima_test(wd) -> tuple[np.ndarray, float]:
    """ARIMA's test forecasts (scaled) and their MSE."""
    runs, notes = classical_runs(wd, ["arima"], None, quiet=True)
    assert notes == [] and len(runs) == 1
    return runs[0].test_pred, float(np.mean((runs[0].test_pred - wd.test.y) ** 2))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return promo_frame()


@pytest.fixture(scope="module")
def with_promo(frame, tmp_path_factory):
    return windows(tmp_path_factory.mktemp("promo"), frame, known_future=["promo"])


@pytest.fixture(scope="module")
def promo_run(with_promo):
    """ARIMA on the windows with the promo as a known-future column: (test forecasts, scaled; their MSE; run)."""
    runs, notes = classical_runs(with_promo, ["arima"], None, quiet=True)
    assert notes == [] and len(runs) == 1
    return runs[0].test_pred, float(np.mean((runs[0].test_pred - with_promo.test.y) ** 2)), runs[0]


@pytest.fixture(scope="module")
def direct_fit(frame):
    """The same fit straight from the data frame: the training rows' sales regressed on their promo."""
    return fit_classical("arima", frame.sales.to_numpy()[:N_TRAIN], 7, exog=frame[["promo"]].iloc[:N_TRAIN])


def test_the_regressors_are_the_known_future_columns_row_for_row(frame, with_promo):
    hist = series_history(with_promo, 0)
    assert hist.n_train == N_TRAIN
    exog = exog_history(with_promo, 0, hist)
    assert list(exog.columns) == ["promo"] and len(exog) == len(hist.values) == N
    np.testing.assert_allclose(exog.promo, frame.promo, atol=1e-6)


def test_a_real_driver_helps_arima_and_a_shuffled_one_buys_nothing(tmp_path, frame, promo_run):
    _, without = arima_test(windows(tmp_path, frame, features=["sales"]))
    _, with_driver, _ = promo_run
    shuffled = frame.assign(promo=np.random.default_rng(1).permutation(frame.promo.to_numpy()))
    _, with_shuffled = arima_test(windows(tmp_path, shuffled, known_future=["promo"]))
    assert with_driver < 0.2 * without
    assert with_shuffled > 0.95 * without


def test_the_report_forecasts_are_the_direct_fit_with_the_regressors(frame, with_promo, promo_run, direct_fit):
    run = promo_run[2]
    fit = run.fits[0]
    assert fit.spec["exog"] == ["promo"] and fit.form.endswith(" + promo")
    assert direct_fit.form == fit.form
    hist = series_history(with_promo, 0)
    exog = frame[["promo"]]
    direct = forecast_origins(direct_fit, frame.sales.to_numpy(), hist.test_origins, N_OUT, exog)
    sc = with_promo.scaler
    np.testing.assert_allclose(run.test_pred[:, :, 0] * sc.scale[0] + sc.center[0], direct, rtol=1e-4)
    with pytest.raises(ValueError, match=r"reads the known-future column\(s\) \['promo'\]"):
        forecast_origins(direct_fit, frame.sales.to_numpy(), hist.test_origins, N_OUT)


def test_no_forecast_reads_a_target_after_its_origin_or_a_regressor_after_its_horizon(frame, direct_fit):
    sales, exog, fit = frame.sales.to_numpy(), frame[["promo"]], direct_fit
    origins = np.arange(N_TRAIN, N - N_OUT + 1)
    before, before_q = forecast_with_quantiles(fit, sales, origins, N_OUT, (0.1, 0.9), exog)
    cut = N_TRAIN + 30
    rewritten, flipped = sales.copy(), exog.copy()
    rewritten[cut:] = -rewritten[cut:] * 3  # every target from the cut on
    flipped.loc[cut + N_OUT:, "promo"] = 1.0 - flipped.promo  # every regressor after the cut's horizon
    after, after_q = forecast_with_quantiles(fit, rewritten, origins, N_OUT, (0.1, 0.9), flipped)
    upto = origins <= cut
    np.testing.assert_array_equal(before[upto], after[upto])
    np.testing.assert_array_equal(before_q[upto], after_q[upto])
    assert not np.allclose(before[~upto], after[~upto])  # later origins do read them


def test_rewriting_the_data_after_a_windows_origin_changes_none_of_its_forecasts(tmp_path, frame, with_promo,
                                                                                 promo_run):
    """The leak test on the report's path: the sales from a test window's origin on, and the promo after its
    horizon, rewritten; that window's ARIMA forecast (and every earlier one's) stays the same."""
    i = 20
    origin = pd.Timestamp(with_promo.test.origin[i])
    rewritten = frame.copy()
    rewritten.loc[rewritten.date >= origin, "sales"] = -rewritten.sales
    later = rewritten.date >= origin + pd.Timedelta(days=N_OUT)
    rewritten.loc[later, "promo"] = 1.0 - rewritten.promo
    before = promo_run[0]
    after, _ = arima_test(windows(tmp_path, rewritten, known_future=["promo"]))
    np.testing.assert_array_equal(before[: i + 1], after[: i + 1])
    assert not np.allclose(before[i + 1:], after[i + 1:])


def entries(wd, requested=("ets", "theta", "arima")) -> dict:
    ctx = Context(StoredConfig({"baselines": {"classical": list(requested)}}), None, wd)
    return {e.name: e for e in classical_entries(ctx)}


def test_the_future_forecast_reads_the_given_future_values(frame, with_promo, direct_fit):
    fitted = entries(with_promo, ["arima"])["arima"].fit(Span(with_promo, 1, own=True))
    sc = with_promo.scaler
    promo = [sc.feature_names.index(n) for n in with_promo.future_names[:1]]
    ahead = np.array([0, 1, 0, 0, 1, 0, 0], float)

    def forecast(values: np.ndarray) -> np.ndarray:
        future = np.zeros((1, N_OUT, with_promo.n_future), np.float32)
        future[0, :, 0] = sc.transform(values[:, None], None, promo)[:, 0]
        inputs = FutureInputs(with_promo.test.x[-1:], future, None, sc, N_OUT,
                              load_histories=lambda: ([frame[["sales"]].to_numpy()], ["frame"]),
                              load_known_histories=lambda: [frame[["promo"]].to_numpy()])
        return sc.inverse(fitted.forecast_future(inputs)[0], slice(0, 1))[:, 0]

    base = forecast(ahead)
    moved = forecast(np.where(np.arange(N_OUT) == 3, 1.0, ahead))  # a promotion planned on the fourth day
    assert moved[3] - base[3] == pytest.approx(6.0, abs=1.0)  # about the promotion's effect
    np.testing.assert_allclose(np.delete(moved, 3), np.delete(base, 3), atol=1e-3)  # and only that day's
    # the regression with ARIMA errors: the same as the direct fit on the whole history, the given values ahead
    exog = pd.DataFrame({"promo": np.concatenate([frame.promo.to_numpy(), ahead])})
    direct = forecast_origins(direct_fit, frame.sales.to_numpy(), np.array([N]), N_OUT, exog)[0]
    np.testing.assert_allclose(base, direct, rtol=1e-4)


def test_only_arima_and_the_combination_say_they_read_the_known_future_columns(with_promo):
    read = {name: covariates_read(e, with_promo) for name, e in entries(with_promo).items()}
    assert read == {"ets": [], "theta": [], "arima": ["promo"], "classical_combo": ["promo"]}
    without_arima = entries(with_promo, ["ets", "theta"])
    assert covariates_read(without_arima["classical_combo"], with_promo) == []


def test_a_fit_with_regressors_never_reuses_a_cached_fit_without_them(tmp_path, frame, with_promo):
    """The same targets with promo as a past input only (no regressor) and as a known-future column: ETS's fits
    are the same, ARIMA's are not, and the cache keys say so."""
    past_only = windows(tmp_path, frame, features=["sales", "promo"])
    assert data_key(past_only, "ets", 7) == data_key(with_promo, "ets", 7)
    assert data_key(past_only, "arima", 7) != data_key(with_promo, "arima", 7)
    cache = [tmp_path / "cache"]
    plain, _ = classical_runs(past_only, ["arima"], None, cache, quiet=True)
    regressed, _ = classical_runs(with_promo, ["arima"], None, cache, quiet=True)
    assert not regressed[0].cached and regressed[0].fits[0].spec["exog"] == ["promo"]
    assert "exog" not in plain[0].fits[0].spec
    again, _ = classical_runs(with_promo, ["arima"], None, cache, quiet=True)
    assert again[0].cached and np.array_equal(again[0].test_pred, regressed[0].test_pred)


def test_a_constant_known_future_column_is_left_out():
    rng = np.random.default_rng(0)
    exog = pd.DataFrame({"closed": np.zeros(120), "promo": (rng.random(120) < 0.3).astype(float)})
    exog["promo2"] = 2 * exog.promo  # a copy in other units
    y = 10 + 3 * exog.promo.to_numpy() + rng.normal(size=120)
    fit = fit_classical("arima", y, None, exog=exog)
    assert fit.spec["exog"] == ["promo"] and "closed" not in fit.form
    with pytest.raises(ValueError, match="only arima reads known-future regressors"):
        fit_classical("ets", y, None, exog=exog)


def test_a_regressor_that_carries_nothing_is_left_out(tmp_path, frame):
    """BIC chooses between the fits with and without the user's regressors: a shuffled promo earns no parameter,
    the fit and its forecasts are the plain ARIMA's, and the report says ARIMA (and the combination) read none."""
    shuffled = frame.assign(promo=np.random.default_rng(1).permutation(frame.promo.to_numpy()))
    wd = windows(tmp_path, shuffled, known_future=["promo"])
    runs, _ = classical_runs(wd, ["arima"], None, quiet=True)
    assert runs[0].fits[0].spec["exog"] == [] and "promo" not in runs[0].fits[0].form
    plain = fit_classical("arima", shuffled.sales.to_numpy()[:N_TRAIN], 7)
    assert plain.spec["order"] == runs[0].fits[0].spec["order"]
    np.testing.assert_allclose(plain.spec["params"], runs[0].fits[0].spec["params"], rtol=1e-6)
    found = entries(wd)
    for entry in found.values():
        entry.fit(Span(wd, fold=1, own=True))
    assert {name: covariates_read(e, wd) for name, e in found.items()} == {
        "ets": [], "theta": [], "arima": [], "classical_combo": []}
