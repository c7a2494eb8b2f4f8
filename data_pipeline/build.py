"""`build_windowed_data`: config sections in, WindowedData out (one series or a panel), through the cache."""

from __future__ import annotations

import warnings

from data_pipeline.cache import cache_dir, cache_key, load, save
from data_pipeline.config import DataConfig, SplitConfig, WindowConfig
from data_pipeline.errors import DataError
from data_pipeline.identity import source_digest
from data_pipeline.panel import build_panel
from data_pipeline.series import load_series
from data_pipeline.types import WindowedData
from data_pipeline.windows import build_from_bundle


def _source_digest(data: DataConfig) -> str | None:
    try:
        return source_digest(data)
    except OSError:
        return None  # unreadable source: load_series will raise the user-facing error


# The (train file, test file) pairs whose shared dates this process has already warned about.
_OVERLAP_WARNED: set[tuple[str | None, str | None]] = set()


def _overlap_key(data: DataConfig) -> tuple[str | None, str | None]:
    return data.path, data.test_path


def build_windowed_data(
    data: DataConfig, window: WindowConfig, split: SplitConfig, cache: bool = True
) -> WindowedData:
    """Load, clean, split, scale and window the series described by the three config sections. Any failure is a
    DataError naming the data: one this pipeline did not foresee is wrapped with the file's name."""
    try:
        return _build(data, window, split, cache)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - a user's file must never end in a bare traceback
        source = data.path or f"embedded:{data.source}"
        first = (str(exc).strip().splitlines() or [""])[0]
        raise DataError(f"{source}: could not be read ({type(exc).__name__}: {first}); check the file, or rerun "
                        "with --debug for the full traceback and report it") from exc


def _build(data: DataConfig, window: WindowConfig, split: SplitConfig, cache: bool) -> WindowedData:
    digest = _source_digest(data) if cache else None
    path = None
    if digest is not None:
        path = cache_dir(data) / cache_key(digest, data, window, split)
        hit = load(path) if path.is_dir() else None
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
                    stacklevel=3,
                )
            hit.summary["cache"] = "hit"
            return hit
    if data.panel_id_column is not None:
        wd = build_panel(data, window, split)
    else:
        bundle = load_series(data, split)  # warns about dates shared by the two files
        wd = build_from_bundle(bundle, data, window, split)
    if wd.summary.get("overlap_dropped", {}).get("count"):
        _OVERLAP_WARNED.add(_overlap_key(data))
    if cache:
        path = cache_dir(data) / cache_key(source_digest(data), data, window, split)
        wd.summary["cache_key"] = path.name
        try:
            save(path, wd)
        except OSError as exc:
            warnings.warn(f"could not write data cache {path}: {exc}", RuntimeWarning, stacklevel=3)
    wd.summary["cache"] = "miss" if cache else "off"
    return wd
