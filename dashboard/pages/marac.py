"""MARAC tab: cases discussed, repeat rate against the 27% target, City/County split,
referrals by agency and the rate per 10,000 adult females against SafeLives' 40.

MARAC discusses victims at the highest risk, so this page only ever receives figures from
`queries.marac.release`, which has already suppressed every count under 5 and hidden
enough other cells that none can be worked out by subtraction. Tables, chart values, hover
labels and CSV exports are all drawn from that one protected release; rejected (quarantined)
rows and case-level records are never read here.

The board view (`present=1`) draws one of the page's two charts (cases discussed, or the
repeat rate against its target) large for a projector, from the same release, with the trend
tabs' board frame, stamp and minute's version check (dashboard/board.py).
"""
from __future__ import annotations

from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html

from dashboard import board, components, controls, downloads, state, versioned
from dashboard.safe import callback, page_layout
from dashboard.trend_tab import labelled
from queries import annotations, geography, marac, marac_ledger, series
from queries.export import describe_view
from queries.formats import FORMATS
from queries.statedb import StateError

DATASET = marac.DATASET
P = "marac"  # id prefix
DEFAULT_AREA = geography.FORCE
DEFAULT_PERIOD = marac.QUARTER

dash.register_page(__name__, path="/marac", name="MARAC", title="MARAC - CSP Performance", order=2)

# The suppression marker passes through; numbers get thousands separators / one decimal.
COUNT_FORMAT = {"function": f"params.value == null ? '' : (params.value === '{marac.SUPPRESSED}' ? params.value : d3.format(',')(params.value))"}
PCT_FORMAT = {"function": f"params.value == null ? '' : (params.value === '{marac.SUPPRESSED}' ? params.value : d3.format('.1f')(params.value))"}
TEXT_COLUMNS = {"Period", "Year", "Area", "Referring agency", "Note"}
SUPPRESSED_STYLE = {"styleConditions": [
    {"condition": f"params.value === '{marac.SUPPRESSED}'", "style": {"color": "#777", "textAlign": "center"}},
]}
CASES_COLOUR = "#1f3b73"
RATE_COLOUR = "#7a3b8f"
TARGET_COLOUR = "#c0392b"
FORCE_COLOUR = "#1f3b73"
# The force's parts take these in selector order (Derbyshire: County Council Area blue, Derby City orange).
PART_COLOURS = ["#2e86c1", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#7f8c8d"]


def _areas() -> list[str]:
    """The MARAC areas of the store's force, from its geography."""
    return marac.marac_areas(series.force_areas(state.store()))


def _colour(area: str, areas: list[str]) -> str:
    """The force dark blue; each part its own colour, by its place in the selector."""
    if area == geography.FORCE:
        return FORCE_COLOUR
    parts = [a for a in areas if a != geography.FORCE]
    return PART_COLOURS[parts.index(area) % len(PART_COLOURS)] if area in parts else PART_COLOURS[-1]
FONT = components.FONT
PARTIAL_COLOUR = "#9fb0d3"
# Plotly draws each value across its whole period (bars span the quarter, points sit in its
# middle), so a recording change marked at a period's first day falls on the boundary.
X_PERIOD = {
    marac.MONTH: dict(xperiod="M1", xperiod0="2000-01-01"),
    marac.QUARTER: dict(xperiod="M3", xperiod0="2000-01-01"),
    marac.CALENDAR: dict(xperiod="M12", xperiod0="2000-01-01"),
    marac.FINANCIAL: dict(xperiod="M12", xperiod0="2000-04-01"),
}


def _suppression_note(threshold: int) -> str:
    return (
        f"MARAC discusses victims at the highest risk of domestic abuse, so this page shows aggregates only. "
        f"Counts under {threshold} are suppressed and shown as {marac.SUPPRESSED}; where a small count could be "
        f"worked out by subtracting shown figures from a shown total, another figure is hidden too (also "
        f"{marac.SUPPRESSED}). Rates are shown only where both of their figures are. Downloads are suppressed "
        "the same way."
    )


def _resolve(params: dict) -> tuple[str, str, list[str]]:
    """Area and period from the URL; odd values fall back to defaults with a warning."""
    warnings = []
    area = params.get("area") or DEFAULT_AREA
    if not isinstance(area, str) or area not in _areas():
        warnings.append(f"Unknown area '{str(area)[:60]}' in the link; showing {DEFAULT_AREA}. MARAC is reported for: "
                        f"{', '.join(_areas())}.")
        area = DEFAULT_AREA
    period = params.get("period") or DEFAULT_PERIOD
    if not isinstance(period, str) or period not in marac.PERIOD_TYPES:
        warnings.append(f"Unknown period '{str(period)[:60]}'; showing quarters. Choose from: {', '.join(marac.PERIOD_TYPES)}.")
        period = DEFAULT_PERIOD
    return area, period, warnings


@page_layout
def layout(**params) -> html.Div:
    store = state.store()
    if not store.has(DATASET):
        return dbc.Alert("The store holds no MARAC data. Run `python app.py demo` or `python app.py import marac FILE`.",
                         color="danger")
    area, period, warnings = _resolve(params)
    threshold = state.config.suppress_below
    try:
        _release()
    except (marac.RevisionError, marac_ledger.DisclosureError, StateError) as exc:
        return dbc.Alert(f"MARAC figures are withheld: {exc}", color="danger", id=f"{P}-withheld")
    if params.get("present") == "1":
        measure, more = _board_measure(params.get("measure"))
        return _board_layout(area, period, measure, warnings + more)
    return html.Div(
        [
            # The version every card of this page reads, and "Newer data available" (the board
            # view's check, with the board flag off).
            dcc.Store(id=BOARD.id("board"), data=False),
            *board.version_parts(BOARD),
            html.Div([dbc.Alert(w, color="warning", class_name="py-1 px-2 mb-1 small", dismissable=True) for w in warnings],
                     id=f"{P}-warnings"),
            dbc.Alert([html.Strong("Aggregates only. "), _suppression_note(threshold)], color="secondary",
                      class_name="py-2 small", id=f"{P}-privacy-note"),
            dcc.Location(id=f"{P}-url", refresh=False),
            dbc.Card(dbc.CardBody(dbc.Row(
                [
                    dbc.Col([dbc.Label("Area", class_name="small fw-semibold mb-0", html_for=f"{P}-area"),
                             components.select(f"{P}-area", _areas(), area)], md=3),
                    dbc.Col([dbc.Label("Period", class_name="small fw-semibold mb-0"),
                             dbc.RadioItems(options=[{"label": v, "value": k} for k, v in marac.PERIOD_TYPES.items()],
                                            value=period, id=f"{P}-period", inline=True)], md=6),
                    dbc.Col([html.A("Link to this view", id=f"{P}-permalink", href="#", className="small me-2"),
                             html.A("Board view", id=f"{P}-board-open", href="#", className="small",
                                    title="One chart, large, for a projector")], md=3, class_name="text-md-end"),
                ],
                class_name="g-2 align-items-end",
            )), class_name="mb-3 shadow-sm"),
            dbc.Row(
                [
                    dbc.Col(components.card(
                        "Cases discussed",
                        [dcc.Graph(id=f"{P}-cases-chart", config={"displaylogo": False}),
                         components.notes_block([], id=f"{P}-cases-notes")],
                        actions=[downloads.menu(f"{P}-cases", "the cases figures")], id=f"{P}-cases-card"), lg=6),
                    dbc.Col(components.card(
                        "Repeat rate",
                        [dcc.Graph(id=f"{P}-repeat-chart", config={"displaylogo": False}),
                         components.notes_block([], id=f"{P}-repeat-notes")],
                        actions=[downloads.menu(f"{P}-repeat", "the repeat-rate figures")], id=f"{P}-repeat-card"), lg=6),
                ]
            ),
            components.card(
                "Cases by period",
                [_grid(f"{P}-periods", height=420)],
                actions=[downloads.menu(f"{P}-periods", "the cases by period")], id=f"{P}-periods-card",
            ),
            dbc.Row(
                [
                    dbc.Col(components.card(
                        "City/County split",
                        [_grid(f"{P}-split", height=380),
                         html.P(id=f"{P}-split-note", className="small text-muted mt-1")],
                        actions=[downloads.menu(f"{P}-split", "the City/County split")], id=f"{P}-split-card"), lg=6),
                    dbc.Col(components.card(
                        "Referrals by agency",
                        [_grid(f"{P}-agency"),
                         html.P(id=f"{P}-agency-note", className="small text-muted mt-1")],
                        actions=[downloads.menu(f"{P}-agency", "the referrals by agency")], id=f"{P}-agency-card"), lg=6),
                ]
            ),
            components.card(
                "Cases per 10,000 adult females a year, against the SafeLives benchmark of 40",
                [dcc.Graph(id=f"{P}-rate-chart", config={"displaylogo": False}),
                 _grid(f"{P}-rate", height=330),
                 html.P(id=f"{P}-rate-note", className="small text-muted mt-1")],
                actions=[downloads.menu(f"{P}-rate", "the rates per 10,000")], id=f"{P}-rate-card",
            ),
            dbc.Accordion(
                [dbc.AccordionItem(_method(threshold), title="How MARAC figures are worked out")],
                start_collapsed=True, class_name="mb-3",
            ),
        ]
    )


def _grid(id: str, height: int | None = None):
    """A grid that renders every row and column (at most ~80 rows): what is checked is what is seen,
    and a browser test can read every cell for a count under the threshold."""
    return components.grid(id, height=height, grid_options={"suppressRowVirtualisation": True,
                                                           "suppressColumnVirtualisation": True})


def _method(threshold: int) -> list:
    return [
        html.P([html.Strong("Cases discussed"), " counts every referral (case) heard at a MARAC in the period."]),
        html.P([
            html.Strong("Repeat cases"), f" (SafeLives): a case referred again within {marac.REPEAT_WINDOW_MONTHS} "
            "months of the same victim's most recent previous referral, counted inclusively (referred on 15 March "
            "2024, a referral on 15 March 2025 is a repeat; on 16 March 2025 it is not). Repeats are worked out from "
            "each victim's referral history in the store, never read from a flag in the file, so in the first "
            f"{marac.REPEAT_WINDOW_MONTHS} months of data they are undercounted (the tables say so). ",
            html.Strong("Repeat rate"), f" = repeat cases / cases. The local target is {marac.REPEAT_TARGET_PCT:g}%; "
            f"SafeLives puts the average for a mature MARAC at {marac.MATURE_MARAC_REPEAT_PCT:g}%.",
        ]),
        html.P([
            html.Strong("Rate per 10,000 adult females"), " = cases in a year / adult females (18+) x 10,000, "
            f"against SafeLives' benchmark of {marac.SAFELIVES_BENCHMARK:g}. Only complete financial years are shown. Population "
            f"figures come from data/{marac.POPULATION_FILE}: approximate, and editable.",
        ]),
        html.P([
            html.Strong("Suppression. "), f"Every figure the page can show is protected together: counts under "
            f"{threshold} are hidden, and so is, in every sum (areas, quarters in a financial year, "
            "repeats and first referrals in cases, police and partners in cases), at least one more figure, so that "
            "no hidden count equals a shown total minus shown parts, and the hidden parts of a shown total add up to "
            f"at least {threshold}. The whole system of sums is then solved to check that no small count can be "
            "worked out by any combination. This was chosen over rounding to keep every shown figure exact. "
            "Only complete quarters and complete financial years are released, a released figure is never revised, "
            "and every release is audited together with all earlier ones (exactly, and by linear programming for "
            "ranges narrower than the threshold) before anyone sees it.",
        ]),
        html.P(["Recording changes (such as a new referral threshold) are marked on the charts from "
                f"data/{annotations.ANNOTATIONS_FILE}; add your own lines there (dataset, month, text)."]),
    ]


# --------------------------------------------------------------------------- figures


def _annotate(fig: go.Figure, notes: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> None:
    """Vertical markers for recording changes that fall inside the chart."""
    for i, row in enumerate(notes.itertuples()):
        if not first <= row.month <= last:
            continue
        fig.add_vline(x=row.month, line=dict(color="#555", dash="dash", width=1.5))
        fig.add_annotation(
            x=row.month, y=1.0 - 0.1 * (i % 3), yref="paper", text=_wrap(row.text), showarrow=False, xanchor="left",
            align="left", font=dict(size=12, color="#333"), bgcolor="rgba(255,255,255,0.85)", bordercolor="#999",
            borderwidth=1,
        )


def _wrap(text: str, width: int = 38) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>".join(lines)


def _base_layout(fig: go.Figure, title: str, y_title: str) -> None:
    fig.update_layout(
        title=dict(text=title, x=0.01, font=dict(size=18)), font=FONT, plot_bgcolor="white", height=440,
        margin=dict(l=60, r=20, t=60, b=40), hovermode="x unified",
        legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="center", x=0.5),
        yaxis=dict(rangemode="tozero", gridcolor="#e5e5e5", title=y_title), xaxis=dict(showgrid=False),
    )


def _suppressed_trace(table: pd.DataFrame, column: str, period_type: str) -> go.Scatter:
    """A marker at zero, labelled with the suppression marker, for each hidden value."""
    hidden = table[table[column].isna()]
    return go.Scatter(
        x=hidden["start"], y=np.zeros(len(hidden)), mode="markers+text", name=f"Suppressed ({marac.SUPPRESSED})",
        xperiodalignment="middle", **X_PERIOD[period_type],
        text=[marac.SUPPRESSED] * len(hidden), textposition="top center", customdata=hidden["period"],
        marker=dict(symbol="x-thin-open", size=9, color="#777", line=dict(width=2, color="#777")),
        hovertemplate="%{customdata}: suppressed<extra></extra>", showlegend=bool(len(hidden)),
    )


def cases_figure(table: pd.DataFrame, title: str, notes: pd.DataFrame, period_type: str) -> go.Figure:
    fig = go.Figure()
    partial = table["period"].str.contains(" of ", regex=False)
    for name, rows, colour in (("Cases discussed", ~partial, CASES_COLOUR),
                               ("Part period (not all months held)", partial, PARTIAL_COLOUR)):
        if not rows.any():
            continue
        part = table[rows]
        fig.add_trace(go.Bar(
            x=part["start"], y=part["cases"], name=name, marker_color=colour, customdata=part["period"],
            hovertemplate="%{customdata}: %{y:,} cases<extra></extra>", xperiodalignment="middle",
            **X_PERIOD[period_type],
        ))
    fig.add_trace(_suppressed_trace(table, "cases", period_type))
    _base_layout(fig, title, "Cases")
    top = np.nanmax(table["cases"].to_numpy(dtype=float)) if table["cases"].notna().any() else 1
    fig.update_yaxes(range=[0, top * 1.4])
    if len(table):
        _annotate(fig, notes, table["start"].min(), table["start"].max())
    return fig


def repeat_figure(table: pd.DataFrame, title: str, notes: pd.DataFrame, period_type: str) -> go.Figure:
    fig = go.Figure()
    full = table[~table["history_incomplete"]]
    early = table[table["history_incomplete"]]
    fig.add_trace(go.Scatter(
        x=table["start"], y=table["repeat_rate"].where(~table["history_incomplete"]), name="Repeat rate (%)",
        mode="lines+markers", line=dict(color=RATE_COLOUR, width=3), marker=dict(size=7), connectgaps=False,
        customdata=table["period"], hovertemplate="%{customdata}: %{y:.1f}%<extra></extra>",
        xperiodalignment="middle", **X_PERIOD[period_type],
    ))
    if len(early):
        fig.add_trace(go.Scatter(
            x=early["start"], y=early["repeat_rate"], name="Repeats undercounted (under 12 months of history)",
            mode="markers", marker=dict(size=8, symbol="circle-open", color=RATE_COLOUR, line=dict(width=2)),
            customdata=early["period"], hovertemplate="%{customdata}: %{y:.1f}% (undercounted)<extra></extra>",
            xperiodalignment="middle", **X_PERIOD[period_type],
        ))
    if len(table):
        span = [table["start"].min(), table["start"].max() + pd.DateOffset(months=marac.PERIOD_MONTHS[period_type])]
        fig.add_trace(go.Scatter(
            x=span, y=[marac.REPEAT_TARGET_PCT] * 2, mode="lines",
            name=f"Local target ({marac.REPEAT_TARGET_PCT:g}%)", line=dict(color=TARGET_COLOUR, dash="dash", width=2.5),
            hovertemplate=f"Target {marac.REPEAT_TARGET_PCT:g}%<extra></extra>",
        ))
    fig.add_trace(_suppressed_trace(table, "repeat_rate", period_type))
    _base_layout(fig, title, "Repeat rate (%)")
    top = np.nanmax(np.r_[table["repeat_rate"].to_numpy(dtype=float), marac.REPEAT_TARGET_PCT]) if len(full) else 50
    fig.update_yaxes(range=[0, max(top * 1.45, marac.REPEAT_TARGET_PCT * 1.6)])
    if len(table):
        _annotate(fig, notes, table["start"].min(), table["start"].max())
    return fig


def rate_figure(table: pd.DataFrame, title: str) -> go.Figure:
    fig = go.Figure()
    areas = _areas()
    for area in areas:
        part = table[table["Area"] == area]
        values = pd.to_numeric(part["Cases per 10,000 adult females a year"], errors="coerce")
        fig.add_trace(go.Bar(
            x=part["Year"], y=values, name=area, marker_color=_colour(area, areas),
            hovertemplate=f"{area} %{{x}}: %{{y:.1f}} per 10,000<extra></extra>",
        ))
    fig.add_hline(y=marac.SAFELIVES_BENCHMARK, line=dict(color=TARGET_COLOUR, dash="dash", width=2.5),
                  annotation_text=f"SafeLives benchmark ({marac.SAFELIVES_BENCHMARK:g})", annotation_position="top left")
    _base_layout(fig, title, "Cases per 10,000 adult females")
    fig.update_layout(barmode="group", hovermode="closest", height=400)
    fig.update_yaxes(range=[0, marac.SAFELIVES_BENCHMARK * 1.35])
    return fig


# --------------------------------------------------------------------------- data for a view


def _release() -> marac.Release:
    # Through the ledger in the state directory: the one release every view and export shows.
    return marac.release(state.store(), state.config.suppress_below, state_dir=state.config.state_dir)


def _annotations() -> tuple[pd.DataFrame, list[str]]:
    store = state.store()
    return annotations.read_annotations(store.data_dir, DATASET, store.is_synthetic(DATASET))


def _columns(frame: pd.DataFrame, first_width: int = 170) -> list[dict]:
    defs = []
    for i, column in enumerate(frame.columns):
        d = {"field": column, "cellStyle": SUPPRESSED_STYLE, "filter": False}
        if i == 0:
            d.update(minWidth=first_width, pinned="left")
        elif column in TEXT_COLUMNS:
            d["minWidth"] = 260 if column == "Note" else 150
            if column == "Note":
                d["tooltipField"] = "Note"
        elif "(%)" in column or "per 10,000" in column or "benchmark" in column.lower():
            d["valueFormatter"] = PCT_FORMAT
        elif column.startswith("Adult females"):
            d["valueFormatter"] = {"function": "params.value == null || params.value === '' ? '' : d3.format(',')(params.value)"}
        else:
            d["valueFormatter"] = COUNT_FORMAT
        defs.append(d)
    return components.column_defs(defs)


def _records(frame: pd.DataFrame, newest_first: bool = False) -> list[dict]:
    """Rows for a grid; period tables read newest first on screen (their CSVs stay in time order)."""
    frame = frame.iloc[::-1] if newest_first else frame
    return frame.replace({np.nan: None}).to_dict("records")


def _population_note() -> tuple[pd.DataFrame, str]:
    try:
        population = marac.read_population(state.store().data_dir)
    except marac.LookupFileError as exc:
        return pd.DataFrame(columns=["area", "year", "adult_females", "source_note"]), f"No rates: {exc}"
    sources = "; ".join(sorted(set(population["source_note"]) - {""}))
    return population, (f"Adult females from data/{marac.POPULATION_FILE} ({sources or 'no source given'}): "
                        "approximate and editable. Only complete financial years are shown.")


# --------------------------------------------------------------------------- callbacks


@versioned.callback(P,
    Output(f"{P}-cases-chart", "figure"),
    Output(f"{P}-repeat-chart", "figure"),
    Output(f"{P}-cases-notes", "children"),
    Output(f"{P}-repeat-notes", "children"),
    Output(f"{P}-periods", "rowData"),
    Output(f"{P}-periods", "columnDefs"),
    Output(f"{P}-periods-card-title", "children"),
    Output(f"{P}-split", "rowData"),
    Output(f"{P}-split", "columnDefs"),
    Output(f"{P}-split-note", "children"),
    Output(f"{P}-agency", "rowData"),
    Output(f"{P}-agency", "columnDefs"),
    Output(f"{P}-agency-note", "children"),
    Output(f"{P}-rate-chart", "figure"),
    Output(f"{P}-rate", "rowData"),
    Output(f"{P}-rate", "columnDefs"),
    Output(f"{P}-rate-note", "children"),
    Output(f"{P}-permalink", "href"),
    Output(f"{P}-url", "search"),
    Output(f"{P}-board-open", "href"),
    Input(f"{P}-area", "value"),
    Input(f"{P}-period", "value"),
)
def update(area, period):
    area, period, _ = _resolve({"area": area, "period": period})
    rel = _release()
    notes, problems = _annotations()
    period_name = marac.PERIOD_TYPES[period].lower()
    chart = marac.chart_table(rel, area, period)
    cases_fig = cases_figure(chart, f"{area} - Cases discussed by {period_name}", notes, period)
    repeat_fig = repeat_figure(chart, f"{area} - Repeat rate by {period_name}", notes, period)
    chart_notes = [*problems]
    if chart["cases"].isna().any() or chart["repeat_rate"].isna().any():
        chart_notes.append(f"{marac.SUPPRESSED} marks a suppressed figure (see the note at the top of the page).")
    repeat_notes = list(chart_notes)
    if chart["history_incomplete"].any():
        repeat_notes.append(
            f"Open circles: the first {marac.REPEAT_WINDOW_MONTHS} months of data have too little history to find "
            "every repeat, so those rates are too low.")
    periods = marac.period_table(rel, area, period)
    split = marac.split_table(rel, period, own=series.force_areas(state.store()))
    year_type = period if period in marac.YEAR_TYPES else marac.FINANCIAL
    agency = marac.agency_table(rel, area, year_type)
    population, population_note = _population_note()
    rates = marac.rate_table(rel, population, year_type)
    rate_fig = rate_figure(rates, f"Cases per 10,000 adult females a year ({marac.PERIOD_TYPES[year_type].lower()})")
    search = "?" + urlencode({"area": area, "period": period})
    return (
        cases_fig, repeat_fig,
        components.notes_block(chart_notes).children, components.notes_block(repeat_notes).children,
        _records(periods, True), _columns(periods), f"{area} - cases by {period_name} (newest first)",
        _records(split, True), _columns(split, 190),
        "Each half's share is of the force total. Derby City has its own MARAC; the county's cases are heard at "
        "County MARACs.",
        _records(agency), _columns(agency, 190),
        f"{area}, by {marac.PERIOD_TYPES[year_type].lower()} (quarters have too few referrals per agency to "
        "show). Police against all partner agencies is in the table above for every period.",
        rate_fig, _records(rates.sort_values("Year", ascending=False, kind="stable") if len(rates) else rates), _columns(rates, 190),
        population_note,
        search, search, search + "&present=1",
    )


# --------------------------------------------------------------------------- downloads (suppressed, like the page)


# Every MARAC file is cut from the one protected release (`_release()`), never from the store's
# cases, and downloads whole in time order: the grids read newest first and mix numbers with the
# suppression marker, so there is no grid sort to replay (and a file in time order is what
# analysts chart from).


def _about(title: str, href, **filters) -> dict:
    """The About sheet: the choices, the store's provenance and the suppression rule applied."""
    return describe_view(state.store(), [DATASET], title=title, view_url=href,
                         filters={name.capitalize(): value for name, value in filters.items()},
                         suppression=_suppression_note(state.config.suppress_below))


def _send(frame: pd.DataFrame, title: str, href, filters: dict, *parts: str) -> tuple:
    return downloads.frame_download(frame, _about(title, href, **filters), ["marac", *parts], downloads.clicked_format())


def _states(*names: str) -> list[State]:
    return [State(f"{P}-{name}", "value") for name in names] + [State(f"{P}-url", "href")]


@versioned.callback(P, *downloads.outputs(f"{P}-cases"), *downloads.inputs(f"{P}-cases"), *_states("area", "period"),
          prevent_initial_call=True)
def download_cases(*args):
    area, period, href = args[len(FORMATS):]
    area, period, _ = _resolve({"area": area, "period": period})
    table = marac.chart_export(marac.chart_table(_release(), area, period))
    return _send(table[["period", "cases"]], f"Cases discussed - {area}", href, {"area": area, "period": period},
                 area, "cases", period)


@versioned.callback(P, *downloads.outputs(f"{P}-repeat"), *downloads.inputs(f"{P}-repeat"), *_states("area", "period"),
          prevent_initial_call=True)
def download_repeat(*args):
    area, period, href = args[len(FORMATS):]
    area, period, _ = _resolve({"area": area, "period": period})
    return _send(marac.chart_export(marac.chart_table(_release(), area, period)), f"Repeat rate - {area}", href,
                 {"area": area, "period": period}, area, "repeat-rate", period)


@versioned.callback(P, *downloads.outputs(f"{P}-periods"), *downloads.inputs(f"{P}-periods"), *_states("area", "period"),
          prevent_initial_call=True)
def download_periods(*args):
    area, period, href = args[len(FORMATS):]
    area, period, _ = _resolve({"area": area, "period": period})
    return _send(marac.period_table(_release(), area, period), f"Cases by period - {area}", href,
                 {"area": area, "period": period}, area, "periods", period)


@versioned.callback(P, *downloads.outputs(f"{P}-split"), *downloads.inputs(f"{P}-split"), *_states("period"),
          prevent_initial_call=True)
def download_split(*args):
    period, href = args[len(FORMATS):]
    _, period, _ = _resolve({"period": period})
    return _send(marac.split_table(_release(), period, own=series.force_areas(state.store())), "City/County split",
                 href, {"period": period}, "city-county", period)


@versioned.callback(P, *downloads.outputs(f"{P}-agency"), *downloads.inputs(f"{P}-agency"), *_states("area", "period"),
          prevent_initial_call=True)
def download_agency(*args):
    area, period, href = args[len(FORMATS):]
    area, period, _ = _resolve({"area": area, "period": period})
    year_type = period if period in marac.YEAR_TYPES else marac.FINANCIAL
    return _send(marac.agency_table(_release(), area, year_type), f"Referrals by agency - {area}", href,
                 {"area": area, "period": year_type}, area, "agencies", year_type)


@versioned.callback(P, *downloads.outputs(f"{P}-rate"), *downloads.inputs(f"{P}-rate"), *_states("period"),
          prevent_initial_call=True)
def download_rate(*args):
    period, href = args[len(FORMATS):]
    _, period, _ = _resolve({"period": period})
    year_type = period if period in marac.YEAR_TYPES else marac.FINANCIAL
    population, _ = _population_note()
    return _send(marac.rate_table(_release(), population, year_type), "Cases per 10,000 adult females", href,
                 {"period": year_type}, "rate-per-10000", year_type)


# --------------------------------------------------------------------------- board view (present=1)


BOARD = board.BoardIds(DATASET)
REPEAT_RATE = "Repeat rate"
# The board chart's measures: the page's two charts for one area (the rate per 10,000 is yearly,
# for every area at once, so it stays on the page).
BOARD_MEASURES = (marac.CASES, REPEAT_RATE)
# Each measure's column of marac.chart_table.
BOARD_COLUMNS = {marac.CASES: "cases", REPEAT_RATE: "repeat_rate"}
# The report's Current Issues are counts above a crime group's upper line; MARAC has no such
# lines, so its bar says so where the trend tabs' bar walks their issues.
NO_WALK = "MARAC: no Current Issues \u2014 the report lists issues for crime groups"
# Quarter labels on the x-axis, at most this many (every other one, or fewer, beyond it);
# the latest period is always labelled.
BOARD_TICKS = {False: 13, True: 5}  # projector, phone
SUPPRESSED_NAME = f"Suppressed ({marac.SUPPRESSED})"
SUPPRESSED_FILL = "#e3e3e3"


def _board_measure(value) -> tuple[str, list[str]]:
    """The board chart's measure from a link or its box; an unknown one falls back, with a note."""
    if value in (None, "") or value in BOARD_MEASURES:
        return value or marac.CASES, []
    return marac.CASES, [f"Unknown measure '{str(value)[:60]}'; showing {marac.CASES}. Choose from: "
                         f"{', '.join(BOARD_MEASURES)}."]


def _board_layout(area: str, period: str, measure: str, warnings: list[str]) -> html.Div:
    """The board view: the chart alone on the screen, with area, measure and period beside the stamp.

    Its boxes have ids of their own ("marac-board-area"), so the page's own callback (which draws
    every card) never runs for it; every id still starts "marac-", so the server refuses each of
    its callbacks to a role that may not see MARAC, as it does the page's.
    """
    selectors = [
        labelled("Area", components.select(BOARD.id("board-area"), _areas(), area), 2, BOARD.id("board-area")),
        labelled("Measure", components.select(BOARD.id("board-measure"), list(BOARD_MEASURES), measure), 3,
                 BOARD.id("board-measure")),
        labelled("Period", components.select(BOARD.id("board-period"), [
            {"label": label, "value": key} for key, label in marac.PERIOD_TYPES.items()], period), 2,
            BOARD.id("board-period")),
    ]
    return html.Div([
        dcc.Store(id=BOARD.id("board"), data=True),
        dcc.Location(id=BOARD.id("board-url"), refresh=False),
        *board.version_parts(BOARD),
        board.view(BOARD, controls.warnings_block(warnings), selectors, [], no_walk=NO_WALK),
    ])


def _two_lines(label: str) -> str:
    """ "Jul-Sep 2025" as two lines under the axis ("2020/21" stays one)."""
    return "<br>".join(label.rsplit(" ", 1))


def board_figure(table: pd.DataFrame, title: str, measure: str, stamp: str, width=None) -> go.Figure:
    """One MARAC chart for the board view, from the protected release's chart table only.

    Drawn as a line, not the page's bars: the board frames its y-axis on the figures (and says
    "Axis does not start at zero"), and a bar cut off at the foot of the axis would misstate its
    size. A suppressed figure is a gap in the line and a grey band over its period marked with the
    suppression sign: no number is drawn for it, and no point that could be read as one (a mark
    at the foot of the axis reads as zero). MARAC has no upper and lower lines, so nothing is
    marked Above or Below.
    """
    size = components.board_sizes(width)
    labels = table["period"].tolist()
    fig = go.Figure()
    column = BOARD_COLUMNS[measure]
    if measure == REPEAT_RATE:
        early = table["history_incomplete"].to_numpy(dtype=bool)
        fig.add_trace(go.Scatter(
            x=labels, y=table[column].where(~early), name="Repeat rate (%)", mode="lines+markers", connectgaps=False,
            line=dict(color=RATE_COLOUR, width=3.5), marker=dict(size=size.marker // 2, color=RATE_COLOUR),
            hovertemplate="%{y:.1f}%"))
        if early.any():
            fig.add_trace(go.Scatter(
                x=[label for label, e in zip(labels, early) if e], y=table.loc[early, column],
                name="Undercounted (under 12 months of history)", mode="markers", hovertemplate="%{y:.1f}% (undercounted)",
                marker=dict(size=size.marker // 2, symbol="circle-open", color=RATE_COLOUR, line=dict(width=3))))
        fig.add_trace(go.Scatter(
            x=labels, y=[marac.REPEAT_TARGET_PCT] * len(labels), name=f"Local target ({marac.REPEAT_TARGET_PCT:g}%)",
            mode="lines", line=dict(color=TARGET_COLOUR, dash="dash", width=3), hoverinfo="skip"))
        framed = np.r_[table[column].to_numpy(dtype=float), marac.REPEAT_TARGET_PCT]
    else:
        fig.add_trace(go.Scatter(
            x=labels, y=table[column], name=marac.CASES, mode="lines+markers", connectgaps=False,
            line=dict(color=CASES_COLOUR, width=3.5), marker=dict(size=size.marker // 2, color=CASES_COLOUR),
            hovertemplate="%{y:,.0f} cases"))
        framed = table[column].to_numpy(dtype=float)
    step = -(-len(labels) // BOARD_TICKS[size.legend_below])  # ceiling: labels shown every `step` periods
    ticks = labels[::-1][::step][::-1]
    fig.update_layout(
        title=dict(text=title, yref="container", y=1, yanchor="top"), plot_bgcolor="white", hovermode="x unified",
        xaxis=dict(showgrid=False, tickmode="array", tickvals=ticks, ticktext=[_two_lines(t) for t in ticks],
                   tickangle=0),
    )
    components.board_frame(fig, framed, stamp, size, tickformat=",d" if measure == marac.CASES else None)
    if measure == REPEAT_RATE:
        fig.update_yaxes(ticksuffix="%")
    hidden = np.flatnonzero(table[column].isna().to_numpy())
    for i in hidden:  # a category axis places period i at i: its band is i - 0.5 to i + 0.5
        fig.add_vrect(x0=i - 0.5, x1=i + 0.5, fillcolor=SUPPRESSED_FILL, line_width=0, layer="below")
        fig.add_annotation(x=labels[i], y=1, yref="paper", yanchor="top", text=f"<b>{marac.SUPPRESSED}</b>",
                           showarrow=False, font=dict(size=size.label, color="#333"))
    if len(hidden):  # the key's entry for the bands
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=SUPPRESSED_NAME, hoverinfo="skip",
                                 marker=dict(symbol="square", size=size.legend, color=SUPPRESSED_FILL,
                                             line=dict(width=1, color="#999"))))
    return fig


def board_summary(table: pd.DataFrame, title: str, measure: str) -> str:
    """The board chart in words (its text alternative): the latest period and how many are suppressed."""
    column = BOARD_COLUMNS[measure]
    if not len(table):
        return f"{title}: no complete periods held yet."
    last = table.iloc[-1]
    value = last[column]
    said = (marac.SUPPRESSED + " (suppressed)" if pd.isna(value) else
            f"{value:.1f}% against the local target of {marac.REPEAT_TARGET_PCT:g}%" if measure == REPEAT_RATE
            else f"{value:,.0f} cases")
    hidden = int(table[column].isna().sum())
    return (f"{title}, {len(table)} periods to {last['period']}: {said}."
            + (f" {hidden} of the {len(table)} figures are suppressed." if hidden else ""))


@callback(
    Output(BOARD.id("chart"), "figure"),
    Output(BOARD.id("stamp"), "children"),
    Output(BOARD.id("chart-summary"), "children"),
    Output(BOARD.id("notes"), "children"),
    Output(BOARD.id("board-url"), "search"),
    Output(BOARD.id("board-link"), "href"),
    Input(BOARD.id("board-area"), "value"),
    Input(BOARD.id("board-measure"), "value"),
    Input(BOARD.id("board-period"), "value"),
    # A board view moving to a newer store version (dashboard/board.py's minute check) redraws from it.
    Input(BOARD.id("version"), "data"),
    # Drawn for the screen's width (set once, in the browser).
    Input(BOARD.id("screen"), "data"),
)
def update_board(area, measure, period, token, width):
    """The board chart, its stamp and its words, all from the one store version the view is on."""
    with state.pinned(token):
        area, period, warnings = _resolve({"area": area, "period": period})
        measure, more = _board_measure(measure)
        table = marac.chart_table(_release(), area, period)
        stamp = board.data_stamp(DATASET)
        _, problems = _annotations()
    title = f"{area} - {measure} by {marac.PERIOD_TYPES[period].lower()}"
    # A phone's title is short, clear of the axis note: the period is under the axis and in its box.
    shown_title = f"{area} - {measure}" if components.board_sizes(width).legend_below else title
    figure = board_figure(table, shown_title, measure, stamp, width)
    notes = [*warnings, *more, *problems]
    if table[BOARD_COLUMNS[measure]].isna().any():
        notes.append(f"{marac.SUPPRESSED} marks a suppressed figure: counts under {state.config.suppress_below}, and "
                     "figures that would give one away, are not shown.")
    search = "?" + urlencode({"area": area, "period": period})
    return (figure, stamp, board_summary(table, title, measure), components.notes_block(notes).children,
            search + "&" + urlencode({"measure": measure}) + "&present=1", search)


# The width for the chart and the minute's version check, as on every board view; the one check
# serves the ordinary page too (its board flag is False, so it shows the banner instead).
board.register_screen_and_version(BOARD)
