"""The Python API's overrides as the CLI's: dotted config keys with Python values (or "key=value" strings) become
the `key=value` list every config loader takes, so the API and the CLI validate them in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from data_pipeline.config_files import override_text
from sweeps.config import ConfigError

# Dotted keys with Python values, or the CLI's "key=value" strings.
Overrides = Mapping[str, Any] | Sequence[str] | None


def override_string(key: str, value: Any) -> str:
    """A Python value as a dotted `key=value` override (what the CLI takes): YAML reads back exactly this value
    (data_pipeline.config_files.override_text, which the data layer also uses for the keys a frame implies)."""
    try:
        return override_text(key, value)
    except yaml.YAMLError as err:
        raise ConfigError(f"{key}: {value!r} is not a plain value (a number, string, bool, None, list or dict)") from err


def override_pairs(overrides: Overrides, options: Mapping[str, Any] | None = None) -> list[str]:
    """The Python API's overrides (a mapping of dotted keys to values, or CLI-style "key=value" strings) and its
    dotted keyword arguments, as the CLI's `key=value` list."""
    return _override_strings(overrides) + [override_string(k, v) for k, v in _dotted(options or {}).items()]


def _override_strings(overrides: Overrides) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [override_string(k, v) for k, v in _dotted(overrides).items()]
    if isinstance(overrides, str):
        overrides = [overrides]
    pairs = list(overrides)
    for pair in pairs:
        if not isinstance(pair, str) or "=" not in pair:
            raise ConfigError(f"override {pair!r} is not key=value (e.g. train.epochs=50)")
    return pairs


def _dotted(options: Mapping[str, Any]) -> dict[str, Any]:
    """Config keys are dotted (`window.input`); a bare word is most likely a misspelt keyword argument."""
    for key in options:
        if "." not in key:
            raise ConfigError(f"unknown option {key!r}: check the keyword's spelling; config keys are dotted, e.g. "
                              f"**{{'window.input': 60}} or overrides={{'train.epochs': 50}}")
    return dict(options)
