"""The report's Data section: tables of the source, splits, gaps and flagged values (no JSON dump)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import delhi

from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data
from reports.data_section import data_tables
from reports.render import table_md


def test_delhi_data_section_lists_splits_windows_and_every_flagged_value(tmp_path: Path):
    cfg = DataConfig(path=str(delhi("train")), test_path=str(delhi("test")),
                     cache_dir=str(tmp_path))
    with pytest.warns(UserWarning, match="kept the test file"):
        data = build_windowed_data(cfg, WindowConfig(), SplitConfig())
    tables = dict(data_tables(data.summary))
    splits = next(t for title, t in tables.items() if title.startswith("Splits"))
    assert list(splits.split) == ["train", "val", "test"]
    assert splits.set_index("split").windows.to_dict() == {"train": 1206, "val": 213, "test": 78}
    flagged = next(t for title, t in tables.items() if title.startswith("Flagged implausible values: 10"))
    assert set(flagged.column) == {"meanpressure"} and 7679.0 < flagged.value.max() < 7680.0
    assert flagged.date.tolist()[-1] == "2017-01-01"
    source = tables["Source"].set_index("").value
    assert source["frequency"] == "D" and source["dates in both files"].startswith("1 (2017-01-01)")
    assert not any(title.startswith("Gaps") for title in tables)  # Delhi has none: no empty table
    md = table_md(flagged)
    assert md.count("\n") == 11 and "2016-03-28" in md  # header, rule and ten rows
