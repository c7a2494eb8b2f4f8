"""Synthetic WindowedData for the models tests (no dependency on data_pipeline's loaders)."""

from __future__ import annotations

import numpy as np

from data_pipeline.types import Scaler, SplitWindows, WindowedData


def make_windowed_data(
    n_steps: int = 600,
    n_features: int = 3,
    n_targets: int = 2,
    n_inputs: int = 24,
    n_outputs: int = 6,
    noise: float = 0.1,
    seed: int = 0,
) -> WindowedData:
    """Sum of sines + noise, split 70/15/15 in time, standardised on the training rows only."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps, dtype=np.float64)
    cols = []
    for j in range(n_features):
        period_a, period_b = 25.0 + 7 * j, 9.0 + 2 * j
        col = np.sin(2 * np.pi * t / period_a + j) + 0.5 * np.sin(2 * np.pi * t / period_b)
        cols.append(10.0 * j + (2.0 + j) * col + noise * rng.standard_normal(n_steps))
    raw = np.stack(cols, axis=1)
    n_train_rows = int(0.7 * n_steps)
    center, scale = raw[:n_train_rows].mean(0), raw[:n_train_rows].std(0)
    names = [f"f{j}" for j in range(n_features)]
    scaler = Scaler("standard", names, center, scale)
    scaled = scaler.transform(raw)

    def windows(lo: int, hi: int) -> SplitWindows:
        starts = np.arange(lo, hi - n_inputs - n_outputs + 1)
        x = np.stack([scaled[s : s + n_inputs] for s in starts])
        y = np.stack([scaled[s + n_inputs : s + n_inputs + n_outputs, :n_targets] for s in starts])
        origin = np.datetime64("2020-01-01", "ns") + (starts + n_inputs).astype("timedelta64[D]")
        return SplitWindows(x.astype(np.float32), y.astype(np.float32), origin)

    n_val_end = int(0.85 * n_steps)
    return WindowedData(
        train=windows(0, n_train_rows),
        val=windows(n_train_rows - n_inputs, n_val_end),  # history may reach back, targets may not
        test=windows(n_val_end - n_inputs, n_steps),
        feature_names=names,
        target_names=names[:n_targets],
        scaler=scaler,
        n_inputs=n_inputs,
        n_outputs=n_outputs,
    )
