"""The summary of a panel: the single-series summary's keys, summed or spanned over its series."""

from __future__ import annotations

from typing import Any

from data_pipeline.config import DataConfig, WindowConfig
from data_pipeline.errors import MAX_LISTED
from data_pipeline.series import SeriesBundle
from data_pipeline.splits import SPLITS, CalendarCut
from data_pipeline.types import SplitWindows
from data_pipeline.windows import future_names


def panel_summary(bundles: dict[str, SeriesBundle], cut: CalendarCut, label: str,
                   data: DataConfig, window: WindowConfig, splits: dict[str, SplitWindows], masked: dict[str, int],
                   per_series: dict[str, Any], dropped: dict[str, str]) -> dict[str, Any]:
    """The single-series summary's keys, summed or spanned over the series, plus a `series` section."""
    s0 = next(iter(bundles.values())).summary
    starts = [b.summary["date_range"]["start"] for b in bundles.values()]
    ends = [b.summary["date_range"]["end"] for b in bundles.values()]
    nan_filled: dict[str, int] = {}
    for b in bundles.values():
        for col, n in b.summary["nan_filled"].items():
            nan_filled[col] = nan_filled.get(col, 0) + n
    gaps = [g for b in bundles.values() for g in b.summary["gaps"]["first"]]
    # the splits over all series: earliest start, latest end, rows summed (each series' own are in `series`)
    split_summary = {s: {"start": min(p["splits"][s]["start"] for p in per_series.values()),
                         "end": max(p["splits"][s]["end"] for p in per_series.values()),
                         "rows": int(sum(p["splits"][s]["rows"] for p in per_series.values())),
                         "first_input": min(p["splits"][s]["first_input"] for p in per_series.values())}
                     for s in SPLITS}
    return {
        "source": label, "test_source": s0.get("test_source"),
        "rows": int(sum(b.summary["rows"] for b in bundles.values())),
        "rows_train": int(sum(b.summary["rows_train"] for b in bundles.values())),
        "date_range": {"start": min(starts), "end": max(ends)},
        "frequency": s0["frequency"],
        "gaps": {"count": int(sum(b.summary["gaps"]["count"] for b in bundles.values())),
                 "missing_rows": int(sum(b.summary["gaps"]["missing_rows"] for b in bundles.values())),
                 "first": gaps[:MAX_LISTED]},
        "gap_policy": data.gap_policy, "nan_filled": nan_filled, "nan_policy": data.nan_policy,
        # each series' file label names its id; only the series where the calendar made rows up
        "invented_rows": [e for b in bundles.values() for e in b.summary.get("invented_rows") or [] if e["invented"]],
        "outliers": [dict(o, series=n) for n, b in bundles.items() for o in b.summary["outliers"]],
        "unusual": [dict(o, series=n) for n, b in bundles.items() for o in b.summary["unusual"]],
        "outlier_rule": data.outlier_rule, "outlier_policy": data.outlier_policy,
        "outlier_threshold": data.outlier_threshold,
        "overlap_dropped": {"count": 0, "dates": []},
        "feature_names": list(s0["feature_names"]), "target_names": list(s0["target_names"]),
        "ignored_columns": list(s0["ignored_columns"]),
        "notes": [n for b in bundles.values() for n in b.summary["notes"]][:MAX_LISTED],
        "splits": split_summary,
        "windows": {s: len(splits[s]) for s in SPLITS},
        "masked_target_cells": masked,
        "scaler": f"{data.scaler}, one per series",
        "window": {"input": window.input, "output": window.output},
        "future_names": future_names(data),
        "known_future": list(data.known_future or []),
        "series": {"count": len(bundles), "id_column": data.panel_id_column, "names": list(bundles),
                   "cut": {"val_start": str(cut[0].date()), "test_start": str(cut[1].date())},
                   "dropped": dropped, "per_series": per_series},
    }
