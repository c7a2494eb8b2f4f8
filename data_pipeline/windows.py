"""Time splits, train-only scaling, sliding windows and the on-disk cache of the result."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc  # noqa: F401  (registers pa.ipc)

from data_pipeline.cleaning import CALENDAR_COLUMNS
from data_pipeline.config import DataConfig, SplitConfig, WindowConfig
from data_pipeline.errors import DataError
from data_pipeline.series import SeriesBundle, load_series, source_digest
from data_pipeline.types import Scaler, SplitWindows, WindowedData

SPLITS = ("train", "val", "test")
# Bump when the pipeline's output changes for the same inputs, so stale caches are never reused.
CACHE_VERSION = "6"  # 2: known-future (calendar) arrays; 3: causal cleaning, scoring masks; 4: calendars (B,
# rows); 5: panels (series ids, per-series scalers); 6: series cut to their observed span


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
        "train": "lower split.val_fraction/split.test_fraction",
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


def _cache_key(bundle_digest: str, data: DataConfig, window: WindowConfig, split: SplitConfig) -> str:
    cfg = {
        "data": data.model_dump(exclude={"cache_dir"}),
        "window": window.model_dump(),
        "split": split.model_dump(),
        "version": CACHE_VERSION,
    }
    blob = json.dumps(cfg, sort_keys=True, default=str) + bundle_digest
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _source_digest(data: DataConfig) -> str | None:
    try:
        return source_digest(data)
    except OSError:
        return None  # unreadable source: load_series will raise the user-facing error


def _cache_dir(data: DataConfig) -> Path:
    return Path(data.cache_dir) if data.cache_dir else Path(".cache") / "data"


def _split_table(s: SplitWindows) -> pa.Table:
    """One split as an Arrow table: each window's x and y flattened into fixed-size lists (zero-copy back)."""
    n = len(s)
    x = pa.FixedSizeListArray.from_arrays(pa.array(s.x.reshape(-1), pa.float32()), int(np.prod(s.x.shape[1:])))
    y = pa.FixedSizeListArray.from_arrays(pa.array(s.y.reshape(-1), pa.float32()), int(np.prod(s.y.shape[1:])))
    origin = pa.array(s.origin.astype("datetime64[ns]"), pa.timestamp("ns"))
    columns = {"x": x, "y": y, "origin": origin}
    if s.future.shape[2]:
        columns["future"] = pa.FixedSizeListArray.from_arrays(
            pa.array(s.future.reshape(-1), pa.float32()), int(np.prod(s.future.shape[1:])))
    if s.mask is not None:
        columns["mask"] = pa.FixedSizeListArray.from_arrays(pa.array(s.mask.reshape(-1), pa.bool_()),
                                                            int(np.prod(s.y.shape[1:])))
    if s.series is not None:
        columns["series"] = pa.array(np.asarray(s.series, np.int32), pa.int32())
    shapes = json.dumps({"x": list(s.x.shape), "y": list(s.y.shape), "future": list(s.future.shape)})
    return pa.table(columns, metadata={"shapes": shapes, "rows": str(n)})


def _split_from_table(table: pa.Table) -> SplitWindows:
    shapes = json.loads(table.schema.metadata[b"shapes"])
    x = table.column("x").combine_chunks().flatten().to_numpy().reshape(shapes["x"])
    y = table.column("y").combine_chunks().flatten().to_numpy().reshape(shapes["y"])
    origin = table.column("origin").to_numpy().astype("datetime64[ns]")
    future = None
    if "future" in table.column_names:
        future = np.array(table.column("future").combine_chunks().flatten().to_numpy().reshape(shapes["future"]),
                          np.float32)
    mask = None
    if "mask" in table.column_names:
        mask = table.column("mask").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(shapes["y"])
    series = np.array(table.column("series").to_numpy(), np.int32) if "series" in table.column_names else None
    # Copies: arrays straight off the memory map are read-only, and torch warns on (and must not write to) them.
    return SplitWindows(np.array(x, np.float32), np.array(y, np.float32), origin, future,
                        None if mask is None else np.array(mask, bool), series)


def _save(path: Path, wd: WindowedData) -> None:
    """A cache entry is a folder: one Arrow IPC file per split plus meta.json, swapped in whole."""
    meta = {
        "feature_names": wd.feature_names,
        "target_names": wd.target_names,
        "scaler": wd.scaler.to_dict(),
        "n_inputs": wd.n_inputs,
        "n_outputs": wd.n_outputs,
        "summary": wd.summary,
        "future_names": wd.future_names,
        "series_names": wd.series_names,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, suffix=".tmp"))
    try:
        for name in SPLITS:
            table = _split_table(wd.split(name))
            with pa.OSFile(str(tmp / f"{name}.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        (tmp / "meta.json").write_text(json.dumps(meta, default=str))
        if not path.exists():
            os.replace(tmp, path)  # readers see either no entry or a complete one
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load(path: Path) -> WindowedData | None:
    try:
        meta = json.loads((path / "meta.json").read_text())
        splits = {}
        for n in SPLITS:
            with pa.memory_map(str(path / f"{n}.arrow")) as source:
                splits[n] = _split_from_table(pa.ipc.open_file(source).read_all())
    except Exception:  # a corrupt or foreign cache entry is just a miss
        return None
    return WindowedData(
        splits["train"],
        splits["val"],
        splits["test"],
        meta["feature_names"],
        meta["target_names"],
        Scaler.from_dict(meta["scaler"]),
        int(meta["n_inputs"]),
        int(meta["n_outputs"]),
        meta["summary"],
        list(meta.get("future_names", [])),
        list(meta.get("series_names", [])),
    )


def target_rows_unobserved(bundle: SeriesBundle, start: int, stop: int) -> int:
    """Unobserved target cells among rows [start, stop) (each day counted once, however many windows hold it)."""
    if bundle.unobserved is None:
        return 0
    return int(bundle.unobserved.iloc[start:stop][bundle.target_names].to_numpy().sum())


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
    out, scaler, split_summary, masked = window_series(bundle, ranges, data, window)
    summary = dict(bundle.summary)
    summary["splits"] = split_summary
    summary["windows"] = {n: len(out[n]) for n in SPLITS}
    # Target cells that were missing or flagged in the source: repaired as inputs, left out of every score.
    summary["masked_target_cells"] = masked
    summary["scaler"] = data.scaler
    summary["window"] = {"input": window.input, "output": window.output}
    summary["future_names"] = future_names(data)
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


def future_names(data: DataConfig) -> list[str]:
    """Known-future inputs: the calendar columns, read on the forecast days (functions of the date alone)."""
    return list(CALENDAR_COLUMNS) if data.calendar_features else []


def window_series(bundle: SeriesBundle, ranges: dict[str, SplitRange], data: DataConfig, window: WindowConfig,
                  ) -> tuple[dict[str, SplitWindows], Scaler, dict[str, Any], dict[str, int]]:
    """One series' windows per split, scaled by a scaler fitted on its training rows only; with the split
    summary and the masked (unscored) target cells of val and test. Raises DataError if a split has no window."""
    frame = bundle.frame
    values = frame.to_numpy(dtype=np.float64)
    scaler = fit_scaler(values[: ranges["train"].stop], data.scaler, bundle.feature_names)
    scaled = scaler.transform(values)
    n_t = len(bundle.target_names)
    observed = None if bundle.unobserved is None else ~bundle.unobserved.to_numpy(dtype=bool)
    # Known-future inputs: the calendar columns, read on the forecast days (functions of the date alone).
    future_cols = [bundle.feature_names.index(c) for c in future_names(data)]
    # the models read the calendar columns as the last n_future features of x (models/blocks.py, WindowNorm)
    n_feat = len(bundle.feature_names)
    assert future_cols == list(range(n_feat - len(future_cols), n_feat)), "calendar columns must come last"
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


# The (train file, test file) pairs whose shared dates this process has already warned about.
_OVERLAP_WARNED: set[tuple[str | None, str | None]] = set()


def _overlap_key(data: DataConfig) -> tuple[str | None, str | None]:
    return data.path, data.test_path


def build_windowed_data(
    data: DataConfig, window: WindowConfig, split: SplitConfig, cache: bool = True
) -> WindowedData:
    """Load, clean, split, scale and window the series described by the three config sections."""
    digest = _source_digest(data) if cache else None
    path = None
    if digest is not None:
        path = _cache_dir(data) / _cache_key(digest, data, window, split)
        hit = _load(path) if path.is_dir() else None
        if hit is not None:
            overlap = hit.summary.get("overlap_dropped", {})
            if overlap.get("count") and _overlap_key(data) not in _OVERLAP_WARNED:
                # Same warning as a fresh build, so callers do not behave differently on a cache hit; but once per
                # process: a sweep and its report build the same data one after the other.
                _OVERLAP_WARNED.add(_overlap_key(data))
                warnings.warn(
                    f"{data.path} and {data.test_path} share {overlap['count']} date(s) "
                    f"({', '.join(overlap['dates'])}); kept the test file's rows and dropped them from training",
                    UserWarning,
                    stacklevel=2,
                )
            hit.summary["cache"] = "hit"
            return hit
    if data.panel_id_column is not None:
        from data_pipeline.panel import build_panel  # panel imports this module

        wd = build_panel(data, window, split)
    else:
        bundle = load_series(data, split)  # warns about dates shared by the two files
        wd = build_from_bundle(bundle, data, window, split)
    if wd.summary.get("overlap_dropped", {}).get("count"):
        _OVERLAP_WARNED.add(_overlap_key(data))
    if cache:
        path = _cache_dir(data) / _cache_key(source_digest(data), data, window, split)
        wd.summary["cache_key"] = path.name
        try:
            _save(path, wd)
        except OSError as exc:
            warnings.warn(f"could not write data cache {path}: {exc}", RuntimeWarning, stacklevel=2)
    wd.summary["cache"] = "miss" if cache else "off"
    return wd
