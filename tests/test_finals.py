"""The finals phase's plan: each trained architecture's best search configuration, once per extra seed."""

from __future__ import annotations

import json

from models.run_files import RunFiles
from sweeps.engine.finals import final_trials, planned_finals, refit_epochs, refit_trials


def _trial(model: str, tag: str) -> dict:
    return {"model": model, "hparams": {"hidden_size": 8}, "train": {"learning_rate": 0.01}, "tag": tag}


def test_each_best_configuration_is_repeated_with_new_seeds_and_chronos_is_not(tmp_path):
    from test_trial_record import write_trial

    search = [_trial("gru_nar", "a"), _trial("gru_nar", "b"), _trial("lstm_ar", "c"), _trial("chronos2", "d")]
    best = {"gru_nar": "b", "lstm_ar": "c", "chronos2": "d"}
    plan = final_trials(search, best, seeds=2, base_seed=5)
    assert [(t["model"], t["final_of"], t["train"]["seed"], t["tag"]) for t in plan] == [
        ("gru_nar", "b", 6, "b_seed6"), ("gru_nar", "b", 7, "b_seed7"),
        ("lstm_ar", "c", 6, "c_seed6"), ("lstm_ar", "c", 7, "c_seed7")]
    assert all(t["hparams"] == {"hidden_size": 8} and t["train"]["learning_rate"] == 0.01 for t in plan)
    assert final_trials(search, best, seeds=0, base_seed=0) == []
    # planned from the trials' own records (their best), then recorded once: a resumed sweep reruns exactly these,
    # whatever the records say later
    for trial_id, (model, tag, val) in enumerate([("gru_nar", "a", 0.5), ("gru_nar", "b", 0.3),
                                                  ("lstm_ar", "c", 0.4), ("chronos2", "d", 0.2)]):
        write_trial(tmp_path, str(trial_id), model, tag, val, "finished")
    assert planned_finals(tmp_path, search, 2, 5) == plan
    write_trial(tmp_path, "9", "gru_nar", "a", 0.01, "finished")
    assert planned_finals(tmp_path, search, 2, 5) == plan
    assert json.loads((tmp_path / "finals.json").read_text()) == plan
    RunFiles(tmp_path).mark_phase("search", trials=4)
    assert RunFiles(tmp_path).finished_phases() == {"search"}


def test_the_finals_train_every_fold_with_every_seed_but_the_search_trial_itself():
    search = [_trial("gru_nar", "a"), _trial("lstm_ar", "a")]  # the same tag in two models
    plan = final_trials(search, {"gru_nar": "a", "lstm_ar": "a"}, seeds=1, base_seed=0, folds=3)
    gru = [(t.get("fold"), t["train"]["seed"], t["tag"]) for t in plan if t["model"] == "gru_nar"]
    assert gru == [(1, 0, "a_fold1_seed0"), (1, 1, "a_fold1_seed1"), (2, 0, "a_fold2_seed0"), (2, 1, "a_fold2_seed1"),
                   (None, 1, "a_seed1")]  # the last fold's seed 0 is the search trial
    assert final_trials(search, {"gru_nar": "a"}, seeds=2, base_seed=0, folds=1) == final_trials(
        search, {"gru_nar": "a"}, seeds=2, base_seed=0)  # one fold: the seed repeats as before, no fold key
    assert all("fold" not in t for t in final_trials(search, {"gru_nar": "a"}, seeds=2, base_seed=0))


def test_the_refit_retrains_each_choice_with_its_seeds_for_the_median_best_epoch():
    search = [_trial("gru_nar", "a"), _trial("lstm_ar", "a")]
    finals = final_trials(search, {"gru_nar": "a", "lstm_ar": "a"}, seeds=1, base_seed=3, folds=2)
    plan = refit_trials(finals, search, {("gru_nar", "a"): [4, 9, 7, 30], ("lstm_ar", "a"): [2]}, base_seed=3)
    assert [(t["model"], t["train"]["seed"], t["train"]["epochs"], t["fold"], t["final_of"]) for t in plan] == [
        ("gru_nar", 3, 8, "refit", "a"), ("gru_nar", 4, 8, "refit", "a"),
        ("lstm_ar", 3, 2, "refit", "a"), ("lstm_ar", 4, 2, "refit", "a")]
    assert all(t["train"]["keep"] == "last" and t["train"]["learning_rate"] == 0.01 for t in plan)
    assert refit_epochs([]) == 1 and refit_epochs([5]) == 5 and refit_epochs([1, 2, 3, 100]) == 2
