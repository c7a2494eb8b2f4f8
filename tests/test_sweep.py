"""The sweep engine on a real local Ray: smoke sweep, W&B offline files, user CSV, faults, bad CLI values."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import FIVE, sweep_argv
from wandb_records import history, tags

from reports.runs import read_run
from sweeps.run_all import main


def test_smoke_sweep_trains_all_five_and_writes_the_run_dir(smoke_run: Path):
    run = read_run(smoke_run)
    assert {t.model for t in run.trials} == set(FIVE)
    assert all(t.status == "finished" and t.epochs == 2 for t in run.trials), [(t.model, t.status) for t in run.trials]
    for name in ("config.yaml", "scaler.json", "data_summary.json", "trials.json", "run.json"):
        assert (smoke_run / name).exists(), name
    summary = json.loads((smoke_run / "data_summary.json").read_text())
    assert summary["windows"]["test"] > 0


def _epoch_rows(smoke_run: Path, trial_id: str) -> list[dict] | None:
    """The epoch rows of a trial's offline W&B file so far, or None while there is no file for it."""
    files = [f for f in (smoke_run / "wandb").glob("offline-run-*/run-*.wandb") if f.stem.endswith(trial_id)]
    if not files:
        return None
    from google.protobuf.message import DecodeError

    try:
        rows = history(files[0])
    except DecodeError:  # its last record is being written right now
        return None
    return [row for row in rows if "val_mse" in row and not row.get("trial_finished")]


def test_wandb_offline_files_hold_each_trials_epoch_metrics(smoke_run: Path):
    run = read_run(smoke_run)
    # W&B's writer is its own process: it may still be writing a trial's file (a worker's run is closed as the
    # trial ends, on a loaded machine seconds later) when the sweep returns. Wait for every row, however long that
    # takes, up to a generous bound; what the rows say is then checked in full.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        logged = {t.trial_id: _epoch_rows(smoke_run, t.trial_id) for t in run.trials}
        if all(rows is not None and len(rows) >= 2 for rows in logged.values()):
            break
        time.sleep(0.5)
    for trial in run.trials:
        logged = _epoch_rows(smoke_run, trial.trial_id)
        assert logged is not None, f"no readable W&B file for trial {trial.trial_id} ({trial.model})"
        assert [row["epoch"] for row in logged] == [1, 2]
        assert [row["val_mse"] for row in logged] == pytest.approx([r["val_mse"] for r in trial.history])
        wandb_file = next((smoke_run / "wandb").glob(f"offline-run-*/run-*{trial.trial_id}.wandb"))
        assert tags(wandb_file) == [trial.model]


@pytest.mark.slow
def test_a_user_csv_a_models_subset_and_selection_by_validation(ray_session, tmp_path: Path, data_cache: Path):
    from vega_datasets import local_data

    csv = tmp_path / "my_weather.csv"
    local_data.seattle_weather().rename(columns={"date": "day"}).to_csv(csv, index=False)
    argv = sweep_argv(tmp_path / "runs", "csv", data_cache, f"data.path={csv}", "data.date_column=day",
                      "data.targets=[temp_max]", "--models", "gru_nar,transformer", "--wandb-mode", "disabled",
                      "models.gru_nar.hidden_size={grid: [4, 16, 64]}")
    assert main(argv) == 0
    run = read_run(tmp_path / "runs" / "csv")
    assert sorted(t.model for t in run.trials) == ["gru_nar"] * 3 + ["transformer"]
    ranking = pd.read_csv(tmp_path / "runs" / "csv" / "report" / "ranking.csv", dtype={"trial_id": str})
    # the smoke profile leaves the classical baselines out (test_report checks them in the shared smoke run)
    assert set(ranking.model) == {"gru_nar", "transformer", "persistence", "ridge", "seasonal_naive", "climatology"}
    # Three different gru_nar trials: the ranking uses the one with the lowest validation MSE.
    gru = {t.trial_id: t.best_val_mse for t in run.trials if t.model == "gru_nar"}
    assert len(set(gru.values())) == 3
    chosen = ranking.set_index("model").loc["gru_nar"]
    assert chosen.trial_id == min(gru, key=gru.get)
    assert chosen.val_mse == pytest.approx(min(gru.values()))
    preds = pd.read_parquet(tmp_path / "runs" / "csv" / "report" / "predictions.parquet")
    assert set(preds.target) == {"temp_max"}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--models", "lstm,gru_ar"], "unknown model(s) lstm"),
        (["window.input=0"], "window.input"),
        (["train.epochs=abc"], "train.epochs"),
        (["sweep.colour=red"], "sweep.colour: unknown key"),
        (["models.gru_ar.dropout={grid: [0.1, 1.0]}", "--models", "gru_ar"], "outside [0, 1)"),
        (["models.gru_ar.hidden_size={grid: []}", "--models", "gru_ar"], "zero trials"),
        (["trainepochs"], "not key=value"),
        (["data.path=/nonexistent/file.csv"], "/nonexistent/file.csv"),
    ],
)
def test_bad_cli_values_give_one_clear_line(argv, expected, tmp_path: Path, capsys):
    assert main(["--runs-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and expected in err, err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_the_summary_run_logs_the_ranking_and_figures_offline(smoke_run: Path):
    files = sorted((smoke_run / "wandb").glob("offline-run-*/run-*.wandb"))
    summary_runs = [f for f in files if any("ranking/_type" in row for row in history(f))]
    assert len(summary_runs) == 1
    rows = history(summary_runs[0])
    table = next(row for row in rows if "ranking/_type" in row)
    # every row of the report's ranking (5 models, the baselines, the classical entries) and of its intervals
    ranking = pd.read_csv(smoke_run / "report" / "ranking.csv")
    assert len(ranking) >= 13 and {"ets", "theta", "arima", "classical_combo", "ridge"} <= set(ranking.model)
    assert table["ranking/_type"] == "table-file" and table["ranking/nrows"] == len(ranking)
    intervals = next(row for row in rows if "intervals/_type" in row)
    assert intervals["intervals/nrows"] == len(pd.read_csv(smoke_run / "report" / "intervals.csv"))
    assert intervals["intervals/nrows"] >= 2 * len(ranking)  # every model at 80% and 95%
    logged = {key.rsplit("/", 1)[0] for row in rows for key in row}
    assert {"figures/forecast_examples", "figures/loss_curves", "figures/per_horizon"} <= logged


def test_a_wandb_report_without_a_reachable_server_is_skipped(capsys):
    from sweeps.engine.tracking import WandbPlan, create_wandb_report

    plan = WandbPlan("offline", "W&B: server not reachable within 2 s; logging offline")
    assert create_wandb_report(plan, project="p", entity=None, group="g", ranking_rows=[]) is None
    assert "W&B Report skipped" in capsys.readouterr().out


def test_the_tests_reading_a_shared_sweep_run_on_the_worker_that_built_it(smoke_run: Path, request):
    """Under pytest-xdist (the README's test command) every reader of a shared sweep is grouped onto one worker,
    so the sweep runs once per suite. pytest 9.2 broke that silently (pytest-xdist#1386): this notices."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        assert request.node.nodeid.endswith("@smoke_run"), request.node.nodeid
    assert (smoke_run / "report" / "ranking.csv").exists()
