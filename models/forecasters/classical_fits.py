"""ETS, Theta, ARIMA, MSTL (models/classical.py) fitted on a span's windows, cached: the classical entries' fits.

Each model is fitted once per series and target on the training split, then forecasts every validation and test
window origin from the series up to that origin with its parameters held; the forecasts are scaled like every
model's and scored on the same windows and masks. Fits are cached in the run directory (`classical/`), keyed by a
hash of the windows and the settings, so a report rebuild does not refit. Each model's own forecast quantiles are
scored as the second interval method (CQR, as Chronos-2's); the combination's are the members' quantiles averaged
level by level (Vincentization: a quantile average, not the quantiles of the averaged forecast's error).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_pipeline import WindowedData
from data_pipeline.config import ROWS
from models.baselines import default_season
from models.classical import (
    CLASSICAL_MODELS,
    FORECAST_SPLITS,
    ClassicalFit,
    SeriesHistory,
    mstl_periods,
    series_history,
    why_not,
)
from models.classical_exog import exog_history, known_columns
from models.classical_series import observed_history, target_task
from models.forecasters.base import DEFAULT_INTERVAL_LEVELS
from models.forecasters.base import own_quantile_levels as quantile_levels_for

# bump when the fitting or forecasting changes, so old cached fits are not reused
# 2: ARIMA's own forecast standard deviations; 3: every model's own quantiles, mstl; 4: masked cells read as missing
CACHE_VERSION = "4"  # or filled (models/classical_series.py), the mask in the key
CACHE_DIR = "classical"


@dataclass
class ClassicalRun:
    """One classical model's forecasts of every validation and test window (scaled), with its fits."""

    model: str
    val_pred: np.ndarray
    test_pred: np.ndarray
    fits: list[ClassicalFit]  # one per (series, target), series-major
    cached: bool = False
    # the model's own forecast quantiles at `quantile_levels` (scaled): val_pred's / test_pred's shape + (levels,)
    val_quantiles: np.ndarray | None = None
    test_quantiles: np.ndarray | None = None
    quantile_levels: tuple[float, ...] = ()

    @property
    def fit_time_s(self) -> float:
        return float(sum(f.fit_time_s for f in self.fits))


def classical_season(data: WindowedData, season: int | None) -> int | None:
    """The season the classical models use: baselines.season, else the data's calendar default (None: rows)."""
    frequency = str(data.summary.get("frequency", "D"))
    return season or (None if frequency == ROWS else default_season(frequency))


def own_quantile_levels(interval_levels: tuple[float, ...] = DEFAULT_INTERVAL_LEVELS) -> tuple[float, ...]:
    """The quantiles the classical models forecast as their own intervals: those the report scores as the second
    interval method (CQR, at `report.interval_levels`) and the 10-90% coverage figure reads."""
    return quantile_levels_for(interval_levels)


def data_key(data: WindowedData, model: str, season: int | None, levels: tuple[float, ...] = (),
             forecast: tuple[str, ...] = FORECAST_SPLITS) -> str:
    """Hash of everything a classical fit depends on: the windows, their origins and series, the season(s), the
    quantile levels, the splits it forecasts; arima's, the known-future columns it regresses on and their values."""
    periods = mstl_periods(str(data.summary.get("frequency", "D"))) if model == "mstl" else None
    only = "" if forecast == FORECAST_SPLITS else f"|{'+'.join(forecast)}"  # both: the key the caches hold already
    known = known_columns(data) if model == "arima" else []
    # none: the key of the fits without them (never a fit with them); "bic": BIC chooses whether to read them, so
    # fits cached when every arima read them are not reused
    only += f"|exog={known}|bic" if known else ""
    cols = [data.feature_names.index(n) for n in known]
    h = hashlib.sha256(f"{CACHE_VERSION}|{model}|{season}|{periods}|{levels}|{data.n_targets}{only}".encode())
    for split in (data.train, data.val, data.test):
        exog = (split.x[..., cols], split.future[..., : len(known)]) if known else ()
        for arr in (split.x[..., : data.n_targets], split.y, split.origin, split.series, split.mask, *exog):
            if arr is not None:
                h.update(np.ascontiguousarray(arr).tobytes())
    h.update(json.dumps(data.scaler.to_dict(), sort_keys=True).encode())
    return h.hexdigest()[:24]


def _fit_model(data: WindowedData, histories: list[SeriesHistory], model: str, season: int | None,
               periods: tuple[int, int] | None, levels: tuple[float, ...], n_jobs: int, quiet: bool) -> ClassicalRun:
    """Every series' and target's fit and forecasts, in parallel over `n_jobs` processes."""
    k = data.n_targets
    scalers = [data.scaler.for_series(i) for i in range(data.n_series)]
    tasks, keys = [], []
    for i, (hist, sc) in enumerate(zip(histories, scalers, strict=True)):
        original = hist.values * sc.scale[:k] + sc.center[:k]  # fitted in the data's own units
        origins = np.concatenate([hist.val_origins, hist.test_origins])
        observed = observed_history(data, i, hist)
        exog = exog_history(data, i, hist) if model == "arima" else None  # the known-future columns, if any
        for j in range(k):
            tasks.append((model, original[:, j], observed[:, j], hist.n_train, origins, data.n_outputs, season,
                          periods, levels, exog))
            keys.append((i, j))
    started = time.monotonic()
    results = []
    if n_jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=min(n_jobs, len(tasks))) as pool:
            for n, result in enumerate(pool.map(target_task, *zip(*tasks, strict=True)), start=1):
                results.append(result)
                _progress(model, n, len(tasks), started, quiet)
    else:
        for n, t in enumerate(tasks, start=1):
            results.append(target_task(*t))
            _progress(model, n, len(tasks), started, quiet)
    # a split the histories do not forecast stays NaN (an earlier fold's test split, a refit's validation block)
    val_pred, test_pred = (np.full(s.y.shape, np.nan, np.float32) for s in (data.val, data.test))
    val_q, test_q = (np.full((*s.y.shape, len(levels)), np.nan, np.float32) for s in (data.val, data.test))
    fits: list[ClassicalFit] = []
    for (i, j), (forecast, quantiles, fit) in zip(keys, results, strict=True):
        sc, n_val = scalers[i], len(histories[i].val_origins)
        scaled = (forecast - sc.center[j]) / sc.scale[j]
        scaled_q = (quantiles - sc.center[j]) / sc.scale[j]
        for split, lo, hi, pred, q_out in ((data.val, 0, n_val, val_pred, val_q),
                                           (data.test, n_val, len(scaled), test_pred, test_q)):
            if hi == lo:
                continue
            rows = np.arange(len(split)) if split.series is None else np.flatnonzero(split.series == i)
            pred[rows, :, j] = scaled[lo:hi]
            q_out[rows, :, j] = scaled_q[lo:hi]
        fits.append(ClassicalFit.from_dict(fit))
    return ClassicalRun(model, val_pred, test_pred, fits, val_quantiles=val_q, test_quantiles=test_q,
                        quantile_levels=levels)


def _progress(model: str, done: int, total: int, started: float, quiet: bool) -> None:
    if not quiet and (done == total or done % max(1, total // 10) == 0):
        print(f"classical {model}: {done}/{total} series × targets fitted ({time.monotonic() - started:.1f} s)", flush=True)


def _load(path: Path, model: str) -> ClassicalRun | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            fits = [ClassicalFit.from_dict(f) for f in json.loads(str(z["fits"]))]
            return ClassicalRun(model, z["val_pred"], z["test_pred"], fits, cached=True,
                                val_quantiles=z["val_quantiles"], test_quantiles=z["test_quantiles"],
                                quantile_levels=tuple(float(v) for v in z["quantile_levels"]))
    except (OSError, KeyError, ValueError):
        return None  # a corrupt or foreign file is a miss: refit


def _save(path: Path, run: ClassicalRun) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}.npz")
    np.savez(tmp, val_pred=run.val_pred, test_pred=run.test_pred, val_quantiles=run.val_quantiles,
             test_quantiles=run.test_quantiles, quantile_levels=np.asarray(run.quantile_levels, np.float64),
             fits=np.array(json.dumps([f.to_dict() for f in run.fits])))
    os.replace(tmp, path)


@dataclass(frozen=True)
class Skip:
    """A classical model not fitted on some data, and why: `model` None means every requested model (the data
    cannot be read as series at all)."""

    model: str | None
    reason: str

    @property
    def note(self) -> str:
        """The sentence the report shows."""
        return f"{self.model or 'Classical models'} skipped: {self.reason}."


def classical_runs(data: WindowedData, models: list[str] | str | None, season: int | None,
                   caches: list[Path] | None = None, n_jobs: int | None = None, quiet: bool = False,
                   levels: tuple[float, ...] | None = None, forecast: tuple[str, ...] = FORECAST_SPLITS
                   ) -> tuple[list[ClassicalRun], list[Skip]]:
    """The requested classical models ("all" or None: all) fitted on `data` and forecasting its `forecast` splits (the
    others' forecasts are NaN), with their own quantiles at `levels` (None: the default interval levels'), read
    from the first of `caches` (folders) that holds them and written to every one that does not; with the models
    skipped and why."""
    requested = list(CLASSICAL_MODELS if models in (None, "all") else models)
    unknown = [m for m in requested if m not in CLASSICAL_MODELS]
    if unknown:
        raise ValueError(f"baselines.classical: unknown model(s) {unknown}; valid names: {', '.join(CLASSICAL_MODELS)}")
    season = classical_season(data, season)
    periods = mstl_periods(str(data.summary.get("frequency", "D")))
    levels = own_quantile_levels() if levels is None else tuple(sorted(float(v) for v in levels))
    n_jobs = n_jobs or min(2, os.cpu_count() or 1)
    try:
        histories = [series_history(data, i, forecast) for i in range(data.n_series)]
    except ValueError as err:  # windows that do not join into series: nothing to fit, the rest of the report stands
        return [], [Skip(None, str(err))]
    shortest = min(h.n_train for h in histories)
    runs: list[ClassicalRun] = []
    skips: list[Skip] = []
    for model in requested:
        why = why_not(model, shortest, season, periods)
        if why:
            skips.append(Skip(model, why))
            continue
        paths = [c / f"{model}-{data_key(data, model, season, levels, forecast)}.npz" for c in caches or []]
        run = next((r for r in (_load(p, model) for p in paths if p.exists()) if r is not None), None)
        if run is None:
            try:
                run = _fit_model(data, histories, model, season, periods, levels, n_jobs, quiet)
            except ValueError as err:  # ours: too short, non-finite values, no form or order could be fitted
                skips.append(Skip(model, str(err)))
                continue
            except (ArithmeticError, np.linalg.LinAlgError, RuntimeError) as err:
                # statsmodels failing on odd data costs this entry, never the whole report
                skips.append(Skip(model, f"statsmodels failed ({type(err).__name__}: {err})"))
                continue
            forecasts = {"val": (run.val_pred, run.val_quantiles), "test": (run.test_pred, run.test_quantiles)}
            if not all(np.isfinite(a).all() for name in forecast for a in forecasts[name]):
                skips.append(Skip(model, "its forecasts are not finite on some window (the fitted parameters do "
                                         "not hold on the later data)"))
                continue
        for path in paths:
            if not path.exists():
                try:
                    _save(path, run)
                except OSError as err:  # a read-only cache costs a refit next time, nothing else
                    warnings.warn(f"could not write the classical fits to {path}: {err}", RuntimeWarning,
                                  stacklevel=2)
        runs.append(run)
    return runs, skips


def cache_dirs(run_path: Path | None, data_cache: Path) -> list[Path]:
    """Where fits are kept: the run directory (a report rebuild never refits), then beside the windowed-data
    cache (`data.cache_dir`: StoredConfig.data_cache_dir), so another run on the same data and windows reuses
    them."""
    return ([] if run_path is None else [Path(run_path) / CACHE_DIR]) + [data_cache / CACHE_DIR]
