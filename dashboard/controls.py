"""Table helpers every trend tab shares: status words and colours, the drill-down rows, URL warnings.

The selectors, chart and their callbacks are dashboard/trend_tab.py's; parameter rules are
queries/params.py's.
"""
from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from dashboard import components
from queries import limits


def warnings_block(warnings) -> html.Div:
    """One dismissable line per URL value that was ignored, saying what is shown instead."""
    return html.Div(
        [dbc.Alert(w, color="warning", class_name="py-1 px-2 mb-1 small", dismissable=True) for w in warnings],
        id="url-warnings",
    )


# AG Grid cell styles for status_cell's words: Above red, Below blue, low volume and no limits grey.
STATUS_STYLE = {
    "styleConditions": [
        {"condition": "params.value && params.value.startsWith('▲')", "style": {"backgroundColor": "#f5c6c0", "fontWeight": "600"}},
        {"condition": "params.value && params.value.startsWith('▼')", "style": {"backgroundColor": "#c6dcf5", "fontWeight": "600"}},
        {"condition": "params.value && (params.value.startsWith('(') || params.value === 'no limits')",
         "style": {"color": "#777", "fontStyle": "italic"}},
    ]
}


# A caution ("small numbers, interpret with care") in amber italics.
CAUTION_STYLE = {"styleConditions": [
    {"condition": "params.value && params.value.length > 0", "style": {"color": "#8a5300", "fontStyle": "italic"}},
]}


def status_cell(status: str, low_volume: bool) -> str:
    """Table text for a flag: arrows and words, so a table reads without colour; brackets = low volume."""
    if status == limits.ABOVE:
        return "(Above)" if low_volume else "▲ Above"
    if status == limits.BELOW:
        return "(Below)" if low_volume else "▼ Below"
    if status == limits.NO_LIMITS:
        return "no limits"
    return ""


def drilldown_rows(table: pd.DataFrame) -> pd.DataFrame:
    """series.drilldown as the neighbourhood table shows it (row id = neighbourhood, for clicks)."""
    return pd.DataFrame({
        "id": table["neighbourhood"],
        "Neighbourhood": table["neighbourhood"],
        "Count": table["count"],
        "Expected": table["expected"].round(1),
        "Difference": table["above_expected"].round(1),
        "Upper Line": table["upper"].round(1),
        "Status": [status_cell(s, lv) for s, lv in zip(table["status"], table["low_volume"])],
    })


def drilldown_columns(shown: pd.DataFrame) -> list[dict]:
    """Column definitions for drilldown_rows' table."""
    # Sized to fit a half-width card without scrolling the Status column out of sight.
    columns = [{"field": c, "minWidth": 105, "cellStyle": STATUS_STYLE} if c == "Status"
               else {"field": c, "minWidth": 230, "cellStyle": CAUTION_STYLE} if c == "Caution"
               else {"field": c, **components.NUMBER_COLUMN, "minWidth": 88}
               for c in shown.columns if c not in ("id", "Neighbourhood")]
    for column in columns:
        if column["field"] == "Difference":
            column["headerName"] = "Above expected"  # two short words wrap; "Difference" broke mid-word
    return components.column_defs([{"field": "Neighbourhood", "minWidth": 150}, *columns])
