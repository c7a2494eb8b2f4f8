"""The report's page (reports/sections.py) rendered by reports/render.py: one layout, two formats that show the
same headings in the same order, and optional sections left out when empty."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from reports.render import render_html, render_markdown
from reports.sections import IntervalSection, ReportSections, TitledTable, layout

PNG = bytes.fromhex("89504e470d0a1a0a")  # a PNG's signature is enough to inline


def _sections(tmp_path: Path, **more) -> ReportSections:
    fig = tmp_path / "f.png"
    fig.write_bytes(PNG)
    frame = pd.DataFrame({"model": ["gru_ar", "ridge"], "kind": ["trained", "baseline"], "mse": [0.25, 0.5]})
    return ReportSections(
        title="Forecast Sweep report: r", protocol="How <it> was scored.", notes=["Chosen: gru_ar."],
        ranking=frame, trial_counts=frame, per_target=frame, per_horizon=frame.set_index("model"),
        failed=pd.DataFrame(), figures=[("Models' own intervals", fig)],
        data_tables=[TitledTable("Source", frame)], **more)


def _headings_html(text: str) -> list[str]:
    return [re.sub("&#x27;", "'", h) for h in re.findall(r"<h[123]>(.*?)</h[123]>", text)]


def _headings_md(text: str) -> list[str]:
    return [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]


def test_both_formats_show_the_same_sections_in_the_same_order(tmp_path: Path):
    page = layout(_sections(tmp_path, intervals=IntervalSection("Split-conformal.", pd.DataFrame({"a": [1]}),
                                                                pd.DataFrame({"b": [2]})),
                            per_series=pd.DataFrame({"series": ["s1"]}),
                            search_tables=[TitledTable("Parameter importance", pd.DataFrame({"c": [3]}))]))
    html, md = render_html(page), render_markdown(page)
    assert _headings_html(html) == _headings_md(md)
    assert _headings_md(md)[:4] == ["Forecast Sweep report: r", "Ranking (ordered by validation; test scored once)",
                                    "Prediction intervals (test split, calibrated on validation)",
                                    "Interval coverage per forecast day (test)"]
    assert "How &lt;it&gt; was scored." in html and "How <it> was scored." in md  # escaped in HTML only
    assert "<tr class=\"baseline\">" in html  # the ranking's baseline rows are styled apart
    assert "data:image/png;base64," in html and "![Models' own intervals](figures/f.png)" in md


def test_empty_sections_are_left_out(tmp_path: Path):
    md = render_markdown(layout(_sections(tmp_path, intervals=IntervalSection("x", pd.DataFrame(),
                                                                               pd.DataFrame()))))
    headings = _headings_md(md)
    assert not any(h.startswith(("Prediction intervals", "Per series", "Failed trials")) for h in headings)
    assert headings[-2:] == ["Data", "Source"]
