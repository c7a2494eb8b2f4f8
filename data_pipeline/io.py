"""Reading a source table and turning it into a validated, date-indexed numeric frame."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data_pipeline.errors import DataError

CSV_EXT = (".csv",)
PARQUET_EXT = (".parquet", ".pq")
# Share of non-empty cells that must parse as numbers for an untyped column to count as an intended numeric
# feature; below it (e.g. Seattle's `weather` labels) the column is ignored rather than reported as broken.
NUMERIC_SHARE = 0.5


@dataclass
class RawTable:
    frame: pd.DataFrame  # date-indexed, sorted, numeric columns only
    label: str  # path or embedded name, used in every message
    numeric_columns: list[str]
    ignored_columns: list[str]
    notes: list[str] = field(default_factory=list)


def read_table(path: str | Path, key: str) -> pd.DataFrame:
    """Read a CSV or Parquet file; `key` (e.g. data.path) names the config entry in error messages."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found ({key}); check the path (relative paths start at {Path.cwd()})")
    if not p.is_file():
        raise DataError(f"{p}: is not a file ({key})")
    ext = p.suffix.lower()
    if ext not in CSV_EXT + PARQUET_EXT:
        raise DataError(f"{p}: unsupported extension {ext!r} ({key}); use a .csv or .parquet/.pq file")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: file is empty ({key}); export the data again")
    try:
        df = pd.read_csv(p) if ext in CSV_EXT else pd.read_parquet(p)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{p}: file is empty ({key})") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        kind = "CSV" if ext in CSV_EXT else "Parquet"
        raise DataError(f"{p}: cannot be read as {kind} ({exc}); check the file format/extension") from exc
    except Exception as exc:  # pyarrow raises its own types for corrupt files
        raise DataError(f"{p}: cannot be read ({type(exc).__name__}: {exc}); check the file format") from exc
    if df.empty:
        raise DataError(f"{p}: file has a header but no data rows ({key})")
    return df


def _row_name(label: str, i: int) -> str:
    # CSV users think in editor lines (header is line 1); Parquet has no lines.
    return f"line {i + 2}" if label.lower().endswith(CSV_EXT) else f"row {i}"


def parse_table(df: pd.DataFrame, label: str, date_column: str) -> RawTable:
    """Index by date, keep numeric-looking columns, reject duplicates, sort silently."""
    df = df.copy()
    df.columns = [str(c) for c in df.columns]
    if date_column not in df.columns:
        raise DataError(
            f"{label}: date column {date_column!r} not found; available columns: {list(df.columns)}; "
            "set data.date_column"
        )
    raw_dates = df[date_column]
    if pd.api.types.is_datetime64_any_dtype(raw_dates):
        dates = pd.to_datetime(raw_dates)
    else:
        dates = pd.to_datetime(raw_dates.astype("string"), errors="coerce")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{label}: cannot parse date {raw_dates.iloc[i]!r} in column {date_column!r} at {_row_name(label, i)}"
            f" ({bad.size} unparsable in total); use ISO dates like 2017-01-31"
        )
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    df = df.drop(columns=[date_column])
    df.index = pd.DatetimeIndex(dates.to_numpy().astype("datetime64[ns]"), name=date_column)

    numeric, ignored = [], []
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            ignored.append(col)
            continue
        if pd.api.types.is_numeric_dtype(s):
            numeric.append(col)
            continue
        conv = pd.to_numeric(s, errors="coerce")
        present = s.notna() & (s.astype("string").str.strip() != "")
        share = conv[present].notna().mean() if present.any() else 0.0
        (numeric if share >= NUMERIC_SHARE else ignored).append(col)

    notes: list[str] = []
    dup = df.index[df.index.duplicated(keep=False)].unique()
    if len(dup):
        shown = ", ".join(str(d.date()) for d in dup[:10])
        raise DataError(
            f"{label}: {len(dup)} duplicate date(s) in column {date_column!r}: {shown}"
            f"{' ...' if len(dup) > 10 else ''}; keep one row per date"
        )
    if not df.index.is_monotonic_increasing:
        df = df.sort_index(kind="stable")
        notes.append(f"{label}: dates were not in order; sorted them")
    return RawTable(df, label, numeric, ignored, notes)


def to_numeric_features(table: RawTable, features: list[str]) -> pd.DataFrame:
    """Coerce feature columns to float64, naming the first bad cell of any non-numeric column."""
    out = {}
    for col in features:
        s = table.frame[col]
        if pd.api.types.is_bool_dtype(s):
            raise DataError(
                f"{table.label}: column {col!r} is boolean, not numeric; remove it from data.features"
            )
        if pd.api.types.is_numeric_dtype(s):
            out[col] = s.astype("float64")
            continue
        conv = pd.to_numeric(s, errors="coerce")
        present = s.notna() & (s.astype("string").str.strip() != "")
        bad = np.flatnonzero((present & conv.isna()).to_numpy())
        if bad.size:
            i = int(bad[0])
            raise DataError(
                f"{table.label}: column {col!r} is not numeric: value {s.iloc[i]!r} on {table.frame.index[i].date()}"
                f" ({bad.size} bad value(s)); fix the values or drop the column from data.features"
            )
        out[col] = conv.astype("float64")
    frame = pd.DataFrame(out, index=table.frame.index)
    # inf is never a measurement; treat it like a missing value so nan_policy decides.
    return frame.replace([np.inf, -np.inf], np.nan)


def resolve_columns(
    table: RawTable, features: list[str] | None, targets: list[str] | None
) -> tuple[list[str], list[str]]:
    """Feature order: targets first, then the other inputs (calendar features are appended later)."""
    available = list(table.frame.columns)
    for key, names in (("data.features", features), ("data.targets", targets)):
        unknown = [c for c in names or [] if c not in available]
        if unknown:
            raise DataError(
                f"{table.label}: {key} names unknown column(s) {unknown}; available columns: {available}"
            )
    chosen = list(features) if features is not None else list(table.numeric_columns)
    if targets is not None:
        chosen += [t for t in targets if t not in chosen]
    if not chosen:
        raise DataError(f"{table.label}: no numeric columns found (columns: {available}); set data.features")
    tgts = list(targets) if targets is not None else list(chosen)
    if not tgts:
        raise DataError(f"{table.label}: data.targets is empty; name at least one column to forecast")
    return tgts + [c for c in chosen if c not in tgts], tgts


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
