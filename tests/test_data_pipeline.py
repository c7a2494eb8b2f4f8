"""Splits, scaling, window counts, cache, forecast input and the CLI on real data."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import delhi

from data_pipeline import (
    DataConfig,
    SplitConfig,
    WindowConfig,
    build_windowed_data,
    forecast_input,
    load_series,
)

REPO = Path(__file__).resolve().parents[1]
W = WindowConfig(input=30, output=7)


def _delhi(tmp_path, **split):
    cfg = DataConfig(path=str(delhi("train")), test_path=str(delhi("test")), cache_dir=str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return build_windowed_data(cfg, W, SplitConfig(**split)), cfg


@pytest.fixture(scope="module")
def seattle(tmp_path_factory):
    cfg = DataConfig(cache_dir=str(tmp_path_factory.mktemp("c")), calendar_features=True)
    return build_windowed_data(cfg, W, SplitConfig()), cfg


def test_delhi_window_counts(tmp_path):
    wd, _ = _delhi(tmp_path)
    n_train_file = 1461  # 1462 rows minus the 2017-01-01 overlap
    n_val = round(n_train_file * 0.15)
    n_train = n_train_file - n_val
    assert wd.summary["windows"] == {
        "train": n_train - 30 - 7 + 1,
        "val": n_val - 7 + 1,
        "test": 114 - 30 - 7 + 1,
    }
    assert len(wd.test) == 78
    wd2, _ = _delhi(tmp_path, test_inputs_from_train=True)
    assert len(wd2.test) == 114 - 7 + 1
    assert (wd2.test.origin[:1] == np.datetime64("2017-01-01")).all()


def test_seattle_window_counts_formula(seattle):
    wd, _ = seattle
    n = 1461
    n_test = round(n * 0.15)
    n_val = round((n - n_test) * 0.15)
    n_train = n - n_test - n_val
    assert wd.summary["windows"] == {"train": n_train - 36, "val": n_val - 6, "test": n_test - 6}
    assert wd.train.x.shape == (n_train - 36, 30, 8) and wd.train.y.shape == (n_train - 36, 7, 4)
    for s in (wd.train, wd.val, wd.test):
        assert s.x.dtype == np.float32 and s.y.dtype == np.float32
        assert s.x.flags.c_contiguous and s.y.flags.c_contiguous
        assert s.origin.dtype == np.dtype("datetime64[ns]")


@pytest.mark.parametrize("which", ["seattle", "delhi"])
def test_split_boundaries(which, seattle, tmp_path):
    wd = seattle[0] if which == "seattle" else _delhi(tmp_path)[0]
    day = np.timedelta64(1, "D")
    last_target = {}
    for name in ("train", "val", "test"):
        r = wd.summary["splits"][name]
        lo, hi = np.datetime64(r["start"], "ns"), np.datetime64(r["end"], "ns")
        s = wd.split(name)
        assert (s.origin >= lo).all() and (s.origin + (wd.n_outputs - 1) * day <= hi).all()
        assert np.all(np.diff(s.origin) == day)  # stride 1, no window skipped
        last_target[name] = (s.origin[0], s.origin[-1] + (wd.n_outputs - 1) * day)
    assert last_target["train"][1] < last_target["val"][0]
    assert last_target["val"][1] < last_target["test"][0]


def test_windows_match_cleaned_series(tmp_path):
    wd, cfg = _delhi(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        frame = load_series(cfg).frame
    for name in ("train", "val", "test"):
        s = wd.split(name)
        for i in (0, len(s) - 1):
            t = frame.index.get_loc(pd.Timestamp(s.origin[i]))
            np.testing.assert_allclose(
                wd.scaler.inverse(s.x[i]), frame.iloc[t - 30 : t].to_numpy(), rtol=1e-5, atol=1e-4
            )
            np.testing.assert_allclose(
                wd.targets_to_original(s.y[i]), frame.iloc[t : t + 7].to_numpy(), rtol=1e-5, atol=1e-4
            )


def test_scaler_fitted_on_train_only(tmp_path):
    wd, cfg = _delhi(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        frame = load_series(cfg).frame
    train_end = pd.Timestamp(wd.summary["splits"]["train"]["end"])
    train_rows = frame.loc[:train_end].to_numpy()
    np.testing.assert_allclose(wd.scaler.center, train_rows.mean(axis=0))
    np.testing.assert_allclose(wd.scaler.scale, train_rows.std(axis=0))
    # changing a test-period value must not move the scaler
    df = pd.read_csv(delhi("test"))
    df.loc[50, "meantemp"] += 5.0
    changed = tmp_path / "test_changed.csv"
    df.to_csv(changed, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        wd2 = build_windowed_data(
            cfg.model_copy(update={"test_path": str(changed)}), W, SplitConfig(), cache=False
        )
    np.testing.assert_array_equal(wd2.scaler.center, wd.scaler.center)
    np.testing.assert_array_equal(wd2.scaler.scale, wd.scaler.scale)
    assert not np.array_equal(wd2.test.x, wd.test.x)


def test_robust_scaler_and_roundtrip(tmp_path):
    cfg = DataConfig(scaler="robust", cache_dir=str(tmp_path))
    wd = build_windowed_data(cfg, W, SplitConfig(), cache=False)
    # precipitation: median 0 and a possibly-zero IQR must not produce inf
    assert np.isfinite(wd.train.x).all() and (wd.scaler.scale > 0).all()
    raw = np.array([[1.0, 20.0, 10.0, 3.0]])
    np.testing.assert_allclose(wd.scaler.inverse(wd.scaler.transform(raw)), raw, rtol=1e-5)


def test_cache_hit_identical(tmp_path):
    cfg = DataConfig(cache_dir=str(tmp_path))
    a = build_windowed_data(cfg, W, SplitConfig())
    assert a.summary["cache"] == "miss" and len([p for p in tmp_path.iterdir() if (p / "meta.json").exists()]) == 1
    b = build_windowed_data(cfg, W, SplitConfig())
    assert b.summary["cache"] == "hit"
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(a.split(name).x, b.split(name).x)
        np.testing.assert_array_equal(a.split(name).y, b.split(name).y)
        np.testing.assert_array_equal(a.split(name).origin, b.split(name).origin)
    np.testing.assert_array_equal(a.scaler.center, b.scaler.center)
    assert a.feature_names == b.feature_names and a.summary["windows"] == b.summary["windows"]
    # a different window config is a different cache entry
    c = build_windowed_data(cfg, WindowConfig(input=14, output=7), SplitConfig())
    assert c.summary["cache"] == "miss" and len([p for p in tmp_path.iterdir() if (p / "meta.json").exists()]) == 2


def test_cache_invalidated_by_file_contents(tmp_path):
    src = tmp_path / "d.csv"
    df = pd.read_csv(delhi("train"))
    df.to_csv(src, index=False)
    cfg = DataConfig(path=str(src), cache_dir=str(tmp_path / "c"))
    a = build_windowed_data(cfg, W, SplitConfig())
    df.loc[10, "meantemp"] += 1
    df.to_csv(src, index=False)
    b = build_windowed_data(cfg, W, SplitConfig())
    assert b.summary["cache"] == "miss" and not np.array_equal(a.train.x, b.train.x)


def test_forecast_input(tmp_path):
    wd, cfg = _delhi(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        x, dates = forecast_input(cfg, W, wd.scaler, wd.feature_names)
    assert x.shape == (1, 30, 4) and x.dtype == np.float32
    assert list(dates) == list(pd.date_range("2017-04-25", periods=7, freq="D"))
    # the last test window ends the day before the last test target; the forecast input ends on the last day
    np.testing.assert_allclose(x[0, :-7], wd.test.x[-1, 7:], rtol=1e-6)


def test_summary_is_json(seattle):
    wd, _ = seattle
    s = json.loads(json.dumps(wd.summary))
    assert s["feature_names"][-4:] == ["doy_sin", "doy_cos", "dow_sin", "dow_cos"]
    assert s["rows"] == 1461 and s["frequency"] == "D" and s["source"] == "embedded:seattle_weather"


def _cli(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", "data_pipeline", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_cli_json_delhi(tmp_path):
    delhi("train")  # skips where the files are absent
    rel = Path("..") / "shared" / "data" / "delhi_climate"
    r = _cli(
        f"data.path={rel / 'DailyDelhiClimateTrain.csv'}",
        f"data.test_path={rel / 'DailyDelhiClimateTest.csv'}",
        f"data.cache_dir={tmp_path}",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["windows"]["test"] == 78
    assert set(out["windows"]) == {"train", "val", "test"}


def test_cli_errors(tmp_path):
    r = _cli("window.input=0")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: config error: window.input: Input should be greater than 0"
    r = _cli("data.path=missing.csv")
    assert r.returncode == 2 and r.stderr.startswith("error: missing.csv: file not found")
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data:\n  bogus: 1\nmodels:\n  anything: goes\n")
    r = _cli("--config", str(cfg))
    assert r.returncode == 2 and "data.bogus" in r.stderr


def test_the_shared_dates_warning_is_given_once_per_process(tmp_path):
    """A sweep and then its report build the same data in one process: one warning, not two."""
    cfg = DataConfig(path=str(delhi("train")), test_path=str(delhi("test")),
                     cache_dir=str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = build_windowed_data(cfg, WindowConfig(), SplitConfig())
        second = build_windowed_data(cfg, WindowConfig(), SplitConfig())
    assert (first.summary["cache"], second.summary["cache"]) == ("miss", "hit")
    assert sum("kept the test file" in str(w.message) for w in caught) == 1
