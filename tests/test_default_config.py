"""sweeps/configs/default.yaml lists every key of the schema, with the schema's own default: one source of truth
a user can read (the `models` section holds search specs, checked by the search tests)."""

from __future__ import annotations

from typing import Any

import yaml
from conftest import REPO
from pydantic import BaseModel

from sweeps.config import SweepConfig

DEFAULT_YAML = REPO / "sweeps" / "configs" / "default.yaml"


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): value}


def _schema_defaults(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out.update(_schema_defaults(kind, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = field.get_default(call_default_factory=True)
    return out


def test_default_yaml_lists_every_key_with_the_schema_default():
    written = _flat({k: v for k, v in yaml.safe_load(DEFAULT_YAML.read_text()).items() if k != "models"})
    schema = {k: v for k, v in _schema_defaults(SweepConfig).items() if not k.startswith("models")}
    assert sorted(set(schema) - set(written)) == [], "keys of the schema that default.yaml does not list"
    assert sorted(set(written) - set(schema)) == [], "keys of default.yaml the schema does not know"
    differ = {k: (written[k], schema[k]) for k in schema if written[k] != schema[k]}
    # The data layer's SplitConfig splits once by default (code that windows data itself gets a plain split); the
    # sweep's default profile backtests on three blocks
    assert differ == {"split.folds": (3, 1)}, "default.yaml value vs the schema's default"
