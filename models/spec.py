"""A model's own configuration, carried by the model and saved in its checkpoint (as nanoGPT keeps `model_args` in
its checkpoint): the architecture's registry name and the arguments `models.build` takes, so a checkpoint file
alone rebuilds its model (models/checkpoint.py).

Only plain values (str, int, float, bool, None, lists and dicts of them) go in, so the file still loads with
`torch.load(weights_only=True)`: a checkpoint is data, never code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FORMAT = 1
ATTRIBUTE = "model_spec"  # where models.build leaves a model's spec on the module it returns


class SpecError(ValueError):
    """A spec that cannot describe (or rebuild) a model; the message says which part."""


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the registry name (models.MODEL_NAMES)
    shapes: dict[str, int]  # the data shapes the model was built for: n_features, n_targets, n_inputs, n_outputs, ...
    hparams: dict[str, Any]  # every hyperparameter, defaults included

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"the architecture name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.shapes, dict) or not all(
                isinstance(k, str) and type(v) is int for k, v in self.shapes.items()):
            raise SpecError(f"shapes must map names to integers, got {self.shapes!r}")
        if not isinstance(self.hparams, dict) or not all(isinstance(k, str) for k in self.hparams):
            raise SpecError(f"hparams must map names to values, got {self.hparams!r}")
        object.__setattr__(self, "hparams", {k: _plain(v, f"hparams.{k}") for k, v in self.hparams.items()})

    def build_kwargs(self) -> dict[str, Any]:
        """The keywords that rebuild the model: `models.build(spec.name, **spec.build_kwargs())`."""
        return {**self.shapes, **self.hparams}

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "name": self.name, "shapes": dict(self.shapes), "hparams": dict(self.hparams)}

    @classmethod
    def from_dict(cls, raw: Any) -> ModelSpec:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise SpecError(f"not a model spec of format {FORMAT}")
        unknown = sorted(set(raw) - {"format", "name", "shapes", "hparams"})
        if unknown:
            raise SpecError(f"unknown key(s) {', '.join(unknown)}")
        return cls(raw.get("name"), raw.get("shapes"), raw.get("hparams"))  # type: ignore[arg-type]


def _plain(value: Any, where: str) -> Any:
    """The value as plain data (tuples become lists, as they would through JSON), or a SpecError naming it."""
    if isinstance(value, np.generic):  # a sampled value may arrive as a numpy scalar
        value = value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    raise SpecError(f"{where}: {type(value).__name__} is not a plain value (str, number, bool, None, list, dict)")
