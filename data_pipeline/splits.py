"""Where the splits fall: every train / validation / test row range is computed here, for one series (by
fractions of its rows, or at its test file) and for a panel (one calendar cut for all series).

Backtest folds (`split.folds`, `split.fold`) only move the validation block back in time, whole blocks at a time,
and shorten training to what lies before it; the final refit (`split.fold: refit`) trains on every row before the
test split. The test split never moves, so every fold and the refit forecast the same test windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

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
    test = SplitRange(n_trainval, n_rows, test_floor)
    if split.fold == "refit":  # everything before the test split trains; the last block is only a (seen) check
        return {"train": SplitRange(0, n_trainval, 0), "val": SplitRange(n_train, n_trainval, 0), "test": test}
    back = 0 if split.fold is None else split.folds - split.fold  # whole validation blocks before the last one
    val_start = n_train - back * n_val
    if split.folds > 1 and n_train - (split.folds - 1) * n_val < 1:
        raise DataError(f"split.folds={split.folds}: {split.folds} validation blocks of {n_val} rows leave no "
                        f"training rows for the first fold (of {n_trainval} rows before the test split); lower "
                        "split.folds or split.val_fraction")
    return {
        # Training windows never look outside the training period, so nothing later leaks into fitting.
        "train": SplitRange(0, val_start, 0),
        "val": SplitRange(val_start, val_start + n_val, 0),
        "test": test,
    }


def fold_split(split: SplitConfig, fold: int | str | None) -> SplitConfig:
    """The split of one backtest fold (1..split.folds; None: the last, the run's own) or of the refit ("refit")."""
    return SplitConfig.model_validate({**split.model_dump(), "fold": fold})


class CalendarCut(NamedTuple):
    """A panel's split dates, the same for every series: validation is [val_start, val_stop), test from
    test_start (val_stop == test_start except for an earlier backtest fold)."""

    val_start: pd.Timestamp
    test_start: pd.Timestamp
    val_stop: pd.Timestamp


def training_rows(n_rows: int, has_test_file: bool, split: SplitConfig | None) -> int:
    """Rows of the training split (the rows cleaning statistics may learn from): all of the training file when
    no split is given (a forecast from new data), else what `split_ranges` makes the training split."""
    if split is None:
        return n_rows
    n_total = n_rows + (1 if has_test_file else 0)  # the test rows' count does not change the training split
    return split_ranges(n_total, n_rows if has_test_file else None, split)["train"].stop


def calendar_cut(train_dates: dict[str, pd.DatetimeIndex], test_dates: dict[str, pd.DatetimeIndex] | None,
                 split: SplitConfig) -> CalendarCut:
    """The split dates, the same for every series: the single-series split rule applied to the dates any series
    has."""
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
    return CalendarCut(union[r["val"].start], union[r["test"].start], union[r["val"].stop])


def series_ranges(index: pd.DatetimeIndex, n_train_file: int | None, cut: CalendarCut,
                  split: SplitConfig) -> dict[str, SplitRange]:
    """One panel series' row ranges (`index`: its dates, `n_train_file`: its training file's rows when a test file
    follows) at the panel's calendar cut."""
    val_start, test_start, val_stop = (int(index.searchsorted(c)) for c in cut)
    test_floor = 0 if (n_train_file is None or split.test_inputs_from_train) else n_train_file
    train_stop = test_start if split.fold == "refit" else val_start
    return {"train": SplitRange(0, train_stop, 0), "val": SplitRange(val_start, val_stop, 0),
            "test": SplitRange(test_start, len(index), test_floor)}
