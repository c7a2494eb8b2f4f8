"""Model contracts: shapes, no target leakage, decoder structure, dropout, registry, metrics.

Over 300 lines: each contract is one short test parametrized over every architecture of the registry; kept in one file so a
new architecture meets all of them by being registered (test_models_data.py holds the shared data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_models_data import make_windowed_data

import models
from models import (
    BASELINES,
    MODEL_NAMES,
    TRAINED_MODELS,
    build,
    evaluate,
    hparam_names,
    predict,
    scores,
)

SMALL = {
    "lstm_ar": {"hidden_size": 16},
    "lstm_nar": {"hidden_size": 16},
    "gru_ar": {"hidden_size": 16},
    "gru_nar": {"hidden_size": 16},
    "transformer": {"d_model": 16, "nhead": 2},
    "persistence": {},
    "ridge": {},
    "seasonal_naive": {"season": 3},
}
SHAPES = [
    (3, 1, 24, 6),
    (4, 2, 30, 7),
    (2, 2, 5, 1),
    (6, 3, 10, 3),
]  # n_features, n_targets, n_inputs, n_outputs


def _build(name, nf=3, nt=2, ni=12, no=4, **hp):
    return build(
        name, n_features=nf, n_targets=nt, n_inputs=ni, n_outputs=no, seed=0, **{**SMALL[name], **hp}
    )


def _xy(nf=3, nt=2, ni=12, no=4, batch=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, ni, nf, generator=g), torch.randn(batch, no, nt, generator=g)


# ---------------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("nf,nt,ni,no", SHAPES)
def test_output_shape(name, nf, nt, ni, no):
    model = _build(name, nf, nt, ni, no)
    x, y = _xy(nf, nt, ni, no)
    for mode in (True, False):
        model.train(mode)
        assert model(x).shape == (5, no, nt)
        assert model(x, y).shape == (5, no, nt)


# --------------------------------------------------------------------------------------------- leakage


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_eval_output_ignores_y(name):
    model = _build(name, **({"teacher_forcing": 1.0} if name.endswith("_ar") else {})).eval()
    x, y = _xy()
    with torch.no_grad():
        ref = model(x)
        assert torch.equal(ref, model(x, y))
        assert torch.equal(ref, model(x, 1e6 * torch.randn_like(y)))
        assert torch.equal(ref, model(x, torch.full_like(y, float("nan"))))
        assert torch.equal(ref, model(x))  # nothing else varies between calls either


@pytest.mark.parametrize("name", TRAINED_MODELS)
def test_eval_output_depends_on_x_only_through_the_window(name):
    """Changing the input window changes the forecast (the model is not constant), deterministically."""
    model = _build(name).eval()
    x, _ = _xy()
    x2 = x.clone()
    x2[:, -1] += 1.0
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x2))
        assert torch.equal(model(x2), model(x2))


@pytest.mark.parametrize("name", ["lstm_nar", "gru_nar", "transformer"])
def test_non_autoregressive_models_ignore_y_even_in_training(name):
    model = _build(name).train()
    x, y = _xy()
    garbage = 1e6 * torch.randn_like(y)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        a = model(x, y)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        b = model(x, garbage)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        c = model(x)
    assert torch.equal(a, b) and torch.equal(a, c)


@pytest.mark.parametrize("name", ["lstm_ar", "gru_ar"])
def test_teacher_forcing_only_in_training(name):
    model = _build(name, teacher_forcing=1.0, dropout=0.0)
    x, y = _xy()
    model.train()
    assert not torch.allclose(model(x, y), model(x, y + 1.0))  # training: y is fed back
    assert torch.equal(model(x), model(x, None))
    model.eval()
    assert torch.equal(model(x), model(x, y + 1.0))


@pytest.mark.parametrize("name", ["lstm_ar", "gru_ar"])
def test_ar_first_step_input_is_last_observation_and_feeds_back_predictions(name):
    model = _build(name).eval()
    x, _ = _xy()
    inputs = []
    model.decoder.rnn.register_forward_hook(lambda m, args, out: inputs.append(args[0].detach().clone()))
    with torch.no_grad():
        out = model(x)
    assert len(inputs) == 4  # stepped once per forecast day
    assert torch.equal(inputs[0][:, 0], x[:, -1, :2])  # not zeros: the last observed targets
    for t in range(1, 4):
        assert torch.equal(inputs[t][:, 0], out[:, t - 1])  # free-running: its own previous prediction


@pytest.mark.parametrize("name", ["lstm_nar", "gru_nar"])
def test_nar_decoder_runs_once_on_inputs_that_hold_no_outputs(name):
    model = _build(name).eval()
    calls = []
    model.decoder.rnn.register_forward_hook(lambda m, args, out: calls.append(args[0].detach().clone()))
    x, _ = _xy()
    with torch.no_grad():
        model(x)
        model(x + torch.randn_like(x))
    assert len(calls) == 2  # one call per forward, not one per forecast day
    # decoder inputs are the learned horizon embeddings: identical whatever the window or its forecasts
    expected = model.decoder.horizon.detach().expand(5, -1, -1)
    assert torch.equal(calls[0], expected) and torch.equal(calls[1], expected)


def test_transformer_decoder_queries_hold_no_targets():
    model = _build("transformer").train()
    seen = []
    model.decoder.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    x, y = _xy()
    with torch.random.fork_rng():
        torch.manual_seed(3)
        model(x, y)
    with torch.random.fork_rng():
        torch.manual_seed(3)
        model(x, -y)
    assert torch.equal(seen[0], seen[1])
    # and the queries change only through the last observation, never through y
    model.eval()
    seen.clear()
    x2 = x.clone()
    x2[:, :-1] = torch.randn_like(x2[:, :-1])  # history changes, last observation kept
    with torch.no_grad():
        model(x)
        model(x2)
    assert torch.equal(seen[0], seen[1])


def test_transformer_validates_heads():
    with pytest.raises(ValueError, match="divisible by nhead"):
        _build("transformer", d_model=30, nhead=4)
    m = _build("transformer", d_model=16, nhead=2, dim_feedforward=None)
    assert m.cfg.dim_feedforward == 64


# --------------------------------------------------------------------------------------------- dropout


@pytest.mark.parametrize("name", TRAINED_MODELS)
@pytest.mark.parametrize("num_layers", [1, 2])
def test_dropout_active_in_train_off_in_eval(name, num_layers):
    model = _build(name, dropout=0.3, num_layers=num_layers)
    x, _ = _xy()
    model.train()
    assert not torch.allclose(model(x), model(x))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


# -------------------------------------------------------------------------------------------- registry


def test_registry_names_and_errors():
    assert set(MODEL_NAMES) == set(TRAINED_MODELS) | set(BASELINES)
    options = {"norm", "linear_skip", "series_embedding"}
    assert hparam_names("gru_ar") == {"hidden_size", "num_layers", "dropout", "teacher_forcing"} | options
    assert hparam_names("lstm_nar") == {"hidden_size", "num_layers", "dropout"} | options
    assert hparam_names("transformer") == {"d_model", "nhead", "num_layers", "dim_feedforward", "dropout"} | options
    assert hparam_names("persistence") == set()
    assert hparam_names("ridge") == {"alphas"}
    with pytest.raises(ValueError, match="valid names: lstm_ar"):
        build("mlp", n_features=1, n_targets=1, n_inputs=2, n_outputs=1)
    with pytest.raises(ValueError, match=r"hidden\b.*allowed: dropout, hidden_size, linear_skip"):
        build("gru_nar", n_features=1, n_targets=1, n_inputs=2, n_outputs=1, hidden=3)
    with pytest.raises(ValueError, match="teacher_forcing"):
        build("gru_nar", n_features=1, n_targets=1, n_inputs=2, n_outputs=1, teacher_forcing=0.5)
    with pytest.raises(ValueError, match="n_targets"):
        build("persistence", n_features=1, n_targets=2, n_inputs=2, n_outputs=1)
    a, b = _build("gru_ar"), _build("gru_ar")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    with pytest.raises(ValueError, match="epochs"):
        models.TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="learning_rte"):
        models.TrainConfig(learning_rte=0.1)


def test_persistence_repeats_last_value():
    x, _ = _xy()
    out = _build("persistence")(x)
    assert torch.equal(out, x[:, -1:, :2].expand(-1, 4, -1))
    assert models.count_parameters(_build("persistence")) == 0


# --------------------------------------------------------------------------------------------- metrics


@pytest.fixture(scope="module")
def data():
    return make_windowed_data(n_steps=300, n_inputs=12, n_outputs=4)


def test_scores_and_evaluate(data):
    model = _build("persistence")
    ev = evaluate(model, data.val, data)
    pred = predict(model, data.val.x, batch_size=7)
    assert pred.shape == data.val.y.shape and pred.dtype == np.float32
    assert ev == scores(data.val.y, pred, data)
    assert ev["n_windows"] == len(data.val)
    assert len(ev["per_horizon_mse"]) == 4
    assert np.isclose(np.mean(ev["per_horizon_mse"]), ev["mse"])
    # per-target errors are in original units: scale them back by hand
    err = (pred - data.val.y)[..., 1] * data.scaler.scale[1]
    assert np.isclose(ev["per_target"]["f1"]["rmse"], np.sqrt(np.mean(err**2)))
    assert np.isclose(ev["per_target"]["f1"]["mae"], np.mean(np.abs(err)))
    assert model.training  # predict restores the mode it found


# ------------------------------------------------------------ window normalisation, linear skip, known future

OPTIONS = [
    {"norm": "window"},
    {"norm": "revin"},
    {"linear_skip": True},
    {"norm": "window", "linear_skip": True},
    {"norm": "revin", "linear_skip": True},
]


def _future(no=4, n_future=2, batch=5, seed=7):
    return torch.randn(batch, no, n_future, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", TRAINED_MODELS)
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_options_keep_eval_independent_of_y(name, opts):
    extra = {"teacher_forcing": 1.0} if name.endswith("_ar") else {}
    # feature 2 is the one calendar column, read on the input days (x) and on the forecast days (future)
    model = build(name, n_features=3, n_targets=2, n_inputs=12, n_outputs=4, n_future=1, seed=0,
                  **SMALL[name], **extra, **opts).eval()
    x, y = _xy()
    f = _future(n_future=1)
    with torch.no_grad():
        ref = model(x, future=f)
        assert ref.shape == (5, 4, 2) and torch.isfinite(ref).all()
        assert torch.equal(ref, model(x, y, f))
        assert torch.equal(ref, model(x, 1e6 * torch.randn_like(y), f))
        assert torch.equal(ref, model(x, torch.full_like(y, float("nan")), f))


@pytest.mark.parametrize("name", TRAINED_MODELS)
@pytest.mark.parametrize("norm", ["window", "revin"])
@pytest.mark.parametrize("linear_skip", [False, True])
def test_normalisation_statistics_come_from_the_input_window_only(name, norm, linear_skip):
    """Shift (and, without the linear path, scale) every feature of one window: the forecast moves with that
    window's own statistics.

    This holds only if the statistics are the window's own: statistics from the training set, from other windows
    of the batch or from the target days would break it. Window 0 is changed, window 1 is kept and must not move.
    The linear path works in scaled units on the window minus its mean, so with it a shift is followed exactly and
    a change of scale is not (its bias is fixed in scaled units): that case is tested by shifting only.
    """
    model = _build(name, norm=norm, linear_skip=linear_skip).eval()
    with torch.no_grad():  # give the RevIN affine and the skip path non-trivial values
        for n, p in [*model.named_parameters(), *model.named_buffers()]:
            if n.startswith(("norm.", "skip.")):
                p.add_(0.3 * torch.randn_like(p))
    x, _ = _xy()
    a = torch.ones(3) if linear_skip else torch.tensor([3.0, 0.5, 2.0])
    c = torch.tensor([40.0, -7.0, 5.0])
    x2 = x.clone()
    x2[0] = x[0] * a + c
    with torch.no_grad():
        out, out2 = model(x), model(x2)
    torch.testing.assert_close(out2[0], out[0] * a[:2] + c[:2], rtol=1e-4, atol=1e-3)
    assert torch.equal(out2[1:], out[1:])
    stats = model.norm.statistics(x2)
    torch.testing.assert_close(stats[0][0, 0], x2[0].mean(0))  # mean over the input days, per feature


@pytest.mark.parametrize("name", TRAINED_MODELS)
def test_calendar_columns_are_not_normalised(name):
    """The known-future (calendar) columns, the last n_future input features, keep their values: shifting them
    changes the forecast (a normalised column would forget a shift), and their statistics are the identity."""
    model = build(name, n_features=3, n_targets=1, n_inputs=12, n_outputs=4, n_future=1, seed=0, **SMALL[name],
                  norm="window").eval()
    x, _ = _xy()
    f = _future(n_future=1)
    mean, std = model.norm.statistics(x)
    assert torch.equal(mean[..., 2], torch.zeros(5, 1)) and torch.equal(std[..., 2], torch.ones(5, 1))
    torch.testing.assert_close(mean[..., :2], x[..., :2].mean(1, keepdim=True))
    x2 = x.clone()
    x2[..., 2] += 0.5  # another phase of the year
    x3 = x.clone()
    x3[..., 1] += 0.5  # a non-calendar input shifted the same way: its window frame forgets it
    with torch.no_grad():
        assert not torch.allclose(model(x, future=f), model(x2, future=f))
        torch.testing.assert_close(model(x, future=f), model(x3, future=f), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="known-future"):
        build(name, n_features=2, n_targets=2, n_inputs=12, n_outputs=4, n_future=1, **SMALL[name], norm="window")


def test_without_normalisation_a_level_shift_is_not_followed():
    """The control for the test above: the plain network sees absolute levels, so a shift changes its shape."""
    model = _build("gru_nar").eval()
    x, _ = _xy()
    with torch.no_grad():
        diff = model(x + 40.0) - (model(x) + 40.0)
    assert diff.abs().max() > 1e-2


@pytest.mark.parametrize("name", TRAINED_MODELS)
def test_linear_skip_is_a_fixed_linear_map_of_the_window(name):
    plain, skip = _build(name), _build(name, linear_skip=True)
    x, _ = _xy()
    plain.eval()
    skip.eval()
    assert models.count_parameters(plain) == models.count_parameters(skip)  # solved, not trained: buffers
    with torch.no_grad():
        assert torch.equal(plain(x), skip(x))  # same seeded network, skip path zero until fitted
        w = torch.randn_like(skip.skip.weight)
        skip.skip.weight.copy_(w)
        expected = plain(x) + (x.flatten(1) @ w.T).view(5, 4, 2)
        torch.testing.assert_close(skip(x), expected)


@pytest.mark.parametrize("norm", ["none", "window"])
def test_fit_starts_the_linear_path_at_ridge_and_holds_it(data, norm):
    """models.fit solves the linear path in closed form before training (ridge on the window minus its mean,
    penalty chosen on validation), and training leaves it where it was."""
    from models.blocks import fit_linear_core

    model = build("gru_nar", **data.shapes, hidden_size=8, seed=0, norm=norm, linear_skip=True)
    expected = _build("gru_nar", nf=data.n_features, no=data.n_outputs, ni=data.n_inputs, norm=norm,
                      linear_skip=True)
    result = fit_linear_core(expected.norm, expected.skip, data.train, data.val)
    assert result["alpha"] == min(result["val_mse_by_alpha"], key=result["val_mse_by_alpha"].get)
    assert expected.skip.weight.abs().sum() > 0
    models.fit(model, data, models.TrainConfig(epochs=2, device="cpu"))
    torch.testing.assert_close(model.skip.weight, expected.skip.weight)
    torch.testing.assert_close(model.skip.bias, expected.skip.bias)
    # the path alone is ridge on the centred window: with norm=none exactly the ridge baseline
    x = torch.as_tensor(data.val.x)
    stats = None if norm == "none" else expected.norm.statistics(x)
    with torch.no_grad():
        core = x[:, -1:, : data.n_targets] + expected.skip(expected.norm.center(x, stats))
    core_mse = float(((core.numpy() - data.val.y) ** 2).mean())
    assert core_mse == pytest.approx(result["val_mse"], rel=1e-4)
    assert core_mse < float(((x[:, -1:, :2].numpy() - data.val.y) ** 2).mean())  # better than persistence
    if norm == "none":
        ridge = build("ridge", **data.shapes)
        models.fit(ridge, data, models.TrainConfig(epochs=1, device="cpu"))
        np.testing.assert_allclose(core.numpy(), predict(ridge, data.val.x), atol=1e-4)


@pytest.mark.parametrize("name", TRAINED_MODELS)
def test_default_options_keep_the_seeded_model_unchanged(name):
    """The options add parts beside the core and draw nothing from the seeded stream before it: the same seed
    gives the same core weights with or without them (so a grid over the options compares like with like)."""
    plain = dict(_build(name).named_parameters())
    assert not any(n.startswith(("norm.", "skip.", "future_proj", "decoder.future_proj")) for n in plain)
    for options in ({"norm": "window", "linear_skip": True}, {"norm": "revin"}):
        other = dict(_build(name, **options).named_parameters())
        assert set(plain) <= set(other)
        for n, value in plain.items():
            assert torch.equal(value, other[n]), (options, n)


@pytest.mark.parametrize("name", TRAINED_MODELS)
def test_known_future_inputs_reach_the_decoder_and_are_required(name):
    model = build(name, n_features=3, n_targets=2, n_inputs=12, n_outputs=4, n_future=2, seed=0,
                  **SMALL[name]).eval()
    x, _ = _xy()
    f = _future()
    with torch.no_grad():
        base = model(x, future=f)
        g = f.clone()
        g[:, -1] += 1.0  # change only the last forecast day's calendar values
        changed = model(x, future=g)
    assert not torch.allclose(base, changed)
    if name.endswith("_ar"):  # causal: an AR step reads only its own day's values, so earlier days stay put
        assert torch.equal(base[:, :-1], changed[:, :-1])
    with pytest.raises(ValueError, match="known-future"):
        model(x)
    with pytest.raises(ValueError, match=r"shape \(5, 4, 2\)"):
        model(x, future=f[:, :3])


@pytest.mark.parametrize("name", ["lstm_ar", "gru_ar"])
def test_teacher_forcing_feeds_targets_in_the_window_frame(name):
    """With normalisation, the true y fed back in training is mapped into the window's frame first."""
    model = _build(name, norm="window", teacher_forcing=1.0, dropout=0.0).train()
    inputs = []
    model.decoder.rnn.register_forward_hook(lambda m, args, out: inputs.append(args[0].detach().clone()))
    x, y = _xy()
    model(x, y)
    mean, std = x.mean(1), x.std(1, unbiased=False)
    torch.testing.assert_close(inputs[1][:, 0], (y[:, 0] - mean[:, :2]) / torch.sqrt(std[:, :2] ** 2 + 1e-5))


@pytest.mark.parametrize("bad,match", [({"norm": "batch"}, "norm must be one of none, window, revin"),
                                      ({"linear_skip": "yes"}, "linear_skip must be true or false")])
def test_bad_options_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        _build("gru_nar", **bad)


@pytest.mark.parametrize("name", TRAINED_MODELS)
def test_options_train_and_weights_round_trip(tmp_path, data, name):
    kw = {"n_features": 3, "n_targets": 2, "n_inputs": 12, "n_outputs": 4}
    hp = {**SMALL[name], "norm": "revin", "linear_skip": True}
    model = build(name, **kw, **hp, seed=0)
    models.fit(model, data, models.TrainConfig(epochs=2, batch_size=64, device="cpu"))
    # as a trial's checkpoint does: the weights alone, loaded with weights_only, into a model rebuilt from hparams
    path = tmp_path / f"{name}.pt"
    torch.save(model.state_dict(), path)
    loaded = build(name, **kw, **hp)
    loaded.load_state_dict(torch.load(path, weights_only=True))
    np.testing.assert_array_equal(predict(model, data.val.x), predict(loaded, data.val.x))
