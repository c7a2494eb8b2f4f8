"""Schema of the `data`, `window` and `split` sections of a sweep config.

The data pipeline owns these; the sweep layer composes them into the full config.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EMBEDDED_SOURCES = ("seattle_weather",)


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors (a typo must never be silently ignored)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(StrictModel):
    source: Literal["seattle_weather"] = Field(
        "seattle_weather", description="Embedded dataset used when `path` is not set."
    )
    path: str | None = Field(None, description="CSV or Parquet file; overrides `source`.")
    test_path: str | None = Field(None, description="Optional separate test file (same columns).")
    date_column: str = "date"
    features: list[str] | None = Field(None, description="Input columns; default: every numeric column.")
    targets: list[str] | None = Field(
        None, description="Columns to forecast (subset of features); default: all."
    )
    calendar_features: bool = Field(False, description="Add day-of-year / day-of-week sin/cos inputs.")
    outlier_policy: Literal["keep", "clip", "interpolate"] = "interpolate"
    outlier_threshold: float = Field(
        8.0, gt=0, description="Robust z-score (median/MAD) above which a value is physically implausible."
    )
    gap_policy: Literal["error", "interpolate", "ffill"] = "interpolate"
    nan_policy: Literal["error", "interpolate"] = "interpolate"
    scaler: Literal["standard", "robust"] = "standard"
    cache_dir: str | None = Field(
        None, description="Where windowed arrays are cached; default ./.cache/data."
    )

    @model_validator(mode="after")
    def _targets_within_features(self) -> DataConfig:
        for key in ("features", "targets"):
            names = getattr(self, key) or []
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"data.{key} lists {repeated} more than once; give each column once")
        if self.features is not None and self.targets is not None:
            unknown = [t for t in self.targets if t not in self.features]
            if unknown:
                raise ValueError(
                    f"targets {unknown} are not in features {self.features}: add them to data.features"
                )
        return self


class WindowConfig(StrictModel):
    input: int = Field(30, gt=0, description="Days the model sees (N_INPUTS).")
    output: int = Field(7, gt=0, description="Days the model forecasts (N_OUTPUTS).")


class SplitConfig(StrictModel):
    val_fraction: float = Field(
        0.15, gt=0, lt=1, description="Tail of the training period held out for validation."
    )
    test_fraction: float = Field(
        0.15, gt=0, lt=1, description="Tail of the series used as test when no test_path is given."
    )
    test_inputs_from_train: bool = Field(
        False, description="With test_path: let test windows take their inputs from the training period."
    )
