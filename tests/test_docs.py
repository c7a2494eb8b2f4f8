"""The docs site (mkdocs.yml, docs/, docgen/): its generated reference matches the code, every repository path it
names exists, the file columns it documents are the ones a real run writes, and it builds with --strict (a broken
link or anchor fails)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from docgen import REPO
from docgen.columns import FORECAST_COLUMNS, RANKING_COLUMNS, undocumented
from docgen.config_reference import DEFAULT_YAML, config_keys

DOC_FILES = sorted((REPO / "docs").rglob("*.md")) + [REPO / "README.md", REPO / "CHANGELOG.md"]
# A repository path as the docs write it: a top-level package or folder, then a file or folder name.
PATH = re.compile(r"(?<![\w./<-])((?:data_pipeline|models|sweeps|reports|benchmarks|examples|tests|docs|docgen|"
                  r"\.ci)/[\w./-]*[\w/])")
TOP_FILES = ("setup.sh", "constraints.txt", "cluster.yaml", "cluster-local.yaml", "pyproject.toml", "mkdocs.yml",
             "CHANGELOG.md")


def _yaml_leaves(node: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and prefix.count(".") < 1 and key != "models":
            out += _yaml_leaves(value, f"{dotted}.")
        elif prefix:
            out.append(dotted)
    return out


def test_the_config_reference_lists_every_key_of_the_code_with_its_real_default():
    from models import TRAINED_MODELS
    from models.chronos import CHRONOS2
    from sweeps.config import SweepConfig, load_config
    from sweeps.model_sections import section_types

    keys = {k.key: k for k in config_keys()}
    assert all(k.type and k.default and k.meaning for k in keys.values()), \
        [k.key for k in keys.values() if not (k.type and k.default and k.meaning)]
    sections = [s for s in SweepConfig.model_fields if s != "models"]
    from_code = {f"{s}.{name}" for s in sections
                 for name in SweepConfig.model_fields[s].default_factory.model_fields}  # type: ignore[union-attr]
    assert {k for k in keys if not k.startswith("models.")} == from_code
    # default.yaml is the file users are told lists every key: it and the reference hold the same keys
    assert set(_yaml_leaves(yaml.safe_load(DEFAULT_YAML.read_text()))) == from_code
    for model in (*TRAINED_MODELS, CHRONOS2):
        assert {k.split(".", 2)[2] for k in keys if k.startswith(f"models.{model}.")} == set(section_types(model))
    # the documented default is the value a run without overrides gets
    cfg = load_config().model_dump()
    for dotted in from_code:
        section, name = dotted.split(".")
        assert yaml.safe_load(keys[dotted].default) == cfg[section][name], dotted


def test_every_repository_path_named_in_the_docs_exists():
    missing = []
    for doc in DOC_FILES:
        text = doc.read_text()
        named = PATH.findall(text) + [f for f in TOP_FILES if f in text]
        missing += [f"{doc.relative_to(REPO)}: {p}" for p in named
                    if "*" not in p and not (REPO / p.rstrip("/")).exists()]
    assert not missing, missing


def test_the_readmes_quickstart_commands_are_kept():
    # .ci/run runs the second one; users copy the first
    readme = (REPO / "README.md").read_text()
    assert "bash setup.sh && .venv/bin/python sweeps/run_all.py\n" in readme
    assert "bash setup.sh && .venv/bin/python -m pytest\n" in readme


def test_every_command_in_getting_started_is_run_by_a_test():
    """Getting started's commands, each with the test that runs it (the sweep's smoke run is conftest's
    smoke_run: the same command with a runs directory of its own)."""
    tested = {
        "bash setup.sh": ".ci/run",
        ".venv/bin/python sweeps/run_all.py --profile smoke": "tests/conftest.py",
        ".venv/bin/python sweeps/run_all.py": "tests/conftest.py",
        ".venv/bin/python examples/notebook_quickstart.py": "tests/test_api.py",
    }
    text = (REPO / "docs" / "getting-started.md").read_text()
    commands = {line.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S)
                for line in block.splitlines() if line.strip()}
    assert commands == set(tested)
    for command, where in tested.items():
        source = (REPO / where).read_text()
        needle = "notebook_quickstart.py" if "examples/" in command else ("setup.sh" if "setup" in command else "run_all")
        assert needle in source, (command, where)


def test_the_documented_columns_are_the_ones_a_real_run_writes(smoke_run):
    import pandas as pd

    from reports.forecast import forecast

    ranking = pd.read_csv(smoke_run / "report" / "ranking.csv")
    assert undocumented(list(ranking.columns), RANKING_COLUMNS) == []
    always = [c for c in RANKING_COLUMNS if c.when == "always"]
    assert all(any(re.fullmatch(c.pattern, col) for col in ranking.columns) for c in always), \
        [c.name for c in always if not any(re.fullmatch(c.pattern, col) for col in ranking.columns)]
    frame = forecast(smoke_run, None, [])
    targets = tuple(pd.read_parquet(smoke_run / "report" / "predictions.parquet").target.unique())
    assert undocumented(list(frame.columns), FORECAST_COLUMNS, targets) == []
    assert undocumented(["not_a_target", "date"], FORECAST_COLUMNS, targets) == ["not_a_target"]


def test_the_docs_build_strictly(tmp_path: Path):
    pytest.importorskip("mkdocs", reason="the docs extra: pip install -c constraints.txt -e '.[docs]' (.ci/run does)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                         cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "WARNING" not in run.stderr, run.stderr[-3000:]
    config_page = (tmp_path / "site" / "reference" / "config" / "index.html").read_text()
    assert "data.outlier_rule" in config_page and "docgen:" not in config_page
    api_page = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "runs_dir" in api_page and "Raises" in api_page  # the docstrings' parameter tables rendered
