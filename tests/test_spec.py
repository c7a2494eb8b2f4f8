"""The one search spec (sweeps/spec.py): parsed from the YAML users write, dumped back to it, its centre, ends and
Ray/Optuna forms, seeded sampling through Ray's domains, the errors a bad spec gets, and the trial lists a grid
expands to (an explicit small one, and the default config's shape)."""

from __future__ import annotations

import numpy as np
import pytest

from sweeps.config import ConfigError, SweepConfig, load_config
from sweeps.engine.search_space import expand_trials
from sweeps.spec import ChoiceSpec, GridSpec, IntSpec, LogUniformSpec, UniformSpec, parse_value

RAW = {GridSpec: {"grid": [32, 128]}, ChoiceSpec: {"choice": ["none", "window"]},
       UniformSpec: {"uniform": [0.0, 0.3]}, LogUniformSpec: {"loguniform": [0.0001, 0.01]}, IntSpec: {"int": [1, 3]}}


@pytest.mark.parametrize(("kind", "raw"), RAW.items())
def test_each_spec_parses_from_its_yaml_and_dumps_back_to_it(kind, raw):
    spec = parse_value(raw, "models.x.y")
    assert type(spec) is kind
    assert spec.model_dump() == raw
    assert parse_value(spec.model_dump(), "models.x.y") == spec
    assert parse_value(64, "models.x.y") == 64  # a plain value stays a plain value


def test_centre_smallest_ends_and_holds():
    grid, choice, uniform, loguniform, integer = (parse_value(raw, "k") for raw in RAW.values())
    assert [s.centre() for s in (grid, choice, uniform, integer)] == [32, "none", 0.15, 2]
    assert loguniform.centre() == pytest.approx(0.001)  # geometric: the middle of a log scale
    assert [s.smallest() for s in (grid, choice, uniform, loguniform, integer)] == [32, "none", 0.0, 0.0001, 1]
    assert parse_value({"choice": [128, 16, 64]}, "k").smallest() == 16
    assert integer.ends() == (1, 3) and choice.ends() == ("none", "window")
    assert grid.holds(128) and not grid.holds(64) and not grid.holds(None)
    assert integer.holds(3) and not integer.holds(2.5) and not integer.holds(True)
    assert uniform.holds(0.3) and not uniform.holds(0.31)
    assert not parse_value({"choice": [False, True]}, "k").holds(0)  # a bool never stands for a number


def test_ray_and_optuna_forms():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from ray.tune.search.sample import Categorical, Float, Integer

    grid, choice, uniform, loguniform, integer = (parse_value(raw, "k") for raw in RAW.values())
    assert grid.tune() == {"grid_search": [32, 128]}
    assert isinstance(choice.tune(), Categorical) and choice.tune().categories == ["none", "window"]
    assert isinstance(uniform.tune(), Float) and (uniform.tune().lower, uniform.tune().upper) == (0.0, 0.3)
    assert isinstance(integer.tune(), Integer) and (integer.tune().lower, integer.tune().upper) == (1, 4)
    assert grid.optuna() == CategoricalDistribution([32, 128])
    assert loguniform.optuna() == FloatDistribution(0.0001, 0.01, log=True)
    assert integer.optuna() == IntDistribution(1, 3)


def test_samples_stay_in_their_space_include_both_int_ends_and_repeat_under_a_seed():
    integer, loguniform = parse_value({"int": [1, 3]}, "k"), parse_value({"loguniform": [0.0001, 0.01]}, "k")
    draws = [integer.sample(np.random.default_rng(s)) for s in range(60)]
    assert set(draws) == {1, 2, 3} and all(type(v) is int for v in draws)
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    a = [loguniform.sample(rng_a) for _ in range(50)]
    assert a == [loguniform.sample(rng_b) for _ in range(50)]
    assert all(type(v) is float and 0.0001 <= v <= 0.01 for v in a)
    assert min(a) < 0.001 < max(a)  # spread over the decades, not bunched at the top as a linear draw would be


@pytest.mark.parametrize(("override", "expected"), [
    ("models.gru_ar.hidden_size=[32, 64]",
     "models.gru_ar.hidden_size: a list is not one value; to search these values write {grid: [32, 64]}"),
    ("models.gru_ar.hidden_size={grdi: [32]}",
     "models.gru_ar.hidden_size: a search spec is one of {grid, choice, uniform, loguniform, int: ...}"),
    ("models.gru_ar.hidden_size={choice: 32}", "models.gru_ar.hidden_size: choice takes a list, got 32"),
    ("models.gru_ar.hidden_size={grid: []}", "models.gru_ar.hidden_size: empty grid expands to zero trials"),
    ("models.gru_ar.dropout={uniform: [0.3, 0.1]}", "models.gru_ar.dropout: uniform takes [low, high] with low < high"),
    ("models.gru_ar.learning_rate={loguniform: [0, 0.1]}", "loguniform needs a positive low bound, got 0"),
    ("models.gru_ar.learning_rate={loguniform: [1e-4, 1e-2]}", "YAML reads 1e-4 as text, write 0.0001"),
    ("models.gru_ar.hidden_size={uniform: [8, 64.5]}",
     "models.gru_ar.hidden_size: takes int values, got 64.5 (search an integer with int, choice or grid)"),
    ("models.transformer.nhead=2.5", "models.transformer.nhead: takes int values, got 2.5"),
    ("models.gru_ar.batch_size={choice: [32, big]}", "models.gru_ar.batch_size: takes int values, got 'big'"),
])
def test_bad_specs_name_the_key_what_is_wrong_and_what_to_write(override, expected):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override], models=["gru_ar", "transformer"])
    assert expected in str(err.value), str(err.value)


def test_a_models_section_is_typed_by_its_models_config():
    cfg = load_config(None, ["models.transformer.dim_feedforward=null", "models.gru_ar.dropout=0"],
                      models=["gru_ar", "transformer"])
    assert cfg.models["transformer"]["dim_feedforward"] is None and cfg.models["gru_ar"]["dropout"] == 0
    assert SweepConfig.model_validate(cfg.model_dump(mode="json")) == cfg


def test_a_small_grid_expands_to_exactly_these_trials():
    cfg = load_config(None, ["models.gru_nar={hidden_size: {grid: [8, 16]}, norm: window, "
                             "learning_rate: {grid: [0.001, 0.01]}}"], models=["gru_nar"])
    assert expand_trials(cfg) == [
        {"model": "gru_nar", "hparams": {"hidden_size": h, "norm": "window"}, "train": {"learning_rate": lr},
         "tag": f"h{h}_lr{lr}_norm-window"}
        for h in (8, 16) for lr in (0.001, 0.01)]


def test_the_default_config_expands_to_its_44_trials():
    trials = expand_trials(load_config(None, []))
    per_model = {m: [t for t in trials if t["model"] == m] for m in dict.fromkeys(t["model"] for t in trials)}
    assert {m: len(ts) for m, ts in per_model.items()} == {
        "lstm_ar": 8, "lstm_nar": 8, "gru_ar": 8, "gru_nar": 8, "transformer": 8, "chronos2": 4}
    assert all(set(t["hparams"]) == {"hidden_size", "num_layers", "dropout", "norm", "linear_skip"}
               for t in per_model["gru_ar"])
    assert {frozenset(t["hparams"].items()) for t in per_model["transformer"]} == {
        frozenset({"d_model": d, "nhead": 4, "num_layers": n, "dropout": p, "norm": norm, "linear_skip": False}.items())
        for d in (32, 128) for n in (1, 2) for p in (0.0,) for norm in ("none", "window")}
    assert all(t["train"] == {} and "window_input" not in t for t in trials if t["model"] != "chronos2")
    assert len({(t["model"], t["tag"]) for t in trials}) == len(trials)  # tags unique per architecture
