"""A panel's report: scores per series first, then their mean, and MASE so series of any size weigh alike.

MASE (Hyndman & Koehler 2006) of a series = the forecast's mean absolute error / the mean absolute error of the
in-sample seasonal naive forecast (the value one season earlier) on that series' own training part, per target,
then averaged over targets. Each series is scaled by its own affine scaler, so the ratio is the same in scaled
and in original units. The aggregate is the mean over series of each series' MASE. Test targets are only scored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from data_pipeline import WindowedData
from data_pipeline.types import SplitWindows
from models.baselines import default_season
from reports.figures import DPI, plt  # the report's headless matplotlib and resolution
from reports.scoring import ModelScore, reference_names


def mase_season(data: WindowedData, season: int | None) -> int:
    """The seasonal naive period of the MASE scale: baselines.season, else the data's default, else 1."""
    return int(season or default_season(str(data.summary.get("frequency", "D"))) or 1)


def naive_scales(data: WindowedData, season: int) -> np.ndarray:
    """(n_series, n_targets): each series' in-sample seasonal-naive mean absolute error on its training days
    (scaled units; the days its training windows hold as targets, pairs of real values only); a series without
    enough training days for one seasonal difference gets NaN."""
    frequency = str(data.summary.get("frequency", "D"))
    out = np.full((data.n_series, data.n_targets), np.nan)
    for i in range(data.n_series):
        _, values, observed = data.train.of_series(i).target_days(frequency)
        if len(values) > season:
            real = observed[season:] & observed[:-season]
            with np.errstate(invalid="ignore", divide="ignore"):
                diff = (np.abs(values[season:] - values[:-season]) * real).sum(0) / real.sum(0)
            out[i] = np.where(diff > 0, diff, np.nan)  # a constant series has no scale to compare with
    return out


def series_errors(y_pred: np.ndarray, split: SplitWindows, data: WindowedData, scales: np.ndarray) -> pd.DataFrame:
    """One row per series: its windows, MSE (scaled) and MASE of these forecasts of `split`."""
    ids = np.zeros(len(split), int) if split.series is None else split.series
    mask = np.ones(split.y.shape) if split.mask is None else split.mask.astype(np.float64)
    err = np.asarray(y_pred, np.float64) - split.y
    rows = []
    for i in range(data.n_series):
        sel = ids == i
        if not sel.any():
            continue
        m = mask[sel]
        with np.errstate(invalid="ignore", divide="ignore"):
            mse = float((err[sel] ** 2 * m).sum() / m.sum())
            mae_t = (np.abs(err[sel]) * m).sum((0, 1)) / m.sum((0, 1))
            mase = float(np.nanmean(mae_t / scales[i])) if np.isfinite(scales[i]).any() else np.nan
        rows.append({"series": series_name(data, i), "windows": int(sel.sum()), "mse": mse, "mase": mase})
    return pd.DataFrame(rows)


def series_name(data: WindowedData, i: int) -> str:
    return data.series_names[i] if data.series_names else "series"


def mase_columns(ranking: pd.DataFrame, results: list[ModelScore], data: WindowedData,
                 scales: np.ndarray) -> pd.DataFrame:
    """The ranking with each entry's test MASE (mean over series) and validation MASE; order unchanged."""
    by_name = {r.model: r for r in results}
    out = ranking.copy()
    out["test_mase"] = [float(series_errors(by_name[m].y_pred, data.test, data, scales).mase.mean())
                        for m in out.model]
    out["val_mase"] = [float(series_errors(by_name[m].val_pred, data.val, data, scales).mase.mean())
                       if by_name[m].val_pred is not None else np.nan for m in out.model]
    return out


def per_series_table(ranking: pd.DataFrame, results: list[ModelScore], data: WindowedData,
                     scales: np.ndarray) -> tuple[pd.DataFrame, str]:
    """One row per series: test MSE and MASE of the best architecture (the best-ranked entry that is not a
    baseline), of each reference entry the ranking compares with, and which of them did best on that series."""
    by_name = {r.model: r for r in results}
    best = next((m for m, k in zip(ranking.model, ranking.kind, strict=True) if k != "baseline"), ranking.model.iloc[0])
    table = None
    for name in (best, *reference_names(ranking)):
        if name not in by_name:
            continue
        part = series_errors(by_name[name].y_pred, data.test, data, scales)
        part = part.rename(columns={"mse": f"{name} MSE", "mase": f"{name} MASE"})
        table = part if table is None else table.merge(part.drop(columns="windows"), on="series")
    mase_cols = [c for c in table.columns if c.endswith(" MASE")]
    table["best here"] = [c.removesuffix(" MASE") if pd.notna(v) else "" for c, v in
                          zip(table[mase_cols].idxmin(axis=1, skipna=True).fillna(""),
                              table[mase_cols].min(axis=1), strict=True)]
    return table.sort_values(f"{best} MASE").reset_index(drop=True), best


def best_worst_figure(table: pd.DataFrame, best: str, results: list[ModelScore], data: WindowedData,
                      out: Path) -> Path:
    """The series where the best architecture's MASE is lowest and highest: every test window's first forecast
    day against the actual values, in original units, beside the reference entries of the table."""
    by_name = {r.model: r for r in results}
    ordered = table.dropna(subset=[f"{best} MASE"])
    picks = [("best", ordered.iloc[0]), ("worst", ordered.iloc[-1])] if len(ordered) else []
    fig, axes = plt.subplots(len(picks), data.n_targets, figsize=(7 * data.n_targets, 2.8 * max(1, len(picks))),
                             squeeze=False)
    for row, (which, rec) in enumerate(picks):
        i = data.series_names.index(rec.series) if data.series_names else 0
        sel = np.flatnonzero(data.test.series == i) if data.test.series is not None else np.arange(len(data.test))
        ids = None if data.test.series is None else data.test.series[sel]
        dates = pd.DatetimeIndex(data.test.origin[sel])
        actual = data.targets_to_original(data.test.y[sel], ids)[:, 0]
        for col, target in enumerate(data.target_names):
            ax = axes[row, col]
            ax.plot(dates, actual[:, col], color="black", lw=2, label="actual")
            for name in (c.removesuffix(" MASE") for c in table.columns if c.endswith(" MASE")):
                if name in by_name:
                    pred = data.targets_to_original(by_name[name].y_pred[sel], ids)[:, 0]
                    ax.plot(dates, pred[:, col], "-" if name == best else "--", lw=1.2, label=name)
            ax.set_title(f"{which} series for {best}: {rec.series} (MASE {rec[f'{best} MASE']:.2f}), {target}",
                         fontsize=9)
            ax.tick_params(labelsize=7)
    if picks:
        axes[0, 0].legend(fontsize=7)
    fig.suptitle("Best and worst series: first forecast day of every test window (original units)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "series_best_worst.png", dpi=DPI)
    plt.close(fig)
    return out / "series_best_worst.png"
