"""Chronos-2 baseline on a tiny random model: loading, zero-shot forecasts, fine-tuning, offline failures."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
import torch

pytest.importorskip("chronos", reason="optional extra chronos-forecasting is not installed")

from chronos_fixture import save_tiny_chronos2  # noqa: E402

from data_pipeline import DataConfig, SplitConfig, SplitWindows, WindowConfig, build_windowed_data  # noqa: E402
from models.chronos import (  # noqa: E402
    DEFAULT_CHRONOS2,
    PretrainedUnavailable,
    chronos_finetune,
    chronos_predict,
    load_chronos,
    save_chronos,
    windows_to_series,
)
from models.metrics import scores  # noqa: E402
from sweeps.engine.hub import fetch_pretrained  # noqa: E402

QUANTILES = (0.1, 0.5, 0.9)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # On a shared, busy 2-core machine two OpenMP threads per op make this tiny model 20-40x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_chronos2(tmp_path_factory.mktemp("chronos2-tiny"))


@pytest.fixture(scope="module")
def pipeline(tiny_dir):
    return load_chronos(str(tiny_dir), device="cpu")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    cache = tmp_path_factory.mktemp("data-cache")
    return build_windowed_data(DataConfig(cache_dir=str(cache)), WindowConfig(), SplitConfig())


@pytest.fixture(scope="module")
def pretrained(pipeline, data, tmp_path_factory):
    """Stand-in for a pretrained model: a random one has arbitrary quantile heads (its 0.1 quantile is as
    likely above the median as below), 20 fine-tuning steps teach it ordered quantiles."""
    return chronos_finetune(
        pipeline,
        data.train,
        None,
        scaler=data.scaler,
        n_targets=data.n_targets,
        n_outputs=data.n_outputs,
        steps=20,
        learning_rate=1e-2,
        output_dir=tmp_path_factory.mktemp("pretrain"),
    )


def first(split: SplitWindows, n: int) -> SplitWindows:
    return SplitWindows(split.x[:n], split.y[:n], split.origin[:n])


def test_loads_through_load_chronos_in_eval_mode(pipeline):
    assert not pipeline.model.training
    assert pipeline.model.device.type == "cpu"
    assert pipeline.model.dtype == torch.float32
    assert 0.5 in pipeline.quantiles


def test_zero_shot_shapes_units_and_band(pretrained, data):
    split = first(data.val, 40)
    point, q = chronos_predict(
        pretrained,
        split.x,
        n_targets=data.n_targets,
        n_outputs=data.n_outputs,
        scaler=data.scaler,
        quantiles=QUANTILES,
        batch_size=16,
    )
    n, n_out, n_t = len(split), data.n_outputs, data.n_targets
    assert point.shape == (n, n_out, n_t) and point.dtype == np.float32
    assert q.shape == (n, n_out, n_t, len(QUANTILES)) and q.dtype == np.float32
    assert np.isfinite(point).all() and np.isfinite(q).all()
    # The point forecast is the median, and it lies inside the 10-90% band.
    np.testing.assert_allclose(point, q[..., 1], rtol=1e-5, atol=1e-5)
    inside = (q[..., 0] <= point + 1e-5) & (point <= q[..., 2] + 1e-5)
    assert inside.mean() > 0.9
    # Back in original units the forecasts sit near the context: Chronos normalises each series itself and
    # forecasts in those units, so a sound unit round trip keeps them within a few ranges of the window.
    orig = data.targets_to_original(point)
    ctx = data.scaler.inverse(split.x)[..., : data.n_targets]
    lo, hi = ctx.min(axis=1, keepdims=True), ctx.max(axis=1, keepdims=True)
    span = hi - lo + 1.0
    assert ((orig >= lo - 3 * span) & (orig <= hi + 3 * span)).mean() > 0.95
    # Usable with the project's metrics as-is.
    s = scores(split.y, point, data)
    assert s["n_windows"] == n and np.isfinite(s["mse"])


def test_batching_does_not_change_forecasts(pipeline, data):
    x = data.test.x[:10]
    kw = dict(n_targets=data.n_targets, n_outputs=data.n_outputs, scaler=data.scaler)
    a, _ = chronos_predict(pipeline, x, batch_size=3, **kw)
    b, _ = chronos_predict(pipeline, x, batch_size=64, **kw)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_windows_to_series_rebuilds_the_training_series(data):
    (series,) = windows_to_series(data.train, data.scaler, data.n_targets)
    n, n_in, n_out = len(data.train), data.n_inputs, data.n_outputs
    assert series.shape == (data.n_features, n_in + n - 1 + n_out)
    raw = data.scaler.inverse(data.train.x)
    np.testing.assert_allclose(series[:, :n_in].T, raw[0], rtol=1e-5)
    np.testing.assert_allclose(series[:, n - 1 : n - 1 + n_in].T, raw[-1], rtol=1e-5)
    np.testing.assert_allclose(
        series[: data.n_targets, -n_out:].T, data.targets_to_original(data.train.y[-1]), rtol=1e-5
    )
    assert np.isnan(series[data.n_targets :, -n_out:]).all()
    # A break in the windows splits the series in two.
    keep = np.r_[0:100, 150:n]
    parts = windows_to_series(
        SplitWindows(data.train.x[keep], data.train.y[keep], data.train.origin[keep]),
        data.scaler,
        data.n_targets,
    )
    assert [p.shape[1] for p in parts] == [n_in + 99 + n_out, n_in + (n - 150) - 1 + n_out]


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_finetune_changes_weights_saves_and_reloads(pipeline, data, tmp_path, mode):
    if mode == "lora":
        pytest.importorskip("peft")
    before = {k: v.clone() for k, v in pipeline.model.state_dict().items()}
    tuned = chronos_finetune(
        pipeline,
        data.train,
        first(data.val, 16),
        scaler=data.scaler,
        n_targets=data.n_targets,
        n_outputs=data.n_outputs,
        steps=5,
        learning_rate=1e-3 if mode == "full" else 1e-2,
        mode=mode,
        batch_size=8,
        output_dir=tmp_path / "ft",
        seed=0,
    )
    # The input pipeline is untouched; the tuned one differs and is a plain, ready-to-predict model.
    for k, v in pipeline.model.state_dict().items():
        assert torch.equal(v, before[k]), k
    tuned_sd = tuned.model.state_dict()
    assert set(tuned_sd) == set(before)
    assert any(not torch.equal(tuned_sd[k], before[k]) for k in before)
    assert not tuned.model.training
    assert not list((tmp_path / "ft").glob("checkpoint-*"))

    x = data.test.x[:12]
    kw = dict(n_targets=data.n_targets, n_outputs=data.n_outputs, scaler=data.scaler)
    point, q = chronos_predict(tuned, x, **kw)
    save_chronos(tuned, tmp_path / "saved")
    reloaded = load_chronos(str(tmp_path / "saved"), device="cpu")
    point2, q2 = chronos_predict(reloaded, x, **kw)
    np.testing.assert_allclose(point, point2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(q, q2, rtol=1e-5, atol=1e-6)


def test_finetune_is_reproducible_and_keeps_global_rng(pipeline, data, tmp_path):
    kw = dict(
        scaler=data.scaler,
        n_targets=data.n_targets,
        n_outputs=data.n_outputs,
        steps=3,
        learning_rate=1e-3,
        batch_size=4,
        seed=7,
    )
    np.random.seed(123)
    expected_next = np.random.rand()
    np.random.seed(123)
    a = chronos_finetune(pipeline, data.train, None, output_dir=tmp_path / "a", **kw)
    assert np.random.rand() == expected_next
    b = chronos_finetune(pipeline, data.train, None, output_dir=tmp_path / "b", **kw)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k


def test_bad_arguments_are_refused(pipeline, data, tmp_path):
    kw = dict(scaler=data.scaler, n_targets=data.n_targets, n_outputs=data.n_outputs, output_dir=tmp_path)
    with pytest.raises(ValueError, match="mode"):
        chronos_finetune(pipeline, data.train, None, steps=1, learning_rate=1e-3, mode="qlora", **kw)
    with pytest.raises(ValueError, match="steps"):
        chronos_finetune(pipeline, data.train, None, steps=0, learning_rate=1e-3, **kw)
    with pytest.raises(ValueError, match="no windows"):
        chronos_predict(pipeline, data.val.x[:0], n_targets=4, n_outputs=7, scaler=data.scaler)
    with pytest.raises(ValueError, match="quantiles"):
        chronos_predict(
            pipeline, data.val.x[:2], n_targets=4, n_outputs=7, scaler=data.scaler, quantiles=(0, 1)
        )


def test_hub_id_offline_fails_with_a_clear_message(tmp_path):
    with pytest.raises(PretrainedUnavailable, match="not in the local hub cache") as err:
        load_chronos(DEFAULT_CHRONOS2)  # the model layer never asks the network
    msg = str(err.value)
    assert DEFAULT_CHRONOS2 in msg and "pretrained.path" in msg and "\n" not in msg
    with pytest.raises(PretrainedUnavailable, match=r"offline \(HF_HUB_OFFLINE is set\)"):
        fetch_pretrained(DEFAULT_CHRONOS2)
    assert fetch_pretrained(str(tmp_path)) == str(tmp_path)  # a local path needs no fetching


def test_missing_local_dir_and_non_model_dir_fail_clearly(tmp_path):
    with pytest.raises(PretrainedUnavailable, match="no such local directory") as err:
        load_chronos(str(tmp_path / "nope"))
    assert "pretrained.path" in str(err.value)
    with pytest.raises(PretrainedUnavailable, match="no config.json"):
        load_chronos(str(tmp_path))


def _online(monkeypatch, endpoint: str) -> None:
    """Undo the suite's offline switch for one test whose hub is a local endpoint (still no real network)."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)


def test_reachable_hub_without_the_model_fails_clearly(monkeypatch):
    """A hub that answers but 404s every file (a local HTTP server standing in for HF_ENDPOINT)."""
    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _online(monkeypatch, f"http://127.0.0.1:{server.server_port}")
        with pytest.raises(PretrainedUnavailable, match="not found on the hub") as err:
            fetch_pretrained("someone/no-such-model")
        assert "someone/no-such-model" in str(err.value)
    finally:
        server.shutdown()
        server.server_close()


def test_an_unreachable_endpoint_is_reported_as_offline(monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _online(monkeypatch, f"http://127.0.0.1:{port}")
    with pytest.raises(PretrainedUnavailable, match="offline"):
        fetch_pretrained("someone/no-such-model")
