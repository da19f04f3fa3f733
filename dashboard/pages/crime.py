"""Crime tab: the board's monthly performance report, live.

Chart of one area and crime group; the summary table of exceptions (click a cell to open
its chart); the rolling 12-month table; the drill-down to neighbourhoods. All of it is the
shared trend tab (dashboard/trend_tab.py): this page only says how Crime differs.
"""
from __future__ import annotations

import dash

from dashboard import trend_tab
from dashboard.safe import page_layout

SPEC = trend_tab.register(trend_tab.TrendSpec(
    dataset="crime",
    summary_title="Summary table of crimes falling above or below trigger levels",
    rolling=True, ward_map=True,
))

dash.register_page(__name__, path="/", name="Crime", title="Crime - CSP Performance", order=0, dataset=SPEC.dataset)


@page_layout
def layout(**params):
    return trend_tab.layout(SPEC, params)
