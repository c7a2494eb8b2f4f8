"""The report's Data section as tables a person reads: the source, the splits and their windows, the gaps that
were filled, the values altered as impossible (and why) and the unusual ones kept (data_summary.json keeps every
detail)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports.sections import TitledTable


def data_tables(summary: dict[str, Any]) -> list[TitledTable]:
    """The Data section's tables under their titles; a table with nothing to show is left out."""
    dates = summary.get("date_range") or {}
    window = summary.get("window") or {}
    source = [
        ("file", summary.get("source")),
        ("test file", summary.get("test_source")),
        ("rows", summary.get("rows")),
        ("dates", f"{dates.get('start')} .. {dates.get('end')}" if dates else None),
        ("span", _span(summary.get("span"))),
        ("frequency", summary.get("frequency")),
        ("calendar", _calendar(summary)),
        ("features", ", ".join(summary.get("feature_names") or [])),
        ("targets", ", ".join(summary.get("target_names") or [])),
        ("window (in / out)", f"{window.get('input')} / {window.get('output')}" if window else None),
        ("scaler (fitted on train)", summary.get("scaler")),
        ("dates in both files", _listed(summary.get("overlap_dropped"), "dates")),
    ]
    tables = [TitledTable("Source", pd.DataFrame([{"": k, "value": v} for k, v in source if v not in (None, "")]))]

    windows = summary.get("windows") or {}
    masked = summary.get("masked_target_cells") or {}
    splits = pd.DataFrame([
        {"split": name, "first target date": s.get("start"), "last date": s.get("end"), "rows": s.get("rows"),
         "inputs from": s.get("first_input"), "windows": windows.get(name),
         # missing or flagged target cells: repaired as inputs, never scored (training targets are not masked)
         "targets not scored": masked.get(name, "") if name != "train" else ""}
        for name, s in (summary.get("splits") or {}).items()
    ])
    if len(splits):
        tables.append(TitledTable("Splits and windows", splits))

    invented = summary.get("invented_rows") or []
    if invented:
        rows = pd.DataFrame([{"file": e["file"], "rows": e["rows"], "invented rows": e["invented"],
                              "share": f"{e['share']:.1%}"} for e in invented])
        warned = any(e.get("warning") for e in invented)
        title = (f"Invented rows: gap rows filled by data.gap_policy={summary.get('gap_policy')} (inputs only, "
                 f"never scored){'; more than 5% in a file: see the warning above' if warned else ''}")
        tables.append(TitledTable(title, rows))

    panel = summary.get("series")
    if panel:  # many series: each one's rows, dates and windows; the ones dropped as too short
        cut = panel.get("cut") or {}
        rows = [{"series": name, "rows": p.get("rows"), "first date": p.get("start"), "last date": p.get("end"),
                 **{f"{s} windows": (p.get("windows") or {}).get(s) for s in ("train", "val", "test")},
                 # rows before the first / after the last observation: cut, not filled (no invented history)
                 "rows cut before": p.get("leading_rows_dropped"), "rows cut after": p.get("trailing_rows_dropped"),
                 "gaps": p.get("gaps"), "flagged": p.get("outliers"),
                 "unusual kept": p.get("unusual")} for name, p in panel["per_series"].items()]
        rows += [{"series": name, "rows": None, "first date": f"dropped: {why}"}
                 for name, why in (panel.get("dropped") or {}).items()]
        tables.append(TitledTable(f"Series: {panel['count']} (id column {panel.get('id_column')!r}); one calendar cut: "
                       f"validation from {cut.get('val_start')}, test from {cut.get('test_start')}",
                       pd.DataFrame(rows)))

    gaps = summary.get("gaps") or {}
    if gaps.get("count"):
        shown = pd.DataFrame(gaps.get("first") or [])
        title = (f"Gaps: {gaps['count']} ({gaps.get('missing_rows')} missing rows, "
                 f"policy {summary.get('gap_policy')}){'; the first listed' if gaps['count'] > len(shown) else ''}")
        tables.append(TitledTable(title, shown))

    outliers = summary.get("outliers") or []
    rule = summary.get("outlier_rule", "robust_z")  # summaries written before the rule existed used robust_z
    if outliers:
        flagged = pd.DataFrame(outliers)
        what = ("impossible values (far beyond any move the training split shows)" if rule == "impossible"
                else f"values with a robust z-score above {summary.get('outlier_threshold')}")
        title = (f"Flagged implausible values: {len(flagged)}, altered and never scored: {what} (data.outlier_rule="
                 f"{rule}, policy {summary.get('outlier_policy')})")
        tables.append(TitledTable(title, flagged))
    unusual = summary.get("unusual") or []
    if unusual:
        tables.append(TitledTable(f"Unusual values kept: {len(unusual)} (robust z-score above "
                       f"{summary.get('outlier_threshold')}, but possible: kept as observed and scored)",
                       pd.DataFrame(unusual)))

    nans = summary.get("nan_filled") or {}
    if nans:
        tables.append(TitledTable(f"Missing values filled (policy {summary.get('nan_policy')})",
                       pd.DataFrame([{"column": c, "values": n} for c, n in nans.items()])))
    return tables


def _span(span: dict[str, Any] | None) -> str | None:
    """What was cut outside the first..last observation of a single series (panels: per series, below)."""
    if not span or not (span.get("leading_rows_dropped") or span.get("trailing_rows_dropped")):
        return None
    late = span.get("started_last") or []
    return (f"first to last observation: {span['leading_rows_dropped']} empty row(s) before "
            f"{'(' + ', '.join(late) + ' started last) ' if late else ''}and {span['trailing_rows_dropped']} after "
            "were cut, not filled")


def _calendar(summary: dict[str, Any]) -> str | None:
    """How the frequency was chosen (data.frequency: inferred, given, or rows without a calendar)."""
    freq, setting = summary.get("frequency"), summary.get("frequency_setting")
    if freq is None or setting is None:
        return None
    if setting == "rows":
        return "none (data.frequency=rows): consecutive rows are consecutive steps; dates are labels"
    what = {"B": "business days (Monday to Friday; missing weekdays are gaps)", "D": "every day"}.get(freq, freq)
    how = "inferred (data.frequency=auto)" if setting == "auto" else f"data.frequency={setting}"
    return f"{what}, {how}"


def _listed(entry: dict[str, Any] | None, key: str) -> str | None:
    if not entry or not entry.get("count"):
        return None
    shown = ", ".join(map(str, entry.get(key) or []))
    more = entry["count"] - len(entry.get(key) or [])
    return f"{entry['count']} ({shown}{', ...' if more > 0 else ''}); the test file's rows were kept"
