"""Adaptive search (sweep.search: random | tpe): config, per-architecture searchers and budgets, searched input
lengths, and real Ray sweeps (budgets respected, W&B runs carry the sampled values, resume after SIGKILL).

Over 300 lines: the config, the searchers and the real sweeps of one feature, which share its fixtures and specs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import sweep_argv

from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data, with_input_length
from data_pipeline.errors import DataError
from reports.runs import TrialRecord
from sweeps.config import ConfigError, SweepConfig, load_config
from sweeps.engine.search_space import (
    default_point,
    expand_trials,
    model_spaces,
    planned_budgets,
    probe_trials,
)
from sweeps.spec import ChoiceSpec

REPO = Path(__file__).resolve().parents[1]
TPE = ["sweep.search=tpe", "sweep.num_samples=3", "--models", "gru_nar,gru_ar",
       "models.gru_nar.hidden_size={int: [4, 24]}", "models.gru_ar.hidden_size={choice: [4, 16]}",
       "models.gru_nar.learning_rate={loguniform: [0.0005, 0.01]}", "window.input={choice: [14, 30]}",
       "models.gru_ar.window_input=14"]


def _cfg(*overrides: str, models: list[str] | None = None) -> SweepConfig:
    return load_config(None, list(overrides), models=models)


# --- config -------------------------------------------------------------------------------------------------

def test_a_searched_window_input_windows_the_data_once_at_the_largest_and_reloads_unchanged():
    cfg = _cfg("window.input={choice: [14, 60, 30]}", models=["gru_ar", "transformer"])
    assert cfg.window.input == 60
    assert all(cfg.models[m]["window_input"] == ChoiceSpec.model_validate({"choice": [14, 60, 30]})
               for m in cfg.models)
    dumped = cfg.model_dump(mode="json")["models"]
    assert all(dumped[m]["window_input"] == {"choice": [14, 60, 30]} for m in cfg.models)  # as the user wrote it
    assert SweepConfig.model_validate(cfg.model_dump(mode="json")) == cfg


def test_a_per_model_window_input_longer_than_window_input_raises_it_and_pins_the_others():
    cfg = _cfg("models.gru_ar.window_input={int: [7, 45]}", models=["gru_ar", "gru_nar"])
    assert cfg.window.input == 45
    assert cfg.models["gru_nar"]["window_input"] == 30  # the configured length, now explicit
    assert SweepConfig.model_validate(cfg.model_dump(mode="json")) == cfg


@pytest.mark.parametrize(("override", "expected"), [
    ("window.input={choice: [14, 0]}", "window.input: input lengths are positive integers"),
    ("models.gru_ar.window_input={uniform: [7, 30]}", "models.gru_ar.window_input: input lengths are positive"),
    ("models.gru_ar.num_samples=0", "models.gru_ar.num_samples: the number of trials is a positive integer"),
    ("models.gru_ar.hidden_size={int: [32, 8]}", "models.gru_ar.hidden_size: int takes [low, high]"),
    ("sweep.search=bayes", "sweep.search"),
    ("sweep.time_budget_s=0", "sweep.time_budget_s"),
])
def test_bad_search_keys_name_the_key(override, expected):
    with pytest.raises(ConfigError, match=None) as err:
        _cfg(override, models=["gru_ar"])
    assert expected in str(err.value), str(err.value)


def test_grid_stays_the_default_and_per_model_budgets_override_the_sweep_one():
    cfg = _cfg("sweep.num_samples=4", "models.transformer.num_samples=7", "sweep.search=tpe",
               models=["gru_ar", "transformer"])
    assert planned_budgets(cfg) == {"gru_ar": 4, "transformer": 7}
    assert load_config(None, []).sweep.search == "grid"
    # Under the grid, a model's num_samples is its samples per grid point (and not a hyperparameter).
    grid = _cfg("models.gru_ar.num_samples=2", "models.gru_ar.learning_rate={loguniform: [0.0001, 0.01]}",
                models=["gru_ar"])
    trials = expand_trials(grid)
    assert len(trials) == 8 * 2 and all("num_samples" not in t["hparams"] for t in trials)


def test_probes_cover_each_spaces_ends_and_categories_with_their_input_length():
    cfg = _cfg(*TPE[:2], "models.gru_ar.hidden_size={choice: [4, 16]}", "window.input={choice: [14, 30]}",
               models=["gru_ar"])
    probes = probe_trials(cfg)
    assert {t["window_input"] for t in probes} == {14, 30}
    assert {t["hparams"]["hidden_size"] for t in probes} == {4, 16}
    assert all("window_input" not in t["hparams"] for t in probes)


# --- the searcher, driven directly (real OptunaSearch, no Ray cluster needed) ----------------------------------

def _searcher(cfg: SweepConfig, models: list[str], sampler: str = "tpe"):
    from sweeps.engine.searcher import PerModelSearch

    return PerModelSearch(cfg, models, sampler=sampler)


def test_the_searcher_spends_each_architectures_budget_and_limits_its_concurrency():
    from ray.tune.search import Searcher

    cfg = _cfg("sweep.search=tpe", "sweep.num_samples=3", "models.gru_ar.num_samples=5", "sweep.search_concurrency=2",
               models=["gru_ar", "gru_nar"])
    search = _searcher(cfg, ["gru_ar", "gru_nar"])
    proposed: dict[str, list] = {"gru_ar": [], "gru_nar": []}
    live: list[str] = []
    model_of: dict[str, str] = {}
    for i in range(50):
        trial_id = f"t{i}"
        got = search.suggest(trial_id)
        if got == Searcher.FINISHED:
            break
        if got is None:  # every open architecture waits for results: finish the oldest live trial
            in_flight = [model_of[t] for t in live]
            assert max(in_flight.count(m) for m in set(in_flight)) == 2  # the concurrency limit, per architecture
            done = live.pop(0)
            search.on_trial_result(done, {"best_val_mse": 1.0, "training_iteration": 1})
            search.on_trial_complete(done, {"best_val_mse": float(len(live))})
            continue
        trial = got["trial"]
        assert set(trial) == {"model", "hparams", "train", "tag"}
        assert trial["hparams"]["hidden_size"] in (32, 128) and trial["hparams"]["linear_skip"] is False
        proposed[trial["model"]].append(trial["tag"])
        live.append(trial_id)
        model_of[trial_id] = trial["model"]
    else:
        pytest.fail("the searcher never finished")
    assert {m: len(v) for m, v in proposed.items()} == {"gru_ar": 5, "gru_nar": 3}
    assert all(len(set(tags)) == len(tags) for tags in proposed.values())  # tags are unique per architecture


def test_the_start_point_is_the_defaults_where_the_space_holds_them_else_its_centre():
    cfg = _cfg("sweep.search=tpe", "models.gru_ar.hidden_size={choice: [16, 64]}", "models.gru_ar.num_layers={int: [3, 5]}",
               "models.gru_ar.learning_rate={loguniform: [0.0001, 0.01]}", "models.gru_ar.dropout={uniform: [0.2, 0.4]}",
               "models.gru_ar.batch_size={grid: [128, 256]}", "window.input={int: [14, 60]}", models=["gru_ar"])
    specs, _, _ = model_spaces(cfg)["gru_ar"]
    point = default_point(cfg, "gru_ar", specs)
    # held: the model's hidden 64, train.learning_rate 0.001, the window's 30 days; outside: the spec's centre
    assert point == {"hidden_size": 64, "learning_rate": 0.001, "window_input": 30, "norm": "none",
                     "num_layers": 4, "dropout": pytest.approx(0.3), "batch_size": 128}


def test_chronos2_starts_from_its_own_fine_tuning_defaults():
    cfg = _cfg("sweep.search=tpe", "models.chronos2.steps={grid: [50, 200]}",
               "models.chronos2.learning_rate={loguniform: [0.000001, 0.0001]}", models=["chronos2"])
    specs, _, _ = model_spaces(cfg)["chronos2"]
    assert default_point(cfg, "chronos2", specs) == {"steps": 200, "learning_rate": 0.00001}


@pytest.mark.parametrize("start", [True, False])
def test_each_architectures_first_trial_is_the_defaults_unless_turned_off(start: bool):
    cfg = _cfg("sweep.search=tpe", "sweep.num_samples=3", f"sweep.start_from_defaults={str(start).lower()}",
               "models.gru_ar.hidden_size={choice: [16, 64, 128]}", "models.gru_ar.dropout={uniform: [0.0, 0.5]}",
               "models.transformer.d_model={choice: [16, 64, 128]}", "models.transformer.num_layers={int: [1, 3]}",
               models=["gru_ar", "transformer"])
    search = _searcher(cfg, ["gru_ar", "transformer"])
    first = {t["trial"]["model"]: t["trial"] for t in (search.suggest("a"), search.suggest("b"))}
    defaults = {"gru_ar": {"hidden_size": 64, "dropout": 0.1}, "transformer": {"d_model": 64, "num_layers": 2}}
    at_defaults = {m: all(first[m]["hparams"][k] == v for k, v in d.items()) for m, d in defaults.items()}
    if start:
        assert at_defaults == {"gru_ar": True, "transformer": True}
    else:  # seeded random starts: at least one of the two lands off the defaults
        assert not all(at_defaults.values())


def test_searcher_state_survives_save_and_restore(tmp_path: Path):
    cfg = _cfg("sweep.search=tpe", "sweep.num_samples=6", "models.gru_ar.learning_rate={loguniform: [0.0001, 0.01]}",
               models=["gru_ar"])
    first = _searcher(cfg, ["gru_ar"])
    for i in range(2):
        first.suggest(f"a{i}")
        first.on_trial_complete(f"a{i}", {"best_val_mse": 0.5 - i / 10})
    first.suggest("a2")  # in flight when the driver dies
    first.save(str(tmp_path / "state.pkl"))
    second = _searcher(cfg, ["gru_ar"])
    second.restore(str(tmp_path / "state.pkl"))
    assert second.proposed == {"gru_ar": 3}
    second.on_trial_complete("a2", {"best_val_mse": 0.2})  # the resumed trial reports to the restored sampler
    rest = []
    for i in range(3):
        rest.append(second.suggest(f"b{i}"))
        second.on_trial_complete(f"b{i}", {"best_val_mse": 0.3})
    assert [r["trial"]["tag"][:3] for r in rest] == ["n04", "n05", "n06"]
    from ray.tune.search import Searcher

    assert second.suggest("b3") == Searcher.FINISHED


# --- searched input lengths: the same target windows for every trial -------------------------------------------

def test_a_shorter_input_is_the_last_steps_of_the_same_windows(tmp_path: Path):
    data_cfg, split = DataConfig(cache_dir=str(tmp_path)), SplitConfig()
    long = build_windowed_data(data_cfg, WindowConfig(input=60, output=7), split)
    direct = build_windowed_data(data_cfg, WindowConfig(input=14, output=7), split)
    cut = with_input_length(long, 14)
    assert cut.n_inputs == 14 and cut.shapes["n_inputs"] == 14
    freq = long.summary.get("frequency", "D")
    for name in ("train", "val", "test"):
        a, b = long.split(name), cut.split(name)
        assert b.x.shape == (len(a), 14, long.n_features)
        assert (b.target_dates(freq) == a.target_dates(freq)).all()  # same scored windows and days
        assert np.array_equal(b.y, a.y)
        # ... and each window's inputs are exactly what windowing at 14 gives for that forecast origin
        d = direct.split(name)
        rows = pd.Index(d.origin).get_indexer(a.origin)
        assert (rows >= 0).all()
        np.testing.assert_array_equal(b.x, d.x[rows])
    assert with_input_length(long, None) is long
    with pytest.raises(DataError, match="window.input=60"):
        with_input_length(long, 61)


# --- real Ray sweeps ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_tiny_tpe_sweep_respects_budgets_and_logs_the_sampled_values(ray_session, tmp_path: Path,
                                                                        data_cache: Path):
    from reports.runs import read_run
    from sweeps.run_all import main

    runs = tmp_path / "runs"
    assert main(sweep_argv(runs, "tpe", data_cache, *TPE, "--wandb-mode", "offline", "train.epochs=3")) == 0
    run = read_run(runs / "tpe")
    by_model = {m: [t for t in run.trials if t.model == m] for m in ("gru_nar", "gru_ar")}
    assert {m: len(ts) for m, ts in by_model.items()} == {"gru_nar": 3, "gru_ar": 3}
    assert all(t.status == "finished" for t in run.trials), [(t.model, t.status, t.error) for t in run.trials]
    assert all(4 <= t.hparams["hidden_size"] <= 24 for t in by_model["gru_nar"])
    assert all(5e-4 <= t.train["learning_rate"] <= 1e-2 for t in by_model["gru_nar"])
    assert all(t.window_input in (14, 30) for t in run.trials)
    assert json.loads((runs / "tpe" / "search.json").read_text())["budgets"] == {"gru_nar": 3, "gru_ar": 3}
    assert len(json.loads((runs / "tpe" / "trials.json").read_text())) == 6
    # Each trial's W&B run (offline files) carries the values its searcher sampled.
    files = {f.stem.removeprefix("run-"): f for f in (runs / "tpe" / "wandb").glob("offline-run-*/run-*.wandb")}
    for t in run.trials:
        logged = _init_config(next(f for k, f in files.items() if k.endswith(t.trial_id)))["trial"]
        assert logged["hparams"]["hidden_size"] == t.hparams["hidden_size"]
        assert logged["window_input"] == t.window_input
        if t.model == "gru_nar":
            assert logged["train"]["learning_rate"] == pytest.approx(t.train["learning_rate"])
    # Every model is scored on the same test windows, whatever input length its chosen trial reads.
    preds = pd.read_parquet(runs / "tpe" / "report" / "predictions.parquet")
    origins = {m: set(g.forecast_origin) for m, g in preds.groupby("model")}
    assert len({frozenset(v) for v in origins.values()}) == 1 and len(origins["gru_nar"]) > 0
    # The trial trained on its last 14 days, and the report scores it on the same: its weights reproduce the
    # validation MSE training reported only when fed the 14-day inputs, not the full 30-day windows.
    from models import evaluate
    from reports.build import load_data
    from reports.runs import best_trials, load_best_model

    data = load_data(run)
    assert data.n_inputs == 30
    chosen = best_trials(run)["gru_ar"]
    cut = with_input_length(data, chosen.window_input)
    model = load_best_model(chosen, cut.shapes)
    assert chosen.window_input == 14
    assert evaluate(model, cut.val, cut)["mse"] == pytest.approx(chosen.best_val_mse, rel=5e-6)
    # (a small GRU forgets most of the extra 16 days, so the full windows score close, but not the same)
    assert evaluate(model, data.val, data)["mse"] != pytest.approx(chosen.best_val_mse, rel=5e-6)
    assert (runs / "tpe" / "report" / "figures" / "search_path.png").exists()
    assert "Which hyperparameters mattered" in (runs / "tpe" / "report" / "report.md").read_text()
    ranking = pd.read_csv(runs / "tpe" / "report" / "ranking.csv")
    for model in ("gru_nar", "gru_ar"):
        chosen = min(by_model[model], key=lambda t: t.best_val_mse)
        assert f"window_input={chosen.window_input}" in ranking.set_index("model").loc[model, "hparams"]


def _init_config(path: Path) -> dict:
    """The config a W&B run file was opened with (its run record)."""
    from wandb_records import records

    run = next(r.run for r in records(path) if r.WhichOneof("record_type") == "run")
    return {i.key: json.loads(i.value_json) for i in run.config.update}


def _start(argv: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.mark.slow
def test_an_interrupted_tpe_sweep_resumes_to_exactly_its_budget(tmp_path: Path, data_cache: Path):
    from reports.runs import read_run

    runs, name = tmp_path / "runs", "tpe-resume"
    argv = [sys.executable, str(REPO / "sweeps" / "run_all.py"),
            *sweep_argv(runs, name, data_cache, *TPE, "--wandb-mode", "disabled", "train.epochs=4")]
    experiment = runs / name / "ray"
    log = tmp_path / "first.log"
    proc = _start(argv, log)
    try:
        deadline = time.monotonic() + 600  # generous: the wait ends as soon as three trials have reported
        while not len([*experiment.glob("*/result.json")]) >= 3 and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert not (runs / name / "report").exists()
    # (--no-report: this test checks the search's resume; the report of a TPE sweep is the test above's, and the
    # report after a resume is tests/test_resume.py's)
    rerun = subprocess.run([*argv, "--no-report"], capture_output=True, text=True, timeout=1200, cwd=REPO)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "Resuming" in rerun.stdout
    run = read_run(runs / name)
    counts = {m: sum(t.model == m for t in run.trials) for m in ("gru_nar", "gru_ar")}
    assert counts == {"gru_nar": 3, "gru_ar": 3}, [(t.model, t.tag, t.status) for t in run.trials]
    assert all(t.status == "finished" for t in run.trials), [(t.model, t.status, t.error) for t in run.trials]
    assert len({(t.model, t.tag) for t in run.trials}) == 6
    assert "| 6/6 trials" in rerun.stdout, rerun.stdout[-3000:]


# --- the report's search section ---------------------------------------------------------------------------------

def _record(i: int, model: str, val: float, **values) -> TrialRecord:
    hist = [{"epoch": 1, "best_val_mse": val, "timestamp": 1000 + 60 * i, "time_total_s": 30.0}]
    return TrialRecord(trial_id=f"{model}{i}", model=model, tag=f"n{i:02d}", hparams=values, train={}, history=hist,
                       status="finished", error=None, checkpoint=None, dir=Path("."))


def test_search_path_and_importance_read_the_trials_in_order():
    from reports.runs import RunDir
    from reports.search_path import importance, search_path

    trials = [_record(i, "gru_ar", val, hidden_size=h, norm=n, dropout=0.1)
              for i, (val, h, n) in enumerate([(0.5, 16, "none"), (0.3, 64, "window"), (0.4, 32, "none"),
                                               (0.2, 128, "window")])]
    run = RunDir(Path("."), {"sweep": {"search": "tpe"}}, trials)
    path = search_path(run)
    assert list(path.trial) == [1, 2, 3, 4]
    assert list(path.best_by_trial) == [0.5, 0.3, 0.3, 0.2]
    assert path.minutes.iloc[0] == pytest.approx(0.5) and path.minutes.iloc[-1] == pytest.approx(3.5)
    table = importance(run).set_index("hyperparameter")
    assert table.loc["hidden_size", "association"] == pytest.approx(-1.0)  # larger went with lower MSE, always
    assert table.loc["norm", "measure"] == "eta" and table.loc["norm", "association"] > 0.8
    assert "dropout" not in table.index  # never varied: nothing to say
    assert table.loc["hidden_size", "best trial's value"] == 128


@pytest.mark.slow
def test_a_time_budget_ends_the_search_and_the_report_uses_what_finished(ray_session, tmp_path: Path,
                                                                         data_cache: Path):
    from reports.runs import best_trials, read_run
    from sweeps.run_all import main

    # 1,000 one-epoch samples take minutes even on 16 cores; the 25 s budget ends the search long before (and
    # leaves a loaded 2-core machine time to finish a first trial: a worker's start and one epoch of a GRU of at most
    # 16 units). Nothing below depends on how many trials fit in the budget: only on the budget, not the sample
    # count, ending the search, and on the report ranking the best trial it left.
    budget, samples = 25, 1000
    runs = tmp_path / "runs"
    argv = sweep_argv(runs, "budget", data_cache, "sweep.search=random", f"sweep.num_samples={samples}",
                      "--models", "gru_nar", "models.gru_nar.hidden_size={int: [4, 16]}",
                      f"sweep.time_budget_s={budget}", "train.epochs=1", "--wandb-mode", "disabled")
    began = time.time()
    assert main(argv) == 0
    run = read_run(runs / "budget")
    assert 1 <= len(run.trials) < samples, "the time budget, not the sample count, must end the search"
    # No trial starts after the budget ran out (the slack covers the driver's own start and a worker's start-up
    # on a loaded machine); with the budget ignored, the later of 1,000 trials would start minutes after the first.
    late = [round(t.started_at - began) for t in run.trials if t.started_at - began > budget + 120]
    assert late == [], f"trials started {late} s after the sweep began, past its {budget} s budget"
    # The report ranks the best trial that has weights, whatever the budget cut short.
    chosen = best_trials(run).get("gru_nar")
    assert chosen is not None, [(t.trial_id, t.status, t.epochs) for t in run.trials]
    ranking = pd.read_csv(runs / "budget" / "report" / "ranking.csv", dtype={"trial_id": str}).set_index("model")
    assert ranking.loc["gru_nar", "trial_id"] == chosen.trial_id
    assert ranking.loc["gru_nar", "val_mse"] == pytest.approx(chosen.best_val_mse)
