"""The report as typed objects: what each section says (`ReportSections`, filled by reports/build.py) and the one
layout that orders them into headings, paragraphs, notes, tables and figures (`layout`). reports/render.py writes
those blocks once as HTML and once as Markdown, so both formats show the same sections in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pandas as pd


class TitledTable(NamedTuple):
    """A table under its own heading (the Data section's tables, the search and fold tables)."""

    title: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class IntervalSection:
    """The prediction intervals: their explanation, each entry's test scores, and coverage per forecast step."""

    text: str
    scores: pd.DataFrame  # reports.intervals.reading_table
    by_horizon: pd.DataFrame  # reports.intervals.coverage_by_horizon, indexed by step


@dataclass
class ReportSections:
    """Everything the report says, section by section; a section left empty (or None) is not shown."""

    title: str
    protocol: str
    notes: list[str]
    ranking: pd.DataFrame  # the ranking as a person reads it (rounded, intervals in one cell)
    trial_counts: pd.DataFrame
    per_target: pd.DataFrame
    per_horizon: pd.DataFrame  # indexed by forecast step
    failed: pd.DataFrame
    figures: list[tuple[str, Path]]
    data_tables: list[TitledTable]
    intervals: IntervalSection | None = None
    per_series: pd.DataFrame | None = None  # panels only
    search_tables: list[TitledTable] = field(default_factory=list)


# The blocks a page is made of; each renderer writes every kind.
@dataclass(frozen=True)
class Heading:
    level: int  # 2: a section, 3: a part of one
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Notes:
    items: list[str]  # shown one after another, each set apart (what the reader should know first)


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame
    index: bool = False  # the frame's index is a column too (a forecast step)
    by_kind: bool = False  # rows of kind "baseline" styled apart (the ranking; HTML only)


@dataclass(frozen=True)
class Figure:
    title: str
    path: Path


Block = Heading | Paragraph | Notes | Table | Figure


@dataclass(frozen=True)
class Page:
    title: str
    blocks: list[Block]


def layout(s: ReportSections) -> Page:
    """The report's sections in reading order: protocol and notes, the ranking, intervals, per series, trials,
    figures, search tables, per-target and per-horizon errors, failed trials, the data."""
    blocks: list[Block] = [Paragraph(s.protocol), Notes(s.notes),
                           Heading(2, "Ranking (ordered by validation; test scored once)"), Table(s.ranking, by_kind=True)]
    if s.intervals is not None and len(s.intervals.scores):
        blocks += [Heading(2, "Prediction intervals (test split, calibrated on validation)"),
                   Paragraph(s.intervals.text), Table(s.intervals.scores),
                   Heading(3, "Interval coverage per forecast day (test)"), Table(s.intervals.by_horizon, index=True)]
    if s.per_series is not None:
        blocks += [Heading(2, "Per series (test): best architecture vs the reference entries"), Table(s.per_series)]
    blocks += [Heading(2, "Trials per model"), Table(s.trial_counts)]
    for title, path in s.figures:
        blocks += [Heading(2, title), Figure(title, path)]
    for title, frame in s.search_tables:
        blocks += [Heading(2, title), Table(frame)]
    blocks += [Heading(2, "Per-target error (original units)"), Table(s.per_target),
               Heading(2, "Per-horizon test MSE (scaled)"), Table(s.per_horizon, index=True)]
    if len(s.failed):
        blocks += [Heading(2, "Failed trials"), Table(s.failed)]
    blocks.append(Heading(2, "Data"))
    for title, frame in s.data_tables:
        blocks += [Heading(3, title), Table(frame)]
    return Page(s.title, blocks)
