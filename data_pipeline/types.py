"""Array types handed from the data pipeline to models, sweeps and reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_pipeline.config import ROWS


@dataclass(frozen=True)
class Scaler:
    """Per-feature affine scaling fitted on the training split only: scaled = (raw - center) / scale.

    A panel (many series) has one row of statistics per series, each fitted on that series' training part:
    center and scale are (n_series, n_features), `series_names` names the rows, and every transform or inverse
    needs the series id of each window (an index into `series_names`)."""

    kind: str
    feature_names: list[str]
    center: np.ndarray  # (n_features,) float64; a panel: (n_series, n_features)
    scale: np.ndarray  # like center
    series_names: list[str] | None = None  # a panel's series, one per row of center/scale

    @property
    def per_series(self) -> bool:
        return np.ndim(self.center) == 2

    def _stats(self, idx: slice | list[int], series: np.ndarray | None, ndim: int) -> tuple[np.ndarray, np.ndarray]:
        """center and scale broadcastable against an array of `ndim` dims whose first axis is the window."""
        if not self.per_series:
            return self.center[idx], self.scale[idx]
        if series is None:
            raise ValueError("this scaler holds one set of statistics per series (a panel): pass each window's "
                             "series id")
        ids = np.asarray(series, dtype=np.int64)
        shape = (len(ids),) + (1,) * (ndim - 2) + (-1,)
        return self.center[ids][:, idx].reshape(shape), self.scale[ids][:, idx].reshape(shape)

    def transform(self, raw: np.ndarray, series: np.ndarray | None = None,
                  columns: slice | list[int] | None = None) -> np.ndarray:
        """Original units to scaled ones; `columns`, `series` as in `inverse`."""
        center, scale = self._stats(slice(None) if columns is None else columns, series, np.ndim(raw))
        return ((raw - center) / scale).astype(np.float32)

    def inverse(self, scaled: np.ndarray, columns: slice | list[int] | None = None,
                series: np.ndarray | None = None) -> np.ndarray:
        """Back to original units; `columns` selects which features the last axis holds (default: all);
        `series`: each window's (first axis) series id, for a panel's scaler."""
        idx = slice(None) if columns is None else columns
        center, scale = self._stats(idx, series, np.ndim(scaled))
        return np.asarray(scaled, dtype=np.float64) * scale + center

    def for_series(self, i: int) -> Scaler:
        """One series' own scaler (a single-series scaler is its own)."""
        if not self.per_series:
            return self
        return Scaler(self.kind, list(self.feature_names), np.asarray(self.center[i]), np.asarray(self.scale[i]))

    def to_dict(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "feature_names": list(self.feature_names),
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
        }
        if self.series_names is not None:
            out["series_names"] = list(self.series_names)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        names = d.get("series_names")
        return cls(d["kind"], list(d["feature_names"]), np.asarray(d["center"]), np.asarray(d["scale"]),
                   None if names is None else list(names))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Scaler:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def matches(self, other: Scaler) -> bool:
        """Same features and (to float tolerance) the same statistics: the same training data behind both."""
        return (
            self.feature_names == other.feature_names
            and self.series_names == other.series_names
            and np.shape(self.center) == np.shape(other.center)
            and np.allclose(self.center, other.center)
            and np.allclose(self.scale, other.scale)
        )


def score_weights(shape: tuple[int, ...], mask: np.ndarray | None, series: np.ndarray | None) -> np.ndarray | None:
    """Weight of each target cell (`shape`: like y) in a split's scores. One series: the mask (1 scored, 0 not),
    or None when every cell is scored: plain means, exactly as before panels existed. Several series: each
    series' scored cells share an equal total (1 / number of series), so a score is the mean over series of each
    series' own score, and a long series weighs no more than a short one."""
    w = None if mask is None else np.asarray(mask, dtype=np.float64)
    if series is None or len(np.unique(series)) < 2:
        return w
    w = np.ones(shape) if w is None else w
    ids = np.asarray(series, dtype=np.int64)
    totals = np.bincount(ids, weights=w.reshape(len(w), -1).sum(1))
    present = np.count_nonzero(totals)
    per_series = np.where(totals > 0, 1.0 / np.where(totals > 0, totals, 1.0), 0.0) / present
    return w * per_series[ids].reshape((-1,) + (1,) * (w.ndim - 1))


@dataclass
class SplitWindows:
    """All windows of one split. x: (n, n_inputs, n_features), y: (n, n_outputs, n_targets), both scaled float32.

    Targets are always the first n_targets features, so x[:, -1, :n_targets] is the last observed target value.
    `origin` holds each window's forecast origin: the date of its first forecast day.
    `future`: (n, n_outputs, n_future) known-future inputs of the forecast days, scaled like x: the calendar
    values of each target day (functions of its date alone, never of a target); n_future = 0 when off.
    `series`: (n,) int, each window's series (an index into WindowedData.series_names); None: one series.
    Every per-window array is indexed by window like x, y and origin, so `take` (or any slice of all of them)
    keeps each window's series id with it.
    """

    x: np.ndarray
    y: np.ndarray
    origin: np.ndarray  # datetime64[ns], shape (n,)
    future: np.ndarray | None = None  # None -> (n, n_outputs, 0)
    # Like y, bool: True where the target was observed as it stands and is scored; False where it was missing
    # or flagged implausible (repaired for use as an input, never scored). None: every cell is scored.
    mask: np.ndarray | None = None
    series: np.ndarray | None = None  # (n,) int32 series ids; None -> every window belongs to the one series

    def __post_init__(self) -> None:
        if self.future is None:
            self.future = np.zeros((*self.y.shape[:2], 0), np.float32)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, idx: np.ndarray | slice) -> SplitWindows:
        """The windows `idx` selects, with every per-window array (mask, series ids) kept in step."""
        return SplitWindows(self.x[idx], self.y[idx], self.origin[idx], self.future[idx],
                            None if self.mask is None else self.mask[idx],
                            None if self.series is None else self.series[idx])

    def of_series(self, i: int) -> SplitWindows:
        """The windows of series `i` (all of them for single-series data)."""
        return self if self.series is None else self.take(np.flatnonzero(self.series == i))

    def score_weights(self) -> np.ndarray | None:
        """Weight of each target cell (like y) in the split's scores: see `score_weights`."""
        return score_weights(self.y.shape, self.mask, self.series)

    def target_dates(self, frequency: str) -> pd.DatetimeIndex:
        """The date of every forecast step, window by window: shape (n * n_outputs,)."""
        step = _calendar_step(frequency)
        origins = pd.DatetimeIndex(self.origin)
        return pd.DatetimeIndex(np.stack([(origins + h * step).to_numpy() for h in range(self.y.shape[1])], 1)
                                .reshape(-1))

    def days(self, frequency: str, n_targets: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """Every step the split's windows hold (inputs and targets), once each, with its target values: the
        split's own stretch of the series, recovered from its windows."""
        step = _calendar_step(frequency)
        origins = pd.DatetimeIndex(self.origin)
        n_in = self.x.shape[1]
        dates = [(origins + k * step).to_numpy() for k in range(-n_in, 0)]
        dates += [(origins + h * step).to_numpy() for h in range(self.y.shape[1])]
        values = np.concatenate([self.x[:, :, :n_targets], self.y], axis=1)  # (n, n_in + n_out, n_targets)
        flat_dates = np.stack(dates, 1).reshape(-1)
        flat_values = values.reshape(-1, values.shape[-1])
        unique, first = np.unique(flat_dates, return_index=True)
        return pd.DatetimeIndex(unique), flat_values[first]


    def target_days(self, frequency: str) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
        """Every step that is some window's target, once each: (dates, values (n_days, n_targets), observed (like
        values, False where the target was missing or repaired)). What a baseline may be fitted on: the split's
        days whose reality the windows record (input-only days carry no mask)."""
        step = _calendar_step(frequency)
        origins = pd.DatetimeIndex(self.origin)
        n_out = self.y.shape[1]
        dates = np.stack([(origins + h * step).to_numpy() for h in range(n_out)], 1).reshape(-1)
        values = self.y.reshape(-1, self.y.shape[-1])
        observed = (np.ones(values.shape, bool) if self.mask is None
                    else np.asarray(self.mask, bool).reshape(values.shape))
        unique, first = np.unique(dates, return_index=True)
        return pd.DatetimeIndex(unique), values[first], observed[first]


def _calendar_step(frequency: str) -> pd.DateOffset:
    if frequency == ROWS:
        # Rows are steps without a calendar: a step's date is only known where a row holds it.
        raise ValueError("frequency 'rows' has no calendar: the dates of steps after a window's origin cannot be "
                         "computed from it")
    return pd.tseries.frequencies.to_offset(frequency)


@dataclass
class WindowedData:
    train: SplitWindows
    val: SplitWindows
    test: SplitWindows
    feature_names: list[str]  # targets first, then other inputs, then calendar features
    target_names: list[str]
    scaler: Scaler
    n_inputs: int
    n_outputs: int
    summary: dict[str, Any] = field(
        default_factory=dict
    )  # human/JSON summary: rows, dates, gaps, outliers, splits
    future_names: list[str] = field(default_factory=list)  # columns of each split's `future` (calendar ones)
    # A panel's series, in id order (each split's `series` indexes this list); empty: single-series data.
    series_names: list[str] = field(default_factory=list)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_targets(self) -> int:
        return len(self.target_names)

    @property
    def n_future(self) -> int:
        return len(self.future_names)

    @property
    def n_series(self) -> int:
        return max(1, len(self.series_names))

    @property
    def is_panel(self) -> bool:
        return bool(self.series_names)

    @property
    def shapes(self) -> dict[str, int]:
        """The shape arguments of `models.build`, as this data dictates them."""
        shapes = dict(n_features=self.n_features, n_targets=self.n_targets, n_inputs=self.n_inputs,
                      n_outputs=self.n_outputs, n_future=self.n_future)
        if self.is_panel:  # what a series embedding tells apart
            shapes["n_series"] = self.n_series
        return shapes

    def split(self, name: str) -> SplitWindows:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def targets_to_original(self, y_scaled: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """Scaled targets (..., n_targets) to original units; a panel needs each window's series id (`series`,
        matching y_scaled's first axis), since every series has its own scaler."""
        return self.scaler.inverse(y_scaled, slice(0, self.n_targets), series)
