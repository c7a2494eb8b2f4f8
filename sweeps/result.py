"""A sweep's result as Python objects: `sweeps.sweep` returns one, `sweeps.open_run` reads one from an earlier
run directory. Every table comes from the report's own files, so both give the same frames."""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.run_files import RunFiles
from sweeps.overrides import Overrides, override_pairs

if TYPE_CHECKING:
    import pandas as pd

    from sweeps.engine.driver import SweepOutcome

# The columns of the ranking a reader looks at first (ranking.csv keeps every figure).
SHOWN_COLUMNS = ("rank", "model", "kind", "val_mse_mean", "test_mse", "test_mae", "skill_vs_persistence",
                 "tied_with_winner")


@dataclass
class SweepResult:
    """A sweep's run directory read as Python objects; every table is read from the report's own files.

    In a notebook the object shows the verdict and the ranking; `show_report()` shows the whole report.

    Attributes:
        run_dir: The run directory (runs/<name>).
        outcome: This session's sweep (trials, wall time); None for `sweeps.open_run`.
    """

    run_dir: Path
    outcome: SweepOutcome | None = None  # this session's sweep (trials, wall time); None for open_run

    @property
    def files(self) -> RunFiles:
        """The run directory's files (models/run_files.py names them)."""
        return RunFiles(self.run_dir)

    @property
    def report_dir(self) -> Path:
        return self.files.report.dir

    @property
    def report_path(self) -> Path | None:
        """The self-contained HTML report (report/index.html), or None before one was built."""
        path = self.files.report.index_html
        return path if path.exists() else None

    @cached_property
    def ranking(self) -> pd.DataFrame:
        """report/ranking.csv: every entry, ordered and ranked by validation MSE, with its test scores and intervals.

        Raises:
            RunDirError: The run has no report yet.
        """
        import pandas as pd

        return pd.read_csv(self._report_file(self.files.report.ranking), dtype={"trial_id": str})

    @property
    def winner(self) -> str:
        """The model chosen on validation (rank 1), the one the console, W&B and `forecast()` name."""
        ranked = self.ranking.dropna(subset=["rank"])
        return str(ranked.loc[ranked["rank"].idxmin(), "model"])

    @cached_property
    def predictions(self) -> pd.DataFrame:
        """report/predictions.parquet: every entry's test forecasts beside the actual values, with interval bounds.

        Raises:
            RunDirError: The run has no report yet.
        """
        import pandas as pd

        return pd.read_parquet(self._report_file(self.files.report.predictions))

    def forecast(self, model: str | None = None, overrides: Overrides = None, *,
                 future: pd.DataFrame | str | Path | None = None, **options: Any) -> pd.DataFrame:
        """The next window.output steps after the data's last date, as `python -m reports.forecast` writes them.

        Args:
            model: The entry to forecast with; None: the validation winner (when a baseline the command cannot run
                wins, the best-ranked model it can run, named in the frame's `attrs["note"]`).
            overrides: data.* keys only, e.g. `{"data.path": "newer.csv"}` to forecast from newer rows.
            future: The values of the run's known-future columns (data.known_future) on every forecast date: a
                frame (or CSV/Parquet path) with the date column (a panel: also its id column) and those columns.
                Required when the run has known-future columns; the message says which dates and columns.
            **options: More data.* keys, as `**{"data.path": "newer.csv"}`.

        Returns:
            The date (or step, or series and date for panels), then per target the point forecast and
            `<target>_lo80`, `_hi80`, `_lo95`, `_hi95` in original units; `attrs["model"]` names the model.
        """
        from reports.forecast import forecast

        return forecast(self.run_dir, model, override_pairs(overrides, options), future)

    def build_report(self, *, quiet: bool = False) -> Path:
        """(Re)build the report from the run directory without retraining.

        Args:
            quiet: Print nothing.

        Returns:
            The report's index.html.
        """
        from reports.build import build_report

        report = build_report(self.run_dir, quiet=quiet)
        for cached in ("ranking", "predictions"):
            self.__dict__.pop(cached, None)
        return report.index_html

    def show_report(self, height: int = 800) -> InlineReport:
        """The full HTML report, displayed inline in a notebook (the report is self-contained: figures included).

        Args:
            height: The frame's height in pixels.
        """
        return InlineReport(self._report_file(self.files.report.index_html), height)

    def _report_file(self, path: Path) -> Path:
        from reports.runs import RunDirError

        if not path.exists():
            raise RunDirError(f"{self.run_dir} has no report yet ({path} is missing); build it with "
                              f"result.build_report() or `python -m reports {self.run_dir}`")
        return path

    def __repr__(self) -> str:
        built = f"winner {self.winner!r}" if self.files.report.exists() else "no report yet"
        return f"SweepResult({str(self.run_dir)!r}, {built})"

    def _repr_html_(self) -> str:
        if not self.files.report.exists():
            return f"<p>Forecast Sweep run <code>{html.escape(str(self.run_dir))}</code>: no report yet.</p>"
        from reports.scoring import verdict

        table = self.ranking[[c for c in SHOWN_COLUMNS if c in self.ranking]]
        return (f"<div><p><b>Forecast Sweep run</b> <code>{html.escape(str(self.run_dir))}</code></p>"
                f"<p>{html.escape(verdict(self.ranking))}</p>"
                f"{table.to_html(index=False, float_format=lambda v: f'{v:.4f}', na_rep='')}"
                f"<p>Report: <code>{html.escape(str(self.report_path))}</code> "
                f"(inline: <code>result.show_report()</code>)</p></div>")


@dataclass
class InlineReport:
    """A report shown in a notebook cell: the whole self-contained page in an iframe."""

    index_html: Path
    height: int = 800

    def _repr_html_(self) -> str:
        page = html.escape(self.index_html.read_text(), quote=True)
        return f'<iframe srcdoc="{page}" style="width:100%;height:{self.height}px;border:0"></iframe>'
