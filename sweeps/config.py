"""The full sweep config: YAML + profile + dotted overrides -> one validated `SweepConfig`.

Each package owns its section's schema (data_pipeline: data/window/split, models: train); this module composes
them and owns `models`, `sweep`, `wandb`, `pretrained` and `report` (read back by the report from config.yaml);
models also owns `baselines`. A model section's rules (its keys, types and search specs) are in
sweeps/model_sections.py and sweeps/spec.py.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from data_pipeline import (
    DataConfig,
    DataError,
    SplitConfig,
    StrictModel,
    WindowConfig,
    apply_overrides,
    load_yaml,
)
from models import TrainConfig
from models.config import BaselinesConfig
from sweeps.model_sections import (
    parse_model_section,
    sweepable_models,
    window_input_per_model,
)
from sweeps.spec import SearchSpec, SectionValue, parse_value

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.yaml"
PROFILES = ("smoke", "default", "full")


class ConfigError(ValueError):
    """A config problem, phrased for the user: which key, what is wrong, what to do."""


class SweepSection(StrictModel):
    search: Literal["grid", "random", "tpe"] = Field(
        "grid", description="grid: the grids expanded into a fixed trial list; random | tpe: Optuna's random or "
        "TPE sampler through Ray Tune's OptunaSearch, sweep.num_samples trials per architecture.")
    search_concurrency: int = Field(
        2, ge=1, description="random | tpe: at most this many trials of one architecture proposed before their "
        "results are back (Ray's ConcurrencyLimiter), so TPE learns from what finished.")
    start_from_defaults: bool = Field(
        True, description="random | tpe: each architecture's first trial is the tool's defaults (the model's own "
        "hyperparameters, train.*, a 30-step input; a default outside the space: the spec's centre), so the "
        "search starts from the configuration a user gets without one (Ray's points_to_evaluate).")
    time_budget_s: float | None = Field(
        None, gt=0, description="Stop the search after this many seconds (Ray's TuneConfig.time_budget_s); the "
        "report uses what finished.")
    scheduler: Literal["asha", "none"] = "asha"
    grace_period: int = Field(5, ge=1)
    reduction_factor: float = Field(3.0, gt=1)
    num_samples: int = Field(1, ge=1)
    final_seeds: int = Field(1, ge=0, description="Extra seeds for each architecture's best configuration "
                             "after the search (0: none).")
    max_failures: int = Field(1, ge=0)
    checkpoint_every: int = Field(
        10, ge=1, description="Checkpoint a trial every N epochs (a resumed trial repeats fewer than N epochs), and "
        "at ASHA's rungs when its validation MSE improved since its last checkpoint.")
    report_every_epoch: bool = Field(
        False, description="Report every epoch to Ray (the behaviour before: a blocking round trip to the driver per "
        "epoch, and a checkpoint on every improvement). false: a trial reports only where Ray decides something "
        "(ASHA's rungs, every checkpoint_every epochs, its end); its record and W&B still get every epoch. Same "
        "ASHA decisions; measured in benchmarks/throughput.py.")
    cpus_per_trial: float | None = Field(None, gt=0)
    gpus_per_trial: float | None = Field(None, ge=0)
    max_concurrent_trials: int | None = Field(None, ge=1)
    resource_wait_s: float = Field(
        900, ge=0, description="On a cluster (--address): how long to wait for nodes to join when one trial does "
        "not fit yet (a head with CPU: 0, GPU workers still booting).")
    storage_path: str | None = None
    reuse_actors: bool = True


class WandbSection(StrictModel):
    mode: Literal["auto", "online", "offline", "disabled"] = "auto"
    project: str = "forecast-sweep"
    entity: str | None = None
    report: bool = Field(False, description="Also create a W&B Report (online only, needs wandb-workspaces).")


class PretrainedSection(StrictModel):
    path: str = Field("autogluon/chronos-2-small", description="Chronos-2 weights: a hub id or a local directory.")


class ReportSection(StrictModel):
    interval_levels: list[float] = Field(
        [0.8, 0.95], min_length=1, description="Prediction-interval levels, calibrated on validation residuals.")
    final_refit: bool = Field(
        True, description="After selection, retrain each architecture's chosen configuration (every seed of the "
        "finals) on all data before the test split, for the median of its best epochs over folds and seeds; those "
        "models make the test forecasts and the future forecast. false: the fold models forecast test.")
    ensemble_steps: int = Field(
        20, ge=0, description="With backtest folds (split.folds >= 2): steps of the greedy forward selection that "
        "builds weighted_ensemble over every ranked entry's validation forecasts, scored out of fold; 0: no "
        "ensemble.")

    @field_validator("interval_levels")
    @classmethod
    def _levels_are_probabilities(cls, levels: list[float]) -> list[float]:
        bad = [v for v in levels if not 0 < v < 1]
        if bad:
            raise ValueError(f"levels must lie strictly between 0 and 1 (0.8 for an 80% interval), got {bad}")
        return sorted(set(levels))


class SweepConfig(StrictModel):
    data: DataConfig = Field(default_factory=DataConfig)
    window: WindowConfig = Field(default_factory=WindowConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    baselines: BaselinesConfig = Field(default_factory=BaselinesConfig)
    models: dict[str, dict[str, SectionValue]] = Field(
        description="Per architecture: hyperparameter or train.* key -> a fixed value or a search spec (sweeps/spec.py); "
        "unset keys take the model's own defaults.")
    sweep: SweepSection = Field(default_factory=SweepSection)
    wandb: WandbSection = Field(default_factory=WandbSection)
    pretrained: PretrainedSection = Field(default_factory=PretrainedSection)
    report: ReportSection = Field(default_factory=ReportSection)

    @model_validator(mode="before")
    @classmethod
    def _window_input_per_model(cls, raw: Any) -> Any:
        return window_input_per_model(raw)

    @field_validator("models", mode="before")
    @classmethod
    def _known_models_and_specs(cls, models: Any) -> Any:
        if not isinstance(models, dict):
            return models  # pydantic names the wrong type
        if not models:
            raise ValueError("no models selected: list at least one under `models`")
        return {name: parse_model_section(name, params) for name, params in models.items()}


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        # A user's `models` section replaces the default one: the models it lists are the ones that run.
        if key != "models" and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _apply_profile(raw: dict[str, Any], profile: str) -> dict[str, Any]:
    """smoke: one tiny trial per model for 2 epochs, one validation block, no refit; full: the seed's long budgets
    for GPUs and clusters."""
    raw = copy.deepcopy(raw)
    if profile == "smoke":
        raw.setdefault("train", {}).update(epochs=2, patience=2)
        raw.setdefault("sweep", {}).update(scheduler="none", num_samples=1, final_seeds=0)
        # a plumbing check trains each model once: one validation block, no refit (dotted overrides bring them back)
        raw.setdefault("split", {})["folds"] = 1
        raw.setdefault("report", {})["final_refit"] = False
        # the classical fits (statsmodels' model selection) cost more than the whole smoke sweep: a plumbing check
        # skips them; `baselines.classical=all` on the command line brings them back
        raw.setdefault("baselines", {})["classical"] = []
        for name, params in (raw.get("models") or {}).items():
            if isinstance(params, dict):
                raw["models"][name] = {k: _smallest(v) for k, v in params.items()}
    elif profile == "full":
        raw.setdefault("train", {}).update(epochs=1000, patience=100)
        raw.setdefault("sweep", {}).update(grace_period=50)
    return raw


def _smallest(raw: Any) -> Any:
    """The smoke profile's value of a spec: its smallest number (or first value), a range's low bound."""
    try:
        value = parse_value(raw, "")
    except ValueError:
        return raw  # validation names it, with its key
    return value.smallest() if isinstance(value, SearchSpec) else raw


def format_validation_error(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see sweeps/configs/default.yaml for every key)"
        lines.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(lines)


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    profile: str = "default",
    models: list[str] | None = None,
    base_overrides: list[str] | None = None,
) -> SweepConfig:
    """Defaults <- `base_overrides` <- user YAML <- profile <- dotted overrides <- --models selection, validated
    once. `base_overrides` are what the Python API reads off a DataFrame's layout (its id and date columns): the
    user's own file and overrides win over them."""
    if profile not in PROFILES:
        raise ConfigError(f"--profile: unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    try:
        raw = apply_overrides(load_yaml(DEFAULT_CONFIG), base_overrides or [])
        if path is not None:
            raw = _deep_merge(raw, load_yaml(path))
        raw = _apply_profile(raw, profile)
        raw = apply_overrides(raw, overrides or [])
    except DataError as err:
        raise ConfigError(str(err)) from err
    if models:
        available = raw.get("models") or {}
        unknown = [m for m in models if m not in sweepable_models()]
        if unknown:
            raise ConfigError(
                f"--models: unknown model(s) {', '.join(unknown)}; choose from {', '.join(sweepable_models())}"
            )
        raw["models"] = {m: available.get(m, {}) for m in models}
    try:
        return SweepConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"config error: {format_validation_error(err)}") from err
