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
    """Per-feature affine scaling fitted on the training split only: scaled = (raw - center) / scale."""

    kind: str
    feature_names: list[str]
    center: np.ndarray  # (n_features,) float64
    scale: np.ndarray  # (n_features,) float64

    def transform(self, raw: np.ndarray) -> np.ndarray:
        return ((raw - self.center) / self.scale).astype(np.float32)

    def inverse(self, scaled: np.ndarray, columns: slice | list[int] | None = None) -> np.ndarray:
        """Back to original units; `columns` selects which features the last axis holds (default: all)."""
        idx = slice(None) if columns is None else columns
        return np.asarray(scaled, dtype=np.float64) * self.scale[idx] + self.center[idx]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "feature_names": list(self.feature_names),
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        return cls(d["kind"], list(d["feature_names"]), np.asarray(d["center"]), np.asarray(d["scale"]))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Scaler:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def matches(self, other: Scaler) -> bool:
        """Same features and (to float tolerance) the same statistics: the same training data behind both."""
        return (
            self.feature_names == other.feature_names
            and np.allclose(self.center, other.center)
            and np.allclose(self.scale, other.scale)
        )


@dataclass
class SplitWindows:
    """All windows of one split. x: (n, n_inputs, n_features), y: (n, n_outputs, n_targets), both scaled float32.

    Targets are always the first n_targets features, so x[:, -1, :n_targets] is the last observed target value.
    `origin` holds each window's forecast origin: the date of its first forecast day.
    `future`: (n, n_outputs, n_future) known-future inputs of the forecast days, scaled like x: the calendar
    values of each target day (functions of its date alone, never of a target); n_future = 0 when off.
    Further per-window arrays (a series id, say) belong beside it, indexed by window like x, y and origin.
    """

    x: np.ndarray
    y: np.ndarray
    origin: np.ndarray  # datetime64[ns], shape (n,)
    future: np.ndarray | None = None  # None -> (n, n_outputs, 0)
    # Like y, bool: True where the target was observed as it stands and is scored; False where it was missing
    # or flagged implausible (repaired for use as an input, never scored). None: every cell is scored.
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.future is None:
            self.future = np.zeros((*self.y.shape[:2], 0), np.float32)

    def __len__(self) -> int:
        return int(self.x.shape[0])

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
    def shapes(self) -> dict[str, int]:
        """The shape arguments of `models.build`, as this data dictates them."""
        return dict(n_features=self.n_features, n_targets=self.n_targets, n_inputs=self.n_inputs,
                    n_outputs=self.n_outputs, n_future=self.n_future)

    def split(self, name: str) -> SplitWindows:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def targets_to_original(self, y_scaled: np.ndarray) -> np.ndarray:
        """Scaled targets (..., n_targets) to original units."""
        return self.scaler.inverse(y_scaled, slice(0, self.n_targets))
