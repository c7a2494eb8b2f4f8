"""A date column as naive timestamps: local times with UTC offsets (a clock change in the file) become UTC, and
dates written with the day or the month first (01/03/2019) are read the way that gives a regular series, with a
note, or refused by name when both ways (or neither) do, so no row is invented from a misread date."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from data_pipeline.calendars import INVENTED_WARN_SHARE, infer_frequency
from data_pipeline.errors import DataError

# 01/03/2019, 1.3.19, 01-03-2019 (day and month first, year last): the formats where day and month may swap.
SWAPPABLE = re.compile(r"^\s*\d{1,2}([/.\-])\d{1,2}\1\d{2,4}(\s|T|$)")


MIXED_OFFSETS = "mixed UTC offsets"  # marks a column parsed as UTC because its offsets differ


def _to_datetime(text: pd.Series, dayfirst: bool | None) -> pd.Series:
    with warnings.catch_warnings():
        # pandas warns when it guesses a format per element; the checks below judge the result instead.
        warnings.simplefilter("ignore")
        kw = {} if dayfirst is None else {"dayfirst": dayfirst}
        try:
            return pd.to_datetime(text, errors="coerce", **kw)
        except ValueError as exc:
            if "timezone" not in str(exc).lower() and "offset" not in str(exc).lower():
                raise
            # Several UTC offsets (a clock change): each is an unambiguous instant, so UTC keeps them all apart.
            out = pd.to_datetime(text, errors="coerce", utc=True, **kw)
            out.attrs[MIXED_OFFSETS] = True
            return out


def _invented_share(dates: pd.Series) -> float:
    """The share of rows a regular calendar through these dates would have to make up (0: regular)."""
    index = pd.DatetimeIndex(dates.dropna().sort_values().unique())
    if len(index) < 3:
        return 0.0
    try:
        grid = pd.date_range(index[0], index[-1], freq=infer_frequency(index, ""))
    except (ValueError, DataError):
        return 1.0
    return max(0.0, 1 - len(index) / max(len(grid), 1))


def _swappable(text: pd.Series) -> bool:
    first = text.dropna()
    return bool(len(first)) and bool(SWAPPABLE.match(str(first.iloc[0])))


def parse_dates(raw: pd.Series, label: str, column: str, dayfirst: bool | None = None
                ) -> tuple[pd.Series, list[str]]:
    """(naive datetimes, NaT where a value is not a date; notes). `dayfirst`: data.dayfirst (None: decide from the
    dates themselves, refusing when that is ambiguous)."""
    notes: list[str] = []
    if pd.api.types.is_datetime64_any_dtype(raw):
        dates = pd.to_datetime(raw)
    else:
        text = raw.astype("string")
        if _swappable(text):
            dates, note = _day_or_month_first(text, label, column, dayfirst)
            notes += [note] if note else []
        else:
            dates = _to_datetime(text, None)
    tz = getattr(dates.dt, "tz", None)
    if tz is not None:
        offsets = dates.dt.tz_localize(None) - dates.dt.tz_convert("UTC").dt.tz_localize(None)
        if dates.attrs.get(MIXED_OFFSETS) or offsets.nunique() > 1:
            dates = dates.dt.tz_convert("UTC")
            notes.append(f"{label}: column {column!r} holds times with several UTC offsets (a clock change); "
                         "read them as UTC times (each is one unambiguous instant) and dropped the time zone")
        dates = dates.dt.tz_localize(None)
    return dates, notes


def _day_or_month_first(text: pd.Series, label: str, column: str, dayfirst: bool | None
                        ) -> tuple[pd.Series, str | None]:
    example = str(text.dropna().iloc[0]).strip()
    if dayfirst is not None:
        return _to_datetime(text, dayfirst), None
    month_first, day_first = _to_datetime(text, False), _to_datetime(text, True)
    present = text.notna() & (text.str.strip() != "")
    month_ok = bool(month_first[present].notna().all())
    day_ok = bool(day_first[present].notna().all())
    if month_ok and day_ok and month_first.equals(day_first):
        return month_first, None
    differ = np.flatnonzero((month_first != day_first).to_numpy())
    if len(differ):
        example = str(text.iloc[int(differ[0])]).strip()
    shown = f"{example!r} is {day_first.iloc[int(differ[0])].date()}" if len(differ) else repr(example)
    if day_ok and not month_ok:
        return day_first, f"{label}: column {column!r} read day-first ({shown}): some dates only exist that way"
    if not day_ok:
        return month_first, None  # month-first or unparsable: the caller names the first bad value
    month_gaps, day_gaps = _invented_share(month_first), _invented_share(day_first)
    month_regular, day_regular = month_gaps <= INVENTED_WARN_SHARE, day_gaps <= INVENTED_WARN_SHARE
    if day_regular and not month_regular:
        return day_first, (f"{label}: column {column!r} read day-first ({shown}): month-first the dates would "
                           "be irregular "
                           f"({month_gaps:.0%} of a calendar's rows missing); set data.dayfirst=false to read them "
                           "month-first")
    if month_regular and not day_regular:
        return month_first, None
    raise DataError(f"{label}: dates in column {column!r} like {example!r} read both day-first and month-first "
                    f"(neither way is clearly the regular one); set data.dayfirst=true (01/03/2019 is 1 March) or "
                    "data.dayfirst=false (3 January), or write ISO dates like 2019-03-01")


def first_bad(dates: pd.Series) -> np.ndarray:
    return np.flatnonzero(dates.isna().to_numpy())


def loose_dates(raw: pd.Series, label: str, column: str, dayfirst: bool | None) -> pd.Series:
    """The dates as parse_dates reads them, NaT where a value is no date (all NaT where the reading is ambiguous:
    reading the series itself then names the problem)."""
    try:
        return parse_dates(raw, label, column, dayfirst)[0]
    except DataError:
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
