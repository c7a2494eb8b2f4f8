"""Interrupting the driver (SIGKILL, SIGINT, and SIGKILL while it builds the report) loses no finished trial,
reruns none, and the rerun completes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reports.runs import read_run

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _argv(runs: Path, cache: Path, name: str, *extra: str) -> list[str]:
    return [sys.executable, str(REPO / "sweeps" / "run_all.py"), "--profile", "smoke", "--runs-dir", str(runs),
            "--name", name, f"data.cache_dir={cache}", "--wandb-mode", "disabled", "train.epochs=6",
            "--models", "gru_nar,gru_ar,lstm_nar", "models.gru_nar.hidden_size={grid: [16, 32]}", *extra]


# The panel's windows are ~8x the single series': its trials train 2 epochs (the smoke profile's) instead of 6, so
# 4 trials on 2 cores still leave at least two unfinished when the first one finishes (the kill comes then).
PANEL = ("--config", str(REPO / "sweeps" / "configs" / "panel.yaml"), "train.epochs=2")


def _finished(experiment: Path) -> dict[str, bytes]:
    out = {}
    for result in experiment.glob("*/result.json"):
        text = result.read_bytes()
        text = text[:text.rfind(b"\n") + 1]  # whole rows only: the driver may be writing the next one now
        if b'"trial_finished": true' in text:
            out[result.parent.name] = text
    return out


def _records(run_dir: Path) -> dict[str, dict]:
    """Per trial: its own record (trials/<trial>.json, written atomically every epoch)."""
    return {path.stem: json.loads(path.read_text()) for path in (run_dir / "trials").glob("*.json")}


def _start(argv: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})


# Generous: each wait ends as soon as its condition holds, and a loaded 2-core machine (the suite beside a sweep)
# takes minutes to start Ray and finish a first trial.
WAIT_S = 600


def _new_rows(before: bytes, after: bytes) -> list[dict]:
    """The result rows a trial's result.json gained since `before` (which must still be its start)."""
    assert after.startswith(before), "a finished trial's earlier results were rewritten"
    return [json.loads(line) for line in after[len(before):].splitlines() if line.strip()]


def _wait_for(predicate, proc: subprocess.Popen, timeout: float, log: Path, poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"driver exited early ({proc.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(poll_s)
    pytest.fail(f"timed out:\n{log.read_text()[-3000:]}")


def _kill_group(proc: subprocess.Popen) -> None:
    # Ray's helper processes started by a killed driver can outlive it: end the whole process group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


# SIGKILL runs on the panel only: the resume path (sweeps/engine/resume.py, Ray's restore) is the same for one series and
# many, and this case makes every assertion the single-series SIGKILL case made, plus the panel report's. The
# single-series resume is the SIGINT case (a different path: the driver's graceful stop).
@pytest.mark.parametrize(("sig", "extra"), [(signal.SIGINT, ()), (signal.SIGKILL, PANEL)],
                         ids=["sigint", "sigkill-panel"])
def test_interrupted_sweep_resumes_with_finished_trials_intact(sig, extra, ray_session, tmp_path: Path,
                                                            data_cache: Path, capsys):
    runs, name = tmp_path / "runs", f"interrupt-{sig.name.lower()}"
    experiment = runs / name / "ray"
    log = first_log = tmp_path / "first.log"
    proc = _start(_argv(runs, data_cache, name, *extra), log)
    try:
        _wait_for(lambda: len(_finished(experiment)) >= 1, proc, WAIT_S, log)
        before = _finished(experiment)
        if sig == signal.SIGKILL:
            proc.send_signal(signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=WAIT_S) == 130, log.read_text()[-3000:]
            assert "run the same command again to resume" in log.read_text()
            before = _finished(experiment)  # every trial that finished before the driver stopped
    finally:
        _kill_group(proc)
    assert not (runs / name / "report").exists()
    records = _records(runs / name)

    rerun_out = ""
    if sig == signal.SIGINT:
        # The rerun is killed in turn (SIGKILL) while it builds the report: once every trial is done, a killed report
        # must leave no ranking behind, and the next run must finish the report without training a trial again.
        log = tmp_path / "second.log"
        proc = _start(_argv(runs, data_cache, name, *extra), log)
        try:
            _wait_for(lambda: any((runs / name).glob("report.tmp-*")), proc, WAIT_S, log, poll_s=0.02)
        finally:
            _kill_group(proc)
        assert not (runs / name / "report" / "ranking.csv").exists()
        rerun_out = log.read_text()
        trial_dirs = sorted(d.name for d in experiment.iterdir() if d.is_dir())

    # The run that completes it, in this process on the session's Ray (the drivers killed above were processes of
    # their own, as a user's would be; resuming reads only the run directory, whoever runs it).
    from sweeps.run_all import main

    capsys.readouterr()
    code = main(_argv(runs, data_cache, name, *extra)[2:])
    rerun = capsys.readouterr()
    assert code == 0, rerun.out[-3000:] + rerun.err[-3000:]
    assert "Resuming" in rerun.out
    if sig == signal.SIGINT:
        assert sorted(d.name for d in experiment.iterdir() if d.is_dir()) == trial_dirs  # no trial started again
        # header, 3 models, 4 baselines: the report the killed rerun began, finished
        assert (runs / name / "report" / "ranking.csv").read_text().count("\n") == 8
    # The search's resume messages come from the first rerun (the second only restores a finished search).
    rerun_out = rerun_out or rerun.out
    assert "Resuming" in rerun_out
    # Progress counts on from the restored trials to the full count; each clock says what it measures. A graceful
    # stop (SIGINT) snapshots the end of every trial the driver had processed, which it announced ("done"): those
    # are restored untouched. A trial whose last result was written but not yet processed when the signal came (a
    # loaded machine widens that moment), and after a SIGKILL any trial Ray's last snapshot predates, ends again at
    # once from its final checkpoint, unrestored: it may close again, but it trains no epoch again.
    restored = re.search(r"resumed: (\d+)/4 trials restored from earlier runs", rerun_out)
    announced = len(re.findall(r"\] done ", first_log.read_text()))
    if sig == signal.SIGINT:
        # (no line when nothing was restored: a trial that ended just before the signal, not yet announced, may not
        # be in Ray's snapshot; the closing checks below hold it to its checkpoint)
        assert (int(restored.group(1)) if restored else 0) >= announced, (announced, rerun_out[-3000:])
    assert "| 4/4 trials" in rerun_out and "(this run; " in rerun_out, rerun_out[-3000:]
    after = _finished(experiment)
    records_after = _records(runs / name)
    for trial, text in before.items():
        last = json.loads(text.splitlines()[-1])["epoch"]
        # its own record: untouched (restored), or restarted from the checkpoint of its last epoch (nothing left to
        # train); a trial trained again from an earlier checkpoint or from scratch fails both
        record = records_after[trial]
        assert record == records[trial] or record["checkpoint_epoch"] == last, (trial, record["checkpoint_epoch"])
        assert [row["epoch"] for row in record["history"]] == list(range(1, last + 1))
        if not after[trial].startswith(text):
            # unrestored (its end not yet in Ray's snapshot): Ray starts its result file anew, and the trial closes
            # at once from its final checkpoint, reporting the same last epoch
            assert {json.loads(row)["epoch"] for row in after[trial].splitlines()} == {last}, after[trial][-500:]
            continue
        again = [row for row in _new_rows(text, after[trial]) if not row.get("trial_finished")]
        assert again == [], f"finished trial {trial} trained again: {again}"
    if sig == signal.SIGINT:  # every trial the driver announced as done is among these, and restored untouched
        untouched = sum(after[trial] == text for trial, text in before.items())
        assert untouched >= announced, f"{announced} announced done, {untouched} of {len(before)} kept untouched"
    run = read_run(runs / name)
    # Counted after the rerun: however far the first run got, the rerun adds no trial of its own.
    n_trial_dirs = len([d for d in experiment.iterdir() if d.is_dir()])
    assert len(run.trials) == 4 == n_trial_dirs
    assert all(t.status == "finished" for t in run.trials), [(t.model, t.status, t.error) for t in run.trials]
    ranking = (runs / name / "report" / "ranking.csv").read_text()
    for model in ("gru_nar", "gru_ar", "lstm_nar", "ridge", "persistence"):
        assert model in ranking
    if extra:  # the panel's report ranks by the mean over series and adds MASE
        assert "test_mase" in ranking and (runs / name / "report" / "series.csv").exists()
    assert json.loads((runs / name / "run.json").read_text())["n_trials"] == 4


def test_a_state_naming_a_deleted_checkpoint_is_repaired_from_the_newest_one(smoke_run: Path, tmp_path: Path):
    """The race a SIGKILL can hit: Ray deleted the checkpoint its last snapshot names, a newer one exists."""
    import shutil

    from sweeps.engine.resume import referenced_checkpoints, repair_missing_checkpoints

    experiment = tmp_path / "ray"
    shutil.copytree(smoke_run / "ray", experiment)
    named = sorted(referenced_checkpoints(experiment))  # read where the copy lies now
    assert len(named) == 5 and all(p.is_relative_to(experiment) and p.exists() for p in named)
    victim = named[0]
    newer = victim.with_name(f"checkpoint_{int(victim.name.split('_')[1]) + 1:06d}")
    victim.rename(newer)
    assert victim in referenced_checkpoints(experiment) and not victim.exists()
    assert repair_missing_checkpoints(str(experiment)) == [victim]
    assert (victim / "state.pt").read_bytes() == (newer / "state.pt").read_bytes()
    assert repair_missing_checkpoints(str(experiment)) == []


def test_a_start_killed_before_rays_first_snapshot_is_set_aside_and_started_again(smoke_run: Path, tmp_path: Path):
    """SIGKILL before Ray wrote its first snapshot leaves empty state files (seen under load in the TPE resume
    test): Ray cannot restore them, so the lost start's folder and its trials' records are kept aside, whole."""
    import shutil

    from sweeps.engine.resume import set_aside_lost_start

    run = tmp_path / "run"
    records = run / "trials"
    experiment = run / "ray"
    shutil.copytree(smoke_run / "ray", experiment)
    shutil.copytree(smoke_run / "trials", records)
    assert set_aside_lost_start(str(experiment), records) is None  # a readable state: resumed as it is
    assert set_aside_lost_start(str(run / "never-started"), records) is None
    for state in experiment.glob("experiment_state-*.json"):
        state.write_bytes(b"")  # what the killed driver left
    trial_dirs = sorted(d.name for d in experiment.iterdir() if d.is_dir())
    aside, started = set_aside_lost_start(str(experiment), records)
    assert started == len(trial_dirs) == 5 and not experiment.exists()
    assert aside.parent == run and aside.name.startswith("ray.lost-start-")
    assert sorted(d.name for d in aside.iterdir() if d.is_dir() and d.name != "trial-records") == trial_dirs
    assert sorted(p.stem for p in (aside / "trial-records").glob("*.json")) == trial_dirs
    assert not any(records.glob("*.json"))  # what is left (none here) is the other phases' records


def test_a_state_stored_under_the_engines_old_module_paths_is_read_back():
    """Ray's stored state pickles the scheduler, searcher, callbacks and trial-naming function by module path; a
    sweep stored before the engine moved to sweeps/engine/ names sweeps.tuner, sweeps.scheduler, ..."""
    import pickle

    from sweeps.engine import scheduler, tuner
    from sweeps.engine.resume import MOVED_MODULES, older_module_paths

    engine = {p.stem for p in (REPO / "sweeps" / "engine").glob("*.py")}
    assert set(MOVED_MODULES) <= engine  # every old path still has its module
    old = (pickle.dumps(tuner.trial_dirname, protocol=0).replace(b"sweeps.engine.tuner", b"sweeps.tuner"),
           pickle.dumps(scheduler.PerModelASHA, protocol=0).replace(b"sweeps.engine.scheduler", b"sweeps.scheduler"))
    with pytest.raises(ModuleNotFoundError, match="sweeps.tuner"):
        pickle.loads(old[0])
    with older_module_paths():
        assert pickle.loads(old[0]) is tuner.trial_dirname and pickle.loads(old[1]) is scheduler.PerModelASHA
    assert "sweeps.tuner" not in sys.modules  # only while a sweep runs
