"""The embedded panel (`data.source: synthetic_panel`): many daily series in one long table, made offline.

Recipe (seeded, so every machine builds the same table): 24 series `s00`..`s23`, all ending 2021-12-31; each
starts on a day drawn between 2020-06-01 and 2020-10-01 (about 450 to 580 days), and
    value = level * (1 + trend * t/365) * (1 + weekly * sin(2 pi (dow + phase) / 7)
                                           + yearly * sin(2 pi doy / 365.25)) + level * noise_t
with level log-uniform in [5, 500] (sizes differ by two orders of magnitude), trend in [-0.3, 0.6] per year,
weekly amplitude in [0, 0.4], yearly in [0, 0.3], and noise an AR(1) (phi 0.6) of standard deviation
[0.02, 0.12]. Different levels, trends and seasonality, so a global model must learn shapes, not one scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_pipeline.config import PANEL_ID_COLUMN, PANEL_VALUE_COLUMN

RECIPE_VERSION = "1"  # part of the cache key and the data identity: bump when the recipe changes
N_SERIES = 24
SEED = 2026


def synthetic_panel(n_series: int = N_SERIES, seed: int = SEED) -> pd.DataFrame:
    """Long format: date, series, value (one row per series and day)."""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp("2021-12-31")
    frames = []
    for i in range(n_series):
        start = pd.Timestamp("2020-06-01") + pd.Timedelta(days=int(rng.integers(0, 123)))
        dates = pd.date_range(start, end, freq="D")
        t = np.arange(len(dates)) / 365.0
        level = float(np.exp(rng.uniform(np.log(5), np.log(500))))
        trend = rng.uniform(-0.3, 0.6)
        weekly, yearly = rng.uniform(0, 0.4), rng.uniform(0, 0.3)
        phase = rng.integers(0, 7)
        noise_sd, phi = rng.uniform(0.02, 0.12), 0.6
        shocks = rng.normal(0, noise_sd * np.sqrt(1 - phi**2), len(dates))
        noise = np.zeros(len(dates))
        for k in range(len(dates)):
            noise[k] = (phi * noise[k - 1] if k else 0.0) + shocks[k]
        season = (1 + weekly * np.sin(2 * np.pi * (dates.day_of_week.to_numpy() + phase) / 7)
                  + yearly * np.sin(2 * np.pi * dates.day_of_year.to_numpy() / 365.25))
        value = level * (1 + trend * t) * season + level * noise
        frames.append(pd.DataFrame({"date": dates, PANEL_ID_COLUMN: f"s{i:02d}", PANEL_VALUE_COLUMN: value}))
    return pd.concat(frames, ignore_index=True)
