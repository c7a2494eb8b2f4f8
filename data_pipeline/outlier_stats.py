"""What the training split teaches the outlier rule, per column: the trailing level, the residual spread, the
largest move."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset

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

# The largest move (see data_pipeline/impossible.py for the rule that uses it): the training split's MOVE_TAIL_Q upper
# quantile, leaving out at least TAIL_ROWS moves; a value's move is its distance from the nearest of the trailing
# level, the last ANCHORS values and its seasonal anchor (`season_rows`); a series grown GROWTH_FACTOR-fold over
# training is measured in log terms.
TAIL_ROWS = 5
MOVE_TAIL_Q = 0.01  # the largest move: the top 1% of the training split's moves left out
ANCHORS = 2
GROWTH_FACTOR = 2.0


@dataclass(frozen=True)
class OutlierStats:
    """Per-column statistics learned on the training data; None = column not checked (no spread to judge by).

    `center`/`scale`: the robust z of the residual against the trailing level (rule robust_z; under the default
    rule, what marks a value unusual). `largest_move`: the training split's largest move (its MOVE_TAIL_Q upper
    quantile; rule impossible); `largest_log_move`: the same in log terms, for a multiplicative series (else None)."""

    center: dict[str, float]
    scale: dict[str, float | None]
    level_rows: int
    largest_move: dict[str, float | None]
    largest_log_move: dict[str, float | None]
    # per column: the training split's largest move in log terms for any series positive throughout it (else None):
    # what an order-of-magnitude (unit) error is judged by in a series that is not multiplicative
    largest_ratio_move: dict[str, float | None] | None = None
    season: dict[str, int | None] | None = None  # per column: rows in one season (`has_season`), None: none
    fit_end: pd.Timestamp | None = None  # the training split's last date (None: all rows judged were training)


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


def season_rows(freq: BaseOffset | pd.Timedelta) -> int | None:
    """Rows in one season of data at this frequency: a year of months (12), quarters (4) or weeks (52), a week of
    days (7) or business days (5), a day of hours or shorter steps (24, 48, ...); None for yearly data and steps that
    do not divide a day or a year."""
    n = getattr(freq, "n", 1)
    o = pd.offsets
    per_year = (12 if isinstance(freq, (o.MonthBegin, o.MonthEnd, o.BusinessMonthBegin, o.BusinessMonthEnd))
                else 4 if isinstance(freq, (o.QuarterBegin, o.QuarterEnd, o.BQuarterBegin, o.BQuarterEnd))
                else 52 if isinstance(freq, o.Week) else 0)
    if per_year or isinstance(freq, (o.YearBegin, o.YearEnd, o.BYearBegin, o.BYearEnd)):
        return per_year // n if per_year and per_year % n == 0 and per_year // n > 1 else None
    if isinstance(freq, o.BusinessDay):
        return 5 if n == 1 else None
    try:
        step = pd.Timedelta(freq)
    except (TypeError, ValueError):
        return None
    if step <= pd.Timedelta(0):
        return None
    if step < pd.Timedelta(days=1):
        rows = pd.Timedelta(days=1) / step
        return int(rows) if float(rows).is_integer() and rows > 1 else None
    if step == pd.Timedelta(days=1):
        return 7
    if step == pd.Timedelta(days=7):
        return 52
    return None


def has_season(values: pd.Series, season: int | None) -> int | None:
    """`season` when the training values follow it: the seasonal anchor (x[t-m] + x[t-1] - x[t-1-m]) is nearer
    to the values than the last value is, in the median (so white noise or weather on a weekly grid has no season,
    monthly employment has one); else None. A season is data, not the calendar's promise."""
    x = values.dropna()
    if season is None or len(x) < 3 * season:
        return None
    before = values.ffill()
    seasonal = (values - (before.shift(season) + before.shift(1) - before.shift(1 + season))).abs().median()
    last = (values - before.shift(1)).abs().median()
    return season if seasonal < last else None


def trailing_level(s: pd.Series, rows: int) -> pd.Series:
    """Median of the `rows` rows before each row (not the row itself, nor anything after it)."""
    return s.shift(1).rolling(rows, min_periods=1).median()


def _move(x: pd.Series, level: pd.Series, season: int | None) -> pd.Series:
    """Distance from the nearest anchor: the trailing level, one of the ANCHORS values before (the k-th back
    divided by sqrt(k), the spread of a random walk's k steps), or the seasonal anchor (x[t-m] + x[t-1] - x[t-1-m])."""
    before = x.ffill()
    dist = (x - level).abs().fillna(np.inf).where(x.notna())
    for k in range(1, ANCHORS + 1):
        dist = np.minimum(dist, ((x - before.shift(k)).abs() / np.sqrt(k)).fillna(np.inf))
    if season:
        anchor = before.shift(season) + before.shift(1) - before.shift(1 + season)
        dist = np.minimum(dist, (x - anchor).abs().fillna(np.inf))
    return dist.replace(np.inf, np.nan)


def _largest_move(values: pd.Series, rows: int, season: int | None) -> float | None:
    """The training moves' upper MOVE_TAIL_Q quantile, with at least TAIL_ROWS moves above it: in a short training
    split the 99% quantile is the largest move, which a single garbage value would set."""
    moves = _move(values, trailing_level(values, rows), season).dropna()
    if len(moves) <= TAIL_ROWS:
        return None  # too few moves to leave TAIL_ROWS of them out: no largest move to judge by
    big = float(moves.quantile(1 - max(MOVE_TAIL_Q, TAIL_ROWS / len(moves))))
    return big if np.isfinite(big) and big > 0 else None


def _positive(values: pd.Series) -> bool:
    """Positive throughout (but for at most one value in 200: a garbage zero or sign error in training)."""
    seen = values.dropna()
    return len(seen) >= 8 and int((seen <= 0).sum()) <= max(1, int(TAIL_Q * len(seen)))


def _multiplicative(values: pd.Series) -> bool:
    """Positive throughout (`_positive`) and grown or shrunk at least GROWTH_FACTOR-fold from the training split's
    first quarter to its last: a series whose moves scale with its level (prices, GDP), not one that merely sits
    above zero (a temperature in Fahrenheit)."""
    if not _positive(values):
        return False
    seen = values.dropna()
    quarter = len(seen) // 4
    first, last = float(seen.iloc[:quarter].median()), float(seen.iloc[-quarter:].median())
    return first > 0 and last > 0 and max(last / first, first / last) >= GROWTH_FACTOR


def fit_outlier_stats(frame: pd.DataFrame, freq: BaseOffset | pd.Timedelta) -> OutlierStats:
    """Residual centre and spread, and the largest move, per column; pass only the training split's rows."""
    rows = level_rows(freq)
    season = season_rows(freq)
    seasons: dict[str, int | None] = {}
    center: dict[str, float] = {}
    scale: dict[str, float | None] = {}
    largest: dict[str, float | None] = {}
    largest_log: dict[str, float | None] = {}
    largest_ratio: dict[str, float | None] = {}
    for col in frame.columns:
        r = (frame[col] - trailing_level(frame[col], rows)).dropna()
        seasons[col] = has_season(frame[col], season)
        largest[col] = _largest_move(frame[col], rows, seasons[col])
        largest_ratio[col] = _largest_move(np.log(frame[col].where(frame[col] > 0)), rows, seasons[col]
                                           ) if _positive(frame[col]) else None
        largest_log[col] = largest_ratio[col] if _multiplicative(frame[col]) else None
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
    return OutlierStats(center, scale, rows, largest, largest_log, largest_ratio, seasons,
                        frame.index[-1] if len(frame) else None)
