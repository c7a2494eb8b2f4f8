"""`load_series`: source file(s) -> cleaned, regular, date-indexed feature frame plus a summary."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset

from data_pipeline.calendars import (
    CALENDAR_COLUMNS,
    calendar_frame,
    freq_name,
    invented_rows,
    regularize,
    resolve_frequency,
    typical_step,
)
from data_pipeline.config import DataConfig, SplitConfig
from data_pipeline.errors import MAX_LISTED, DataError
from data_pipeline.identity import source_digest
from data_pipeline.io import parse_table, read_table, resolve_columns, to_numeric_features
from data_pipeline.missing import check_nans, fill_missing
from data_pipeline.outlier_stats import fit_outlier_stats
from data_pipeline.outliers import handle_outliers
from data_pipeline.splits import training_rows


@dataclass
class SeriesBundle:
    """Cleaned series. `train` is the training file (all of the data when there is no test file)."""

    train: pd.DataFrame  # columns == feature_names, DatetimeIndex on a regular grid, float64, no NaN
    test: pd.DataFrame | None
    feature_names: list[str]
    target_names: list[str]
    freq: BaseOffset | None  # None: data.frequency=rows, consecutive rows are consecutive steps
    digest: str  # hash of the source bytes: the cache key's data part
    summary: dict[str, Any] = field(default_factory=dict)
    # True where the value was not observed as it stands: missing (gap row, empty cell) or flagged implausible.
    # Same index as `frame`; such target cells are repaired for use as inputs but never scored.
    unobserved: pd.DataFrame | None = None
    # A panel's encoded static features (data_pipeline/statics.py), constant columns of `frame` among the
    # known-future ones: placed after the user's known-future columns, before the calendar.
    static_names: list[str] = field(default_factory=list)

    @property
    def frame(self) -> pd.DataFrame:
        """Training data followed by the test file (if any): the whole usable history."""
        return self.train if self.test is None else pd.concat([self.train, self.test])

    def observed_values(self, columns: list[str]) -> np.ndarray:
        """`frame`'s `columns` as float64, NaN where a cell was not observed as it stands (missing, or repaired:
        `unobserved`): for a consumer that reads a masked cell as missing, not as the value the repair wrote."""
        values = self.frame[columns].to_numpy(dtype=np.float64)
        if self.unobserved is None:
            return values
        masked = self.unobserved[columns].reindex(self.frame.index, fill_value=False).to_numpy(dtype=bool)
        return np.where(masked, np.nan, values)


def _read_source(cfg: DataConfig) -> tuple[pd.DataFrame, str]:
    if cfg.path is not None:
        return read_table(cfg.path, "data.path", cfg.decimal), str(cfg.path)
    if cfg.source == "synthetic_panel":
        from data_pipeline.synthetic import synthetic_panel

        return synthetic_panel(), f"embedded:{cfg.source}"
    from vega_datasets import local_data

    return getattr(local_data, cfg.source)(), f"embedded:{cfg.source}"


def _dates(idx: pd.Index) -> list[str]:
    return [str(d.date()) for d in idx]


def observed_span(frame: pd.DataFrame, label: str) -> tuple[int, int]:
    """Rows [first, last] (positions) of a series' span: from the first row by which every column has been
    observed to the last row before any column stops. Outside it a column has no value yet (a sensor installed
    later, a product launched later) or no more: those rows are not data, and filling them would invent history.
    A column with no value at all is left to `check_nans`, which names it."""
    seen = frame.notna().to_numpy()
    has_any = seen.any(axis=0)
    if not has_any.any():
        return 0, len(frame) - 1
    first = np.where(has_any, seen.argmax(axis=0), 0)
    last = np.where(has_any, len(frame) - 1 - seen[::-1].argmax(axis=0), len(frame) - 1)
    start, end = int(first.max()), int(last.min())
    if start > end:
        late, early = frame.columns[int(first.argmax())], frame.columns[int(np.where(has_any, last, len(frame)).argmin())]
        raise DataError(f"{label}: columns {early!r} and {late!r} are never observed together: {early!r} ends "
                        f"{frame.index[end].date()} before {late!r} starts {frame.index[start].date()}; drop one of "
                        "them from data.features")
    return start, end


def trim_to_span(frame: pd.DataFrame, label: str, leading: bool = True, trailing: bool = True
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows of `frame` inside its observed span (`observed_span`), and what was cut: `leading`/`trailing`
    choose which ends may be cut (a training file followed by a test file keeps its end: the test file goes on)."""
    start, end = observed_span(frame, label)
    start, end = (start if leading else 0), (end if trailing else len(frame) - 1)
    seen = frame.notna().to_numpy()
    late = [str(c) for c, first in zip(frame.columns, seen.argmax(axis=0), strict=True) if leading and start and
            first == start]
    record = {"leading_rows_dropped": start, "trailing_rows_dropped": len(frame) - 1 - end,
              "started_last": late}
    return frame.iloc[start:end + 1], record


def constant_targets(train: pd.DataFrame, targets: list[str], label: str) -> list[str]:
    """A note per target with one value throughout the training split: every model predicts it, so its scores say
    little, and MASE (error over the naive forecast's, zero here) is undefined."""
    return [f"{label}: target {t!r} is constant in the training split ({train[t].dropna().iloc[0]:g}); scores on it "
            "mean little and its MASE is undefined" for t in targets if train[t].nunique(dropna=True) == 1]


def _read_test(cfg: DataConfig) -> tuple[pd.DataFrame, str] | None:
    return None if cfg.test_path is None else (read_table(cfg.test_path, "data.test_path", cfg.decimal),
                                               str(cfg.test_path))


def load_series(cfg: DataConfig, split: SplitConfig | None = None) -> SeriesBundle:
    """Read, validate and clean the data (one series; panels: data_pipeline.panel.build_panel)."""
    if cfg.panel_id_column is not None:
        raise DataError("this data holds many series (data.id_column / data.series_columns / synthetic_panel): "
                        "read it with data_pipeline.panel.build_panel (build_windowed_data does)")
    return clean_series(cfg, split, _read_source(cfg), _read_test(cfg))


def clean_series(cfg: DataConfig, split: SplitConfig | None, source: tuple[pd.DataFrame, str],
                 test_source: tuple[pd.DataFrame, str] | None, train_until: pd.Timestamp | None = None,
                 static: dict[str, float] | None = None) -> SeriesBundle:
    """Validate and clean one series, read as (table, label) from the training file and the test file if any.
    Cleaning is causal: outlier statistics come from the training split (per `split`, or the rows before
    `train_until` when a panel's calendar cut is given) only, each value is judged against a level of earlier
    rows, and every repair carries an earlier value forward, so no later row (and no validation or test row)
    changes an earlier one. `static`: a panel series' encoded static features, added as constant columns."""
    df, label = source
    table = parse_table(df, label, cfg.date_column, cfg.dayfirst)
    known = tuple(cfg.known_future or ())
    features, targets = resolve_columns(table, cfg.features, cfg.targets, list(known))
    if cfg.calendar_features:
        clash = [c for c in CALENDAR_COLUMNS if c in features]
        if clash:
            raise DataError(f"{label}: column(s) {clash} clash with calendar features; rename them")
    # Leading and trailing empty rows are not data: each series runs from its first observation to its last.
    train, span = trim_to_span(to_numeric_features(table, features, known), label, trailing=test_source is None)
    notes = list(table.notes)
    summary: dict[str, Any] = {"source": label, "test_source": None, "rows_train_file": len(train)}

    test: pd.DataFrame | None = None
    overlap: list[str] = []
    if test_source is not None:
        tdf, tlabel = test_source
        ttable = parse_table(tdf, tlabel, cfg.date_column, cfg.dayfirst)
        missing = [c for c in features if c not in ttable.frame.columns]
        if missing:
            raise DataError(
                f"{tlabel}: test file lacks column(s) {missing} that the training file has; "
                f"available columns: {list(ttable.frame.columns)}"
            )
        notes += ttable.notes
        test, test_span = trim_to_span(to_numeric_features(ttable, features, known), tlabel, leading=False)
        span["trailing_rows_dropped"] = test_span["trailing_rows_dropped"]
        summary.update(test_source=tlabel, rows_test_file=len(test))
        common = train.index.intersection(test.index)
        if len(common):
            # The test file is the held-out truth; a training copy of those days would leak it.
            overlap = _dates(common)
            train = train.drop(common)
            warnings.warn(
                f"{label} and {tlabel} share {len(common)} date(s) ({', '.join(overlap[:MAX_LISTED])}); "
                "kept the test file's rows and dropped them from training",
                UserWarning,
                stacklevel=2,
            )
        if train.empty:
            raise DataError(f"{label}: every training date is also in {tlabel}; nothing left to train on")
        if test.index[0] <= train.index[-1]:
            raise DataError(
                f"{tlabel}: test file starts {test.index[0].date()} but training data runs to "
                f"{train.index[-1].date()}; the test file must come after the training period"
            )

    # None under data.frequency=rows: no calendar, so no grid and nothing invented; the dates stay labels.
    freq = resolve_frequency(cfg.frequency, train.index, label)
    observed = train.index
    train, gaps, n_missing = (train, [], 0) if freq is None else regularize(train, freq, label)
    all_gaps = [dict(g, file=label) for g in gaps]
    invented = [invented_rows(label, len(train), n_missing, freq, cfg.gap_policy)]
    train_gap_rows = pd.Series(~train.index.isin(observed), index=train.index)
    if test is not None:
        observed = test.index
        test, tgaps, tmissing = ((test, [], 0) if freq is None
                                 else regularize(test, freq, tlabel))
        all_gaps += [dict(g, file=tlabel) for g in tgaps]
        n_missing += tmissing
        invented.append(invented_rows(tlabel, len(test), tmissing, freq, cfg.gap_policy))
        test_gap_rows = pd.Series(~test.index.isin(observed), index=test.index)
    if all_gaps and cfg.gap_policy == "error":
        g = all_gaps[0]
        raise DataError(
            f"{g['file']}: {len(all_gaps)} gap(s) in the {freq_name(freq)} dates, first {g['start']}.."
            f"{g['end']} ({g['missing_rows']} missing rows); fill them or set data.gap_policy=ffill"
        )

    nan_counts = check_nans(train, train_gap_rows, cfg.nan_policy, label)
    n_fit = (training_rows(len(train), test is not None, split) if train_until is None
             else int(train.index.searchsorted(train_until)))
    stats = fit_outlier_stats(train.iloc[:n_fit], typical_step(train.index) if freq is None else freq)
    notes += constant_targets(train.iloc[:n_fit], targets, label)
    judged = handle_outliers(train, stats, cfg.outlier_threshold, cfg.outlier_policy, label,
                             rule=cfg.outlier_rule, exempt=known)
    flagged, unusual = judged.repaired, judged.unusual
    unobserved = train.isna() | judged.flags  # repaired values are not observations; unusual ones are
    train_clean = fill_missing(judged.frame, train_gap_rows, cfg.gap_policy)
    if test is not None:
        for col, n in check_nans(test, test_gap_rows, cfg.nan_policy, tlabel).items():
            nan_counts[col] = nan_counts.get(col, 0) + n
        # Scale comes from training only; the trailing level looks back into training for the first days.
        tjudged = handle_outliers(test, stats, cfg.outlier_threshold, cfg.outlier_policy, tlabel,
                                  level_source=pd.concat([train, test]), rule=cfg.outlier_rule, exempt=known)
        flagged += tjudged.repaired
        unusual += tjudged.unusual
        unobserved = pd.concat([unobserved, test.isna() | tjudged.flags])
        test = fill_missing(tjudged.frame, test_gap_rows, cfg.gap_policy, history=train_clean)

    static = dict(static or {})
    if static:  # the series' own attributes, the same on every row: known on any date, never judged or repaired
        train_clean = train_clean.assign(**static)
        test = None if test is None else test.assign(**static)
        unobserved = unobserved.assign(**{c: False for c in static})
        features = features + list(static)
    if cfg.calendar_features:
        unobserved = unobserved.join(calendar_frame(unobserved.index) != calendar_frame(
            unobserved.index))  # calendar values are known exactly: all False
        train_clean = train_clean.join(calendar_frame(train_clean.index))
        if test is not None:
            test = test.join(calendar_frame(test.index))
        features = features + list(CALENDAR_COLUMNS)

    full = train_clean if test is None else pd.concat([train_clean, test])
    summary.update(
        rows=len(full),
        rows_train=len(train_clean),
        rows_test_file_clean=None if test is None else len(test),
        date_range={"start": str(full.index[0].date()), "end": str(full.index[-1].date())},
        # rows outside the first..last observation: cut, never filled (nothing is invented outside the span)
        span=span,
        frequency=freq_name(freq),
        frequency_setting=cfg.frequency,
        gaps={"count": len(all_gaps), "missing_rows": n_missing, "first": all_gaps[:MAX_LISTED]},
        # per file: rows the gap policy made up (never scored as targets: they are `unobserved`)
        invented_rows=invented,
        gap_policy=cfg.gap_policy,
        nan_filled=nan_counts,
        nan_policy=cfg.nan_policy,
        outliers=flagged,  # repaired (rule fired, policy applied, never scored); each says why
        unusual=unusual,  # reported only: kept and scored
        outlier_rule=cfg.outlier_rule,
        outlier_policy=cfg.outlier_policy,
        outlier_threshold=cfg.outlier_threshold,
        outlier_level_rows=stats.level_rows,
        outlier_stats_rows=n_fit,
        overlap_dropped={"count": len(overlap), "dates": overlap[:MAX_LISTED]},
        feature_names=list(features),
        target_names=list(targets),
        ignored_columns=list(table.ignored_columns),
        notes=notes,
    )
    if test is not None:
        # Without a calendar the test file's first row is simply the next step.
        step_ok = freq is None or train_clean.index[-1] + freq == test.index[0]
        summary["test_contiguous"] = bool(step_ok)
    return SeriesBundle(train_clean, test, list(features), list(targets), freq, source_digest(cfg), summary,
                        unobserved=unobserved[list(features)], static_names=list(static))


