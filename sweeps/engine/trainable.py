"""The Ray Tune trainable: one trial = build one model, train it with models.train.fit, report every epoch.

It is a plain function of (config, data): the data arrives once through Ray's object store
(`tune.with_parameters`), and Ray appears only in `tune.report` / `tune.get_checkpoint`. Each trial also keeps its
own record in the run directory (models/trial_record.py), which is all the finals and the report read.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from data_pipeline import WindowedData, with_input_length
from models import TrainConfig, build
from models.chronos import CHRONOS2
from models.run_files import RunFiles
from models.train import EpochEnd, TrainState, fit
from sweeps.engine.tracking import TrialLogger, TrialWandb
from sweeps.engine.trial_files import CHRONOS_DIR, FINISHED_FILE
from sweeps.engine.trial_files import TRIAL_STATE_FILE as STATE_FILE
from sweeps.engine.trial_recorder import Part, TrialRecorder


def train_trial(
    config: dict[str, Any],
    *,
    data: WindowedData,
    base_train: dict[str, Any],
    threads: int,
    pretrained_path: str,
    run_dir: str,
    wandb: TrialWandb | None = None,
    checkpoint_every: int = 1,
    report_epochs: tuple[int, ...] | None = None,
    fold_data: dict[str, WindowedData] | None = None,
) -> None:
    """`report_epochs`: besides every `checkpoint_every`-th epoch and the end, the epochs at which Ray must hear
    from the trial (ASHA's rungs); None reports every epoch (and checkpoints on every improvement).
    `fold_data`: the windows of the earlier backtest folds and of the refit (keys: str(fold)), for the trials
    whose `fold` names one; every other trial trains on `data`, the run's own split."""
    trial = config["trial"]
    if trial.get("fold") is not None:
        data = (fold_data or {})[str(trial["fold"])]
    torch.set_num_threads(max(1, threads))
    trial_id = tune.get_context().get_trial_id()
    recorder = TrialRecorder(RunFiles(run_dir).record(trial["model"], trial_id), Path(run_dir),
                             trial_id=trial_id, trial=trial)
    try:
        with recorder.timed(Part.RESTORE):
            checkpoint = tune.get_checkpoint()
            resume, closing = _restore(checkpoint)
        if closing is not None:
            # Finished before the driver was interrupted, but its end had not reached the experiment state: it
            # is done, and reporting again would only duplicate its last result. Its record may have missed the
            # end too.
            if resume is not None:  # its whole history, in case the record missed the last epochs
                recorder.start(resume.history, checkpoint, STATE_FILE)
            else:  # a fine-tuned Chronos-2: one closing row is its whole history
                recorder.checkpointed(checkpoint, CHRONOS_DIR)
            recorder.finish(closing.get("best_epoch"), closing.get("best_val_mse"))
            return None
        recorder.start(resume.history if resume is not None else [], checkpoint, STATE_FILE)
        with recorder.timed(Part.WANDB):
            logger = TrialLogger(wandb, trial_id=trial_id, model=trial["model"], tag=trial["tag"],
                                 config={"trial": trial, "train": base_train})
        try:
            if trial["model"] == CHRONOS2:
                return _finetune_chronos(trial, data, pretrained_path, seed=int(base_train["seed"]), logger=logger,
                                         recorder=recorder)
            return _train(trial, data, base_train, resume, logger, recorder, checkpoint_every, report_epochs)
        finally:
            with recorder.timed(Part.WANDB):
                logger.finish()
    except Exception as err:  # not BaseException: ASHA's stop (SystemExit) is a stop, not a failure
        recorder.fail(err)
        raise  # Ray still counts the failure (and retries it up to sweep.max_failures)
    finally:
        recorder.leave()


def _restore(checkpoint: tune.Checkpoint | None) -> tuple[TrainState | None, dict[str, Any] | None]:
    """(the state to resume from, the closing result if the trial had already finished)."""
    if checkpoint is None:
        return None, None
    with checkpoint.as_directory() as ckpt_dir:
        state_file, finished = Path(ckpt_dir) / STATE_FILE, Path(ckpt_dir) / FINISHED_FILE
        # map_location: a trial checkpointed on a GPU node may resume on a CPU-only one
        state = (TrainState.from_dict(torch.load(state_file, map_location="cpu", weights_only=True))
                 if state_file.exists() else None)
        return state, json.loads(finished.read_text()) if finished.exists() else None


def _train(trial: dict[str, Any], data: WindowedData, base_train: dict[str, Any], resume: TrainState | None,
           logger: TrialLogger, recorder: TrialRecorder, checkpoint_every: int,
           report_epochs: tuple[int, ...] | None) -> None:
    with recorder.timed(Part.BUILD):
        data = with_input_length(data, trial.get("window_input"))  # a searched input length: the last N steps
        train_cfg = TrainConfig.model_validate({**base_train, **trial["train"]})
        model = build(trial["model"], **data.shapes, seed=train_cfg.seed, **trial["hparams"])
    last: dict[str, Any] = {}
    last_state: list[TrainState] = []
    unsaved_best = [False]  # validation improved since the last checkpoint

    def on_epoch(metrics: dict[str, Any], end: EpochEnd) -> None:
        last.clear()
        last.update(metrics)
        with recorder.timed(Part.WANDB_LOG):
            logger.log(metrics)
        with recorder.timed(Part.RECORD):
            recorder.epoch(metrics, end.epoch if end.improved else None)
        unsaved_best[0] |= end.improved
        if report_epochs is None:  # every epoch: a report, and a checkpoint on every improvement
            report, checkpoint = True, checkpoint_due(end, checkpoint_every)
        else:  # only where Ray decides something; the closing report after the last epoch covers the end
            report = not end.final and (end.epoch in report_epochs or end.epoch % checkpoint_every == 0)
            checkpoint = report and (unsaved_best[0] or end.epoch % checkpoint_every == 0)
        if checkpoint or end.final:  # the last epoch's state also goes into the closing checkpoint below
            with recorder.timed(Part.CHECKPOINT):
                last_state[:] = [end.snapshot()]
        if not report:
            return
        result = dict(metrics, trial_finished=False, node_id=_node_id())
        if not checkpoint:
            with recorder.timed(Part.REPORT):
                tune.report(result)
            return
        with recorder.timed(Part.CHECKPOINT), tempfile.TemporaryDirectory() as tmp:
            torch.save(last_state[0].to_dict(), Path(tmp) / STATE_FILE)
            try:
                tune.report(result, checkpoint=tune.Checkpoint.from_directory(tmp))
            finally:  # also when ASHA stops the trial at this very report: the stop is raised inside tune.report
                recorder.checkpointed(tune.get_checkpoint(), STATE_FILE, end.epoch)  # the persisted copy
        unsaved_best[0] = False

    with recorder.timed(Part.FIT):
        result = fit(model, data, train_cfg, on_epoch=on_epoch, resume=resume)
    # A closing report marks the trial as finished by its own stopping rule (not by ASHA or an interruption).
    # Its checkpoint carries a marker, so a restore that missed the trial's end does not train it again.
    # (A trial restored after its last epoch trains no further epoch: its state is the restored one.)
    final_state = last_state[0] if last_state else resume
    if not last and resume is not None and resume.history:
        last.update(resume.history[-1])
    closing = dict(last, val_mse=result.best_val_mse, best_val_mse=result.best_val_mse, best_epoch=result.best_epoch,
                   epochs_run=result.epochs_run, stopped_early=result.stopped_early, trial_finished=True,
                   node_id=_node_id())
    # W&B is closed before the closing report: Ray may end the worker's thread soon after that report (2 s when it
    # reuses the worker), and a W&B run still flushing then loses its last rows. Nothing is logged after this.
    with recorder.timed(Part.WANDB):
        logger.finish()
    with recorder.timed(Part.CLOSING), tempfile.TemporaryDirectory() as tmp:
        if final_state is not None:
            torch.save(final_state.to_dict(), Path(tmp) / STATE_FILE)
        (Path(tmp) / FINISHED_FILE).write_text(json.dumps(closing, default=str))
        tune.report(closing, checkpoint=tune.Checkpoint.from_directory(tmp))
    if final_state is not None:
        recorder.checkpointed(tune.get_checkpoint(), STATE_FILE, final_state.epoch)
    recorder.finish(result.best_epoch, result.best_val_mse)
    return None


def checkpoint_due(end: EpochEnd, every: int) -> bool:
    """Reporting every epoch: checkpoint when validation improves (so the newest checkpoint always holds the best
    weights the reported `best_val_mse` belongs to, also for a trial ASHA stops next) and every `every` epochs (so
    a resumed trial repeats fewer than `every` epochs). Reporting only at decisions, the same holds because every
    report carries a checkpoint when validation improved since the last one (a snapshot holds the best weights)."""
    return end.improved or end.epoch % every == 0


def _finetune_chronos(trial: dict[str, Any], data: WindowedData, pretrained_path: str, *, seed: int,
                      logger: TrialLogger, recorder: TrialRecorder) -> None:
    """One Chronos-2 fine-tune: a single blocking `fit` call, so one report (ASHA has nothing to cut short)."""
    from models import scores
    from models.chronos import CHRONOS2_HPARAMS, chronos_finetune, chronos_predict, load_chronos, save_chronos

    knobs = {**CHRONOS2_HPARAMS, **trial["hparams"]}
    started = time.perf_counter()
    from sweeps.engine.hub import fetch_pretrained

    # On another node the weights may not be in its hub cache yet: fetch (within the same 2 s rule) first.
    pipeline = load_chronos(fetch_pretrained(pretrained_path))
    shapes = dict(scaler=data.scaler, n_targets=data.n_targets, n_outputs=data.n_outputs)
    with tempfile.TemporaryDirectory() as work:
        tuned = chronos_finetune(pipeline, data.train, data.val, steps=int(knobs["steps"]),
                                 learning_rate=float(knobs["learning_rate"]), mode=str(knobs["mode"]),
                                 batch_size=int(knobs["batch_size"]), output_dir=work, seed=seed, **shapes)
    train_time = time.perf_counter() - started
    point, _ = chronos_predict(tuned, data.val.x, **shapes)
    val = scores(data.val.y, point, data, data.val.mask)
    metrics = {"epoch": 1, "val_mse": val["mse"], "val_mae": val["mae"], "best_val_mse": val["mse"],
               "best_epoch": 1, "epoch_time_s": train_time, "train_time_s": train_time, "trial_finished": True,
               "node_id": _node_id()}
    logger.log(metrics)
    logger.finish()  # before the closing report, as in _train
    recorder.epoch({k: v for k, v in metrics.items() if k not in ("trial_finished", "node_id")}, best_epoch=1)
    with tempfile.TemporaryDirectory() as tmp:
        save_chronos(tuned, Path(tmp) / CHRONOS_DIR)
        (Path(tmp) / FINISHED_FILE).write_text(json.dumps(metrics))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))
    recorder.checkpointed(tune.get_checkpoint(), CHRONOS_DIR)
    recorder.finish(1, val["mse"])


def _node_id() -> str:
    # On one machine every node shares an IP: the node id is what tells them apart in the results.
    return ray.get_runtime_context().get_node_id()
