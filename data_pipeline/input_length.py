"""A shorter input window cut from windows built at a longer one: how trials with different input lengths share
exactly the same target windows (the same forecast origins, validation and test days)."""

from __future__ import annotations

import dataclasses

import numpy as np

from data_pipeline.errors import DataError
from data_pipeline.types import SplitWindows, WindowedData


def with_input_length(data: WindowedData, n_inputs: int | None) -> WindowedData:
    """`data` with each window's inputs cut to its last `n_inputs` steps (None: unchanged). Targets, origins,
    known-future inputs and masks are untouched, so every split keeps the same windows in the same order."""
    if n_inputs is None or n_inputs == data.n_inputs:
        return data
    if not 0 < n_inputs <= data.n_inputs:
        raise DataError(f"input length {n_inputs} does not fit the windows, built with window.input="
                        f"{data.n_inputs}; an input length is between 1 and window.input")

    def cut(split: SplitWindows) -> SplitWindows:
        return dataclasses.replace(split, x=np.ascontiguousarray(split.x[:, -n_inputs:]))

    return dataclasses.replace(data, train=cut(data.train), val=cut(data.val), test=cut(data.test),
                               n_inputs=n_inputs)
