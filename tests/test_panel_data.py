"""Panels (many series in one file): windows stay inside a series, scalers see only their series' training rows,
scores average over series, and each kind of bad panel input stops with one message naming the ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_pipeline import DataConfig, DataError, SplitConfig, WindowConfig, build_windowed_data
from data_pipeline.synthetic import synthetic_panel
from models import scores

WINDOW = WindowConfig(input=14, output=5)


def _panel(tmp_path, frame: pd.DataFrame, name: str = "panel.csv", **data) -> object:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return build_windowed_data(DataConfig(path=str(path), **data), WINDOW, SplitConfig(), cache=False)


def _long(n_series: int = 4, days: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        dates = pd.date_range("2021-01-01", periods=days, freq="D")
        level = 10.0 ** (i + 1)  # series of very different sizes
        parts.append(pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "store": f"st{i}",
                                   "sales": level * (1 + 0.1 * rng.standard_normal(days)),
                                   "price": 5 + rng.standard_normal(days)}))
    return pd.concat(parts, ignore_index=True)


def test_long_panel_windows_never_cross_series(tmp_path):
    frame = _long()
    data = _panel(tmp_path, frame, id_column="store", targets=["sales"])
    assert data.series_names == ["st0", "st1", "st2", "st3"]
    assert data.is_panel and data.scaler.center.shape == (4, 2)
    for split in (data.train, data.val, data.test):
        assert split.series is not None and len(split.series) == len(split)
        # every window's values (inputs and targets) come from its own series alone: map each one back to
        # original units with its own scaler and find it in that series' rows
        raw_x = data.scaler.inverse(split.x, series=split.series)
        raw_y = data.targets_to_original(split.y, split.series)
        for w in range(0, len(split), 7):
            rows = frame[frame.store == data.series_names[split.series[w]]]
            origin = pd.Timestamp(split.origin[w])
            dates = pd.to_datetime(rows.date)
            before = rows[(dates < origin) & (dates >= origin - pd.Timedelta(days=WINDOW.input))]
            after = rows[(dates >= origin) & (dates < origin + pd.Timedelta(days=WINDOW.output))]
            np.testing.assert_allclose(raw_x[w, :, 0], before.sales, rtol=1e-5)
            np.testing.assert_allclose(raw_y[w, :, 0], after.sales, rtol=1e-5)


def test_one_calendar_cut_for_every_series(tmp_path):
    frame = _long()
    # one series starts 60 days late: it still has the same validation and test dates as the others
    late = frame[(frame.store != "st2") | (pd.to_datetime(frame.date) >= "2021-03-02")]
    data = _panel(tmp_path, late, id_column="store")
    for split in (data.val, data.test):
        first = {data.series_names[i]: pd.Timestamp(split.origin[split.series == i].min()) for i in range(4)}
        assert len(set(first.values())) == 1, first
    assert np.sum(data.train.series == 2) < np.sum(data.train.series == 0)


def test_a_panel_with_a_separate_test_file_tests_every_series_on_that_file_alone(tmp_path):
    frame = _long()
    dates = pd.to_datetime(frame.date)
    (tmp_path / "train.csv").write_text(frame[dates < "2021-06-01"].to_csv(index=False))
    (tmp_path / "test.csv").write_text(frame[dates >= "2021-06-01"].to_csv(index=False))
    data = build_windowed_data(DataConfig(path=str(tmp_path / "train.csv"), test_path=str(tmp_path / "test.csv"),
                                          id_column="store"), WINDOW, SplitConfig(), cache=False)
    test_days = int((dates >= "2021-06-01").sum() / 4)  # 4 series of the same dates
    per_series = np.bincount(data.test.series, minlength=4)
    # every series: all its test-file windows, inputs inside the test file (split.test_inputs_from_train is off)
    assert per_series.tolist() == [test_days - WINDOW.input - WINDOW.output + 1] * 4
    assert pd.Timestamp(data.test.origin.min()) == pd.Timestamp("2021-06-01") + pd.Timedelta(days=WINDOW.input)
    # validation is the tail of the train file, for every series before the test file starts
    assert pd.Timestamp(data.val.origin.max()) < pd.Timestamp("2021-06-01")
    assert set(np.unique(data.val.series)) == {0, 1, 2, 3}


def test_scalers_fit_on_each_series_training_rows_only(tmp_path):
    frame = _long()
    base = _panel(tmp_path, frame, id_column="store")
    cut = pd.Timestamp(base.summary["series"]["cut"]["val_start"])
    changed = frame.copy()
    later = (changed.store == "st1") & (pd.to_datetime(changed.date) >= cut)
    changed.loc[later, "sales"] *= 50  # st1's validation and test values change ...
    other = _panel(tmp_path, changed, "changed.csv", id_column="store")
    np.testing.assert_array_equal(base.scaler.center, other.scaler.center)  # ... its scaler does not
    np.testing.assert_array_equal(base.scaler.scale, other.scaler.scale)
    # and a training value of st1 moves st1's scaler only
    changed = frame.copy()
    changed.loc[(changed.store == "st1") & (pd.to_datetime(changed.date) < cut), "sales"] += 1.0
    moved = _panel(tmp_path, changed, "moved.csv", id_column="store")
    assert not np.allclose(base.scaler.center[1], moved.scaler.center[1])
    np.testing.assert_array_equal(np.delete(base.scaler.center, 1, 0), np.delete(moved.scaler.center, 1, 0))


def test_aggregate_score_is_the_mean_of_per_series_scores(tmp_path):
    frame = _long()
    # st3 ends 12 days early: fewer test windows, so a pooled mean over windows differs from the mean over series
    frame = frame[(frame.store != "st3") | (pd.to_datetime(frame.date) < "2021-07-08")]
    data = _panel(tmp_path, frame, id_column="store", targets=["sales"])
    rng = np.random.default_rng(1)
    pred = data.test.y + rng.normal(0, 1 + data.test.series[:, None, None], data.test.y.shape).astype(np.float32)
    total = scores(data.test.y, pred, data, data.test.mask, data.test.series)
    err = pred.astype(np.float64) - data.test.y
    per_series = [np.mean(err[data.test.series == i] ** 2) for i in range(data.n_series)]
    assert np.bincount(data.test.series)[3] < np.bincount(data.test.series)[0]
    assert total["mse"] == pytest.approx(np.mean(per_series), rel=1e-9)
    assert total["mse"] != pytest.approx(np.mean(err**2), rel=1e-3)
    with pytest.raises(ValueError, match="series id"):
        scores(data.test.y, pred, data, data.test.mask)


def test_wide_panel_matches_long(tmp_path):
    frame = _long(n_series=3)
    wide = frame.pivot(index="date", columns="store", values="sales").reset_index()
    wide["price"] = frame[frame.store == "st0"].price.to_numpy()  # one shared feature
    data = _panel(tmp_path, wide, "wide.csv", series_columns=["st0", "st1", "st2"], targets=["value"])
    assert data.series_names == ["st0", "st1", "st2"]
    assert data.feature_names == ["value", "price"] and data.target_names == ["value"]
    long = _panel(tmp_path, frame.rename(columns={"sales": "value"}).assign(
        price=np.tile(wide.price.to_numpy(), 3)), "long.csv", id_column="store", targets=["value"])
    np.testing.assert_allclose(data.test.y, long.test.y, rtol=1e-6)


def test_single_series_data_is_unchanged():
    data = build_windowed_data(DataConfig(), WindowConfig(), SplitConfig(), cache=False)
    assert not data.is_panel and data.n_series == 1 and data.train.series is None
    assert data.scaler.center.ndim == 1
    np.testing.assert_array_equal(data.test.score_weights(), data.test.mask)  # plain (masked) means, as before


def test_embedded_panel_is_offline_and_seeded():
    a, b = synthetic_panel(), synthetic_panel()
    pd.testing.assert_frame_equal(a, b)
    assert a.series.nunique() >= 20
    lengths = a.groupby("series").size()
    assert lengths.min() >= 300 and lengths.max() > lengths.min()
    levels = a.groupby("series").value.mean()
    assert levels.max() / levels.min() > 10  # different sizes


def test_panel_cache_round_trip(tmp_path):
    cfg = DataConfig(source="synthetic_panel", cache_dir=str(tmp_path))
    first = build_windowed_data(cfg, WINDOW, SplitConfig())
    again = build_windowed_data(cfg, WINDOW, SplitConfig())
    assert again.summary["cache"] == "hit"
    assert again.series_names == first.series_names
    np.testing.assert_array_equal(again.test.series, first.test.series)
    assert again.scaler.matches(first.scaler)
    assert DataConfig(source="synthetic_panel", cache_dir=str(tmp_path), min_series_length=10).model_dump() != \
        cfg.model_dump()  # the panel keys are part of the cache key (the whole data section is)


# ------------------------------------------------------------------------------------------------ bad input


def test_missing_id_column(tmp_path):
    with pytest.raises(DataError, match=r"id column 'shop'.*available columns.*store"):
        _panel(tmp_path, _long(), id_column="shop")


def test_duplicate_id_date_rows_name_the_ids(tmp_path):
    frame = _long()
    dup = pd.concat([frame, frame[(frame.store.isin(["st1", "st3"])) & (frame.date == "2021-02-01")]])
    with pytest.raises(DataError, match=r"duplicate \(id, date\) rows for 2 series: st1 \(2021-02-01\), st3"):
        _panel(tmp_path, dup, id_column="store")


def test_short_series_dropped_with_warning_or_error(tmp_path):
    frame = _long()
    short = frame[(frame.store != "st2") | (pd.to_datetime(frame.date) >= "2021-07-10")]  # only test days
    with pytest.warns(UserWarning, match=r"dropped 1 series.*st2 \(train 0 < 19"):
        data = _panel(tmp_path, short, id_column="store")
    assert data.series_names == ["st0", "st1", "st3"]
    assert "st2" in data.summary["series"]["dropped"]
    with pytest.raises(DataError, match=r"too little history.*st2"):
        _panel(tmp_path, short, id_column="store", min_series_length=10)
    with pytest.raises(DataError, match=r"fewer than data.min_series_length=150 rows: st2 \(10\)"):
        _panel(tmp_path, short, id_column="store", min_series_length=150)


def test_series_sharing_no_dates(tmp_path):
    frame = _long(days=100)
    late = frame[frame.store == "st1"].assign(date=pd.date_range("2023-01-01", periods=100).strftime("%Y-%m-%d"))
    apart = pd.concat([frame[frame.store != "st1"], late])
    with pytest.raises(DataError, match=r"series share no dates: st0 ends 2021-04-10 before st1 starts 2023-01-01"):
        _panel(tmp_path, apart, id_column="store")


def test_id_and_series_columns_are_exclusive():
    with pytest.raises(ValueError, match="not both"):
        DataConfig(id_column="a", series_columns=["b"])
