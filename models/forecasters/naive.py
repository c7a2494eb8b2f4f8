"""The naive baselines every ranking starts from: persistence, seasonal naive, ridge and climatology.

Persistence and seasonal naive have nothing to fit (a refit would forecast exactly as they do); ridge chooses its
penalty, and whether to read the user's covariates, on the span's validation block and keeps both for the refit
(whose validation rows are training rows);
climatology averages each calendar bucket (day of year, week, month) over the span's training targets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from torch import nn

from data_pipeline import SplitWindows, WindowedData
from data_pipeline.calendars import CALENDAR_COLUMNS
from data_pipeline.config import ROWS
from models import build, count_parameters, fit_ridge, predict
from models.baselines import (
    climatology_applies,
    climatology_forecast,
    default_season,
    driver_columns,
    fit_climatology,
)
from models.forecasters.base import (
    Capabilities,
    Context,
    Description,
    Fitted,
    Forecast,
    Forecaster,
    FutureInputs,
    NotApplicable,
    Span,
)

BASELINE = "baseline"  # the ranking's kind of every naive entry
FAMILY = "naive"


class FittedModule(Fitted):
    """A baseline that is a torch module (persistence, seasonal naive, ridge) fitted on one span."""

    def __init__(self, module: nn.Module, data: WindowedData, description: Description,
                 recorded_val_mse: float | None = None):
        self.module, self.data, self.description = module, data, description
        self.recorded_val_mse = None if recorded_val_mse is None else [recorded_val_mse]
        self.notes = []

    def predict(self, split: str) -> Forecast:
        windows = self.data.split(split)
        return Forecast(predict(self.module, windows.x, future=windows.future, series=windows.series))

    def predict_altered(self, split: str, alter: Callable[[SplitWindows, list[str]], SplitWindows]) -> Forecast:
        windows = alter(self.data.split(split), self.data.feature_names)
        return Forecast(predict(self.module, windows.x, future=windows.future, series=windows.series))

    def describe(self) -> Description:
        return self.description

    def forecast_future(self, inputs: FutureInputs) -> np.ndarray:
        x, future = inputs.in_units(self.data.scaler, len(self.data.summary.get("future_names") or []))
        return predict(self.module, x, future=future, series=inputs.series)


def module_params(module: nn.Module) -> int:
    return count_parameters(module, trainable_only=False)


class Persistence(Forecaster):
    """Every step of the horizon repeats the last observed value."""

    name = "persistence"
    capabilities = Capabilities(refits=False, reference=True)

    def fit(self, span: Span) -> Fitted:
        module = build(self.name, **span.data.shapes)
        return FittedModule(module, span.data, Description(self.name, BASELINE, FAMILY, params=module_params(module)))


# Forecast skill is measured against persistence: 1 - MSE / MSE(persistence), the ranking's skill column.
SKILL_BASE = Persistence.name


class SeasonalNaive(Forecaster):
    """Each step repeats the value one season earlier (`baselines.season`, else the calendar's default)."""

    name = "seasonal_naive"
    capabilities = Capabilities(refits=False, reference=True)

    def __init__(self, season: int | None):
        self.season = season

    def fit(self, span: Span) -> Fitted:
        data = span.data
        frequency = str(data.summary.get("frequency", "D"))
        season = self.season or default_season(frequency)
        if season is None:
            raise NotApplicable(f"Seasonal naive skipped: no default season for frequency {frequency!r}; set "
                                "baselines.season.")
        if season > data.n_inputs:
            raise NotApplicable(f"Seasonal naive skipped: its season ({season} steps) is longer than the input "
                                f"window ({data.n_inputs}); set a longer window.input or baselines.season.")
        module = build(self.name, **data.shapes, season=season)
        return FittedModule(module, data, Description(self.name, BASELINE, FAMILY, {"season": season},
                                                      module_params(module)))


class Ridge(Forecaster):
    """Closed-form ridge from the input window (and the horizon's known-future values) to the horizon's changes;
    the penalty, and whether to read the user's covariates, chosen on validation."""

    name = "ridge"
    capabilities = Capabilities(past_covariates=True, known_future_covariates=True, reference=True)

    def __init__(self) -> None:
        # chosen on the run's own validation block, kept for the refit
        self.alpha: float | None = None
        self.reads_drivers: bool | None = None

    def fit(self, span: Span) -> Fitted:
        data = span.data
        module = build(self.name, **data.shapes)
        keep = span.is_refit and self.alpha is not None
        drivers = user_driver_columns(data)
        chosen = fit_ridge(module, data.train, data.val, alphas=[self.alpha] if keep else None,
                           drivers=drivers, reads_drivers=self.reads_drivers if keep else None)
        if span.own:
            self.alpha, self.reads_drivers = chosen["alpha"], chosen["reads_drivers"]
            # what the report's covariates column says: validation may have left the user's columns out (ridge
            # still reads the calendar, its own known-future input)
            self.capabilities = replace(Ridge.capabilities, known_future_covariates=self.reads_drivers or not drivers)
        # its closed-form weights live in buffers: count them (not the penalty)
        params = module_params(module) + sum(b.numel() for n, b in module.named_buffers() if n != "alpha")
        return FittedModule(module, data, Description(self.name, BASELINE, FAMILY, {"alpha": chosen["alpha"]},
                                                      params), recorded_val_mse=chosen["val_mse"])


def user_driver_columns(data: WindowedData) -> list[int]:
    """Ridge's design columns holding the user's covariates (data.known_future, a panel's static features): past
    values in the window and values over the horizon. The calendar is not among them: it is ridge's own."""
    names = [n for n in data.future_names if n not in CALENDAR_COLUMNS]
    return driver_columns(data.n_features, data.n_inputs, data.n_outputs, data.n_future,
                          [data.feature_names.index(n) for n in names], [data.future_names.index(n) for n in names])


class Climatology(Forecaster):
    """The mean of the same calendar bucket (day of year, week, month) over the training targets."""

    name = "climatology"
    capabilities = Capabilities(panels=False)

    def fit(self, span: Span) -> Fitted:
        data = span.data
        if data.is_panel:  # the training days of many series do not make one calendar of means
            raise NotApplicable(f"Climatology skipped: it is a single-series baseline (this data holds "
                                f"{data.n_series} series).")
        frequency = str(data.summary.get("frequency", "D"))
        if frequency == ROWS:
            why_not = "data.frequency=rows has no calendar to average the same day of the year over"
        else:
            train_dates, _ = data.train.days(frequency, data.n_targets)
            why_not = climatology_applies(train_dates, frequency)
        if why_not:
            raise NotApplicable(f"Climatology skipped: {why_not}.")
        # fitted on the training days some window holds as a target, real values only
        days, values, observed = data.train.target_days(frequency)
        return FittedClimatology(fit_climatology(days, values, frequency, observed), data)


class FittedClimatology(Fitted):
    def __init__(self, clim: Any, data: WindowedData):
        self.clim, self.data, self.notes = clim, data, []

    def predict(self, split: str) -> Forecast:
        windows = self.data.split(split)
        frequency = str(self.data.summary.get("frequency", "D"))
        return Forecast(climatology_forecast(self.clim, windows.target_dates(frequency)).reshape(windows.y.shape))

    def describe(self) -> Description:
        return Description(Climatology.name, BASELINE, FAMILY, params=int(sum(v.size for v in self.clim.means.values())))

    def forecast_future(self, inputs: FutureInputs) -> np.ndarray:
        if not inputs.dates or inputs.dates[0] is None:
            raise NotApplicable("climatology needs the forecast's dates (data.frequency=rows has none)")
        return np.stack([climatology_forecast(self.clim, d) for d in inputs.dates])


def naive_entries(ctx: Context) -> list[Forecaster]:
    season = ctx.config.baselines().season
    return [Persistence(), Ridge(), SeasonalNaive(season), Climatology()]
