"""Chronos-2 in the ranking: zero-shot from the configured weights, fine-tuned from the sweep's best trial.

Both are scored on the same windows and metrics as every other model; their 10%/90% quantiles are kept for the
interval-coverage figure, and their quantiles at each interval level (validation and test) for CQR in
reports/intervals.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data_pipeline import WindowedData
from models import scores
from reports.intervals import DEFAULT_LEVELS, cqr_quantile_levels
from reports.runs import TrialRecord
from reports.scoring import ModelScore

QUANTILES = (0.1, 0.5, 0.9)


def _forecast(pipeline, data: WindowedData, x: np.ndarray, levels: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    from models.chronos import chronos_predict

    point, q = chronos_predict(pipeline, x, n_targets=data.n_targets, n_outputs=data.n_outputs,
                               scaler=data.scaler, quantiles=levels)
    return point, np.sort(q, axis=-1)  # a model's quantiles are not guaranteed to come out ordered


def _score(name: str, pipeline, data: WindowedData, *, val_mse: float | None, interval_levels: tuple[float, ...],
           **info) -> ModelScore:
    from models import count_parameters

    levels = tuple(sorted({*QUANTILES, *cqr_quantile_levels(interval_levels)}))
    val_point, val_q = _forecast(pipeline, data, data.val.x, levels)
    if val_mse is None:
        val_mse = scores(data.val.y, val_point, data)["mse"]
    point, q = _forecast(pipeline, data, data.test.x, levels)
    return ModelScore(name, "pretrained", float(val_mse), scores(data.test.y, point, data), point,
                      count_parameters(pipeline.model, trainable_only=False), quantiles=q, val_pred=val_point,
                      val_quantiles=val_q, quantile_levels=levels, **info)


def zeroshot_score(path: str, data: WindowedData, interval_levels: tuple[float, ...] = DEFAULT_LEVELS) -> ModelScore:
    from models.chronos import load_chronos

    return _score("chronos2_zeroshot", load_chronos(path), data, val_mse=None, interval_levels=interval_levels,
                  hparams={"weights": path})


def finetuned_score(trial: TrialRecord, data: WindowedData,
                    interval_levels: tuple[float, ...] = DEFAULT_LEVELS) -> ModelScore:
    from models.chronos import load_chronos

    assert trial.checkpoint is not None
    return _score("chronos2_finetuned", load_chronos(Path(trial.checkpoint)), data, val_mse=trial.best_val_mse,
                  interval_levels=interval_levels, hparams=dict(trial.hparams), epochs=None,
                  train_time_s=round(trial.train_time_s, 2), trial_id=trial.trial_id)


def interval_coverage(result: ModelScore, data: WindowedData) -> list[float]:
    """Share of test values inside the 10%-90% band, per forecast day (0.8 when calibrated)."""
    assert result.quantiles is not None and result.quantile_levels is not None
    lo_i, hi_i = (list(result.quantile_levels).index(q) for q in (QUANTILES[0], QUANTILES[-1]))
    lo, hi = result.quantiles[..., lo_i], result.quantiles[..., hi_i]
    inside = (data.test.y >= lo) & (data.test.y <= hi)
    return [float(v) for v in inside.mean(axis=(0, 2))]
