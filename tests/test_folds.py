"""Backtest folds and the final refit in the data layer: consecutive validation blocks before a fixed test split,
and no fold (nor the refit) reads a row it must not: rewriting those rows changes nothing it trains on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_pipeline import DataConfig, DataError, SplitConfig, WindowConfig, build_windowed_data
from data_pipeline.splits import fold_split, split_ranges

W = WindowConfig(input=14, output=5)
FOLDS = 3


def _series(days: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return pd.DataFrame({"date": pd.date_range("2020-01-01", periods=days, freq="D").strftime("%Y-%m-%d"),
                         "y": 10 + np.sin(2 * np.pi * t / 7) + 0.3 * rng.standard_normal(days),
                         "x": rng.standard_normal(days)})


def _panel(days: int = 300) -> pd.DataFrame:
    parts = [_series(days, seed=i).assign(store=f"s{i}", y=lambda f, i=i: f.y * 10 ** i) for i in range(3)]
    return pd.concat(parts, ignore_index=True)


def _build(tmp_path, frame: pd.DataFrame, fold, name: str, **data):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return build_windowed_data(DataConfig(path=str(path), **data), W, fold_split(SplitConfig(folds=FOLDS), fold),
                               cache=False)


def test_the_folds_are_consecutive_blocks_before_a_test_split_that_never_moves():
    split = SplitConfig(folds=FOLDS)
    ranges = [split_ranges(1000, None, fold_split(split, j)) for j in range(1, FOLDS + 1)]
    assert [r["val"].stop for r in ranges[:-1]] == [r["val"].start for r in ranges[1:]]
    assert all(r["train"].stop == r["val"].start and r["train"].start == 0 for r in ranges)
    assert ranges[-1] == split_ranges(1000, None, split) == split_ranges(1000, None, SplitConfig())  # the run's own
    assert {r["test"] for r in ranges} == {split_ranges(1000, None, split)["test"]}
    refit = split_ranges(1000, None, fold_split(split, "refit"))
    assert refit["train"].stop == refit["test"].start == ranges[-1]["val"].stop
    with pytest.raises(DataError, match="split.folds=7"):
        split_ranges(100, None, SplitConfig(folds=7, val_fraction=0.2))
    with pytest.raises(ValueError, match="split.fold=4"):
        SplitConfig(folds=3, fold=4)


@pytest.mark.parametrize("kind", ["series", "panel"])
def test_no_fold_reads_its_validation_block_or_later_and_the_refit_never_reads_the_test_split(tmp_path, kind):
    frame = _series() if kind == "series" else _panel()
    extra = {} if kind == "series" else {"id_column": "store"}
    dates = pd.to_datetime(frame.date)
    for fold in [*range(1, FOLDS + 1), "refit"]:
        data = _build(tmp_path, frame, fold, "a.csv", **extra)
        # The first day this fold must not read: its validation block's first day (the test's, for the refit).
        first = data.summary["splits"]["test" if fold == "refit" else "val"]["start"] if kind == "series" else \
            data.summary["series"]["cut"]["test_start" if fold == "refit" else "val_start"]
        later = dates >= pd.Timestamp(first)
        assert 0 < later.sum() < len(frame)
        rewritten = frame.copy()
        rewritten.loc[later, ["y", "x"]] = rewritten.loc[later, ["y", "x"]] * 3.0 + 100.0
        again = _build(tmp_path, rewritten, fold, "b.csv", **extra)
        np.testing.assert_array_equal(data.train.x, again.train.x, err_msg=f"fold {fold}: training inputs moved")
        np.testing.assert_array_equal(data.train.y, again.train.y, err_msg=f"fold {fold}: training targets moved")
        np.testing.assert_array_equal(data.scaler.center, again.scaler.center)
        np.testing.assert_array_equal(data.scaler.scale, again.scaler.scale)
        if fold != "refit":  # validation targets are the block itself: they must see the rewrite
            assert not np.array_equal(data.val.y, again.val.y)


def test_every_fold_and_the_refit_forecast_the_same_test_windows(tmp_path):
    frame = _series()
    runs = {fold: _build(tmp_path, frame, fold, "a.csv") for fold in [*range(1, FOLDS + 1), None, "refit"]}
    base = runs[None]
    for fold, data in runs.items():
        np.testing.assert_array_equal(data.test.origin, base.test.origin)
        np.testing.assert_allclose(data.targets_to_original(data.test.y), base.targets_to_original(base.test.y),
                                   rtol=1e-5, err_msg=f"fold {fold}")
    assert len(runs[1].train) < len(runs[2].train) < len(runs[3].train) == len(base.train) < len(runs["refit"].train)
