"""The Python API (sweeps.sweep / open_run): frames in each recognised layout, errors as exceptions, the example.

The Ray sweeps (one per layout, smoke profile, one architecture) are shared by the assertions on them."""

from __future__ import annotations

import runpy
from pathlib import Path

import pandas as pd
import pytest

import sweeps
from data_pipeline import DataError
from data_pipeline.frames import read_frame, write_frame
from data_pipeline.synthetic import synthetic_panel
from models.run_files import RunFiles
from sweeps.config import ConfigError, load_config
from sweeps.overrides import override_string

REPO = Path(__file__).resolve().parents[1]
INTERVAL_SUFFIXES = ("_lo80", "_hi80", "_lo95", "_hi95")


def _panel(ids: int = 3) -> pd.DataFrame:
    """The embedded synthetic panel (long: date, series, value), cut to a few series for speed."""
    df = synthetic_panel()
    return df[df.series.isin(sorted(df.series.unique())[:ids])].reset_index(drop=True)


def nixtla_frame() -> pd.DataFrame:
    return _panel().rename(columns={"series": "unique_id", "date": "ds", "value": "y"})


def autogluon_frame() -> pd.DataFrame:
    """As an AutoGluon TimeSeriesDataFrame holds it: (item_id, timestamp) as the index, a `target` column."""
    return _panel().rename(columns={"series": "item_id", "date": "timestamp", "value": "target"}).set_index(
        ["item_id", "timestamp"])


# --- layouts, without Ray ---------------------------------------------------------------------------------------

def test_long_layouts_are_recognised_by_their_column_names():
    nixtla = read_frame(nixtla_frame().assign(price=1.0))
    assert nixtla.keys == ["data.id_column=unique_id", "data.date_column=ds", "data.targets=[y]"]
    assert "Nixtla" in nixtla.layout and list(nixtla.frame.columns) == ["ds", "unique_id", "y", "price"]
    autogluon = read_frame(autogluon_frame())
    assert autogluon.keys == ["data.id_column=item_id", "data.date_column=timestamp", "data.targets=[target]"]
    assert list(autogluon.frame.columns) == ["item_id", "timestamp", "target"]  # the index became columns


def test_a_wide_frame_with_a_datetime_index_is_one_series():
    wide = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]},
                        index=pd.date_range("2024-01-01", periods=3, freq="D"))
    read = read_frame(wide)
    assert read.keys == ["data.date_column=date"] and "one multivariate series" in read.layout
    assert list(read.frame.columns) == ["date", "a", "b"]
    named = read_frame(wide.rename_axis("Day Time"))
    assert named.keys == ["data.date_column=Day Time"]
    with pytest.raises(DataError, match="would become column 'a'"):
        read_frame(wide.rename_axis("a"))


def test_frames_that_cannot_be_swept_are_named():
    with pytest.raises(DataError, match="has no rows"):
        read_frame(pd.DataFrame({"ds": []}))
    with pytest.raises(DataError, match="pandas DataFrame or the path"):
        read_frame([1, 2, 3])


def test_the_users_own_keys_win_over_the_layouts():
    frame = read_frame(nixtla_frame())
    cfg = load_config(None, ["data.targets=[y, price]"], profile="smoke", base_overrides=frame.keys)
    assert cfg.data.targets == ["y", "price"] and cfg.data.id_column == "unique_id" and cfg.data.date_column == "ds"


@pytest.mark.parametrize("value", [1e-5, "2020-01-01", "yes", [32, 64], {"grid": [32, 64]}, None, True, "x: y"])
def test_python_values_reach_the_config_as_themselves(value):
    import yaml

    assert yaml.safe_load(override_string("k", value).partition("=")[2]) == value


def test_a_frame_is_written_once_and_another_never_over_a_started_sweep(tmp_path: Path):
    path = RunFiles(tmp_path / "run").frame
    first = read_frame(nixtla_frame())
    assert write_frame(first, path, sweep_started=False)
    assert not write_frame(read_frame(nixtla_frame()), path, sweep_started=True)  # the same rows: kept as is
    other = read_frame(nixtla_frame().assign(y=lambda d: d.y + 1))
    with pytest.raises(DataError, match="already holds a sweep of another DataFrame"):
        write_frame(other, path, sweep_started=True)
    assert path.read_bytes() == first.parquet
    assert write_frame(other, path, sweep_started=False)  # nothing started yet: the new frame replaces it


def test_a_frames_run_is_named_by_the_frame_and_the_settings():
    from sweeps.api import _frame_run_name

    digest = read_frame(nixtla_frame()).digest
    name = _frame_run_name(digest, "smoke", ["gru_nar"], ["train.seed=1"], None)
    assert name.startswith("frame-") and name.endswith("-smoke")
    assert name == _frame_run_name(digest, "smoke", ["gru_nar"], ["train.seed=1"], None)  # the same cell again
    assert name != _frame_run_name(digest, "smoke", ["gru_nar"], ["train.seed=2"], None)
    assert name != _frame_run_name(digest, "smoke", ["transformer"], ["train.seed=1"], None)
    assert name != _frame_run_name(read_frame(nixtla_frame().iloc[1:]).digest, "smoke", ["gru_nar"],
                                   ["train.seed=1"], None)


# --- errors are exceptions with the CLI's messages, and leave nothing behind --------------------------------------

def test_bad_values_raise_the_clis_messages(tmp_path: Path):
    with pytest.raises(ConfigError, match="window.input"):
        sweeps.sweep(nixtla_frame(), runs_dir=tmp_path, **{"window.input": 0})
    with pytest.raises(ConfigError, match=r"unknown model\(s\) lstm"):
        sweeps.sweep(nixtla_frame(), runs_dir=tmp_path, models="lstm,gru_ar")
    with pytest.raises(ConfigError, match="unknown option 'epochs'.*dotted"):
        sweeps.sweep(nixtla_frame(), runs_dir=tmp_path, epochs=3)
    with pytest.raises(ConfigError, match="data is given twice"):
        sweeps.sweep(nixtla_frame(), runs_dir=tmp_path, overrides={"data.path": "x.csv"})
    with pytest.raises(DataError, match="/nonexistent/file.csv"):
        sweeps.sweep("/nonexistent/file.csv", runs_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_bad_rows_in_a_frame_stop_before_any_trial_and_leave_no_run_directory(tmp_path: Path):
    frame = nixtla_frame()
    duplicated = pd.concat([frame, frame.iloc[:1]], ignore_index=True)
    with pytest.raises(DataError, match=r"duplicate \(id, date\) rows"):
        sweeps.sweep(duplicated, profile="smoke", runs_dir=tmp_path, models=["gru_nar"])
    assert not any(tmp_path.iterdir())


# --- real sweeps ------------------------------------------------------------------------------------------------

LAYOUTS = {"nixtla": nixtla_frame, "autogluon": autogluon_frame}


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def swept(request, ray_session, tmp_path_factory, data_cache) -> tuple[str, sweeps.SweepResult]:
    runs = tmp_path_factory.mktemp(f"api-{request.param}")
    result = sweeps.sweep(LAYOUTS[request.param](), profile="smoke", models=["gru_nar"], runs_dir=runs,
                          wandb_mode="disabled", **{"data.cache_dir": str(data_cache)})
    return request.param, result


@pytest.mark.slow
def test_a_long_frame_gives_a_ranking_and_a_forecast_with_intervals(swept):
    layout, result = swept
    target = {"nixtla": "y", "autogluon": "target"}[layout]
    assert {"gru_nar", "ridge", "persistence"} <= set(result.ranking.model)
    assert result.ranking["rank"].tolist() == sorted(result.ranking["rank"])
    assert result.winner == result.ranking.model.iloc[0]
    assert set(result.predictions.series) == {"s00", "s01", "s02"} and set(result.predictions.target) == {target}
    forecast = result.forecast()
    assert list(forecast.columns) == ["series", "date", target, *(target + s for s in INTERVAL_SUFFIXES)]
    assert len(forecast) == 3 * 7  # window.output steps per series
    assert (forecast[f"{target}_lo95"] <= forecast[f"{target}_lo80"]).all()
    assert (forecast[f"{target}_lo80"] <= forecast[target]).all() and (forecast[target] <= forecast[f"{target}_hi80"]).all()
    assert result.files.frame.exists() and result.report_path.exists()
    assert "<table" in result._repr_html_() and result.winner in result._repr_html_()
    assert result.show_report()._repr_html_().startswith("<iframe srcdoc=")


@pytest.mark.slow
def test_reopening_and_rebuilding_the_run_give_the_same_ranking(swept):
    _, result = swept
    pd.testing.assert_frame_equal(sweeps.open_run(result.run_dir).ranking, result.ranking)
    # A rebuild reads the frame back from data.parquet and passes the data-identity check.
    rebuilt = sweeps.open_run(result.run_dir, rebuild=True).ranking
    pd.testing.assert_frame_equal(rebuilt.drop(columns=["train_time_s"], errors="ignore"),
                                  result.ranking.drop(columns=["train_time_s"], errors="ignore"))


@pytest.mark.slow
def test_the_same_frame_again_reuses_the_run_and_another_is_refused(swept, data_cache):
    layout, result = swept
    again = sweeps.sweep(LAYOUTS[layout](), profile="smoke", models=["gru_nar"], runs_dir=result.run_dir.parent,
                         wandb_mode="disabled", **{"data.cache_dir": str(data_cache)})
    assert again.run_dir == result.run_dir and again.outcome.resumed
    pd.testing.assert_frame_equal(again.ranking, result.ranking)
    changed = LAYOUTS[layout]().iloc[5:]
    with pytest.raises(DataError, match="already holds a sweep of another DataFrame"):
        sweeps.sweep(changed, profile="smoke", models=["gru_nar"], runs_dir=result.run_dir.parent,
                     name=result.run_dir.name, wandb_mode="disabled")


@pytest.mark.slow
def test_the_notebook_example_sweeps_a_wide_frame_end_to_end(ray_session, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # its runs/ and data cache land here
    cells = runpy.run_path(str(REPO / "examples" / "notebook_quickstart.py"))
    result, future = cells["result"], cells["future"]
    assert {"gru_nar", "transformer", "ridge"} <= set(result.ranking.model)
    targets = ["precipitation", "temp_max", "temp_min", "wind"]
    assert list(future.columns) == ["date", *[c for t in targets for c in (t, *(t + s for s in INTERVAL_SUFFIXES))]]
    assert len(future) == 7
    pd.testing.assert_frame_equal(cells["again"].ranking, result.ranking)
    out = capsys.readouterr().out
    assert "wide frame with a DatetimeIndex" in out
    # One line for the search phase, rewritten in place as trials end; no line per trial, no Ray Tune banner.
    assert "\r[" in out and "search: 2/2 trials" in out and "done   gru_nar" not in out
    assert "Configuration for experiment" not in out and "View detailed results" not in out
