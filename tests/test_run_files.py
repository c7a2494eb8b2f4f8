"""One owner of the run directory (issue 38): models/run_files.py names its files; no other product module does.
And its typed records refuse a malformed file by name, and round-trip what they read."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from conftest import REPO

from models.run_files import RunFiles, owned_names
from models.run_records import FINALS, REFIT, SEARCH, RunFilesError, RunRecord, SearchPlan, TrialSpec

PACKAGES = ("data_pipeline", "models", "sweeps", "reports")
OWNER = "models/run_files.py"
# Modules that still name run-directory files, each with why; the list only shrinks.
EXEMPT: dict[str, str] = {}
FILE_NAMES = {n for n in owned_names() if "." in n}
FOLDER_NAMES = owned_names() - FILE_NAMES


# Folder names no other string means ("ray-finals", "checkpoint-mirror"): refused wherever they appear.
DISTINCT_FOLDERS = {n for n in FOLDER_NAMES if "-" in n}


def _offences(path: Path) -> list[str]:
    """Where a module writes out a run-directory name: any string constant equal to a file name (or ending in
    "/<file name>") or to a distinctive folder name; a folder name joined to a path (`x / "report"`,
    `x.joinpath("trials")`) or kept as a module constant (`RECORDS_DIR = "trials"`). A bare word like "report"
    or "trials" elsewhere is a phase, a section or a dict key, not a path."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in tree.body:  # module constants: NAME = "folder"
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and node.value.value in FOLDER_NAMES
                and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)):
            found.append(f"{node.lineno}: {node.value.value!r} as a constant")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text in FILE_NAMES | DISTINCT_FOLDERS or any(text.endswith(f"/{n}") for n in FILE_NAMES):
                found.append(f"{node.lineno}: {text!r}")
        joined: list[ast.expr] = []
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            joined = [node.right]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "joinpath":
            joined = list(node.args)
        for part in joined:
            if isinstance(part, ast.Constant) and part.value in FOLDER_NAMES:
                found.append(f"{node.lineno}: / {part.value!r}")
    return found


def test_only_the_owner_names_a_run_directory_file():
    offenders = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):  # sub-packages too (models/forecasters/)
            rel = path.relative_to(REPO).as_posix()
            if rel == OWNER or rel in EXEMPT:
                continue
            if found := _offences(path):
                offenders[rel] = found
    assert not offenders, f"run-directory names outside {OWNER} (use models.run_files.RunFiles): {offenders}"


def test_the_scan_finds_what_it_is_meant_to(tmp_path: Path):
    """The scan is not vacuous: each way of naming a file is caught, and the exempt modules do name some."""
    sample = tmp_path / "sample.py"
    sample.write_text('a = "run.json"\nb = run / "report"\nc = "runs/x/ranking.csv"\nd = p.joinpath("trials")\n'
                      'DIR = "timeline"\nf = ("ray-finals", 1)\ng = {"trials": 1, "report": 2}\n')
    assert sorted(f.split(":")[0] for f in _offences(sample)) == ["1", "2", "3", "4", "5", "6"]
    assert _offences(REPO / OWNER), "the owner itself names its files"
    assert all((REPO / m).is_file() for m in EXEMPT), "an exempt module is gone: drop it from the list"


def test_records_round_trip_and_refuse_malformed_files(tmp_path: Path):
    files = RunFiles(tmp_path)
    assert files.read_run_record() is None and files.read_search_plan() is None
    record = RunRecord(name="r", experiment_path=str(files.experiment(SEARCH)), n_trials=3, started_at=1.5,
                       phase_paths={FINALS: str(files.experiment(FINALS))}, extra={"added_later": [1]})
    files.write_run_record(record)
    again = files.read_run_record()
    assert again == record and again is not None and again.experiment(REFIT) is None
    assert json.loads(files.run_record.read_text())["finals_path"].endswith("ray-finals")  # the stored layout

    trial = {"model": "gru_nar", "hparams": {"layers": 1}, "train": {"seed": 2}, "tag": "t_seed2",
             "final_of": "t", "fold": REFIT}
    files.write_trial_list(REFIT, [trial])
    specs = files.read_trial_list(REFIT)
    assert specs == [TrialSpec("gru_nar", "t_seed2", {"layers": 1}, {"seed": 2}, final_of="t", fold=REFIT)]
    assert specs[0].to_dict() == trial

    files.write_search_plan(SearchPlan("tpe", {"gru_ar": 3}))
    assert files.read_search_plan() == SearchPlan("tpe", {"gru_ar": 3})
    files.mark_phase(SEARCH, trials=4)
    assert files.finished_phases() == {SEARCH} and files.read_phases()[SEARCH].trials == 4

    files.trial_list(FINALS).write_text('[{"model": "gru_ar"}]')  # no tag
    with pytest.raises(RunFilesError, match=r"finals\.json: malformed run record \(a trial lacks or mistypes tag"):
        files.read_trial_list(FINALS)
    files.run_record.write_text("{")
    with pytest.raises(RunFilesError, match=r"run\.json: malformed run record \(not valid JSON"):
        files.read_run_record()
    files.run_record.write_text("[]")
    with pytest.raises(RunFilesError, match=r"run\.json: malformed run record \(not a JSON object"):
        files.read_run_record()
    with pytest.raises(RunFilesError, match="not a sweep run directory"):
        files.read_config()
    files.config.write_text("report: {final_refit: true}\n")
    stored = files.read_config()
    assert stored.final_refit and stored.search == "grid" and stored.interval_levels is None
    with pytest.raises(RunFilesError, match=r"config\.yaml: malformed run record \(missing section\(s\) data"):
        stored.data_configs()


def test_the_stored_config_answers_with_the_defaults_a_run_was_made_under(tmp_path: Path):
    files = RunFiles(tmp_path)
    files.config.write_text("models: {gru_ar: {}, chronos2: {}}\nbaselines: {classical: null}\n")
    stored = files.read_config()
    assert stored.folds == 1 and stored.final_seeds == 0 and not stored.final_refit
    assert stored.model_names == ["gru_ar", "chronos2"] and stored.pretrained_path is None
    assert stored.data_cache_dir == Path(".cache") / "data" and stored.ensemble_steps(20) == 20
    assert stored.baselines().classical == "all" and stored.baselines().season is None  # null: all, as before
    files.config.write_text("split: {folds: 3}\nreport: {ensemble_steps: 0}\nbaselines: {season: 0}\n")
    stored = files.read_config()
    assert stored.folds == 3 and stored.ensemble_steps(20) == 0
    with pytest.raises(RunFilesError, match=r"config\.yaml: malformed run record \(baselines: ValidationError"):
        stored.baselines()


def test_readers_ask_the_typed_stored_config_not_its_raw_sections():
    """A section read as a raw dict (`config.get("report")`) repeats a default the stored config already keeps."""
    allowed = {("reports/forecast.py", 'run.config["data"]'),  # data.* overrides apply to the section as written
               ("sweeps/engine/run_dir.py", 'config.get("sweep")')}  # two whole configs compared as written
    found = []
    for pkg in ("reports", "models", "sweeps"):
        for path in sorted((REPO / pkg).rglob("*.py")):
            rel = str(path.relative_to(REPO))
            for line in path.read_text().splitlines():
                for hit in ('config.get("', 'run.config["', "run.config.get("):
                    if hit in line and not any(rel == a and a_text in line for a, a_text in allowed):
                        found.append(f"{rel}: {line.strip()}")
    assert found == []
