"""Array types handed from the data pipeline to models, sweeps and reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


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

    def __post_init__(self) -> None:
        if self.future is None:
            self.future = np.zeros((*self.y.shape[:2], 0), np.float32)

    def __len__(self) -> int:
        return int(self.x.shape[0])


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
