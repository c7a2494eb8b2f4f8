"""The report's bootstrap interval respects that overlapping test windows share days."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_a_panels_blocks_are_runs_of_origins_across_every_series_never_one_series_into_the_next():
    rng = np.random.default_rng(3)
    one = rng.normal(size=(120, 7, 1)) * np.linspace(0.5, 2.0, 120)[:, None, None]  # errors that grow over time
    ref = np.zeros_like(one)
    alone = bootstrap_mse_diff(one, ref, block=7)
    # Two series with the same errors, stacked series after series as the panel's windows are
    both, time_index = np.concatenate([one, one]), np.tile(np.arange(120), 2)
    assert np.allclose(bootstrap_mse_diff(both, np.zeros_like(both), block=7, time_index=time_index), alone)
    # without the shared time axis, blocks run in file order and cross from series 0's end into series 1's start
    assert not np.allclose(bootstrap_mse_diff(both, np.zeros_like(both), block=7), alone)


def _windowed(y: np.ndarray):
    from data_pipeline import Scaler, SplitWindows, WindowedData

    n, h, k = y.shape
    split = SplitWindows(np.zeros((n, 3, k), np.float32), y.astype(np.float32),
                         np.arange(n).astype("datetime64[D]").astype("datetime64[ns]"))
    scaler = Scaler("standard", [f"t{j}" for j in range(k)], np.zeros(k), np.ones(k))
    return WindowedData(split, split, split, scaler.feature_names, scaler.feature_names, scaler, 3, h)


def _score(name: str, val_mse: float, pred: np.ndarray, data, reference: bool | None = None):
    from models import scores
    from reports.scoring import ModelScore

    reference = name in ("ridge", "persistence") if reference is None else reference  # as their forecasters declare
    return ModelScore(name, "trained", val_mse, scores(data.test.y, pred, data), pred, 0, reference=reference)


def test_noise_is_called_a_tie_and_a_clear_gap_is_not():
    from reports.scoring import ranking_table, verdict

    rng = np.random.default_rng(3)
    y = rng.normal(size=(300, 7, 2))
    data = _windowed(y)
    common = rng.normal(size=y.shape)  # error both close models share; they differ only by small noise
    results = [
        _score("winner", 0.50, y + common + 0.1 * rng.normal(size=y.shape), data),
        _score("noisy_twin", 0.51, y + common + 0.1 * rng.normal(size=y.shape), data),
        _score("clearly_worse", 0.60, y + 1.6 * common, data),
        _score("ridge", 0.70, y + 1.5 * rng.normal(size=y.shape), data),
        _score("persistence", 0.90, y + 2.0 * rng.normal(size=y.shape), data),
    ]
    table = ranking_table(results, data).set_index("model")
    assert list(table.index) == ["winner", "noisy_twin", "clearly_worse", "ridge", "persistence"]
    assert table.loc["noisy_twin", "tied_with_winner"]
    assert not table.loc["clearly_worse", "tied_with_winner"]
    assert table.loc["clearly_worse", "vs_winner_ci_low"] > 0
    assert table.loc["winner", "vs_ridge_ci_high"] < 0
    sentence = verdict(table.reset_index())
    assert sentence.startswith("Chosen on validation: winner")
    assert "beats ridge and persistence beyond noise" in sentence  # in the order the entries come
    assert "Beaten on test" not in sentence


def test_the_headline_names_entries_that_beat_the_choice_on_test():
    """Selection regret in the headline: an entry validation ranked lower but test shows better beyond noise."""
    from reports.scoring import ranking_table, verdict

    rng = np.random.default_rng(5)
    y = rng.normal(size=(300, 7, 1))
    data = _windowed(y)
    results = [_score("chosen", 0.40, y + 1.0 * rng.normal(size=y.shape), data),
               _score("theta", 0.45, y + 0.5 * rng.normal(size=y.shape), data),
               _score("twin", 0.46, y + 1.0 * rng.normal(size=y.shape), data),
               _score("ridge", 0.70, y + 1.5 * rng.normal(size=y.shape), data),
               _score("persistence", 0.90, y + 2.0 * rng.normal(size=y.shape), data)]
    sentence = verdict(ranking_table(results, data))
    assert "Beaten on test beyond noise by theta (best: theta" in sentence and "twin" not in sentence


def test_every_entry_that_declares_itself_a_reference_is_compared_with_and_named_in_the_headline():
    """The yardsticks are whatever entries declare `Capabilities.reference` (a user's own drift here), not a list
    of names in the report; the skill column stays against persistence."""
    from models.forecasters import Capabilities
    from reports.scoring import ranking_table, verdict

    rng = np.random.default_rng(6)
    y = rng.normal(size=(300, 7, 1))
    data = _windowed(y)
    results = [_score("chosen", 0.40, y + 1.0 * rng.normal(size=y.shape), data),
               _score("drift", 0.45, y + 0.5 * rng.normal(size=y.shape), data, reference=True),
               _score("ridge", 0.70, y + 1.5 * rng.normal(size=y.shape), data, reference=False),
               _score("persistence", 0.90, y + 2.0 * rng.normal(size=y.shape), data)]
    table = ranking_table(results, data)
    assert {c for c in table.columns if c.endswith("_ci_low")} == {"vs_winner_ci_low", "vs_drift_ci_low",
                                                                   "vs_persistence_ci_low"}
    sentence = verdict(table)
    assert "is worse than drift beyond noise" in sentence and "beats persistence beyond noise" in sentence
    assert "ridge" not in sentence and "Beaten on test" not in sentence  # drift is named once, as a reference
    assert table.set_index("model").skill_vs_persistence["persistence"] == pytest.approx(0.0)
    # the built-in yardsticks are the naive baselines and ridge, by their own declaration
    assert Capabilities().reference is False
    from models.forecasters.naive import Persistence, Ridge, SeasonalNaive

    assert all(cls.capabilities.reference for cls in (Persistence, Ridge, SeasonalNaive))


def test_the_ranking_follows_validation_even_when_test_disagrees():
    from reports.scoring import ranking_table

    rng = np.random.default_rng(4)
    y = rng.normal(size=(100, 7, 1))
    data = _windowed(y)
    results = [_score("val_best_test_worse", 0.1, y + 2 * rng.normal(size=y.shape), data),
               _score("ridge", 0.2, y + rng.normal(size=y.shape), data),
               _score("persistence", 0.3, y + 0.5 * rng.normal(size=y.shape), data)]
    table = ranking_table(results, data)
    assert list(table.model) == ["val_best_test_worse", "ridge", "persistence"]
    assert not table.test_mse.is_monotonic_increasing


def test_a_failed_trial_never_counts_as_a_models_best(tmp_path):
    from pathlib import Path

    from reports.runs import RunDir, TrialRecord, best_trials

    def record(trial_id: str, val: float, status: str) -> TrialRecord:
        ckpt = tmp_path / f"{trial_id}.pt"
        ckpt.write_bytes(b"")
        return TrialRecord(trial_id, "gru_nar", trial_id, {}, {}, [{"epoch": 1, "best_val_mse": val}], status,
                           "boom" if status == "failed" else None, ckpt, Path(tmp_path))

    run = RunDir(tmp_path, {}, [record("failed", 0.1, "failed"), record("ok", 0.5, "stopped")])
    assert best_trials(run)["gru_nar"].trial_id == "ok"
