"""A run directory records its data files' content hashes; other content is refused, naming the file."""

from __future__ import annotations

import json

import pytest

from data_pipeline import DataConfig, DataError
from data_pipeline.identity import check_data_identity


def test_changed_content_is_refused_naming_the_file(tmp_path):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text("date,a\n2020-01-01,1\n")
    test.write_text("date,a\n2020-02-01,2\n")
    record = tmp_path / "data_identity.json"
    cfg = DataConfig(path=str(train), test_path=str(test))
    check_data_identity(record, cfg, "restore it")
    assert set(json.loads(record.read_text())) == {str(train), str(test)}
    check_data_identity(record, cfg, "restore it")  # same bytes: accepted
    test.write_text("date,a\n2020-02-01,3\n")
    with pytest.raises(DataError, match=rf"{test} has changed .*restore it"):
        check_data_identity(record, cfg, "restore it")
    with pytest.raises(DataError, match=rf"{test} is no longer part"):
        check_data_identity(record, DataConfig(path=str(train)), "restore it")
