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

SEVEN = {"lstm_ar", "lstm_nar", "gru_ar", "gru_nar", "transformer", "persistence", "ridge"}


def test_ranking_has_every_architecture_and_both_baselines(smoke_run: Path):
    ranking = pd.read_csv(smoke_run / "report" / "ranking.csv")
    assert set(ranking.model) == SEVEN and len(ranking) == 7
    assert list(ranking["rank"]) == list(range(1, 8))
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
    # The ranks follow the test MSE recomputed from the stored predictions, not the table's own column.
    recomputed = {m: np.mean(err[preds.index.get_indexer(rows)] ** 2) for m, rows in preds.groupby("model").groups.items()}
    assert list(ranking.sort_values("rank").index) == sorted(recomputed, key=recomputed.get)
    n_windows = ranking.test_windows.iloc[0]
    assert preds.groupby("model").forecast_origin.nunique().eq(n_windows).all()


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
    assert list(frame.columns) == ["date", "precipitation", "temp_max", "temp_min", "wind"]
    assert len(frame) == 7 and frame.date.iloc[0] == pd.Timestamp("2016-01-01")
    assert frame.date.diff().dropna().eq(pd.Timedelta(days=1)).all()
    assert frame.temp_max.between(-20, 45).all()  # original units (°C), not z-scores near 0
    assert "Forecast by" in capsys.readouterr().out
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
    assert images == 4 and loaded == images
    assert rows >= 7


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
    """Multi-node sweeps keep results on s3:// or gs://; the report mirrors what it needs (file:// here)."""
    import json

    run_copy = tmp_path / "run"
    shutil.copytree(smoke_run, run_copy, ignore=shutil.ignore_patterns("wandb", "ray", "report"))
    remote = tmp_path / "bucket" / "smoke"
    shutil.copytree(smoke_run / "ray", remote)
    meta = json.loads((run_copy / "run.json").read_text())
    meta["experiment_path"] = remote.as_uri()
    (run_copy / "run.json").write_text(json.dumps(meta))
    build_report(run_copy, quiet=True)
    assert (run_copy / "ray-mirror").is_dir()
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
