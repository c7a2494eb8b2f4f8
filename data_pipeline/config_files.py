"""Config files: read a YAML config and apply dotted `key=value` overrides (shared by every CLI), and write a
Python value as such an override. The schemas of the sections live in config.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from data_pipeline.errors import DataError

# Keys whose empty value (`key=`) is a mistake rather than null: a file path left blank.
EMPTY_REFUSED = ("data.path", "data.test_path")


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: config file not found; check the --config path")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DataError(f"{p}: invalid YAML{where}: {problem}; fix the syntax") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: cannot read config ({exc})") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DataError(
            f"{p}: top level must be a mapping of sections (data:, window:, ...), got {type(raw).__name__}"
        )
    return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of `raw` with each `a.b.c=value` applied; values are parsed as YAML (`14`, `[1, 2]`, `null`)."""
    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DataError(f"override {item!r}: expected key=value, e.g. window.output=14")
        parts = key.split(".")
        if any(not p for p in parts):
            raise DataError(
                f"override {item!r}: empty component in key {key!r}; use dotted names like data.path"
            )
        if key in EMPTY_REFUSED and not text.strip():
            # `data.path=$FILE` with FILE unset: YAML reads the empty text as null, which would mean "no file".
            raise DataError(f"{key} is empty ({item!r}, an unset shell variable?); give the path of a CSV or "
                            f"Parquet file, or leave {key} out")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DataError(f"override {item!r}: value is not valid YAML ({exc}); quote it") from exc
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise DataError(f"override {item!r}: {where} is a {type(child).__name__}, not a section")
            node = child
        node[parts[-1]] = value
    return out


def override_text(key: str, value: Any) -> str:
    """A Python value as the dotted `key=value` override `apply_overrides` reads back as exactly this value, e.g.
    1e-05 stays a float (a bare `1e-05` is a string to YAML 1.1) and '2020-01-01' stays a string. Raises
    yaml.YAMLError for a value YAML cannot write (the caller words the error for its own user)."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()  # numpy scalars
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30)
    return f"{key}={text.removesuffix(chr(10)).removesuffix('...').strip()}"
