"""Weights & Biases: decide the mode up front so W&B never waits on a network or a login prompt.

Measured here: with no mode and no key Ray's integration raises; plain `wandb.init()` waits forever at a login
prompt; with a key but no reachable server a sweep hung ~100 s. So: online only when a key is set *and* the
server answers within a couple of seconds; otherwise offline (files under runs/<name>/wandb, `wandb sync` later).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

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


def server_reachable(timeout_s: float = 2.0) -> bool:
    url = urlparse(os.environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def plan_wandb(requested: str) -> WandbPlan:
    if requested == "disabled":
        return WandbPlan("disabled", "W&B disabled by request")
    if requested == "offline":
        return WandbPlan("offline", "W&B offline by request")
    if not _has_key():
        if requested == "online":
            return WandbPlan("offline", "W&B: online requested but no WANDB_API_KEY is set; logging offline")
        return WandbPlan("offline", "W&B: no WANDB_API_KEY set; logging offline")
    if not server_reachable():
        return WandbPlan("offline", "W&B: server not reachable within 2 s; logging offline")
    return WandbPlan("online", "W&B: logging online")


def wandb_callback(plan: WandbPlan, *, project: str, entity: str | None, group: str, wandb_dir: Path) -> Any:
    """Ray's W&B logger: one W&B run per trial, grouped by sweep, tagged with the model name."""
    from ray.air.integrations.wandb import WandbLoggerCallback

    class _TaggedWandbCallback(WandbLoggerCallback):
        def setup(self, *args: Any, **kwargs: Any) -> None:
            # Ray's callback demands an API key unless WANDB_MODE says offline/disabled.
            if plan.mode != "online":
                os.environ["WANDB_MODE"] = plan.mode
            super().setup(*args, **kwargs)

        def _start_logging_actor(self, trial: Any, exclude_results: list[str], **init_kwargs: Any) -> None:
            info = trial.config.get("trial", {})
            init_kwargs["tags"] = [info.get("model", "unknown")]
            init_kwargs["name"] = f"{info.get('model', 'trial')}-{info.get('tag', '')}-{trial.trial_id}"
            super()._start_logging_actor(trial, exclude_results, **init_kwargs)

    wandb_dir.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = dict(
        project=project,
        group=group,
        mode=plan.mode,
        dir=str(wandb_dir),
        log_config=False,
        # Bound the end-of-sweep wait so an unreachable server can never hold the sweep hostage.
        upload_timeout=60,
        excludes=["time_since_restore", "time_this_iter_s", "timesteps_total", "episodes_total"],
    )
    if entity:
        kwargs["entity"] = entity
    return _TaggedWandbCallback(**kwargs)


def log_summary(
    plan: WandbPlan,
    *,
    project: str,
    entity: str | None,
    group: str,
    wandb_dir: Path,
    ranking_rows: list[dict[str, Any]],
    figures: list[Path],
) -> str | None:
    """Log the final ranking table and report figures to one summary run. Returns the run's path or None.

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
        for fig in figures:
            run.log({f"figures/{fig.stem}": wandb.Image(str(fig))})
        run.summary["best_model"] = ranking_rows[0]["model"] if ranking_rows else None
        path = run.dir
        run.finish()
        return path
    except Exception as err:  # noqa: BLE001 - W&B must never fail a finished sweep
        print(f"W&B summary run skipped: {type(err).__name__}: {err}")
        return None


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
        lines = [f"{r['rank']}. **{r['model']}**: test MSE {r['test_mse']:.4f}, skill vs persistence "
                 f"{r['skill_vs_persistence']:+.1%}" for r in ranking_rows]
        runset = wr.Runset(entity=entity, project=project, name=group, groupby=["tags"])
        report = wr.Report(
            entity=entity, project=project, title=f"Forecast Sweep: {group}",
            description="Best trial per architecture chosen on validation, scored once on test.",
            blocks=[
                wr.H1("Ranking (test split, scored once)"),
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
