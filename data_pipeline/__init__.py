"""Data pipeline: source file -> validated, cleaned series -> scaled train/val/test windows."""

from data_pipeline.build import build_windowed_data
from data_pipeline.config import DataConfig, SplitConfig, StrictModel, WindowConfig
from data_pipeline.config_files import apply_overrides, load_yaml
from data_pipeline.errors import DataError
from data_pipeline.forecast import forecast_input, future_input
from data_pipeline.input_length import with_input_length
from data_pipeline.series import SeriesBundle, load_series
from data_pipeline.types import Scaler, SplitWindows, WindowedData

__all__ = [
    "DataConfig",
    "DataError",
    "Scaler",
    "SeriesBundle",
    "SplitConfig",
    "SplitWindows",
    "StrictModel",
    "WindowConfig",
    "WindowedData",
    "apply_overrides",
    "build_windowed_data",
    "forecast_input",
    "future_input",
    "load_series",
    "load_yaml",
    "with_input_length",
]
