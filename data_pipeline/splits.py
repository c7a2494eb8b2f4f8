"""Where the splits fall: every train / validation / test row range is computed here, for one series (by
fractions of its rows, or at its test file) and for a panel (one calendar cut for all series)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_pipeline.config import SplitConfig
from data_pipeline.errors import DataError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitRange:
    """Rows [start, stop) hold the split's target days; inputs may start at `input_floor` at the earliest."""

    start: int
    stop: int
    input_floor: int

    def origins(self, n_inputs: int, n_outputs: int) -> np.ndarray:
        first = max(self.start, self.input_floor + n_inputs)
        return np.arange(first, self.stop - n_outputs + 1)


def split_ranges(n_rows: int, n_train_file: int | None, split: SplitConfig) -> dict[str, SplitRange]:
    """Contiguous row ranges. `n_train_file` is the training file's length when a test file follows it."""
    if n_train_file is None:
        n_test = int(round(n_rows * split.test_fraction))
        n_trainval = n_rows - n_test
    else:
        n_trainval = n_train_file
        n_test = n_rows - n_train_file
    n_val = int(round(n_trainval * split.val_fraction))
    n_train = n_trainval - n_val
    test_floor = 0 if (n_train_file is None or split.test_inputs_from_train) else n_trainval
    return {
        # Training windows never look outside the training period, so nothing later leaks into fitting.
        "train": SplitRange(0, n_train, 0),
        "val": SplitRange(n_train, n_trainval, 0),
        "test": SplitRange(n_trainval, n_rows, test_floor),
    }


def training_rows(n_rows: int, has_test_file: bool, split: SplitConfig | None) -> int:
    """Rows of the training split (the rows cleaning statistics may learn from): all of the training file when
    no split is given (a forecast from new data), else what `split_ranges` makes the training split."""
    if split is None:
        return n_rows
    n_total = n_rows + (1 if has_test_file else 0)  # the test rows' count does not change the training split
    return split_ranges(n_total, n_rows if has_test_file else None, split)["train"].stop


def calendar_cut(train_dates: dict[str, pd.DatetimeIndex], test_dates: dict[str, pd.DatetimeIndex] | None,
                 split: SplitConfig) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(first validation date, first test date), the same for every series: the single-series split rule
    applied to the dates any series has."""
    union = pd.DatetimeIndex(sorted(set().union(*(set(d) for d in train_dates.values()))))
    n_train_file = None
    if test_dates is not None:
        test_union = pd.DatetimeIndex(sorted(set().union(*(set(d) for d in test_dates.values())) - set(union)))
        n_train_file = len(union)
        union = union.append(test_union)
    r = split_ranges(len(union), n_train_file, split)
    if r["train"].stop >= len(union) or r["val"].stop >= len(union) or r["train"].stop < 1:
        raise DataError(f"the series together span only {len(union)} dates: too few to split into train, "
                        "validation and test; use longer series")
    return union[r["train"].stop], union[r["val"].stop]


def series_ranges(index: pd.DatetimeIndex, n_train_file: int | None, cut: tuple[pd.Timestamp, pd.Timestamp],
                  split: SplitConfig) -> dict[str, SplitRange]:
    """One panel series' row ranges (`index`: its dates, `n_train_file`: its training file's rows when a test file
    follows) at the panel's calendar cut."""
    val_start, test_start = (int(index.searchsorted(c)) for c in cut)
    test_floor = 0 if (n_train_file is None or split.test_inputs_from_train) else n_train_file
    return {"train": SplitRange(0, val_start, 0), "val": SplitRange(val_start, test_start, 0),
            "test": SplitRange(test_start, len(index), test_floor)}
