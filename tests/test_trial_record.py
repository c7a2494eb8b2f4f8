"""The trial's own record (models/trial_record.py): what the trainable writes, what every reader makes of it, the
one rule that picks an architecture's best trial, and run directories written before records existed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from models.run_files import RunFiles
from models.trial_record import FORMAT, TrialRecordError, best_trials, read_records, write_record
from reports.runs import RunDirError, read_run
from reports.runs import best_trials as report_best
from sweeps.engine.finals import planned_finals


def write_trial(run_dir: Path, trial_id: str, model: str, tag: str, val: float | None, status: str, *,
                checkpoint: bool = True, final_of: str | None = None, errors: list[str] | None = None) -> dict:
    """A record as the trainable leaves it (its checkpoint a real file under the run directory)."""
    trial = {"model": model, "tag": tag, "hparams": {"hidden_size": 8}, "train": {"seed": 0}}
    if final_of is not None:
        trial["final_of"] = final_of
    stored = None
    if checkpoint:
        ckpt = run_dir / "ray" / f"{model}_{trial_id}" / "checkpoint_000001" / "state.pt"
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"epoch": 1}, ckpt)
        stored = str(ckpt.relative_to(run_dir))
    history = [] if val is None else [{"epoch": 1, "val_mse": val + 0.1, "best_val_mse": val + 0.1, "timestamp": 1.0},
                                      {"epoch": 2, "val_mse": val, "best_val_mse": val, "timestamp": 2.0}]
    record = {"format": FORMAT, "trial_id": trial_id, "model": model, "tag": tag, "trial": trial, "status": status,
              "history": history, "best_epoch": 2, "best_val_mse": val, "checkpoint": stored,
              "errors": errors or [], "started_at": 0.5}
    write_record(RunFiles(run_dir).record(model, trial_id), record)
    return trial


def _run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    RunFiles(run).trials_dir.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"sweep": {}}))
    (run / "run.json").write_text(json.dumps({"experiment_path": str(run / "ray")}))
    return run


def test_statuses_checkpoints_and_errors_read_back_from_the_record(tmp_path: Path):
    run = _run_dir(tmp_path)
    write_trial(run, "t1", "gru_nar", "a", 0.4, "finished")
    write_trial(run, "t2", "gru_nar", "b", 0.2, "running")  # never reached a final status: ASHA or interrupted
    write_trial(run, "t3", "gru_nar", "c", 0.1, "failed", errors=["NonFiniteLossError: epoch 2", "RuntimeError: x"])
    write_trial(run, "t4", "lstm_ar", "d", None, "running", checkpoint=False)
    by_tag = {t.tag: t for t in read_records(run)}
    assert {tag: t.status for tag, t in by_tag.items()} == {"a": "finished", "b": "stopped", "c": "failed",
                                                           "d": "stopped"}
    assert by_tag["c"].error == "RuntimeError: x" and by_tag["c"].errors[0].startswith("NonFiniteLossError")
    assert by_tag["a"].error is None and by_tag["a"].best_val_mse == 0.4 and by_tag["a"].epochs == 2
    assert by_tag["a"].checkpoint == run / "ray" / "gru_nar_t1" / "checkpoint_000001" / "state.pt"
    assert by_tag["d"].checkpoint is None and by_tag["d"].epochs == 0
    # A copied run directory finds its own checkpoints (the record stores them relative to the run directory).
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(run, copy)
    assert read_run(copy).trials[0].checkpoint.is_relative_to(copy)


def test_one_rule_picks_the_best_trial_for_the_seed_repeats_and_the_report(tmp_path: Path):
    """The lowest validation MSE wins among trials that did not fail and have a checkpoint: the finals (sweeps) and
    the report read the same records through the same function, so the repeats attach to the ranked trial."""
    run = _run_dir(tmp_path)
    search = [
        write_trial(run, "t1", "gru_nar", "failed_best", 0.05, "failed", errors=["RuntimeError: boom"]),
        write_trial(run, "t2", "gru_nar", "no_checkpoint", 0.1, "running", checkpoint=False),
        write_trial(run, "t3", "gru_nar", "stopped_with_checkpoint", 0.2, "running"),
        write_trial(run, "t4", "gru_nar", "finished", 0.3, "finished"),
        write_trial(run, "t5", "lstm_ar", "only", 0.7, "finished"),
    ]
    # An earlier seed repeat scoring lower never replaces its search trial as the choice.
    write_trial(run, "f1", "lstm_ar", "only_seed1", 0.01, "finished", final_of="only")
    report = {m: t.tag for m, t in report_best(read_run(run)).items()}
    assert report == {"gru_nar": "stopped_with_checkpoint", "lstm_ar": "only"}
    assert {m: t.tag for m, t in best_trials(read_records(run)).items()} == report
    finals = planned_finals(run, search, seeds=2, base_seed=0)
    assert sorted({(t["model"], t["final_of"]) for t in finals}) == sorted(report.items())
    assert json.loads((run / "finals.json").read_text()) == finals


def test_a_damaged_record_is_named(tmp_path: Path):
    run = _run_dir(tmp_path)
    RunFiles(run).record("gru_nar", "t1").write_text('{"format": 1, "trial_id"')  # cut short
    with pytest.raises(TrialRecordError, match="gru_nar_t1.json"):
        read_records(run)
    with pytest.raises(RunDirError, match="gru_nar_t1.json.*re-run that trial"):
        read_run(run)


def _old_layout(tmp_path: Path) -> Path:
    """What a sweep wrote before records: Ray's trial folders only."""
    run = tmp_path / "old"
    (run / "config.yaml").parent.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"sweep": {}}))
    (run / "run.json").write_text(json.dumps({"experiment_path": str(run / "ray")}))

    def ray_trial(name: str, trial: dict[str, Any], rows: list[dict], error: str | None, finished: bool) -> None:
        folder = run / "ray" / name
        (folder / "checkpoint_000002").mkdir(parents=True)
        (folder / "params.json").write_text(json.dumps({"trial": trial}))
        (folder / "result.json").write_text("\n".join(json.dumps(r) for r in rows) + '\n{"epoch": 3, "va')
        torch.save({"epoch": 2}, folder / "checkpoint_000002" / "state.pt")
        if finished:
            (folder / "checkpoint_000002" / "finished.json").write_text("{}")
        if error:
            (folder / "error.txt").write_text(f"Traceback...\n{error}\n")

    rows = [{"epoch": 1, "best_val_mse": 0.5, "trial_finished": False},
            {"epoch": 2, "best_val_mse": 0.3, "trial_finished": False}]
    base = {"hparams": {"hidden_size": 8}, "train": {"seed": 0}}
    ray_trial("gru_nar_x_00000", {**base, "model": "gru_nar", "tag": "a"},
              [*rows, {**rows[-1], "trial_finished": True, "best_epoch": 2}], None, True)
    ray_trial("gru_nar_x_00001", {**base, "model": "gru_nar", "tag": "b"}, rows[:1], None, False)
    ray_trial("lstm_ar_x_00002", {**base, "model": "lstm_ar", "tag": "c"}, rows, "RuntimeError: injected", False)
    return run


def test_a_run_from_before_records_is_refused_clearly_then_converted_once(tmp_path: Path):
    from sweeps.engine.legacy_records import main, needs_conversion

    run = _old_layout(tmp_path)
    with pytest.raises(RunDirError, match=r"before trials kept their own record.*python -m sweeps.engine.legacy_records"):
        read_run(run)
    assert needs_conversion(run)
    assert main([str(run)]) == 0
    assert not needs_conversion(run)
    trials = {t.tag: t for t in read_run(run).trials}
    assert {tag: t.status for tag, t in trials.items()} == {"a": "finished", "b": "stopped", "c": "failed"}
    assert [r["epoch"] for r in trials["a"].history] == [1, 2]  # the closing row repeats epoch 2; the cut row is gone
    assert trials["c"].error == "RuntimeError: injected"
    assert trials["a"].checkpoint == run / "ray" / "gru_nar_x_00000" / "checkpoint_000002" / "state.pt"
    assert {m: t.tag for m, t in report_best(read_run(run)).items()} == {"gru_nar": "a"}  # c failed


def test_reports_never_name_rays_trial_files():
    """The report reads the run directory's own files; Ray's trial layout is known only to sweeps/."""
    from conftest import REPO

    ray_files = ("params.json", "result.json", "error.txt", "checkpoint_0", "checkpoint_*", "experiment_state")
    named = [f"{path.name}: {name}" for path in sorted((REPO / "reports").glob("*.py"))
             for name in ray_files if name in path.read_text()]
    assert named == []
