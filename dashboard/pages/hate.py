"""Hate crime tab: incidents and crimes kept apart (a toggle), by monitored strand.

The trend uses the board's five-series chart and exception method; then the year-to-date
table with "Vol. Change" and "% Change" as printed in the packs, strand shares, positive
outcomes for crimes and the neighbourhood drill-down. Wherever a shown count is under ten
the page says "small numbers, interpret with care" (on the chart and on each table row).
"""
from __future__ import annotations

import logging

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html

from dashboard import auth, components, controls, downloads, state, trend_tab, versioned
from dashboard.safe import page_layout
from queries import geography, hate, hate_ledger, hate_release, params, roles
from queries.export import describe_view
from queries.formats import FORMATS
from queries.statedb import StateError

DATASET = hate.DATASET
P = "hate"  # id prefix
DEFAULT_KIND = "crimes"
KIND_OPTIONS = [{"label": "Hate crimes", "value": "crimes"}, {"label": "Hate incidents", "value": "incidents"}]
STRAND_OPTIONS = hate.STRAND_CHOICES
CAUTION_STYLE = controls.CAUTION_STYLE
SHARE_COLOURS = {"previous": "#b0b0b0", "current": "#1f3b73"}

def _kind_and_strand(raw: dict) -> tuple[str, str, list[str]]:
    """Kind and strand from URL parameters or control values; bad ones fall back with a warning."""
    warnings: list[str] = []
    kind, strand = DEFAULT_KIND, hate.ALL_STRANDS
    if raw.get("kind") not in (None, ""):
        try:
            kind = params.check("kind", raw.get("kind"))
        except params.ParamError as exc:
            warnings.append(f"{params.sentence(exc)}; showing hate crimes.")
    if raw.get("strand") not in (None, ""):
        try:
            strand = params.check("strand", raw.get("strand"))
        except params.ParamError as exc:
            warnings.append(f"{params.sentence(exc)}; showing all strands.")
    return kind, strand, warnings


def _measure(kind: str, strand: str) -> str:
    return hate.measure_name(hate.KIND_PARAMS[kind], strand)


def _prepare(raw: dict) -> tuple[dict, list[str]]:
    """The measure comes from the toggle and strand, not from a `measure` parameter."""
    kind, strand, warnings = _kind_and_strand(raw)
    return {**raw, "measure": _measure(kind, strand)}, warnings


def _extra(raw: dict, view: params.View) -> tuple[dict, list[str]]:
    kind, strand, _ = _kind_and_strand(raw)
    return {"kind": kind, "strand": strand}, []


def _controls(view: params.View, extra: dict) -> list:
    return [
        trend_tab.labelled("Show", dbc.RadioItems(options=KIND_OPTIONS, value=extra["kind"], id=f"{P}-kind", inline=True,
                                                   input_class_name="btn-check", label_class_name="btn btn-outline-primary",
                                                   label_checked_class_name="active"), 4),
        trend_tab.labelled("Monitored strand", components.select(f"{P}-strand", STRAND_OPTIONS, extra["strand"]), 3,
                           f"{P}-strand"),
    ]


def _cards(view: params.View, extra: dict) -> list:
    return [
        components.card(
            "Year to date",
            [components.grid(f"{P}-ytd"), html.P(id=f"{P}-ytd-note", className="small text-muted mt-1")],
            actions=[downloads.menu(f"{P}-ytd", "the year-to-date table")], id=f"{P}-ytd-card",
        ),
        components.card(
            "Strand shares",
            dbc.Row([
                dbc.Col(dcc.Graph(id=f"{P}-strand-chart", config={"displayModeBar": False}), lg=5),
                dbc.Col([components.grid(f"{P}-strands"), html.P(id=f"{P}-strand-note", className="small text-muted mt-1")],
                        lg=7),
            ]),
            actions=[downloads.menu(f"{P}-strands", "the strand shares")], id=f"{P}-strand-card",
        ),
        components.card(
            "Positive outcomes (hate crimes)",
            [components.grid(f"{P}-outcomes"), html.P(id=f"{P}-outcome-note", className="small text-muted mt-1")],
            actions=[downloads.menu(f"{P}-outcomes", "the positive outcomes table")], id=f"{P}-outcome-card",
        ),
    ]


def _measure_controls(measure: str) -> dict | None:
    """The kind and strand that show a measure (the board view's walk through Current Issues);
    None for one this tab's toggles cannot show (an outcome measure)."""
    for kind in hate.KIND_PARAMS:
        for strand in STRAND_OPTIONS:
            if _measure(kind, strand) == measure:
                return {"kind": kind, "strand": strand}
    return None


def _count_label(measure: str) -> str:
    return hate.COUNT_LABEL[hate.INCIDENT if measure.startswith(hate.KIND_MEASURE[hate.INCIDENT]) else hate.CRIME]


SPEC = trend_tab.register(trend_tab.TrendSpec(
    dataset=DATASET, measure_label="Measure", show_measure=False, measure_may_be_absent=True,
    extra_params=("kind", "strand"), prepare=_prepare, extra=_extra, controls=_controls, cards=_cards,
    caution_below=hate.CAUTION_BELOW, caution_text=hate.CAUTION_TEXT, count_label=_count_label,
    measure_controls=_measure_controls,
))

dash.register_page(__name__, path="/hate", name="Hate crime", title="Hate crime - CSP Performance", order=3,
                   dataset=DATASET)


@page_layout
def layout(**raw) -> html.Div:
    if auth.page_release(DATASET) == roles.HATE_PUBLIC:
        return public_layout(raw)
    return trend_tab.layout(SPEC, raw)


# --------------------------------------------------------------------------- the public release
# The public role gets this instead of the trend tab: monthly counts by district and above from
# queries/hate_release.py, "<5" where hidden. Its ids start "hatepublic-", a pseudo-dataset of its
# own in the roles table, so the server lets the public reach these callbacks and none of the
# board's ("hate-...", 403). No neighbourhoods, no limit lines, no year-to-date, no exports.

Q = roles.HATE_PUBLIC  # id prefix
HIDDEN_COLOUR, SHOWN_COLOUR = "#c8c8c8", "#1f3b73"
# A month's bar width in milliseconds (plotly's date axis): set, because plotly otherwise sizes
# a trace's bars by the gap between its own points, and shown months can be years apart.
BAR_WIDTH_MS = 25 * 24 * 60 * 60 * 1000


def _public_areas() -> list[str]:
    """The public release's areas for the store's force, from its geography."""
    return hate_release.public_areas(geography.areas(state.store().data_dir))


def _public_choice(raw: dict) -> tuple[str, str, str]:
    """kind ("crimes"/"incidents"), strand and area from URL or controls; anything else falls back."""
    kind, strand, _ = _kind_and_strand({"kind": raw.get("kind"), "strand": raw.get("strand")})
    area = raw.get("area")
    return kind, strand, area if isinstance(area, str) and area in _public_areas() else geography.FORCE


def public_layout(raw: dict) -> html.Div:
    kind, strand, area = _public_choice(raw if isinstance(raw, dict) else {})
    threshold = state.config.suppress_below
    return html.Div([
        *versioned.parts(Q),  # the version this view is drawn from, and "Newer data available"
        dbc.Alert([html.Strong("Public release. "),
                   f"Hate crimes and incidents by month for each Community Safety Partnership and above. Counts under "
                   f"{threshold} are shown as \"{hate_release.suppressed_label(threshold)}\", and a few larger ones "
                   "too, so that no small count can be worked out from the totals."],
                  color="info", class_name="py-2 small", id=f"{Q}-note"),
        dbc.Card(dbc.CardBody(dbc.Row([
            trend_tab.labelled("Show", dbc.RadioItems(options=KIND_OPTIONS, value=kind, id=f"{Q}-kind", inline=True), 4),
            trend_tab.labelled("Monitored strand", dcc.Dropdown(STRAND_OPTIONS, strand, id=f"{Q}-strand",
                                                                 clearable=False), 4, f"{Q}-strand"),
            trend_tab.labelled("Area", dcc.Dropdown(_public_areas(), area, id=f"{Q}-area", clearable=False),
                               4, f"{Q}-area"),
        ], class_name="g-2 align-items-end")), class_name="mb-3 shadow-sm"),
        components.card("Trend", [dcc.Graph(id=f"{Q}-chart", config={"displaylogo": False})], id=f"{Q}-chart-card"),
        components.card("Counts by month", [components.grid(f"{Q}-table")], id=f"{Q}-table-card"),
    ])


versioned.register(Q)

log = logging.getLogger("csp.hate")
WITHHELD = ("The public release of hate crime is withheld until its disclosure check passes; "
            "the server's log says why.")


def public_series(kind: str, strand: str, area: str) -> pd.DataFrame:
    """month, shown (NaN where hidden) and label ("<5" where hidden) from the public release only."""
    # Through the ledger: what the public saw before is never contradicted by what it sees now.
    rel = hate_release.release(state.store(), state.config.suppress_below, state_dir=state.config.state_dir)
    frame = rel.shown(hate.KIND_PARAMS[kind], strand, area)
    return frame.assign(label=[rel.label_of(v) for v in frame["shown"]])


def public_figure(frame: pd.DataFrame, title: str, threshold: int) -> go.Figure:
    """Shown months as bars with their counts; hidden months as a grey bar to the threshold labelled "<5"."""
    hidden = frame["shown"].isna()
    months = [f"{m:%Y-%m-%d}" for m in pd.to_datetime(frame["month"])]
    # Plain lists, not arrays (plotly would send them base64-packed): what is sent is what is read.
    fig = go.Figure()
    fig.add_trace(go.Bar(x=[m for m, h in zip(months, hidden) if not h],
                         y=[int(v) for v in frame.loc[~hidden, "shown"]], name="Count", width=BAR_WIDTH_MS,
                         marker_color=SHOWN_COLOUR, hovertemplate="%{x|%B %Y}: %{y}<extra></extra>"))
    fig.add_trace(go.Bar(x=[m for m, h in zip(months, hidden) if h], y=[threshold] * int(hidden.sum()), width=BAR_WIDTH_MS,
                         name=f"Hidden ({hate_release.suppressed_label(threshold)})", marker_color=HIDDEN_COLOUR,
                         text=frame.loc[hidden, "label"].tolist(), textposition="outside",
                         hovertemplate="%{x|%B %Y}: %{text}<extra></extra>"))
    fig.update_layout(title=dict(text=title, x=0.01, font=dict(size=15)), font=components.FONT, height=420,
                      plot_bgcolor="white", margin=dict(l=50, r=20, t=50, b=60), barmode="overlay",
                      legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="center", x=0.5),
                      yaxis=dict(title="Count", gridcolor="#e5e5e5", rangemode="tozero"))
    return fig


@versioned.callback(Q,
    Output(f"{Q}-chart", "figure"),
    Output(f"{Q}-table", "rowData"),
    Output(f"{Q}-table", "columnDefs"),
    Output(f"{Q}-chart-card-title", "children"),
    Input(f"{Q}-kind", "value"),
    Input(f"{Q}-strand", "value"),
    Input(f"{Q}-area", "value"),
)
def update_public(kind, strand, area):
    kind, strand, area = _public_choice({"kind": kind, "strand": strand, "area": area})
    title = f"{area} - {_measure(kind, strand)} (public release)"
    try:
        frame = public_series(kind, strand, area)
    except (hate_ledger.DisclosureError, StateError) as exc:
        # Withheld, said plainly: never served unaudited or unrecorded. The reason names cells and
        # ranges, so it goes to the server's log, not to the public page.
        log.warning("public hate release withheld: %s", exc)
        return components.empty_figure(WITHHELD), [], [], f"{title}: withheld"
    rows = [{"Month": f"{m:%B %Y}", "Count": label} for m, label in zip(pd.to_datetime(frame["month"]), frame["label"])]
    columns = components.column_defs([{"field": "Month", "minWidth": 160},
                                      {"field": "Count", "type": "rightAligned", "minWidth": 100}])
    return public_figure(frame, title, state.config.suppress_below), rows[::-1], columns, title


def _loose(name: str, raw):
    """One parameter from a control (the default when it holds nonsense), without resolving a whole view."""
    return params.loose(name, raw, params.Context(state.store(), DATASET, state.config), [])


def _month(month) -> pd.Timestamp:
    """The report month from the month box, or the latest held when the box holds nonsense."""
    return _loose("month", month)


def _area(area) -> str:
    return _loose("area", area)


def _ytd(kind, strand, month) -> tuple[pd.DataFrame, str]:
    record_kind = hate.KIND_PARAMS[_kind_and_strand({"kind": kind})[0]]
    _, strand, _ = _kind_and_strand({"strand": strand})
    table = hate.ytd_table(state.store(), record_kind, _month(month), strand)
    text = hate.format_ytd(table)
    text["Caution"] = hate.caution_column(table, list(table.columns[1:3]))
    return text, table.attrs.get("note", "")


@versioned.callback(P,
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


@versioned.callback(P,
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
    area = _area(area)
    kind, _, _ = _kind_and_strand({"kind": kind})
    record_kind = hate.KIND_PARAMS[kind]
    table = hate.strand_shares(state.store(), record_kind, _month(month), area)
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


@versioned.callback(P,
    Output(f"{P}-outcomes", "rowData"),
    Output(f"{P}-outcomes", "columnDefs"),
    Output(f"{P}-outcome-note", "children"),
    Output(f"{P}-outcome-card-title", "children"),
    Input(f"{P}-strand", "value"),
    Input(f"{P}-month", "value"),
)
def update_outcomes(strand, month):
    _, strand, _ = _kind_and_strand({"strand": strand})
    table = hate.outcome_table(state.store(), _month(month), strand)
    columns = [{"field": "Area", "minWidth": 180, "pinned": "left"}] + [
        {"field": c, "type": "rightAligned", "minWidth": 100,
         **({"valueFormatter": {"function": "params.value == null ? 'n/a' : d3.format('.1f')(params.value)"}}
            if "(%)" in c else {})}
        for c in table.columns[1:5]
    ] + [{"field": "Caution", "cellStyle": CAUTION_STYLE, "minWidth": 230}]
    title = "Positive outcomes - " + hate.measure_name(hate.CRIME, strand)
    return table.replace({np.nan: None}).to_dict("records"), components.column_defs(columns), table.attrs["note"], title


# --------------------------------------------------------------------------- downloads


def _about(title: str, href, **filters) -> dict:
    """The About sheet for one of the page's tables: its choices and the store's provenance."""
    return describe_view(state.store(), [DATASET], title=title, view_url=href,
                         filters={name.capitalize(): value for name, value in filters.items()},
                         suppression=f"none; counts under {hate.CAUTION_BELOW} carry a caution")


def _grid_states(grid: str) -> list[State]:
    return [State(grid, "filterModel"), State(grid, "columnState")]


@versioned.callback(P, *downloads.outputs(f"{P}-ytd"), *downloads.inputs(f"{P}-ytd"), *_grid_states(f"{P}-ytd"),
          State(f"{P}-kind", "value"), State(f"{P}-strand", "value"), State(f"{P}-month", "value"),
          State(f"{P}-url", "href"), prevent_initial_call=True)
def download_ytd(*args):
    """The year-to-date table as shown; its grid's fields are plain keys, the file gets the board's headings."""
    filter_model, column_state, kind, strand, month, href = args[len(FORMATS):]
    month = params.month_key(_month(month))
    text, _ = _ytd(kind, strand, month)
    kind, strand, _ = _kind_and_strand({"kind": kind, "strand": strand})
    keys = {c: f"c{i}" for i, c in enumerate(text.columns)}
    measure = _measure(kind, strand)
    return downloads.grid_download(text.rename(columns=keys), filter_model, column_state, downloads.clicked_format(),
                                   _about(f"Year to date - {measure}", href, measure=measure, month=month),
                                   ["hate-ytd", measure, month], headers={v: k for k, v in keys.items()})


@versioned.callback(P, *downloads.outputs(f"{P}-strands"), *downloads.inputs(f"{P}-strands"), *_grid_states(f"{P}-strands"),
          State(f"{P}-kind", "value"), State(f"{P}-area", "value"), State(f"{P}-month", "value"),
          State(f"{P}-url", "href"), prevent_initial_call=True)
def download_strands(*args):
    filter_model, column_state, kind, area, month, href = args[len(FORMATS):]
    area, month = _area(area), params.month_key(_month(month))
    kind, _, _ = _kind_and_strand({"kind": kind})
    table = hate.strand_shares(state.store(), hate.KIND_PARAMS[kind], _month(month), area)
    return downloads.grid_download(table, filter_model, column_state, downloads.clicked_format(),
                                   _about(f"Strand shares - {area}", href, kind=kind, area=area, month=month),
                                   ["hate-strands", kind, area, month])


@versioned.callback(P, *downloads.outputs(f"{P}-outcomes"), *downloads.inputs(f"{P}-outcomes"), *_grid_states(f"{P}-outcomes"),
          State(f"{P}-strand", "value"), State(f"{P}-month", "value"), State(f"{P}-url", "href"),
          prevent_initial_call=True)
def download_outcomes(*args):
    filter_model, column_state, strand, month, href = args[len(FORMATS):]
    month = params.month_key(_month(month))
    _, strand, _ = _kind_and_strand({"strand": strand})
    table = hate.outcome_table(state.store(), _month(month), strand)
    title = "Positive outcomes - " + hate.measure_name(hate.CRIME, strand)
    return downloads.grid_download(table, filter_model, column_state, downloads.clicked_format(),
                                   _about(title, href, strand=strand, month=month),
                                   ["hate-positive-outcomes", strand, month])
