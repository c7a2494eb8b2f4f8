"""The data's calendar: its frequency (inferred or set), the regular grid its gaps are found on, and date inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset

from data_pipeline.config import ANCHORED_LEGACY, AUTO_FREQUENCY, LEGACY_ALIASES, ROWS
from data_pipeline.errors import DataError

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


def calendar_frame(index: pd.DatetimeIndex) -> pd.DataFrame:
    """Seasonal position from the date alone, so it is known for future days too."""
    doy = 2 * np.pi * (index.day_of_year.to_numpy() - 1) / 365.25
    dow = 2 * np.pi * index.day_of_week.to_numpy() / 7
    return pd.DataFrame(
        {"doy_sin": np.sin(doy), "doy_cos": np.cos(doy), "dow_sin": np.sin(dow), "dow_cos": np.cos(dow)},
        index=index,
    )


CALENDAR_COLUMNS = ("doy_sin", "doy_cos", "dow_sin", "dow_cos")
