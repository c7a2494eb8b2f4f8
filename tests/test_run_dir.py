"""A run directory binds its name to the sweep it started: a resume is refused only for a real difference."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sweeps.config import ConfigError, SweepConfig, load_config
from sweeps.engine.run_dir import refuse_other_config


def _store(run_dir: Path, config: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def test_a_run_stored_before_a_key_existed_resumes_under_todays_default(tmp_path: Path):
    resolved = load_config(None, []).model_dump(mode="json")
    older = yaml.safe_load(yaml.safe_dump(resolved))
    del older["data"]["frequency"]  # the key did not exist when that run started
    del older["sweep"]["search"]
    _store(tmp_path, older)
    refuse_other_config(tmp_path, resolved)  # same sweep: no error


def test_a_run_stored_with_precision_auto_resumes_and_loads_as_fp32(tmp_path: Path):
    resolved = load_config(None, []).model_dump(mode="json")
    older = yaml.safe_load(yaml.safe_dump(resolved))
    older["train"]["precision"] = "auto"  # what every run wrote before `auto` (always fp32) went
    _store(tmp_path, older)
    refuse_other_config(tmp_path, resolved)  # same sweep: no error
    assert SweepConfig.model_validate(older).train.precision == "fp32"


def test_a_run_stored_with_the_old_policy_name_interpolate_resumes_as_ffill(tmp_path: Path):
    resolved = load_config(None, []).model_dump(mode="json")
    older = yaml.safe_load(yaml.safe_dump(resolved))
    for key in ("gap_policy", "nan_policy", "outlier_policy"):
        assert resolved["data"][key] == "ffill"
        older["data"][key] = "interpolate"  # what every run wrote before the rename (the same repair)
    _store(tmp_path, older)
    with pytest.warns(FutureWarning, match="is now called ffill"):
        refuse_other_config(tmp_path, resolved)  # same sweep: no error
    older["data"]["gap_policy"] = "error"  # a real difference is still refused, naming the key
    _store(tmp_path, older)
    with pytest.warns(FutureWarning), pytest.raises(ConfigError, match="data.gap_policy"):
        refuse_other_config(tmp_path, resolved)


@pytest.mark.parametrize("override", ["window.output=3", "sweep.search=tpe", "data.frequency=B"])
def test_a_different_sweep_under_the_same_name_is_refused_naming_the_key(tmp_path: Path, override: str):
    _store(tmp_path, load_config(None, []).model_dump(mode="json"))
    changed = load_config(None, [override]).model_dump(mode="json")
    with pytest.raises(ConfigError, match=override.split("=")[0].split(".")[0]):
        refuse_other_config(tmp_path, changed)
