"""Chronos-2 in the ranking: zero-shot from the configured weights, fine-tuned from the sweep's best trial.

Both are scored on the same windows and metrics as every other model; their 10%/90% quantiles are kept for the
interval-coverage figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data_pipeline import WindowedData
from models import scores
from reports.runs import TrialRecord
from reports.scoring import ModelScore

QUANTILES = (0.1, 0.5, 0.9)


def _forecast(pipeline, data: WindowedData, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from models.chronos import chronos_predict

    point, q = chronos_predict(pipeline, x, n_targets=data.n_targets, n_outputs=data.n_outputs,
                               scaler=data.scaler, quantiles=QUANTILES)
    return point, np.sort(q, axis=-1)  # a model's quantiles are not guaranteed to come out ordered


def _score(name: str, pipeline, data: WindowedData, *, val_mse: float | None, **info) -> ModelScore:
    from models import count_parameters

    if val_mse is None:
        val_mse = scores(data.val.y, _forecast(pipeline, data, data.val.x)[0], data, data.val.mask)["mse"]
    point, q = _forecast(pipeline, data, data.test.x)
    return ModelScore(name, "pretrained", float(val_mse), scores(data.test.y, point, data, data.test.mask), point,
                      count_parameters(pipeline.model, trainable_only=False), quantiles=q, **info)


def zeroshot_score(path: str, data: WindowedData) -> ModelScore:
    from models.chronos import load_chronos

    return _score("chronos2_zeroshot", load_chronos(path), data, val_mse=None, hparams={"weights": path})


def finetuned_score(trial: TrialRecord, data: WindowedData) -> ModelScore:
    from models.chronos import load_chronos

    assert trial.checkpoint is not None
    return _score("chronos2_finetuned", load_chronos(Path(trial.checkpoint)), data, val_mse=trial.best_val_mse,
                  hparams=dict(trial.hparams), epochs=None, train_time_s=round(trial.train_time_s, 2),
                  trial_id=trial.trial_id)


def interval_coverage(result: ModelScore, data: WindowedData) -> list[float]:
    """Share of test values inside the 10%-90% band, per forecast day (0.8 when calibrated)."""
    assert result.quantiles is not None
    lo, hi = result.quantiles[..., 0], result.quantiles[..., -1]
    inside = (data.test.y >= lo) & (data.test.y <= hi)
    return [float(v) for v in inside.mean(axis=(0, 2))]
