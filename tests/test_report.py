"""The ranking report on a real smoke sweep: honest selection, recomputable metrics, a page that renders."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_pipeline import Scaler
from reports.build import build_report
from reports.forecast import main as forecast_main
from reports.runs import best_trials, read_run

CLASSICAL = {"ets", "theta", "arima", "classical_combo"}
ENTRIES = {"lstm_ar", "lstm_nar", "gru_ar", "gru_nar", "transformer", "persistence", "ridge", "seasonal_naive",
           "climatology", *CLASSICAL}


def test_ranking_has_every_architecture_and_both_baselines(smoke_run: Path):
    ranking = pd.read_csv(smoke_run / "report" / "ranking.csv")
    assert set(ranking.model) == ENTRIES and len(ranking) == 13
    assert list(ranking["rank"]) == list(range(1, 14))
    assert ranking.val_mse_mean.is_monotonic_increasing  # ordered by validation, never by test
    persistence = ranking.set_index("model").loc["persistence"]
    assert persistence.skill_vs_persistence == pytest.approx(0.0)


def test_test_metrics_recomputed_from_predictions_match_the_ranking(smoke_run: Path):
    scaler = Scaler.load(smoke_run / "scaler.json")
    preds = pd.read_parquet(smoke_run / "report" / "predictions.parquet")
    ranking = pd.read_csv(smoke_run / "report" / "ranking.csv").set_index("model")
    col = {name: i for i, name in enumerate(scaler.feature_names)}
    idx = preds.target.map(col).to_numpy()
    err = (preds.y_pred.to_numpy() - preds.y_true.to_numpy()) / scaler.scale[idx]
    for model, mask in preds.groupby("model").groups.items():
        e = err[preds.index.get_indexer(mask)]
        assert np.mean(e**2) == pytest.approx(ranking.loc[model, "test_mse"], rel=1e-5)
        assert np.mean(np.abs(e)) == pytest.approx(ranking.loc[model, "test_mae"], rel=1e-5)
    # The ranks follow validation (never the test MSE recomputed above): the chosen trials' validation records.
    chosen = {m: t.best_val_mse for m, t in best_trials(read_run(smoke_run)).items()}
    for model, val in chosen.items():
        assert ranking.loc[model, "val_mse_mean"] == pytest.approx(val)
    assert list(ranking.sort_values("rank").index) == list(ranking.sort_values(["val_mse_mean"]).index)
    n_windows = ranking.test_windows.iloc[0]
    assert preds.groupby("model").forecast_origin.nunique().eq(n_windows).all()


def test_interval_coverage_recomputed_from_predictions_matches_the_ranking(smoke_run: Path):
    preds = pd.read_parquet(smoke_run / "report" / "predictions.parquet")
    ranking = pd.read_csv(smoke_run / "report" / "ranking.csv").set_index("model")
    assert {"lo80", "hi80", "lo95", "hi95"} <= set(preds.columns)
    assert preds[["lo80", "hi80", "lo95", "hi95"]].notna().all().all()
    assert ((preds.lo95 <= preds.lo80) & (preds.lo80 <= preds.y_pred) & (preds.y_pred <= preds.hi80)
            & (preds.hi80 <= preds.hi95)).all()
    for model, frame in preds.groupby("model"):
        for tag in ("80", "95"):
            inside = (frame.y_true >= frame[f"lo{tag}"]) & (frame.y_true <= frame[f"hi{tag}"])
            assert inside.mean() == pytest.approx(ranking.loc[model, f"coverage_{tag}"], abs=1e-9)
    intervals = pd.read_csv(smoke_run / "report" / "intervals.csv")
    assert set(intervals[intervals.method == "conformal"].model) == ENTRIES and set(intervals.level) == {0.8, 0.95}
    assert (intervals.temp_max_width > 0).all()


def test_classical_models_are_ranked_like_every_entry_and_can_be_deployed(smoke_run: Path, capsys):
    ranking = pd.read_csv(smoke_run / "report" / "ranking.csv").set_index("model")
    classical = ranking.loc[sorted(CLASSICAL)]
    assert (classical.kind == "baseline").all() and classical.test_mse.gt(0).all()
    assert classical.test_windows.eq(ranking.test_windows.iloc[0]).all()  # the same windows as every entry
    assert ranking.loc["ets", "hparams"].count("ETS(") == 4  # one chosen form per target (4 weather columns)
    assert ranking.loc["classical_combo", "hparams"] == "members=ets+theta+arima"
    assert classical.train_time_s.gt(0).all()  # the fit time, recorded
    report = (smoke_run / "report" / "report.md").read_text()
    assert "Classical models (ets, theta, arima" in report
    assert "mstl skipped: the data is not hourly or half-hourly" in report  # daily data: one season
    assert len(list((smoke_run / "classical").glob("*.npz"))) == 3  # the fits, cached with the run
    # each model's own intervals (and the combination's, its members' quantiles averaged) are the second interval
    # method (CQR), as Chronos-2's quantiles
    intervals = pd.read_csv(smoke_run / "report" / "intervals.csv")
    assert set(intervals[intervals.method == "cqr"].model) == {f"{m} (CQR)" for m in CLASSICAL}
    # the combination is the mean of the three forecasts, on the same rows of predictions.parquet
    preds = pd.read_parquet(smoke_run / "report" / "predictions.parquet")
    by_model = {m: f.y_pred.to_numpy() for m, f in preds.groupby("model")}
    np.testing.assert_allclose(by_model["classical_combo"],
                               np.mean([by_model[m] for m in ("ets", "theta", "arima")], 0), rtol=1e-4, atol=1e-4)
    assert forecast_main([str(smoke_run), "--model", "theta"]) == 0
    assert "Forecast by theta" in capsys.readouterr().out
    assert len(list((smoke_run / "classical").glob("*.npz"))) == 3  # the forecast read the report's fits, no refit
    frame = pd.read_csv(smoke_run / "forecast.csv", parse_dates=["date"])
    assert len(frame) == 7 and frame.date.iloc[0] == pd.Timestamp("2016-01-01")
    assert frame.temp_max.between(-20, 45).all() and (frame.temp_max_hi80 > frame.temp_max_lo80).all()


def test_a_classical_forecast_filters_from_the_training_rows_it_was_fitted_on(smoke_run: Path, tmp_path: Path,
                                                                              capsys):
    from vega_datasets import local_data

    weather = local_data.seattle_weather()
    prefix, later = tmp_path / "prefix.csv", tmp_path / "later.csv"
    weather.iloc[:1300].to_csv(prefix, index=False)  # the training rows, then fewer later days
    weather.iloc[100:].to_csv(later, index=False)  # starts after the first training day: not the fitted state
    assert forecast_main([str(smoke_run), f"data.path={prefix}", "--model", "ets"]) == 0
    frame = pd.read_csv(smoke_run / "forecast.csv", parse_dates=["date"])
    assert frame.date.iloc[0] == pd.to_datetime(weather.date.iloc[1299]) + pd.Timedelta(days=1)
    assert forecast_main([str(smoke_run), f"data.path={later}", "--model", "ets"]) == 2
    assert "does not begin with the sweep's training rows" in capsys.readouterr().err


def test_report_rebuilds_identically_from_stored_results(smoke_run: Path, tmp_path: Path):
    before = {p.name: p.read_bytes() for p in (smoke_run / "report").glob("*.csv")}
    preds_before = pd.read_parquet(smoke_run / "report" / "predictions.parquet")
    assert subprocess.run([_python(), "-m", "reports", str(smoke_run)], capture_output=True).returncode == 0
    after = {p.name: p.read_bytes() for p in (smoke_run / "report").glob("*.csv")}
    assert before == after
    pd.testing.assert_frame_equal(preds_before, pd.read_parquet(smoke_run / "report" / "predictions.parquet"))


def test_forecast_with_the_winner_writes_the_next_days(smoke_run: Path, capsys):
    assert forecast_main([str(smoke_run)]) == 0
    frame = pd.read_csv(smoke_run / "forecast.csv", parse_dates=["date"])
    targets = ["precipitation", "temp_max", "temp_min", "wind"]
    assert list(frame.columns) == ["date", *[f"{t}{s}" for t in targets for s in ("", "_lo80", "_hi80", "_lo95",
                                                                                   "_hi95")]]
    for t in targets:  # nested intervals around the point forecast, widening with the level
        assert (frame[f"{t}_lo95"] <= frame[f"{t}_lo80"]).all() and (frame[f"{t}_lo80"] <= frame[t]).all()
        assert (frame[t] <= frame[f"{t}_hi80"]).all() and (frame[f"{t}_hi80"] <= frame[f"{t}_hi95"]).all()
        assert (frame[f"{t}_hi80"] > frame[f"{t}_lo80"]).all()
    # The same validation calibration as the report's: each day's half-width above the forecast equals the
    # winner's on test windows (below it, a target with a floor of zero stops there: reports/floors.py).
    winner = capsys.readouterr().out.split("Forecast by ", 1)[1].split(" ", 1)[0]
    preds = pd.read_parquet(smoke_run / "report" / "predictions.parquet")
    preds = preds[preds.model == winner]
    upper = (preds.hi80 - preds.y_pred).groupby([preds.horizon, preds.target]).first()
    for t in targets:
        np.testing.assert_allclose((frame[f"{t}_hi80"] - frame[t]).to_numpy(),
                                   upper.xs(t, level="target").to_numpy(), rtol=1e-4)
    assert (frame["precipitation_lo95"] >= np.minimum(0.0, frame["precipitation"]) - 1e-9).all()  # rain: floor 0
    assert len(frame) == 7 and frame.date.iloc[0] == pd.Timestamp("2016-01-01")
    assert frame.date.diff().dropna().eq(pd.Timedelta(days=1)).all()
    assert frame.temp_max.between(-20, 45).all()  # original units (°C), not z-scores near 0
    assert forecast_main([str(smoke_run), "--model", "nope"]) == 2


def test_html_page_renders_in_headless_chromium_with_every_image(smoke_run: Path, tmp_path: Path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed")
    page = (smoke_run / "report" / "index.html").read_text()
    probe = ("<script>window.addEventListener('load',()=>{const i=[...document.images];"
             "document.body.setAttribute('data-probe',i.length+':'+i.filter(x=>x.complete&&x.naturalWidth>0).length"
             "+':'+document.querySelectorAll('table tbody tr').length)})</script></body>")
    probed = tmp_path / "index.html"
    probed.write_text(page.replace("</body>", probe))
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=90,
    )
    match = re.search(r'data-probe="(\d+):(\d+):(\d+)"', out.stdout)
    assert match, out.stderr[-2000:]
    images, loaded, rows = map(int, match.groups())
    assert images == 6 and loaded == images  # calibration fifth, then the own-interval coverage (ARIMA's)
    assert rows >= 7 + 7 + 7  # ranking, intervals (one row per model), coverage per forecast day
    assert "Prediction intervals" in out.stdout and "cover 80%" in out.stdout and "cover 95%" in out.stdout


def test_a_crash_while_writing_keeps_the_previous_report(smoke_run: Path, monkeypatch):
    import reports.build as build

    before = (smoke_run / "report" / "ranking.csv").read_bytes()

    def crash(*args, **kwargs):
        raise RuntimeError("disk full while rendering")

    monkeypatch.setattr(build, "render_markdown", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        build_report(smoke_run, quiet=True)
    assert (smoke_run / "report" / "ranking.csv").read_bytes() == before
    assert (smoke_run / "report" / "index.html").exists()


def _python() -> str:
    import sys

    return sys.executable


def test_report_reads_results_from_remote_storage_uris(smoke_run: Path, tmp_path: Path):
    """Multi-node sweeps keep checkpoints on s3:// or gs://, and the trial records name them by URI; the report
    mirrors the checkpoints it loads (file:// here)."""
    import json

    from models.run_files import RunFiles
    from models.trial_record import load_record, write_record

    run_copy = tmp_path / "run"
    shutil.copytree(smoke_run, run_copy, ignore=shutil.ignore_patterns("wandb", "ray", "ray-finals", "report"))
    remote = tmp_path / "bucket" / "smoke"
    shutil.copytree(smoke_run, remote, ignore=shutil.ignore_patterns("wandb", "report", RunFiles(smoke_run).trials_dir.name))
    for path in RunFiles(run_copy).trials_dir.glob("*.json"):
        record = load_record(path)
        assert record["checkpoint"] and not Path(record["checkpoint"]).is_absolute()  # inside the run directory
        record["checkpoint"] = f"{remote.as_uri()}/{record['checkpoint']}"
        write_record(path, record)
    meta = json.loads((run_copy / "run.json").read_text())
    meta["experiment_path"] = f"{remote.as_uri()}/ray"
    (run_copy / "run.json").write_text(json.dumps(meta))
    build_report(run_copy, quiet=True)
    assert (run_copy / "checkpoint-mirror").is_dir() and not (run_copy / "ray").exists()
    mirrored = (run_copy / "report" / "ranking.csv").read_bytes()
    assert mirrored == (smoke_run / "report" / "ranking.csv").read_bytes()


def test_forecast_from_a_newer_data_file_and_only_data_overrides(smoke_run: Path, tmp_path: Path):
    from vega_datasets import local_data

    csv = tmp_path / "latest.csv"
    local_data.seattle_weather().iloc[:1000].to_csv(csv, index=False)
    assert forecast_main([str(smoke_run), f"data.path={csv}", "--model", "gru_nar"]) == 0
    frame = pd.read_csv(smoke_run / "forecast.csv", parse_dates=["date"])
    last_day = pd.to_datetime(local_data.seattle_weather().date.iloc[999])
    assert frame.date.iloc[0] == last_day + pd.Timedelta(days=1)
    assert forecast_main([str(smoke_run), "window.input=60"]) == 2
