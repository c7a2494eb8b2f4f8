"""Model input for a real forecast: the most recent days of the cleaned series."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_pipeline.calendars import calendar_frame
from data_pipeline.config import DataConfig, WindowConfig
from data_pipeline.errors import DataError
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


def future_input(dates: pd.DatetimeIndex, scaler: Scaler, future_names: list[str]) -> np.ndarray:
    """Known-future inputs of the forecast days (1, len(dates), n_future): their calendar values, scaled like x."""
    unknown = [n for n in future_names if n not in scaler.feature_names]
    if unknown:
        raise DataError(f"known-future input(s) {unknown} are not among the scaler's features "
                        f"{list(scaler.feature_names)}; use the data config the model was trained with")
    cols = [scaler.feature_names.index(n) for n in future_names]
    raw = calendar_frame(pd.DatetimeIndex(dates))[list(future_names)].to_numpy(dtype=np.float64)
    scaled = (raw - scaler.center[cols]) / scaler.scale[cols]
    return np.ascontiguousarray(scaled[None], dtype=np.float32)
