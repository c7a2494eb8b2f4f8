"""Chronos-2 as a first-class entry of a real sweep: zero-shot and fine-tuned in the ranking, or skipped clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from chronos_fixture import save_tiny_chronos2
from conftest import sweep_argv

from reports.runs import read_run
from sweeps.run_all import main

pytest.importorskip("chronos")


@pytest.fixture(scope="module")
def tiny_chronos(tmp_path_factory) -> Path:
    return save_tiny_chronos2(tmp_path_factory.mktemp("chronos") / "tiny-chronos2")


@pytest.mark.slow
def test_chronos2_zeroshot_and_finetuned_are_ranked_like_every_model(ray_session, tiny_chronos: Path,
                                                                      tmp_path: Path, data_cache: Path):
    argv = sweep_argv(tmp_path, "chronos", data_cache, "--models", "gru_nar,chronos2", "--wandb-mode", "disabled",
                      f"pretrained.path={tiny_chronos}", "models.chronos2.steps={grid: [5, 10]}",
                      "models.chronos2.learning_rate=0.001")
    assert main(argv) == 0
    run = read_run(tmp_path / "chronos")
    assert sorted(t.tag for t in run.trials if t.model == "chronos2") == ["lr0.001_full_s10", "lr0.001_full_s5"]
    report = tmp_path / "chronos" / "report"
    ranking = pd.read_csv(report / "ranking.csv").set_index("model")
    assert {"chronos2_zeroshot", "chronos2_finetuned", "gru_nar", "persistence", "ridge"} == set(ranking.index)
    assert ranking.loc["chronos2_finetuned", "kind"] == "pretrained"
    best = min((t for t in run.trials if t.model == "chronos2"), key=lambda t: t.best_val_mse)
    assert ranking.loc["chronos2_finetuned", "val_mse"] == pytest.approx(best.best_val_mse)
    preds = pd.read_parquet(report / "predictions.parquet")
    chronos = preds[preds.model == "chronos2_finetuned"]
    assert len(chronos) == len(preds[preds.model == "gru_nar"])
    temp = chronos[chronos.target == "temp_max"].y_pred
    assert temp.between(-30, 60).all() and temp.std() > 0  # original units, not z-scores
    assert (report / "figures" / "interval_coverage.png").exists()


@pytest.mark.slow
def test_unreachable_weights_skip_chronos2_with_one_clear_line(ray_session, tmp_path: Path, data_cache: Path,
                                                               capsys):
    argv = sweep_argv(tmp_path, "offline", data_cache, "--models", "gru_nar,chronos2", "--wandb-mode", "disabled",
                      "pretrained.path=autogluon/chronos-2-small")
    assert main(argv) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("Chronos-2 skipped"))
    assert "autogluon/chronos-2-small" in line and "pretrained.path" in line
    skipped = json.loads((tmp_path / "offline" / "skipped.json").read_text())
    assert "chronos2" in skipped
    ranking = pd.read_csv(tmp_path / "offline" / "report" / "ranking.csv")
    assert not ranking.model.str.startswith("chronos2").any()
    html = (tmp_path / "offline" / "report" / "index.html").read_text()
    assert "Chronos-2 skipped" in html
