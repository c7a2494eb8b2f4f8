"""A trial reports to Ray only where Ray decides something (sweep.report_every_epoch: false, the default): ASHA's
rungs, every checkpoint_every epochs, and its end. Its record still holds every epoch, ASHA still stops the
same trials at the same epochs, and every result Ray holds has its best weights in a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import sweep_argv

from sweeps.engine.scheduler import rung_epochs


def test_rung_epochs_are_ashas_milestones():
    assert rung_epochs(61, 5, 3) == [5, 15, 45]  # the default sweep: 60 epochs, grace 5, factor 3
    assert rung_epochs(4, 5, 3) == [4]  # the grace period is capped at the horizon
    assert rung_epochs(200, 5, 2.5) == [5, 13, 32, 79, 196]  # first whole epoch at or past 12.5, 31.25, ...
    assert rung_epochs(11, 2, 3) == [2, 6]


def _sweep(runs: Path, name: str, cache: Path, every_epoch: bool) -> dict[str, dict]:
    """A sequential ASHA sweep (one trial at a time, so ASHA's decisions do not depend on timing): per trial tag,
    the epochs its record holds, its status, best score and how many results Ray received."""
    from models.trial_record import read_records
    from sweeps.run_all import main

    argv = sweep_argv(runs, name, cache, "--models", "gru_nar", "--no-report", "train.epochs=9", "train.patience=9",
                      "sweep.scheduler=asha", "sweep.grace_period=2", "sweep.reduction_factor=2",
                      "sweep.max_concurrent_trials=1", "sweep.checkpoint_every=4",
                      "models.gru_nar.hidden_size={grid: [8, 16]}", "models.gru_nar.learning_rate={grid: [0.0003, 0.01]}",
                      f"sweep.report_every_epoch={str(every_epoch).lower()}")
    assert main(argv) == 0
    out = {}
    for record in read_records(runs / name):
        results = (runs / name / "ray" / f"gru_nar_{record.trial_id}" / "result.json").read_text().splitlines()
        out[record.tag] = {"epochs": record.epochs, "status": record.status, "best": record.best_val_mse,
                           "reports": [json.loads(r)["epoch"] for r in results], "checkpoint": record.checkpoint,
                           "checkpoint_epoch": record.checkpoint_epoch, "history": len(record.history)}
    return out


@pytest.mark.slow
def test_sparse_reports_keep_ashas_decisions_and_every_epoch_in_the_record(ray_session, tmp_path, data_cache):
    every = _sweep(tmp_path, "every", data_cache, every_epoch=True)
    sparse = _sweep(tmp_path, "sparse", data_cache, every_epoch=False)
    assert set(every) == set(sparse) and len(every) == 4
    assert any(t["status"] == "stopped" for t in every.values())  # ASHA had something to decide
    for tag, old in every.items():
        new = sparse[tag]
        # the same trial trains the same epochs (seeded, one at a time) and ASHA stops it at the same epoch
        assert (new["epochs"], new["status"]) == (old["epochs"], old["status"]), tag
        assert new["best"] == pytest.approx(old["best"], rel=1e-6), tag
        assert new["history"] == new["epochs"]  # the record still has every epoch
        # Ray heard only at the rungs (2, 4, 8), the checkpoints (4, 8) and the end (a closing result)
        assert set(new["reports"]) <= {2, 4, 8, new["epochs"]}, (tag, new["reports"])
        assert len(new["reports"]) < len(old["reports"]), tag
        # the newest checkpoint holds the weights of the best score it reported
        assert new["checkpoint"] is not None and new["checkpoint"].exists()
        assert new["checkpoint_epoch"] == new["epochs"] or new["status"] == "stopped"
