"""A panel's static columns (data.static_columns): what describes each series and never changes over its life.

Each static column must hold one value per series (checked: the error names the series that breaks it); a text
column is one-hot encoded (`region=north`), a numeric one kept as is. The encoded values ride with every series'
rows as known-future inputs (their future is known: it is the same value), placed after the user's known-future
columns and before the calendar, so every model that reads known-future inputs reads them on the input window and
on each forecast step, with no model of its own to change. Why not per-series scaling like the other columns: a
value constant within a series would scale to 0 in every series and tell them nothing apart; they are scaled once
over the series instead (`static_scaling`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_pipeline.config import DataConfig
from data_pipeline.errors import MAX_LISTED, DataError


def static_table(frames: dict[str, pd.DataFrame], data: DataConfig, label: str) -> pd.DataFrame:
    """One row per series (index: its id), one column per encoded static feature, float64."""
    columns = list(data.static_columns or [])
    if not columns:
        return pd.DataFrame(index=list(frames))
    rows: dict[str, dict[str, object]] = {}
    for name, frame in frames.items():
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise DataError(f"{label}: data.static_columns names unknown column(s) {absent}; available columns: "
                            f"{[c for c in frame.columns]}")
        rows[name] = {}
        for col in columns:
            values = frame[col].dropna().unique()
            if len(values) != 1:
                what = "no value" if len(values) == 0 else f"{len(values)} values ({', '.join(map(str, values[:3]))})"
                raise DataError(f"{label}: static column {col!r} has {what} for series {name!r}; a static column "
                                "holds one value per series (constant over its rows): fix it, or give it as an input "
                                "column (data.features / data.known_future) instead")
            rows[name][col] = values[0]
    raw = pd.DataFrame.from_dict(rows, orient="index")[columns]
    parts = []
    for col in columns:
        numeric = pd.to_numeric(raw[col], errors="coerce")
        if numeric.notna().all() and not pd.api.types.is_bool_dtype(raw[col]):
            parts.append(numeric.astype("float64").rename(col).to_frame())
        else:  # a category: one 0/1 column per value (sorted, so the encoding is the same run to run)
            levels = sorted(raw[col].astype(str).unique())
            if len(levels) > 50:
                raise DataError(f"{label}: static column {col!r} has {len(levels)} distinct values (more than 50); "
                                "one-hot encoding that many adds more inputs than it can inform: group them")
            parts.append(pd.DataFrame({f"{col}={v}": (raw[col].astype(str) == v).astype("float64") for v in levels},
                                      index=raw.index))
    table = pd.concat(parts, axis=1)
    clash = [c for c in table.columns if any(c in f.columns for f in frames.values()) and c not in columns]
    if clash:
        raise DataError(f"{label}: encoded static feature name(s) {clash[:MAX_LISTED]} clash with columns of the "
                        "data; rename them")
    return table


def static_scaling(table: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Each encoded static feature's (center, scale) over the series: the mean and standard deviation across
    series (1 where every series shares the value, which then carries nothing and stays unscaled)."""
    out = {}
    for col in table.columns:
        values = table[col].to_numpy(dtype=np.float64)
        sd = float(values.std())
        out[col] = (float(values.mean()), sd if np.isfinite(sd) and sd > 1e-12 else 1.0)
    return out
