"""ETS, Theta, ARIMA, MSTL and their mean (`classical_combo`) as ranked entries.

Each model is fitted once per series and target on a span's training rows, then forecasts every window origin of
the splits the report scores there with its parameters held (models/forecasters/classical_fits.py, cached in the
run directory). The models of one span share one fitting pass: `ClassicalFamily` keeps it for every entry.
Their own forecast quantiles are scored as CQR; the combination's are the members' quantiles averaged level by
level (Vincentization: a quantile average, not the quantiles of the averaged forecast's error).

Covariates: ARIMA regresses on the user's known-future columns (data.known_future; models/classical_exog.py) where
BIC keeps them, and says so; ETS, Theta and MSTL read none. The combination reads them through its ARIMA member,
so it says it reads them where its ARIMA fits do.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from data_pipeline import WindowedData
from models.classical import CLASSICAL_MODELS, COMBO, forecast_origins, series_history
from models.classical_exog import future_exog, known_columns
from models.classical_series import future_history, masked_note
from models.forecasters.base import (
    Capabilities,
    Context,
    Description,
    Fitted,
    Forecast,
    Forecaster,
    FutureInputs,
    NotApplicable,
    Span,
)
from models.forecasters.classical_fits import (
    ClassicalRun,
    Skip,
    cache_dirs,
    classical_runs,
    classical_season,
    own_quantile_levels,
)
from models.forecasters.naive import BASELINE
from models.run_records import StoredConfig

FAMILY = "classical"
CAPABILITIES = Capabilities(multivariate=False, own_intervals=True)
# ARIMA's regression with ARIMA errors: the user's known-future columns, not a panel's static features (constant
# within the one series each fit reads) nor the calendar (its seasonal differencing models the season)
WITH_REGRESSORS = Capabilities(multivariate=False, own_intervals=True, known_future_covariates=True,
                               static_covariates=False)


class ClassicalFamily:
    """The classical models of one run, fitted once per span for all of them (and their combination)."""

    def __init__(self, ctx: Context, requested: list[str]):
        self.requested, self.season_setting = requested, ctx.config.baselines().season
        self.caches = cache_dirs(ctx.run_path, ctx.config.data_cache_dir)
        self.levels = own_quantile_levels(ctx.interval_levels)
        self.quiet = ctx.quiet
        self._fits: list[tuple[WindowedData, tuple[str, ...], SpanFits]] = []

    def runs(self, span: Span) -> SpanFits:
        """The fitted models of `span`, what was skipped, and (on the run's own span) what the fitting cost."""
        for data, splits, fits in self._fits:
            if data is span.data and splits == span.splits:
                return fits
        own = span.own  # an earlier fold or the refit fits quietly
        started = time.monotonic()
        fitted, skips = classical_runs(span.data, self.requested, self.season_setting, self.caches,
                                       quiet=self.quiet or not own, levels=self.levels, forecast=span.splits)
        cost = _cost_note(fitted, span.data, time.monotonic() - started) if fitted and own else None
        fits = SpanFits({r.model: r for r in fitted}, skips, cost)
        self._fits.append((span.data, span.splits, fits))
        return fits


@dataclass(frozen=True)
class SpanFits:
    """The classical models fitted on one span, by name; those skipped; the note on what fitting them cost."""

    runs: dict[str, ClassicalRun]
    skips: list[Skip]
    cost: str | None = None

    def why_not(self, model: str) -> str:
        """The note on why `model` is missing: its own skip, else the skip of them all ("" when neither)."""
        skip = (next((s for s in self.skips if s.model == model), None)
                or next((s for s in self.skips if s.model is None), None))
        return "" if skip is None else skip.note


def _cost_note(runs: list[ClassicalRun], data: WindowedData, wall_s: float) -> str:
    cached = all(r.cached for r in runs)
    per_model = ", ".join(f"{r.model} {r.fit_time_s:.1f} s" for r in runs)
    exog = [n for n in known_columns(data) if any(n in (f.spec.get("exog") or []) for r in runs for f in r.fits)]
    reads = f" (arima regressing on the known-future column(s) {', '.join(exog)})" if exog else ""
    return (f"Classical models ({', '.join(r.model for r in runs)}; statsmodels, univariate per target{reads}, "
            f"fitted once per series and target on the training split, then forecasting every origin with the "
            f"parameters held; "
            f"their own prediction intervals are the CQR rows, the combination's the members' quantiles averaged): "
            + (f"loaded from the run's cache (fitted in {per_model})." if cached else
               f"fitting took {per_model} (CPU time, summed over {data.n_series} series × {data.n_targets} "
               f"target(s)); {wall_s:.1f} s wall time with forecasting.")
            + "".join(f" {n}" for n in [masked_note([f for r in runs for f in r.fits])] if n))


class Classical(Forecaster):
    """One classical model (`members` = [it]) or the mean of several (`classical_combo`)."""

    capabilities = CAPABILITIES

    def __init__(self, name: str, family: ClassicalFamily):
        self.name, self.family = name, family
        self.can_regress = name == "arima" or (name == COMBO and "arima" in family.requested)
        if self.can_regress:
            self.capabilities = WITH_REGRESSORS

    def fit(self, span: Span) -> Fitted:
        fits = self.family.runs(span)
        if self.name == COMBO:
            members = list(fits.runs.values())
            if len(members) < 2:  # the combination exists where two or more models fitted
                raise NotApplicable("")
        elif self.name in fits.runs:
            members = [fits.runs[self.name]]
        else:
            raise NotApplicable(fits.why_not(self.name))
        if span.own and self.can_regress and known_columns(span.data):
            # what the report's covariates column says: BIC may have left the regressors out of every fit
            reads = any(f.spec.get("exog") for r in members for f in r.fits)
            self.capabilities = WITH_REGRESSORS if reads else CAPABILITIES
        return FittedClassical(self.name, members, span, classical_season(span.data, self.family.season_setting),
                               [] if fits.cost is None else [fits.cost])


class FittedClassical(Fitted):
    def __init__(self, name: str, members: list[ClassicalRun], span: Span, season: int | None, notes: list[str]):
        self.name, self.members, self.span, self.season, self.notes = name, members, span, season, notes

    def predict(self, split: str) -> Forecast:
        point = np.mean([r.val_pred if split == "val" else r.test_pred for r in self.members], 0)
        quantiles = [r.val_quantiles if split == "val" else r.test_quantiles for r in self.members]
        if any(q is None for q in quantiles):
            return Forecast(point)
        return Forecast(point, np.mean(quantiles, 0), self.members[0].quantile_levels)

    def describe(self) -> Description:
        data = self.span.data
        train_time_s = round(sum(r.fit_time_s for r in self.members), 2)
        if self.name == COMBO:
            return Description(self.name, BASELINE, FAMILY, {"members": "+".join(r.model for r in self.members)},
                               sum(_n_params(r) for r in self.members), tuple(r.model for r in self.members),
                               train_time_s=train_time_s)
        run = self.members[0]
        return Description(self.name, BASELINE, FAMILY, {"form": _forms(run, data), "season": self.season},
                           _n_params(run), train_time_s=train_time_s)

    def forecast_future(self, inputs: FutureInputs) -> np.ndarray:
        """Each series' whole history filtered by the held parameters, then the next `horizon` steps: the history
        must begin with the rows the fits were made on (the sweep's data with newer rows appended)."""
        data, k = self.span.data, self.span.data.n_targets
        out = []
        histories, labels = inputs.histories()
        names = known_columns(data)
        reads = names and any(f.spec.get("exog") for r in self.members for f in r.fits)
        known = inputs.known_histories() if reads else None
        for i, values in enumerate(histories):
            sc = data.scaler.for_series(i)
            hist = series_history(data, i, self.span.splits)
            trained = hist.values[: hist.n_train] * sc.scale[:k] + sc.center[:k]
            head = values[: hist.n_train]  # NaN where masked: compared where observed
            if len(values) < hist.n_train or not np.allclose(np.where(np.isnan(head), trained, head), trained,
                                                             rtol=1e-4, atol=1e-5 * float(np.max(sc.scale[:k]))):
                raise ValueError(f"{labels[i]}: a classical model filters the series from the first row it was fitted "
                                 f"on, but this data does not begin with the sweep's training rows; give the "
                                 f"sweep's data with the newer rows appended")
            frequency = str(data.summary.get("frequency", "D"))
            exog = None if known is None else future_exog(names, known[i], inputs.future, inputs.run_scaler, i,
                                                          inputs.horizon)  # ARIMA's regressors
            point = np.mean([[forecast_origins(r.fits[i * k + j], future_history(
                r.fits[i * k + j], values[:, j], hist.n_train, self.season, frequency), np.array([len(values)]),
                inputs.horizon, exog)[0] for j in range(k)] for r in self.members], 0).T
            out.append((point - sc.center[:k]) / sc.scale[:k])
        return np.stack(out).astype(np.float32)


def _forms(run: ClassicalRun, data: WindowedData) -> str:
    """The chosen form(s): one per target for a single series; for a panel the most common ones, counted."""
    if not data.is_panel:
        forms = [f.form for f in run.fits]
        return forms[0] if len(forms) == 1 else "; ".join(f"{t}: {f}" for t, f in zip(data.target_names, forms,
                                                                                     strict=True))
    counts = Counter(f.form for f in run.fits).most_common()
    shown = ", ".join(f"{form} ×{n}" for form, n in counts[:3])
    return shown + (f" and {len(counts) - 3} other forms" if len(counts) > 3 else "")


def _n_params(run: ClassicalRun) -> int:
    def count(spec: dict[str, Any]) -> int:
        if "ets" in spec:  # mstl: the ETS part and the held weekly cycle
            return count(spec["ets"]) + len(spec["weekly"])
        return len(spec.get("params", [])) or 2 + len(spec.get("seasonal", []))

    return int(sum(count(f.spec) for f in run.fits))


def requested_models(config: StoredConfig) -> list[str]:
    """`baselines.classical`: all (null in older runs reads as all), [] for none, or a list of names (checked by
    BaselinesConfig)."""
    chosen = config.baselines().classical
    return list(CLASSICAL_MODELS if chosen == "all" else chosen)


def classical_entries(ctx: Context) -> list[Forecaster]:
    requested = requested_models(ctx.config)
    if not requested:
        return []
    family = ClassicalFamily(ctx, requested)
    return [Classical(m, family) for m in (*requested, COMBO)]
