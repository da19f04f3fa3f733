"""Editable lookups are parsed once per content, an edit shows at once, and callers can't spoil the cache."""
from __future__ import annotations

import pandas as pd

from queries.lookup_cache import reparse_when_changed

calls = []


@reparse_when_changed(lambda path: path)
def _read(path):
    calls.append(path)
    return pd.read_csv(path)


def test_same_content_is_parsed_once_and_an_edit_is_seen_immediately(tmp_path):
    path = tmp_path / "lookup.csv"
    path.write_text("a\n1\n")
    calls.clear()
    assert _read(path)["a"].tolist() == [1]
    assert _read(path)["a"].tolist() == [1]
    assert len(calls) == 1
    path.write_text("a\n2\n")  # same size, same second: content decides, not the clock
    assert _read(path)["a"].tolist() == [2]
    assert len(calls) == 2


def test_a_caller_changing_its_copy_does_not_change_the_next_callers(tmp_path):
    path = tmp_path / "lookup.csv"
    path.write_text("a\n1\n")
    first = _read(path)
    first.loc[0, "a"] = 99
    assert _read(path)["a"].tolist() == [1]


def test_errors_are_not_cached(tmp_path):
    path = tmp_path / "missing.csv"
    for _ in range(2):
        try:
            _read(path)
        except FileNotFoundError:
            pass
        else:
            raise AssertionError("a missing file must keep raising")
    path.write_text("a\n3\n")
    assert _read(path)["a"].tolist() == [3]


def test_a_reader_that_only_reads_gets_the_one_parsed_result_without_a_copy_and_an_edit_still_shows(tmp_path):
    path = tmp_path / "lookup.csv"
    path.write_text("a\n1\n")
    calls.clear()
    first = _read.shared(path)
    assert _read.shared(path) is first  # no copy of a large result (ward boundaries) per request
    assert _read(path) is not first and len(calls) == 1  # the copying reader still copies the same parse
    path.write_text("a\n3\n")
    assert _read.shared(path)["a"].tolist() == [3]
