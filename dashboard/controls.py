"""Selectors shared by the trend tabs, and turning URL parameters into a checked view state.

Every view is addressable by URL (`/crime?area=Erewash&measure=Shoplifting&month=2026-10`).
Odd parameters never break a page: each bad one is replaced by its default and the page
says which parameter was ignored and what the valid choices are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboard import components, state
from queries import geography, limits, series
from queries.settings import LIMIT_METHODS

MAX_K = 5.0
MAX_SHOWN_CHOICES = 12


@dataclass
class ViewState:
    area: str
    measure: str
    fy: int
    month: pd.Timestamp
    method: str
    k: float
    neighbourhood: str | None = None
    warnings: list[str] = field(default_factory=list)

    def query_string(self) -> str:
        params = {"area": self.area, "measure": self.measure, "fy": self.fy, "month": f"{self.month:%Y-%m}",
                  "method": self.method, "k": f"{self.k:g}"}
        if self.neighbourhood:
            params["neighbourhood"] = self.neighbourhood
        return "?" + urlencode(params)


def choices(values) -> str:
    values = [str(v) for v in values]
    shown = ", ".join(values[:MAX_SHOWN_CHOICES])
    return shown + (f" and {len(values) - MAX_SHOWN_CHOICES} more" if len(values) > MAX_SHOWN_CHOICES else "")


def clip(text: object) -> str:
    """Echo a user-supplied value back safely (Dash escapes HTML; this just keeps it short)."""
    text = str(text)
    return text if len(text) <= 60 else text[:57] + "..."


def resolve(dataset: str, params: dict, default_area: str = geography.FORCE, default_measure: str | None = None) -> ViewState:
    """A valid view state from URL parameters, with a warning for each one ignored."""
    store = state.store()
    config = state.config
    warnings: list[str] = []
    area = params.get("area") or default_area
    if area not in geography.TOP_AREAS:
        warnings.append(f"Unknown area '{clip(area)}' in the link; showing {default_area}. Choose from: {choices(geography.TOP_AREAS)}.")
        area = default_area
    measures = series.measures(store, dataset)
    measure = params.get("measure") or default_measure or (measures[-1] if measures else "")
    if measure not in measures:
        fallback = default_measure if default_measure in measures else (measures[-1] if measures else "")
        if params.get("measure"):
            warnings.append(f"Unknown measure '{clip(measure)}'; showing {fallback}. Choose from: {choices(measures)}.")
        measure = fallback
    held = series.coverage(store, dataset)
    latest = held.max() if len(held) else pd.Timestamp.today().normalize().replace(day=1)
    month = latest
    if params.get("month"):
        try:
            month = pd.Timestamp(str(params["month"]) + ("-01" if len(str(params["month"])) == 7 else "")).replace(day=1)
            if month not in held:
                warnings.append(f"No {dataset} data held for {month:%b %Y}; showing {latest:%b %Y}, the latest month held.")
                month = latest
        except (ValueError, TypeError):
            warnings.append(f"Month '{clip(params['month'])}' is not a month like 2026-10; showing {latest:%b %Y}.")
            month = latest
    fy = limits.fy_of(month)
    if params.get("fy") and not params.get("month"):
        try:
            wanted = int(params["fy"])
            in_year = held[(held >= limits.fy_months(wanted)[0]) & (held <= limits.fy_months(wanted)[-1])]
            if len(in_year):
                fy, month = wanted, in_year.max()
            else:
                warnings.append(f"No {dataset} data held for financial year {clip(params['fy'])}; showing {fy}/{str(fy + 1)[-2:]}.")
        except ValueError:
            warnings.append(f"Financial year '{clip(params['fy'])}' is not a year like 2025; showing {fy}/{str(fy + 1)[-2:]}.")
    method = params.get("method") or config.limit_method
    if method not in LIMIT_METHODS:
        warnings.append(f"Unknown method '{clip(method)}'; using {config.limit_method}. Choose from: {', '.join(LIMIT_METHODS)}.")
        method = config.limit_method
    k = config.k
    if params.get("k"):
        try:
            k = float(params["k"])
            if not 0 < k <= MAX_K:
                raise ValueError
        except ValueError:
            warnings.append(f"k '{clip(params['k'])}' must be a number above 0 and at most {MAX_K:g}; using {config.k:g}.")
            k = config.k
    neighbourhood = params.get("neighbourhood") or None
    if neighbourhood is not None:
        names = series.neighbourhoods(store, area) if area in geography.CSPS else []
        if neighbourhood not in names:
            warnings.append(f"Unknown neighbourhood '{clip(neighbourhood)}' for {area}; showing the whole area.")
            neighbourhood = None
    return ViewState(area, measure, fy, month, method, k, neighbourhood, warnings)


def fy_label(fy: int) -> str:
    """'2026/27': the board's own way of naming an April-March year."""
    return f"{fy}/{str(fy + 1)[-2:]}"


def month_options(dataset: str, fy: int) -> list[dict]:
    held = series.coverage(state.store(), dataset)
    months = limits.fy_months(fy)
    return [{"label": f"{m:%B %Y}", "value": f"{m:%Y-%m}"} for m in months if m in held]


def _labelled(label: str, control, width: int) -> dbc.Col:
    return dbc.Col([dbc.Label(label, class_name="small fw-semibold mb-0"), control], md=width)


def selector_bar(prefix: str, dataset: str, view: ViewState, measure_label: str = "Crime group") -> dbc.Card:
    """Area, measure, year, report month, method and k: the same controls on every trend tab."""
    store = state.store()
    return dbc.Card(
        dbc.CardBody(
            dbc.Row(
                [
                    _labelled("Area", dcc.Dropdown(geography.TOP_AREAS, view.area, id=f"{prefix}-area", clearable=False), 2),
                    _labelled(measure_label, dcc.Dropdown(series.measures(store, dataset), view.measure, id=f"{prefix}-measure", clearable=False), 3),
                    _labelled("Financial year", dcc.Dropdown(
                        [{"label": fy_label(y), "value": y} for y in reversed(series.financial_years(store, dataset))],
                        view.fy, id=f"{prefix}-fy", clearable=False), 2),
                    _labelled("Up to and including", dcc.Dropdown(month_options(dataset, view.fy), f"{view.month:%Y-%m}", id=f"{prefix}-month", clearable=False), 2),
                    _labelled("Limit method", dbc.RadioItems(
                        options=[{"label": "Pooled", "value": "pooled"}, {"label": "Classic", "value": "classic"}],
                        value=view.method, id=f"{prefix}-method", inline=True), 2),
                    _labelled("k", dbc.Input(type="number", min=0.5, max=MAX_K, step=0.5, value=view.k, id=f"{prefix}-k", debounce=True), 1),
                ],
                class_name="g-2 align-items-end",
            )
        ),
        class_name="mb-3 shadow-sm",
    )


def warnings_block(view: ViewState) -> html.Div:
    return html.Div(
        [dbc.Alert(w, color="warning", class_name="py-1 px-2 mb-1 small", dismissable=True) for w in view.warnings],
        id="url-warnings",
    )


def checked_k(k) -> float:
    """k from the input box; out-of-range or empty falls back to the configured default."""
    try:
        k = float(k)
    except (TypeError, ValueError):
        return state.config.k
    return k if 0 < k <= MAX_K else state.config.k


def view_from_inputs(area, measure, month: str, method_name, k, neighbourhood=None) -> ViewState:
    """The view state from a trend tab's selector values (month as 'YYYY-MM')."""
    month = pd.Timestamp(f"{month}-01")
    return ViewState(area, measure, limits.fy_of(month), month, method_name, checked_k(k), neighbourhood)


# AG Grid cell styles for status_cell's words: Above red, Below blue, low volume and no limits grey.
STATUS_STYLE = {
    "styleConditions": [
        {"condition": "params.value && params.value.startsWith('▲')", "style": {"backgroundColor": "#f5c6c0", "fontWeight": "600"}},
        {"condition": "params.value && params.value.startsWith('▼')", "style": {"backgroundColor": "#c6dcf5", "fontWeight": "600"}},
        {"condition": "params.value && (params.value.startsWith('(') || params.value === 'no limits')",
         "style": {"color": "#777", "fontStyle": "italic"}},
    ]
}


def status_cell(status: str, low_volume: bool) -> str:
    """Table text for a flag: arrows and words, so a table reads without colour; brackets = low volume."""
    if status == limits.ABOVE:
        return "(Above)" if low_volume else "▲ Above"
    if status == limits.BELOW:
        return "(Below)" if low_volume else "▼ Below"
    if status == limits.NO_LIMITS:
        return "no limits"
    return ""


def trend_inputs(prefix: str) -> list[Input]:
    """The selectors every trend chart depends on, in the order callbacks receive them."""
    return [Input(f"{prefix}-{name}", "value") for name in ("area", "measure", "month", "method", "k")]


def register_selector_callbacks(prefix: str, dataset: str) -> None:
    """The plumbing every trend tab shares, registered once per tab.

    A new year lists its months and keeps the month if held, else the latest held (the report
    is "up to and including"); a click in the drill-down table opens that neighbourhood's
    chart; a new area clears the neighbourhood (it belongs to one CSP).
    """

    @callback(
        Output(f"{prefix}-month", "options"),
        Output(f"{prefix}-month", "value"),
        Input(f"{prefix}-fy", "value"),
        State(f"{prefix}-month", "value"),
        prevent_initial_call=True,
    )
    def fy_changed(fy, month):
        options = month_options(dataset, int(fy))
        values = [o["value"] for o in options]
        return options, (month if month in values else (values[-1] if values else None))

    @callback(Output(f"{prefix}-neighbourhood", "data", allow_duplicate=True), Input(f"{prefix}-drill", "cellClicked"),
              prevent_initial_call=True)
    def drill_clicked(cell):
        return cell.get("rowId") if cell else no_update

    @callback(Output(f"{prefix}-neighbourhood", "data", allow_duplicate=True), Input(f"{prefix}-area", "value"),
              prevent_initial_call=True)
    def area_changed(_area):
        return None


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


def trend_chart(dataset: str, view: ViewState, count_label: str = limits.SERIES_NAMES["count"],
                board_view: bool = False) -> tuple:
    """A tab's main chart and the plain-words notes under it (short baselines, gaps, recording changes)."""
    table = series.series_table(state.store(), dataset, view.area, view.measure, view.fy, view.method, view.k,
                                state.config.min_significant, view.month)
    figure = components.trend_figure(table, f"{view.area} - {view.measure}", count_label=count_label, board_view=board_view)
    notes = components.series_notes(table, view.method, view.month)
    notes += components.mark_recording_changes(figure, state.store(), dataset, table["month"])
    return figure, components.notes_block(notes).children


def drilldown_columns(shown: pd.DataFrame) -> list[dict]:
    """Column definitions for drilldown_rows' table."""
    # Sized to fit a half-width card without scrolling the Status column out of sight.
    columns = [{"field": c, "minWidth": 105, "cellStyle": STATUS_STYLE} if c == "Status"
               else {"field": c, **components.NUMBER_COLUMN, "minWidth": 88}
               for c in shown.columns if c not in ("id", "Neighbourhood")]
    for column in columns:
        if column["field"] == "Difference":
            column["headerName"] = "Above expected"  # two short words wrap; "Difference" broke mid-word
    return components.column_defs([{"field": "Neighbourhood", "minWidth": 150}, *columns])
