"""A pandas DataFrame as a sweep's data: its layout recognised, written once into the run directory (the Python
API, sweeps/api.py, hands the frame here and the path it is written to on to the sweep).

Recognised without extra keys:
- Nixtla's long format (neuralforecast, statsforecast): `unique_id, ds, y` -> one series per `unique_id`, target `y`
  (other numeric columns are inputs);
- AutoGluon's long format: `item_id, timestamp, target` (also as a TimeSeriesDataFrame's index) -> likewise;
- a frame indexed by (series, date) levels, named or not -> one series per value of the series level;
- a frame with a DatetimeIndex -> one multivariate series, every numeric column a feature and a target (a long one:
  dates repeated, a column naming each series -> one series per value of that column).
The long layouts are data_pipeline/layouts.py's, shared with files.
Anything else is read like a file: a `date` column (or `data.date_column`). The keys read off a layout sit under
the user's own keys, which always win.

The frame is written as Parquet into the run directory (`data.parquet`) and `data.path` points at it, so a report
rebuild, a forecast, a resume and the data-identity check read exactly the rows the sweep trained on, and the run
directory stays self-contained.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from data_pipeline.config_files import override_text
from data_pipeline.errors import DataError
from data_pipeline.layouts import LONG_LAYOUTS, guess_id_column, layout_overrides, long_layout

__all__ = ["LONG_LAYOUTS", "FrameData", "read_frame", "write_frame"]
INDEX_DATE_COLUMN = "date"  # the date column of a frame whose DatetimeIndex (or date index level) has no name
INDEX_ID_COLUMN = "id"  # the id column of a frame indexed by (an unnamed series level, dates)


@dataclass
class FrameData:
    frame: pd.DataFrame  # what is written: the user's rows and columns, index levels turned into columns
    parquet: bytes  # the frame as Parquet: written once, and hashed for the default run name
    layout: str  # how the frame was read, for the console
    keys: list[str]  # data.* overrides the layout implies (`data.id_column=unique_id`, ...)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.parquet).hexdigest()


def read_frame(df: pd.DataFrame) -> FrameData:
    """The frame's layout and the data.* keys it implies; the frame itself is never altered, only its index
    levels become columns (Parquet and the data pipeline read columns)."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame or the path of a CSV/Parquet file, got "
                        f"{type(df).__name__}")
    if df.empty:
        raise DataError("the DataFrame has no rows; pass the series to sweep")
    frame, index_date, index_id = _index_as_columns(df)
    names = [str(c) for c in frame.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"the DataFrame has column name(s) {repeated} more than once (after turning its index "
                        f"into columns); rename them")
    frame.columns = names
    layout, keys = "a table with a date column", []
    found = long_layout(names)
    if found is not None:
        name, cols = found
        layout = f"{name} ({', '.join(cols)})"
        keys = [override_text(k, v) for k, v in layout_overrides(cols).items()]
    elif index_date is not None and index_id is not None:
        layout = f"a long frame: one series per {index_id!r}, dates from the index ({index_date})"
        keys = [override_text("data.id_column", index_id), override_text("data.date_column", index_date)]
    elif index_date is not None:
        layout = f"a wide frame with a DatetimeIndex ({index_date}): one multivariate series"
        keys = [override_text("data.date_column", index_date)]
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=False)
    except (ValueError, TypeError, ImportError) as err:  # pyarrow names the column it cannot store
        raise DataError(f"the DataFrame cannot be stored as Parquet ({type(err).__name__}: {err}); give its "
                        f"columns plain types (numbers, dates, strings)") from err
    return FrameData(frame, buffer.getvalue(), layout, keys)


def _index_as_columns(df: pd.DataFrame) -> tuple[pd.DataFrame, str | None, str | None]:
    """Named index levels (a TimeSeriesDataFrame's item_id/timestamp, a unique_id index) and any date index level
    (named or not) become columns; an unnamed, non-date index (0..n-1, or left over from filtering) carries no data
    and is dropped. Also returns the column a date index level became and, for a long frame, the column naming
    each row's series: the other level of a (series, date) index, or a column that looks like an id when a
    DatetimeIndex repeats its dates (None when there is none)."""
    index = df.index
    taken = {str(c) for c in df.columns}
    levels = [index.get_level_values(i) for i in range(index.nlevels)]
    is_date = [pd.api.types.is_datetime64_any_dtype(v) for v in levels]
    if not any(is_date) and all(n is None for n in index.names):
        return df.reset_index(drop=True), None, None
    names: list[str] = []
    for i, (name, dated) in enumerate(zip(index.names, is_date, strict=True)):
        default = INDEX_DATE_COLUMN if dated else INDEX_ID_COLUMN if index.nlevels > 1 else f"level_{i}"
        names.append(str(name) if name is not None else default)
    clash = [n for n in names if n in taken]
    if clash:
        what = "DatetimeIndex" if index.nlevels == 1 else "index"
        raise DataError(f"the DataFrame's {what} would become column {clash[0]!r}, which it already has; "
                        f"name the index (df.index.name = ... / df.index.names = [...]) or rename that column")
    frame = df.rename_axis(names).reset_index()
    dates = [n for n, dated in zip(names, is_date, strict=True) if dated]
    date_col = dates[0] if dates else None
    others = [n for n, dated in zip(names, is_date, strict=True) if not dated]
    id_col = None
    if date_col is not None and len(others) == 1:
        id_col = others[0]
    elif date_col is not None and not others and frame[date_col].duplicated().any():
        id_col = guess_id_column(frame, date_col)  # a long frame indexed by its dates alone
    return frame, date_col, id_col


def write_frame(data: FrameData, path: Path, *, sweep_started: bool) -> bool:
    """Write the frame to `path` (the run directory's data.parquet). Returns whether a new file was written.

    The file already there is kept when it holds the same rows (re-running a notebook cell resumes the sweep).
    A sweep whose trials started keeps its own data: another frame under its name is refused, never written over.
    """
    if path.exists():
        if path.read_bytes() == data.parquet or _same_rows(path, data.parquet):
            return False
        if sweep_started:
            raise DataError(f"{path.parent} already holds a sweep of another DataFrame ({path} holds different "
                            f"rows); pass another name=, or delete that directory to start over")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    tmp.write_bytes(data.parquet)
    tmp.replace(path)
    return True


def _same_rows(path: Path, parquet: bytes) -> bool:
    try:  # both read back from Parquet, so a dtype Parquet changes on the way (index, resolution) compares alike
        return pd.read_parquet(path).equals(pd.read_parquet(io.BytesIO(parquet)))
    except Exception:  # noqa: BLE001 - an unreadable file is simply not the same data
        return False
