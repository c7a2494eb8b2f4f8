"""The one interface every ranked entry implements: fit on a span of rows, forecast windows, describe itself.

A `Forecaster` is an entry of the ranking before it has seen data: its name, what it can do (`Capabilities`), and
`fit(span)`, which returns a `Fitted` forecaster for that span of rows (a backtest fold's training rows, the run's
own training rows, or every row before the test split for the final refit). A trained architecture "fits" by
loading the weights the sweep trained on that span; a baseline by fitting there; Chronos-2 zero-shot by loading its
weights. `Fitted.predict(split)` forecasts the windows of one split of the span's data in the span's scaled
units, `Fitted.describe()` says what it is, and `Fitted.forecast_future(inputs)` forecasts past the data's end.

The report (reports/evaluate.py) loops over entries and never asks which kind it holds: folds, refit, scoring,
calibration, the ranking, the figures and `reports.forecast` read only what this module defines.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_pipeline import Scaler, SplitWindows, WindowedData
from models.run_records import StoredConfig
from models.trial_record import TrialRecord

REFIT = "refit"  # the span of every row before the test split (report.final_refit)
QUANTILES = (0.1, 0.5, 0.9)  # the own quantiles the 10-90% coverage figure reads
DEFAULT_INTERVAL_LEVELS = (0.8, 0.95)


class NotApplicable(Exception):  # noqa: N818 (a verdict, not an error: the entry does not apply to this span)
    """The entry cannot forecast this span (too short a history, a season longer than the window, a panel for a
    single-series baseline...). Its message is the report's note, e.g. "Seasonal naive skipped: ..."."""


class EntryError(ValueError):
    """The entry should apply but its files are broken (an unreadable checkpoint): the message says what to do."""


@dataclass(frozen=True)
class Capabilities:
    """What an entry can do, declared by the entry (sktime's tags, neuralforecast's class attributes)."""

    multivariate: bool = True  # forecasts several targets jointly (False: one univariate fit per target)
    panels: bool = True  # forecasts a panel of many series
    own_intervals: bool = False  # forecasts its own quantiles (scored as CQR beside the conformal intervals)
    needs_gpu: bool = False
    past_covariates: bool = False  # reads non-target columns of the input window
    # reads values known ahead over the horizon: data.known_future, a panel's static features (they ride with
    # them, data_pipeline/statics.py) and the calendar
    known_future_covariates: bool = False
    # reads a panel's static features; None: as known_future_covariates (False for one that reads data.known_future
    # only, as ARIMA's regression: a static feature is constant within the series it fits)
    static_covariates: bool | None = None
    backtests: bool = True  # fitted and scored on every earlier backtest fold
    # a yardstick: every entry's test MSE is compared with it (the ranking's vs_<name>_ci columns, the headline,
    # a panel's per-series table)
    reference: bool = False
    refits: bool = True  # fitting on every row before the test split changes its forecasts

    @property
    def reads_static(self) -> bool:
        """Whether it reads a panel's static features (`static_covariates`, resolved)."""
        return self.known_future_covariates if self.static_covariates is None else self.static_covariates


@dataclass(frozen=True)
class Span:
    """A span of rows to fit on: `data`'s training split (its scaler saw only those rows), and which fold it is.

    `fold`: 1..k for the backtest folds (k, the last, is the run's own split), or REFIT. `splits`: the splits the
    report forecasts on this span (an earlier fold: its validation block; the refit: the test split)."""

    data: WindowedData
    fold: int | str
    splits: tuple[str, ...] = ("val", "test")
    own: bool = False  # the run's own split (the last fold): what the ranking's validation column scores

    @property
    def is_refit(self) -> bool:
        return self.fold == REFIT


@dataclass
class Forecast:
    """Forecasts of one split's windows, scaled in the span's units: point (windows, horizon, targets); own
    quantiles (.., len(quantile_levels)) where the entry has them; `seeds`: each seed's point forecast where the
    entry was trained with several (the first is `point`'s model, the search trial's seed)."""

    point: np.ndarray
    quantiles: np.ndarray | None = None
    quantile_levels: tuple[float, ...] | None = None
    seeds: list[np.ndarray] | None = None


@dataclass
class Description:
    """What a fitted entry is, for the ranking's columns and the report's tables."""

    name: str
    kind: str  # trained | ensemble | baseline | pretrained
    family: str  # what it belongs to: its architecture, "naive", "classical", "chronos2"
    hparams: dict[str, Any] = field(default_factory=dict)
    params: int = 0
    members: tuple[str, ...] = ()  # the entries (or seeds) it combines
    epochs: int | None = None
    train_time_s: float | None = None
    trial_id: str | None = None


@dataclass
class FutureInputs:
    """What a forecast past the data's end reads, in the run's scaled units: the last input window of each series
    (`x`), the known-future calendar values over the horizon (`future`), series ids (`series`, panels), the
    horizon's dates, and each series' whole history in original units, NaN where a target cell is masked (missing or
    repaired) (`histories()`: the classical models filter from the first row; `known_histories()`: its
    data.known_future columns, ARIMA's regressors)."""

    x: np.ndarray
    future: np.ndarray | None
    series: np.ndarray | None
    run_scaler: Scaler
    horizon: int
    dates: list[pd.DatetimeIndex | None] = field(default_factory=list)  # per series, the horizon's dates
    # reads each series' whole history, (rows, targets) in original units, and its source's name (for messages)
    load_histories: Callable[[], tuple[list[np.ndarray], list[str]]] | None = None
    # reads each series' data.known_future columns over the same rows, (rows, columns) in original units
    load_known_histories: Callable[[], list[np.ndarray]] | None = None

    def histories(self) -> tuple[list[np.ndarray], list[str]]:
        if self.load_histories is None:
            raise NotApplicable("the forecast was given no series histories")
        return self.load_histories()

    def known_histories(self) -> list[np.ndarray]:
        if self.load_known_histories is None:
            raise NotApplicable("the forecast was given no history of the known-future columns")
        return self.load_known_histories()

    def in_units(self, scaler: Scaler, n_future: int) -> tuple[np.ndarray, np.ndarray | None]:
        """`x` and `future` converted from the run's scaled units to `scaler`'s (a refit's own scaler)."""
        if scaler is self.run_scaler or scaler.to_dict() == self.run_scaler.to_dict():
            return self.x, self.future
        n_features = self.x.shape[-1]
        x = scaler.transform(self.run_scaler.inverse(self.x, None, self.series), self.series)
        if self.future is None or not n_future:
            return x.astype(np.float32), self.future
        cols = list(range(n_features - n_future, n_features))
        future = scaler.transform(self.run_scaler.inverse(self.future, cols, self.series), self.series, cols)
        return x.astype(np.float32), future.astype(np.float32)


class Fitted(ABC):
    """An entry fitted on one span."""

    # The validation MSE of each seed as recorded while training (a trained model's early-stopping score); None:
    # the report scores the validation forecasts itself.
    recorded_val_mse: list[float] | None = None
    notes: list[str]  # what the report should say about this fit (how long it took, what it skipped)
    refit_forecasts: bool = False  # its test forecasts come from fits on every row before the test split

    @abstractmethod
    def predict(self, split: str) -> Forecast:
        """Forecasts of the span data's `split` windows ("val" or "test")."""

    @abstractmethod
    def describe(self) -> Description: ...

    def forecast_future(self, inputs: FutureInputs) -> np.ndarray:
        """Point forecasts (series, horizon, targets) past the data's end, in this fit's span's scaled units."""
        raise NotApplicable(f"{self.describe().name} cannot forecast past the data's end")

    def predict_altered(self, split: str, alter: Callable[[SplitWindows, list[str]], SplitWindows]) -> Forecast:
        """Forecasts of `split`'s windows after `alter` (given them and their feature names) changed them, with
        the fit held: how permutation importance asks what an input buys. Entries that forecast from the windows'
        arrays implement it; the others say they cannot."""
        raise NotApplicable(f"{self.describe().name} does not forecast from altered windows")


class Forecaster(ABC):
    """A ranked entry before it has seen data."""

    name: str
    capabilities: Capabilities = Capabilities()

    @abstractmethod
    def fit(self, span: Span) -> Fitted | None:
        """Fit on `span` (None: nothing was fitted there, e.g. an unfinished phase; raise NotApplicable when the
        entry does not apply to this span's data)."""


@dataclass
class Context:
    """What entry sources read to list their entries: the run's config, directory, own windows and trials."""

    config: StoredConfig
    run_path: Path | None
    data: WindowedData
    interval_levels: tuple[float, ...] = DEFAULT_INTERVAL_LEVELS
    trials: list[TrialRecord] = field(default_factory=list)  # the search's trials
    finals: list[TrialRecord] = field(default_factory=list)  # seed repeats, earlier folds' and refit trials
    base_seed: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # what the sweep skipped on purpose, with its reason
    quiet: bool = True

    @property
    def n_folds(self) -> int:
        return self.config.folds


def cqr_quantile_levels(levels: tuple[float, ...]) -> list[float]:
    """The quantiles a quantile model must forecast for CQR at these levels: (1-level)/2 and (1+level)/2."""
    return sorted({round(q, 6) for level in levels for q in ((1 - level) / 2, (1 + level) / 2)})


def own_quantile_levels(interval_levels: tuple[float, ...]) -> tuple[float, ...]:
    """The quantiles an entry with its own intervals forecasts: those CQR needs at the report's interval levels,
    and the 10-90% band the coverage figure reads."""
    return tuple(sorted({*QUANTILES, *cqr_quantile_levels(interval_levels)}))
