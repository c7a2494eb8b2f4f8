"""The default outlier rule's judge (data.outlier_rule=impossible): which values no real process produces.

A value's move is its distance from the nearest of its anchors: the trailing level (median of the rows before it),
each of the last ANCHORS good values (over the square root of the rows since that value: a random walk's spread
after k steps grows as sqrt(k); the value two rows back counted per row halved every spike's move, and 85 of the 97
spikes of 20 robust sd benchmarks/cleaning.py missed were passed that way) and, when the data has a season
(`season_rows`: 12 months, 4 quarters, 52 weeks, 7 days, 24 hours...), its seasonal anchor: the value one season
back moved by the last season-on-season change (x[t-m] + x[t-1] - x[t-1-m], the seasonal naive forecast that follows
the level). A value that follows its own seasonal pattern is near that anchor however large the seasonal swing has
grown. Inside the training
split, where the anchors before a value are few (its first season, the series' second value), the same anchors after
it count too: at the series' start the first value may as well be the odd one.

Impossible: a move more than IMPOSSIBLE_FACTOR times the largest move of the series' own history up to that value
(its MOVE_TAIL_Q upper quantile leaving out at least TAIL_ROWS moves, over every good value before it, and never below
the training split's): a series that grows six-fold, or whose seasonal peaks grow, widens its own scale as it goes,
so its ordinary later moves are judged by the moves of its recent years, not by those of a calm training part. Inside
the training split the scale is the training split's own.

Confirmation (the only place where later values are used, and only inside the training split): a value far from all
of its anchors, whose CONFIRM_ROWS next values are all in the training split, is kept when all of them stay nearer to
it than to the last good value before it (a level shift, a turn, a recession under way: evidence), and repaired when
they do not (a spike returns). Why this cannot leak: the training split is fitted as a whole (every model already sees
all of its values), so a cleaning decision that is a function of training values only adds nothing a fit could not
see; no validation or test value is ever read for it (the look-ahead stops at the split), so nothing that scores or
chooses a model depends on a later value. Past the training split the judgement is causal: each value is judged
from earlier values only, the first value of a sudden real shift cannot be told from a spike and is repaired, and
each value that carries on from it (`_carries_on`) is kept, as is the rest of that run. Any run that is an order of
magnitude (UNIT_RATIO-fold) or a sign away from the value before it stays impossible, confirmed or not: a week
logged in the wrong unit is garbage however long it lasts.

Never impossible: a value within TYPICAL_FACTOR typical steps (1.4826 x the median one-step change, of the training
split and, after it, of every good value so far) of its nearest anchor, unless it is an order of magnitude or a sign
away. A seasonal series' typical step is its seasonal swing, so a peak that outgrows last year's is judged by it; a
garbage spike of 20+ robust sd is more than twice that far. (Without it, 14 real values of benchmarks/cleaning.py's
201 series were repaired, most of them a seasonal peak that outgrew last year's or a crisis day of a stock index.)

A series positive throughout its training split and grown GROWTH_FACTOR-fold over it is judged in log terms (its
moves grow with its level); the typical step is in the data's own terms. Any other series positive throughout its
training split is also judged in ratio terms, for orders of magnitude only: a value UNIT_RATIO-fold (and
IMPOSSIBLE_FACTOR x the training split's largest move in log terms, if that is more) from every positive anchor is
impossible, wherever its move in the data's own terms falls. A seasonal count whose largest move, x IMPOSSIBLE_FACTOR,
is as large as its level (monthly deaths: 2059 -> 2.06 was an ordinary move) otherwise hides every value logged in
thousands (benchmarks/cleaning.py: 143 of 717 divisions by 1000 missed without the ratio, 57 with it). The ratio
judges the single value only: whether a run far away is confirmed or carries on is judged as before (a real
fall toward zero, a T-bill rate in 2008, loses its first value, as any sudden shift after the training split does).
Measured numbers: data_pipeline/outliers.py's top comment.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from data_pipeline.outlier_stats import ANCHORS, MOVE_TAIL_Q, TAIL_ROWS

IMPOSSIBLE_FACTOR = 3.0
UNIT_RATIO = 5.0
SHIFT_SHARE = 0.25
CONFIRM_ROWS = 3
TYPICAL_FACTOR = 8.0


@dataclass(frozen=True)
class Judged:
    """Per row: impossible (`flags`), the move in units of the row's limit (`ratio`), kept as carrying on a shift
    (`carried`, causal) or as confirmed by the values after it (`confirmed`, training split only), and the limit
    (IMPOSSIBLE_FACTOR x the largest move so far, in judged terms: log terms for a multiplicative series)."""

    flags: np.ndarray
    ratio: np.ndarray
    carried: np.ndarray
    confirmed: np.ndarray
    limit: np.ndarray
    unit: np.ndarray  # flagged as an order of magnitude away (`ratio` then in units of the ratio limit)


def _unit_away(v: float, origin: float, limit: float, log: bool) -> bool:
    """Whether raw value `v` is an order of magnitude (UNIT_RATIO-fold) or a sign away from `origin`; near zero in
    the series' own terms (|origin| within the limit) a ratio means nothing."""
    if log:
        return not (v > 0 and abs(math.log(v) - math.log(origin)) < math.log(UNIT_RATIO))
    if abs(origin) <= limit:
        return False
    return not 1 / UNIT_RATIO < v / origin < UNIT_RATIO


def unit_limit(big_ratio: float | None, log: bool) -> float | None:
    """The log distance at which a value of a positive series judged in its own terms is an order of magnitude away:
    UNIT_RATIO-fold, and IMPOSSIBLE_FACTOR x the training split's largest move in log terms (`big_ratio`); None for a
    series judged in log terms already, or not positive."""
    return None if log or big_ratio is None else max(math.log(UNIT_RATIO), IMPOSSIBLE_FACTOR * big_ratio)


def _carries_on(w: float, prev: float, origin: float, limit: float) -> bool:
    """Whether judged value `w` carries on a run that left `origin` at `prev`: within `limit` of it, or much nearer to
    it than to `origin` (SHIFT_SHARE of the distance: a recession falling month after month)."""
    step = abs(w - prev)
    return step <= limit or step <= SHIFT_SHARE * abs(w - origin)


def judge(values: np.ndarray, level: np.ndarray, big: float, season: int | None, fit_rows: int, log: bool,
          big_ratio: float | None = None) -> Judged:
    """Judge every value in order (see the module's comment). `values`/`level`: raw; `big`: the training split's
    largest move in judged terms; `fit_rows`: the training split's rows (look-ahead stays inside them); `big_ratio`:
    the training split's largest move in log terms of a series positive throughout it, judged in the data's own
    terms (None: not positive, or judged in log terms already)."""
    n = len(values)
    ratio_limit = unit_limit(big_ratio, log)
    raw = values.tolist()
    with np.errstate(invalid="ignore", divide="ignore"):
        w_arr = np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), -np.inf) if log else values
        lv_arr = np.log(level) if log else level
    w = np.where(np.isnan(values), np.nan, w_arr).tolist()
    lv = lv_arr.tolist()
    flags, carried, confirmed, unit = (np.zeros(n, dtype=bool) for _ in range(4))
    ratio, limits = np.zeros(n), np.full(n, np.nan)
    good = [math.nan] * n  # the last good value carried forward (judged terms): the seasonal anchor's source
    observed = [not math.isnan(v) for v in raw]
    nxt: list[list[int]] = [[] for _ in range(n)]  # the next CONFIRM_ROWS observed rows, inside the training split
    ahead: list[int] = []
    for t in range(min(n, fit_rows) - 1, -1, -1):
        nxt[t] = ahead[:CONFIRM_ROWS]
        if observed[t]:
            ahead = [t, *ahead[:CONFIRM_ROWS - 1]]
    seen: list[float] = []  # the good moves so far, sorted
    steps: list[float] = []  # the good one-step changes after the training split, sorted
    train = values[:fit_rows]
    train_steps = np.abs(np.diff(train[np.isfinite(train)]))
    typical_train = 1.4826 * float(np.median(train_steps)) if len(train_steps) else 0.0
    typical = typical_train
    anchors: list[tuple[int, float]] = []  # the last ANCHORS good rows (row, judged value), most recent first
    last_good, last_good_raw = math.nan, math.nan
    in_run = [False] * n
    prev = -1  # the last observed row
    origin, origin_raw = math.nan, math.nan  # the last good value before the current run
    for t in range(n):
        if not observed[t]:
            good[t] = last_good
            continue
        v = w[t]
        if not anchors:  # the series' first value: nothing to judge it by
            good[t], last_good, last_good_raw, anchors, prev = v, v, raw[t], [(t, v)], t
            continue
        scale = big
        if t >= fit_rows and len(seen) > TAIL_ROWS:
            k = max(TAIL_ROWS, int(MOVE_TAIL_Q * len(seen)))
            if len(seen) > k:
                scale = max(big, seen[-(k + 1)])
        limit = IMPOSSIBLE_FACTOR * scale
        limits[t] = limit
        near = [lv[t]] if math.isfinite(lv[t]) else []  # the anchors (judged terms) and rows since each
        rows = [1] if near else []
        for j, a in anchors:
            near.append(a)
            rows.append(t - j)
        if season and t > season:
            near.append(good[t - season] + good[t - 1] - good[t - 1 - season])
            rows.append(1)
        if nxt[t]:  # inside the training split: the anchors after it, where those before are few
            if season and t <= season and t + season < fit_rows:  # the season after it, moved back by one change
                near.append(w[t + season] + good[t - 1] - w[t - 1 + season])
                rows.append(1)
            if len(anchors) < ANCHORS:  # the series' second value: it or the first may be the odd one
                near += [w[r] for r in nxt[t][:ANCHORS]]
                rows += [r - t for r in nxt[t][:ANCHORS]]
        pairs = [(a, r) for a, r in zip(near, rows, strict=True) if math.isfinite(a)]
        near = [a for a, _ in pairs]
        d = min((abs(v - a) / math.sqrt(r) for a, r in pairs), default=math.inf)  # the move: per sqrt(rows) since
        # the distance to the nearest anchor, in the data's own terms (a ratio means little to "a typical step")
        gap = min((abs(raw[t] - (math.exp(a) if log else a)) for a in near), default=math.inf)
        keep = d <= limit
        # A positive series judged in its own terms: also judged in ratio terms, where an order of magnitude is
        # (the value UNIT_RATIO-fold, and IMPOSSIBLE_FACTOR x its largest ratio move, from every positive anchor).
        # Without it a unit error of a seasonal count (monthly deaths /1000: 2059 -> 2.06) passes as an ordinary
        # move, for its largest move in the data's own terms, x IMPOSSIBLE_FACTOR, is as large as its level.
        # (A value at or below zero is left to the judgement in the data's own terms: a ratio says nothing of it.)
        moved_ratio = 0.0 if ratio_limit is None or not raw[t] > 0 else min(
            (abs(math.log(raw[t]) - math.log(a)) / math.sqrt(r) for a, r in pairs if a > 0), default=0.0)
        unit[t] = ratio_limit is not None and moved_ratio > ratio_limit
        if not keep or unit[t]:  # far from every anchor: a run (a shift, a turn, or garbage) starts or goes on
            if not in_run[prev]:
                origin, origin_raw = last_good, last_good_raw
            in_run[t] = True
            # an ordinary step in size, and not an order of magnitude or a sign away: kept whatever comes after it
            keep = (not unit[t] and gap <= TYPICAL_FACTOR * typical
                    and not _unit_away(raw[t], origin_raw, limit, log))
        if not keep:
            ratio[t] = moved_ratio / ratio_limit if unit[t] else d / limit
            if len(nxt[t]) == CONFIRM_ROWS:  # inside the training split: the values after it decide
                keep = (not _unit_away(raw[t], origin_raw, limit, log)
                        and all(abs(w[r] - v) < abs(w[r] - origin) for r in nxt[t]))
                confirmed[t] = keep
            elif in_run[prev] and _carries_on(v, w[prev], origin, limit):
                keep = not _unit_away(raw[t], origin_raw, limit, log)
                carried[t] = keep
        prev = t
        if keep:
            bisect.insort(seen, d)
            if t >= fit_rows and math.isfinite(last_good_raw):
                bisect.insort(steps, abs(raw[t] - last_good_raw))
                typical = max(typical_train, 1.4826 * steps[len(steps) // 2])
            good[t], last_good, last_good_raw = v, v, raw[t]
            anchors = [(t, v), *anchors[:ANCHORS - 1]]
        else:
            flags[t] = True
            good[t] = last_good
    unit &= flags
    return Judged(flags, ratio, carried, confirmed, limits, unit)
