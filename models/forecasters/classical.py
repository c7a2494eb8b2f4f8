"""ETS, Theta, ARIMA, MSTL and their mean (`classical_combo`) as ranked entries.

Each model is fitted once per series and target on a span's training rows, then forecasts every window origin of
the splits the report scores there with its parameters held (models/forecasters/classical_fits.py, cached in the
run directory). The models of one span share one fitting pass: `ClassicalFamily` keeps it for every entry.
Their own forecast quantiles are scored as CQR; the combination's are the members' quantiles averaged level by
level (Vincentization: a quantile average, not the quantiles of the averaged forecast's error).

Covariates: ARIMA regresses on the user's known-future columns (data.known_future; models/classical_exog.py) and
says so; ETS, Theta and MSTL read none. The combination reads them through its ARIMA member, so it says it reads
them where ARIMA is one of the requested models.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np

from data_pipeline import WindowedData
from models.classical import CLASSICAL_MODELS, COMBO, forecast_origins, series_history
from models.classical_exog import future_exog, known_columns
from models.classical_series import masked_note
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
    cache_dirs,
    classical_runs,
    classical_season,
    own_quantile_levels,
)
from models.forecasters.naive import BASELINE

FAMILY = "classical"
CAPABILITIES = Capabilities(multivariate=False, own_intervals=True)
# ARIMA's regression with ARIMA errors: the user's known-future columns, not a panel's static features (constant
# within the one series each fit reads) nor the calendar (its seasonal differencing models the season)
WITH_REGRESSORS = Capabilities(multivariate=False, own_intervals=True, known_future_covariates=True,
                               static_covariates=False)


class ClassicalFamily:
    """The classical models of one run, fitted once per span for all of them (and their combination)."""

    def __init__(self, ctx: Context, requested: list[str]):
        baselines = ctx.config.get("baselines") or {}
        self.requested, self.season_setting = requested, baselines.get("season")
        self.caches = cache_dirs(ctx.run_path, ctx.config)
        self.levels = own_quantile_levels(ctx.interval_levels)
        self.quiet = ctx.quiet
        self._fits: list[tuple[WindowedData, tuple[str, ...], dict[str, ClassicalRun], list[str]]] = []

    def runs(self, span: Span) -> tuple[dict[str, ClassicalRun], list[str]]:
        """The fitted models of `span` by name, and the notes of that fitting (skips; what it cost)."""
        for data, splits, runs, notes in self._fits:
            if data is span.data and splits == span.splits:
                return runs, notes
        own = span.own  # an earlier fold or the refit fits quietly
        started = time.monotonic()
        fitted, notes = classical_runs(span.data, self.requested, self.season_setting, self.caches,
                                       quiet=self.quiet or not own, levels=self.levels, forecast=span.splits)
        if fitted and own:
            notes = [*notes, _cost_note(fitted, span.data, time.monotonic() - started)]
        runs = {r.model: r for r in fitted}
        self._fits.append((span.data, span.splits, runs, notes))
        return runs, notes


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
        if name == "arima" or (name == COMBO and "arima" in family.requested):
            self.capabilities = WITH_REGRESSORS

    def fit(self, span: Span) -> Fitted:
        runs, notes = self.family.runs(span)
        if self.name == COMBO:
            members = list(runs.values())
            if len(members) < 2:  # the combination exists where two or more models fitted
                raise NotApplicable("")
        elif self.name in runs:
            members = [runs[self.name]]
        else:  # this model's own skip note, or the note that skipped them all
            raise NotApplicable(next((n for n in notes if n.startswith(f"{self.name} skipped")),
                                     next((n for n in notes if n.startswith("Classical models skipped")), "")))
        return FittedClassical(self.name, members, span, classical_season(span.data, self.family.season_setting),
                               [n for n in notes if n.startswith("Classical models (")])


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
            if len(values) < hist.n_train or not np.allclose(values[: hist.n_train], trained, rtol=1e-4,
                                                             atol=1e-5 * float(np.max(sc.scale[:k]))):
                raise ValueError(f"{labels[i]}: a classical model filters the series from the first row it was fitted "
                                 f"on, but this data does not begin with the sweep's training rows; give the "
                                 f"sweep's data with the newer rows appended")
            exog = None if known is None else future_exog(names, known[i], inputs.future, inputs.run_scaler, i,
                                                          inputs.horizon)  # ARIMA's regressors
            point = np.mean([[forecast_origins(r.fits[i * k + j], values[:, j], np.array([len(values)]),
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


def requested_models(config: dict[str, Any]) -> list[str]:
    """`baselines.classical`: all (or null, as older runs store it), [] for none, or a list of names."""
    chosen = (config.get("baselines") or {}).get("classical", "all")
    requested = list(CLASSICAL_MODELS if chosen in (None, "all") else chosen)
    unknown = [m for m in requested if m not in CLASSICAL_MODELS]
    if unknown:
        raise ValueError(f"baselines.classical: unknown model(s) {unknown}; valid names: {', '.join(CLASSICAL_MODELS)}")
    return requested


def classical_entries(ctx: Context) -> list[Forecaster]:
    requested = requested_models(ctx.config)
    if not requested:
        return []
    family = ClassicalFamily(ctx, requested)
    return [Classical(m, family) for m in (*requested, COMBO)]
