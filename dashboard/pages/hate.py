"""Hate crime tab: incidents and crimes kept apart (a toggle), by monitored strand.

The trend uses the board's five-series chart and exception method; then the year-to-date
table with "Vol. Change" and "% Change" as printed in the packs, strand shares, positive
outcomes for crimes and the neighbourhood drill-down. Wherever a shown count is under ten
the page says "small numbers, interpret with care" (on the chart and on each table row).
"""
from __future__ import annotations

from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboard import components, controls, method, state
from queries import geography, hate, limits, series

DATASET = hate.DATASET
P = "hate"  # id prefix
DEFAULT_KIND = "crimes"
KIND_OPTIONS = [{"label": "Hate crimes", "value": "crimes"}, {"label": "Hate incidents", "value": "incidents"}]
STRAND_OPTIONS = [hate.ALL_STRANDS] + hate.STRANDS
CAUTION_STYLE = {"styleConditions": [
    {"condition": "params.value && params.value.length > 0", "style": {"color": "#8a5300", "fontStyle": "italic"}},
]}
SHARE_COLOURS = {"previous": "#b0b0b0", "current": "#1f3b73"}

dash.register_page(__name__, path="/hate", name="Hate crime", title="Hate crime - CSP Performance", order=3)


def _kind_and_strand(params: dict) -> tuple[str, str, list[str]]:
    warnings = []
    kind = params.get("kind") or DEFAULT_KIND
    if kind not in hate.KIND_PARAMS:
        warnings.append(f"Unknown kind '{str(kind)[:60]}'; showing hate crimes. Choose crimes or incidents.")
        kind = DEFAULT_KIND
    strand = params.get("strand") or hate.ALL_STRANDS
    if strand not in STRAND_OPTIONS:
        warnings.append(f"Unknown strand '{str(strand)[:60]}'; showing all strands. Choose from: {', '.join(STRAND_OPTIONS)}.")
        strand = hate.ALL_STRANDS
    return kind, strand, warnings


def _measure(kind: str, strand: str) -> str:
    return hate.measure_name(hate.KIND_PARAMS[kind], strand)


def layout(**params) -> html.Div:
    store = state.store()
    if not store.has(DATASET):
        return dbc.Alert("The store holds no hate crime data. Run `python app.py demo` or `python app.py import hate FILE`.",
                         color="danger")
    kind, strand, warnings = _kind_and_strand(params)
    # The measure comes from the toggle and strand (checked above), not from a `measure` parameter.
    view = controls.resolve(DATASET, {k: v for k, v in params.items() if k != "measure"})
    view.warnings[:0] = warnings
    return html.Div(
        [
            controls.warnings_block(view),
            _selector_bar(kind, strand, view),
            dcc.Store(id=f"{P}-neighbourhood", data=view.neighbourhood),
            dcc.Location(id=f"{P}-url", refresh=False),
            components.card(
                "Trend",
                [dcc.Graph(id=f"{P}-chart", config={"displaylogo": False}),
                 html.Div(id=f"{P}-chart-caution"), components.notes_block([], id=f"{P}-notes")],
                actions=[html.A("Link to this view", id=f"{P}-permalink", href="#", className="small me-2"),
                         components.download_button(f"{P}-chart-csv")],
            ),
            components.card(
                "Year to date",
                [components.grid(f"{P}-ytd"), html.P(id=f"{P}-ytd-note", className="small text-muted mt-1")],
                actions=[components.download_button(f"{P}-ytd-csv")], id=f"{P}-ytd-card",
            ),
            components.card(
                "Strand shares",
                dbc.Row([
                    dbc.Col(dcc.Graph(id=f"{P}-strand-chart", config={"displayModeBar": False}), lg=5),
                    dbc.Col([components.grid(f"{P}-strands"), html.P(id=f"{P}-strand-note", className="small text-muted mt-1")],
                            lg=7),
                ]),
                actions=[components.download_button(f"{P}-strands-csv")], id=f"{P}-strand-card",
            ),
            components.card(
                "Positive outcomes (hate crimes)",
                [components.grid(f"{P}-outcomes"), html.P(id=f"{P}-outcome-note", className="small text-muted mt-1")],
                actions=[components.download_button(f"{P}-outcomes-csv")], id=f"{P}-outcome-card",
            ),
            components.card(
                "Neighbourhoods",
                [html.P(id=f"{P}-drill-caption", className="small text-muted mb-1"),
                 components.grid(f"{P}-drill", height=430, getRowId="params.data.id"),
                 dcc.Graph(id=f"{P}-drill-chart", config={"displaylogo": False}, style={"display": "none"})],
                actions=[components.download_button(f"{P}-drill-csv")], id=f"{P}-drill-card",
            ),
            method.panel(f"{P}-method-text", view.method, view.k, state.config.min_significant),
        ]
    )


def _labelled(label: str, control, width: int) -> dbc.Col:
    return dbc.Col([dbc.Label(label, class_name="small fw-semibold mb-0"), control], md=width)


def _selector_bar(kind: str, strand: str, view: controls.ViewState) -> dbc.Card:
    """The toggle and strand on the first row; area, year, month, method and k as on every trend tab."""
    store = state.store()
    return dbc.Card(dbc.CardBody([
        dbc.Row(
            [
                _labelled("Show", dbc.RadioItems(options=KIND_OPTIONS, value=kind, id=f"{P}-kind", inline=True,
                                                 input_class_name="btn-check", label_class_name="btn btn-outline-primary",
                                                 label_checked_class_name="active"), 4),
                _labelled("Monitored strand", dcc.Dropdown(STRAND_OPTIONS, strand, id=f"{P}-strand", clearable=False), 3),
                _labelled("Area", dcc.Dropdown(geography.TOP_AREAS, view.area, id=f"{P}-area", clearable=False), 3),
            ],
            class_name="g-2 align-items-end mb-2",
        ),
        dbc.Row(
            [
                _labelled("Financial year", dcc.Dropdown(
                    [{"label": controls.fy_label(y), "value": y} for y in reversed(series.financial_years(store, DATASET))],
                    view.fy, id=f"{P}-fy", clearable=False), 3),
                _labelled("Up to and including", dcc.Dropdown(controls.month_options(DATASET, view.fy),
                                                             f"{view.month:%Y-%m}", id=f"{P}-month", clearable=False), 3),
                _labelled("Limit method", dbc.RadioItems(
                    options=[{"label": "Pooled", "value": "pooled"}, {"label": "Classic", "value": "classic"}],
                    value=view.method, id=f"{P}-method", inline=True), 2),
                _labelled("k", dbc.Input(type="number", min=0.5, max=controls.MAX_K, step=0.5, value=view.k,
                                         id=f"{P}-k", debounce=True), 1),
            ],
            class_name="g-2 align-items-end",
        ),
    ]), class_name="mb-3 shadow-sm")


def _inputs():
    return [Input(f"{P}-{name}", "value") for name in ("kind", "strand", "area", "month", "method", "k")]


def _states():
    return [State(f"{P}-{name}", "value") for name in ("kind", "strand", "area", "month", "method", "k")]


def _view(kind, strand, area, month, method_name, k, neighbourhood=None) -> tuple[str, controls.ViewState]:
    kind, strand, _ = _kind_and_strand({"kind": kind, "strand": strand})
    month = pd.Timestamp(f"{month}-01")
    view = controls.ViewState(area, _measure(kind, strand), limits.fy_of(month), month, method_name,
                              controls.checked_k(k), neighbourhood)
    return hate.KIND_PARAMS[kind], view


def _search(kind: str, strand: str, view: controls.ViewState) -> str:
    params = {"kind": kind, "strand": strand, "area": view.area, "fy": view.fy, "month": f"{view.month:%Y-%m}",
              "method": view.method, "k": f"{view.k:g}"}
    if view.neighbourhood:
        params["neighbourhood"] = view.neighbourhood
    return "?" + urlencode(params)


def caution_block(values, what: str) -> list:
    """The caution, with how many of the shown counts are under ten; [] when none are."""
    values = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").dropna()
    small = int((values < hate.CAUTION_BELOW).sum())
    if not small:
        return []
    return [dbc.Alert(
        ["Caution: ", html.Strong(hate.CAUTION_TEXT), f" ({small} of the {len(values)} {what} shown "
         f"{'is' if small == 1 else 'are'} under {hate.CAUTION_BELOW})."],
        color="warning", class_name="py-1 px-2 mb-1 small hate-caution",
    )]


# --------------------------------------------------------------------------- callbacks


controls.register_selector_callbacks(P, DATASET)


def _series(kind, strand, area, month, method_name, k, neighbourhood=None):
    record_kind, view = _view(kind, strand, area, month, method_name, k, neighbourhood)
    table = series.series_table(state.store(), DATASET, view.area, view.measure, view.fy, view.method, view.k,
                                state.config.min_significant, view.month, neighbourhood=neighbourhood)
    return record_kind, view, table


@callback(
    Output(f"{P}-chart", "figure"),
    Output(f"{P}-chart-caution", "children"),
    Output(f"{P}-notes", "children"),
    Output(f"{P}-permalink", "href"),
    Output(f"{P}-url", "search"),
    Output(f"{P}-method-text", "children"),
    *_inputs(),
)
def update_chart(kind, strand, area, month, method_name, k):
    try:
        record_kind, view, table = _series(kind, strand, area, month, method_name, k)
    except series.NoData:
        _, view = _view(kind, strand, area, month, method_name, k)
        search = _search(*_kind_and_strand({"kind": kind, "strand": strand})[:2], view)
        return (components.empty_figure(f"No {view.measure.lower()} are recorded in the store"), [], [], search,
                search, method.explanation(view.method, view.k, state.config.min_significant))
    figure = components.trend_figure(table, f"{view.area} - {view.measure}", count_label=hate.COUNT_LABEL[record_kind])
    shown = table.loc[table["month"] <= view.month, "count"].dropna()
    notes = components.series_notes(table, view.method, view.month)
    notes += components.mark_recording_changes(figure, state.store(), DATASET, table["month"])
    search = _search(kind, strand, view)
    return (figure, caution_block(shown, "months"), components.notes_block(notes).children, search, search,
            method.explanation(view.method, view.k, state.config.min_significant))


def _ytd(kind, strand, month) -> tuple[pd.DataFrame, str]:
    record_kind = hate.KIND_PARAMS[_kind_and_strand({"kind": kind})[0]]
    _, strand, _ = _kind_and_strand({"strand": strand})
    table = hate.ytd_table(state.store(), record_kind, pd.Timestamp(f"{month}-01"), strand)
    text = hate.format_ytd(table)
    text["Caution"] = hate.caution_column(table, list(table.columns[1:3]))
    return text, table.attrs.get("note", "")


@callback(
    Output(f"{P}-ytd", "rowData"),
    Output(f"{P}-ytd", "columnDefs"),
    Output(f"{P}-ytd-note", "children"),
    Output(f"{P}-ytd-card-title", "children"),
    Input(f"{P}-kind", "value"),
    Input(f"{P}-strand", "value"),
    Input(f"{P}-month", "value"),
)
def update_ytd(kind, strand, month):
    text, note = _ytd(kind, strand, month)
    kind, strand, _ = _kind_and_strand({"kind": kind, "strand": strand})
    # AG Grid reads a dot in a field name as a path ("Vol. Change" -> Vol -> " Change"), so the
    # grid gets plain keys and the board's exact headers as headerName.
    keys = {c: f"c{i}" for i, c in enumerate(text.columns)}
    columns = [{"field": keys["Area"], "headerName": "Area", "minWidth": 190, "pinned": "left"}] + [
        {"field": keys[c], "headerName": c, "type": "rightAligned", "minWidth": 110} for c in text.columns[1:5]
    ] + [{"field": keys["Caution"], "headerName": "Caution", "cellStyle": CAUTION_STYLE, "minWidth": 250}]
    return (text.rename(columns=keys).to_dict("records"), components.column_defs(columns), note,
            f"Year to date - {_measure(kind, strand)}")


@callback(
    Output(f"{P}-strand-chart", "figure"),
    Output(f"{P}-strands", "rowData"),
    Output(f"{P}-strands", "columnDefs"),
    Output(f"{P}-strand-note", "children"),
    Output(f"{P}-strand-card-title", "children"),
    Input(f"{P}-kind", "value"),
    Input(f"{P}-area", "value"),
    Input(f"{P}-month", "value"),
)
def update_strands(kind, area, month):
    kind, _, _ = _kind_and_strand({"kind": kind})
    record_kind = hate.KIND_PARAMS[kind]
    table = hate.strand_shares(state.store(), record_kind, pd.Timestamp(f"{month}-01"), area)
    fig = strand_figure(table, f"{area} - {hate.KIND_MEASURE[record_kind]} by strand, year to date")
    share_format = {"function": "params.value == null ? 'n/a' : d3.format('.1f')(params.value)"}
    columns = [{"field": "Strand", "minWidth": 160, "pinned": "left"}] + [
        {"field": c, "type": "rightAligned", "minWidth": 95, **({"valueFormatter": share_format} if "share" in c else {})}
        for c in table.columns[1:5]
    ] + [{"field": "Caution", "cellStyle": CAUTION_STYLE, "minWidth": 230}]
    note = "Each strand's share of all strands, April to the report month, this year and last."
    return (fig, table.replace({np.nan: None}).to_dict("records"), components.column_defs(columns), note,
            f"Strand shares - {hate.KIND_MEASURE[record_kind]}, {area}")


def strand_figure(table: pd.DataFrame, title: str) -> go.Figure:
    fig = go.Figure()
    for key, column in (("previous", table.columns[2]), ("current", table.columns[4])):
        fig.add_trace(go.Bar(
            y=table["Strand"], x=table[column], orientation="h", name=column.replace(" share (%)", " YTD"),
            marker_color=SHARE_COLOURS[key], text=[f"{v:.1f}%" if v == v else "" for v in table[column]],
            textposition="outside", hovertemplate="%{y}: %{x:.1f}%<extra></extra>",
        ))
    fig.update_layout(
        title=dict(text=title, x=0.01, font=dict(size=15)), font=components.FONT, barmode="group", height=420,
        plot_bgcolor="white", margin=dict(l=140, r=30, t=50, b=90),
        legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="center", x=0.5),
        xaxis=dict(title="Share (%)", range=[0, 100], gridcolor="#e5e5e5"), yaxis=dict(autorange="reversed"),
    )
    return fig


@callback(
    Output(f"{P}-outcomes", "rowData"),
    Output(f"{P}-outcomes", "columnDefs"),
    Output(f"{P}-outcome-note", "children"),
    Output(f"{P}-outcome-card-title", "children"),
    Input(f"{P}-strand", "value"),
    Input(f"{P}-month", "value"),
)
def update_outcomes(strand, month):
    _, strand, _ = _kind_and_strand({"strand": strand})
    table = hate.outcome_table(state.store(), pd.Timestamp(f"{month}-01"), strand)
    columns = [{"field": "Area", "minWidth": 180, "pinned": "left"}] + [
        {"field": c, "type": "rightAligned", "minWidth": 100,
         **({"valueFormatter": {"function": "params.value == null ? 'n/a' : d3.format('.1f')(params.value)"}}
            if "(%)" in c else {})}
        for c in table.columns[1:5]
    ] + [{"field": "Caution", "cellStyle": CAUTION_STYLE, "minWidth": 230}]
    title = "Positive outcomes - " + hate.measure_name(hate.CRIME, strand)
    return table.replace({np.nan: None}).to_dict("records"), components.column_defs(columns), table.attrs["note"], title


@callback(
    Output(f"{P}-drill", "rowData"),
    Output(f"{P}-drill", "columnDefs"),
    Output(f"{P}-drill-caption", "children"),
    Output(f"{P}-drill", "style"),
    *_inputs(),
)
def update_drilldown(kind, strand, area, month, method_name, k):
    if area not in geography.CSPS:
        return ([], [], f"Choose a CSP (not {area}) to see its neighbourhoods ranked by how far they are above expected.",
                {"display": "none"})
    _, view = _view(kind, strand, area, month, method_name, k)
    if view.measure not in series.measures(state.store(), DATASET):
        return [], [], f"No {view.measure.lower()} are recorded in the store.", {"display": "none"}
    table = _drill_table(view)
    columns = [{"field": c, **({"cellStyle": CAUTION_STYLE, "minWidth": 230} if c == "Caution" else {})}
               for c in table.columns if c != "id"]
    columns[0].update(minWidth=200, pinned="left")
    caption = (f"{area}, {view.measure}, {view.month:%B %Y}: ranked by count minus expected. Click a row for its "
               "chart.")
    return table.to_dict("records"), components.column_defs(columns), caption, {"height": "430px"}


def _drill_table(view: controls.ViewState) -> pd.DataFrame:
    table = series.drilldown(state.store(), DATASET, view.area, view.measure, view.month, view.method, view.k,
                             state.config.min_significant)
    shown = controls.drilldown_rows(table)
    shown["Caution"] = [hate.CAUTION_TEXT if c == c and c < hate.CAUTION_BELOW else "" for c in shown["Count"]]
    return shown.replace({np.nan: None})


@callback(
    Output(f"{P}-drill-chart", "figure"),
    Output(f"{P}-drill-chart", "style"),
    Input(f"{P}-neighbourhood", "data"),
    *_inputs(),
)
def update_drill_chart(neighbourhood, kind, strand, area, month, method_name, k):
    if not neighbourhood or area not in geography.CSPS:
        return components.empty_figure(""), {"display": "none"}
    try:
        record_kind, view, table = _series(kind, strand, area, month, method_name, k, neighbourhood)
    except (geography.UnknownArea, series.NoData):
        return components.empty_figure(""), {"display": "none"}
    figure = components.trend_figure(table, f"{neighbourhood} ({area}) - {view.measure}",
                                     count_label=hate.COUNT_LABEL[record_kind])
    return figure, {"display": "block"}


# --------------------------------------------------------------------------- downloads


@callback(Output(f"{P}-chart-csv", "data"), Input(f"{P}-chart-csv-button", "n_clicks"), *_states(), prevent_initial_call=True)
def download_chart(_n, kind, strand, area, month, method_name, k):
    try:
        _, view, table = _series(kind, strand, area, month, method_name, k)
    except series.NoData:
        return no_update
    table["month"] = table["month"].dt.strftime("%Y-%m")
    out = table[limits.COLUMNS].copy()
    out["caution"] = [hate.CAUTION_TEXT if c == c and c < hate.CAUTION_BELOW else "" for c in out["count"]]
    return components.csv_download(out, components.safe_filename(view.area, view.measure, str(view.fy)) + ".csv")


@callback(Output(f"{P}-ytd-csv", "data"), Input(f"{P}-ytd-csv-button", "n_clicks"), State(f"{P}-kind", "value"),
          State(f"{P}-strand", "value"), State(f"{P}-month", "value"), prevent_initial_call=True)
def download_ytd(_n, kind, strand, month):
    text, _ = _ytd(kind, strand, month)
    kind, strand, _ = _kind_and_strand({"kind": kind, "strand": strand})
    return dcc.send_data_frame(text.to_csv, components.safe_filename("ytd", _measure(kind, strand), month) + ".csv",
                               index=False)


@callback(Output(f"{P}-strands-csv", "data"), Input(f"{P}-strands-csv-button", "n_clicks"), State(f"{P}-kind", "value"),
          State(f"{P}-area", "value"), State(f"{P}-month", "value"), prevent_initial_call=True)
def download_strands(_n, kind, area, month):
    kind, _, _ = _kind_and_strand({"kind": kind})
    table = hate.strand_shares(state.store(), hate.KIND_PARAMS[kind], pd.Timestamp(f"{month}-01"), area)
    return dcc.send_data_frame(table.to_csv, components.safe_filename("strands", kind, area, month) + ".csv", index=False)


@callback(Output(f"{P}-outcomes-csv", "data"), Input(f"{P}-outcomes-csv-button", "n_clicks"),
          State(f"{P}-strand", "value"), State(f"{P}-month", "value"), prevent_initial_call=True)
def download_outcomes(_n, strand, month):
    _, strand, _ = _kind_and_strand({"strand": strand})
    table = hate.outcome_table(state.store(), pd.Timestamp(f"{month}-01"), strand)
    return dcc.send_data_frame(table.to_csv, components.safe_filename("positive-outcomes", strand, month) + ".csv",
                               index=False)


@callback(Output(f"{P}-drill-csv", "data"), Input(f"{P}-drill-csv-button", "n_clicks"), *_states(), prevent_initial_call=True)
def download_drill(_n, kind, strand, area, month, method_name, k):
    if area not in geography.CSPS:
        return no_update
    _, view = _view(kind, strand, area, month, method_name, k)
    if view.measure not in series.measures(state.store(), DATASET):
        return no_update
    table = _drill_table(view).drop(columns="id")
    return components.csv_download(table, components.safe_filename("neighbourhoods", area, view.measure, month) + ".csv")
