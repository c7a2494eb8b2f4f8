"""Every config key, from the config models (`sweeps.config.SweepConfig` and the sections it composes) with its
type, its default as `sweeps/configs/default.yaml` sets it, and its meaning: the field's own description, else
the comment beside the key in default.yaml (the file every user is told to read), so a meaning is written once."""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from docgen import REPO

DEFAULT_YAML = REPO / "sweeps" / "configs" / "default.yaml"

# The model sections' keys are typed by each model's config dataclass and TrainConfig (sweeps/model_sections.py);
# their meanings live here, since those dataclasses carry no descriptions. tests/test_docs.py fails when a key
# any model accepts is missing from this table.
MODEL_KEY_MEANINGS = {
    "hidden_size": "Width of the LSTM/GRU encoder and decoder.",
    "num_layers": "Stacked recurrent layers (RNNs) or encoder and decoder layers (Transformer).",
    "dropout": "Dropout between layers, in [0, 1).",
    "teacher_forcing": "Autoregressive decoders only: probability, per batch and step, of feeding the true "
                       "previous value while training (never in evaluation).",
    "norm": "none | window (forecast in each input window's own mean/std frame) | revin (window plus a "
            "learnable affine).",
    "linear_skip": "Add a linear core: ridge from the input window to the forecast, solved before training and "
                   "held fixed (as NLinear/DLinear).",
    "series_embedding": "Panels: size of a learned per-series vector fed to the encoder; 0: none.",
    "d_model": "Transformer width.",
    "nhead": "Attention heads; must divide d_model.",
    "dim_feedforward": "Width of the Transformer's feed-forward layers; null: 4 x d_model.",
    "learning_rate": "This architecture's train.learning_rate.",
    "weight_decay": "This architecture's train.weight_decay.",
    "batch_size": "This architecture's train.batch_size (Chronos-2: fine-tuning batch size).",
    "grad_clip": "This architecture's train.grad_clip.",
    "patience": "This architecture's train.patience.",
    "epochs": "This architecture's train.epochs.",
    "num_samples": "Trials this architecture gets (random | tpe), or samples per grid point (grid); default "
                   "sweep.num_samples.",
    "window_input": "This architecture's input length (fixed or a spec); default window.input.",
    "steps": "Chronos-2 fine-tuning steps.",
    "mode": "Chronos-2 fine-tuning: full | lora.",
}


@dataclass(frozen=True)
class ConfigKey:
    key: str  # dotted, as on the command line
    type: str
    default: str  # as default.yaml sets it (the value every run starts from)
    meaning: str


def yaml_comments(path=DEFAULT_YAML) -> dict[str, str]:
    """`dotted.key -> comment` for every `key: value  # comment` line of a YAML file, with the comment lines
    aligned under it joined on."""
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    last: str | None = None
    for line in path.read_text().splitlines():
        if not line.strip():
            last = None
            continue
        indent = len(line) - len(line.lstrip())
        if line.lstrip().startswith("#"):
            if last is not None and indent > 0:  # a continuation aligned under the key's comment
                comments[last] += " " + line.strip().lstrip("#").strip()
            continue
        match = re.match(r"\s*([A-Za-z_0-9]+):(.*)$", line)
        if not match:
            last = None
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(1)))
        key = ".".join(k for _, k in stack)
        rest = match.group(2)
        last = None
        if "#" in rest:
            comments[key] = rest.split("#", 1)[1].strip()
            last = key
    return comments


def type_name(annotation: Any) -> str:
    """An annotation as a user writes the value: `a | b` for choices, `int | null`, `list[str]`."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " | ".join(str(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return type_name(typing.get_args(annotation)[0])
    if origin is list:
        (inner,) = typing.get_args(annotation) or (Any,)
        return f"list[{type_name(inner)}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _yaml_value(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()


def _lookup(raw: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def config_keys() -> list[ConfigKey]:
    """Every key of every section, in the order the config models declare them; the models section per
    architecture."""
    from sweeps.config import SweepConfig

    raw = yaml.safe_load(DEFAULT_YAML.read_text())
    comments = yaml_comments()
    out: list[ConfigKey] = []
    for section, field in SweepConfig.model_fields.items():
        if section == "models":
            out += _model_keys(raw)
            continue
        model: type[BaseModel] = field.default_factory  # type: ignore[assignment]
        for name, sub in model.model_fields.items():
            key = f"{section}.{name}"
            found, value = _lookup(raw, key)
            default = _yaml_value(value) if found else _yaml_value(sub.get_default(call_default_factory=True))
            meaning = (sub.description or comments.get(key, "")).strip()
            out.append(ConfigKey(key, type_name(sub.annotation), default, meaning))
    return out


def _model_keys(raw: dict[str, Any]) -> list[ConfigKey]:
    from models import TRAINED_MODELS, hparam_defaults
    from models.chronos import CHRONOS2, CHRONOS2_HPARAMS
    from sweeps.model_sections import NUM_SAMPLES, WINDOW_INPUT, section_types

    out = []
    for model in (*TRAINED_MODELS, CHRONOS2):
        own = CHRONOS2_HPARAMS if model == CHRONOS2 else hparam_defaults(model)
        for key, annotation in section_types(model).items():
            dotted = f"models.{model}.{key}"
            found, value = _lookup(raw, dotted)
            if found:
                default = _yaml_value(value)
            elif key in own:
                default = f"{_yaml_value(own[key])} (the model's own)"
            elif key in (NUM_SAMPLES, WINDOW_INPUT):
                default = "sweep.num_samples" if key == NUM_SAMPLES else "window.input"
            else:
                default = f"train.{key}"
            out.append(ConfigKey(dotted, type_name(annotation), default, MODEL_KEY_MEANINGS.get(key, "")))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_reference_markdown() -> str:
    """One table per section: key, type, default, meaning."""
    lines: list[str] = []
    section = None
    for k in config_keys():
        top = k.key.split(".")[0] if not k.key.startswith("models.") else ".".join(k.key.split(".")[:2])
        if top != section:
            section = top
            lines += ["", f"### `{top}`", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        lines.append(f"| `{k.key}` | {_cell(k.type)} | `{_cell(k.default)}` | {_cell(k.meaning)} |")
    return "\n".join(lines).strip() + "\n"
