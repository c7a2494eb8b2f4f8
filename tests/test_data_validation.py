"""Every bad-data case raises DataError with a message that says where and what; plus settings parsing.

Over 300 lines: one short test per bad-data case, all against the same small fixture files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import delhi

from data_pipeline import (
    DataConfig,
    DataError,
    SplitConfig,
    WindowConfig,
    apply_overrides,
    build_windowed_data,
    load_series,
    load_yaml,
)

GARBAGE_PRESSURE = [7679.3, 1352.6, 1350.3, 938.1, 946.3, 633.9, 310.4, 12.0, -3.0]


def _frame(n: int = 120, start: str = "2020-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    d = pd.date_range(start, periods=n, freq="D")
    t = np.arange(n)
    return pd.DataFrame(
        {
            "date": d.strftime("%Y-%m-%d"),
            "a": 10 + np.sin(t / 10) + rng.normal(0, 0.1, n),
            "b": rng.normal(5, 1, n),
        }
    )


def _write(tmp_path: Path, df: pd.DataFrame, name: str = "d.csv") -> str:
    p = tmp_path / name
    df.to_csv(p, index=False)
    return str(p)


def _load(path: str, **kw) -> object:
    return load_series(DataConfig(path=path, **kw))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: file not found \(data\.path\)"):
        _load(str(tmp_path / "nope.csv"))


def test_bad_extension(tmp_path):
    p = tmp_path / "d.xlsx"
    p.write_text("date,a\n2020-01-01,1\n")
    with pytest.raises(DataError, match=r"unsupported extension '\.xlsx'.*\.csv or \.parquet"):
        _load(str(p))


def test_unreadable_parquet(tmp_path):
    p = tmp_path / "d.parquet"
    p.write_text("this is not parquet")
    with pytest.raises(DataError, match=r"d\.parquet: cannot be read"):
        _load(str(p))


def test_empty_file_and_header_only(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("")
    with pytest.raises(DataError, match="empty"):
        _load(str(p))
    p.write_text("date,a\n")
    with pytest.raises(DataError, match="no data rows"):
        _load(str(p))


def test_missing_date_column(tmp_path):
    df = _frame().rename(columns={"date": "day"})
    with pytest.raises(
        DataError, match=r"date column 'date' not found; available columns: \['day', 'a', 'b'\]"
    ):
        _load(_write(tmp_path, df))


def test_unparsable_date_names_line(tmp_path):
    df = _frame()
    df.loc[5, "date"] = "not-a-date"
    with pytest.raises(DataError, match=r"'not-a-date'.*line 7"):
        _load(_write(tmp_path, df))


def test_non_numeric_feature_names_value(tmp_path):
    df = _frame()
    df["a"] = df["a"].astype(object)
    df.loc[3, "a"] = "n/a?"
    with pytest.raises(DataError, match=r"column 'a' is not numeric: value 'n/a\?' on 2020-01-04"):
        _load(_write(tmp_path, df))


def test_text_column_ignored_by_default(tmp_path):
    df = _frame()
    df["label"] = "sunny"
    b = _load(_write(tmp_path, df))
    assert b.feature_names == ["a", "b"]
    assert b.summary["ignored_columns"] == ["label"]


def test_unknown_feature_and_target(tmp_path):
    p = _write(tmp_path, _frame())
    with pytest.raises(
        DataError, match=r"data\.features names unknown column\(s\) \['zz'\]; available columns"
    ):
        _load(p, features=["a", "zz"])
    with pytest.raises(DataError, match=r"data\.targets names unknown column\(s\) \['q'\]"):
        _load(p, targets=["q"])


def test_targets_first_then_features_then_calendar(tmp_path):
    b = _load(_write(tmp_path, _frame()), targets=["b"], calendar_features=True)
    assert b.feature_names == ["b", "a", "doy_sin", "doy_cos", "dow_sin", "dow_cos"]
    assert b.target_names == ["b"]


def test_duplicate_dates(tmp_path):
    df = _frame()
    df.loc[10, "date"] = df.loc[9, "date"]
    with pytest.raises(DataError, match=r"1 duplicate date\(s\).*2020-01-10"):
        _load(_write(tmp_path, df))


def test_unsorted_dates_sorted_with_note(tmp_path):
    df = _frame()
    shuffled = df.sample(frac=1.0, random_state=1)
    b = _load(_write(tmp_path, shuffled))
    assert b.train.index.is_monotonic_increasing
    assert any("sorted" in n for n in b.summary["notes"])
    ref = _load(_write(tmp_path, df, "ref.csv"))
    np.testing.assert_allclose(b.train.to_numpy(), ref.train.to_numpy())


def test_gaps_reported_and_filled(tmp_path):
    df = _frame().drop(index=[20, 21, 22, 50])
    p = _write(tmp_path, df)
    b = _load(p)
    g = b.summary["gaps"]
    assert g["count"] == 2 and g["missing_rows"] == 4
    assert g["first"][0]["start"] == "2020-01-21" and g["first"][0]["end"] == "2020-01-23"
    assert len(b.train) == 120 and not b.train.isna().any().any()
    assert b.summary["gap_policy"] == "ffill"
    assert b.train.loc["2020-01-23", "a"] == pytest.approx(df.loc[19, "a"])
    # `interpolate`, the old name of the same repair, still reads (old configs and run directories), with a warning
    with pytest.warns(FutureWarning, match=r"data\.gap_policy=interpolate is now called ffill"):
        renamed = _load(p, gap_policy="interpolate")
    assert renamed.summary["gap_policy"] == "ffill"
    pd.testing.assert_frame_equal(renamed.train, b.train)
    # causal repair: the last observed value carries forward (never a later day's)
    assert b.train.loc["2020-01-22", "a"] == pytest.approx(df.loc[19, "a"])
    with pytest.raises(DataError, match=r"2 gap\(s\).*2020-01-21\.\.2020-01-23.*gap_policy"):
        _load(p, gap_policy="error")


def test_nan_policy(tmp_path):
    df = _frame()
    df.loc[30, "b"] = np.nan
    p = _write(tmp_path, df)
    b = _load(p)
    assert b.summary["nan_filled"] == {"b": 1}
    assert b.train.loc["2020-01-31", "b"] == pytest.approx(df.loc[29, "b"])  # the day before, never the day after
    with pytest.raises(DataError, match=r"column 'b' is empty on 2020-01-31.*nan_policy=ffill"):
        _load(p, nan_policy="error")


def test_all_nan_column(tmp_path):
    df = _frame()
    df["b"] = np.nan
    with pytest.raises(DataError, match="column 'b' has no values"):
        _load(_write(tmp_path, df), features=["a", "b"])


def test_too_short_series_names_split(tmp_path):
    p = _write(tmp_path, _frame(40))
    with pytest.raises(DataError, match=r"the val split has 5 rows but needs at least output = 7 rows"):
        build_windowed_data(DataConfig(path=p), WindowConfig(input=5, output=7), SplitConfig(), cache=False)
    with pytest.raises(
        DataError, match=r"the train split has \d+ rows but needs at least input\+output = 37"
    ):
        build_windowed_data(
            DataConfig(path=p), WindowConfig(input=30, output=7), SplitConfig(val_fraction=0.3), cache=False
        )


def test_parquet_roundtrip(tmp_path):
    df = _frame()
    df["date"] = pd.to_datetime(df["date"])
    p = tmp_path / "d.parquet"
    df.to_parquet(p)
    b = _load(str(p))
    assert len(b.train) == 120 and b.summary["frequency"] == "D"


# --- outliers -------------------------------------------------------------------------------------


def _flagged(b, column="meanpressure"):
    return [o for o in b.summary["outliers"] if o["column"] == column]


def test_delhi_garbage_pressure_all_flagged_nothing_else(caplog):
    with caplog.at_level(logging.WARNING, logger="data_pipeline"):
        b = _load(str(delhi("train")))
    vals = sorted(o["value"] for o in _flagged(b))
    assert len(vals) == 9
    np.testing.assert_allclose(vals, sorted(GARBAGE_PRESSURE), atol=0.1)
    assert len(b.summary["outliers"]) == 9, "meantemp/humidity/wind_speed must not be flagged"
    assert b.summary["outlier_policy"] == "ffill"
    assert "implausible" in caplog.text
    assert b.train["meanpressure"].between(980, 1040).all()


def test_delhi_garbage_the_robust_z_rule_flags_the_same_nine():
    b = _load(str(delhi("train")), outlier_rule="robust_z")
    np.testing.assert_allclose(sorted(o["value"] for o in _flagged(b)), sorted(GARBAGE_PRESSURE), atol=0.1)
    assert len(b.summary["outliers"]) == 9 and {o["rule"] for o in b.summary["outliers"]} == {"robust_z"}
    assert b.summary["unusual"] == []  # the rule before reports nothing as unusual: it repairs


def test_seattle_nothing_flagged():
    b = load_series(DataConfig())
    assert b.summary["outliers"] == []
    assert len(b.train) == 1461 and b.feature_names == ["precipitation", "temp_max", "temp_min", "wind"]


def test_outlier_keep_and_clip():
    kept = _load(str(delhi("train")), outlier_policy="keep")
    assert len(_flagged(kept)) == 9
    assert kept.train.loc["2016-03-28", "meanpressure"] == pytest.approx(7679.333, abs=1e-3)
    clipped = _load(str(delhi("train")), outlier_policy="clip")
    v = clipped.train.loc["2016-03-28", "meanpressure"]
    assert 1000 < v < 1100  # pulled to the robust upper bound, not left at 7679
    assert clipped.train.loc["2016-08-16", "meanpressure"] > 900
    # Clipping touches the flagged values and nothing else.
    flagged = clipped.train.index.isin(pd.to_datetime([o["date"] for o in _flagged(kept)]))
    changed = clipped.train["meanpressure"] != kept.train["meanpressure"]
    assert changed[~flagged].sum() == 0 and changed[flagged].all()
    assert (clipped.train["meantemp"] == kept.train["meantemp"]).all()


def test_delhi_overlap_and_test_outlier():
    with pytest.warns(UserWarning, match="2017-01-01.*kept the test file"):
        b = _load(str(delhi("train")), test_path=str(delhi("test")), outlier_policy="keep")
    assert b.summary["overlap_dropped"] == {"count": 1, "dates": ["2017-01-01"]}
    assert b.train.index[-1] == pd.Timestamp("2016-12-31")
    assert b.test.loc["2017-01-01", "meantemp"] == pytest.approx(15.91304347826087)  # the test file's row
    test_flags = [o for o in b.summary["outliers"] if o["file"] == str(delhi("test"))]
    assert [(o["column"], o["date"], o["value"]) for o in test_flags] == [
        ("meanpressure", "2017-01-01", 59.0)
    ]


def test_test_file_missing_column(tmp_path):
    df = pd.read_csv(delhi("test")).drop(columns=["humidity"])
    with pytest.raises(DataError, match=r"test file lacks column\(s\) \['humidity'\]"):
        _load(str(delhi("train")), test_path=_write(tmp_path, df, "t.csv"))


# --- settings -------------------------------------------------------------------------------------


def test_apply_overrides_parsing():
    raw = {"data": {"path": "a.csv"}, "window": {"input": 30}}
    out = apply_overrides(
        raw,
        [
            "data.path=foo.csv",
            "window.output=14",
            "models.gru_ar.hidden_size={grid: [32, 64]}",
            "data.test_path=null",
            "split.val_fraction=0.2",
        ],
    )
    assert out["data"] == {"path": "foo.csv", "test_path": None}
    assert out["window"] == {"input": 30, "output": 14}
    assert out["models"]["gru_ar"]["hidden_size"] == {"grid": [32, 64]}
    assert out["split"]["val_fraction"] == 0.2
    assert raw == {"data": {"path": "a.csv"}, "window": {"input": 30}}  # input not mutated
    for bad in ["window.output", "=3", "a..b=1"]:
        with pytest.raises(DataError, match="override"):
            apply_overrides({}, [bad])
    with pytest.raises(DataError, match="not a section"):
        apply_overrides({"data": 3}, ["data.path=x"])


def test_load_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("data:\n  path: x.csv\nwindow: {input: 10}\n")
    assert load_yaml(p) == {"data": {"path": "x.csv"}, "window": {"input": 10}}
    p.write_text("data: [unclosed\n")
    with pytest.raises(DataError, match="invalid YAML"):
        load_yaml(p)
    p.write_text("- 1\n- 2\n")
    with pytest.raises(DataError, match="mapping"):
        load_yaml(p)
    with pytest.raises(DataError, match="not found"):
        load_yaml(tmp_path / "missing.yaml")
