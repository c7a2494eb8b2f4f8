"""A checkpoint carries its model's own configuration (issue 38): the file alone rebuilds the model (loaded with
weights_only=True), older checkpoints without it still load through their run directory, and a tampered or
unknown spec is refused naming what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from test_models_data import make_windowed_data

from models import (
    CheckpointError,
    TrainConfig,
    TrainState,
    build,
    fit,
    load_checkpoint,
    predict,
    read_checkpoint,
)
from models.trial_record import TrialRecord
from reports.runs import RunDirError, best_trials, load_best_model, read_run

HPARAMS = {"gru_ar": {"hidden_size": 8, "num_layers": 1, "dropout": 0.0},
           "transformer": {"d_model": 16, "nhead": 2, "dim_feedforward": 32, "dropout": 0.0, "num_layers": 1},
           "ridge": {}}


@pytest.fixture(scope="module")
def data():
    return make_windowed_data(n_steps=300, n_features=3, n_targets=2, n_inputs=12, n_outputs=4)


def _train_and_save(name: str, data, folder: Path) -> tuple[torch.nn.Module, Path]:
    """A real short training; its last snapshot saved as the sweep's trainable saves one (TrainState.to_dict)."""
    model = build(name, **data.shapes, seed=3, **HPARAMS[name])
    states: list[TrainState] = []
    fit(model, data, TrainConfig(epochs=3, batch_size=32, device="cpu", seed=3),
        on_epoch=lambda metrics, end: states.append(end.snapshot()) if end.final else None)
    path = folder / "checkpoint_000003" / "state.pt"
    path.parent.mkdir(parents=True)
    torch.save(states[-1].to_dict(), path)
    return model, path


@pytest.mark.parametrize("name", sorted(HPARAMS))
def test_a_trained_checkpoint_rebuilds_its_model_from_the_file_alone(name, data, tmp_path):
    trained, path = _train_and_save(name, data, tmp_path / "elsewhere")  # no run directory, config or record
    loaded = load_checkpoint(path)
    assert type(loaded) is type(trained) and not loaded.training
    assert loaded.model_spec == trained.model_spec and loaded.model_spec.name == name
    expected = predict(trained, data.test.x)  # fit left the kept (best) weights in the trained model
    assert np.array_equal(predict(loaded, data.test.x), expected)
    raw = torch.load(path, weights_only=True)  # plain data only: the spec is no pickled object
    assert raw["spec"] == trained.model_spec.to_dict()
    assert raw["spec"]["shapes"] == {k: v for k, v in data.shapes.items() if v}  # n_future=0 is not passed on
    assert raw["spec"]["hparams"].items() >= HPARAMS[name].items()


def _tampered(path: Path, tmp_path: Path, **spec_changes) -> Path:
    raw = torch.load(path, weights_only=True)
    raw["spec"] = {**raw["spec"], **spec_changes}
    out = tmp_path / f"tampered-{len(list(tmp_path.glob('tampered-*')))}.pt"
    torch.save(raw, out)
    return out


def test_a_tampered_or_unknown_spec_is_refused_naming_what_is_wrong(data, tmp_path):
    _, path = _train_and_save("gru_ar", data, tmp_path / "run")
    spec = torch.load(path, weights_only=True)["spec"]
    cases = [
        ({"name": "mamba"}, r"its model spec cannot be built \(unknown model 'mamba'"),
        ({"hparams": {**spec["hparams"], "wings": 2}}, r"cannot be built \(unknown hparam\(s\) wings"),
        ({"shapes": {**spec["shapes"], "n_features": 5}}, r"the weights do not fit the model its spec describes"),
        ({"format": 99}, r"its model spec is malformed \(not a model spec of format 1\)"),
        ({"shapes": {**spec["shapes"], "n_inputs": "12"}}, r"model spec is malformed \(shapes must map names to int"),
    ]
    for changes, message in cases:
        tampered = _tampered(path, tmp_path, **changes)
        with pytest.raises(CheckpointError, match=message) as caught:
            load_checkpoint(tampered)
        assert str(tampered) in str(caught.value)
    pickled = tmp_path / "code.pt"
    torch.save({"spec": Path("not plain data")}, pickled)  # an object: weights_only refuses to unpickle it
    with pytest.raises(CheckpointError, match="not a plain weights checkpoint"):
        read_checkpoint(pickled)


def _record(name: str, checkpoint: Path, hparams: dict) -> TrialRecord:
    return TrialRecord(trial_id="t1", model=name, tag="t", hparams=hparams, train={}, history=[], status="finished",
                       error=None, checkpoint=checkpoint, dir=checkpoint.parent)


def test_an_old_checkpoint_without_a_spec_still_loads_through_its_record(data, tmp_path):
    trained, path = _train_and_save("gru_ar", data, tmp_path / "run")
    old = torch.load(path, weights_only=True)
    del old["spec"]  # what every checkpoint held before models carried their spec
    old_path = tmp_path / "old.pt"
    torch.save(old, old_path)
    with pytest.raises(CheckpointError, match="written before checkpoints carried their model's spec"):
        load_checkpoint(old_path)
    expected = predict(trained, data.test.x)
    for checkpoint in (old_path, path):  # the record's way (old) and the spec's way (new) give the same model
        model = load_best_model(_record("gru_ar", checkpoint, HPARAMS["gru_ar"]), data.shapes)
        assert np.array_equal(predict(model, data.test.x), expected)
    # a spec that contradicts the trial record (or the report's data) is refused, naming both
    with pytest.raises(RunDirError, match=r"holds gru_ar .*'hidden_size': 8.* but its trial record .* 'hidden_size': 16"):
        load_best_model(_record("gru_ar", path, {**HPARAMS["gru_ar"], "hidden_size": 16}), data.shapes)


def test_a_sweep_checkpoint_loads_alone_as_the_report_loads_it(smoke_run, tmp_path):
    """The checkpoints a real sweep wrote (Ray trials) carry their spec: copied out of the run directory, each
    best trial's file rebuilds the model the report loads through the run directory."""
    run = read_run(smoke_run)
    trained = {m: t for m, t in best_trials(run).items() if t.checkpoint is not None and t.checkpoint.is_file()}
    assert set(trained) >= {"gru_nar", "transformer"}
    rng = np.random.default_rng(0)
    for name, trial in sorted(trained.items()):
        alone = tmp_path / name / "state.pt"
        alone.parent.mkdir()
        shutil.copy(trial.checkpoint, alone)
        loaded = load_checkpoint(alone)
        spec = loaded.model_spec
        via_run = load_best_model(trial, spec.shapes)
        x = rng.normal(size=(5, spec.shapes["n_inputs"], spec.shapes["n_features"])).astype(np.float32)
        n_future = spec.shapes.get("n_future", 0)
        future = rng.normal(size=(5, spec.shapes["n_outputs"], n_future)).astype(np.float32) if n_future else None
        assert np.array_equal(predict(loaded, x, future=future), predict(via_run, x, future=future)), name
