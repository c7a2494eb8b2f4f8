"""Chronos-2 fine-tuning honours the mask: a masked (missing or repaired) target cell enters the fine-tuning
context and targets as NaN, which Chronos-2 reads as missing, so it is neither trained on nor a target.

The tiny random Chronos-2 of chronos_fixture (no download). The control: with nothing masked, the same planted
values change the fine-tuned weights, so the equality test can fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("chronos", reason="optional extra chronos-forecasting is not installed")

from chronos_fixture import save_tiny_chronos2  # noqa: E402

from data_pipeline.types import Scaler, SplitWindows  # noqa: E402
from data_pipeline.windows import make_windows  # noqa: E402
from models.chronos import chronos_finetune, finetune_tasks, load_chronos  # noqa: E402

N, N_IN, N_OUT, N_TRAIN = 260, 32, 8, 200
PLANTED = 1e4
MASKED_ROWS = (40, 41, 120, 199, N_TRAIN + 10, N_TRAIN + 45)  # train targets (199: the last), validation targets


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model on a busy 2-core machine: threads only cost
    yield
    torch.set_num_threads(threads)


def _splits(plant: float | None, masked: bool) -> tuple[SplitWindows, SplitWindows, Scaler]:
    """Train and validation windows of a target and a covariate; MASKED_ROWS' target holds `plant` (None: its
    plausible value) and is masked when `masked`."""
    rng = np.random.default_rng(0)
    t = np.arange(N, dtype=np.float64)
    raw = np.stack([10 + 2 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.2, N), rng.normal(0, 1, N)], 1)
    scaler = Scaler("standard", ["y", "z"], raw[:N_TRAIN].mean(0), raw[:N_TRAIN].std(0))
    if plant is not None:
        raw[list(MASKED_ROWS), 0] = plant
    observed = np.ones((N, 2), bool)
    if masked:
        observed[list(MASKED_ROWS), 0] = False
    scaled, dates = scaler.transform(raw), pd.date_range("2021-01-01", periods=N, freq="h")
    train = make_windows(scaled, dates, np.arange(N_IN, N_TRAIN - N_OUT + 1), N_IN, N_OUT, 1, None, observed)
    val = make_windows(scaled, dates, np.arange(N_TRAIN, N - N_OUT + 1), N_IN, N_OUT, 1, None, observed)
    return train, val, scaler


def test_the_fine_tuning_tasks_hold_nan_exactly_at_masked_cells():
    train, val, scaler = _splits(PLANTED, masked=True)
    train_tasks, val_tasks = finetune_tasks(train, val, scaler, 1)
    (series,) = train_tasks  # one contiguous run: rows 0 .. N_TRAIN - 1
    assert np.flatnonzero(np.isnan(series["target"][0])).tolist() == [r for r in MASKED_ROWS if r < N_TRAIN]
    assert np.isfinite(series["past_covariates"]["z"][:-N_OUT]).all()  # covariates: no mask, kept
    # validation: window i covers rows N_TRAIN + i - N_IN .. N_TRAIN + i + N_OUT - 1; NaN at every masked row in it
    for i, task in enumerate(val_tasks):
        rows = N_TRAIN + i - N_IN + np.arange(N_IN + N_OUT)
        # rows before the split's first origin (199) are the training windows' targets: their mask
        expected = np.isin(rows, MASKED_ROWS)
        np.testing.assert_array_equal(np.isnan(task["target"][0]), expected, err_msg=f"window {i}")


def test_a_chronos_validation_batch_holds_nan_at_masked_cells():
    """The library's own batch (Chronos2Dataset, validation mode: each window's last N_OUT steps are its target)."""
    from chronos.chronos2.dataset import Chronos2Dataset, DatasetMode

    train, val, scaler = _splits(PLANTED, masked=True)
    _, val_tasks = finetune_tasks(train, val, scaler, 1)
    dataset = Chronos2Dataset(val_tasks, context_length=N_IN, prediction_length=N_OUT, batch_size=2 * len(val),
                              output_patch_size=16, min_past=N_IN, mode=DatasetMode.VALIDATION)
    batch = next(iter(dataset))
    target_rows = np.arange(0, 2 * len(val), 2)  # each task: the target, then its covariate
    future = batch["future_target"][target_rows].numpy()
    context = batch["context"][target_rows].numpy()
    masked_y = ~val.mask[:, :, 0]
    np.testing.assert_array_equal(np.isnan(future), masked_y)
    assert np.isnan(context).sum() > 0 and not (np.abs(np.nan_to_num(context)) >= PLANTED).any()
    assert not (np.abs(np.nan_to_num(future)) >= PLANTED).any()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return load_chronos(str(save_tiny_chronos2(tmp_path_factory.mktemp("chronos2-tiny"))), device="cpu")


def _tuned_weights(pipeline, plant: float | None, masked: bool, out) -> dict[str, torch.Tensor]:
    train, val, scaler = _splits(plant, masked)
    tuned = chronos_finetune(pipeline, train, val, scaler=scaler, n_targets=1, n_outputs=N_OUT, steps=4,
                             learning_rate=1e-2, batch_size=8, output_dir=out, seed=3)
    return tuned.model.state_dict()


def test_masked_values_are_neither_trained_on_nor_targets(pipeline, tmp_path):
    plausible = _tuned_weights(pipeline, None, True, tmp_path / "plausible")
    huge = _tuned_weights(pipeline, PLANTED, True, tmp_path / "huge")
    for k, v in plausible.items():
        assert torch.equal(v, huge[k]), k
    # the control: read as observations, the planted values change what fine-tuning learns
    unmasked = _tuned_weights(pipeline, PLANTED, False, tmp_path / "unmasked")
    assert any(not torch.equal(v, unmasked[k]) for k, v in plausible.items())
