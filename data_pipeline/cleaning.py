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

from data_pipeline.config import ANCHORED_LEGACY, AUTO_FREQUENCY, LEGACY_ALIASES, ROWS
from data_pipeline.errors import MAX_LISTED, DataError

log = logging.getLogger("data_pipeline")

# A trailing rolling median follows the seasonal cycle, so a value is judged against its own season: a global
# band around the yearly median misses Delhi's 938 hPa readings (plausible in no season, but closer to the
# summer level than a wide global band) while flagging nothing extra. Trailing (only rows before the one judged),
# so no later value, and no value of a later split, shapes how an earlier one is cleaned. The window covers about
# a month whatever the sampling step (31 rows of daily data, 744 of hourly, 5 of weekly), with at least
# MIN_LEVEL_ROWS rows so a median has something to be robust with (monthly data: 5 months).
LEVEL_SPAN = pd.Timedelta(days=31)
MIN_LEVEL_ROWS = 5
# MAD alone is too narrow for skewed, heavy-tailed columns (wind gusts, rain), which are real weather, not
# garbage; the residual spread between the 0.5% and 99.5% quantiles (as a normal-equivalent sigma) widens the
# band there, while a few garbage rows (well under 0.5% of the data) cannot move those quantiles.
TAIL_Q = 0.005
_TAIL_Z = NormalDist().inv_cdf(1 - TAIL_Q)


# Business-day data (prices, sales, call volumes) has no weekend rows. Daily dates spanning at least this long
# without one Saturday or Sunday are no accident: the calendar is B, and only the weekdays missing (holidays) are
# gaps to fill. A shorter stretch could miss its weekends by chance.
BUSINESS_MIN_SPAN = pd.Timedelta(days=21)
# Above this share of invented (gap-filled) rows the data's calendar is probably not the one assumed.
INVENTED_WARN_SHARE = 0.05


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
    # one time of day throughout (midnight, or a daily close at 16:00): the steps are calendar days
    daily = (index - index.normalize()).nunique() == 1
    if step == pd.Timedelta(days=1) and daily and is_business_days(index):
        return to_offset("B")
    if daily and step % pd.Timedelta(days=1) == pd.Timedelta(0):
        return to_offset(f"{step.days}D")  # whole days: D (seasons, climatology), not the equivalent 24h
    return to_offset(step)


def is_business_days(index: pd.DatetimeIndex) -> bool:
    """No Saturday or Sunday over a span long enough to hold several weekends."""
    return index[-1] - index[0] >= BUSINESS_MIN_SPAN and not bool((index.day_of_week >= 5).any())


def resolve_frequency(setting: str, index: pd.DatetimeIndex, label: str) -> BaseOffset | None:
    """The offset `data.frequency` names for these dates: inferred (auto), None (rows: no calendar), or the alias;
    M, Q and Y (which pandas 3 no longer parses) become their start variant when the dates start periods, else
    their end variant."""
    if setting == ROWS:
        return None
    if setting == AUTO_FREQUENCY:
        return infer_frequency(index, label)
    if setting in LEGACY_ALIASES:
        return to_offset(LEGACY_ALIASES[setting])
    if setting in ANCHORED_LEGACY:
        start = to_offset(f"{setting}S")
        return start if all(start.is_on_offset(d) for d in index) else to_offset(f"{setting}E")
    return to_offset(setting)


def freq_name(freq: BaseOffset | None) -> str:
    return ROWS if freq is None else freq.freqstr


def typical_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The median gap between consecutive dates: what one row stands for when rows are the steps."""
    return pd.Series(index[1:] - index[:-1]).median() if len(index) > 1 else pd.Timedelta(days=1)


def invented_rows(label: str, rows: int, invented: int, freq: BaseOffset | None, gap_policy: str) -> dict:
    """How many of a file's rows the gap policy made up, with a warning when that is more than a few."""
    share = invented / rows if rows else 0.0
    entry: dict = {"file": label, "rows": rows, "invented": invented, "share": round(share, 4), "warning": None}
    if share > INVENTED_WARN_SHARE:
        entry["warning"] = (
            f"{label}: {invented} of {rows} rows ({share:.1%}) were invented by data.gap_policy={gap_policy} to fill "
            f"gaps in the {freq_name(freq)} calendar; if the data keeps its own calendar set data.frequency=B "
            "(business days) or data.frequency=rows (consecutive rows are the steps), or data.gap_policy=error "
            "to refuse gaps")
    return entry


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
    level_rows: int


def level_rows(freq: BaseOffset | pd.Timedelta) -> int:
    """Rows in the rolling level's window: about LEVEL_SPAN of data at this frequency (a Timedelta: the typical
    step of rows without a calendar)."""
    try:
        step = pd.Timedelta(freq)
    except (TypeError, ValueError):
        # Calendar offsets (months, business days) have no fixed length: their typical one (a business day is
        # 7/5 calendar days on average, so a month is about 22 rows).
        n = getattr(freq, "n", 1)
        if "M" in freq.freqstr:
            step = pd.Timedelta(days=30.4 * n)
        elif isinstance(freq, pd.offsets.BusinessDay):
            step = pd.Timedelta(days=1.4 * n)
        else:
            step = pd.Timedelta(days=1)
    return max(MIN_LEVEL_ROWS, int(round(LEVEL_SPAN / step)))


def _level(s: pd.Series, rows: int) -> pd.Series:
    """Median of the `rows` rows before each row (not the row itself, nor anything after it)."""
    return s.shift(1).rolling(rows, min_periods=1).median()


def fit_outlier_stats(frame: pd.DataFrame, freq: BaseOffset | pd.Timedelta) -> OutlierStats:
    """Residual centre and spread per column; pass only the training split's rows."""
    rows = level_rows(freq)
    center: dict[str, float] = {}
    scale: dict[str, float | None] = {}
    for col in frame.columns:
        r = (frame[col] - _level(frame[col], rows)).dropna()
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
    return OutlierStats(center, scale, rows)


def handle_outliers(
    frame: pd.DataFrame,
    stats: OutlierStats,
    threshold: float,
    policy: str,
    label: str,
    level_source: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[dict], pd.DataFrame]:
    """Flag |residual - centre| / scale > threshold and apply keep | clip | interpolate (interpolate -> NaN here).

    `level_source` lets a test file be judged against a rolling level that includes the end of the training
    data, so its first days are not compared with a level built from a handful of rows. Returns the frame, the
    flagged values and a boolean frame marking the flagged cells.
    """
    out = frame.copy()
    flagged: list[dict] = []
    flags = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    for col in frame.columns:
        sc = stats.scale.get(col)
        if sc is None:
            continue
        src = frame[col] if level_source is None else level_source[col]
        level = _level(src, stats.level_rows).reindex(frame.index)
        lo = level + stats.center[col] - threshold * sc
        hi = level + stats.center[col] + threshold * sc
        x = frame[col]
        mask = ((x < lo) | (x > hi)) & x.notna()
        flags[col] = mask
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
    return out, flagged, flags


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


def fill_missing(frame: pd.DataFrame, gap_rows: pd.Series, gap_policy: str,
                 history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fill every hole (gap row, missing cell, removed outlier) from earlier rows only: the last good value.

    Causal on purpose: an interpolation would repair an input day from a later (possibly target) day. Both gap
    policies (`interpolate`, `ffill`) therefore fill forward. `history` (e.g. the training file before a test
    file) supplies the last good value for holes at the start of `frame`; holes before any observation at all
    (the very first rows of the series) take the first observed value, the only repair with no past.
    """
    del gap_rows, gap_policy  # every hole is filled the same causal way
    if history is None or history.empty:
        return frame.ffill().bfill()
    joined = pd.concat([history, frame]).ffill()
    return joined.iloc[len(history):].bfill()


def calendar_frame(index: pd.DatetimeIndex) -> pd.DataFrame:
    """Seasonal position from the date alone, so it is known for future days too."""
    doy = 2 * np.pi * (index.day_of_year.to_numpy() - 1) / 365.25
    dow = 2 * np.pi * index.day_of_week.to_numpy() / 7
    return pd.DataFrame(
        {"doy_sin": np.sin(doy), "doy_cos": np.cos(doy), "dow_sin": np.sin(dow), "dow_cos": np.cos(dow)},
        index=index,
    )


CALENDAR_COLUMNS = ("doy_sin", "doy_cos", "dow_sin", "dow_cos")
