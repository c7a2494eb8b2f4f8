"""Schema of the `data`, `window` and `split` sections of a sweep config.

The data pipeline owns these; the sweep layer composes them into the full config.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

EMBEDDED_SOURCES = ("seattle_weather", "synthetic_panel")
# The column that names each series: data.id_column, or this one when the data is the embedded panel or comes
# from a wide file (data.series_columns), where each series' values are gathered into one `value` column.
PANEL_ID_COLUMN = "series"
PANEL_VALUE_COLUMN = "value"

# `data.frequency` values besides pandas aliases: infer the calendar, or use none at all (rows are the steps).
AUTO_FREQUENCY, ROWS = "auto", "rows"
# Aliases pandas 3 no longer parses but people still write; M, Q and Y become their start or end variant by the
# data's own dates (calendars.resolve_frequency).
LEGACY_ALIASES = {"H": "h", "T": "min", "S": "s", "L": "ms", "U": "us", "N": "ns"}
ANCHORED_LEGACY = ("M", "Q", "Y")
# The old name of `ffill` for data.gap_policy, nan_policy and outlier_policy: every repair always carried the last
# good value forward (an interpolation would read a later, possibly target, day), so the name said what was not
# done. Old configs and run directories (their stored config.yaml) still load, mapped with a warning.
RENAMED_POLICY = ("interpolate", "ffill")


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors (a typo must never be silently ignored)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(StrictModel):
    source: Literal["seattle_weather", "synthetic_panel"] = Field(
        "seattle_weather", description="Embedded dataset used when `path` is not set (synthetic_panel: many series)."
    )
    path: str | None = Field(None, description="CSV or Parquet file; overrides `source`.")
    test_path: str | None = Field(None, description="Optional separate test file (same columns).")
    date_column: str = "date"
    dayfirst: bool | None = Field(
        None, description="Dates like 01/03/2019: true reads 1 March, false 3 January; null decides from the dates "
        "(the reading that gives a regular series, with a note) and refuses when both or neither do.")
    decimal: Literal[".", ","] = Field(".", description="A CSV's decimal mark: ',' reads 3,5 as 3.5.")
    features: list[str] | None = Field(None, description="Input columns; default: every numeric column.")
    targets: list[str] | None = Field(
        None, description="Columns to forecast (subset of features); default: all."
    )
    calendar_features: bool = Field(False, description="Add day-of-year / day-of-week sin/cos inputs.")
    known_future: list[str] | None = Field(
        None, description="Columns whose future values are known when the forecast is made (holidays, planned "
        "prices or promotions, a weather forecast): never targets; the models read their past values in the input "
        "window and their values on every forecast step, and a forecast past the data's end needs them for every "
        "future step (`python -m reports.forecast RUN --future FILE`).")
    static_columns: list[str] | None = Field(
        None, description="Panels (data.id_column): columns that describe each series and never change (region, "
        "store type, size); text columns are one-hot encoded. Each must hold one value per series.")
    outlier_rule: Literal["impossible", "robust_z"] = Field(
        "impossible", description="Which values `outlier_policy` repairs: impossible (only values no real process "
        "produces: a move from the earlier rows far beyond the largest the training split shows, e.g. a unit or "
        "sign error or a garbage spike; values above `outlier_threshold` are reported as unusual but kept and "
        "scored) or robust_z (every value above `outlier_threshold`, the rule before: also real turns of smooth "
        "series).")
    outlier_policy: Literal["keep", "clip", "ffill"] = Field(
        "ffill", description="What happens to a value the rule repairs: ffill (the last good value carried "
        "forward), clip (to the rule's band) or keep (listed only); it is never scored either way.")
    outlier_threshold: float = Field(
        8.0, gt=0, description="Robust z-score (median/MAD of the residual against the trailing level) above which "
        "a value is unusual (rule impossible: reported, kept) or repaired (rule robust_z).")
    frequency: str = Field(
        AUTO_FREQUENCY,
        description="Calendar of the series: auto (inferred; business-day data becomes B), a pandas alias "
        "(D, B, W, M, h, 15min, ...), or rows (consecutive rows are consecutive steps; no calendar).",
    )
    gap_policy: Literal["error", "ffill"] = Field(
        "ffill", description="Missing calendar rows: ffill (the last good value carried forward; inputs only, "
        "never scored) or error.")
    nan_policy: Literal["error", "ffill"] = Field(
        "ffill", description="Empty cells of observed rows: ffill (as gap_policy) or error.")
    scaler: Literal["standard", "robust"] = "standard"
    id_column: str | None = Field(
        None, description="Long-format panel: the column naming each row's series (one row per id and date).")
    series_columns: list[str] | None = Field(
        None, description="Wide-format panel: one column per series of the same quantity (other columns shared).")
    min_series_length: int | None = Field(
        None, gt=0, description="Panels: stop with an error (instead of dropping them with a warning) when a series "
        "has fewer rows than this or too few for one window per split.")
    cache_dir: str | None = Field(
        None, description="Where windowed arrays are cached; default ./.cache/data."
    )

    @field_validator("gap_policy", "nan_policy", "outlier_policy", mode="before")
    @classmethod
    def _renamed_policy(cls, value: Any, info: ValidationInfo) -> Any:
        old, new = RENAMED_POLICY
        if value == old:
            warnings.warn(f"data.{info.field_name}={old} is now called {new} (it always carried the last good value "
                          f"forward); write data.{info.field_name}={new}", FutureWarning, stacklevel=2)
            return new
        return value

    @field_validator("path", "test_path")
    @classmethod
    def _not_empty(cls, value: str | None, info: ValidationInfo) -> str | None:
        # An unset shell variable (data.path=$FILE) must not quietly fall back to the embedded data.
        if value is not None and not value.strip():
            raise ValueError(f"data.{info.field_name} is empty; give the path of a CSV or Parquet file, or leave "
                             f"data.{info.field_name} out to use {'data.source' if info.field_name == 'path' else 'no test file'}")
        return value

    @field_validator("frequency")
    @classmethod
    def _known_frequency(cls, value: str) -> str:
        if value in (AUTO_FREQUENCY, ROWS) or value in LEGACY_ALIASES or value in ANCHORED_LEGACY:
            return value
        from pandas.tseries.frequencies import to_offset

        try:
            to_offset(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a frequency; use auto, rows or a pandas alias such as D, B, W, M, "
                             "h or 15min") from None
        return value

    @model_validator(mode="after")
    def _targets_within_features(self) -> DataConfig:
        for key in ("features", "targets"):
            names = getattr(self, key) or []
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"data.{key} lists {repeated} more than once; give each column once")
        if self.id_column is not None and self.series_columns is not None:
            raise ValueError("set data.id_column (long format) or data.series_columns (wide format), not both")
        if self.series_columns is not None:
            names = self.series_columns
            if not names:
                raise ValueError("data.series_columns is empty; list one column per series")
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"data.series_columns lists {repeated} more than once; give each column once")
        known, static = self.known_future or [], self.static_columns or []
        for key, names in (("known_future", known), ("static_columns", static)):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"data.{key} lists {repeated} more than once; give each column once")
        forecast = [t for t in self.targets or [] if t in known]
        if forecast:
            # a column known ahead is an input, never something to forecast: its future is given, not predicted
            raise ValueError(f"data.targets {forecast} are also in data.known_future; a known-future column is an "
                             "input whose future values you supply, not a target: remove it from one of the two")
        both = [c for c in static if c in known or c in (self.targets or []) or c in (self.features or [])]
        if both:
            raise ValueError(f"data.static_columns {both} are also named as features, targets or known-future "
                             "columns; a static column describes a whole series: list it in one place only")
        if static and self.id_column is None:
            raise ValueError("data.static_columns describe each series of a long-format panel: set data.id_column "
                             "(the column naming each row's series), or remove data.static_columns")
        if self.frequency == ROWS and known:
            raise ValueError("data.known_future needs a calendar to match future values to forecast steps, but "
                             "data.frequency=rows has none; set data.frequency=auto or an alias")
        if self.features is not None and self.targets is not None:
            unknown = [t for t in self.targets if t not in self.features]
            if unknown:
                raise ValueError(
                    f"targets {unknown} are not in features {self.features}: add them to data.features"
                )
        if self.frequency == ROWS and self.calendar_features:
            # A calendar input of a forecast day needs that day's date, which rows cannot invent.
            raise ValueError("data.calendar_features needs a calendar, but data.frequency=rows has none (the dates "
                             "of future steps are unknown); set data.frequency=auto or B, or calendar_features=false")
        return self


    @property
    def panel_id_column(self) -> str | None:
        """The column naming each series, or None for single-series data."""
        if self.id_column is not None:
            return self.id_column
        if self.series_columns is not None or (self.path is None and self.source == "synthetic_panel"):
            return PANEL_ID_COLUMN
        return None


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
    folds: int = Field(
        1, ge=1, description="Backtest folds: the period before the test ends in this many consecutive validation "
        "blocks (val_fraction of it each); fold j trains on everything before block j (expanding window). The "
        "search runs on the last fold; the finals train each architecture's chosen configuration on every fold "
        "and selection ranks by the mean over folds. 1: one validation block.",
    )
    fold: int | Literal["refit"] | None = Field(
        None, description="Which rows these windows train and validate on: a fold 1..folds (null: the last, the "
        "run's own split), or refit: train on every row before the test split (its validation block is then "
        "in-sample). The sweep sets it for its folds and its final refit; set it to reproduce one fold.",
    )

    @model_validator(mode="after")
    def _fold_within_folds(self) -> SplitConfig:
        if isinstance(self.fold, int) and not 1 <= self.fold <= self.folds:
            raise ValueError(f"split.fold={self.fold} is not one of the {self.folds} fold(s) (1..split.folds)")
        return self
