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


# The default rule (data.outlier_rule=impossible) repairs only what no real process produces. A value's "move" is its
# distance from the nearest anchor: the trailing level (median of the rows before it) or one of the last ANCHORS good
# values before it (per row since that value). A recession, a boom or a trend leaving the training range moves step by
# step, so it stays close to the last values even when the lagging median falls behind; a unit error, a sign error or
# a garbage spike is far from all of them. Impossible: a move more than IMPOSSIBLE_FACTOR times the largest move the
# training split shows (its 99% quantile, leaving out at least TAIL_ROWS moves, so garbage under 1% of the rows cannot
# widen it: Delhi's file holds 9 garbage pressures in 1,461 rows). Two anchors, counted per row, so a missed or
# repaired value does not make the real ones after it look impossible; a value that carries on from the flagged one
# just before it is a shift or a turn under way and is kept (`_carries_on`). A series positive throughout its training
# split and grown GROWTH_FACTOR-fold over it (prices, GDP) is judged in ratio (log) terms instead: its moves grow with
# its level, so a crash of a stock that grew tenfold is not judged by the moves of its cheap years, while a unit error
# (x10 and beyond) or a sign error still is. IMPOSSIBLE_FACTOR, on benchmarks/cleaning.py's corpus of 32 real series
# (30,132 real values): 3 repairs 2 real values (the 2010 census hiring spike in US government employment and its end)
# and catches 94% of spikes of 20+ robust sd and all unit errors that move a value 20+ robust sd; 4 repairs 1 and
# catches 90% of those spikes.
IMPOSSIBLE_FACTOR = 3.0
TAIL_ROWS = 5
MOVE_TAIL_Q = 0.01  # the largest move: the top 1% of the training split's moves left out
ANCHORS = 2
GROWTH_FACTOR = 2.0
UNIT_RATIO = 5.0
SHIFT_SHARE = 0.25
RULE_IMPOSSIBLE, RULE_ROBUST_Z = "impossible", "robust_z"


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


@dataclass(frozen=True)
class OutlierResult:
    """The frame after the policy, the values altered (`repaired`: the rule fired, the policy applied; under
    policy keep nothing changes but they are still listed and never scored), the values only reported as
    `unusual` (kept and scored), and a boolean frame marking the repaired cells."""

    frame: pd.DataFrame
    repaired: list[dict]
    unusual: list[dict]
    flags: pd.DataFrame


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


def _move(x: pd.Series, level: pd.Series) -> pd.Series:
    """Distance from the nearest anchor: the trailing level, or one of the ANCHORS values before (the k-th back
    counted per row, divided by k)."""
    before = x.ffill()
    dist = (x - level).abs()
    for k in range(1, ANCHORS + 1):
        dist = np.minimum(dist, ((x - before.shift(k)).abs() / k).fillna(np.inf))
    return dist


def _largest_move(values: pd.Series, rows: int) -> float | None:
    """The training moves' upper MOVE_TAIL_Q quantile, with at least TAIL_ROWS moves above it: in a short training
    split the 99% quantile is the largest move, which a single garbage value would set."""
    moves = _move(values, _level(values, rows)).dropna()
    if moves.empty:
        return None
    big = float(moves.quantile(1 - max(MOVE_TAIL_Q, TAIL_ROWS / len(moves))))
    return big if np.isfinite(big) and big > 0 else None


def _multiplicative(values: pd.Series) -> bool:
    """Positive throughout (but for at most one value in 200: a garbage zero or sign error in training) and grown
    or shrunk at least GROWTH_FACTOR-fold from the training split's first quarter to its last: a series whose
    moves scale with its level (prices, GDP), not one that merely sits above zero (a temperature in Fahrenheit)."""
    seen = values.dropna()
    if len(seen) < 8 or int((seen <= 0).sum()) > max(1, int(TAIL_Q * len(seen))):
        return False
    quarter = len(seen) // 4
    first, last = float(seen.iloc[:quarter].median()), float(seen.iloc[-quarter:].median())
    return first > 0 and last > 0 and max(last / first, first / last) >= GROWTH_FACTOR


def fit_outlier_stats(frame: pd.DataFrame, freq: BaseOffset | pd.Timedelta) -> OutlierStats:
    """Residual centre and spread, and the largest move, per column; pass only the training split's rows."""
    rows = level_rows(freq)
    center: dict[str, float] = {}
    scale: dict[str, float | None] = {}
    largest: dict[str, float | None] = {}
    largest_log: dict[str, float | None] = {}
    for col in frame.columns:
        r = (frame[col] - _level(frame[col], rows)).dropna()
        largest[col] = _largest_move(frame[col], rows)
        largest_log[col] = _largest_move(np.log(frame[col].where(frame[col] > 0)), rows) if _multiplicative(
            frame[col]) else None
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
    return OutlierStats(center, scale, rows, largest, largest_log)


def _carries_on(value: float, previous: float, origin: float, limit: float) -> bool:
    """Whether `value` carries on a run that left the level `origin` (the last good value before the run) at the
    `previous` value: within `limit` of it, or much nearer to it than to `origin` (SHIFT_SHARE of the distance: a
    recession falling month after month), and not an order of magnitude (UNIT_RATIO-fold or more) or a sign away
    from `origin` (a run in the wrong unit or sign stays impossible)."""
    step = abs(value - previous)
    if step > limit and step > SHIFT_SHARE * abs(value - origin):
        return False
    if abs(origin) <= limit:  # near zero in the series' own terms, a ratio means nothing
        return True
    return 1 / UNIT_RATIO < value / origin < UNIT_RATIO


def _impossible(x: pd.Series, level: pd.Series, limit: float, log_limit: float | None
                ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Which values are impossible, each one's move in units of the limit, and which were kept only as carrying on
    a shift.

    Impossible: farther than `limit` from the trailing level and farther than `limit` x (rows since) from each of
    the last ANCHORS good values; a multiplicative series (`log_limit` given) is judged so in log terms. A good value
    is an earlier value not itself impossible, so a run of garbage (a week logged in the wrong unit) is judged
    against the real values before it, not its own kind; two anchors, so one garbage value the rule missed does not
    make the real ones after it look impossible. A value that carries on from a flagged one just before it
    (`_carries_on`) is a level shift or a turn under way, not an isolated spike: kept, as is the rest of that run.
    Only the first value of a sudden real shift is repaired: causally it cannot be told from a spike. Only earlier
    values decide: the rule is causal."""
    values = x.to_numpy(dtype=np.float64)
    lev = level.to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = np.log(values) if log_limit is not None else values
        log_lev = np.log(lev) if log_limit is not None else lev
    logs = np.where(np.isnan(values), np.nan, np.nan_to_num(logs, nan=-np.inf))  # <= 0: infinitely far in ratio
    observed = ~np.isnan(values)
    flags = np.zeros(len(values), dtype=bool)
    in_run = np.zeros(len(values), dtype=bool)  # far from the level: flagged, or kept as carrying on a shift
    carried = np.zeros(len(values), dtype=bool)
    ratio = np.zeros(len(values))
    origin = np.nan  # the last good value before the current run
    # Only a value far from the level can be impossible, so only those rows are judged, in order (each judgement
    # needs the earlier ones: a flagged value is no anchor).
    far = np.abs(values - lev) > limit
    if log_limit is not None:
        with np.errstate(invalid="ignore"):
            far |= ~(np.abs(logs - log_lev) <= log_limit)  # a value <= 0 is infinitely far in ratio terms
    for i in np.flatnonzero(observed & far):
        anchors: list[int] = []  # the last ANCHORS good rows before i
        j = i - 1
        while j >= 0 and len(anchors) < ANCHORS:
            if observed[j] and not flags[j]:
                anchors.append(j)
            j -= 1
        if not anchors:
            continue  # the series' first value: nothing to judge it by
        v = values[i]
        move = min([abs(v - lev[i]) / limit] + [abs(v - values[j]) / (limit * (i - j)) for j in anchors])
        log_move = np.inf if log_limit is None or v <= 0 else min(
            [abs(logs[i] - log_lev[i]) / log_limit] + [abs(logs[i] - logs[j]) / (log_limit * (i - j))
                                                       for j in anchors])
        move = log_move if log_limit is not None else move  # a multiplicative series: judged in ratio terms
        if move <= 1:
            continue
        prev = i - 1
        while prev >= 0 and not observed[prev]:
            prev -= 1
        in_run[i] = True
        if prev >= 0 and in_run[prev]:
            if _carries_on(v, values[prev], origin, limit):
                carried[i] = True
                continue
        else:
            origin = values[anchors[0]]
        flags[i], ratio[i] = True, move
    return (pd.Series(flags, index=x.index), pd.Series(ratio, index=x.index), pd.Series(carried, index=x.index))


def handle_outliers(
    frame: pd.DataFrame,
    stats: OutlierStats,
    threshold: float,
    policy: str,
    label: str,
    level_source: pd.DataFrame | None = None,
    rule: str = RULE_IMPOSSIBLE,
) -> OutlierResult:
    """Judge every value against earlier rows only and apply keep | clip | ffill to the ones the rule
    repairs (ffill leaves a NaN here, which `fill_missing` fills).

    rule impossible (default): repair a value only when its move (see `_impossible`) is above IMPOSSIBLE_FACTOR x
    the training split's largest move; a value whose robust z (residual against the trailing level, over the
    training spread) is above `threshold` but that is not impossible is `unusual`: reported, kept and scored.
    rule robust_z (the rule before): repair every value whose robust z is above `threshold`.

    `level_source` lets a test file be judged against a rolling level (and a last good value) that includes the
    end of the training data, so its first days are not compared with a level built from a handful of rows.
    """
    out = frame.copy()
    repaired: list[dict] = []
    unusual: list[dict] = []
    flags = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    for col in frame.columns:
        sc = stats.scale.get(col)
        src = frame[col] if level_source is None else level_source[col]
        level_all = _level(src, stats.level_rows)
        level = level_all.reindex(frame.index)
        x = frame[col]
        z = ((x - level - stats.center[col]) / sc).abs() if sc is not None else pd.Series(0.0, index=x.index)
        beyond_z = (z > threshold) & x.notna()
        if rule == RULE_ROBUST_Z:
            if sc is None:
                continue
            mask = beyond_z
            lo = level + stats.center[col] - threshold * sc
            hi = level + stats.center[col] + threshold * sc
            why = {d: f"robust z {z[d]:.1f} > {threshold:g}" for d in x.index[mask]}
        else:
            big = stats.largest_move.get(col)
            if big is None:
                continue
            limit = IMPOSSIBLE_FACTOR * big
            big_log = stats.largest_log_move.get(col)
            impossible, ratio, carried = _impossible(src, level_all, limit,
                                                     None if big_log is None else IMPOSSIBLE_FACTOR * big_log)
            mask, ratio, carried = (impossible.reindex(frame.index), ratio.reindex(frame.index),
                                    carried.reindex(frame.index))
            lo, hi = level - limit, level + limit
            terms = (f"largest move ({big:.3g})" if big_log is None
                     else f"largest move in ratio terms (x{np.exp(big_log):.3g})")
            why = {d: f"impossible: {ratio[d] * IMPOSSIBLE_FACTOR:.1f}x the training split's {terms} away from the "
                      f"trailing level ({level[d]:.4g}) and from the last good values (limit {IMPOSSIBLE_FACTOR:g}x, "
                      "per row since a value)" for d in x.index[mask]}
            for d in x.index[beyond_z & ~mask]:
                reason = ("carries on from the flagged value before it (a shift or a turn under way)" if carried[d]
                          else f"within {IMPOSSIBLE_FACTOR:g}x the training split's largest move")
                unusual.append({"column": col, "date": str(d.date()), "value": float(x[d]), "file": label,
                                "why": f"robust z {z[d]:.1f} > {threshold:g}, but {reason}: kept and scored"})
        flags[col] = mask
        for d in x.index[mask]:
            repaired.append({"column": col, "date": str(d.date()), "value": float(x[d]), "file": label,
                             "rule": rule, "why": why[d]})
        if policy == "clip":
            out[col] = x.where(~mask, x.clip(lower=lo, upper=hi))
        elif policy == "ffill":
            out.loc[mask, col] = np.nan
    if repaired:
        shown = ", ".join(f"{f['column']}={f['value']:g} on {f['date']}" for f in repaired[:MAX_LISTED])
        log.warning("%s: %d implausible value(s) (rule %s, policy %s): %s", label, len(repaired), rule, policy,
                    shown)
        for f in repaired:
            log.info("outlier %s: %s=%g on %s (%s)", label, f["column"], f["value"], f["date"], f["why"])
    if unusual:
        shown = ", ".join(f"{f['column']}={f['value']:g} on {f['date']}" for f in unusual[:MAX_LISTED])
        log.info("%s: %d unusual value(s) kept (possible but rare): %s", label, len(unusual), shown)
    return OutlierResult(out, repaired, unusual, flags)


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
            "fill them or set data.nan_policy=ffill"
        )
    return counts


def fill_missing(frame: pd.DataFrame, gap_rows: pd.Series, gap_policy: str,
                 history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fill every hole (gap row, missing cell, removed outlier) from earlier rows only: the last good value.

    Causal on purpose: an interpolation would repair an input day from a later (possibly target) day; hence the
    one policy's name, `ffill`. `history` (e.g. the training file before a test file) supplies the last good
    value for holes at the start of `frame`; holes before any observation at all (the very first rows of the
    series) take the first observed value, the only repair with no past.
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
