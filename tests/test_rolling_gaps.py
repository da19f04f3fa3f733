"""Table 1 (rolling 12 months) in a store holding one month: the window a year earlier holds no
months at all, so its totals are blank, never 0 — a gap is not a zero — on screen, in the report
and in the exported file.

The store is Leicestershire's real March 2021 police.uk file, made by `init` and the importer.
"""
from __future__ import annotations

import io

import pandas as pd
import pytest

from queries import formats, report, report_output, series
from queries.init_store import init_store
from queries.store import Store
from test_two_force_store import FIXTURES, run_import

MONTH = pd.Timestamp("2021-03-01")
EARLIER = "12 Months to Mar 2020 (0 of 12 months held)"
LATER = "12 Months to Mar 2021 (1 of 12 months held)"


@pytest.fixture(scope="module")
def one_month(tmp_path_factory) -> Store:
    data_dir = tmp_path_factory.mktemp("one-month") / "store"
    init_store(data_dir, ["leicestershire"])
    code, err = run_import(data_dir, FIXTURES / "leicestershire-street-2021-03.zip")
    assert code == 0, err
    return Store(data_dir)


def test_a_window_holding_no_months_is_blank_not_zero(one_month):
    table = series.rolling_12(one_month, "crime", "All crimes", MONTH).set_index("Area")
    assert list(table.columns[:2]) == [EARLIER, LATER]
    assert table[EARLIER].isna().all()
    assert (table.loc["Force Area", LATER] > 0) and table[LATER].notna().all()
    assert table["Numerical Change"].isna().all() and table["% Change"].isna().all()


def test_the_reports_table_1_and_the_exported_file_leave_the_empty_window_blank(one_month):
    built = report.build_report(one_month, MONTH, "pooled", 2.0, 10, with_other_datasets=False)
    printed = report_output.Table.of(report_output.rolling_display(built))
    earlier = printed.columns.index(EARLIER)
    assert all(row[earlier] == "" for row in printed.rows)
    assert any(row[printed.columns.index(LATER)] not in ("", "0") for row in printed.rows)

    stream = io.BytesIO()
    formats.format_for("csv").write(built.rolling, {"title": "Rolling 12 months"}, stream)
    exported = pd.read_csv(io.BytesIO(stream.getvalue()), comment=None, skiprows=_header_rows(stream.getvalue()))
    assert exported[EARLIER].isna().all()
    assert exported[LATER].notna().all()


def _header_rows(data: bytes) -> int:
    """Lines before the table's header row (the CSV may open with its About lines)."""
    for number, line in enumerate(data.decode("utf-8-sig").splitlines()):
        if line.startswith("Area,"):
            return number
    raise AssertionError("no header row in the exported CSV")
