"""One series' windows: train-only scaling and sliding windows over the row ranges `data_pipeline.splits` gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from data_pipeline.calendars import CALENDAR_COLUMNS
from data_pipeline.config import DataConfig, SplitConfig, WindowConfig
from data_pipeline.errors import DataError
from data_pipeline.series import SeriesBundle
from data_pipeline.splits import SPLITS, SplitRange, split_ranges
from data_pipeline.types import Scaler, SplitWindows, WindowedData


def fit_scaler(values: np.ndarray, kind: str, names: list[str]) -> Scaler:
    if kind == "standard":
        center, scale = values.mean(axis=0), values.std(axis=0)
    else:
        center = np.median(values, axis=0)
        scale = np.percentile(values, 75, axis=0) - np.percentile(values, 25, axis=0)
    # A constant feature (or a zero-inflated one under IQR) would divide by zero; leave it unscaled.
    scale = np.where(np.isfinite(scale) & (scale > 1e-12), scale, 1.0)
    return Scaler(
        kind, list(names), np.asarray(center, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    )


def make_windows(
    scaled: np.ndarray, dates: pd.DatetimeIndex, origins: np.ndarray, n_in: int, n_out: int, n_targets: int,
    future_cols: list[int] | None = None,
    observed: np.ndarray | None = None,
) -> SplitWindows:
    """`future_cols`: the columns (calendar ones only) whose forecast-day values become `future`."""
    n_feat = scaled.shape[1]
    cols = list(future_cols or [])
    if len(origins) == 0:
        return SplitWindows(
            np.zeros((0, n_in, n_feat), np.float32),
            np.zeros((0, n_out, n_targets), np.float32),
            np.array([], dtype="datetime64[ns]"),
            np.zeros((0, n_out, len(cols)), np.float32),
        )
    view = np.lib.stride_tricks.sliding_window_view(scaled, n_in, axis=0)  # (n - n_in + 1, f, n_in)
    x = view[origins - n_in].transpose(0, 2, 1)
    yview = np.lib.stride_tricks.sliding_window_view(scaled[:, :n_targets], n_out, axis=0)
    y = yview[origins].transpose(0, 2, 1)
    mask = None
    if observed is not None:
        mview = np.lib.stride_tricks.sliding_window_view(observed[:, :n_targets], n_out, axis=0)
        mask = np.ascontiguousarray(mview[origins].transpose(0, 2, 1), dtype=bool)
    # the same forecast days as y, but the calendar columns: known in advance for any date
    fview = np.lib.stride_tricks.sliding_window_view(scaled[:, cols], n_out, axis=0)
    future = fview[origins].transpose(0, 2, 1)
    return SplitWindows(
        np.ascontiguousarray(x, dtype=np.float32),
        np.ascontiguousarray(y, dtype=np.float32),
        dates.to_numpy().astype("datetime64[ns]")[origins],
        np.ascontiguousarray(future, dtype=np.float32),
        mask,
    )


def _zero_window_message(name: str, r: SplitRange, window: WindowConfig, bundle: SeriesBundle) -> str:
    rows = r.stop - r.start
    need = window.input + window.output
    inside = name == "train" or r.input_floor == r.start
    req = (
        f"needs at least input+output = {need} rows"
        if inside
        else f"needs at least output = {window.output} rows (inputs come from earlier data)"
    )
    hint = {
        "train": "lower split.val_fraction/split.test_fraction/split.folds",
        "val": "raise split.val_fraction",
        "test": "raise split.test_fraction"
        if bundle.test is None
        else "use a longer test file or set split.test_inputs_from_train=true",
    }[name]
    return (
        f"{bundle.summary['source']}: the {name} split has {rows} rows but {req} "
        f"(window.input={window.input}, window.output={window.output}); {hint}, "
        "shorten window.input/window.output, or use a longer series"
    )


def target_rows_unobserved(bundle: SeriesBundle, start: int, stop: int) -> int:
    """Unobserved target cells among rows [start, stop) (each day counted once, however many windows hold it)."""
    if bundle.unobserved is None:
        return 0
    return int(bundle.unobserved.iloc[start:stop][bundle.target_names].to_numpy().sum())


def rows_needed(window: WindowConfig, split: SplitConfig, limit: int = 1_000_000) -> int | None:
    """The fewest rows (one series, no test file) that give every split at least one window."""
    for n in range(window.input + window.output, limit):
        try:
            ranges = split_ranges(n, None, split)
        except DataError:
            continue  # too few rows for the folds' validation blocks
        if all(len(r.origins(window.input, window.output)) for r in ranges.values()):
            return n
    return None


def build_from_bundle(
    bundle: SeriesBundle, data: DataConfig, window: WindowConfig, split: SplitConfig
) -> WindowedData:
    frame = bundle.frame
    n_train_file = None if bundle.test is None else len(bundle.train)
    ranges = split_ranges(len(frame), n_train_file, split)
    if (
        bundle.test is not None
        and split.test_inputs_from_train
        and not bundle.summary.get("test_contiguous", True)
    ):
        raise DataError(
            f"{bundle.summary['test_source']}: split.test_inputs_from_train needs the test file to start the day "
            f"after the training data ends ({frame.index[n_train_file - 1].date()}); it starts "
            f"{bundle.test.index[0].date()}"
        )
    try:
        out, scaler, split_summary, masked = window_series(bundle, ranges, data, window)
    except DataError as err:
        need = None if bundle.test is not None else rows_needed(window, split)
        if need is None or len(frame) >= need:
            raise
        raise DataError(f"{err} (the series has {len(frame)} rows; these windows and splits need at least "
                        f"{need})") from err
    summary = dict(bundle.summary)
    summary["splits"] = split_summary
    summary["windows"] = {n: len(out[n]) for n in SPLITS}
    # Target cells that were missing or flagged in the source: repaired as inputs, left out of every score.
    summary["masked_target_cells"] = masked
    summary["scaler"] = data.scaler
    summary["window"] = {"input": window.input, "output": window.output}
    summary["future_names"] = future_names(data)
    summary["known_future"] = list(data.known_future or [])
    return WindowedData(
        out["train"],
        out["val"],
        out["test"],
        list(bundle.feature_names),
        list(bundle.target_names),
        scaler,
        window.input,
        window.output,
        summary,
        future_names(data),
    )


def future_names(data: DataConfig, static_names: list[str] | None = None) -> list[str]:
    """Known-future inputs, read on the forecast days: the user's known-future columns (data.known_future, values
    supplied for every future step), a panel's encoded static features (the same on every step), then the
    calendar columns (functions of the date alone)."""
    return (list(data.known_future or []) + list(static_names or [])
            + (list(CALENDAR_COLUMNS) if data.calendar_features else []))


def window_series(bundle: SeriesBundle, ranges: dict[str, SplitRange], data: DataConfig, window: WindowConfig,
                  static_scaling: dict[str, tuple[float, float]] | None = None,
                  ) -> tuple[dict[str, SplitWindows], Scaler, dict[str, Any], dict[str, int]]:
    """One series' windows per split, scaled by a scaler fitted on its training rows only (a panel's static
    features: by `static_scaling`, over the series, since within one series they are constant); with the split
    summary and the masked (unscored) target cells of val and test. Raises DataError if a split has no window."""
    frame = bundle.frame
    values = frame.to_numpy(dtype=np.float64)
    scaler = fit_scaler(values[: ranges["train"].stop], data.scaler, bundle.feature_names)
    for name, (center, scale) in (static_scaling or {}).items():
        j = bundle.feature_names.index(name)
        scaler.center[j], scaler.scale[j] = center, scale
    scaled = scaler.transform(values)
    n_t = len(bundle.target_names)
    observed = None if bundle.unobserved is None else ~bundle.unobserved.to_numpy(dtype=bool)
    # Known-future inputs (the user's known-future columns, then the calendar), read on the forecast days.
    future_cols = [bundle.feature_names.index(c) for c in future_names(data, bundle.static_names)]
    # the models read them as the last n_future features of x (models/blocks.py, WindowNorm)
    n_feat = len(bundle.feature_names)
    assert future_cols == list(range(n_feat - len(future_cols), n_feat)), "known-future columns must come last"
    out: dict[str, SplitWindows] = {}
    split_summary: dict[str, Any] = {}
    first_target: dict[str, int] = {}
    for name in SPLITS:
        r = ranges[name]
        if r.stop <= r.start:
            raise DataError(_zero_window_message(name, r, window, bundle))
        origins = r.origins(window.input, window.output)
        if len(origins) == 0:
            raise DataError(_zero_window_message(name, r, window, bundle))
        out[name] = make_windows(scaled, frame.index, origins, window.input, window.output, n_t, future_cols,
                                 observed)
        first_target[name] = origins[0]  # rows before it are inputs only: never scored
        split_summary[name] = {
            "start": str(frame.index[r.start].date()),
            "end": str(frame.index[r.stop - 1].date()),
            "rows": int(r.stop - r.start),
            "first_input": str(frame.index[origins[0] - window.input].date()),
        }
    masked = {n: int(target_rows_unobserved(bundle, int(first_target[n]), ranges[n].stop)) for n in ("val", "test")}
    return out, scaler, split_summary, masked


