"""The report's figures, as PNG files: what a reader looks at before reading any table."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: reports are built on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pandas.tseries.frequencies import to_offset  # noqa: E402

from data_pipeline import WindowedData  # noqa: E402
from data_pipeline.config import ROWS  # noqa: E402
from reports.runs import RunDir, TrialRecord  # noqa: E402
from reports.scoring import ModelScore  # noqa: E402

DPI = 110


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def loss_curves(best: dict[str, TrialRecord], out: Path) -> Path:
    models = sorted(m for m in best if len(best[m].history) > 1 or "train_loss" in best[m].history[0])
    cols = min(3, max(1, len(models)))
    rows = int(np.ceil(max(1, len(models)) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat[len(models):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, models, strict=False):
        hist = best[name].history
        epochs = [r["epoch"] for r in hist]
        ax.plot(epochs, [r["train_loss"] for r in hist], label="train loss")
        ax.plot(epochs, [r["val_mse"] for r in hist], label="validation MSE")
        best_epoch = min(hist, key=lambda r: r["val_mse"])["epoch"] if hist else None
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", ls=":", lw=1, label="best epoch")
        ax.set_title(f"{name} ({best[name].tag})", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.suptitle("Training curves of each model's chosen trial (scaled units)", fontsize=10)
    return _save(fig, out / "loss_curves.png")


def window_dates(origin: pd.Timestamp, n_inputs: int, n_outputs: int,
                 frequency: str) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """The dates of a window's inputs and of its forecast, on the series' own frequency (daily, hourly, weekly,
    monthly, ...; data_summary.json records it)."""
    freq = to_offset(frequency)
    past = pd.date_range(end=origin, periods=n_inputs + 1, freq=freq)[:-1]
    return past, pd.date_range(start=origin, periods=n_outputs, freq=freq)


def forecast_examples(results: list[ModelScore], data: WindowedData, out: Path, n_windows: int = 3,
                      bands: list[tuple[float, np.ndarray, np.ndarray]] | None = None, band_model: str = "") -> Path:
    """The same test windows for every model, spread over the test period, in original units. `bands`: one
    model's (level, lower, upper) intervals on the test windows (scaled), shaded widest first."""
    import matplotlib.dates as mdates

    n = len(data.test)
    picks = np.unique(np.linspace(0, n - 1, n_windows).round().astype(int))
    targets = data.target_names
    fig, axes = plt.subplots(len(targets), len(picks), figsize=(4.2 * len(picks), 2.5 * len(targets)),
                             squeeze=False)
    ids = data.test.series  # a panel's windows each map back with their own series' scaler
    history_x = data.targets_to_original(data.test.x[:, :, : data.n_targets], ids)
    y_true = data.targets_to_original(data.test.y, ids)
    h = data.n_outputs
    # Enough context to read the forecast against, without squeezing the forecast into a corner.
    shown = min(data.n_inputs, max(2 * h, 14))
    no_calendar = data.summary.get("frequency") == ROWS
    for col, w in enumerate(picks):
        one = None if ids is None else ids[w : w + 1]
        origin = pd.Timestamp(data.test.origin[w])
        if no_calendar:  # steps relative to the origin: dates between rows are unknown, so none are drawn
            past, future = np.arange(-data.n_inputs, 0), np.arange(h)
        else:
            past, future = window_dates(origin, data.n_inputs, h, data.summary.get("frequency", "D"))
        past = past[-shown:]
        for row, target in enumerate(targets):
            ax = axes[row, col]
            ax.plot(past, history_x[w, -shown:, row], color="black", lw=1, label="observed input")
            for i, (level, lo, hi) in enumerate(sorted(bands or [], key=lambda b: -b[0])):
                ax.fill_between(future, data.targets_to_original(lo[w], one)[:, row],
                                data.targets_to_original(hi[w], one)[:, row],
                                color="C0", alpha=0.12 + 0.12 * i, lw=0, label=f"{band_model} {level:.0%} interval")
            ax.plot(future, y_true[w, :, row], color="black", lw=2.2, marker="o", ms=3, label="actual")
            for r in results:
                style = "--" if r.kind == "baseline" else "-"
                ax.plot(future, data.targets_to_original(r.y_pred[w], one)[:, row], style, lw=1.2, label=r.model)
            ax.axvline(-0.5 if no_calendar else origin - (origin - past[-1]) / 2, color="grey", lw=0.8, ls=":")
            when = origin.date() if origin == origin.normalize() else origin.strftime("%Y-%m-%d %H:%M")
            where = "" if ids is None else f"{data.series_names[ids[w]]}: "
            ax.set_title(f"{where}{target}, forecast from {when}", fontsize=8)
            if no_calendar:
                ax.set_xlabel("rows from the forecast origin (data.frequency=rows)", fontsize=7)
            else:
                locator = mdates.AutoDateLocator(maxticks=5)
                ax.xaxis.set_major_locator(locator)
                ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            ax.tick_params(labelsize=7)
    fig.suptitle("Forecast vs actual on the same test windows (original units; dashed: baselines)", fontsize=10)
    fig.tight_layout()
    # The legend goes below the axes (and their month labels) and the saved image grows to hold it: with a dozen
    # ensembles and baselines it needs several rows, as many columns as the figure's width takes.
    handles, labels = axes[0, 0].get_legend_handles_labels()
    columns = max(1, min(len(labels), int(fig.get_size_inches()[0] / 2.0)))
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=columns, fontsize=7,
               frameon=False)
    fig.savefig(out / "forecast_examples.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return out / "forecast_examples.png"


def step_name(frequency: str) -> str:
    """"day" for daily data, "hour" for hourly, ...; "step" for anything less common (and rows)."""
    if frequency == ROWS:
        return "step"
    base = to_offset(frequency).rule_code.split("-")[0]
    names = {"D": "day", "B": "business day", "h": "hour", "H": "hour", "min": "minute", "T": "minute",
             "W": "week", "MS": "month", "ME": "month", "M": "month", "QS": "quarter", "QE": "quarter",
             "YS": "year", "YE": "year"}
    return names.get(base, "step") if to_offset(frequency).n == 1 else "step"


def per_horizon(table: pd.DataFrame, out: Path, frequency: str = "D", dashed: set[str] = frozenset()) -> Path:
    """Test MSE per forecast step, one line per entry; `dashed`: the baselines' names (drawn dashed)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for model in table.columns:
        style = "--" if model in dashed else "-"
        ax.plot(table.index, table[model], style, marker="o", ms=3, label=model)
    ax.set_xlabel(f"forecast {step_name(frequency)}")
    ax.set_ylabel("test MSE (scaled)")
    ax.set_title("Test error by forecast horizon", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, out / "per_horizon.png")


def val_distribution(run: RunDir, out: Path) -> Path:
    """Validation MSE of every trial, per model: how much each family depends on its grid. Hollow points are
    trials ASHA cut short (their score is from fewer epochs, so it says less about the grid point)."""
    by_model: dict[str, list[TrialRecord]] = {}
    for t in run.trials:
        if np.isfinite(t.best_val_mse):
            by_model.setdefault(t.model, []).append(t)
    models = sorted(by_model)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    if models:
        ax.boxplot([[t.best_val_mse for t in by_model[m]] for m in models], showfliers=False)
        ax.set_xticks(range(1, len(models) + 1), models)
        for i, m in enumerate(models, start=1):
            trials = by_model[m]
            jitter = np.random.default_rng(i).uniform(-0.12, 0.12, len(trials))
            for cut, marker in ((False, "filled"), (True, "hollow")):
                pick = [j for j, t in enumerate(trials) if (t.status != "finished") == cut]
                if not pick:
                    continue
                ax.scatter(i + jitter[pick], [trials[j].best_val_mse for j in pick], s=14, alpha=0.7,
                           color=f"C{i - 1}", facecolors="none" if marker == "hollow" else f"C{i - 1}",
                           label=("cut early by ASHA" if cut else "ran to its own stop") if i == 1 else None)
        ax.legend(fontsize=7)
    ax.set_ylabel("best validation MSE (scaled)")
    ax.set_title("Validation MSE of all trials per model", fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
    return _save(fig, out / "val_mse_by_trial.png")


def interval_coverage(coverage: dict[str, list[float]], out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for model, values in coverage.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=model)
    ax.axhline(0.8, color="grey", ls="--", lw=1, label="calibrated (0.8)")
    ax.set_ylim(0, 1)
    ax.set_xlabel("forecast day")
    ax.set_ylabel("share of test values inside")
    ax.set_title("10%-90% forecast interval coverage on test", fontsize=10)
    ax.legend(fontsize=7)
    return _save(fig, out / "interval_coverage.png")


def calibration(coverage: pd.DataFrame, out: Path, frequency: str = "D", dashed: set[str] = frozenset()) -> Path:
    """Nominal vs empirical test coverage per forecast day: one panel per level, one line per model.
    `coverage`: rows = forecast day, columns '<model> <level>%' (reports.intervals.coverage_by_horizon);
    `dashed`: the baselines' names."""
    levels = sorted({c.rsplit(" ", 1)[1] for c in coverage.columns}, key=lambda t: float(t.rstrip("%")))
    fig, axes = plt.subplots(1, len(levels), figsize=(5.2 * len(levels), 3.8), squeeze=False)
    for ax, tag in zip(axes[0], levels, strict=True):
        nominal = float(tag.rstrip("%")) / 100
        for col in [c for c in coverage.columns if c.endswith(f" {tag}")]:
            model = col.rsplit(" ", 1)[0]
            style = "--" if model.removesuffix(" (CQR)") in dashed else "-"
            ax.plot(coverage.index, coverage[col], style, marker="o", ms=3, label=model)
        ax.axhline(nominal, color="black", lw=1.2, ls=":", label=f"nominal {tag}")
        ax.set_ylim(max(0.0, min(nominal - 0.3, float(coverage.min().min()) - 0.05)), 1.01)
        ax.set_xlabel(f"forecast {step_name(frequency)}")
        ax.set_ylabel("share of test values inside")
        ax.set_title(f"{tag} intervals (calibrated on validation)", fontsize=9)
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle("Interval coverage on test: nominal vs empirical, per model and forecast step", fontsize=10)
    return _save(fig, out / "interval_calibration.png")
