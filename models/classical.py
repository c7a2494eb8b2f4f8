"""Classical forecasters: ETS, Theta, ARIMA and, on sub-daily data, MSTL (statsmodels): the baselines a forecaster
checks first.

Protocol (the same as every entry of a ranking): each model is fitted once per series and target on the training
split, in original units; its parameters are then held, and it forecasts every validation and test window origin
from the observations before that origin (state-space filtering with the fitted parameters, no refit).

ets    statsmodels' ETSModel. Forms: error A or M, trend N, A or Ad (damped), seasonal N, A or M (M parts only on
       strictly positive training data; A error with M season is left out as numerically unstable, as in R's
       ets); the form with the lowest AICc wins. Initial states by statsmodels' heuristic (the first seasons of
       the training split), so the AICc counts the smoothing parameters only.
theta  statsmodels' ThetaModel (the standard Theta method: SES with drift b0/2, Hyndman & Billah 2003), with its
       own seasonality test (ACF at the season lag, 90%) deciding whether to deseasonalize (multiplicative
       decomposition on positive data, else additive). Held: alpha, b0, the seasonal factors.
arima  statsmodels' ARIMA (state space, exact MLE). Seasonal differencing D=1 (with a seasonal MA(1)) when the training split's STL
       seasonal strength exceeds 0.64; d (0-2) by repeated KPSS tests at 5%; then every (p, q) with p + q <= 2 by
       AICc (a small grid, not Hyndman-Khandakar's stepwise search: (2,2) alone cost more than the rest together),
       with a constant when d+D = 0 and a drift when d+D = 1. With the user's known-future columns
       (data.known_future, `exog`): regression with ARIMA errors (statsmodels' ARIMA exog, as R's Arima xreg), the
       differencing tests reading what a least-squares fit on them leaves (as R's auto.arima); a column constant
       over the training split, or collinear with the constant and the columns before it, is left out; each order
       is fitted with the columns and without, AICc picks the order on each side and BIC whether the columns earn
       their parameters (`_with_or_without`). A forecast
       from origin o reads the targets before o and the columns on its own forecast steps (o .. o+h-1).
mstl   sub-daily data with two seasons (hourly: 24 and 168; half-hourly: 48 and 336): statsmodels' MSTL
       decomposition of the training split; the weekly component's last cycle is held (its seasonal naive
       forecast, at every origin), and an ETS with the daily season (the ets forms, AICc) models the values less
       that cycle, so the daily cycle stays a state that every observation updates. Holding both components (an
       ETS of the deseasonalized series, statsforecast's MSTL without its per-origin re-decomposition) was measured
       on an hourly year and lost to seasonal naive by far once the daily cycle's amplitude moved with the season.

Own intervals (the second interval method beside conformal): each model's own forecast distribution with every
parameter, the innovation variance included, held from the training split. arima: the Kalman filter's Gaussian
forecast variance. ets: statsmodels' closed-form variance for the additive-error forms that have one, else (as
statsmodels' get_prediction) quantiles of 1000 simulated paths (fixed seed: the same draws at every origin). theta:
ThetaModelResults.prediction_intervals' Gaussian variance. mstl: the ETS part's band plus the held weekly cycle
(statsforecast's MSTL intervals are its trend model's, too: the decomposition counts as known).

Univariate: each target is forecast from its own past; other input columns are not read, except ARIMA's
known-future regressors (models/classical_exog.py builds them; ets, theta and mstl read none).

Over 300 lines: the classical families share one protocol (fit once, forecast every origin with the
parameters held) and the windows-to-series reconstruction, so they stay side by side in one file.
"""

from __future__ import annotations

import itertools
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from data_pipeline.types import SplitWindows, WindowedData

CLASSICAL_MODELS = ("ets", "theta", "arima", "mstl")
COMBO = "classical_combo"
MIN_TRAIN_ROWS = 10  # fewer and no initial state or order can be estimated
ARIMA_ORDERS = ((0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (0, 2))  # every (p, q) with p + q <= 2
SEASONAL_STRENGTH_THRESHOLD = 0.64  # Wang, Smith & Hyndman (2006), as R's and statsforecast's nsdiffs
ETS_SIMULATIONS = 1000  # statsmodels' get_prediction default for the ETS forms without a closed-form variance
ETS_SEED = 0  # the simulated bands are reproducible (and cacheable) run to run
MSTL_PERIODS = {"h": (24, 168), "30min": (48, 336)}  # a day and a week, in steps


@dataclass(frozen=True)
class ClassicalFit:
    """One model fitted on one series' target: what was chosen and every number its forecasts need (JSON-able)."""

    model: str
    form: str  # e.g. "ETS(M,Ad,M)", "Theta(mul season)", "ARIMA(1,1,1)(0,1,1)12 drift"
    spec: dict[str, Any] = field(default_factory=dict)
    fit_time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "form": self.form, "spec": self.spec, "fit_time_s": self.fit_time_s}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassicalFit:
        return cls(d["model"], d["form"], dict(d["spec"]), float(d["fit_time_s"]))


def mstl_periods(frequency: str) -> tuple[int, int] | None:
    """MSTL's two seasons (a day and a week, in steps) for hourly or half-hourly data (pandas freqstr); else None."""
    from pandas.tseries.frequencies import to_offset

    try:
        offset = to_offset(frequency)
    except ValueError:
        return None
    return MSTL_PERIODS.get(offset.freqstr.lower().removeprefix("1"))


def why_not(model: str, n_train: int, season: int | None,
            periods: tuple[int, int] | None = None) -> str | None:
    """None when `model` can be fitted on a training split of `n_train` rows; otherwise why not. `periods`:
    MSTL's two seasons (`mstl_periods`), None where the data is not hourly or half-hourly."""
    if model not in CLASSICAL_MODELS:
        raise ValueError(f"unknown classical model {model!r}; valid names: {', '.join(CLASSICAL_MODELS)}")
    if n_train < MIN_TRAIN_ROWS:
        return f"the training split has {n_train} rows (at least {MIN_TRAIN_ROWS} needed)"
    if model == "mstl":
        if periods is None:
            return "the data is not hourly or half-hourly (MSTL models two seasons, a day and a week, of sub-daily data)"
        if n_train <= 2 * periods[1]:
            return (f"the training split has {n_train} rows, too short for two full cycles of the weekly season "
                    f"(at least 2 × {periods[1]} + 1 = {2 * periods[1] + 1} needed)")
    return None


def _seasonal(season: int | None, n_train: int) -> int | None:
    """The season the models use: only where the training split holds two whole seasons (a decomposition and a
    heuristic initial state need them)."""
    return season if season is not None and season > 1 and n_train >= 2 * season + 1 else None


def fit_classical(model: str, y_train: np.ndarray, season: int | None,
                  periods: tuple[int, int] | None = None, complete: np.ndarray | None = None,
                  exog: pd.DataFrame | None = None) -> ClassicalFit:
    """Fit `model` on one target's training values (original units, oldest first). `periods`: mstl's seasons.
    `complete` (arima only): y_train with its NaN (missing) cells filled; the seasonal-strength and KPSS tests
    that choose D and d read it (they need every value), the likelihood reads y_train's NaN as missing.
    `exog` (arima only): the known-future columns on the training rows (original units, named columns)."""
    y = np.asarray(y_train, dtype=np.float64)
    why = why_not(model, len(y), season, periods)
    if why:
        raise ValueError(f"{model}: {why}")
    if complete is not None and (model != "arima" or len(complete) != len(y)):
        raise ValueError(f"{model}: only arima reads missing training values (with a complete copy as long)")
    if exog is not None and (model != "arima" or len(exog) != len(y)
                             or not np.isfinite(exog.to_numpy(dtype=np.float64)).all()):
        raise ValueError(f"{model}: only arima reads known-future regressors (finite, one row per training value)")
    if not np.isfinite(y if complete is None else complete).all() or np.isinf(y).any():
        raise ValueError(f"{model}: the training values contain non-finite numbers")
    started = time.perf_counter()
    m = _seasonal(season, len(y))
    _import_statsmodels()
    with warnings.catch_warnings():
        # convergence and KPSS table-range warnings: the AICc comparison (or the test's bound) already decides
        warnings.simplefilter("ignore")
        if model == "mstl":
            form, spec = _fit_mstl(y, periods)  # type: ignore[arg-type]  # why_not: periods is set
        elif model == "arima":
            form, spec = _fit_arima(y, m, complete, exog)
        else:
            form, spec = {"ets": _fit_ets, "theta": _fit_theta, "arima": _fit_arima}[model](y, m)
    return ClassicalFit(model, form, spec, round(time.perf_counter() - started, 4))


def forecast_origins(fit: ClassicalFit, history: np.ndarray, origins: np.ndarray, horizon: int,
                     exog: pd.DataFrame | None = None) -> np.ndarray:
    """(len(origins), horizon) point forecasts in original units. history: the series' values from the first
    training row on; a forecast from origin o reads history[:o] only (o may be len(history): the next steps).
    exog: the known-future columns an arima fit reads (others ignore it), rows aligned with history and running
    on to the last origin's last forecast step; a forecast from o reads its rows before o + horizon only."""
    return _forecasts(fit, history, origins, horizon, (), exog)[0]


def forecast_with_quantiles(fit: ClassicalFit, history: np.ndarray, origins: np.ndarray, horizon: int,
                            levels: tuple[float, ...], exog: pd.DataFrame | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Like `forecast_origins`, with the model's own forecast quantiles at `levels` (e.g. 0.1, 0.9), original
    units, (len(origins), horizon, len(levels)): its own prediction intervals (the module docstring says how)."""
    point, quantiles = _forecasts(fit, history, origins, horizon, tuple(levels), exog)
    return point, np.empty((*point.shape, 0)) if quantiles is None else quantiles  # None: no level asked for


def _gaussian(point: np.ndarray, sd: np.ndarray, levels: tuple[float, ...]) -> np.ndarray:
    from scipy.stats import norm

    return point[..., None] + sd[..., None] * norm.ppf(levels)


def _forecasts(fit: ClassicalFit, history: np.ndarray, origins: np.ndarray, horizon: int,
               levels: tuple[float, ...], exog: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Point forecasts, and the quantiles at `levels` (None when no level is asked for: they cost simulations)."""
    y = np.asarray(history, dtype=np.float64)
    origins = np.asarray(origins, dtype=np.int64)
    if len(origins) and (origins.min() < 1 or origins.max() > len(y)):
        raise ValueError(f"origins must lie in [1, {len(y)}], got {origins.min()}..{origins.max()}")
    # only what the latest origin may read: a later value cannot reach any forecast, even by accident
    y = y[: int(origins.max()) if len(origins) else 0]
    x = _regressors(fit, exog, len(y) + horizon)  # likewise: no regressor row after the last forecast step
    _import_statsmodels()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if x is not None:
            return _forecast_arima(fit.spec, y, origins, horizon, levels, x)
        forecast = {"ets": _forecast_ets, "theta": _forecast_theta, "arima": _forecast_arima,
                    "mstl": _forecast_mstl}[fit.model]
        return forecast(fit.spec, y, origins, horizon, levels)


def _regressors(fit: ClassicalFit, exog: pd.DataFrame | None, rows: int) -> np.ndarray | None:
    """The fit's known-future regressors (`exog`'s spec["exog"] columns) on the first `rows` rows; None where the
    fit reads none."""
    names = list(fit.spec.get("exog") or [])
    if not names:
        return None
    if exog is None or any(n not in exog.columns for n in names) or len(exog) < rows:
        got = "none" if exog is None else f"{len(exog)} rows of {[str(c) for c in exog.columns]}"
        raise ValueError(f"{fit.form} reads the known-future column(s) {names}: give them on every row up to the "
                         f"last forecast step ({rows} rows; got {got})")
    x = exog[names].to_numpy(dtype=np.float64)[:rows]
    if not np.isfinite(x).all():
        raise ValueError(f"{fit.form}: the known-future column(s) {names} hold non-finite values")
    return x


def _import_statsmodels() -> None:
    """Import the statsmodels modules used here before silencing warnings: statsmodels sets "always" filters for
    its own warning classes on import, which inside a catch_warnings block would override the "ignore"."""
    import statsmodels.tsa.arima.model  # noqa: F401
    import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401
    import statsmodels.tsa.forecasting.theta  # noqa: F401
    import statsmodels.tsa.seasonal  # noqa: F401
    import statsmodels.tsa.statespace.sarimax  # noqa: F401  # ThetaModelResults.sigma2 fits one
    import statsmodels.tsa.stattools  # noqa: F401


# --- ETS ---------------------------------------------------------------------------------------------------------

def _ets_model(y: np.ndarray, spec: dict[str, Any], **init: Any):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    return ETSModel(y, error=spec["error"], trend=spec["trend"], damped_trend=spec["damped"],
                    seasonal=spec["seasonal"], seasonal_periods=spec["season"], **init)


def _ets_form(spec: dict[str, Any]) -> str:
    trend = {None: "N", "add": "A"}[spec["trend"]] + ("d" if spec["damped"] else "")
    season = {None: "N", "add": "A", "mul": "M"}[spec["seasonal"]]
    return f"ETS({spec['error'][0].upper()},{trend},{season})" + (f" m={spec['season']}" if spec["seasonal"] else "")


def ets_forms(positive: bool, season: int | None) -> list[dict[str, Any]]:
    """The candidate forms, each a spec without parameters."""
    forms = []
    for error, (trend, damped), seasonal in itertools.product(
            ("add", "mul"), ((None, False), ("add", False), ("add", True)), (None, "add", "mul")):
        if (error == "mul" or seasonal == "mul") and not positive:
            continue
        if seasonal is not None and season is None:
            continue
        if error == "add" and seasonal == "mul":
            continue
        forms.append({"error": error, "trend": trend, "damped": damped, "seasonal": seasonal,
                      "season": season if seasonal else None})
    return forms


def _fit_ets(y: np.ndarray, season: int | None) -> tuple[str, dict[str, Any]]:
    best = None
    for spec in ets_forms(bool(y.min() > 0), season):
        try:
            res = _ets_model(y, spec, initialization_method="heuristic").fit(disp=False)
        except (ValueError, np.linalg.LinAlgError):
            continue  # a form the data cannot initialise (e.g. too short for the heuristic): not a candidate
        if np.isfinite(res.aicc) and (best is None or res.aicc < best[0]):
            best = (float(res.aicc), spec, res)
    if best is None:
        raise ValueError("ets: no form could be fitted to the training values")
    aicc, spec, res = best
    # mse: the innovation variance (relative errors under M error), held for the intervals like the parameters
    spec = dict(spec, params=[float(v) for v in np.asarray(res.params)], aicc=aicc, mse=float(res.mse),
                initial_level=float(res.initial_level),
                initial_trend=None if spec["trend"] is None else float(res.initial_trend),
                initial_seasonal=None if spec["seasonal"] is None else [float(v) for v in res.initial_seasonal])
    return _ets_form(spec), spec


def ets_filtered(spec: dict[str, Any], y: np.ndarray):
    """statsmodels' ETS results on `y` with the fitted parameters and initial states held (no estimation)."""
    init = {"initialization_method": "known", "initial_level": spec["initial_level"]}
    if spec["trend"] is not None:
        init["initial_trend"] = spec["initial_trend"]
    if spec["seasonal"] is not None:
        init["initial_seasonal"] = np.asarray(spec["initial_seasonal"])
    # a pandas Series: statsmodels' ETS get_prediction fails on a plain array (it reads the index of its mean)
    return _ets_model(pd.Series(y), spec, **init).smooth(np.asarray(spec["params"]))


def _ets_anchor(o: int, n: int) -> int | str:
    # the state after observation o-1 (statsmodels counts its anchor from the initial state); past the data: "end"
    return int(o) - 1 if o < n else "end"


def _forecast_ets(spec: dict[str, Any], y: np.ndarray, origins: np.ndarray, horizon: int,
                  levels: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    res = ets_filtered(spec, y)
    zeros = np.zeros((horizon, 1))
    # a forecast is a simulation without errors from the state after observation o-1 (statsmodels' own forecast)
    point = np.stack([np.asarray(res.simulate(horizon, anchor=int(o) - 1, random_errors=zeros)).reshape(-1)
                      if o < len(y) else np.asarray(res.forecast(horizon)).reshape(-1) for o in origins])
    return point, (_ets_quantiles(spec, res, point, origins, horizon, levels) if levels else None)


def _ets_quantiles(spec: dict[str, Any], res: Any, point: np.ndarray, origins: np.ndarray, horizon: int,
                   levels: tuple[float, ...]) -> np.ndarray:
    """statsmodels' ETS prediction intervals (get_prediction's choice of method) with the training split's
    innovation variance held: statsmodels would take the variance of the residuals up to the latest origin."""
    n = len(res.model.endog)
    try:  # the closed form, where the form has one (additive errors): Gaussian, variance mse · relative variance
        relative = np.asarray(res.get_prediction(start=n, end=n + horizon - 1, method="exact").var_pred_mean) / res.mse
        return _gaussian(point, np.sqrt(spec["mse"] * relative)[None, :], levels)
    except NotImplementedError:  # as statsmodels: quantiles of simulated paths
        draws = np.random.default_rng(ETS_SEED).standard_normal((horizon, ETS_SIMULATIONS)) * np.sqrt(spec["mse"])
        return np.stack([np.quantile(np.asarray(res.simulate(horizon, anchor=_ets_anchor(o, n),
                                                             repetitions=ETS_SIMULATIONS, random_errors=draws)),
                                     levels, axis=1).T for o in origins])


# --- Theta -------------------------------------------------------------------------------------------------------

def _fit_theta(y: np.ndarray, season: int | None) -> tuple[str, dict[str, Any]]:
    from statsmodels.tsa.forecasting.theta import ThetaModel

    model = ThetaModel(y, period=season or 1, deseasonalize=season is not None)
    res = model.fit()
    method = "mul" if model.method.startswith("mul") else "add"
    factors: list[float] = []
    if season is not None:  # one factor per phase of the season, position 0 = the first training row
        comp = res.forecast_components(season)
        phase = (len(y) + np.arange(season)) % season
        by_phase = np.empty(season)
        by_phase[phase] = np.asarray(comp["seasonal"])
        factors = [float(v) for v in by_phase]
    neutral = 1.0 if method == "mul" else 0.0
    seasonal = bool(factors) and not np.allclose(factors, neutral)
    # sigma2: statsmodels' innovation variance of the Theta model (an ARIMA(0,1,1) fit), for its intervals
    spec = {"alpha": float(res.params["alpha"]), "b0": float(res.params["b0"]), "method": method,
            "season": season, "seasonal": factors if seasonal else [], "sigma2": float(res.sigma2)}
    return f"Theta({method} season m={season})" if seasonal else "Theta(no season)", spec


def _forecast_theta(spec: dict[str, Any], y: np.ndarray, origins: np.ndarray, horizon: int,
                    levels: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    """ThetaModelResults.forecast's formula at every origin, with alpha, b0 and the seasonal factors held:
    SES (initial level = the first value, as statsmodels) of the deseasonalized series up to the origin, plus
    b0/2 times the drift term of the origin's number of observations, reseasonalized. Its intervals:
    ThetaModelResults.prediction_intervals' formula, sigma2 · (1 + (h-1)(1 + (alpha-1)^2)), sigma2 held."""
    alpha, b0, factors, mul = spec["alpha"], spec["b0"], np.asarray(spec["seasonal"]), spec["method"] == "mul"
    n = len(y)
    pos = np.arange(n)
    x = y if not len(factors) else (y / factors[pos % len(factors)] if mul else y - factors[pos % len(factors)])
    level = np.empty(n)  # level[t]: after observing x[0..t]
    current = x[0]
    for t in range(n):
        current = alpha * x[t] + (1 - alpha) * current
        level[t] = current
    out = np.empty((len(origins), horizon))
    h = np.arange(horizon, dtype=np.float64)
    for k, o in enumerate(origins):
        steps = h + (1 / alpha - (1 - alpha) ** o / alpha if alpha > 0 else 0.0)
        fc = 0.5 * b0 * steps + level[o - 1]  # theta = 2: half the linear trend's slope
        if len(factors):
            s = factors[(o + np.arange(horizon)) % len(factors)]
            fc = fc * s if mul else fc + s
        out[k] = fc
    if not levels:
        return out, None
    sd = np.sqrt((1 + h * (1 + (alpha - 1) ** 2)) * spec["sigma2"])
    return out, _gaussian(out, sd[None, :], levels)


# --- ARIMA -------------------------------------------------------------------------------------------------------

def seasonal_strength(y: np.ndarray, season: int) -> float:
    """STL seasonal strength max(0, 1 - var(remainder) / var(seasonal + remainder)) (Wang, Smith & Hyndman)."""
    from statsmodels.tsa.seasonal import STL

    res = STL(y, period=season, robust=True).fit()
    detrended = res.seasonal + res.resid
    var = np.var(detrended)
    return float(max(0.0, 1.0 - np.var(res.resid) / var)) if var > 0 else 0.0


def _kpss_differences(y: np.ndarray, max_d: int = 2) -> int:
    from statsmodels.tsa.stattools import kpss

    d = 0
    while d < max_d and len(y) > 10 and np.ptp(y) > 0:
        if kpss(y, regression="c", nlags="auto")[1] >= 0.05:
            break
        y, d = np.diff(y), d + 1
    return d


def _arima(y: np.ndarray, spec: dict[str, Any], exog: np.ndarray | None = None):
    from statsmodels.tsa.arima.model import ARIMA

    return ARIMA(y, exog=exog, order=tuple(spec["order"]), seasonal_order=tuple(spec["seasonal_order"]),
                 trend=spec["trend"])


def _fit_arima(y: np.ndarray, season: int | None, complete: np.ndarray | None = None,
               exog: pd.DataFrame | None = None) -> tuple[str, dict[str, Any]]:
    filled = y if complete is None else np.asarray(complete, dtype=np.float64)  # the tests need every value
    names = [] if exog is None else regressor_columns(exog)
    x = _columns(exog, names)
    tested = filled if x is None else regression_residuals(filled, x)  # what the regressors leave
    big_d = int(season is not None and len(y) >= 3 * season
                and seasonal_strength(tested, season) > SEASONAL_STRENGTH_THRESHOLD)
    seasonal_diffed = tested[season:] - tested[:-season] if big_d else tested
    d = _kpss_differences(seasonal_diffed)
    # a constant without differencing, a drift (statsmodels: a linear trend) after one difference
    trend = {0: "c", 1: "t"}.get(d + big_d, "n")
    seasonal_order = (0, 1, 1, season) if big_d else (0, 0, 0, 0)
    # With the user's regressors and without, each order: AICc picks the order on each side, BIC whether the
    # regressors earn their parameters (the differencing, tested on what the regressors leave, is the same for
    # both, so their likelihoods compare). A driver that carries nothing is left out instead of regressed on.
    options: list[list[str]] = [[], names] if names else [[]]  # without first: of equal AICc, the simpler fit
    candidates = []
    for cols in options:
        for p, q in ARIMA_ORDERS:
            spec = {"order": [p, d, q], "seasonal_order": list(seasonal_order), "trend": trend, "exog": cols}
            try:  # exact Gaussian MLE by the innovations algorithm: the same likelihood, measured 1.5-4x faster
                # (with regressors, a constant or a drift: statsmodels' feasible GLS around it)
                res = _arima(filled, spec, _columns(exog, cols)).fit(method="innovations_mle")
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(res.aicc):
                candidates.append(_order_fit(res, spec))
            del res  # one fit's state-space output at a time (seasonal fits of long series hold gigabytes)
    candidates.sort(key=lambda c: c.aicc)  # stable: of equal AICc, ARIMA_ORDERS' order
    if names:
        candidates = _with_or_without(candidates)
    if complete is not None:
        # missing cells: the innovations algorithm refuses them, the state-space likelihood (Kalman filter) skips
        # them but costs about 5x more per fit (measured): the order is chosen on the filled copy, its parameters
        # are estimated with the cells missing (the next order where that fails)
        candidates = _fit_missing(y, [c.spec for c in candidates], exog)
    if not candidates:
        raise ValueError("arima: no order could be fitted to the training values")
    aicc, spec, params = candidates[0].aicc, candidates[0].spec, candidates[0].params
    names = spec.pop("exog")
    spec = dict(spec, params=params, aicc=aicc)
    if exog is not None:  # the columns it reads (an empty list: none varied, or BIC preferred the fit without)
        spec["exog"] = names
    p, d, q = spec["order"]
    form = f"ARIMA({p},{d},{q})" + (f"(0,1,1){season}" if big_d else "")
    form += {0: " const", 1: " drift"}.get(d + big_d, "") + "".join(f" + {n}" for n in names)
    return form, spec


def regressor_columns(exog: pd.DataFrame) -> list[str]:
    """The columns of `exog` (training rows) a regression can estimate: each in order where it adds to the rank
    of the constant and the columns kept before it (a column constant over training, or a copy, is left out)."""
    kept: list[str] = []
    design = np.ones((len(exog), 1))
    for name in exog.columns:
        trial = np.column_stack([design, exog[name].to_numpy(dtype=np.float64)])
        if np.linalg.matrix_rank(trial) > design.shape[1]:
            kept.append(str(name))
            design = trial
    return kept


def regression_residuals(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y less its least-squares fit on a constant and `x`'s columns."""
    design = np.column_stack([np.ones(len(x)), x])
    return y - design @ np.linalg.lstsq(design, y, rcond=None)[0]


class OrderFit(NamedTuple):
    """What choosing among ARIMA orders keeps of a fit: its criteria, spec and parameters (not statsmodels' results,
    whose filter output grows with the series' length times the seasonal lag: measured 2.3 GB for one seasonal
    fit of 2000 half-hourly steps, and the 24 GB of six kept candidates killed a process)."""

    aicc: float
    spec: dict[str, Any]
    params: list[float]
    bic: float


def _order_fit(res: Any, spec: dict[str, Any]) -> OrderFit:
    return OrderFit(float(res.aicc), spec, [float(v) for v in np.asarray(res.params)], float(res.bic))


def _with_or_without(candidates: list[OrderFit]) -> list[OrderFit]:
    """The candidates (sorted by AICc) of one side: with the regressors or without them, whichever side's best order
    has the lower BIC. AICc picks the order within a side; whether the regressors earn their parameters is asked of
    BIC, whose log(n) per parameter lets a column that carries nothing in only by a rare chance (measured on four
    real series, 10 permutations of their drivers each: AICc kept shuffled drivers in 3 of 40 fits, BIC in none,
    and both kept the real drivers of elecdaily, Chicago and us_change; benchmarks/driver_choice.py: AICc's pick of
    four shuffled columns on fpp3's us_change cost 47% on test). Of equal BIC, the side without."""
    best = {}
    for c in candidates:
        best.setdefault(bool(c.spec["exog"]), c)
    if len(best) < 2:
        return candidates
    reads = bool(best[True].bic < best[False].bic)  # of equal BIC, without
    return [c for c in candidates if bool(c.spec["exog"]) == reads]


def _columns(exog: pd.DataFrame | None, cols: list[str]) -> np.ndarray | None:
    """The regressor matrix of `exog`'s columns `cols` (None: no regressor)."""
    return exog[cols].to_numpy(dtype=np.float64) if exog is not None and cols else None


def _fit_missing(y: np.ndarray, specs: list[dict[str, Any]], exog: pd.DataFrame | None = None) -> list[OrderFit]:
    """The state-space fit, NaN cells read as missing, of the first of `specs` that fits (none: empty); each spec
    reads the regressors its "exog" names."""
    for spec in specs:
        try:
            res = _arima(y, spec, _columns(exog, spec["exog"])).fit()
        except (ValueError, np.linalg.LinAlgError):
            continue
        if np.isfinite(res.aicc):
            return [_order_fit(res, spec)]
    return []


def arima_filtered(spec: dict[str, Any], y: np.ndarray, x: np.ndarray | None = None):
    """statsmodels' ARIMA results on `y` (and its regressors' rows `x`) with the fitted parameters held (Kalman
    filter, no estimation)."""
    return _arima(y, spec, x).filter(np.asarray(spec["params"]))


def _forecast_arima(spec: dict[str, Any], y: np.ndarray, origins: np.ndarray, horizon: int,
                    levels: tuple[float, ...], x: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """x: the regressors' rows, len(y) + horizon of them: the filter reads those of y's rows, a forecast from
    o those of its steps o .. o+horizon-1 (statsmodels takes the steps after y's end as out-of-sample exog)."""
    n = len(y)
    res = arima_filtered(spec, y, None if x is None else x[:n])

    def ahead(o: int) -> dict[str, np.ndarray]:
        return {} if x is None or o + horizon <= n else {"exog": x[n:o + horizon]}

    # dynamic prediction from o: every step reads the observations before o and forecasts, never one from o on
    predictions = [res.get_prediction(start=int(o), end=int(o) + horizon - 1, dynamic=True, **ahead(int(o)))
                   for o in origins]
    point = np.stack([np.asarray(p.predicted_mean).reshape(-1) for p in predictions])
    if not levels:
        return point, None
    # statsmodels' own intervals (conf_int) are Gaussian with the Kalman filter's forecast variance
    return point, _gaussian(point, np.stack([np.asarray(p.se_mean).reshape(-1) for p in predictions]), levels)


# --- MSTL --------------------------------------------------------------------------------------------------------

def _fit_mstl(y: np.ndarray, periods: tuple[int, int]) -> tuple[str, dict[str, Any]]:
    """MSTL's decomposition of the training split into a daily and a weekly component; the weekly component's last
    cycle is held, and an ETS with the daily season (the ets forms, AICc) is fitted on the values less it."""
    from statsmodels.tsa.seasonal import MSTL

    day, week = periods
    weekly = np.asarray(MSTL(y, periods=periods).fit().seasonal).reshape(len(y), -1)[:, 1]
    cycle = np.empty(week)  # by phase: position 0 = the first training row
    cycle[(len(y) - week + np.arange(week)) % week] = weekly[len(y) - week:]
    ets_form, ets = _fit_ets(y - cycle[np.arange(len(y)) % week], day)
    spec = {"periods": [day, week], "weekly": [float(v) for v in cycle], "ets": ets}
    return f"MSTL({day},{week}): weekly cycle held + {ets_form}", spec


def _forecast_mstl(spec: dict[str, Any], y: np.ndarray, origins: np.ndarray, horizon: int,
                   levels: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    """The ETS forecast of the series less the held weekly cycle, plus that cycle (its seasonal naive)."""
    cycle = np.asarray(spec["weekly"])
    point, quantiles = _forecast_ets(spec["ets"], y - cycle[np.arange(len(y)) % len(cycle)], origins, horizon,
                                     levels)
    ahead = cycle[(origins[:, None] + np.arange(horizon)[None, :]) % len(cycle)]
    return point + ahead, None if quantiles is None else quantiles + ahead[..., None]


# --- windows <-> series ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SeriesHistory:
    """One series' target values recovered from its windows (scaled, as the windows hold them), with the row of
    every validation and test window's origin (its first forecast step)."""

    values: np.ndarray  # (n_rows, n_targets)
    n_train: int
    val_origins: np.ndarray  # rows, in the order of the series' validation windows
    test_origins: np.ndarray


def _stretch(split: SplitWindows, n_targets: int, with_inputs: int) -> np.ndarray:
    """The rows a split's consecutive windows cover: the last `with_inputs` input rows of its first window, then
    every window's first target, then the last window's remaining targets."""
    first_inputs = split.x[0, split.x.shape[1] - with_inputs:, :n_targets] if with_inputs else split.x[0, :0, :n_targets]
    return np.concatenate([first_inputs, split.y[:, 0], split.y[-1, 1:]])


def _test_gap(data: WindowedData, i: int, n_test_windows: int) -> int:
    """Rows between the validation split's end and the first test origin: window.input where the test windows
    take their inputs from a test file of their own (split.test_inputs_from_train=false), else 0."""
    summary = data.summary
    splits = (summary.get("series", {}).get("per_series", {}).get(data.series_names[i], {}).get("splits")
              if data.is_panel else summary.get("splits"))
    rows = (splits or {}).get("test", {}).get("rows")
    return 0 if rows is None else int(rows) - data.n_outputs + 1 - n_test_windows


FORECAST_SPLITS = ("val", "test")


def series_history(data: WindowedData, i: int, forecast: tuple[str, ...] = FORECAST_SPLITS) -> SeriesHistory:
    """Series `i`'s target history from its train windows and those of the `forecast` splits (all stride 1, each
    following on from the rows before it), with the origin of each of their windows; a split left out of
    `forecast` has no origins. An earlier backtest fold forecasts its validation block only (the test split lies
    blocks later), a final refit its test split only (its validation rows are training rows)."""
    k, n_in = data.n_targets, data.n_inputs
    parts = [_stretch(data.train.of_series(i), k, n_in)]
    n_train = len(parts[0])
    origins = {name: np.arange(0) for name in FORECAST_SPLITS}
    for name in forecast:
        split = data.split(name).of_series(i)
        gap = _test_gap(data, i, len(split)) if name == "test" else 0
        first = sum(len(p) for p in parts) + gap
        parts.append(_stretch(split, k, gap))
        values = np.concatenate(parts)
        # one contiguous series: the split's first inputs are the rows before its first origin
        if not np.array_equal(split.x[0, :, :k], values[first - n_in:first]):
            raise ValueError(f"series {i}: the windows of the splits do not join into one series (the first "
                             f"{name} window's inputs differ from the rows before its origin); classical models "
                             "need stride-1 windows over contiguous splits")
        origins[name] = first + np.arange(len(split))
    return SeriesHistory(np.concatenate(parts), n_train, origins["val"], origins["test"])
