"""Ragged series: each series runs from its first observation to its last; nothing is invented outside that span.

Panels whose series start at different dates (products launched later, sensors installed later) and single series
whose columns start late are the normal case: the empty rows before a series' first observation (and after its
last) are cut, never filled, and no window reaches outside the span.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import sweep_argv

from data_pipeline import DataError, build_windowed_data
from data_pipeline.config import DataConfig, SplitConfig, WindowConfig
from reports.data_section import data_tables

STARTS = {"s0": 0, "s1": 0, "s2": 150, "s3": 300}  # leading empty rows per series
ENDS = {"s1": 590}  # s1 stops 10 rows early


def ragged_panel(path: Path, n: int = 600) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"date": pd.date_range("2015-01-01", periods=n, freq="D")})
    for i, (name, start) in enumerate(STARTS.items()):
        values = 10 + i + np.sin(np.arange(n) / 7) + rng.normal(0, 0.3, n)
        values[:start] = np.nan
        values[ENDS.get(name, n):] = np.nan
        frame[name] = values
    frame.to_csv(path, index=False)
    return path


def test_no_window_reaches_outside_a_series_span(tmp_path):
    path = ragged_panel(tmp_path / "ragged.csv")
    raw = pd.read_csv(path, parse_dates=["date"]).set_index("date")
    data = build_windowed_data(DataConfig(path=str(path), series_columns=list(STARTS)), WindowConfig(input=30, output=7),
                               SplitConfig(), cache=False)
    per_series = data.summary["series"]["per_series"]
    step = pd.Timedelta(days=1)
    for i, name in enumerate(data.series_names):
        first, last = raw[name].first_valid_index(), raw[name].last_valid_index()
        assert per_series[name]["start"] == str(first.date()) and per_series[name]["end"] == str(last.date())
        assert per_series[name]["leading_rows_dropped"] == STARTS[name]
        assert per_series[name]["trailing_rows_dropped"] == 600 - ENDS.get(name, 600)
        for split in (data.train, data.val, data.test):
            origins = pd.DatetimeIndex(split.origin[split.series == i])
            assert len(origins)
            assert (origins - data.n_inputs * step).min() >= first  # the first input day is observed
            assert (origins + (data.n_outputs - 1) * step).max() <= last  # the last target day too
    # nothing filled: no gap rows, no missing values repaired (the empty rows were cut, not invented)
    assert data.summary["nan_filled"] == {} and data.summary["gaps"]["missing_rows"] == 0
    assert data.summary["invented_rows"] == []
    # the report's per-series table states each series' span and what was cut
    table = dict(data_tables(data.summary))
    series_table = next(t for title, t in table.items() if title.startswith("Series:"))
    assert series_table.set_index("series").loc["s3", "rows cut before"] == 300


def test_a_column_that_starts_late_starts_the_series(tmp_path):
    n = 400
    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D"),
                          "load": np.sin(np.arange(n) / 5) + 5, "sensor": np.cos(np.arange(n) / 9)})
    frame.loc[:49, "sensor"] = np.nan  # installed on day 50
    frame.loc[n - 3:, "load"] = np.nan  # the last three days not yet recorded
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False)
    data = build_windowed_data(DataConfig(path=str(path)), WindowConfig(input=20, output=5), SplitConfig(), cache=False)
    span = data.summary["span"]
    assert span == {"leading_rows_dropped": 50, "trailing_rows_dropped": 3, "started_last": ["sensor"]}
    assert data.summary["date_range"] == {"start": "2020-02-20", "end": str(frame.date.iloc[n - 4].date())}
    assert data.summary["nan_filled"] == {}
    source = dict(data_tables(data.summary))["Source"].set_index("")
    assert "50 empty row(s) before (sensor started last)" in source.loc["span", "value"]


def test_columns_never_observed_together_are_refused(tmp_path):
    n = 200
    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D"),
                          "old": np.r_[np.ones(100), np.full(100, np.nan)],
                          "new": np.r_[np.full(100, np.nan), np.ones(100)]})
    path = tmp_path / "apart.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"apart\.csv: columns 'old' and 'new' are never observed together"):
        build_windowed_data(DataConfig(path=str(path)), WindowConfig(input=10, output=2), SplitConfig(), cache=False)


@pytest.mark.slow
def test_a_ragged_panel_sweeps_end_to_end(ray_session, tmp_path, data_cache):
    from sweeps.run_all import main

    path = ragged_panel(tmp_path / "ragged.csv")
    runs = tmp_path / "runs"
    argv = sweep_argv(runs, "ragged", data_cache, "--models", "gru_nar", "--wandb-mode", "disabled",
                      f"data.path={path}", f"data.series_columns=[{', '.join(STARTS)}]")
    assert main(argv) == 0
    ranking = pd.read_csv(runs / "ragged" / "report" / "ranking.csv")
    assert {"gru_nar", "ridge", "seasonal_naive"} <= set(ranking.model)
    preds = pd.read_parquet(runs / "ragged" / "report" / "predictions.parquet")
    assert preds.series.nunique() == 4 and preds.scored.all()  # every test target is a real observation
    last_day = (preds.forecast_origin + pd.to_timedelta(preds.horizon - 1, unit="D")).groupby(preds.series).max()
    assert last_day["s1"] == pd.Timestamp("2015-01-01") + pd.Timedelta(days=ENDS["s1"] - 1)  # s1 ends early
    assert "rows cut before" in (runs / "ragged" / "report" / "report.md").read_text()
