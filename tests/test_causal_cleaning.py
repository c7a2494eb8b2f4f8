"""Cleaning never looks ahead: a later value (a target day, the next split) changes no earlier value, and targets
that were missing or flagged are left out of every score. Single-file and two-file data both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data
from models import build, evaluate, predict, scores
from models.baselines import fit_ridge

WINDOW = WindowConfig(input=10, output=3)


def _frame(n: int = 400, start: str = "2020-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    return pd.DataFrame({"date": pd.date_range(start, periods=n, freq="D").strftime("%Y-%m-%d"),
                         "a": 10 + np.sin(t / 10) + rng.normal(0, 0.1, n), "b": rng.normal(5, 1, n)})


def _build(tmp_path: Path, df: pd.DataFrame, test: pd.DataFrame | None = None, name: str = "d", **data):
    path = tmp_path / f"{name}.csv"
    df.to_csv(path, index=False)
    test_path = None
    if test is not None:
        test_path = tmp_path / f"{name}-test.csv"
        test.to_csv(test_path, index=False)
        data["test_path"] = str(test_path)
    return build_windowed_data(DataConfig(path=str(path), **data), WINDOW, SplitConfig(), cache=False)


def _rows(n: int = 400) -> tuple[int, int]:
    n_test = round(n * 0.15)
    n_val = round((n - n_test) * 0.15)
    return n - n_test - n_val, n - n_test  # first validation row, first test row


@pytest.mark.parametrize("policy", ["ffill", "clip"])
def test_a_spike_after_the_split_boundary_changes_no_training_or_validation_value(tmp_path, policy):
    df = _frame()
    _, first_test = _rows()
    df.loc[first_test - 1, "a"] = np.nan  # the last validation day is missing and must be repaired
    base = _build(tmp_path, df, name="base", outlier_policy=policy)
    spiked = df.copy()
    spiked.loc[first_test, "a"] += 3.0  # plausible enough not to be flagged: only look-ahead could see it
    spiked.loc[first_test + 1, "a"] = 1e4  # and a garbage value right behind it
    after = _build(tmp_path, spiked, name="spiked", outlier_policy=policy)
    for split in ("train", "val"):
        np.testing.assert_array_equal(getattr(base, split).x, getattr(after, split).x)
        np.testing.assert_array_equal(getattr(base, split).y, getattr(after, split).y)
        np.testing.assert_array_equal(getattr(base, split).mask, getattr(after, split).mask)
    # every test input before the spike is unchanged too
    first = after.test.origin == np.datetime64(pd.Timestamp(df.date[first_test]))
    np.testing.assert_array_equal(base.test.x[first], after.test.x[first])


def test_an_outlier_the_day_before_a_target_window_is_repaired_from_earlier_days_only(tmp_path):
    df = _frame()
    first_val, _ = _rows()
    day = first_val + 20  # the last input day of the validation window whose targets start the day after
    df.loc[day, "a"] = -500.0
    base = _build(tmp_path, df, name="base")
    changed = df.copy()
    changed.loc[day + 1: day + 3, "a"] += 2.0  # the window's target days
    after = _build(tmp_path, changed, name="after")
    origin = np.datetime64(pd.Timestamp(df.date[day + 1]))
    w = int(np.flatnonzero(base.val.origin == origin)[0])
    np.testing.assert_array_equal(base.val.x[w], after.val.x[w])  # all of its inputs, the repaired one included
    # the repair is the last good value before it, in scaled units
    a = base.scaler.transform(df[["a", "b"]].to_numpy())[:, 0]
    assert base.val.x[w, -1, 0] == pytest.approx(a[day - 1], abs=1e-5)
    # the summary says which rule altered the value and why (the rule's reason added by issue #23)
    assert [{k: o[k] for k in ("column", "date", "value", "file", "rule")} for o in base.summary["outliers"]] == [
        {"column": "a", "date": df.date[day], "value": -500.0, "file": str(tmp_path / "base.csv"),
         "rule": "impossible"}]


def test_two_files_a_missing_test_input_is_filled_from_earlier_days_only(tmp_path):
    df = _frame(460)
    train, test = df.iloc[:360].copy(), df.iloc[360:].reset_index(drop=True)
    day = 20
    test.loc[day, "b"] = np.nan
    base = _build(tmp_path, train, test, name="base")
    later = test.copy()
    later.loc[day + 1:, ["a", "b"]] += 1.5  # every later day of the test file
    after = _build(tmp_path, train, later, name="after")
    origin = np.datetime64(pd.Timestamp(test.date[day + 1]))
    w = int(np.flatnonzero(base.test.origin == origin)[0])
    np.testing.assert_array_equal(base.test.x[w], after.test.x[w])
    for split in ("train", "val"):
        np.testing.assert_array_equal(getattr(base, split).x, getattr(after, split).x)
        np.testing.assert_array_equal(getattr(base, split).y, getattr(after, split).y)


def test_outlier_statistics_come_from_the_training_split_only(tmp_path):
    """Without a test file the statistics once came from the whole file: wild later data widened the band."""
    df = _frame()
    first_val, _ = _rows()
    df.loc[first_val - 50, "b"] = 20.0  # implausible against the training split's spread (sd 1)
    base = _build(tmp_path, df, name="base")
    noisy = df.copy()
    rng = np.random.default_rng(1)
    noisy.loc[first_val:, "b"] = rng.normal(5, 6, len(noisy) - first_val)  # later data six times as spread
    after = _build(tmp_path, noisy, name="noisy")
    assert any(o["date"] == df.date[first_val - 50] for o in after.summary["outliers"])
    np.testing.assert_array_equal(base.train.x, after.train.x)


def test_unobserved_targets_are_masked_out_of_every_score(tmp_path):
    df = _frame()
    _, first_test = _rows()
    df.loc[first_test + 5, "a"] = np.nan
    df.loc[first_test + 9, "b"] = 900.0
    data = _build(tmp_path, df)
    assert data.summary["masked_target_cells"] == {"val": 0, "test": 2}
    assert (~data.test.mask).sum() == 3 + 3  # each unobserved day is a target in up to 3 windows
    model = build("persistence", **data.shapes)
    pred = predict(model, data.test.x)
    keep = data.test.mask
    expected = np.mean(((pred - data.test.y) ** 2)[keep])
    assert evaluate(model, data.test, data)["mse"] == pytest.approx(expected, rel=1e-6)
    assert scores(data.test.y, pred, data)["mse"] != pytest.approx(expected, rel=1e-6)  # the mask mattered
    ridge = build("ridge", **data.shapes)
    chosen = fit_ridge(ridge, data.train, data.val)
    assert chosen["val_mse"] == pytest.approx(evaluate(ridge, data.val, data)["mse"], rel=1e-4)
