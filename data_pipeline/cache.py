"""The on-disk cache of windowed data: one folder per (data, window, split) key, an Arrow IPC file per split plus
meta.json, swapped in whole so readers see either no entry or a complete one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc  # noqa: F401  (registers pa.ipc)

from data_pipeline.config import DataConfig, SplitConfig, WindowConfig
from data_pipeline.splits import SPLITS
from data_pipeline.types import Scaler, SplitWindows, WindowedData

# Bump when the pipeline's output changes for the same inputs, so stale caches are never reused.
CACHE_VERSION = "6"  # 2: known-future (calendar) arrays; 3: causal cleaning, scoring masks; 4: calendars (B,
# rows); 5: panels (series ids, per-series scalers); 6: series cut to their observed span


def cache_key(bundle_digest: str, data: DataConfig, window: WindowConfig, split: SplitConfig) -> str:
    cfg = {
        "data": data.model_dump(exclude={"cache_dir"}),
        "window": window.model_dump(),
        "split": split.model_dump(),
        "version": CACHE_VERSION,
    }
    blob = json.dumps(cfg, sort_keys=True, default=str) + bundle_digest
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cache_dir(data: DataConfig) -> Path:
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


def save(path: Path, wd: WindowedData) -> None:
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


def load(path: Path) -> WindowedData | None:
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
