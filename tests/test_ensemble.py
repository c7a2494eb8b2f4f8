"""The greedy weighted ensemble (models/forecasters/ensemble.py): forward selection with replacement, the best
prefix, the plain mean on ties, and validation scores that are out of fold."""

from __future__ import annotations

import numpy as np
import pytest

from data_pipeline.types import score_weights
from models.forecasters import Span
from models.forecasters.ensemble import FoldTargets, Member, WeightedEnsemble, greedy_weights, pooled_mse

RNG = np.random.default_rng(0)
SHAPE = (200, 7, 2)


def _fold(truth: np.ndarray) -> FoldTargets:
    return FoldTargets(truth, None)


def test_a_clearly_better_member_is_chosen_alone():
    truth = [RNG.normal(size=SHAPE) for _ in range(3)]
    good = [t + 0.1 * RNG.normal(size=SHAPE) for t in truth]
    bad = [t + 2.0 * RNG.normal(size=SHAPE) for t in truth]
    w = greedy_weights([bad, good], [_fold(t) for t in truth], steps=10)
    assert w.tolist() == [0.0, 1.0]


def test_members_with_independent_errors_get_about_their_inverse_variance_weights():
    truth = [RNG.normal(size=SHAPE) for _ in range(3)]
    a = [t + RNG.normal(size=SHAPE) for t in truth]
    b = [t + RNG.normal(size=SHAPE) for t in truth]
    far = [t + 3 * RNG.normal(size=SHAPE) for t in truth]
    folds = [_fold(t) for t in truth]
    w = greedy_weights([a, b, far], folds, steps=20)
    # the optimum is 9/19, 9/19, 1/19 (error variances 1, 1, 9): the far member enters, barely
    assert abs(w[0] - w[1]) <= 0.15 and w[2] <= 0.1 and w.sum() == pytest.approx(1.0)
    # the mean of two independent errors halves the MSE: better than either alone
    assert pooled_mse([(x + y) / 2 for x, y in zip(a, b, strict=True)], folds) < 0.6 * pooled_mse(a, folds)


def test_unequal_members_get_unequal_weights_from_the_best_prefix():
    truth = [RNG.normal(size=SHAPE) for _ in range(3)]
    a = [t + 0.5 * RNG.normal(size=SHAPE) for t in truth]
    b = [t + 1.0 * RNG.normal(size=SHAPE) for t in truth]
    w = greedy_weights([a, b], [_fold(t) for t in truth], steps=20)
    # inverse-variance weights would be 0.8 / 0.2: the greedy steps land near them, never on b alone
    assert 0.6 <= w[0] <= 0.95 and w[0] + w[1] == pytest.approx(1.0)


def test_a_fold_harder_for_every_member_does_not_decide_the_weights():
    """Fold 1 is a shock (every member errs far more there; a's errors less than b's), folds 2 and 3 ordinary
    (b better). Scored by the arithmetic mean of fold MSEs, fold 1 alone would choose a; the geometric mean counts
    each fold's ratio alike, and scaling fold 1's errors (the same fold in other units) changes no weight."""
    rng = np.random.default_rng(1)  # its own draws: the other tests' data stay as they were
    truth = [rng.normal(size=SHAPE) for _ in range(3)]
    noise = [rng.normal(size=SHAPE) for _ in range(6)]

    def members(shock: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
        a = [truth[0] + shock * 4.0 * noise[0], truth[1] + 0.3 * noise[1], truth[2] + 0.3 * noise[2]]
        b = [truth[0] + shock * 5.0 * noise[3], truth[1] + 0.1 * noise[4], truth[2] + 0.1 * noise[5]]
        return a, b

    folds = [_fold(t) for t in truth]
    a, b = members(1.0)
    assert np.mean([f.mse(x) for f, x in zip(folds, a, strict=True)]) < np.mean(
        [f.mse(x) for f, x in zip(folds, b, strict=True)])  # the arithmetic mean would prefer a
    w = greedy_weights([a, b], folds, steps=20)
    assert w[1] > 0.5  # b, better on two folds of three by a larger ratio, carries the ensemble
    assert greedy_weights(list(members(3.0)), folds, steps=20).tolist() == w.tolist()


def test_the_fold_mse_is_the_mean_over_series_of_each_series_mse_on_its_real_cells():
    y = RNG.normal(size=(60, 3, 1)).astype(np.float32)
    pred = (y + RNG.normal(size=y.shape)).astype(np.float32)
    mask = RNG.random(y.shape) > 0.1
    series = np.repeat(np.arange(3), 20)
    fold = FoldTargets(y, score_weights(y.shape, mask, series))
    sq = (pred.astype(np.float64) - y) ** 2
    expected = np.mean([np.mean(sq[series == s][mask[series == s]]) for s in range(3)])
    assert fold.mse(pred) == pytest.approx(expected, rel=1e-9)


def test_each_folds_validation_forecast_uses_weights_chosen_without_that_fold():
    """Fold 1 favours member a, folds 2 and 3 member b: the out-of-fold forecast of fold 1 is b's (chosen on the
    other folds), while the weights for the test split, chosen on all three, are b's as well. (a errs less on fold 1
    than b on fold 3, so with fold 2 held out a wins: fold MSEs are compared by their ratios.)"""
    truth = {f: RNG.normal(size=SHAPE) for f in (1, 2, 3)}
    a = {f: truth[f] + (0.05 if f == 1 else 2.0) * RNG.normal(size=SHAPE) for f in truth}
    b = {f: truth[f] + (2.0 if f == 1 else 0.1) * RNG.normal(size=SHAPE) for f in truth}

    def member(name: str, val: dict) -> Member:
        return Member(name, val, np.zeros(SHAPE, np.float32), False, lambda inputs: np.zeros(1))

    ensemble = WeightedEnsemble([member("a", a), member("b", b)], {f: _fold(t) for f, t in truth.items()}, 10)
    assert ensemble.held_out[1].tolist() == [0.0, 1.0]  # fold 1 left out: b wins on folds 2 and 3
    assert ensemble.held_out[2][0] > 0  # fold 2 left out: a, the best on fold 1, enters
    fitted = ensemble.fit(Span(data=None, fold=1, splits=("val",)))  # type: ignore[arg-type]
    np.testing.assert_allclose(fitted.predict("val").point, b[1].astype(np.float32))
    # scored out of fold, the ensemble is worse on fold 1 than the member that fits fold 1 (no peeking)
    assert _fold(truth[1]).mse(fitted.predict("val").point) > _fold(truth[1]).mse(a[1])


def test_an_ensemble_needs_two_validation_blocks():
    truth = RNG.normal(size=SHAPE)
    m = Member("a", {1: truth}, truth, False, lambda inputs: truth)
    with pytest.raises(ValueError, match="split.folds >= 2"):
        WeightedEnsemble([m, m], {1: _fold(truth)})


def test_the_ensembles_size_is_its_chosen_members_parameters():
    """The ranking's `params` of the ensemble: what forecasting with it takes, every chosen member's parameters (a
    member left at weight 0 is not run, so not counted), as a seed ensemble counts all its seeds'."""
    truth = {f: RNG.normal(size=SHAPE) for f in (1, 2)}
    test = np.zeros(SHAPE, np.float32)
    good = Member("good", {f: t + 0.1 * RNG.normal(size=SHAPE) for f, t in truth.items()}, test, False,
                  lambda inputs: test, params=7)
    also = Member("also", {f: t + 0.1 * RNG.normal(size=SHAPE) for f, t in truth.items()}, test, False,
                  lambda inputs: test, params=30)
    bad = Member("bad", {f: t + 3.0 * RNG.normal(size=SHAPE) for f, t in truth.items()}, test, False,
                 lambda inputs: test, params=1000)
    ensemble = WeightedEnsemble([good, also, bad], {f: _fold(t) for f, t in truth.items()}, 10)
    assert ensemble.weights[2] == 0 and ensemble.weights[0] > 0 and ensemble.weights[1] > 0
    described = ensemble.fit(Span(data=None, fold=1, splits=("val",))).describe()  # type: ignore[arg-type]
    assert described.params == 37 and set(described.members) == {"good", "also"}


def test_the_ensemble_reads_the_covariates_its_weighted_members_read():
    from models.forecasters import Capabilities

    truth = [RNG.normal(size=SHAPE) for _ in range(3)]
    folds = {j + 1: _fold(t) for j, t in enumerate(truth)}
    drivers = Capabilities(known_future_covariates=True)  # e.g. a trained model given data.known_future

    def member(name: str, noise: float, caps: Capabilities) -> Member:
        val = {j: t + noise * RNG.normal(size=SHAPE) for j, t in zip(folds, truth, strict=True)}
        return Member(name, val, truth[0], False, lambda inputs: truth[0], capabilities=caps)

    good, plain = member("gru_nar", 0.3, drivers), member("ets", 0.6, Capabilities(own_intervals=True))
    ens = WeightedEnsemble([good, plain], folds, steps=10)
    assert ens.weights[0] > 0 and ens.capabilities.known_future_covariates and ens.capabilities.static_covariates
    assert not ens.capabilities.past_covariates and not ens.capabilities.refits
    # the same driver-reading entry with no weight: the ensemble's forecast reads no driver, and says so
    useless = member("gru_nar", 5.0, drivers)
    ens = WeightedEnsemble([useless, member("ets", 0.3, Capabilities())], folds, steps=10)
    assert ens.weights[0] == 0 and not ens.capabilities.known_future_covariates
