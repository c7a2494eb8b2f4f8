"""Many series in one file (a panel): long format (`data.id_column`) or wide (`data.series_columns`).

Each series goes through the single-series cleaning on its own (`series.clean_series`), with one calendar cut for
all: the train/validation/test boundaries are dates, computed from the dates any series has, so every series'
test period is the same stretch of time whatever its length. Each series gets a scaler fitted on its own training
rows; windows never cross series (each is cut from one series' rows) and carry their series id. A series too short
for one window per split is dropped with a warning naming it (an error when `data.min_series_length` is set).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from data_pipeline.config import PANEL_VALUE_COLUMN, DataConfig, SplitConfig, WindowConfig
from data_pipeline.dates import loose_dates
from data_pipeline.errors import MAX_LISTED, DataError
from data_pipeline.io import parse_table, resolve_columns, to_numeric_features
from data_pipeline.panel_summary import panel_summary
from data_pipeline.series import SeriesBundle, _read_source, _read_test, clean_series, trim_to_span
from data_pipeline.splits import SPLITS, CalendarCut, calendar_cut, series_ranges
from data_pipeline.statics import static_scaling, static_table
from data_pipeline.types import Scaler, SplitWindows, WindowedData
from data_pipeline.windows import future_names, window_series


def _listed(ids: list[str]) -> str:
    more = len(ids) - MAX_LISTED
    return ", ".join(ids[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


def to_long(df: pd.DataFrame, cfg: DataConfig, label: str) -> pd.DataFrame:
    """A wide table (one column per series, `data.series_columns`) as a long one: id column `series`, the
    series' values in `value`, the other columns repeated for every series (they are shared features)."""
    if cfg.series_columns is None:
        return df
    id_col = cfg.panel_id_column
    missing = [c for c in cfg.series_columns if c not in df.columns]
    if missing:
        raise DataError(f"{label}: data.series_columns names unknown column(s) {missing}; available columns: "
                        f"{list(df.columns)}")
    clash = [c for c in (id_col, PANEL_VALUE_COLUMN) if c in df.columns and c not in cfg.series_columns]
    if clash:
        raise DataError(f"{label}: column(s) {clash} clash with the names a wide panel's series get "
                        f"({id_col!r}, {PANEL_VALUE_COLUMN!r}); rename them")
    shared = [c for c in df.columns if c not in cfg.series_columns]
    parts = [df[shared].assign(**{id_col: name, PANEL_VALUE_COLUMN: df[name].to_numpy()})
             for name in cfg.series_columns]
    return pd.concat(parts, ignore_index=True)


def split_by_id(df: pd.DataFrame, cfg: DataConfig, label: str) -> dict[str, pd.DataFrame]:
    """{series id: its rows without the id column}, after checking the id column and (id, date) duplicates."""
    id_col = cfg.panel_id_column
    df = df.copy()
    df.columns = [str(c) for c in df.columns]
    if id_col not in df.columns:
        raise DataError(f"{label}: id column {id_col!r} (data.id_column) not found; available columns: "
                        f"{list(df.columns)}; set data.id_column to the column that names each series")
    if df[id_col].isna().any():
        i = int(np.flatnonzero(df[id_col].isna().to_numpy())[0])
        raise DataError(f"{label}: {int(df[id_col].isna().sum())} row(s) have no series id in column {id_col!r} "
                        f"(first at row {i}); give every row its id")
    ids = df[id_col].astype(str)
    if cfg.date_column in df.columns:
        dates = loose_dates(df[cfg.date_column], label, cfg.date_column, cfg.dayfirst)
        dup = pd.DataFrame({"id": ids, "date": dates})[dates.notna()]
        dup = dup[dup.duplicated(keep=False)]
        if len(dup):
            first = dup.groupby("id").date.min().sort_index()
            shown = [f"{i} ({d.date()})" for i, d in first.items()]
            raise DataError(f"{label}: duplicate (id, date) rows for {len(first)} series: {_listed(shown)}; keep one "
                            f"row per series and date")
    out = {}
    for name in sorted(ids.unique()):
        out[name] = df[(ids == name).to_numpy()].drop(columns=[id_col]).reset_index(drop=True)
    return out


def _raw_dates(frames: dict[str, pd.DataFrame], cfg: DataConfig, label: str, *, leading: bool = True,
               trailing: bool = True) -> dict[str, pd.DatetimeIndex]:
    """Each series' dates inside its observed span (first to last observation, as `clean_series` cuts it), so
    the calendar cut and the too-short rule see only real rows; `leading`/`trailing`: which ends may be cut."""
    out = {}
    for name, f in frames.items():
        d = loose_dates(f[cfg.date_column], label, cfg.date_column, cfg.dayfirst) if cfg.date_column in f else None
        dates = pd.DatetimeIndex([] if d is None else d.dropna().sort_values().unique())
        try:
            table = parse_table(f, f"{label} [{cfg.panel_id_column}={name}]", cfg.date_column, cfg.dayfirst)
            features, _ = resolve_columns(table, cfg.features, cfg.targets)
            kept, _ = trim_to_span(to_numeric_features(table, features), table.label, leading, trailing)
            dates = dates[(dates >= kept.index[0]) & (dates <= kept.index[-1])] if len(kept) else dates[:0]
        except DataError:
            pass  # bad rows or columns: clean_series names them when it reads this series
        out[name] = dates
    return out


def _check_shared_dates(dates: dict[str, pd.DatetimeIndex], label: str) -> None:
    """Series that share no dates cannot be cut at one calendar date: name the ones that do not overlap."""
    spans = {n: (d[0], d[-1]) for n, d in dates.items() if len(d)}
    if len(spans) < 2:
        return
    last_start = max(spans, key=lambda n: spans[n][0])
    first_end = min(spans, key=lambda n: spans[n][1])
    if spans[last_start][0] > spans[first_end][1]:
        apart = sorted(n for n, (s, e) in spans.items() if e < spans[last_start][0])
        raise DataError(
            f"{label}: series share no dates: {first_end} ends {spans[first_end][1].date()} before {last_start} "
            f"starts {spans[last_start][0].date()} (series ending before {spans[last_start][0].date()}: "
            f"{_listed(apart)}); one calendar cut must split them all: give series that overlap in time, or "
            f"forecast the groups separately")


def _short_series(dates: dict[str, pd.DatetimeIndex], cut: CalendarCut,
                  window: WindowConfig) -> dict[str, str]:
    """{id: why} for series with too few rows for one window in each split (train needs input + output rows,
    validation and test need output rows: their inputs may come from earlier rows)."""
    need = {"train": window.input + window.output, "val": window.output, "test": window.output}
    out = {}
    for name, d in dates.items():
        counts = {"train": int((d < cut.val_start).sum()), "val": int(((d >= cut.val_start) & (d < cut.val_stop)).sum()),
                  "test": int((d >= cut.test_start).sum())}
        short = [f"{s} {counts[s]} < {need[s]}" for s in SPLITS if counts[s] < need[s]]
        if not short and counts["train"] + counts["val"] < window.input + window.output:
            short = ["too few rows before the test period"]
        if short:
            out[name] = ", ".join(short)
    return out


def read_panel(data: DataConfig) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame] | None, str, str | None,
                                           pd.DataFrame]:
    """(rows per series of the training file, of the test file or None, their labels, each series' encoded static
    features): checked, not cleaned; the static columns (data.static_columns) are taken out of the rows."""
    df, label = _read_source(data)
    frames = split_by_id(to_long(df, data, label), data, label)
    statics = static_table(frames, data, label)
    static_cols = list(data.static_columns or [])
    frames = {n: f.drop(columns=static_cols) for n, f in frames.items()}
    test_src = _read_test(data)
    test_frames = None
    if test_src is not None:
        test_frames = split_by_id(to_long(test_src[0], data, test_src[1]), data, test_src[1])
        test_frames = {n: f.drop(columns=[c for c in static_cols if c in f.columns]) for n, f in test_frames.items()}
        missing = sorted(set(frames) - set(test_frames))
        extra = sorted(set(test_frames) - set(frames))
        if missing or extra:
            raise DataError(f"{test_src[1]}: the test file's series differ from the training file's: "
                            + "; ".join(p for p in (f"missing {_listed(missing)}" if missing else "",
                                                    f"not in training {_listed(extra)}" if extra else "") if p)
                            + "; give the test file the same series ids")
    return frames, test_frames, label, None if test_src is None else test_src[1], statics


def clean_panel(data: DataConfig) -> dict[str, SeriesBundle]:
    """Every series cleaned on its own with all its rows as training rows (no split): a forecast's input."""
    frames, test_frames, label, test_label, statics = read_panel(data)
    return {name: clean_series(data, None, (frames[name], f"{label} [{data.panel_id_column}={name}]"),
                                None if test_frames is None else
                                (test_frames[name], f"{test_label} [{data.panel_id_column}={name}]"),
                                static=statics.loc[name].to_dict())
            for name in frames}


def build_panel(data: DataConfig, window: WindowConfig, split: SplitConfig) -> WindowedData:
    """Load, clean, split (one calendar cut), scale (per series) and window every series of a panel."""
    frames, test_frames, label, test_label, statics = read_panel(data)
    dates = _raw_dates(frames, data, label, trailing=test_frames is None)
    test_dates = None if test_frames is None else _raw_dates(test_frames, data, str(test_label), leading=False)
    _check_shared_dates(dates if test_dates is None else {n: dates[n].append(test_dates[n]) for n in dates}, label)
    cut = calendar_cut(dates, test_dates, split)
    whole = dates if test_dates is None else {n: dates[n].append(test_dates[n]) for n in dates}

    if data.min_series_length is not None:
        below = sorted(n for n, d in whole.items() if len(d) < data.min_series_length)
        if below:
            raise DataError(f"{label}: {len(below)} series have fewer than data.min_series_length="
                            f"{data.min_series_length} rows: {_listed([f'{n} ({len(whole[n])})' for n in below])}; "
                            "lower data.min_series_length or remove them")
    short = _short_series(whole, cut, window)
    if short and data.min_series_length is not None:
        raise DataError(f"{label}: {len(short)} series have too little history for one window per split "
                        f"(cut at {cut[0].date()} / {cut[1].date()}): "
                        f"{_listed([f'{n} ({why})' for n, why in short.items()])}; remove them, or unset "
                        "data.min_series_length to drop them with a warning")
    if short:
        warnings.warn(f"{label}: dropped {len(short)} series with too little history for one window per split "
                      f"(cut at {cut[0].date()} / {cut[1].date()}): "
                      f"{_listed([f'{n} ({why})' for n, why in short.items()])}", UserWarning, stacklevel=4)
    kept = [n for n in frames if n not in short]
    if not kept:
        raise DataError(f"{label}: every series is too short for one window per split (window.input="
                        f"{window.input}, window.output={window.output}); shorten the windows or use longer series")

    bundles: dict[str, SeriesBundle] = {}
    for name in kept:
        tag = f"{label} [{data.panel_id_column}={name}]"
        test_source = None if test_frames is None else (test_frames[name], f"{test_label} [{data.panel_id_column}={name}]")
        bundles[name] = clean_series(data, split, (frames[name], tag), test_source,
                                      train_until=cut.test_start if split.fold == "refit" else cut.val_start,
                                      static=statics.loc[name].to_dict())
    return _assemble(bundles, cut, data, window, split, label, short, statics.loc[kept])


def _assemble(bundles: dict[str, SeriesBundle], cut: CalendarCut, data: DataConfig,
              window: WindowConfig, split: SplitConfig, label: str, dropped: dict[str, str],
              statics: pd.DataFrame) -> WindowedData:
    names = list(bundles)
    first = bundles[names[0]]
    freqs = {n: b.summary["frequency"] for n, b in bundles.items()}
    if len(set(freqs.values())) > 1:
        odd = [f"{n} ({f})" for n, f in freqs.items() if f != freqs[names[0]]]
        raise DataError(f"{label}: the series have different frequencies: {names[0]} is {freqs[names[0]]}, "
                        f"{_listed(odd)}; give every series the same calendar")
    parts: dict[str, list[SplitWindows]] = {s: [] for s in SPLITS}
    scalers: list[Scaler] = []
    per_series: dict[str, Any] = {}
    masked = {"val": 0, "test": 0}
    for i, name in enumerate(names):
        b = bundles[name]
        if b.feature_names != first.feature_names:
            raise DataError(f"{label}: series {name} has features {b.feature_names}, {names[0]} has "
                            f"{first.feature_names}; give every series the same columns")
        out, scaler, split_summary, m = window_series(b, series_ranges(b.frame.index, None if b.test is None else len(b.train), cut, split),
                                                   data, window, static_scaling(statics))
        for s in SPLITS:
            w = out[s]
            w.series = np.full(len(w), i, np.int32)
            parts[s].append(w)
        scalers.append(scaler)
        for s in m:
            masked[s] += m[s]
        per_series[name] = {"rows": b.summary["rows"], "start": b.summary["date_range"]["start"],
                            "end": b.summary["date_range"]["end"], "windows": {s: len(out[s]) for s in SPLITS},
                            "leading_rows_dropped": b.summary["span"]["leading_rows_dropped"],
                            "trailing_rows_dropped": b.summary["span"]["trailing_rows_dropped"],
                            "gaps": b.summary["gaps"]["count"], "outliers": len(b.summary["outliers"]),
                            "unusual": len(b.summary["unusual"]),
                            "splits": split_summary}
    splits = {s: _concat(parts[s]) for s in SPLITS}
    scaler = Scaler(scalers[0].kind, list(first.feature_names), np.stack([s.center for s in scalers]),
                    np.stack([s.scale for s in scalers]), names)
    summary = panel_summary(bundles, cut, label, data, window, splits, masked, per_series, dropped)
    summary["future_names"] = future_names(data, list(statics.columns))
    summary["static_columns"] = list(data.static_columns or [])
    summary["static_features"] = {str(n): {c: float(v) for c, v in row.items()} for n, row in statics.iterrows()}
    return WindowedData(splits["train"], splits["val"], splits["test"], list(first.feature_names),
                        list(first.target_names), scaler, window.input, window.output, summary,
                        future_names(data, list(statics.columns)), names)


def _concat(parts: list[SplitWindows]) -> SplitWindows:
    return SplitWindows(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]),
                        np.concatenate([p.origin for p in parts]), np.concatenate([p.future for p in parts]),
                        None if any(p.mask is None for p in parts) else np.concatenate([p.mask for p in parts]),
                        np.concatenate([p.series for p in parts]))
