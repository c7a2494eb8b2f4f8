"""`series_embedding`: a learned vector per series fed to every architecture's encoder (off by default)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data
from models import TRAINED_MODELS, TrainConfig, build, fit, predict

SMALL = {"lstm_ar": {"hidden_size": 8}, "lstm_nar": {"hidden_size": 8}, "gru_ar": {"hidden_size": 8},
         "gru_nar": {"hidden_size": 8}, "transformer": {"d_model": 8, "nhead": 2}}


def _build(name, **hp):
    return build(name, n_features=3, n_targets=2, n_inputs=12, n_outputs=4, n_series=5, seed=0, **SMALL[name], **hp)


def _x(batch=6):
    g = torch.Generator().manual_seed(0)
    return torch.randn(batch, 12, 3, generator=g), torch.randn(batch, 4, 2, generator=g)


@pytest.mark.parametrize("name", TRAINED_MODELS)
def test_embedding_reaches_the_encoder_and_keeps_eval_free_of_targets(name):
    extra = {"teacher_forcing": 1.0} if name.endswith("_ar") else {}
    model = _build(name, series_embedding=3, **extra).eval()
    x, y = _x()
    x[5] = x[0]
    ids = torch.tensor([0, 1, 2, 3, 4, 0])
    with torch.no_grad():
        ref = model(x, series=ids)
        assert torch.equal(ref, model(x, y, series=ids))  # no target reaches an eval forecast
        assert torch.equal(ref, model(x, torch.full_like(y, float("nan")), series=ids))
        other = model(x, series=torch.tensor([1, 2, 3, 4, 0, 1]))
    assert torch.allclose(ref[0], ref[5], atol=1e-6)  # same window, same series: same forecast
    assert not torch.allclose(ref[:5], other[:5])  # another series' vector: another forecast
    with pytest.raises(ValueError, match="series ids"):
        model(x)


@pytest.mark.parametrize("name", TRAINED_MODELS)
def test_off_by_default_and_the_seeded_model_unchanged(name):
    a = build(name, n_features=3, n_targets=2, n_inputs=12, n_outputs=4, seed=0, **SMALL[name])
    b = _build(name, series_embedding=0)
    assert [n for n, _ in a.named_parameters()] == [n for n, _ in b.named_parameters()]
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not getattr(a, "reads_series", False)
    with pytest.raises(ValueError, match="series_embedding"):
        _build(name, series_embedding=-1)


def test_a_global_model_with_an_embedding_trains_on_a_panel():
    data = build_windowed_data(DataConfig(source="synthetic_panel"), WindowConfig(input=14, output=3),
                               SplitConfig(), cache=False)
    model = build("gru_nar", **data.shapes, seed=0, hidden_size=8, num_layers=1, series_embedding=4)
    result = fit(model, data, TrainConfig(epochs=2, batch_size=256, patience=2))
    assert np.isfinite(result.best_val_mse)
    pred = predict(model, data.test.x, series=data.test.series)
    assert pred.shape == data.test.y.shape
    with pytest.raises(ValueError, match="series ids"):
        predict(model, data.test.x)
