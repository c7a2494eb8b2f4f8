"""A missing or repaired target is no observation: it shapes no fit and no calibration, only inputs.

Each test changes the values of the unobserved target cells (the mask's False cells) and asserts that nothing
fitted or calibrated moves: the training loss and early stopping, ridge and the linear core, climatology, the
panel MASE scale, the conformal half-widths and the coverage they are scored by. Before masks reached these
consumers, every one of these tests failed: the unobserved values entered the fit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from test_models_data import make_windowed_data

from data_pipeline.types import SplitWindows, WindowedData
from models import TrainConfig, build, fit
from models.baselines import fit_ridge
from models.blocks import LinearSkip, WindowNorm, fit_linear_core
from reports import intervals
from reports.evaluate import baseline_scores
from reports.panel import naive_scales
from reports.scoring import ModelScore


def _mask_days(split: SplitWindows, every: int, seed: int) -> np.ndarray:
    """A mask that marks some target cells unobserved (about one in `every`), as repaired days would be."""
    rng = np.random.default_rng(seed)
    return rng.random(split.y.shape) > 1.0 / every


def _with_masks(data: WindowedData, every: int = 15) -> WindowedData:
    splits = {name: dataclasses.replace(data.split(name), mask=_mask_days(data.split(name), every, i))
              for i, name in enumerate(("train", "val", "test"))}
    return dataclasses.replace(data, **splits)


def _rewrite_unobserved(data: WindowedData, value: float, splits=("train", "val", "test")) -> WindowedData:
    """The same data with every unobserved target cell of `splits` set to `value` (garbage no fit may read)."""
    out = {}
    for name in splits:
        s = data.split(name)
        y = np.where(s.mask, s.y, np.float32(value)).astype(np.float32)
        out[name] = dataclasses.replace(s, y=y)
    return dataclasses.replace(data, **out)


@pytest.fixture(scope="module")
def masked():
    data = _with_masks(make_windowed_data(n_steps=500, n_features=2, n_targets=2, n_inputs=16, n_outputs=4))
    return _rewrite_unobserved(data, 40.0), _rewrite_unobserved(data, -40.0)


def test_training_loss_and_early_stopping_ignore_unobserved_targets(masked):
    a, b = masked
    cfg = TrainConfig(epochs=3, batch_size=32, learning_rate=3e-3, patience=3, device="cpu")
    shapes = dict(n_features=a.n_features, n_targets=a.n_targets, n_inputs=a.n_inputs, n_outputs=a.n_outputs)
    results, states = [], []
    for data in (a, b):
        model = build("gru_nar", **shapes, seed=0, hidden_size=16, dropout=0.0)
        results.append(fit(model, data, cfg))
        states.append(model.state_dict())
    # the same history (train loss, validation MSE: the early-stopping and ASHA metric) and the same weights
    assert [h["train_loss"] for h in results[0].history] == [h["train_loss"] for h in results[1].history]
    assert [h["val_mse"] for h in results[0].history] == [h["val_mse"] for h in results[1].history]
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k], rtol=0, atol=0)


def test_ridge_and_the_linear_core_fit_on_real_targets_only(masked):
    a, b = masked
    fits = []
    for data in (a, b):
        ridge = build("ridge", **data.shapes)
        chosen = fit_ridge(ridge, data.train, data.val)
        fits.append((ridge.weight.clone(), ridge.bias.clone(), chosen["alpha"], chosen["val_mse"]))
    torch.testing.assert_close(fits[0][0], fits[1][0])
    torch.testing.assert_close(fits[0][1], fits[1][1])
    assert fits[0][2:] == pytest.approx(fits[1][2:])
    # and the masked fit is not the unmasked one: the garbage would have moved it
    plain = build("ridge", **a.shapes)
    fit_ridge(plain, dataclasses.replace(a.train, mask=None), a.val)
    assert not torch.allclose(plain.weight, fits[0][0])

    cores = []
    for data in (a, b):
        norm = WindowNorm("window", data.n_features, data.n_targets)
        skip = LinearSkip(data.n_inputs, data.n_features, data.n_outputs, data.n_targets)
        with torch.no_grad():
            fit_linear_core(norm, skip, data.train, data.val)
        cores.append((skip.weight.clone(), skip.bias.clone()))
    torch.testing.assert_close(cores[0][0], cores[1][0])
    torch.testing.assert_close(cores[0][1], cores[1][1])


def test_ridge_without_unobserved_targets_is_unchanged():
    """All cells real: exactly the single closed-form solve of before (same weights as without a mask)."""
    data = make_windowed_data(n_steps=300, n_features=2, n_targets=1, n_inputs=12, n_outputs=3)
    with_mask = dataclasses.replace(data.train, mask=np.ones(data.train.y.shape, bool))
    one, two = build("ridge", **data.shapes), build("ridge", **data.shapes)
    fit_ridge(one, data.train, data.val)
    fit_ridge(two, with_mask, data.val)
    torch.testing.assert_close(one.weight, two.weight, rtol=0, atol=0)


def test_climatology_and_the_mase_scale_ignore_unobserved_training_values():
    base = make_windowed_data(n_steps=1100, n_features=1, n_targets=1, n_inputs=14, n_outputs=3)
    base = dataclasses.replace(base, summary={"frequency": "D"})  # origins are consecutive days from 2020-01-01
    data = _with_masks(base, every=10)
    a, b = _rewrite_unobserved(data, 40.0, ("train",)), _rewrite_unobserved(data, -40.0, ("train",))
    preds = []
    for d in (a, b):
        results, _ = baseline_scores(d)
        by_name = {r.model: r for r in results}
        assert "climatology" in by_name
        preds.append(by_name["climatology"])
    np.testing.assert_array_equal(preds[0].y_pred, preds[1].y_pred)
    np.testing.assert_array_equal(preds[0].val_pred, preds[1].val_pred)
    np.testing.assert_array_equal(naive_scales(a, 7), naive_scales(b, 7))
    assert np.isfinite(naive_scales(a, 7)).all()


def test_conformal_calibration_and_coverage_use_real_targets_only(masked):
    a, b = masked
    rng = np.random.default_rng(0)
    val_pred = (a.val.y + 0.3 * rng.standard_normal(a.val.y.shape)).astype(np.float32)
    test_pred = (a.test.y + 0.3 * rng.standard_normal(a.test.y.shape)).astype(np.float32)
    # the predictions stay the same; only the unobserved targets differ between a and b
    test_pred = np.where(a.test.mask, test_pred, 0.0).astype(np.float32)
    val_pred = np.where(a.val.mask, val_pred, 0.0).astype(np.float32)
    tables = []
    for data in (a, b):
        result = ModelScore("m", "trained", 0.0, {"mse": 0.0}, test_pred, 0, val_pred=val_pred)
        bands = intervals.model_bands(result, data, (0.8, 0.95))
        tables.append((bands, intervals.interval_table(bands, data)))
    for one, two in zip(tables[0][0], tables[1][0], strict=True):
        np.testing.assert_array_equal(one.lower, two.lower)
        np.testing.assert_array_equal(one.upper, two.upper)
    assert tables[0][1].equals(tables[1][1])
    # calibrated on real residuals (sd 0.3): the 80% half-width is near 1.28 sd, not blown up by the garbage
    q = intervals.conformal_half_width(val_pred, a.val.y, 0.8, a.val.mask)
    assert np.all((q > 0.25) & (q < 0.6)), q
    assert 0.7 < tables[0][1].set_index("level").loc[0.8, "coverage"] < 0.9


def test_conformal_quantile_counts_each_cell_own_observations():
    scores = np.arange(1.0, 11.0)[:, None] * np.ones((1, 2))
    observed = np.ones((10, 2), bool)
    observed[5:, 1] = False  # the second cell keeps 5 calibration scores: 1..5
    q = intervals.conformal_quantile(scores, 0.5, observed)
    assert q[0] == intervals.conformal_quantile(scores[:, :1], 0.5)[0] == 6.0  # ceil(11 * 0.5) = 6th of 10
    assert q[1] == 3.0  # ceil(6 * 0.5) = 3rd of 5
    assert np.isinf(intervals.conformal_quantile(scores, 0.9, observed)[1])  # ceil(6 * 0.9) = 6 > 5
