"""Crime tab: the board's monthly performance report, live.

Chart of one area and crime group; the summary table of exceptions (click a cell to
open its chart); the rolling 12-month table; the drill-down to neighbourhoods.
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboard import components, controls, method, state
from queries import geography, limits, series

DATASET = "crime"
P = "crime"  # id prefix

dash.register_page(__name__, path="/", name="Crime", title="Crime - CSP Performance", order=0)



def layout(**params) -> html.Div:
    store = state.store()
    if not store.has(DATASET):
        return dbc.Alert("The store holds no crime data. Run `python app.py demo` or import police.uk files.", color="danger")
    view = controls.resolve(DATASET, params, default_measure=series.measures(store, DATASET)[-1])
    config = state.config
    board = params.get("present") == "1"
    hidden = {"display": "none"} if board else {}
    return html.Div(
        [
            controls.warnings_block(view),
            html.Div(controls.selector_bar(P, DATASET, view), style=hidden),
            dcc.Store(id=f"{P}-neighbourhood", data=view.neighbourhood),
            dcc.Store(id=f"{P}-board", data=board),
            dcc.Location(id=f"{P}-url", refresh=False),
            components.card(
                "Trend",
                [dcc.Graph(id=f"{P}-chart", config={"displaylogo": False}, style={"height": "calc(100vh - 250px)", "minHeight": "420px"} if board else {}),
                 components.notes_block([], id=f"{P}-notes")],
                actions=[html.A("Link to this view", id=f"{P}-permalink", href="#", className="small me-2"),
                         html.A("Exit board view" if board else "Board view", id=f"{P}-board-link", href="#",
                                className="small me-2", title="Just the chart, large, for a projector"),
                         components.download_button(f"{P}-chart-csv")],
            ),
            html.Div(_detail_cards(view, config), style=hidden),
        ]
    )


def _detail_cards(view: controls.ViewState, config) -> list:
    """Everything below the chart (hidden in board view, kept so callbacks have their targets)."""
    return [
        components.card(
            "Summary table of crimes falling above or below trigger levels",
            [
                html.P(id=f"{P}-summary-caption", className="small text-muted mb-1"),
                components.grid(f"{P}-summary", getRowId="params.data.id"),
            ],
            actions=[components.download_button(f"{P}-summary-csv")],
            id=f"{P}-summary-card",
        ),
        dbc.Row(
            [
                dbc.Col(components.card(
                    "Rolling 12 months",
                    [components.grid(f"{P}-rolling"), html.P(id=f"{P}-rolling-note", className="small text-muted mt-1")],
                    actions=[components.download_button(f"{P}-rolling-csv")],
                    id=f"{P}-rolling-card",
                ), lg=6),
                dbc.Col(components.neighbourhood_card(P), lg=6),
            ]
        ),
        method.panel(f"{P}-method-text", view.method, view.k, config.min_significant),
    ]


def _inputs():
    return controls.trend_inputs(P)


controls.register_selector_callbacks(P, DATASET)


@callback(
    Output(f"{P}-area", "value"),
    Output(f"{P}-measure", "value"),
    Output(f"{P}-neighbourhood", "data", allow_duplicate=True),
    Input(f"{P}-summary", "cellClicked"),
    prevent_initial_call=True,
)
def summary_clicked(cell):
    """Clicking a summary cell opens that area's chart for that crime group."""
    if not cell or cell.get("colId") in (None, "Crime group") or not cell.get("rowId"):
        return no_update, no_update, no_update
    return cell["colId"], cell["rowId"], None


@callback(
    Output(f"{P}-chart", "figure"),
    Output(f"{P}-notes", "children"),
    Output(f"{P}-permalink", "href"),
    Output(f"{P}-method-text", "children"),
    Output(f"{P}-url", "search"),
    Output(f"{P}-board-link", "href"),
    *_inputs(),
    State(f"{P}-board", "data"),
)
def update_chart(area, measure, month, method_name, k, board):
    view = controls.view_from_inputs(area, measure, month, method_name, k)
    figure, notes = controls.trend_chart(DATASET, view, board_view=bool(board))
    here = view.query_string() + ("&present=1" if board else "")
    toggle = view.query_string() + ("" if board else "&present=1")
    return (figure, notes, here,
            method.explanation(view.method, view.k, state.config.min_significant), here, toggle)


@callback(
    Output(f"{P}-summary", "rowData"),
    Output(f"{P}-summary", "columnDefs"),
    Output(f"{P}-summary-caption", "children"),
    Input(f"{P}-month", "value"),
    Input(f"{P}-method", "value"),
    Input(f"{P}-k", "value"),
)
def update_summary(month, method_name, k):
    view = controls.view_from_inputs(None, None, month, method_name, k)
    table = series.summary_table(state.store(), DATASET, view.month, view.method, view.k, state.config.min_significant)
    wide = _summary_wide(table)
    columns = [{"field": "Crime group", "pinned": "left", "minWidth": 230}] + [
        {"field": area, "cellStyle": controls.STATUS_STYLE, "minWidth": 105, "filter": False, "headerTooltip": area} for area in wide.columns[1:]
    ]
    flagged = table[np.isin(table["status"], [limits.ABOVE, limits.BELOW])]
    significant = flagged[~flagged["low_volume"]]
    caption = (
        f"{view.month:%B %Y}, {view.method} limits at k = {view.k:g}. {len(significant)} significant exceptions "
        f"({(significant['status'] == limits.ABOVE).sum()} Above, {(significant['status'] == limits.BELOW).sum()} Below) "
        f"of {len(table)} cells; {len(flagged) - len(significant)} more flagged but under {state.config.min_significant} "
        "crimes, shown in brackets. Click a cell to open its chart."
    )
    no_limits = int((table["status"] == limits.NO_LIMITS).sum())
    if no_limits:
        caption += (f" {no_limits} cells have no limits: the store holds no {view.month:%B} in the earlier years "
                    "needed (see the Data tab for missing months).")
    return wide.assign(id=wide["Crime group"]).to_dict("records"), components.column_defs(columns), caption


def _summary_wide(table: pd.DataFrame) -> pd.DataFrame:
    table = table.assign(cell=[controls.status_cell(s, lv) for s, lv in zip(table["status"], table["low_volume"])])
    wide = table.pivot(index="measure", columns="area", values="cell")
    wide = wide.reindex(index=series.measure_order(list(wide.index)), columns=geography.COUNTY_CSPS + [geography.COUNTY])
    return wide.rename_axis(None, axis=1).reset_index().rename(columns={"measure": "Crime group"})


@callback(
    Output(f"{P}-rolling", "rowData"),
    Output(f"{P}-rolling", "columnDefs"),
    Output(f"{P}-rolling-note", "children"),
    Output(f"{P}-rolling-card-title", "children"),
    Input(f"{P}-measure", "value"),
    Input(f"{P}-month", "value"),
)
def update_rolling(measure, month):
    table = series.rolling_12(state.store(), DATASET, measure, pd.Timestamp(f"{month}-01"))
    columns = [{"field": "Area", "minWidth": 170}] + [
        {"field": c, "valueFormatter": components.THOUSANDS, **components.NUMBER_COLUMN}
        for c in table.columns[1:3]
    ] + [
        {"field": "Numerical Change", **components.NUMBER_COLUMN,
         "valueFormatter": {"function": "params.value == null ? 'n/a' : d3.format(',')(params.value)"}},
        {"field": "% Change", **components.NUMBER_COLUMN,
         "valueFormatter": {"function": "params.value == null ? 'n/a' : d3.format('.1f')(params.value) + ' %'"}},
    ]
    note = table.attrs.get("note") or (
        "County Council Area is the sum of its eight CSPs; Force Area adds Derby City, records placed outside "
        "the force area and records with no known area, so every record is counted once."
    )
    return table.to_dict("records"), components.column_defs(columns), note, f"Rolling 12 months - {measure}"


@callback(
    Output(f"{P}-drill", "rowData"),
    Output(f"{P}-drill", "columnDefs"),
    Output(f"{P}-drill-caption", "children"),
    Input(f"{P}-area", "value"),
    Input(f"{P}-measure", "value"),
    Input(f"{P}-month", "value"),
    Input(f"{P}-method", "value"),
    Input(f"{P}-k", "value"),
)
def update_drilldown(area, measure, month, method_name, k):
    if area not in geography.CSPS:
        return [], [], f"Choose a CSP (not {area}) to see its neighbourhoods ranked by how far they are above expected."
    view = controls.view_from_inputs(area, measure, month, method_name, k)
    table = series.drilldown(state.store(), DATASET, area, measure, view.month, view.method, view.k, state.config.min_significant)
    shown = controls.drilldown_rows(table)
    caption = f"{area}, {measure}, {view.month:%B %Y}: ranked by count minus expected. Click a row for its chart."
    return shown.to_dict("records"), controls.drilldown_columns(shown), caption


@callback(
    Output(f"{P}-drill-chart", "figure"),
    Output(f"{P}-drill-chart", "style"),
    Input(f"{P}-neighbourhood", "data"),
    *_inputs(),
)
def update_drill_chart(neighbourhood, area, measure, month, method_name, k):
    if not neighbourhood or area not in geography.CSPS:
        return components.empty_figure(""), {"display": "none"}
    view = controls.view_from_inputs(area, measure, month, method_name, k, neighbourhood)
    try:
        table = series.series_table(
            state.store(), DATASET, area, measure, view.fy, view.method, view.k, state.config.min_significant,
            view.month, neighbourhood=neighbourhood,
        )
    except geography.UnknownArea:
        return components.empty_figure(""), {"display": "none"}
    return components.trend_figure(table, f"{neighbourhood} ({area}) - {measure}"), {"display": "block"}


# --------------------------------------------------------------------------- downloads


@callback(Output(f"{P}-chart-csv", "data"), Input(f"{P}-chart-csv-button", "n_clicks"), *[State(i.component_id, i.component_property) for i in _inputs()], prevent_initial_call=True)
def download_chart(_n, area, measure, month, method_name, k):
    view = controls.view_from_inputs(area, measure, month, method_name, k)
    table = series.series_table(state.store(), DATASET, view.area, view.measure, view.fy, view.method, view.k,
                                state.config.min_significant, view.month)
    table["month"] = table["month"].dt.strftime("%Y-%m")
    return components.csv_download(table[limits.COLUMNS], components.safe_filename(view.area, view.measure, str(view.fy)) + ".csv")


@callback(Output(f"{P}-summary-csv", "data"), Input(f"{P}-summary-csv-button", "n_clicks"), State(f"{P}-month", "value"),
          State(f"{P}-method", "value"), State(f"{P}-k", "value"), prevent_initial_call=True)
def download_summary(_n, month, method_name, k):
    view = controls.view_from_inputs(None, None, month, method_name, k)
    table = series.summary_table(state.store(), DATASET, view.month, view.method, view.k, state.config.min_significant)
    return components.csv_download(table, f"summary-{view.month:%Y-%m}-{view.method}-k{view.k:g}.csv")


@callback(Output(f"{P}-rolling-csv", "data"), Input(f"{P}-rolling-csv-button", "n_clicks"), State(f"{P}-measure", "value"),
          State(f"{P}-month", "value"), prevent_initial_call=True)
def download_rolling(_n, measure, month):
    table = series.rolling_12(state.store(), DATASET, measure, pd.Timestamp(f"{month}-01"))
    return components.csv_download(table, components.safe_filename("rolling-12", measure, month) + ".csv")


@callback(Output(f"{P}-drill-csv", "data"), Input(f"{P}-drill-csv-button", "n_clicks"), *[State(i.component_id, i.component_property) for i in _inputs()],
          prevent_initial_call=True)
def download_drill(_n, area, measure, month, method_name, k):
    if area not in geography.CSPS:
        return no_update
    view = controls.view_from_inputs(area, measure, month, method_name, k)
    table = series.drilldown(state.store(), DATASET, area, measure, view.month, view.method, view.k, state.config.min_significant)
    return components.csv_download(table, components.safe_filename("neighbourhoods", area, measure, month) + ".csv")
