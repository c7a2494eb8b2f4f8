"""`load_series`: source file(s) -> cleaned, regular, date-indexed feature frame plus a summary."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.tseries.offsets import BaseOffset

from data_pipeline import cleaning
from data_pipeline.config import DataConfig
from data_pipeline.errors import MAX_LISTED, DataError
from data_pipeline.io import file_digest, parse_table, read_table, resolve_columns, to_numeric_features


@dataclass
class SeriesBundle:
    """Cleaned series. `train` is the training file (all of the data when there is no test file)."""

    train: pd.DataFrame  # columns == feature_names, DatetimeIndex on a regular grid, float64, no NaN
    test: pd.DataFrame | None
    feature_names: list[str]
    target_names: list[str]
    freq: BaseOffset
    digest: str  # hash of the source bytes: the cache key's data part
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def frame(self) -> pd.DataFrame:
        """Training data followed by the test file (if any): the whole usable history."""
        return self.train if self.test is None else pd.concat([self.train, self.test])


def source_digest(cfg: DataConfig) -> str:
    """Hash of the source bytes (raises OSError if a file cannot be read)."""
    if cfg.path is None:
        import vega_datasets

        # The embedded data only changes with the package version.
        parts = [f"vega_datasets-{vega_datasets.__version__}:{cfg.source}"]
    else:
        parts = [file_digest(cfg.path)]
    if cfg.test_path is not None:
        parts.append(file_digest(cfg.test_path))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _read_source(cfg: DataConfig) -> tuple[pd.DataFrame, str]:
    if cfg.path is not None:
        return read_table(cfg.path, "data.path"), str(cfg.path)
    from vega_datasets import local_data

    return getattr(local_data, cfg.source)(), f"embedded:{cfg.source}"


def _dates(idx: pd.Index) -> list[str]:
    return [str(d.date()) for d in idx]


def load_series(cfg: DataConfig) -> SeriesBundle:
    df, label = _read_source(cfg)
    table = parse_table(df, label, cfg.date_column)
    features, targets = resolve_columns(table, cfg.features, cfg.targets)
    if cfg.calendar_features:
        clash = [c for c in cleaning.CALENDAR_COLUMNS if c in features]
        if clash:
            raise DataError(f"{label}: column(s) {clash} clash with calendar features; rename them")
    train = to_numeric_features(table, features)
    notes = list(table.notes)
    summary: dict[str, Any] = {"source": label, "test_source": None, "rows_train_file": len(train)}

    test: pd.DataFrame | None = None
    overlap: list[str] = []
    if cfg.test_path is not None:
        tdf = read_table(cfg.test_path, "data.test_path")
        tlabel = str(cfg.test_path)
        ttable = parse_table(tdf, tlabel, cfg.date_column)
        missing = [c for c in features if c not in ttable.frame.columns]
        if missing:
            raise DataError(
                f"{tlabel}: test file lacks column(s) {missing} that the training file has; "
                f"available columns: {list(ttable.frame.columns)}"
            )
        notes += ttable.notes
        test = to_numeric_features(ttable, features)
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

    freq = cleaning.infer_frequency(train.index, label)
    observed = train.index
    train, gaps, n_missing = cleaning.regularize(train, freq, label)
    all_gaps = [dict(g, file=label) for g in gaps]
    train_gap_rows = pd.Series(~train.index.isin(observed), index=train.index)
    if test is not None:
        observed = test.index
        test, tgaps, tmissing = cleaning.regularize(test, freq, str(cfg.test_path))
        all_gaps += [dict(g, file=str(cfg.test_path)) for g in tgaps]
        n_missing += tmissing
        test_gap_rows = pd.Series(~test.index.isin(observed), index=test.index)
    if all_gaps and cfg.gap_policy == "error":
        g = all_gaps[0]
        raise DataError(
            f"{g['file']}: {len(all_gaps)} gap(s) in the {cleaning.freq_name(freq)} dates, first {g['start']}.."
            f"{g['end']} ({g['missing_rows']} missing rows); fill them or set data.gap_policy=interpolate or ffill"
        )

    nan_counts = cleaning.check_nans(train, train_gap_rows, cfg.nan_policy, label)
    stats = cleaning.fit_outlier_stats(train)
    train_clean, flagged = cleaning.handle_outliers(
        train, stats, cfg.outlier_threshold, cfg.outlier_policy, label
    )
    train_clean = cleaning.fill_missing(train_clean, train_gap_rows, cfg.gap_policy)
    if test is not None:
        for col, n in cleaning.check_nans(test, test_gap_rows, cfg.nan_policy, str(cfg.test_path)).items():
            nan_counts[col] = nan_counts.get(col, 0) + n
        # Scale comes from training only; the rolling level may look back into training for the first days.
        test_clean, tflagged = cleaning.handle_outliers(
            test,
            stats,
            cfg.outlier_threshold,
            cfg.outlier_policy,
            str(cfg.test_path),
            level_source=pd.concat([train, test]),
        )
        flagged += tflagged
        test = cleaning.fill_missing(test_clean, test_gap_rows, cfg.gap_policy)

    if cfg.calendar_features:
        train_clean = train_clean.join(cleaning.calendar_frame(train_clean.index))
        if test is not None:
            test = test.join(cleaning.calendar_frame(test.index))
        features = features + list(cleaning.CALENDAR_COLUMNS)

    full = train_clean if test is None else pd.concat([train_clean, test])
    summary.update(
        rows=len(full),
        rows_train=len(train_clean),
        rows_test_file_clean=None if test is None else len(test),
        date_range={"start": str(full.index[0].date()), "end": str(full.index[-1].date())},
        frequency=cleaning.freq_name(freq),
        gaps={"count": len(all_gaps), "missing_rows": n_missing, "first": all_gaps[:MAX_LISTED]},
        gap_policy=cfg.gap_policy,
        nan_filled=nan_counts,
        nan_policy=cfg.nan_policy,
        outliers=flagged,
        outlier_policy=cfg.outlier_policy,
        outlier_threshold=cfg.outlier_threshold,
        overlap_dropped={"count": len(overlap), "dates": overlap[:MAX_LISTED]},
        feature_names=list(features),
        target_names=list(targets),
        ignored_columns=list(table.ignored_columns),
        notes=notes,
    )
    if test is not None:
        step_ok = train_clean.index[-1] + freq == test.index[0]
        summary["test_contiguous"] = bool(step_ok)
    return SeriesBundle(train_clean, test, list(features), list(targets), freq, source_digest(cfg), summary)


def source_paths(cfg: DataConfig) -> list[Path]:
    return [Path(p) for p in (cfg.path, cfg.test_path) if p is not None]
