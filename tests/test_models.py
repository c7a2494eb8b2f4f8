"""Model contracts: shapes, no target leakage, decoder structure, dropout, registry, metrics."""

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
    assert hparam_names("gru_ar") == {"hidden_size", "num_layers", "dropout", "teacher_forcing"}
    assert hparam_names("lstm_nar") == {"hidden_size", "num_layers", "dropout"}
    assert hparam_names("transformer") == {"d_model", "nhead", "num_layers", "dim_feedforward", "dropout"}
    assert hparam_names("persistence") == set()
    assert hparam_names("ridge") == {"alphas"}
    with pytest.raises(ValueError, match="valid names: lstm_ar"):
        build("mlp", n_features=1, n_targets=1, n_inputs=2, n_outputs=1)
    with pytest.raises(ValueError, match=r"hidden\b.*allowed: dropout, hidden_size"):
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
