"""Schemas of the `train` section (how every trained model is optimised) and the `baselines` section, and how a
model's hyperparameter defaults are read off its config dataclass."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from pydantic import Field, field_validator

from data_pipeline.config import StrictModel
from models.classical import CLASSICAL_MODELS

ClassicalName = Literal[CLASSICAL_MODELS]  # type: ignore[valid-type]


class TrainConfig(StrictModel):
    epochs: int = Field(60, gt=0, description="Upper bound; early stopping usually ends sooner.")
    batch_size: int = Field(64, gt=0)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, gt=0, description="Max global gradient norm.")
    patience: int = Field(10, gt=0, description="Epochs without validation improvement before stopping.")
    seed: int = 0
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32",
        description="fp32 (measured fastest for these small models on GPUs, see benchmarks/gpu.py); bf16 / fp16: "
        "CUDA autocast. fp16, and bf16 on RNNs (which autocast runs in fp16), always scale the loss.",
    )
    compile: bool = Field(False, description="torch.compile the model (GPU only).")
    keep: Literal["best", "last"] = Field(
        "best", description="best: the weights of the best validation epoch, stopping after `patience` epochs "
        "without improvement; last: the last epoch's weights after exactly `epochs` epochs (a final refit, whose "
        "validation rows are part of its training data, so they cannot choose an epoch).",
    )

    @field_validator("precision", mode="before")
    @classmethod
    def _auto_was_fp32(cls, value: object) -> object:
        # `auto` never chose anything: it always ran fp32. It is no longer offered, but a run directory (or a
        # config) written while it was still reads as it ran, so old runs resume and report unchanged.
        return "fp32" if value == "auto" else value


class BaselinesConfig(StrictModel):
    """Schema of the `baselines` section: settings of the reference forecasts every ranking includes."""

    season: int | None = Field(
        None, ge=1, description="Seasonal naive's period in steps; null: from the data's frequency "
        "(7 daily, 5 business-daily, 52 weekly, 24 hourly, 12 monthly; none under rows)."
    )
    classical: Literal["all"] | list[ClassicalName] = Field(
        "all", description="Classical models in the ranking (ets, theta, arima, mstl (hourly or half-hourly data "
        "only); with two or more, also their mean classical_combo): `all` (all that fit the data), a list, or [] "
        "for none."
    )

    @field_validator("classical", mode="before")
    @classmethod
    def _all_or_a_list(cls, value: Any) -> Any:
        # Run directories written before `all` existed store null for it: they keep their meaning when reopened.
        if value is None:
            return "all"
        choices = f"write all, [] (none) or a list of {', '.join(CLASSICAL_MODELS)}"
        if isinstance(value, str) and value != "all":
            raise ValueError(f"{value!r} is not a choice: {choices}")
        if isinstance(value, list) and (unknown := [v for v in value if v not in CLASSICAL_MODELS]):
            raise ValueError(f"unknown model(s) {unknown}: {choices}")
        return value


# Arguments every model takes from the data (passed by `models.build`), never hyperparameters.
SHAPE_FIELDS = ("n_features", "n_targets", "n_inputs", "n_outputs", "n_future", "n_series")


def hparam_defaults_of(config_class: type, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """A model's hyperparameters with their defaults, read off its config dataclass: each default is written
    once, in the dataclass, and the registry, the config schema and the searcher's start point all read it."""
    return {f.name: f.default for f in dataclasses.fields(config_class)
            if f.default is not dataclasses.MISSING and f.name not in SHAPE_FIELDS + exclude}
