"""The table layouts other forecasting tools use, recognised by their column names, shared by files and DataFrames
(data_pipeline/frames.py): Nixtla's `unique_id, ds, y` and AutoGluon's `item_id, timestamp, target` imply the id, date and
target columns, so neither needs data.* keys. Also: which column of a table looks like it names each row's series.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

# (id column, date column, target column) of the long formats other forecasting libraries use
LONG_LAYOUTS = {
    "Nixtla long format": ("unique_id", "ds", "y"),
    "AutoGluon long format": ("item_id", "timestamp", "target"),
}
# Column names that usually name each row's series in a long table (compared in lower case).
ID_NAMES = ("unique_id", "item_id", "series_id", "series", "id", "ts_id", "key", "sku", "store", "ticker", "symbol",
            "station", "site", "region", "country", "name")


def long_layout(columns: Iterable[str]) -> tuple[str, tuple[str, str, str]] | None:
    """(layout name, (id, date, target)) when the columns hold one of LONG_LAYOUTS, else None."""
    names = {str(c) for c in columns}
    for name, cols in LONG_LAYOUTS.items():
        if set(cols) <= names:
            return name, cols
    return None


def layout_overrides(cols: tuple[str, str, str]) -> dict[str, object]:
    """The data.* keys a long layout implies, as {dotted key: value}."""
    id_col, date_col, target = cols
    return {"data.id_column": id_col, "data.date_column": date_col, "data.targets": [target]}


def guess_id_column(df: pd.DataFrame, date_column: str | None = None) -> str | None:
    """The column that looks like it names each row's series: one named like an id (ID_NAMES), else a text column
    whose values repeat; with `date_column`, one with which every (id, date) pair is unique (else only one named
    like an id). None when nothing fits."""
    candidates: list[str] = []
    for col in df.columns:
        if str(col) == date_column:
            continue
        s = df[col]
        named = str(col).strip().lower() in ID_NAMES
        text = not pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_datetime64_any_dtype(s)
        if text and named:
            candidates.insert(0, str(col))
        elif (named or text) and 1 < s.nunique(dropna=True) < len(s):
            candidates.append(str(col))
    if not candidates:
        return None
    if date_column is not None and date_column in df.columns:
        for col in candidates:
            if not df.duplicated(subset=[col, date_column]).any():
                return col
        # none tells the repeated dates apart: only a column named like an id is still worth suggesting
        return next((c for c in candidates if c.strip().lower() in ID_NAMES), None)
    return candidates[0]
