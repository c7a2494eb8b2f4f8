"""Calendars: business-day data is recognised as B (weekends are not gaps), `data.frequency=rows` uses no calendar
at all, invented rows are counted per file and warned about, and never scored as targets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import sweep_argv
from pandas.tseries.holiday import USFederalHolidayCalendar
from pydantic import ValidationError

from data_pipeline import (
    DataConfig,
    DataError,
    Scaler,
    SplitConfig,
    WindowConfig,
    build_windowed_data,
    load_series,
)
from data_pipeline.__main__ import human_summary
from data_pipeline.__main__ import main as data_main
from data_pipeline.forecast import forecast_input
from models import scores
from reports import figures
from reports.data_section import data_tables
from reports.evaluate import baseline_scores


def trading_days(start: str, years: int) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """(trading days, the weekday holidays left out): business days minus the US federal holidays (about ten a
    year, close to an exchange's)."""
    end = pd.Timestamp(start) + pd.DateOffset(years=years) - pd.Timedelta(days=1)
    days = pd.bdate_range(start, end)
    holidays = days.intersection(USFederalHolidayCalendar().holidays(start, end))
    return days.difference(holidays), holidays


def write_prices(path: Path, dates: pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    midnight = bool((dates == dates.normalize()).all())
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M"),
                          "close": 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, len(dates)))),
                          "volume": rng.lognormal(10, 0.3, len(dates))})
    frame.to_csv(path, index=False)
    return frame


def cfg(path: Path, tmp_path: Path, **kw) -> DataConfig:
    return DataConfig(path=str(path), cache_dir=str(tmp_path / "cache"), **kw)


def test_a_trading_calendar_is_business_days_and_only_its_holidays_are_filled(tmp_path: Path):
    days, holidays = trading_days("2019-01-01", 3)
    write_prices(tmp_path / "prices.csv", days)
    bundle = load_series(cfg(tmp_path / "prices.csv", tmp_path))
    s = bundle.summary

    assert s["frequency"] == "B" and s["frequency_setting"] == "auto"
    frame = bundle.frame
    assert not (frame.index.day_of_week >= 5).any()  # no weekend row invented
    # every holiday inside the data's span is filled, and nothing else
    inside = holidays[(holidays > days[0]) & (holidays < days[-1])]
    assert frame.index.equals(days.union(inside))
    [inv] = s["invented_rows"]
    assert inv["invented"] == len(inside) == s["gaps"]["missing_rows"] and inv["rows"] == len(frame)
    assert inv["share"] == pytest.approx(len(inside) / len(frame), abs=1e-4) and inv["share"] < 0.05
    assert inv["warning"] is None
    assert {g["start"] for g in s["gaps"]["first"]} <= {str(d.date()) for d in inside}
    # the holiday rows are not observations: repaired as inputs, never scored
    assert bundle.unobserved.loc[inside].all().all()
    assert not bundle.unobserved.drop(inside).any().any()
    # the outlier level spans about a month of business days, not 31 of them
    assert s["outlier_level_rows"] == 22


def test_business_days_stamped_at_the_close_are_business_days_too(tmp_path: Path):
    days, _ = trading_days("2019-01-01", 1)
    write_prices(tmp_path / "closes.csv", days + pd.Timedelta(hours=16))
    bundle = load_series(cfg(tmp_path / "closes.csv", tmp_path))
    assert bundle.summary["frequency"] == "B" and (bundle.frame.index.hour == 16).all()
    assert bundle.summary["invented_rows"][0]["share"] < 0.05


def test_the_same_file_read_as_calendar_days_invents_its_weekends_and_says_what_to_change(tmp_path: Path, capsys):
    days, _ = trading_days("2019-01-01", 3)
    write_prices(tmp_path / "prices.csv", days)
    data = build_windowed_data(cfg(tmp_path / "prices.csv", tmp_path, frequency="D"), WindowConfig(input=20, output=5),
                               SplitConfig())
    [inv] = data.summary["invented_rows"]
    assert inv["share"] > 0.28  # two weekend days in seven, plus the holidays
    for hint in ("data.frequency=B", "data.frequency=rows", "data.gap_policy=error", "prices.csv"):
        assert hint in inv["warning"]
    assert "warning:" in human_summary(data.summary)
    tables = dict(data_tables(data.summary))
    [title] = [t for t in tables if t.startswith("Invented rows")]
    assert "more than 5%" in title and tables[title]["share"].iloc[0] == f"{inv['share']:.1%}"

    assert data_main(["--no-cache", f"data.path={tmp_path / 'prices.csv'}", "data.frequency=D",
                      "window.input=20", "window.output=5"]) == 0
    out = capsys.readouterr().out
    assert "invented:" in out and "data.frequency=B" in out


def test_ten_years_of_trading_days_invent_only_their_holidays_not_a_third_of_the_rows(tmp_path: Path):
    """The issue's case: ten years of a stock's closes read as calendar days invented 31% of the rows."""
    days, holidays = trading_days("2015-01-01", 10)
    write_prices(tmp_path / "prices.csv", days)
    calendar = load_series(cfg(tmp_path / "prices.csv", tmp_path, frequency="D")).summary["invented_rows"][0]
    business = load_series(cfg(tmp_path / "prices.csv", tmp_path)).summary["invented_rows"][0]
    assert calendar["share"] > 0.30 and calendar["warning"]
    inside = holidays[(holidays > days[0]) & (holidays < days[-1])]
    assert business["invented"] == len(inside) and business["share"] < 0.04 and business["warning"] is None


def test_holiday_rows_in_validation_and_test_are_masked_from_every_score(tmp_path: Path):
    days, holidays = trading_days("2019-01-01", 3)
    write_prices(tmp_path / "prices.csv", days)
    data = build_windowed_data(cfg(tmp_path / "prices.csv", tmp_path), WindowConfig(input=20, output=5),
                               SplitConfig())
    assert data.summary["frequency"] == "B"
    for name in ("val", "test"):
        split = data.split(name)
        dates = split.target_dates("B").to_numpy().reshape(split.y.shape[:2])
        on_holiday = np.isin(dates, holidays.to_numpy())
        assert on_holiday.any(), f"the {name} split should hold a holiday for this test to mean anything"
        # a cell is scored exactly when its date was a trading day
        np.testing.assert_array_equal(split.mask, np.repeat(~on_holiday[:, :, None], data.n_targets, axis=2))
        # whatever a model predicts on a holiday, its score does not move
        pred = split.y + 0.1
        wild = np.where(split.mask, pred, 1e6)
        assert scores(split.y, wild, data, split.mask)["mse"] == pytest.approx(scores(split.y, pred, data,
                                                                                      split.mask)["mse"])
        held = len(np.unique(dates[on_holiday])) * data.n_targets
        assert data.summary["masked_target_cells"][name] == held


def test_business_days_give_a_five_step_season_and_weekly_climatology(tmp_path: Path):
    days, _ = trading_days("2015-01-01", 4)
    write_prices(tmp_path / "prices.csv", days)
    data = build_windowed_data(cfg(tmp_path / "prices.csv", tmp_path), WindowConfig(input=20, output=5),
                               SplitConfig())
    results, notes = baseline_scores(data)
    by_name = {r.model: r for r in results}
    assert by_name["seasonal_naive"].hparams["season"] == 5
    assert "climatology" in by_name, notes
    assert figures.step_name(data.summary["frequency"]) == "business day"
    # forecast dates continue on business days: after a Friday comes Monday
    scaler = data.scaler
    friday = days[days.day_of_week == 4][-3]
    write_prices(tmp_path / "upto_friday.csv", days[days <= friday])
    _, dates = forecast_input(cfg(tmp_path / "upto_friday.csv", tmp_path), WindowConfig(input=20, output=5),
                              scaler, scaler.feature_names)
    assert list(dates) == list(pd.bdate_range(friday + pd.Timedelta(days=1), periods=5))
    assert dates[0].day_name() == "Monday"


def irregular_dates(n: int, seed: int = 1) -> pd.DatetimeIndex:
    steps = np.random.default_rng(seed).choice([1, 1, 2, 3, 6], size=n - 1)
    return pd.DatetimeIndex(pd.Timestamp("2020-01-01") + pd.to_timedelta(np.concatenate([[0], np.cumsum(steps)]),
                                                                         unit="D"))


def test_rows_take_consecutive_rows_as_steps_and_keep_their_dates(tmp_path: Path):
    dates = irregular_dates(400)
    frame = write_prices(tmp_path / "events.csv", dates)
    data = build_windowed_data(cfg(tmp_path / "events.csv", tmp_path, frequency="rows"),
                               WindowConfig(input=10, output=3), SplitConfig())
    s = data.summary
    assert s["frequency"] == "rows" and s["rows"] == 400 and s["gaps"]["missing_rows"] == 0
    assert s["invented_rows"][0]["invented"] == 0 and s["invented_rows"][0]["warning"] is None
    assert s["masked_target_cells"] == {"val": 0, "test": 0}
    # each window's origin is the real date of its first target row, and its steps are the next rows
    values = frame.set_index(pd.to_datetime(frame.date))[["close", "volume"]]
    for split in (data.val, data.test):
        w = len(split) // 2
        row = dates.get_loc(pd.Timestamp(split.origin[w]))
        np.testing.assert_allclose(data.targets_to_original(split.y[w]), values.iloc[row:row + 3], rtol=1e-5)
        np.testing.assert_allclose(data.scaler.inverse(split.x[w]), values.iloc[row - 10:row], rtol=1e-5)
    with pytest.raises(ValueError, match="no calendar"):
        data.test.target_dates("rows")

    results, notes = baseline_scores(data)
    assert {r.model for r in results} == {"persistence", "ridge"}
    assert any("Seasonal naive skipped" in n and "baselines.season" in n for n in notes)
    assert any("Climatology skipped" in n and "rows" in n for n in notes)
    assert {r.model for r in baseline_scores(data, season=5)[0]} == {"persistence", "ridge", "seasonal_naive"}
    assert figures.forecast_examples(results, data, tmp_path).stat().st_size > 0
    assert figures.step_name("rows") == "step"
    assert dict(data_tables(s))["Source"].set_index("").loc["calendar", "value"].startswith("none")
    # no future date can be invented for a forecast
    scaler = Scaler.from_dict(data.scaler.to_dict())
    x, future_dates = forecast_input(cfg(tmp_path / "events.csv", tmp_path, frequency="rows"),
                                     WindowConfig(input=10, output=3), scaler, scaler.feature_names)
    assert future_dates is None and x.shape == (1, 10, 2)


def test_rows_with_a_test_file_continue_from_the_training_rows(tmp_path: Path):
    dates = irregular_dates(300)
    write_prices(tmp_path / "train.csv", dates[:240])
    write_prices(tmp_path / "test.csv", dates[240:], seed=2)
    bundle = load_series(cfg(tmp_path / "train.csv", tmp_path, frequency="rows", test_path=str(tmp_path / "test.csv")))
    assert bundle.freq is None and bundle.summary["test_contiguous"] is True
    assert [e["invented"] for e in bundle.summary["invented_rows"]] == [0, 0]
    assert bundle.frame.index.equals(dates)


def test_invented_rows_are_counted_per_file(tmp_path: Path):
    days, holidays = trading_days("2019-01-01", 3)
    cut = pd.Timestamp("2021-06-01")
    write_prices(tmp_path / "train.csv", days[days < cut])
    write_prices(tmp_path / "test.csv", days[days >= cut], seed=2)
    s = load_series(cfg(tmp_path / "train.csv", tmp_path, test_path=str(tmp_path / "test.csv"))).summary
    train_inv, test_inv = s["invented_rows"]
    assert s["frequency"] == "B" and test_inv["file"].endswith("test.csv")
    train_days, test_days = days[days < cut], days[days >= cut]
    # each file fills the holidays inside its own span (one between the files is in neither)
    assert train_inv["invented"] == len(holidays[(holidays > train_days[0]) & (holidays < train_days[-1])]) > 0
    assert test_inv["invented"] == len(holidays[(holidays > test_days[0]) & (holidays < test_days[-1])]) > 0


def test_auto_infers_whole_days_when_daily_data_has_gaps(tmp_path: Path):
    dates = pd.date_range("2020-01-01", periods=200, freq="D").delete([50, 51, 120])  # weekends present
    write_prices(tmp_path / "daily.csv", dates)
    s = load_series(cfg(tmp_path / "daily.csv", tmp_path)).summary
    assert s["frequency"] == "D" and s["invented_rows"][0]["invented"] == 3


@pytest.mark.parametrize(("given", "dates", "expected"), [
    ("M", pd.date_range("2010-01-01", periods=60, freq="MS"), "MS"),
    ("M", pd.date_range("2010-01-31", periods=60, freq="ME"), "ME"),
    ("H", pd.date_range("2010-01-01", periods=300, freq="h"), "h"),
    ("B", pd.bdate_range("2010-01-01", periods=300), "B"),
    ("W-MON", pd.date_range("2010-01-04", periods=150, freq="W-MON"), "W-MON"),
])
def test_an_explicit_frequency_is_used_as_given(given: str, dates: pd.DatetimeIndex, expected: str, tmp_path: Path):
    write_prices(tmp_path / "s.csv", dates)
    s = load_series(cfg(tmp_path / "s.csv", tmp_path, frequency=given)).summary
    assert s["frequency"] == expected and s["frequency_setting"] == given


def test_dates_off_an_explicit_calendar_are_an_error_naming_the_file_and_dates(tmp_path: Path):
    days, _ = trading_days("2019-01-01", 1)
    dates = days.union(pd.DatetimeIndex(["2019-03-09"]))  # a Saturday
    write_prices(tmp_path / "prices.csv", dates)
    with pytest.raises(DataError, match=r"prices\.csv: 1 date\(s\) do not fall on the B grid.*2019-03-09"):
        load_series(cfg(tmp_path / "prices.csv", tmp_path, frequency="B"))
    # auto sees a weekend row, so it is calendar days, not B
    assert load_series(cfg(tmp_path / "prices.csv", tmp_path)).summary["frequency"] == "D"


def test_bad_frequency_values_name_the_key_and_what_is_allowed(tmp_path: Path, capsys):
    with pytest.raises(ValidationError, match="'fortnightly' is not a frequency; use auto, rows or a pandas alias"):
        DataConfig(frequency="fortnightly")
    assert data_main(["data.frequency=fortnightly"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: config error: data.frequency: 'fortnightly' is not a frequency") and "rows" in err
    with pytest.raises(ValidationError, match="data.calendar_features needs a calendar"):
        DataConfig(frequency="rows", calendar_features=True)


@pytest.mark.slow
def test_a_stock_like_file_sweeps_on_business_days_end_to_end(ray_session, tmp_path: Path, data_cache: Path):
    """Trading days only (weekends and holidays absent): the sweep runs on B, the report says so and gives the
    invented share, and a forecast continues on business days (or on bare steps under data.frequency=rows)."""
    from reports.forecast import forecast
    from sweeps.run_all import main

    days, holidays = trading_days("2018-01-01", 3)
    write_prices(tmp_path / "prices.csv", days)
    argv = sweep_argv(tmp_path / "runs", "prices", data_cache, f"data.path={tmp_path / 'prices.csv'}",
                      "data.targets=[close]", "window.input=20", "window.output=5", "--models", "gru_nar",
                      "--wandb-mode", "disabled")
    assert main(argv) == 0
    run = tmp_path / "runs" / "prices"
    summary = json.loads((run / "data_summary.json").read_text())
    [inv] = summary["invented_rows"]
    inside = holidays[(holidays > days[0]) & (holidays < days[-1])]
    assert summary["frequency"] == "B" and inv["invented"] == len(inside) and inv["warning"] is None

    report = (run / "report" / "report.md").read_text()
    assert "| frequency | B |" in report and "business days" in report
    assert "Invented rows" in report and f"{inv['share']:.1%}" in report
    ranking = pd.read_csv(run / "report" / "ranking.csv")
    assert {"gru_nar", "seasonal_naive", "climatology"} <= set(ranking.model)  # season 5; two years of training

    frame = forecast(run)
    last = days[-1]
    assert list(pd.to_datetime(frame.date)) == list(pd.bdate_range(last + pd.Timedelta(days=1), periods=5))
    steps = forecast(run, model="persistence", overrides=["data.frequency=rows"])
    assert list(steps.step) == ["+1", "+2", "+3", "+4", "+5"] and "data.frequency=rows" in steps.attrs["note"]
    # persistence reads the last real row alone, which both calendars share (under B the window also holds invented
    # holiday rows that rows does not): the same forecast, only the labels differ
    on_days = forecast(run, model="persistence")
    np.testing.assert_allclose(steps.close, on_days.close, rtol=1e-5)
