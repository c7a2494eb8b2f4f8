"""Reading a source table and turning it into a validated, date-indexed numeric frame."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data_pipeline.dates import first_bad, parse_dates
from data_pipeline.errors import DataError
from data_pipeline.layouts import guess_id_column

CSV_EXT = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
PARQUET_EXT = (".parquet", ".pq")
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
# Separators besides the comma that spreadsheets write (a European Excel writes `;`); read when the header holds
# more of one of them than commas.
OTHER_SEPARATORS = (";", "\t", "|")
# A header pandas invents for a column without a name, e.g. the index a DataFrame was saved with.
UNNAMED = re.compile(r"^Unnamed: \d+$")
# A number written with a decimal comma (3,5 or 12,345), the way much of Europe writes them.
DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
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
    # text columns whose values are numbers written with a decimal comma: refused unless data.decimal="," reads them
    comma_columns: list[str] = field(default_factory=list)


def _extension(p: Path) -> str:
    name = p.name.lower()
    for ext in CSV_EXT + PARQUET_EXT:
        if name.endswith(ext):
            return ext
    return p.suffix.lower()


def _head(p: Path, ext: str, size: int = 1 << 16) -> str:
    """The first bytes of a (possibly compressed) CSV as text: enough to see its header."""
    if ext == ".csv.zip":
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
            raw = z.open(names[0]).read(size) if names else b""
    else:
        opener = _OPENERS.get(Path(ext).suffix, open)
        with opener(p, "rb") as f:
            raw = f.read(size)
    return raw.decode("utf-8", errors="replace")


def sniff_separator(p: Path, ext: str) -> str:
    """`,` unless the header line holds more of one of OTHER_SEPARATORS."""
    header = _head(p, ext).lstrip("\ufeff").splitlines()[:1]
    if not header:
        return ","
    counts = {sep: header[0].count(sep) for sep in (",", *OTHER_SEPARATORS)}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] > counts[","] else ","


def read_columns(path: str | Path) -> list[str]:
    """The column names of a CSV or Parquet file, read from its header only ([] when it cannot be read: reading
    the whole file names the problem)."""
    p = Path(path)
    ext = _extension(p)
    try:
        if ext in PARQUET_EXT:
            import pyarrow.parquet as pq

            return [str(n) for n in pq.read_schema(p).names]
        if ext in CSV_EXT:
            return [str(c) for c in pd.read_csv(p, sep=sniff_separator(p, ext), nrows=0).columns]
    except Exception:  # noqa: BLE001 - the full read reports what is wrong with the file
        return []
    return []


def read_table(path: str | Path, key: str, decimal: str = ".") -> pd.DataFrame:
    """Read a CSV (also .csv.gz/.bz2/.zip/.xz; comma, `;`, tab or `|` separated) or Parquet file; `key` (e.g.
    data.path) names the config entry in error messages; `decimal`: data.decimal, the CSV's decimal mark."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found ({key}); check the path (relative paths start at {Path.cwd()})")
    if not p.is_file():
        raise DataError(f"{p}: is not a file ({key})")
    ext = _extension(p)
    if ext not in CSV_EXT + PARQUET_EXT:
        raise DataError(f"{p}: unsupported extension {ext!r} ({key}); use a .csv or .parquet/.pq file (also "
                        ".csv.gz, .csv.bz2, .csv.zip, .csv.xz)")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: file is empty ({key}); export the data again")
    kind = "CSV" if ext in CSV_EXT else "Parquet"
    try:
        if ext in CSV_EXT:
            df = pd.read_csv(p, sep=sniff_separator(p, ext), decimal=decimal)
        else:
            df = pd.read_parquet(p)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{p}: file is empty ({key})") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, EOFError, zipfile.BadZipFile,
            lzma.LZMAError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{p}: cannot be read as {kind} ({first}); check the file format/extension") from exc
    except Exception as exc:  # pyarrow raises its own types for corrupt files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DataError(f"{p}: cannot be read ({type(exc).__name__}: {first}); check the file format") from exc
    if df.empty:
        raise DataError(f"{p}: file has a header but no data rows ({key})")
    return df


def _row_name(label: str, i: int) -> str:
    # CSV users think in editor lines (header is line 1); Parquet has no lines.
    return f"line {i + 2}" if label.lower().endswith(CSV_EXT) else f"row {i}"


def _row_counter(s: pd.Series) -> bool:
    """An index a DataFrame was saved with: whole numbers counting up by one (0..n-1, or a slice of them)."""
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s) or s.isna().any() or len(s) < 2:
        return False
    v = s.to_numpy(dtype="float64")
    return bool(np.all(v == np.round(v)) and np.all(np.diff(v) >= 1))


def _duplicate_dates(df: pd.DataFrame, index: pd.DatetimeIndex, label: str, date_column: str) -> None:
    dup = index[index.duplicated(keep=False)].unique()
    if not len(dup):
        return
    shown = ", ".join(str(d.date()) if d == d.normalize() else str(d) for d in dup[:10])
    id_col = guess_id_column(df.assign(**{date_column: index}), date_column)
    advice = (f"if the file holds many series, set data.id_column={id_col} (the column naming each row's series); "
              "else keep one row per date") if id_col is not None else "keep one row per date"
    raise DataError(f"{label}: {len(dup)} duplicate date(s) in column {date_column!r}: {shown}"
                    f"{' ...' if len(dup) > 10 else ''}; {advice}")


def parse_table(df: pd.DataFrame, label: str, date_column: str, dayfirst: bool | None = None) -> RawTable:
    """Index by date, keep numeric-looking columns, reject duplicates, sort (with a note). `dayfirst`:
    data.dayfirst (None: decided from the dates, see data_pipeline/dates.py)."""
    df = df.copy()
    df.columns = [str(c) for c in df.columns]
    if date_column not in df.columns:
        raise DataError(
            f"{label}: date column {date_column!r} not found; available columns: {list(df.columns)}; "
            "set data.date_column"
        )
    notes: list[str] = []
    counters = [c for c in df.columns if UNNAMED.match(c) and c != date_column and _row_counter(df[c])]
    if counters:
        # A CSV written with its pandas index: the row counter is not data, and as a feature it leaks row order.
        df = df.drop(columns=counters)
        notes.append(f"{label}: column(s) {counters} dropped: an unnamed row counter (the index a DataFrame was "
                     "saved with), not data")
    raw_dates = df[date_column]
    dates, date_notes = parse_dates(raw_dates, label, date_column, dayfirst)
    notes += date_notes
    bad = first_bad(dates)
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{label}: cannot parse date {raw_dates.iloc[i]!r} in column {date_column!r} at {_row_name(label, i)}"
            f" ({bad.size} unparsable in total); use ISO dates like 2017-01-31"
        )
    df = df.drop(columns=[date_column])
    index = pd.DatetimeIndex(dates.to_numpy().astype("datetime64[ns]"), name=date_column)
    _duplicate_dates(df.reset_index(drop=True), index, label, date_column)
    df.index = index

    numeric, ignored, commas = [], [], []
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
        if share >= NUMERIC_SHARE:
            numeric.append(col)
            continue
        ignored.append(col)
        text = s[present].astype("string")
        if present.any() and (conv[present].notna() | text.str.match(DECIMAL_COMMA.pattern)).mean() >= NUMERIC_SHARE:
            commas.append(col)
    if ignored:
        # Not silent: a column the user may have meant as an input is named in the summary, the console and the
        # report (Seattle's `weather` labels land here too).
        notes.append(f"{label}: column(s) {ignored} ignored: not numeric")
    if not df.index.is_monotonic_increasing:
        df = df.sort_index(kind="stable")
        notes.append(f"{label}: dates were not in order; sorted them")
    return RawTable(df, label, numeric, ignored, notes, commas)


def to_numeric_features(table: RawTable, features: list[str], known_future: Sequence[str] = ()) -> pd.DataFrame:
    """Coerce feature columns to float64, naming the first bad cell of any non-numeric column. A known-future
    column may be boolean (a holiday or promotion flag): it reads as 0/1."""
    out = {}
    for col in features:
        s = table.frame[col]
        if pd.api.types.is_bool_dtype(s) and col in known_future:
            out[col] = s.astype("float64")
            continue
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
            comma = " (a decimal comma? set data.decimal=',')" if col in table.comma_columns else ""
            raise DataError(
                f"{table.label}: column {col!r} is not numeric: value {s.iloc[i]!r} on {table.frame.index[i].date()}"
                f" ({bad.size} bad value(s)){comma}; fix the values or drop the column from data.features"
            )
        out[col] = conv.astype("float64")
    frame = pd.DataFrame(out, index=table.frame.index)
    # inf is never a measurement; treat it like a missing value so nan_policy decides.
    return frame.replace([np.inf, -np.inf], np.nan)


def resolve_columns(
    table: RawTable, features: list[str] | None, targets: list[str] | None, known_future: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """Feature order: targets first, then the other inputs, then the known-future columns (calendar features are
    appended after them: the models read the known-future block as the last features)."""
    available = list(table.frame.columns)
    known = list(known_future or [])
    for key, names in (("data.features", features), ("data.targets", targets), ("data.known_future", known)):
        unknown = [c for c in names or [] if c not in available]
        if unknown:
            raise DataError(
                f"{table.label}: {key} names unknown column(s) {unknown}; available columns: {available}"
            )
    named = set(features or []) | set(targets or [])
    unread = [c for c in table.comma_columns if features is None and c not in named]
    if unread:
        # Refused, not dropped with a note: a forecast that silently lacks a column the user thinks it has is worse
        # than one line to fix; and "12,345" may be 12.345 or 12345, which only the user knows.
        col = unread[0]
        example = next(v for v in table.frame[col].astype("string") if v is not None and DECIMAL_COMMA.match(v))
        raise DataError(f"{table.label}: column {col!r} holds numbers written with a decimal comma ({example!r}); "
                        "set data.decimal=',' to read them as decimals (or save the file with '.' decimals), or "
                        "list the columns to use in data.features to leave it out")
    chosen = list(features) if features is not None else list(table.numeric_columns)
    if targets is not None:
        chosen += [t for t in targets if t not in chosen]
    chosen = [c for c in chosen if c not in known]
    if not chosen:
        raise DataError(f"{table.label}: no numeric columns found besides data.known_future (columns: {available}); "
                        "set data.features or data.targets")
    tgts = list(targets) if targets is not None else list(chosen)
    if not tgts:
        raise DataError(f"{table.label}: data.targets is empty; name at least one column to forecast")
    return tgts + [c for c in chosen if c not in tgts] + known, tgts


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
