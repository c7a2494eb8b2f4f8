"""The columns of the files users read most: `report/ranking.csv` (reports.scoring.ranking_table, with the
interval and panel columns reports.intervals and reports.panel add) and `forecast.csv` (reports.forecast).

Written here, beside the code's names, and checked by tests/test_docs.py against the files a real smoke sweep
writes: a column the code adds without a line here fails that test, and so does a line for a column it no
longer writes."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str  # as shown; <level> and <target> are placeholders
    pattern: str  # regex matching the real column names
    meaning: str
    when: str = "always"


RANKING_COLUMNS = (
    Column("model", "model", "Entry name: an architecture (its chosen trial), `<architecture>_ensemble` (the mean of "
           "its seeds' forecasts), a baseline (persistence, ridge, seasonal_naive, climatology), a classical model "
           "(ets, theta, arima, mstl, classical_combo) or Chronos-2 (chronos2_zeroshot, chronos2_finetuned)."),
    Column("rank", "rank", "Position by validation MSE (1: the model to deploy). Test never decides it."),
    Column("kind", "kind", "trained | ensemble | baseline."),
    Column("val_mse_mean", "val_mse_mean", "What selection ranks by: validation MSE in scaled units, the mean over "
           "seeds (and over backtest folds) where the entry has several."),
    Column("val_mse_sd", "val_mse_sd", "Standard deviation of the validation MSE over seeds (0 with one seed)."),
    Column("seeds", "seeds", "How many seeds the validation mean is over."),
    Column("folds", "folds", "How many backtest folds the validation mean is over (`split.folds`)."),
    Column("val_mse_fold_sd", "val_mse_fold_sd", "Spread of the validation MSE over folds."),
    Column("refit", "refit", "Whether the test forecasts come from the final refit (`report.final_refit`)."),
    Column("test_mse", "test_mse", "Test MSE, scaled units, of the chosen trial (seed 0) or the entry itself."),
    Column("test_mae", "test_mae", "Test MAE, scaled units."),
    Column("test_mse_mean", "test_mse_mean", "Test MSE, mean over seeds."),
    Column("test_mse_sd", "test_mse_sd", "Test MSE, standard deviation over seeds."),
    Column("val_mse", "val_mse", "Validation MSE of the chosen trial alone (seed 0)."),
    Column("skill_vs_persistence", "skill_vs_persistence", "1 - test MSE / persistence's test MSE (above 0: better "
           "than repeating the last value)."),
    Column("tied_with_winner", "tied_with_winner", "The 95% interval of (test MSE - the winner's) contains 0: the "
           "test data cannot tell this entry from the validation winner, whichever scored lower."),
    Column("vs_winner_ci_low / _high", r"vs_winner_ci_(low|high)", "95% paired block-bootstrap interval of test "
           "MSE minus the winner's."),
    Column("vs_<reference>_ci_low / _high", r"vs_(?!winner_)\w+_ci_(low|high)", "The same interval against each "
           "reference entry (the forecasters that declare `Capabilities.reference`: persistence, ridge, seasonal_naive)."),
    Column("hparams", "hparams", "The chosen hyperparameters (classical models: the form chosen per series and "
           "target)."),
    Column("params", "params", "Trainable parameters (or fitted ones); a combination counts every member it runs "
           "(a seed ensemble all its seeds, classical_combo and weighted_ensemble their chosen members)."),
    Column("epochs", "epochs", "Epochs the chosen trial trained."),
    Column("train_time_s", "train_time_s", "Training (or fitting) time in seconds."),
    Column("trial_id", "trial_id", "The Ray Tune trial behind a trained entry (`runs/<name>/trials/`)."),
    Column("test_windows", "test_windows", "Test windows scored."),
    Column("test_masked_cells", "test_masked_cells", "Test target cells left out of every score: missing or "
           "repaired in the source."),
    Column("coverage_<level>", r"coverage_\d+", "Share of real test values inside the split-conformal interval at "
           "that level (`report.interval_levels`; 80 and 95 by default)."),
    Column("coverage_<level>_ci_low / _ci_high", r"coverage_\d+_ci_(low|high)", "95% block-bootstrap interval of "
           "that coverage over test windows (a panel's over forecast origins): a nominal level outside it is a miss "
           "beyond the noise of the test split."),
    Column("winkler_<level>", r"winkler_\d+", "Interval (Winkler) score at that level, scaled units: width plus "
           "the penalty for misses; lower is better."),
    Column("test_mase / val_mase", r"(test|val)_mase", "Panels: mean over series of each series' MAE over its "
           "in-sample seasonal naive MAE on its training part.", "panels (many series)"),
)

FORECAST_COLUMNS = (
    Column("series", "series", "The series id; one block of rows per series.", "panels (many series)"),
    Column("date", "date", "The forecast date, on the data's calendar (business days under `B`).",
           "a calendar (every frequency but `rows`)"),
    Column("step", "step", "+1 .. +H: with `data.frequency=rows` no future date can be known.",
           "`data.frequency=rows`"),
    Column("<target>", "{targets}", "The point forecast, original units."),
    Column("<target>_lo<level> / <target>_hi<level>", r"({targets})_(lo|hi)\d+", "Split-conformal interval bounds at each "
           "of `report.interval_levels`, calibrated as the report calibrates that entry."),
)


def undocumented(columns: list[str], documented: tuple[Column, ...], targets: tuple[str, ...] = ()) -> list[str]:
    """The real columns no documented pattern matches; `{targets}` in a pattern stands for the run's target
    names (forecast.csv names its columns after them)."""
    alternation = "|".join(re.escape(t) for t in targets) or "(?!)"
    patterns = [d.pattern.replace("{targets}", alternation) for d in documented]
    return [c for c in columns if not any(re.fullmatch(p, c) for p in patterns)]


def table_markdown(columns: tuple[Column, ...]) -> str:
    lines = ["| column | meaning | present |", "|---|---|---|"]
    for c in columns:
        meaning = c.meaning.replace("|", "\\|")  # a pipe would end the table cell
        lines.append(f"| `{c.name}` | {meaning} | {c.when} |")
    return "\n".join(lines) + "\n"
