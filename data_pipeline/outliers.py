"""Judge every value against earlier rows by the outlier rule (data.outlier_rule) and apply data.outlier_policy to
the ones it repairs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_pipeline.errors import MAX_LISTED
from data_pipeline.outlier_stats import ANCHORS, OutlierStats, trailing_level

log = logging.getLogger("data_pipeline")

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
# catches 90% of those spikes. TAIL_ROWS, ANCHORS and GROWTH_FACTOR live in data_pipeline/outlier_stats.py.
IMPOSSIBLE_FACTOR = 3.0
UNIT_RATIO = 5.0
SHIFT_SHARE = 0.25
RULE_IMPOSSIBLE, RULE_ROBUST_Z = "impossible", "robust_z"


@dataclass(frozen=True)
class OutlierResult:
    """The frame after the policy, the values altered (`repaired`: the rule fired, the policy applied; under
    policy keep nothing changes but they are still listed and never scored), the values only reported as
    `unusual` (kept and scored), and a boolean frame marking the repaired cells."""

    frame: pd.DataFrame
    repaired: list[dict]
    unusual: list[dict]
    flags: pd.DataFrame


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
        level_all = trailing_level(src, stats.level_rows)
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
