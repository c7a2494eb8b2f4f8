"""Build runs/<name>/report/ from a finished (or interrupted) sweep, without retraining anything.

Protocol: each model's trial is chosen on validation MSE alone; the chosen weights are then scored once on the
test split, beside persistence and ridge under the same windows and metrics.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from data_pipeline import Scaler, WindowedData, build_windowed_data
from models.chronos import CHRONOS2
from reports import figures, pretrained
from reports.data_section import data_tables
from reports.render import render_html, render_markdown
from reports.runs import RunDir, RunDirError, best_trials, load_best_model, read_run
from reports.scoring import (
    ModelScore,
    baseline_scores,
    per_horizon_table,
    per_target_table,
    predictions_frame,
    ranking_table,
    score_model,
)


@dataclass
class Report:
    dir: Path
    index_html: Path
    ranking: pd.DataFrame
    figures: list[Path]

    @property
    def ranking_rows(self) -> list[dict[str, Any]]:
        return json.loads(self.ranking.to_json(orient="records"))


def load_data(run: RunDir) -> WindowedData:
    data = build_windowed_data(*run.data_configs())
    stored = run.path / "scaler.json"
    if stored.exists() and not Scaler.load(stored).matches(data.scaler):
        raise RunDirError(f"the data behind {run.path} changed since the sweep (its scaler no longer matches "
                          f"{stored}); restore the original data file to rebuild this report")
    return data


def build_report(run_path: str | Path, *, quiet: bool = False) -> Report:
    started = time.monotonic()
    run = read_run(run_path)
    data = load_data(run)
    best = best_trials(run)
    if not best:
        raise RunDirError(f"no trial in {run.experiment_path} has a checkpoint yet; run or resume the sweep first")

    results: list[ModelScore] = []
    notes: list[str] = []
    for name, trial in sorted(best.items()):
        if name == CHRONOS2:
            results.append(pretrained.finetuned_score(trial, data))
            continue
        model = load_best_model(trial, data.shapes)
        results.append(score_model(name, model, data, kind="trained", val_mse=trial.best_val_mse,
                                   hparams={**trial.hparams, **trial.train}, epochs=trial.epochs,
                                   train_time_s=round(trial.train_time_s, 2), trial_id=trial.trial_id))
    results += baseline_scores(data)
    if CHRONOS2 in run.config.get("models", {}):
        zeroshot, note = _chronos_zeroshot(run, data)
        results += [zeroshot] if zeroshot else []
        notes += [note] if note else []
    ranking = ranking_table(results, data)

    final = run.path / "report"
    tmp = run.path / f"report.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "figures").mkdir(parents=True)
    fig_dir = tmp / "figures"
    horizon = per_horizon_table(results)
    figs = [
        ("Forecast vs actual on test windows", figures.forecast_examples(results, data, fig_dir)),
        ("Training curves", figures.loss_curves(best, fig_dir)),
        ("Error by forecast horizon", figures.per_horizon(horizon, fig_dir, data.summary.get("frequency", "D"))),
        ("Sensitivity to the grid: validation MSE of every trial", figures.val_distribution(run, fig_dir)),
    ]
    with_quantiles = [r for r in results if r.quantiles is not None]
    if with_quantiles:
        coverage = {r.model: pretrained.interval_coverage(r, data) for r in with_quantiles}
        figs.append(("Chronos-2: how often the 10-90% interval holds the actual value",
                     figures.interval_coverage(coverage, fig_dir)))
    sections = _sections(run, data, ranking, results, horizon, figs)
    sections["notes"] += notes
    ranking.to_csv(tmp / "ranking.csv", index=False)
    predictions_frame(results, data).to_parquet(tmp / "predictions.parquet", index=False)
    (tmp / "index.html").write_text(render_html(sections))
    (tmp / "report.md").write_text(render_markdown(sections))
    _swap_in(tmp, final)
    if not quiet:
        print(f"Report built in {time.monotonic() - started:.1f} s: {final / 'index.html'}")
        print(ranking[["rank", "model", "test_mse", "test_mae", "val_mse", "skill_vs_persistence"]]
              .to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return Report(final, final / "index.html", ranking, [final / "figures" / f.name for _, f in figs])


def _chronos_zeroshot(run: RunDir, data: WindowedData) -> tuple[ModelScore | None, str | None]:
    skipped_file = run.path / "skipped.json"
    skipped = json.loads(skipped_file.read_text()) if skipped_file.exists() else {}
    if CHRONOS2 in skipped:
        return None, skipped[CHRONOS2]
    try:
        return pretrained.zeroshot_score(run.config["pretrained"]["path"], data), None
    except (ImportError, RuntimeError) as err:
        return None, f"Chronos-2 zero-shot skipped: {str(err).splitlines()[0]}"


def _swap_in(tmp: Path, final: Path) -> None:
    """Replace the old report only once the new one is complete: a crash mid-build leaves the old one intact."""
    old = final.with_name("report.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _ranking_for_reading(ranking: pd.DataFrame) -> pd.DataFrame:
    """The ranking as a person reads it: the interval in one cell, rounded numbers (ranking.csv keeps all)."""
    out = ranking[["rank", "model", "kind", "test_mse", "test_mae", "val_mse", "skill_vs_persistence"]].copy()
    out["skill_vs_persistence"] = [f"{v:+.1%}" for v in ranking.skill_vs_persistence]
    out["MSE - persistence (95% CI)"] = [
        "" if m == "persistence" else f"[{lo:+.3f}, {hi:+.3f}]"
        for m, lo, hi in zip(ranking.model, ranking.mse_diff_vs_persistence_ci_low,
                             ranking.mse_diff_vs_persistence_ci_high, strict=True)
    ]
    out["hyperparameters"] = ranking.hparams
    out["params"] = ranking.params
    out["epochs"] = ranking.epochs.astype("Int64")
    out["train s"] = ranking.train_time_s
    out["trial"] = ranking.trial_id
    return out.rename(columns={"test_mse": "test MSE", "test_mae": "test MAE", "val_mse": "val MSE",
                               "skill_vs_persistence": "skill vs persistence"})


def _per_target_wide(long: pd.DataFrame, ranking: pd.DataFrame) -> pd.DataFrame:
    """One row per model (in ranking order), RMSE and MAE per target side by side."""
    wide = long.pivot(index="model", columns="target", values=["rmse", "mae"])
    wide.columns = [f"{target} {metric.upper()}" for metric, target in wide.columns]
    wide = wide[sorted(wide.columns, key=lambda c: (c.rsplit(" ", 1)[0], c.endswith("MAE")))]
    return wide.reindex(ranking.model).reset_index()


def _trial_counts(run: RunDir) -> pd.DataFrame:
    rows: dict[str, dict[str, int]] = {}
    for t in run.trials:
        row = rows.setdefault(t.model, {"model": t.model, "trials": 0, "finished": 0, "stopped": 0, "failed": 0})
        row["trials"] += 1
        row[t.status] += 1
    table = pd.DataFrame(sorted(rows.values(), key=lambda r: r["model"]))
    return table.rename(columns={"finished": "finished (own stopping rule)",
                                 "stopped": "stopped early by ASHA / interrupted"})


def _sections(run: RunDir, data: WindowedData, ranking: pd.DataFrame, results: list[ModelScore],
              horizon: pd.DataFrame, figs: list[tuple[str, Path]]) -> dict[str, Any]:
    summary = data.summary
    windows = summary.get("windows", {})
    protocol = (
        f"Each architecture's trial was chosen by validation MSE only; its best-epoch weights were then scored "
        f"once on all {windows.get('test', len(data.test))} test windows ({data.n_inputs} days in, "
        f"{data.n_outputs} out; targets {', '.join(data.target_names)}). MSE/MAE are in scaled units (scaler "
        f"fitted on the training split). Skill = 1 - MSE/MSE(persistence); the interval is a 95% moving-block "
        f"bootstrap (blocks of {data.n_outputs} consecutive windows, which share days) of MSE(model) - "
        f"MSE(persistence): entirely below zero means reliably better than persistence."
    )
    notes = []
    top = ranking.iloc[0]
    ridge_mse = float(ranking.loc[ranking.model == "ridge", "test_mse"].iloc[0])
    trained = ranking[ranking.kind == "trained"]
    if len(trained) and float(trained.test_mse.min()) >= ridge_mse:
        notes.append(f"No trained architecture beat the ridge baseline on test (ridge MSE {ridge_mse:.4f}, best "
                     f"trained {trained.iloc[0].model} {float(trained.test_mse.min()):.4f}).")
    else:
        notes.append(f"Best on test: {top.model} (MSE {top.test_mse:.4f}, skill vs persistence "
                     f"{top.skill_vs_persistence:+.1%}).")
    missing = sorted(set(run.config.get("models", {})) - {r.model for r in results})
    if missing:
        notes.append(f"Not ranked (no trial with a checkpoint): {', '.join(missing)}.")
    failed = pd.DataFrame([{"model": t.model, "trial": t.trial_id, "hparams": t.tag, "error": t.error}
                           for t in run.trials if t.status == "failed"])
    return {
        "title": f"Forecast Sweep report: {run.path.name}",
        "protocol": protocol, "notes": notes, "ranking": _ranking_for_reading(ranking),
        "trial_counts": _trial_counts(run), "per_target": _per_target_wide(per_target_table(results), ranking),
        "per_horizon": horizon, "failed": failed,
        "figures": figs, "data_tables": data_tables(summary),
    }
