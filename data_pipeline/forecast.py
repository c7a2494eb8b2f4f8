"""Model input for a real forecast: the most recent days of the cleaned series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from data_pipeline.calendars import calendar_frame
from data_pipeline.config import DataConfig, WindowConfig
from data_pipeline.errors import DataError
from data_pipeline.io import read_table
from data_pipeline.panel import clean_panel
from data_pipeline.series import load_series
from data_pipeline.types import Scaler


def forecast_input(
    data: DataConfig, window: WindowConfig, scaler: Scaler, feature_names: list[str]
) -> tuple[np.ndarray, pd.DatetimeIndex | None]:
    """Last `window.input` days (test file appended after train), scaled with the stored scaler.

    Returns x of shape (1, window.input, n_features) and the dates of the next `window.output` days on the data's
    calendar (the next business days under B); None under data.frequency=rows, where no future date can be known.
    """
    bundle = load_series(data)
    if list(bundle.feature_names) != list(feature_names) or list(scaler.feature_names) != list(feature_names):
        raise DataError(
            f"{bundle.summary['source']}: features {bundle.feature_names} do not match the trained model's "
            f"{list(feature_names)} (scaler: {list(scaler.feature_names)}); use the data config the model was trained with"
        )
    frame = bundle.frame
    if len(frame) < window.input:
        raise DataError(
            f"{bundle.summary['source']}: {len(frame)} rows, but window.input={window.input} days are needed"
        )
    x = scaler.transform(frame.to_numpy(dtype=np.float64)[-window.input :])
    x = np.ascontiguousarray(x[None, :, :], dtype=np.float32)
    if bundle.freq is None:
        return x, None
    dates = pd.date_range(frame.index[-1], periods=window.output + 1, freq=bundle.freq)[1:]
    return x, pd.DatetimeIndex(dates)


def panel_forecast_input(
    data: DataConfig, window: WindowConfig, scaler: Scaler
) -> tuple[np.ndarray, list[pd.DatetimeIndex | None], list[str]]:
    """A panel's model input: each series' last `window.input` days, scaled with that series' stored scaler.

    Returns x (n_series, window.input, n_features), the next `window.output` dates of each series (from its own
    last day) and the series names, in the scaler's order. The data must hold exactly the trained series."""
    names = list(scaler.series_names or [])
    bundles = clean_panel(data)
    missing, extra = sorted(set(names) - set(bundles)), sorted(set(bundles) - set(names))
    if missing or extra:
        raise DataError(f"{data.path or data.source}: the series differ from the trained model's: "
                        + "; ".join(p for p in (f"missing {missing[:10]}" if missing else "",
                                                f"not trained on {extra[:10]} (no scaler for them)" if extra else "")
                                    if p) + "; forecast the series the model was trained on")
    xs, dates = [], []
    for i, name in enumerate(names):
        b = bundles[name]
        if list(b.feature_names) != list(scaler.feature_names):
            raise DataError(f"{b.summary['source']}: features {b.feature_names} do not match the trained model's "
                            f"{list(scaler.feature_names)}; use the data config the model was trained with")
        if len(b.frame) < window.input:
            raise DataError(f"{b.summary['source']}: {len(b.frame)} rows, but window.input={window.input} are needed")
        xs.append(scaler.for_series(i).transform(b.frame.to_numpy(dtype=np.float64)[-window.input :]))
        # data.frequency=rows has no calendar: the steps after a series' last row have no knowable dates
        dates.append(None if b.freq is None else
                     pd.DatetimeIndex(pd.date_range(b.frame.index[-1], periods=window.output + 1, freq=b.freq)[1:]))
    return np.ascontiguousarray(np.stack(xs), dtype=np.float32), dates, names


def future_input(dates: pd.DatetimeIndex, scaler: Scaler, future_names: list[str],
                 known: pd.DataFrame | None = None) -> np.ndarray:
    """Known-future inputs of the forecast days (1, len(dates), n_future), scaled like x: the user's known-future
    columns from `known` (indexed by these dates: `known_future_values`), then the calendar values of the dates."""
    unknown = [n for n in future_names if n not in scaler.feature_names]
    if unknown:
        raise DataError(f"known-future input(s) {unknown} are not among the scaler's features "
                        f"{list(scaler.feature_names)}; use the data config the model was trained with")
    cols = [scaler.feature_names.index(n) for n in future_names]
    dates = pd.DatetimeIndex(dates)
    calendar = calendar_frame(dates)
    given = known if known is not None else pd.DataFrame(index=dates)
    missing = [n for n in future_names if n not in calendar.columns and n not in given.columns]
    if missing:
        raise DataError(f"the forecast needs the future values of the known-future column(s) {missing}; pass them "
                        "(--future FILE, or forecast(future=frame))")
    raw = np.column_stack([(calendar[n] if n in calendar.columns else given[n]).to_numpy(dtype=np.float64)
                           for n in future_names]) if future_names else np.zeros((len(dates), 0))
    scaled = (raw - scaler.center[cols]) / scaler.scale[cols]
    return np.ascontiguousarray(scaled[None], dtype=np.float32)


def known_future_values(future: pd.DataFrame | str | Path | None, data: DataConfig,
                        dates: list[pd.DatetimeIndex | None], series: list[str] | None) -> list[pd.DataFrame | None]:
    """The user's values of every known-future column (data.known_future) on each series' forecast dates: one
    frame per series indexed by those dates. `future`: a frame or a CSV/Parquet file with the date column, those
    columns and, for a panel, the id column; rows for other dates are ignored. Anything missing is one DataError
    naming the columns, series or dates, since a forecast must never guess what the user said they know."""
    known = list(data.known_future or [])
    if not known:
        return [None] * len(dates)
    wanted = ", ".join(repr(c) for c in known)
    first = next((d for d in dates if d is not None), None)
    span = "" if first is None else f" ({first[0].date()} .. {first[-1].date()})"
    if future is None:
        raise DataError(f"this run was trained with known-future column(s) {wanted}: a forecast needs their values "
                        f"for each of the next {len(first) if first is not None else 'window.output'} steps{span}; "
                        f"pass a file or frame with the date column {data.date_column!r}"
                        + (f", the id column {data.panel_id_column!r}" if series else "")
                        + f" and {wanted} (python -m reports.forecast RUN --future FILE, or forecast(future=frame))")
    label = str(future) if not isinstance(future, pd.DataFrame) else "the future frame"
    frame = read_table(future, "--future", data.decimal) if not isinstance(future, pd.DataFrame) else future.copy()
    if isinstance(frame.index, pd.DatetimeIndex) and data.date_column not in frame.columns:
        frame = frame.rename_axis(data.date_column).reset_index()
    absent = [c for c in [data.date_column, *known, *([data.panel_id_column] if series else [])]
              if c not in frame.columns]
    if absent:
        raise DataError(f"{label}: column(s) {absent} not found (columns: {[str(c) for c in frame.columns]}); the "
                        f"future values need the date column {data.date_column!r}"
                        + (f", the id column {data.panel_id_column!r}" if series else "")
                        + f" and every known-future column ({wanted})")
    frame[data.date_column] = pd.to_datetime(frame[data.date_column], errors="coerce", dayfirst=bool(data.dayfirst))
    groups = ({None: frame} if not series else
              {str(k): g for k, g in frame.groupby(frame[data.panel_id_column].astype(str))})
    out: list[pd.DataFrame | None] = []
    for i, day_list in enumerate(dates):
        name = None if not series else series[i]
        where = "" if name is None else f" for series {name!r}"
        rows = groups.get(name)
        if day_list is None:
            raise DataError("data.frequency=rows has no calendar, so future values cannot be matched to steps")
        if rows is None:
            raise DataError(f"{label}: no rows{where}; give the known-future values of every series")
        table = rows.drop_duplicates(data.date_column, keep="last").set_index(data.date_column)[known]
        values = table.reindex(day_list).apply(pd.to_numeric, errors="coerce").astype("float64")
        lacking = [str(d.date()) for d in day_list[values.isna().any(axis=1).to_numpy()]]
        if lacking:
            raise DataError(f"{label}: known-future values missing or not numeric{where} on {len(lacking)} of the "
                            f"{len(day_list)} forecast dates ({', '.join(lacking[:5])}"
                            f"{', ...' if len(lacking) > 5 else ''}); give {wanted} for every date "
                            f"{day_list[0].date()} .. {day_list[-1].date()}")
        out.append(values)
    return out
