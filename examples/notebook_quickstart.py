# %% [markdown]
# # Forecast Sweep from Python
#
# A notebook in script form: the `# %%` cells run one by one in VS Code, PyCharm or Jupyter (with jupytext), or
# all at once with `.venv/bin/python examples/notebook_quickstart.py` (about a minute on 2 cores). It sweeps two
# architectures on the embedded Seattle weather (1461 days), ranks them beside the baselines, forecasts the next
# week with intervals, and reopens the run.

# %%
from vega_datasets import local_data

import sweeps

# A wide frame with a DatetimeIndex is one multivariate series: every numeric column is an input and a target
# (the text column `weather` is not numeric and is left out). Nixtla long frames (unique_id, ds, y) and
# AutoGluon's (item_id, timestamp, target) are recognised too, as one series per id.
frame = local_data.seattle_weather().set_index("date")
frame.tail()

# %%
# The smoke profile: one tiny trial per architecture, 2 epochs. Any config key is a dotted keyword, e.g.
# **{"window.input": 60}; wandb_mode="disabled" keeps this example off W&B (the default logs offline or online).
result = sweeps.sweep(frame, profile="smoke", models=["gru_nar", "transformer"], wandb_mode="disabled")
result  # noqa: B018 - a notebook shows the verdict and ranking here; result.show_report(): the whole report

# %%
# The ranking is ordered by validation MSE (rank 1 is the model to deploy); the test columns show how it held up.
print(result.ranking[["rank", "model", "kind", "val_mse_mean", "test_mse", "tied_with_winner"]].to_string(index=False))
print("Chosen on validation:", result.winner)
print("Report:", result.report_path)

# %%
# The next 7 days with the winner (the best trained model when a baseline wins), in original units, with 80% and
# 95% split-conformal intervals: <target>, <target>_lo80, <target>_hi80, <target>_lo95, <target>_hi95.
future = result.forecast()
note = future.attrs.get("note")  # e.g. which trained model stands in when a baseline won
print(f"Forecast by {future.attrs['model']}" + (f" ({note})" if note else "") + ":")
print(future.to_string(index=False))

# %%
# Later, or in another notebook: the run directory holds everything (the frame itself as data.parquet).
again = sweeps.open_run(result.run_dir)
print(again)
