"""Issue #40: every awkward file is read right or refused in one line that names the file (or "the DataFrame"), the
column or key, and what to do. One test per case a user hit; the values are real (vega_datasets' Seattle weather,
Seattle hourly temperatures and monthly stock prices), the format quirks are written here. Through the CLI, each
refusal comes before any Ray trial starts: exit 2 and a single `error:` line, no traceback.

Over 300 lines: one short test per awkward file of the issue, each building its own small file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vega_datasets import local_data

import sweeps
from data_pipeline import DataConfig, DataError, SplitConfig, WindowConfig, build_windowed_data, load_series
from data_pipeline.dates import parse_dates
from data_pipeline.frames import read_frame
from data_pipeline.layouts import LONG_LAYOUTS
from data_pipeline.outlier_stats import fit_outlier_stats
from reports.runs import RunDirError
from sweeps.config import ConfigError, load_config
from sweeps.run_all import main


def seattle(n: int | None = 200) -> pd.DataFrame:
    df = local_data.seattle_weather()
    return df if n is None else df.head(n)


def stocks() -> pd.DataFrame:
    return local_data.stocks()  # symbol, date (monthly), price: five series in one long table


def _load(path: Path | str, **kw) -> object:
    return load_series(DataConfig(path=str(path), **kw))


def _build(path: Path | str, window: tuple[int, int] = (30, 7), **kw) -> object:
    return build_windowed_data(DataConfig(path=str(path), **kw), WindowConfig(input=window[0], output=window[1]),
                               SplitConfig(), cache=False)


def _cli(capsys, tmp_path: Path, *args: str) -> tuple[int, str]:
    """run_all's exit code and its one error line (asserting there is exactly one and no traceback)."""
    code = main(["--profile", "smoke", "--models", "gru_nar", "--runs-dir", str(tmp_path / "runs"),
                 f"data.cache_dir={tmp_path / 'cache'}", *args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    errors = [line for line in out.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out.err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("params.json"))  # no trial ran
    return code, errors[0]


# 1. a file of five rows ------------------------------------------------------------------------------------------

def test_a_tiny_file_says_how_many_rows_it_needs(tmp_path, capsys):
    path = tmp_path / "tiny.csv"
    seattle(5).to_csv(path, index=False)
    fit_outlier_stats(seattle(3).set_index("date")[["temp_max"]], pd.offsets.Day())  # no percentile error
    with pytest.raises(DataError, match=r"tiny\.csv: the train split has 3 rows.*the series has 5 rows; these "
                                        r"windows and splits need at least 52"):
        _build(path)
    code, line = _cli(capsys, tmp_path, f"data.path={path}")
    assert code == 2 and "tiny.csv" in line and "need at least 52" in line


def test_an_unforeseen_failure_is_wrapped_with_the_files_name(tmp_path, capsys, monkeypatch):
    path = tmp_path / "weather.csv"
    seattle().to_csv(path, index=False)

    def broken(*_a, **_k):
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr("data_pipeline.series.fit_outlier_stats", broken)
    code, line = _cli(capsys, tmp_path, f"data.path={path}")
    assert code == 2 and str(path) in line and "RuntimeError: something nobody foresaw" in line and "--debug" in line
    with pytest.raises(DataError, match="could not be read"):
        main(["--debug", "--runs-dir", str(tmp_path / "runs"), f"data.path={path}",
              f"data.cache_dir={tmp_path / 'cache'}"])


# 2. local times across a clock change ----------------------------------------------------------------------------

def test_local_times_across_a_clock_change_are_read_as_utc(tmp_path):
    temps = local_data.seattle_temps().head(96)  # real hourly values, on four days around a clock change
    local = pd.Series(pd.date_range("2010-03-13 08:00", periods=96, freq="h", tz="UTC").tz_convert(
        "America/Los_Angeles"))  # from 00:00-08:00 local, past 2010-03-14 02:00 (-07:00 from then on)
    path = tmp_path / "hourly.csv"
    pd.DataFrame({"date": local.map(lambda t: t.isoformat(sep=" ")), "temp": temps.temp}).to_csv(path, index=False)
    assert "2010-03-13 00:00:00-08:00" in path.read_text() and "2010-03-14 03:00:00-07:00" in path.read_text()
    b = _load(path)
    assert b.freq == pd.offsets.Hour() and len(b.frame) == 96
    assert b.frame.index.equals(pd.DatetimeIndex(local.dt.tz_convert("UTC").dt.tz_localize(None), name="date"))
    assert b.summary["gaps"]["count"] == 0 and any("UTC" in n and "'date'" in n for n in b.summary["notes"])


# 3. decimal commas, and text columns ---------------------------------------------------------------------------

def test_decimal_commas_are_refused_naming_the_column_and_the_key(tmp_path, capsys):
    df = seattle()
    written = df.assign(temp_max=df.temp_max.map(lambda v: f"{v}".replace(".", ",")))
    path = tmp_path / "comma.csv"
    written.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"comma\.csv: column 'temp_max' holds numbers written with a decimal comma"
                                        r" \('12,8'\); set data\.decimal=','"):
        _load(path)
    code, line = _cli(capsys, tmp_path, f"data.path={path}")
    assert code == 2 and "temp_max" in line and "data.decimal" in line
    b = _load(path, decimal=",")
    assert "temp_max" in b.feature_names
    np.testing.assert_allclose(b.train.temp_max.to_numpy()[:20], df.temp_max.to_numpy()[:20])
    # leaving the column out is a choice the user makes by listing the others
    assert _load(path, features=["temp_min"]).feature_names == ["temp_min"]


def test_a_dropped_text_column_is_in_the_notes_and_seattle_still_runs():
    b = load_series(DataConfig())  # the embedded Seattle weather, with its `weather` labels
    assert "weather" not in b.feature_names
    assert any("['weather'] ignored: not numeric" in n for n in b.summary["notes"])


# 4. dates written day-first ------------------------------------------------------------------------------------

def _day_first_stock(tmp_path: Path) -> Path:
    msft = stocks().query("symbol == 'MSFT'")
    path = tmp_path / "msft.csv"
    pd.DataFrame({"date": msft.date.dt.strftime("%d/%m/%Y"), "price": msft.price}).to_csv(path, index=False)
    return path


def test_monthly_dates_written_day_first_are_read_day_first_with_a_note(tmp_path):
    path = _day_first_stock(tmp_path)
    assert path.read_text().splitlines()[2].startswith("01/02/2000")
    b = _load(path)
    assert b.summary["frequency"] == "MS" and len(b.frame) == 123
    assert b.summary["invented_rows"][0]["invented"] == 0
    assert b.frame.index[1] == pd.Timestamp("2000-02-01")
    assert any("read day-first ('01/02/2000' is 2000-02-01)" in n and "data.dayfirst=false" in n
               for n in b.summary["notes"])
    explicit = _load(path, dayfirst=True)
    assert explicit.frame.index.equals(b.frame.index) and not any("day-first" in n for n in explicit.summary["notes"])


def test_day_first_dates_that_only_exist_day_first_are_read_so():
    raw = pd.Series(["12/01/2020", "13/01/2020", "14/01/2020"])  # 13/01 has no month-first reading
    dates, notes = parse_dates(raw, "f.csv", "date")
    assert list(dates.dt.day) == [12, 13, 14] and "read day-first ('12/01/2020' is 2020-01-12)" in notes[0]


def test_ambiguous_day_or_month_first_dates_are_refused_naming_the_key(tmp_path, capsys):
    path = tmp_path / "ambiguous.csv"
    days = ["01/02/2019", "03/04/2019", "05/06/2019", "07/08/2019", "09/10/2019", "11/12/2019", "02/01/2020"]
    pd.DataFrame({"date": days, "v": seattle(7).temp_max}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"ambiguous\.csv: dates in column 'date' like '01/02/2019' read both "
                                        r"day-first and month-first.*data\.dayfirst=true"):
        _load(path)
    code, line = _cli(capsys, tmp_path, f"data.path={path}")
    assert code == 2 and "data.dayfirst" in line
    assert _load(path, dayfirst=False, frequency="rows").frame.index[0] == pd.Timestamp("2019-01-02")


# 5. an empty data.path -----------------------------------------------------------------------------------------

def test_an_empty_data_path_is_refused(tmp_path, capsys):
    code, line = _cli(capsys, tmp_path, "data.path=")
    assert code == 2 and "data.path is empty" in line
    with pytest.raises(ConfigError, match="data.path is empty"):
        load_config(None, ["data.path=''"])
    with pytest.raises(ConfigError, match="data.path is empty"):
        sweeps.sweep("", runs_dir=tmp_path / "runs")
    with pytest.raises(ValueError, match="data.test_path is empty"):
        DataConfig(path="x.csv", test_path=" ")


# 6. a CSV saved with its pandas index -------------------------------------------------------------------------

def test_a_saved_row_counter_is_dropped_with_a_note(tmp_path):
    path = tmp_path / "indexed.csv"
    seattle().to_csv(path)  # index=True: an `Unnamed: 0` column 0..n-1
    assert path.read_text().startswith(",date")
    b = _load(path)
    assert b.feature_names == ["precipitation", "temp_max", "temp_min", "wind"]
    assert any("['Unnamed: 0'] dropped: an unnamed row counter" in n for n in b.summary["notes"])
    # an unnamed column that is not a row counter is data, and stays
    odd = seattle().rename(columns={"wind": "Unnamed: 5"})
    odd.to_csv(path, index=False)
    assert "Unnamed: 5" in _load(path).feature_names


# 7. a DataFrame whose dates sit in an unnamed index level -------------------------------------------------------

def test_a_frame_indexed_by_series_and_unnamed_dates_is_read_as_a_panel(tmp_path):
    long = stocks().set_index(["symbol", "date"]).rename_axis(["symbol", None])
    read = read_frame(long)
    assert read.keys == ["data.id_column=symbol", "data.date_column=date"]
    assert list(read.frame.columns) == ["symbol", "date", "price"]
    unnamed = read_frame(stocks().set_index(["symbol", "date"]).rename_axis([None, None]))
    assert unnamed.keys == ["data.id_column=id", "data.date_column=date"]
    path = tmp_path / "data.parquet"
    path.write_bytes(read.parquet)
    cfg = load_config(None, [f"data.path={path}"], profile="smoke", base_overrides=read.keys)
    wd = build_windowed_data(cfg.data, cfg.window, cfg.split, cache=False)
    assert {"AAPL", "IBM", "MSFT"} <= set(wd.series_names)


def test_a_long_frame_with_an_unnamed_datetime_index_names_its_series_column():
    read = read_frame(stocks().set_index("date").rename_axis(None))
    assert read.keys == ["data.id_column=symbol", "data.date_column=date"] and "one series per 'symbol'" in read.layout
    wide = read_frame(stocks().query("symbol == 'MSFT'").set_index("date").rename_axis(None)[["price"]])
    assert wide.keys == ["data.date_column=date"]


# 8. a run directory with a malformed run record -----------------------------------------------------------------

def test_open_run_names_a_malformed_run_record(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("name: x\n")
    with pytest.raises(RunDirError, match=r"run/config\.yaml: malformed run record \(missing section\(s\) data"):
        sweeps.open_run(run)
    (run / "config.yaml").write_text("data: [unclosed\n")
    with pytest.raises(RunDirError, match=r"config\.yaml: malformed run record \(cannot be read as YAML"):
        sweeps.open_run(run)
    (run / "config.yaml").write_text("data: {}\nwindow: {}\nsplit: {}\ntrain: {}\n")
    (run / "run.json").write_text('{"experiment_path": ')
    with pytest.raises(RunDirError, match=r"run/run\.json: malformed run record \(not valid JSON"):
        sweeps.open_run(run)
    (run / "run.json").write_text(json.dumps({"name": "x"}))  # names no storage: refused by name too
    with pytest.raises(RunDirError, match=r"run/run\.json: malformed run record \(no experiment_path"):
        sweeps.open_run(run)
    (run / "trials").mkdir()  # a run whose trials keep their own records: run.json is not read to open it
    (run / "config.yaml").write_text("data: {frequency: fortnightly}\nwindow: {}\nsplit: {}\ntrain: {}\n")
    with pytest.raises(RunDirError, match=r"config\.yaml: malformed run record"):
        sweeps.open_run(run)


# 9. errors about a DataFrame name the DataFrame -----------------------------------------------------------------

def test_errors_about_a_frame_name_the_dataframe_not_its_stored_copy(tmp_path):
    with pytest.raises(DataError) as err:
        sweeps.sweep(seattle(5), profile="smoke", models=["gru_nar"], runs_dir=tmp_path / "runs")
    message = str(err.value)
    assert message.startswith("the DataFrame: the train split has 3 rows") and "data.parquet" not in message
    assert "\n" not in message and not any((tmp_path / "runs").rglob("*"))


# 10. duplicate dates with a column that names series -------------------------------------------------------------

def test_duplicate_dates_suggest_the_id_column(tmp_path, capsys):
    path = tmp_path / "stocks.csv"
    stocks().to_csv(path, index=False)
    with pytest.raises(DataError, match=r"stocks\.csv: \d+ duplicate date\(s\) in column 'date'.*set "
                                        r"data\.id_column=symbol"):
        _load(path)
    code, line = _cli(capsys, tmp_path, f"data.path={path}")
    assert code == 2 and "data.id_column=symbol" in line
    twice = tmp_path / "twice.csv"  # one series with a repeated day: no series column to suggest
    pd.concat([seattle(), seattle(1)]).to_csv(twice, index=False)
    with pytest.raises(DataError, match=r"twice\.csv: 1 duplicate date\(s\) in column 'date': 2012-01-01; keep one "
                                        r"row per date$"):
        _load(twice)
    assert len(build_windowed_data(DataConfig(path=str(path), id_column="symbol"), WindowConfig(),
                                   SplitConfig(), cache=False).series_names) >= 4


# 11. compressed CSVs and other separators -------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz"])
def test_compressed_csvs_are_read(tmp_path, suffix):
    path = tmp_path / f"weather{suffix}"
    seattle().to_csv(path, index=False)
    b = _load(path)
    assert len(b.frame) == 200 and b.feature_names == ["precipitation", "temp_max", "temp_min", "wind"]


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_separators_are_read(tmp_path, sep):
    path = tmp_path / "weather.csv"
    seattle().to_csv(path, index=False, sep=sep)
    b = _load(path)
    assert len(b.frame) == 200 and b.feature_names == ["precipitation", "temp_max", "temp_min", "wind"]


def test_a_european_csv_semicolons_and_decimal_commas(tmp_path):
    path = tmp_path / "weather.csv.gz"
    with gzip.open(path, "wt") as f:
        seattle().to_csv(f, index=False, sep=";", decimal=",")
    with pytest.raises(DataError, match="data.decimal"):
        _load(path)
    b = _load(path, decimal=",")
    np.testing.assert_allclose(b.train.wind.to_numpy()[:10], seattle().wind.to_numpy()[:10])


# 12. a constant target ------------------------------------------------------------------------------------------

def test_a_constant_target_is_noted(tmp_path):
    path = tmp_path / "flat.csv"
    seattle().assign(sensor=3.0).to_csv(path, index=False)
    wd = _build(path, targets=["sensor", "temp_max"], features=["sensor", "temp_max"])
    notes = wd.summary["notes"]
    assert any("target 'sensor' is constant in the training split (3)" in n and "MASE" in n for n in notes)
    assert not any("'temp_max' is constant" in n for n in notes)


# issue #38: a file in Nixtla's or AutoGluon's layout ----------------------------------------------------------

@pytest.mark.parametrize("layout", sorted(LONG_LAYOUTS))
def test_a_file_in_a_long_layout_implies_its_keys(tmp_path, capsys, layout):
    from sweeps.api import _file_layout

    id_col, date_col, target = LONG_LAYOUTS[layout]
    path = tmp_path / "long.csv"
    stocks().rename(columns={"symbol": id_col, "date": date_col, "price": target}).assign(
        volume=1.0).to_csv(path, index=False)
    cfg = load_config(None, [f"data.path={path}"], profile="smoke")
    name, keys = _file_layout(cfg)
    assert layout in name and keys == [f"data.id_column={id_col}", f"data.date_column={date_col}",
                                       f"data.targets=[{target}]"]
    # the user's own keys win over the layout's
    mine = load_config(None, [f"data.path={path}", f"data.targets=[{target}, volume]"], profile="smoke",
                       base_overrides=keys)
    assert mine.data.targets == [target, "volume"] and mine.data.id_column == id_col
    wd = build_windowed_data(mine.data, mine.window, mine.split, cache=False)
    assert {"AAPL", "IBM", "MSFT"} <= set(wd.series_names)  # GOOG (68 months) may be too short: dropped, warned
    # through the CLI the file is read in its layout: the first refusal is about the window, not a date column
    code, line = _cli(capsys, tmp_path, f"data.path={path}", "window.input=500")
    assert code == 2 and "date column" not in line and "too short for one window" in line
