"""Regular frequency, gap filling, missing values and implausible-value (outlier) handling."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset

from data_pipeline.errors import MAX_LISTED, DataError

log = logging.getLogger("data_pipeline")

# A centred rolling median follows the seasonal cycle, so a value is judged against its own season: a global
# band around the yearly median misses Delhi's 938 hPa readings (plausible in no season, but closer to the
# summer level than a wide global band) while flagging nothing extra.
LEVEL_WINDOW = 31
# MAD alone is too narrow for skewed, heavy-tailed columns (wind gusts, rain), which are real weather, not
# garbage; the residual spread between the 0.5% and 99.5% quantiles (as a normal-equivalent sigma) widens the
# band there, while a few garbage rows (well under 0.5% of the data) cannot move those quantiles.
TAIL_Q = 0.005
_TAIL_Z = NormalDist().inv_cdf(1 - TAIL_Q)


def infer_frequency(index: pd.DatetimeIndex, label: str) -> BaseOffset:
    if len(index) < 2:
        raise DataError(f"{label}: only {len(index)} row(s); a time series needs many more rows")
    with warnings.catch_warnings():
        # pandas 3 warns that infer_freq will return an offset instead of a string; to_offset takes both.
        warnings.simplefilter("ignore")
        inferred = pd.infer_freq(index) if len(index) >= 3 else None
    if inferred is not None:
        return to_offset(inferred)
    # With gaps infer_freq gives up; the most common step is the intended one.
    step = pd.Series(index[1:] - index[:-1]).mode().iloc[0]
    return to_offset(step)


def freq_name(freq: BaseOffset) -> str:
    return freq.freqstr


def regularize(frame: pd.DataFrame, freq: BaseOffset, label: str) -> tuple[pd.DataFrame, list[dict], int]:
    """Reindex onto the regular grid; returns the frame (gap rows all NaN), gap list and missing-row count."""
    grid = pd.date_range(frame.index[0], frame.index[-1], freq=freq, name=frame.index.name)
    off = frame.index.difference(grid)
    if len(off):
        shown = ", ".join(str(d) for d in off[:5])
        raise DataError(
            f"{label}: {len(off)} date(s) do not fall on the {freq_name(freq)} grid starting {frame.index[0].date()}:"
            f" {shown}; the series must have a regular frequency"
        )
    missing = grid.difference(frame.index)
    gaps: list[dict] = []
    if len(missing):
        pos = grid.get_indexer(missing)
        starts = np.flatnonzero(np.diff(pos, prepend=-2) != 1)
        ends = np.append(starts[1:], len(pos)) - 1
        for s, e in zip(starts, ends, strict=True):
            gaps.append(
                {
                    "start": str(missing[s].date()),
                    "end": str(missing[e].date()),
                    "missing_rows": int(e - s + 1),
                }
            )
    return frame.reindex(grid), gaps, len(missing)


@dataclass(frozen=True)
class OutlierStats:
    """Per-column residual centre/scale learned on the training data; None scale = column not checked."""

    center: dict[str, float]
    scale: dict[str, float | None]


def _level(s: pd.Series) -> pd.Series:
    return s.rolling(LEVEL_WINDOW, center=True, min_periods=1).median()


def fit_outlier_stats(frame: pd.DataFrame) -> OutlierStats:
    center: dict[str, float] = {}
    scale: dict[str, float | None] = {}
    for col in frame.columns:
        r = (frame[col] - _level(frame[col])).dropna()
        if r.empty:
            center[col], scale[col] = 0.0, None
            continue
        med = float(r.median())
        mad = 1.4826 * float((r - med).abs().median())
        tail = float(r.quantile(1 - TAIL_Q) - r.quantile(TAIL_Q)) / (2 * _TAIL_Z)
        sc = max(mad, tail)
        center[col] = med
        # A constant column has no spread to judge against; flagging would mark every change.
        scale[col] = sc if np.isfinite(sc) and sc > 0 else None
    return OutlierStats(center, scale)


def handle_outliers(
    frame: pd.DataFrame,
    stats: OutlierStats,
    threshold: float,
    policy: str,
    label: str,
    level_source: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    """Flag |residual - centre| / scale > threshold and apply keep | clip | interpolate (interpolate -> NaN here).

    `level_source` lets a test file be judged against a rolling level that includes the end of the training
    data, so its first days are not compared with a level built from a handful of rows.
    """
    out = frame.copy()
    flagged: list[dict] = []
    for col in frame.columns:
        sc = stats.scale.get(col)
        if sc is None:
            continue
        src = frame[col] if level_source is None else level_source[col]
        level = _level(src).reindex(frame.index)
        lo = level + stats.center[col] - threshold * sc
        hi = level + stats.center[col] + threshold * sc
        x = frame[col]
        mask = ((x < lo) | (x > hi)) & x.notna()
        for d in x.index[mask]:
            flagged.append({"column": col, "date": str(d.date()), "value": float(x[d]), "file": label})
        if policy == "clip":
            out[col] = x.clip(lower=lo, upper=hi)
        elif policy == "interpolate":
            out.loc[mask, col] = np.nan
    if flagged:
        shown = ", ".join(f"{f['column']}={f['value']:g} on {f['date']}" for f in flagged[:MAX_LISTED])
        log.warning("%s: %d implausible value(s) (policy %s): %s", label, len(flagged), policy, shown)
        for f in flagged:
            log.info("outlier %s: %s=%g on %s", label, f["column"], f["value"], f["date"])
    return out, flagged


def check_nans(frame: pd.DataFrame, gap_rows: pd.Series, policy: str, label: str) -> dict[str, int]:
    """Count missing cells in observed rows (gap rows are reported separately); raise under nan_policy=error."""
    cells = frame[~gap_rows].isna()
    counts = {c: int(n) for c, n in cells.sum().items() if n}
    for col in frame.columns:
        if frame[col].isna().all():
            raise DataError(f"{label}: column {col!r} has no values at all; drop it from data.features")
    if counts and policy == "error":
        col = next(iter(counts))
        dates = frame.index[~gap_rows.to_numpy() & cells[col].to_numpy()]
        shown = ", ".join(str(d.date()) for d in dates[:5])
        raise DataError(
            f"{label}: {sum(counts.values())} missing value(s); column {col!r} is empty on {shown}; "
            "fill them or set data.nan_policy=interpolate"
        )
    return counts


def fill_missing(frame: pd.DataFrame, gap_rows: pd.Series, gap_policy: str) -> pd.DataFrame:
    """Gap rows follow gap_policy; every other hole (missing cell, removed outlier) is time-interpolated."""
    interp = frame.interpolate(method="time", limit_direction="both")
    # Edges (leading/trailing NaN) take the nearest observed value: there is nothing to interpolate between.
    interp = interp.ffill().bfill()
    if gap_policy == "ffill":
        filled = frame.ffill().bfill()
        interp.loc[gap_rows.to_numpy()] = filled.loc[gap_rows.to_numpy()]
    return interp


def calendar_frame(index: pd.DatetimeIndex) -> pd.DataFrame:
    """Seasonal position from the date alone, so it is known for future days too."""
    doy = 2 * np.pi * (index.day_of_year.to_numpy() - 1) / 365.25
    dow = 2 * np.pi * index.day_of_week.to_numpy() / 7
    return pd.DataFrame(
        {"doy_sin": np.sin(doy), "doy_cos": np.cos(doy), "dow_sin": np.sin(dow), "dow_cos": np.cos(dow)},
        index=index,
    )


CALENDAR_COLUMNS = ("doy_sin", "doy_cos", "dow_sin", "dow_cos")
