"""`python -m data_pipeline [--config F] [--json] [--debug] [key=value ...]`: build the data and summarise it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from typing import Any

from pydantic import ValidationError

from data_pipeline.build import build_windowed_data
from data_pipeline.config import DataConfig, SplitConfig, WindowConfig
from data_pipeline.config_files import apply_overrides, load_yaml
from data_pipeline.errors import MAX_LISTED, DataError

SECTIONS = {"data": DataConfig, "window": WindowConfig, "split": SplitConfig}


def parse_sections(raw: dict[str, Any]) -> tuple[DataConfig, WindowConfig, SplitConfig]:
    """Validate the data/window/split sections; other sections belong to other packages and are ignored."""
    built = []
    for name, model in SECTIONS.items():
        section = raw.get(name) or {}
        if not isinstance(section, dict):
            raise DataError(f"config error: {name} must be a mapping, got {type(section).__name__}")
        try:
            built.append(model(**section))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in (name, *err["loc"]))
            raise DataError(f"config error: {loc}: {err['msg'].removeprefix('Value error, ')}") from exc
    return built[0], built[1], built[2]


def human_summary(s: dict[str, Any]) -> str:
    lines = [
        f"source:     {s['source']}" + (f" + test file {s['test_source']}" if s.get("test_source") else "")
    ]
    lines.append(
        f"rows:       {s['rows']} ({s['date_range']['start']} .. {s['date_range']['end']}, frequency {s['frequency']}"
        f"{_frequency_origin(s)})"
    )
    span = s.get("span") or {}
    if span.get("leading_rows_dropped") or span.get("trailing_rows_dropped"):
        lines.append(f"span:       first to last observation; cut {span['leading_rows_dropped']} empty row(s) before,"
                     f" {span['trailing_rows_dropped']} after (never filled)")
    panel = s.get("series")
    if panel:  # many series: one calendar cut for all, short ones dropped
        lines.append(f"series:     {panel['count']} (id column {panel['id_column']!r}), cut at validation "
                     f"{panel['cut']['val_start']} / test {panel['cut']['test_start']}")
        cut = {n: (p.get("leading_rows_dropped", 0), p.get("trailing_rows_dropped", 0))
               for n, p in panel["per_series"].items()}
        ragged = {n: c for n, c in cut.items() if any(c)}
        if ragged:
            shown = ", ".join(f"{n} ({a} before, {b} after)" for n, (a, b) in list(ragged.items())[:5])
            lines.append(f"            {len(ragged)} series start late or end early (empty rows cut, never filled):"
                         f" {shown}{' ...' if len(ragged) > 5 else ''}")
        for name, why in panel["dropped"].items():
            lines.append(f"            dropped {name}: too little history ({why})")
    g = s["gaps"]
    lines.append(f"gaps:       {g['count']} ({g['missing_rows']} missing rows, policy {s['gap_policy']})")
    for gap in g["first"]:
        lines.append(
            f"            {gap['start']} .. {gap['end']} ({gap['missing_rows']} rows) in {gap['file']}"
        )
    for inv in s.get("invented_rows", []):
        lines.append(f"invented:   {inv['invented']} of {inv['rows']} rows ({inv['share']:.1%}) in {inv['file']}"
                     " (gap rows: inputs only, never scored)")
        if inv.get("warning"):
            lines.append(f"warning:    {inv['warning']}")
    if s["nan_filled"]:
        lines.append(f"missing:    {s['nan_filled']} (policy {s['nan_policy']})")
    if s["overlap_dropped"]["count"]:
        lines.append(f"overlap:    dropped {s['overlap_dropped']['dates']} from training (test file wins)")
    rule = s.get("outlier_rule", "impossible")
    lines.append(f"outliers:   {len(s['outliers'])} repaired (rule {rule}, policy {s['outlier_policy']}; never scored)")
    for o in s["outliers"]:
        lines.append(f"            {_value(o)}: {o.get('why', '')}")
    unusual = s.get("unusual") or []
    if unusual:
        lines.append(f"unusual:    {len(unusual)} kept and scored (robust z above {s['outlier_threshold']:g} but "
                     "possible: a turn, a shift, a new range)")
        for o in unusual[:MAX_LISTED]:
            lines.append(f"            {_value(o)}")
        if len(unusual) > MAX_LISTED:
            lines.append(f"            ... {len(unusual) - MAX_LISTED} more in the --json summary")
    lines.append(f"features:   {s['feature_names']} (targets {s['target_names']})")
    for note in s.get("notes", []):
        lines.append(f"note:       {note}")
    for name, r in s["splits"].items():
        lines.append(
            f"{name + ':':<11} targets {r['start']} .. {r['end']} ({r['rows']} rows), {s['windows'][name]} windows"
        )
    return "\n".join(lines)


def _value(o: dict[str, Any]) -> str:
    where = f" (series {o['series']})" if "series" in o else ""
    return f"{o['column']} = {o['value']:g} on {o['date']}{where}"


def _frequency_origin(s: dict[str, Any]) -> str:
    """How the frequency was chosen, when it was not given as is."""
    setting = s.get("frequency_setting", "auto")
    if setting == "auto":
        return ", inferred"
    if setting == "rows":
        return ": consecutive rows are the steps, dates are labels"
    return "" if setting == s["frequency"] else f", from data.frequency={setting}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m data_pipeline", description=__doc__)
    ap.add_argument("--config", help="YAML file; only its data/window/split sections are used")
    ap.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    ap.add_argument("--no-cache", action="store_true", help="rebuild instead of reading the data cache")
    ap.add_argument("overrides", nargs="*", help="dotted key=value pairs, e.g. window.output=14")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.debug else logging.WARNING, format="%(name)s: %(message)s")
    if not args.debug:
        # Warnings already reach the summary; the logger keeps the CLI output to one line each.
        warnings.simplefilter("ignore", UserWarning)
    try:
        raw = load_yaml(args.config) if args.config else {}
        raw = apply_overrides(raw, args.overrides)
        data, window, split = parse_sections(raw)
        wd = build_windowed_data(data, window, split, cache=not args.no_cache)
    except Exception as exc:
        if args.debug:
            raise
        msg = str(exc) if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc} (rerun with --debug)"
        print(f"error: {msg.splitlines()[0] if msg else type(exc).__name__}", file=sys.stderr)
        return 2
    print(json.dumps(wd.summary) if args.json else human_summary(wd.summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
