"""The report's bootstrap interval respects that overlapping test windows share days."""

from __future__ import annotations

import numpy as np

from reports.scoring import bootstrap_mse_diff


def _naive(per_window: np.ndarray, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = per_window[rng.integers(0, len(per_window), size=(2000, len(per_window)))].mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def test_block_bootstrap_is_wider_than_the_naive_one_on_overlapping_windows():
    rng = np.random.default_rng(1)
    daily = rng.normal(size=300 + 7)  # one error per day, shared by the 7 windows that forecast that day
    err_model = np.stack([daily[i : i + 7] for i in range(300)])[..., None]
    err_ref = np.zeros_like(err_model)
    lo, hi = bootstrap_mse_diff(err_model, err_ref, block=7)
    naive_lo, naive_hi = _naive((err_model**2).reshape(300, -1).mean(1))
    assert hi - lo > 1.5 * (naive_hi - naive_lo)
    truth = float(np.mean(err_model**2))
    assert lo < truth < hi


def test_a_clear_difference_stays_clear():
    rng = np.random.default_rng(2)
    err_ref = rng.normal(size=(200, 7, 2))
    err_model = 0.5 * err_ref
    lo, hi = bootstrap_mse_diff(err_model, err_ref, block=7)
    assert lo < hi < 0
