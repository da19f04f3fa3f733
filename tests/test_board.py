"""Issue 11: the board view's rules, in-process (the browser walk is tests/test_board_browser.py).

The month's Current Issues in the printed report's order, the walk's steps, the y-axis
framing, the exception labels and the stamp on the chart.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import board, components
from queries import geography, limits, params, report, series


@pytest.fixture(scope="module")
def october(demo_store, demo_config):
    month = max(series.coverage(demo_store, "crime"))
    return month, report.board_walk(demo_store, month, demo_config.limit_method, demo_config.k,
                                    demo_config.min_significant)


def test_the_walk_lists_current_issues_county_first_then_each_csp_in_report_order(october, demo_store, demo_config):
    month, walk = october
    order = [area for area, _ in report.report_sections(series.force_areas(demo_store))]
    assert walk.issues, "the demo month has Current Issues"
    positions = [order.index(f.area) for f in walk.issues]
    assert positions == sorted(positions)
    # The same issues as the printed report's sections, in the same order.
    table = report.all_series_limits(demo_store, month, demo_config.limit_method, demo_config.k,
                                     demo_config.min_significant).month_table()
    expected = [f for area in order for f in report.area_flags(table, area, demo_config.min_significant)[0]]
    assert list(walk.issues) == expected


def test_the_walk_from_the_area_rows_alone_is_the_walk_computed_from_every_series(demo_store):
    """The walk reads only the report month's area rows (stored, or the engine over the area series for
    a non-default k), not every series of the force over four years (a national force's took 1-2 s a
    step); its issues and falls below are exactly those of the engine over every series."""
    from queries import limits_table

    store = demo_store.snapshot()
    held = series.coverage(store, "crime")
    order = [area for area, _ in report.report_sections(series.force_areas(store))]
    flagged = 0
    for method, chosen in limits.METHODS.items():
        for k in (chosen.default_k, 3.0):
            for month in (held[-1], held[-8], held[30]):
                with limits_table.computing_on_demand():
                    table = report.all_series_limits(store, month, method, k, 10).month_table()
                expected = report.Walk(*[tuple(f) for f in _walk_lists(table, order)])
                assert report.board_walk(store, month, method, k, 10) == expected
                flagged += len(expected.issues) + len(expected.below)
    assert flagged  # the comparison had flags to compare


def _walk_lists(table: pd.DataFrame, order: list[str]) -> tuple[list, list]:
    issues = [f for area in order for f in report.area_flags(table, area, 10)[0]]
    below = [f for area in order for f in report.area_flags(table, area, 10)[1]]
    return issues, below


def test_an_issue_is_above_the_upper_line_with_a_volume_of_significance_and_falls_below_are_apart(october, demo_config):
    _, walk = october
    assert all(f.status == limits.ABOVE and f.count >= demo_config.min_significant for f in walk.issues)
    assert all(f.status == limits.BELOW for f in walk.below)
    assert not {(f.area, f.measure) for f in walk.issues} & {(f.area, f.measure) for f in walk.below}
    assert geography.FORCE not in {f.area for f in walk.issues}  # the report has no force section


def test_next_and_previous_step_from_the_issue_shown_and_never_past_either_end():
    assert board.step(None, None, forward=True, count=5) == 1
    assert board.step(3, None, forward=True, count=5) == 4
    assert board.step(3, 1, forward=False, count=5) == 2
    assert board.step(5, None, forward=True, count=5) == 5
    assert board.step(1, None, forward=False, count=5) == 1
    # Off the list (the area was changed): on from the last issue walked to.
    assert board.step(None, 3, forward=True, count=5) == 4
    assert board.step(None, "3", forward=True, count=5) == 1  # a hostile stored value is ignored
    assert board.step(None, None, forward=True, count=0) is None


def test_the_issue_parameter_is_a_position_from_one():
    assert params.check("issue", "3") == 3
    for bad in ("0", "-1", "x", "1.5", True, "1000"):
        with pytest.raises(params.ParamError, match="issue"):
            params.check("issue", bad)


def _table(counts, upper, lower, status) -> pd.DataFrame:
    months = limits.fy_months(2026)
    n = len(months)
    frame = pd.DataFrame({"month": months, "count": counts[:n], "monthly_average_prev3": (np.array(upper) + lower) / 2,
                          "average": (np.array(upper) + lower) / 2, "upper": upper, "lower": lower,
                          "status": status, "low_volume": [False] * n, "baseline_years": [3] * n})
    return frame


def test_the_axis_leaves_out_zero_only_when_zero_would_flatten_the_lines():
    bottom, top, from_zero = components.axis_frame(np.array([4000, 4600, 4200, np.nan]))
    assert not from_zero and 3000 < bottom < 4000 and top > 4600
    bottom, top, from_zero = components.axis_frame(np.array([22, 64, 40]))
    assert from_zero and bottom == 0 and top > 64
    assert components.axis_frame(np.array([np.nan]))[2]


def test_a_board_chart_says_when_its_axis_does_not_start_at_zero_and_carries_the_stamp():
    n = 12
    status = [limits.WITHIN] * n
    status[3], status[4], status[8] = limits.ABOVE, limits.ABOVE, limits.BELOW
    table = _table([4300.0] * n, [4600.0] * n, [4000.0] * n, status)
    figure = components.trend_figure(table, "Force Area - All crimes", board_view=True, stamp="Data as at 1 Nov 2026")
    texts = [a.text for a in figure.layout.annotations]
    assert any(components.NOT_FROM_ZERO in t for t in texts)
    assert any("Data as at 1 Nov 2026" in t for t in texts)
    labels = [a for a in figure.layout.annotations if "Above" in a.text or "Below" in a.text]
    assert sorted(("Above" in a.text) for a in labels) == [False, True, True]
    # Above and Below differ by word, shape and colour; neighbouring labels lean apart.
    assert {a.bgcolor for a in labels} == set(components.EXCEPTION_COLOURS.values())
    above = sorted((a for a in labels if "Above" in a.text), key=lambda a: pd.Timestamp(a.x))
    assert above[0].ax < 0 < above[1].ax
    assert figure.layout.yaxis.range[0] > 0


def test_a_board_chart_starting_at_zero_does_not_say_otherwise():
    n = 12
    table = _table([30.0] * n, [60.0] * n, [20.0] * n, [limits.WITHIN] * n)
    figure = components.trend_figure(table, "Chesterfield - Shoplifting", board_view=True)
    assert not any(components.NOT_FROM_ZERO in a.text for a in figure.layout.annotations)
    assert figure.layout.yaxis.range[0] == 0
