"""Weights & Biases: decide the mode up front so W&B never waits on a network or a login prompt.

Measured here: with no mode and no key Ray's integration raises; plain `wandb.init()` waits forever at a login
prompt; with a key but no reachable server a sweep hung ~100 s. So: online only when a key is set *and* the
server answers within a couple of seconds; otherwise offline (files under runs/<name>/wandb, `wandb sync` later).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeps.engine.network import reachable

DEFAULT_BASE_URL = "https://api.wandb.ai"


@dataclass(frozen=True)
class WandbPlan:
    mode: str  # online | offline | disabled
    reason: str


def _has_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path.home() / ".netrc"
    return netrc.exists() and "api.wandb.ai" in netrc.read_text(errors="ignore")


def plan_wandb(requested: str) -> WandbPlan:
    if requested == "disabled":
        return WandbPlan("disabled", "W&B disabled by request")
    if requested == "offline":
        return WandbPlan("offline", "W&B offline by request")
    if not _has_key():
        if requested == "online":
            return WandbPlan("offline", "W&B: online requested but no WANDB_API_KEY is set; logging offline")
        return WandbPlan("offline", "W&B: no WANDB_API_KEY set; logging offline")
    if not reachable(os.environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL))[0]:
        return WandbPlan("offline", "W&B: server not reachable within 2 s; logging offline")
    return WandbPlan("online", "W&B: logging online")


@dataclass(frozen=True)
class TrialWandb:
    """What a trial needs to open its own W&B run (picklable: it travels to the trial with the data)."""

    mode: str
    project: str
    entity: str | None
    group: str
    dir: str


class TrialLogger:
    """One W&B run per trial, opened inside the trial's worker process with Ray's in-trial helper `setup_wandb`,
    grouped by sweep and tagged by model.

    Inside the worker rather than through Ray's WandbLoggerCallback: that callback starts a queue actor per trial
    and blocks the driver about a second on each (measured: +47% wall time on the default sweep), while a worker
    reused across trials reuses its W&B service. setup_wandb costs what a plain wandb.init does
    (benchmarks/wandb_logging.py). Any W&B failure is reported once and switches logging off for that trial:
    W&B never fails a trial.
    """

    def __init__(self, settings: TrialWandb | None, *, trial_id: str, model: str, tag: str, config: dict[str, Any]):
        self._run = None
        if settings is None or settings.mode == "disabled":
            return
        try:
            import wandb
            from ray.air.integrations.wandb import setup_wandb

            Path(settings.dir).mkdir(parents=True, exist_ok=True)
            # Without a key, setup_wandb stops at its key check unless WANDB_MODE says offline (its `mode` argument
            # only reaches wandb.init). A worker may run trials of several sweeps: set it (or clear it) each time.
            if settings.mode == "online":
                os.environ.pop("WANDB_MODE", None)
            else:
                os.environ["WANDB_MODE"] = settings.mode
            self._run = setup_wandb(
                config, trial_id=trial_id, trial_name=f"{model}-{tag}-{trial_id}", group=settings.group,
                tags=[model], project=settings.project, entity=settings.entity, mode=settings.mode,
                dir=settings.dir, resume="allow", reinit="finish_previous",
                settings=wandb.Settings(silent=True, console="off"),
            )
        except Exception as err:  # noqa: BLE001 - W&B must never fail a trial
            self._fail(err)

    def log(self, metrics: dict[str, Any]) -> None:
        if self._run is None:
            return
        try:
            self._run.log({k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))})
        except Exception as err:  # noqa: BLE001
            self._fail(err)

    def finish(self) -> None:
        if self._run is None:
            return
        try:
            self._run.finish()
        except Exception as err:  # noqa: BLE001
            self._fail(err)
        self._run = None

    def _fail(self, err: Exception) -> None:
        print(f"W&B logging off for this trial: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
        self._run = None


def log_summary(
    plan: WandbPlan,
    *,
    project: str,
    entity: str | None,
    group: str,
    wandb_dir: Path,
    ranking_rows: list[dict[str, Any]],
    figures: list[Path],
    interval_rows: list[dict[str, Any]] | None = None,
) -> str | None:
    """Log the final ranking table, the prediction intervals' test scores (one row per model, method and level)
    and the report figures to one summary run. Returns the run's path or None.

    W&B problems are reported and swallowed: the report on disk is the product, W&B a mirror of it.
    """
    if plan.mode == "disabled":
        return None
    try:
        import wandb

        run = wandb.init(
            project=project, entity=entity, group=group, name=f"{group}-summary", job_type="report",
            mode=plan.mode, dir=str(wandb_dir), reinit="finish_previous", settings=wandb.Settings(silent=True),
        )
        if ranking_rows:
            columns = list(ranking_rows[0].keys())
            table = wandb.Table(columns=columns, data=[[_plain(r.get(c)) for c in columns] for r in ranking_rows])
            run.log({"ranking": table})
        if interval_rows:
            columns = list(interval_rows[0].keys())
            run.log({"intervals": wandb.Table(columns=columns,
                                              data=[[_plain(r.get(c)) for c in columns] for r in interval_rows])})
        for fig in figures:
            run.log({f"figures/{fig.stem}": wandb.Image(str(fig))})
        # The validation winner (rank 1), the same model the report's headline and the console name.
        run.summary["best_model"] = validation_winner(ranking_rows)
        path = run.dir
        run.finish()
        return path
    except Exception as err:  # noqa: BLE001 - W&B must never fail a finished sweep
        print(f"W&B summary run skipped: {type(err).__name__}: {err}")
        return None


def validation_winner(ranking_rows: list[dict[str, Any]]) -> str | None:
    """The model ranked first by validation (never by test) in the report's ranking rows."""
    ranked = [r for r in ranking_rows if r.get("rank") is not None]
    return min(ranked, key=lambda r: r["rank"])["model"] if ranked else None


def _plain(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return str(v)
    return v


def create_wandb_report(
    plan: WandbPlan, *, project: str, entity: str | None, group: str, ranking_rows: list[dict[str, Any]]
) -> str | None:
    """A W&B Report with the ranking and per-model panels (needs `wandb-workspaces` and a reachable server).

    Skips with one line, never waits, when W&B is offline or the package is missing. Returns the report URL.
    """
    if plan.mode != "online":
        print(f"W&B Report skipped: W&B is {plan.mode} ({plan.reason}). The HTML report has everything.")
        return None
    try:
        import wandb_workspaces.reports.v2 as wr
    except ImportError:
        print("W&B Report skipped: install it with `pip install wandb-workspaces` (or .[report]).")
        return None
    try:
        import wandb

        entity = entity or wandb.Api(timeout=10).default_entity
        lines = [f"{r['rank']}. **{r['model']}**: validation MSE {r['val_mse_mean']:.4f}, test MSE "
                 f"{r['test_mse']:.4f}{' (tied with the winner)' if r['tied_with_winner'] and r['rank'] > 1 else ''}"
                 for r in sorted(ranking_rows, key=lambda r: r["rank"])]
        lines.insert(0, f"Chosen on validation: **{validation_winner(ranking_rows)}**\n")
        runset = wr.Runset(entity=entity, project=project, name=group, groupby=["tags"])
        report = wr.Report(
            entity=entity, project=project, title=f"Forecast Sweep: {group}",
            description="Best trial per architecture chosen on validation, scored once on test.",
            blocks=[
                wr.H1("Ranking (ordered by validation; test scored once)"),
                wr.MarkdownBlock("\n".join(lines)),
                wr.PanelGrid(runsets=[runset], panels=[
                    wr.LinePlot(title="validation MSE", x="epoch", y=["val_mse"]),
                    wr.LinePlot(title="train loss", x="epoch", y=["train_loss"]),
                    wr.ScalarChart(title="best validation MSE", metric="best_val_mse", groupby_aggfunc="min"),
                ]),
            ],
        )
        report.save()
        print(f"W&B Report: {report.url}")
        return report.url
    except Exception as err:  # noqa: BLE001 - a report on W&B's server must never fail a finished sweep
        print(f"W&B Report skipped: {type(err).__name__}: {err}")
        return None
