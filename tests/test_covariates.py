"""Known-future covariates (data.known_future): read as inputs, never targets; every model sees a known-future
value only on its own forecast steps and never a target after its forecast origin; a driver that carries no
information (shuffled) buys no entry anything; the forecast past the data's end needs the user's future values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from data_pipeline import DataConfig, DataError, SplitConfig, WindowConfig, build_windowed_data
from data_pipeline.forecast import known_future_values
from models import build, fit_ridge, predict
from models.forecasters import naive
from models.forecasters.base import Span
from models.forecasters.naive import user_driver_columns
from reports.evaluate import covariates_read

N, N_IN, N_OUT = 420, 14, 7


def promo_frame(seed: int = 0, n: int = N) -> pd.DataFrame:
    """Daily sales driven by a planned promotion (known ahead) on top of a weekly cycle; `noise` is an unrelated
    input."""
    rng = np.random.default_rng(seed)
    promo = (rng.random(n) < 0.2).astype(float)
    t = np.arange(n)
    sales = 20 + 2 * np.sin(2 * np.pi * t / 7) + 6 * promo + rng.normal(0, 0.5, n)
    return pd.DataFrame({"date": pd.date_range("2021-01-01", periods=n, freq="D"), "sales": sales, "promo": promo,
                         "noise": rng.normal(size=n)})


def windows(tmp_path: Path, frame: pd.DataFrame, **data: object):
    path = tmp_path / f"data-{len(list(tmp_path.iterdir()))}.csv"
    frame.to_csv(path, index=False)
    cfg = DataConfig(path=str(path), **data)
    return build_windowed_data(cfg, WindowConfig(input=N_IN, output=N_OUT), SplitConfig(), cache=False)


def test_a_known_future_column_is_an_input_never_a_target_and_comes_last(tmp_path):
    wd = windows(tmp_path, promo_frame(), known_future=["promo"], calendar_features=True)
    assert wd.target_names == ["sales", "noise"]  # the default targets leave the known-future column out
    assert wd.feature_names[:3] == ["sales", "noise", "promo"]
    assert wd.future_names == ["promo", "doy_sin", "doy_cos", "dow_sin", "dow_cos"]
    assert wd.summary["known_future"] == ["promo"]
    with pytest.raises(ValueError, match="also in data.known_future"):
        DataConfig(targets=["promo"], known_future=["promo"])
    with pytest.raises(ValueError, match="needs a calendar"):
        DataConfig(known_future=["promo"], frequency="rows")
    with pytest.raises(DataError, match=r"data.known_future names unknown column\(s\) \['price'\]"):
        windows(tmp_path, promo_frame(), known_future=["price"])


def test_windows_hold_a_known_future_value_only_on_their_own_forecast_steps(tmp_path):
    frame = promo_frame()
    wd = windows(tmp_path, frame, known_future=["promo"], targets=["sales"])
    promo_col = wd.feature_names.index("promo")
    for split in (wd.train, wd.val, wd.test):
        rows = frame.set_index("date").index.get_indexer(pd.DatetimeIndex(split.origin))
        for i in (0, len(split) // 2, len(split) - 1):
            horizon = frame.promo.to_numpy()[rows[i]: rows[i] + N_OUT]
            past = frame.promo.to_numpy()[rows[i] - N_IN: rows[i]]
            np.testing.assert_allclose(wd.scaler.inverse(split.future[i, :, 0], [promo_col]), horizon, atol=1e-5)
            np.testing.assert_allclose(wd.scaler.inverse(split.x[i, :, promo_col], [promo_col]), past, atol=1e-5)


def test_rewriting_targets_after_the_origin_changes_no_input_of_any_model(tmp_path):
    """The leak test: the sales on and after a window's origin (and the promo outside its horizon) may be anything;
    the window's inputs (x, future) are the same, so no model can read them."""
    frame = promo_frame()
    wd = windows(tmp_path, frame, known_future=["promo"], targets=["sales"])
    origin = pd.Timestamp(wd.test.origin[3])
    rewritten = frame.copy()
    after = rewritten.date >= origin
    rewritten.loc[after, "sales"] = -rewritten.loc[after, "sales"]
    rewritten.loc[rewritten.date >= origin + pd.Timedelta(days=N_OUT), "promo"] = 1.0 - rewritten.promo
    wd2 = windows(tmp_path, rewritten, known_future=["promo"], targets=["sales"])
    i = 3
    np.testing.assert_array_equal(wd.test.x[i], wd2.test.x[i])
    np.testing.assert_array_equal(wd.test.future[i], wd2.test.future[i])
    assert not np.allclose(wd.test.y[i], wd2.test.y[i])  # the rewrite did reach the targets


@pytest.mark.parametrize("name", ["gru_ar", "lstm_nar", "transformer", "ridge"])
def test_each_model_reads_each_forecast_steps_known_future_value(tmp_path, name):
    """Every model built with known-future inputs forecasts differently when the promo of one forecast step
    changes (it reads it), and never reads y in evaluation."""
    wd = windows(tmp_path, promo_frame(), known_future=["promo"], targets=["sales"])
    torch.manual_seed(0)
    model = build(name, **wd.shapes)
    if name == "ridge":
        fit_ridge(model, wd.train, wd.val)
    model.eval()
    x, future = wd.test.x[:4], wd.test.future[:4].copy()
    base = predict(model, x, future=future)
    future[:, 3, 0] += 2.0
    moved = predict(model, x, future=future)
    assert not np.allclose(base, moved)
    if name != "ridge":  # in evaluation y is never read: a wrong one changes nothing
        with torch.no_grad():
            y_wrong = torch.full((4, N_OUT, 1), 99.0)
            out = model(torch.as_tensor(x), y_wrong, future=torch.as_tensor(wd.test.future[:4]))
        np.testing.assert_allclose(out.numpy(), base, rtol=1e-5, atol=1e-5)


def _ridge_test_mse(wd) -> float:
    """Ridge's test MSE, fitted as the ranking fits it: penalty and reading the user's drivers chosen on validation."""
    model = build("ridge", **wd.shapes)
    fit_ridge(model, wd.train, wd.val, drivers=user_driver_columns(wd))
    pred = predict(model, wd.test.x, future=wd.test.future)
    return float(np.mean((pred - wd.test.y) ** 2))


def test_a_real_driver_helps_ridge_and_a_shuffled_one_buys_nothing(tmp_path):
    """The shuffled-driver control: the same promo values in a random order carry no information about sales, and
    the penalty chosen on validation keeps ridge from being any better for them; the real driver cuts the error."""
    frame = promo_frame()
    without = _ridge_test_mse(windows(tmp_path, frame, targets=["sales"], features=["sales", "noise"]))
    with_driver = _ridge_test_mse(windows(tmp_path, frame, known_future=["promo"], targets=["sales"]))
    shuffled = frame.assign(promo=np.random.default_rng(1).permutation(frame.promo.to_numpy()))
    with_shuffled = _ridge_test_mse(windows(tmp_path, shuffled, known_future=["promo"], targets=["sales"]))
    assert with_driver < 0.3 * without
    assert 0.95 * without < with_shuffled <= 1.01 * without


def test_ridge_leaves_a_driver_out_when_validation_says_it_carries_nothing(tmp_path):
    """Ridge reads the user's known-future column only where it lowers the validation MSE: a real promo is read
    (and the report says so), a shuffled one is left out (its weights zero, the covariates column says none),
    and the refit keeps the choice."""
    frame = promo_frame()
    real = windows(tmp_path, frame, known_future=["promo"], targets=["sales"])
    shuffled = windows(tmp_path, frame.assign(promo=np.random.default_rng(1).permutation(frame.promo.to_numpy())),
                       known_future=["promo"], targets=["sales"])
    for wd, reads in ((real, True), (shuffled, False)):
        model = build("ridge", **wd.shapes)
        chosen = fit_ridge(model, wd.train, wd.val, drivers=user_driver_columns(wd))
        assert chosen["reads_drivers"] is reads
        driver_weights = model.weight[user_driver_columns(wd)]
        assert bool(driver_weights.abs().sum() > 0) is reads
        entry = naive.Ridge()
        entry.fit(Span(wd, fold=1, own=True))
        assert entry.reads_drivers is reads
        assert covariates_read(entry, wd) == (["promo"] if reads else [])
        # fixed choice, e.g. the refit: the same weights whichever side validation would now prefer
        forced = build("ridge", **wd.shapes)
        fit_ridge(forced, wd.train, wd.val, drivers=user_driver_columns(wd), reads_drivers=not reads)
        assert bool(forced.weight[user_driver_columns(wd)].abs().sum() > 0) is (not reads)


def test_a_known_future_column_is_never_repaired(tmp_path):
    """A promotion of a size never seen in training is the user's plan, not sensor garbage: it stays as given."""
    frame = promo_frame()
    frame.loc[300, "promo"] = 50.0
    wd = windows(tmp_path, frame, known_future=["promo"], targets=["sales"])
    assert not [o for o in wd.summary["outliers"] if o["column"] == "promo"]


def test_boolean_known_future_columns_read_as_zero_one(tmp_path):
    frame = promo_frame().assign(holiday=lambda f: f.promo > 0)
    wd = windows(tmp_path, frame, known_future=["holiday"], targets=["sales"], features=["sales"])
    assert wd.future_names == ["holiday"] and wd.n_future == 1


def test_future_values_are_checked_and_named(tmp_path):
    cfg = DataConfig(path="x.csv", known_future=["promo"])
    dates = [pd.date_range("2022-01-01", periods=3, freq="D")]
    with pytest.raises(DataError, match=r"known-future column\(s\) 'promo'.*2022-01-01 \.\. 2022-01-03"):
        known_future_values(None, cfg, dates, None)
    with pytest.raises(DataError, match=r"column\(s\) \['promo'\] not found"):
        known_future_values(pd.DataFrame({"date": dates[0], "price": 1.0}), cfg, dates, None)
    with pytest.raises(DataError, match=r"missing or not numeric on 1 of the 3 forecast dates \(2022-01-03\)"):
        known_future_values(pd.DataFrame({"date": dates[0][:2], "promo": 1.0}), cfg, dates, None)
    path = tmp_path / "future.csv"
    pd.DataFrame({"date": dates[0], "promo": [0, 1, 0]}).to_csv(path, index=False)
    got = known_future_values(path, cfg, dates, None)[0]
    assert got.promo.tolist() == [0.0, 1.0, 0.0]
    panel = DataConfig(path="x.csv", known_future=["promo"], id_column="store")
    with pytest.raises(DataError, match="for series 'b'"):
        known_future_values(pd.DataFrame({"date": dates[0], "store": "a", "promo": 1.0}), panel, dates * 2,
                            ["a", "b"])


def store_panel(n: int = 200) -> pd.DataFrame:
    """Four stores whose level is set by their size and region (static attributes)."""
    rng = np.random.default_rng(0)
    parts = []
    for k, (region, size) in enumerate([("north", 1.0), ("south", 3.0), ("north", 2.0), ("east", 5.0)]):
        sales = 10 * size + np.sin(np.arange(n) / 7) + rng.normal(0, 0.3, n)
        parts.append(pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D"), "store": f"s{k}",
                                   "sales": sales, "region": region, "size": size}))
    return pd.concat(parts, ignore_index=True)


def test_static_columns_are_encoded_once_per_series_and_ride_with_the_known_future_inputs(tmp_path):
    wd = windows(tmp_path, store_panel(), id_column="store", static_columns=["region", "size"])
    statics = ["region=east", "region=north", "region=south", "size"]
    assert wd.target_names == ["sales"] and wd.future_names == statics
    assert wd.summary["static_columns"] == ["region", "size"]
    size = wd.feature_names.index("size")
    # scaled over the series, not within each (where a constant would become 0 and tell no store apart)
    first = {int(s): wd.train.x[i, 0, size] for i, s in enumerate(wd.train.series)}
    assert len({round(float(v), 4) for v in first.values()}) == 4
    for split in (wd.train, wd.test):  # the same value on every input and forecast step of a series
        assert np.allclose(split.x[:, :, size], split.x[:, :1, size])
        assert np.allclose(split.future[:, :, 3], split.x[:, :1, size])


def test_a_static_column_that_changes_within_a_series_is_refused_naming_it(tmp_path):
    frame = store_panel()
    frame.loc[5, "size"] = 7.0
    with pytest.raises(DataError, match="static column 'size' has 2 values .* for series 's0'"):
        windows(tmp_path, frame, id_column="store", static_columns=["region", "size"])
    with pytest.raises(ValueError, match="set data.id_column"):
        DataConfig(static_columns=["region"])


def test_the_covariates_notebook_sweeps_forecasts_with_a_plan_and_says_what_the_promo_bought(
        ray_session, tmp_path, monkeypatch):
    """End to end through the Python API: the ranking names the covariates each entry reads, the report says what
    shuffling the promotions costs the chosen entry, and the forecast follows the plan it is given."""
    import runpy

    monkeypatch.chdir(tmp_path)
    cells = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "notebook_covariates.py"))
    result, plan, future = cells["result"], cells["plan"], cells["future"]
    covariates = dict(zip(result.ranking.model, result.ranking.covariates, strict=True))
    assert covariates["gru_nar"] == "promo" and covariates["ridge"] == "promo"
    assert covariates["persistence"] == "none" and covariates["seasonal_naive"] == "none"
    report = result.report_path.with_name("report.md").read_text()
    assert "What the covariates bought" in report and "promo" in report
    sales = future.sales.to_numpy()
    promoted = plan.promo.to_numpy() == 1
    by_ridge = result.forecast("ridge", future=plan).sales.to_numpy()  # the promotion's effect, fitted in closed form
    assert by_ridge[promoted].min() > by_ridge[~promoted].max()
    moved = result.forecast(future=plan.assign(promo=1 - plan.promo))
    assert not np.allclose(moved.sales.to_numpy(), sales)
    with pytest.raises(DataError, match="known-future column"):
        result.forecast()
    with pytest.raises(DataError, match="missing or not numeric on 1 of the 7"):
        result.forecast(future=plan.iloc[:6])
