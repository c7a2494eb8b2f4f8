# %% [markdown]
# # Known-future covariates: forecast with what you already know about the future
#
# A notebook in script form (`# %%` cells; all at once: `.venv/bin/python examples/notebook_covariates.py`, about
# a minute on 2 cores). A shop's daily sales rise on the days of a promotion the shop plans weeks ahead: the
# promotion calendar is a *known-future* column. Named in `data.known_future`, it is an input and never a target;
# the models read its past values in the input window and its values on every forecast day, and a forecast past
# the data's end needs the planned promotions of the coming days (the `future=` frame).
# The sales here are made up so that the example runs anywhere; benchmarks/covariates.py measures the same on
# real data.

# %%
import numpy as np
import pandas as pd

import sweeps

rng = np.random.default_rng(7)
days = pd.date_range("2022-01-01", periods=540, freq="D")
promo = (rng.random(len(days)) < 0.15).astype(float)  # planned: known for any date the shop has scheduled
week = 3 * np.sin(2 * np.pi * np.arange(len(days)) / 7)
sales = 50 + week + 12 * promo + np.cumsum(rng.normal(0, 0.4, len(days))) + rng.normal(0, 1.5, len(days))
frame = pd.DataFrame({"sales": sales, "promo": promo}, index=days)
frame.tail()

# %%
# `data.known_future` names the columns whose future you know; a panel's per-series attributes (region, store
# type) go in `data.static_columns`. Every config key is a dotted keyword.
result = sweeps.sweep(frame, profile="smoke", models=["gru_nar"], wandb_mode="disabled",
                      **{"data.known_future": ["promo"], "window.input": 28})
result  # noqa: B018 - a notebook shows the verdict and ranking here

# %%
# The ranking says which covariates each entry reads (seasonal naive and persistence read none), and the report's
# notes say what they bought the chosen entry: its validation error with the promotions shuffled.
print(result.ranking[["rank", "model", "covariates", "val_mse_mean", "test_mse"]].to_string(index=False))

# %%
# The next 7 days need the planned promotions of those days: a frame with the date and every known-future
# column (a file works too: `python -m reports.forecast RUN --future plan.csv`). A missing date or column is one
# error naming it.
plan = pd.DataFrame({"date": pd.date_range(days[-1] + pd.Timedelta(days=1), periods=7, freq="D"),
                     "promo": [0, 0, 1, 0, 0, 0, 1]})
future = result.forecast(future=plan)
print(f"Forecast by {future.attrs['model']}:")
print(future.to_string(index=False))
