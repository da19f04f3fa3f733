"""The trend tab, built once for every dataset with monthly counts by area.

Selector bar, the five-series chart, the summary table of exceptions, the rolling 12-month
table, the neighbourhood drill-down, the method panel, the board view and every download
are laid out and their callbacks registered here, once per `TrendSpec`. A page (Crime,
Fire, Hate crime, ...) is `register_page` + a `TrendSpec` + its own cards: the differences
between tabs are the spec's fields, not copied code.

Component ids are "<dataset>-<part>" strings (e.g. "crime-chart"), so every id names the
dataset it shows: the access checks and the browser tests both rely on that.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, clientside_callback, dcc, html, no_update

from dashboard import board as board_view
from dashboard import auth, components, controls, downloads, map_card, method, shell, state, versioned
from dashboard.safe import callback, clicked_id
from queries import datasets, geography, limits, params, report, series, summaries
from queries.export import describe_view
from queries.formats import FORMATS

# The chart fills the screen in board view, less the bar above it.
BOARD_CHART_STYLE = {"height": "calc(100vh - 250px)", "minHeight": "420px"}
HIDDEN = {"display": "none"}
SHOWN = {"display": "block"}
# "force" last: it is a visible selector only in a store of several forces (hidden otherwise).
SELECTORS = ("area", "measure", "month", "method", "k", "force")
# A chart-export row after the report month: the lines are drawn ahead, the count is not reported yet.
NOT_REPORTED = "After the report month"


@dataclass(frozen=True)
class TrendSpec:
    """How one trend tab differs from the others.

    dataset: the registry key (also the id prefix).
    measure_label: the measure selector's label.
    summary_title: the exceptions summary's title, or None for no summary card.
    rolling / drill: whether the tab has the rolling 12-month table / neighbourhood drill-down.
    ward_map: a map of the chosen CSP's wards beside the drill-down (needs drill); clicking a
        ward opens its neighbourhood's chart in the tab, as clicking its row does.
    file_prefix: put before download file names ("fire_Erewash_Deliberate-fires_2026-09_pooled_k2.xlsx").
    show_measure: False when the page sets the measure from its own controls (Hate: kind + strand).
    measure_may_be_absent: a measure the page asks for may hold no records; say so instead of
        falling back (a strand with no incidents is an answer, not a typo).
    extra_params: the page's own URL parameters, read from components "<dataset>-<name>".
    prepare: (URL params) -> (params, warnings): a page rewriting its parameters before the
        common ones are resolved (Hate turns kind + strand into the measure).
    extra: (URL params, View) -> (values for extra_params, warnings).
    controls: (View, extra values) -> selector columns placed first in the bar.
    side_card: (View, extra values) -> a card beside the chart (Fire's KPI).
    cards: (View, extra values) -> the page's own cards, under the common ones.
    caution_below / caution_text: counts under this carry the caution (Hate's small numbers).
    count_label: measure -> the chart key's name for the count line.
    measure_controls: measure -> the page's own control values that show it (Hate: kind and
        strand), or None when the page cannot show it; for the board view's walk through
        Current Issues when the measure is not chosen directly (show_measure False).
    """

    dataset: str
    measure_label: str = "Crime group"
    summary_title: str | None = None
    rolling: bool = False
    drill: bool = True
    ward_map: bool = False
    file_prefix: str = ""
    show_measure: bool = True
    measure_may_be_absent: bool = False
    extra_params: tuple[str, ...] = ()
    prepare: Callable[[dict], tuple[dict, list[str]]] | None = None
    extra: Callable[[dict, params.View], tuple[dict, list[str]]] | None = None
    controls: Callable[[params.View, dict], list] | None = None
    side_card: Callable[[params.View, dict], Any] | None = None
    cards: Callable[[params.View, dict], list] | None = None
    caution_below: int | None = None
    caution_text: str = ""
    count_label: Callable[[str], str] | None = None
    measure_controls: Callable[[str], dict | None] | None = None
    notes: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.dataset

    def id(self, part: str) -> str:
        return f"{self.dataset}-{part}"

    def label_for(self, measure: str) -> str:
        if self.count_label is not None:
            return self.count_label(measure)
        return datasets.get(self.dataset).count_label


SPECS: dict[str, TrendSpec] = {}


# --------------------------------------------------------------------------- views


def view_from(spec: TrendSpec, raw: dict) -> params.View:
    """A checked View from a URL's parameters or a callback's values (loose: bad values fall back, with notes)."""
    raw = dict(raw) if isinstance(raw, dict) else {}
    warnings: list[str] = []
    if spec.prepare is not None:
        raw, warnings = spec.prepare(raw)
    default_measure = datasets.get(spec.dataset).opening_measure
    view = params.resolve_view(state.store(), spec.dataset, raw, state.config, default_measure=default_measure)
    return view.with_(warnings=tuple(warnings) + view.warnings)


def _values(spec: TrendSpec, values: tuple) -> dict:
    """Selector values as URL-style parameters (the month box holds 'YYYY-MM')."""
    raw = dict(zip(SELECTORS, values[: len(SELECTORS)]))
    raw.update(zip(spec.extra_params, values[len(SELECTORS):]))
    return spec.prepare(raw)[0] if spec.prepare is not None else raw


def _held_measure(spec: TrendSpec, raw: dict) -> str | None:
    """The measure asked for when it is a name the store holds no records of (only for specs that allow it)."""
    wanted = raw.get("measure")
    if spec.measure_may_be_absent and isinstance(wanted, str) and wanted not in series.measures(state.store(), spec.dataset):
        return wanted
    return None


def _extra(spec: TrendSpec, raw: dict, view: params.View) -> tuple[dict, list[str]]:
    return spec.extra(raw, view) if spec.extra is not None else ({}, [])


# --------------------------------------------------------------------------- layout


def month_options(dataset: str, fy: int, force: str | None = None) -> list[dict]:
    """The year's months this force holds (another force's months are not this one's)."""
    held = series.coverage(state.store(), dataset, force)
    return [{"label": f"{m:%B %Y}", "value": params.month_key(m)} for m in limits.fy_months(fy) if m in held]


def labelled(label: str, control, width: int, control_id: str | None = None) -> dbc.Col:
    return dbc.Col([dbc.Label(label, class_name="small fw-semibold mb-0", html_for=control_id), control], md=width)


def area_control(spec: TrendSpec, view: params.View) -> dbc.Col:
    areas = series.force_areas(state.store(), view.force).top_areas  # names are unique only within a force
    return labelled("Area", components.select(spec.id("area"), areas, view.area), 2, spec.id("area"))


def measure_control(spec: TrendSpec, view: params.View):
    measure = components.select(spec.id("measure"), series.measures(state.store(), spec.dataset), view.measure)
    return labelled(spec.measure_label, measure, 3, spec.id("measure")) if spec.show_measure else html.Div(measure, style=HIDDEN)


def selector_bar(spec: TrendSpec, view: params.View, extra: dict, board: bool = False) -> dbc.Card:
    """The page's own controls first, then area, measure, year, report month, method and k
    (in the board view, area and measure sit in the board's own bar instead)."""
    store = state.store()
    own = spec.controls(view, extra) if spec.controls is not None else []
    forces = auth.visible_forces(geography.force_slugs(store.data_dir))  # only the account's forces
    force = components.select(spec.id("force"), [
        {"label": geography.areas(store.data_dir, slug).force.name, "value": slug} for slug in forces], view.force)
    common = [
        # Area names are unique only within a force: in a store of several, the force comes first.
        labelled("Force", force, 2, spec.id("force")) if len(forces) > 1 else html.Div(force, style=HIDDEN),
        *([] if board else [area_control(spec, view), measure_control(spec, view)]),
        labelled("Financial year", components.select(
            spec.id("fy"),
            [{"label": params.fy_label(y), "value": y} for y in reversed(series.financial_years(store, spec.dataset, view.force))],
            view.fy), 2, spec.id("fy")),
        labelled("Up to and including", components.select(spec.id("month"), month_options(spec.dataset, view.fy, view.force),
                                                           params.month_key(view.month)), 2, spec.id("month")),
        labelled("Limit method", dbc.RadioItems(
            options=[{"label": m.label, "value": m.name} for m in limits.METHODS.values()],
            value=view.method, id=spec.id("method"), inline=True), 2),
        labelled("k", html.Div([
            dbc.Input(type="number", min=0.5, max=params.MAX_K, step=0.5, value=view.k, id=spec.id("k"), debounce=True),
            dbc.FormFeedback(id=spec.id("k-feedback"), type="invalid"),
        ]), 1, spec.id("k")),
    ]
    rows = [dbc.Row(own, class_name="g-2 align-items-end mb-2")] if own else []
    rows.append(dbc.Row(common, class_name="g-2 align-items-end"))
    return dbc.Card(dbc.CardBody(rows), class_name="mb-3 shadow-sm")


def export_menu(spec: TrendSpec, part: str, what: str) -> html.Span:
    """CSV and Excel buttons for one card (queries/formats.py's registry). Ids end "-download"
    (the dcc.Download), so the server's role check counts the callback as an export; the
    wrapper's "-download-menu" id lets assets/roles.css hide it from roles that may not export."""
    return downloads.menu(spec.id(part), what)


def _chart_card(spec: TrendSpec, figure: go.Figure | None = None) -> dbc.Card:
    """The trend chart's card; `figure`, when given, is drawn at once (the callback redraws the same later)."""
    graph = dcc.Graph(id=spec.id("chart"), config={"displaylogo": False}, **({"figure": figure} if figure is not None else {}))
    return components.card(
        "Trend",
        # The region a summary click scrolls to and focuses (tabIndex -1: focusable by script, not a Tab stop);
        # the sentence under the chart is its text alternative.
        [html.Div([shell.loading(graph),
                   html.P(id=spec.id("chart-summary"), className="small mt-1 mb-1 chart-summary")],
                  id=spec.id("chart-region"), tabIndex="-1", role="region",
                  **{"aria-label": "Trend chart", "aria-describedby": spec.id("chart-summary")}),
         html.P(id=spec.id("stamp"), className="small text-muted mb-1 data-as-at"),
         *_chart_extras(spec)],
        actions=[html.A("Link to this view", id=spec.id("permalink"), href="#", className="small me-2"),
                 html.A("Board view", id=spec.id("board-link"), href="#",
                        className="small me-2", title="Just the chart, large, for a projector"),
                 export_menu(spec, "chart", "this chart's figures")],
    )


def _chart_extras(spec: TrendSpec) -> list:
    return [dcc.Store(id=spec.id("chart-focus")), html.Div(id=spec.id("chart-caution")),
            components.notes_block([], id=spec.id("notes"))]


def _board_chart(spec: TrendSpec, view: params.View, warnings) -> html.Div:
    """The board view's chart with its bar; the normal card's links and downloads kept, unseen, for the callbacks."""
    hidden = [html.A(id=spec.id("permalink"), href="#"), export_menu(spec, "chart", "this chart's figures"),
              dcc.Store(id=spec.id("chart-focus"))]
    return board_view.view(spec, warnings, [area_control(spec, view), measure_control(spec, view)], hidden)


def _summary_card(spec: TrendSpec) -> dbc.Card:
    return components.card(
        spec.summary_title,
        [html.P(id=spec.id("summary-caption"), className="small text-muted mb-1"),
         shell.loading(components.grid(spec.id("summary"), getRowId="params.data.id"))],
        actions=[export_menu(spec, "summary", "the summary table")],
        id=spec.id("summary-card"),
    )


def _rolling_card(spec: TrendSpec) -> dbc.Card:
    return components.card(
        "Rolling 12 months",
        [shell.loading(components.grid(spec.id("rolling"))), html.P(id=spec.id("rolling-note"), className="small text-muted mt-1")],
        actions=[export_menu(spec, "rolling", "the rolling 12-month table")],
        id=spec.id("rolling-card"),
    )


def _map_parts(spec: TrendSpec, view: params.View) -> tuple:
    """(figure, graph style, summary, table, known neighbourhoods, hint style) for a view."""
    figure, summary, table, known = map_card.map_parts(
        state.store(), spec.dataset, view.area, view.measure, view.month, view.method, view.k, view.min_significant)
    if figure is None:
        return {}, HIDDEN, summary, table, known, HIDDEN
    return figure, SHOWN, summary, table, known, SHOWN


def _map_card(spec: TrendSpec, view: params.View, board: bool) -> dbc.Card:
    """The chosen CSP's wards (dashboard/map_card.py draws them). Its ids carry "drill", so the
    server treats it as the drill-down it is (neighbourhood figures) and assets/roles.css hides
    it from roles that may not drill.

    Drawn with the layout (its callback only answers later changes): one round trip fewer on
    first load, and nothing to compute for the county or force the tab opens on. The board
    view hides this card, so it is not drawn there."""
    figure, style, summary, table, known, hint = ({}, HIDDEN, "", [], [], HIDDEN) if board else _map_parts(spec, view)
    graph = dcc.Graph(id=spec.id("drill-map"), figure=figure, config={"displaylogo": False, "scrollZoom": False},
                      style=style)
    return components.card(
        "Neighbourhood map",
        [html.P(summary, id=spec.id("drill-map-summary"), className="small"),
         shell.loading(graph),
         html.P("Click a ward for its neighbourhood's chart (shown with the neighbourhoods table).",
                id=spec.id("drill-map-hint"), className="small text-muted mb-1", style=hint),
         dcc.Store(id=spec.id("drill-map-known"), data=known),
         html.Details([html.Summary("Table: the map as figures"), html.Div(table, id=spec.id("drill-map-table"))],
                      className="mt-2")],
        id=spec.id("drill-map-card"),
    )


def _detail_cards(spec: TrendSpec, view: params.View, extra: dict, board: bool = False) -> list:
    """Everything below the chart (hidden in board view, kept so callbacks have their targets)."""
    cards: list = []
    if spec.summary_title:
        cards.append(_summary_card(spec))
    # Left: the rolling table, then the ward map; right: the neighbourhoods table and the chart a
    # click on either opens, so on a wide screen the chart sits beside the map that opened it.
    left = [c for c in ((_rolling_card(spec) if spec.rolling else None),
                        (_map_card(spec, view, board) if spec.ward_map and spec.drill else None)) if c is not None]
    right = ([components.neighbourhood_card(spec.key, [export_menu(spec, "drill", "the neighbourhoods table")])]
             if spec.drill else [])
    columns = [column for column in (left, right) if column]
    if columns:
        cards.append(dbc.Row([dbc.Col(column, lg=6) for column in columns]))
    if spec.cards is not None:
        cards.extend(spec.cards(view, extra))
    cards.append(method.panel(spec.id("method-text"), view.method, view.k, state.config.min_significant))
    return cards


def layout(spec: TrendSpec, raw: dict) -> html.Div:
    """The whole tab for a URL's parameters (`present=1`: the board view, just the chart, large)."""
    store = state.store()
    if not store.has(datasets.get(spec.dataset).source):
        return dbc.Alert(f"The store holds no {datasets.get(spec.dataset).label.lower()} data. Run `python app.py demo` "
                         "or import files (see the README).", color="danger")
    raw = raw if isinstance(raw, dict) else {}
    view = view_from(spec, raw)
    extra, extra_warnings = _extra(spec, raw, view)
    view = view.with_(warnings=view.warnings + tuple(extra_warnings))
    board = raw.get("present") == "1"
    issue = None
    if board:
        raw, issue, notes = _board_issue(spec, raw, view)
        if issue is not None:  # area, measure (and the page's own controls) as the issue asks
            view = view_from(spec, raw)
            extra, _ = _extra(spec, raw, view)
        view = view.with_(warnings=view.warnings + tuple(notes))
    token = store.token
    common = [
        dcc.Store(id=spec.id("neighbourhood"), data=view.neighbourhood),
        dcc.Store(id=spec.id("board"), data=board),
        dcc.Store(id=spec.id("issue"), data=issue),
        dcc.Location(id=spec.id("url"), refresh=False),
        *board_view.version_parts(spec, token),
    ]
    if board:
        return html.Div([
            *common,
            html.Div(selector_bar(spec, view, extra, board=True), style=HIDDEN),
            _board_chart(spec, view, controls.warnings_block(view.warnings)),
            # Unseen but present: a side card may hold a control the chart reads (Fire's quarter).
            html.Div([*([spec.side_card(view, extra)] if spec.side_card is not None else []),
                      *_detail_cards(spec, view, extra, board=True)], style=HIDDEN),
        ])
    # The URL's chart comes with the page (the first paint needs no callback round trip);
    # drawn from the same store version the page's version store records.
    with state.pinned(token):
        chart = _chart_card(spec, chart_figure(spec, view, raw, stamp=board_view.data_stamp(spec.dataset, view.force))[0])
    if spec.side_card is not None:
        chart = dbc.Row([dbc.Col(chart, xl=8), dbc.Col(spec.side_card(view, extra), xl=4)])
    return html.Div(
        [
            controls.warnings_block(view.warnings),
            *common,
            board_view.placeholders(spec),
            selector_bar(spec, view, extra),
            chart,
            html.Div(_detail_cards(spec, view, extra)),
        ]
    )


def _board_issue(spec: TrendSpec, raw: dict, view: params.View) -> tuple[dict, int | None, list[str]]:
    """A board view link with `issue=N` opens the month's Nth Current Issue: (parameters for it,
    N or None, notes). A bad or out-of-range N is noted and the view is shown as linked."""
    if raw.get("issue") in (None, ""):
        return raw, None, []
    try:
        wanted = params.check("issue", raw.get("issue"))
    except params.ParamError as exc:
        return raw, None, [f"{params.sentence(exc)}; showing the view as linked."]
    items = board_view.reachable(spec, board_view.walk_for(spec, view))
    if wanted > len(items):
        return raw, None, [f"Issue {wanted} is past the {len(items)} Current Issues of {view.month:%B %Y}; "
                           "showing the view as linked."]
    flag, own = items[wanted - 1]
    return {**raw, **own, "area": flag.area, "measure": flag.measure, "neighbourhood": None}, wanted, []


# --------------------------------------------------------------------------- callbacks


def _inputs(spec: TrendSpec, kind=Input) -> list:
    return [kind(spec.id(name), "value") for name in (*SELECTORS, *spec.extra_params)]


def _caution(spec: TrendSpec, counts) -> list:
    if spec.caution_below is None:
        return []
    values = pd.to_numeric(pd.Series(list(counts), dtype=object), errors="coerce").dropna()
    small = int((values < spec.caution_below).sum())
    if not small:
        return []
    return [dbc.Alert(
        ["Caution: ", html.Strong(spec.caution_text), f" ({small} of the {len(values)} months shown "
         f"{'is' if small == 1 else 'are'} under {spec.caution_below})."],
        color="warning", class_name="py-1 px-2 mb-1 small caution",
    )]


def _caution_column(spec: TrendSpec, counts) -> list[str]:
    return [spec.caution_text if c == c and c is not None and c < spec.caution_below else "" for c in counts]


def _series(spec: TrendSpec, view: params.View, neighbourhood: str | None = None) -> pd.DataFrame:
    return series.chart(state.store(), view, neighbourhood=neighbourhood)


def _k_feedback(raw_k, view: params.View) -> tuple[bool, str]:
    """Whether the k box holds a value that is not used, and the words saying what is used instead."""
    try:
        params.parse_k(raw_k)
        return False, ""
    except ValueError:
        return True, f"k must be above 0 and at most {params.MAX_K:g}: using {view.k:g}"


def register(spec: TrendSpec) -> TrendSpec:
    """Register the tab's callbacks (once per app: the ids carry the dataset key).

    Dash runs each page module afresh for every app it creates (and hands the callbacks to
    that app), so a page registering its spec again replaces the old record.
    """
    SPECS[spec.key] = spec
    _register_selectors(spec)
    board_view.register(spec, lambda kind: _inputs(spec, kind), lambda values: _values(spec, values),
                        lambda raw: view_from(spec, raw))
    _register_chart(spec)
    if spec.summary_title:
        _register_summary(spec)
    if spec.rolling:
        _register_rolling(spec)
    if spec.drill:
        _register_drill(spec)
    if spec.drill and spec.ward_map:
        _register_map(spec)
    return spec


def _register_selectors(spec: TrendSpec) -> None:
    """A new year lists its months and keeps the month if held, else the latest held (the report is
    "up to and including"); a new area clears the neighbourhood (it belongs to one CSP)."""

    @versioned.callback(spec.dataset, Output(spec.id("month"), "options"), Output(spec.id("month"), "value"),
              Input(spec.id("fy"), "value"), Input(spec.id("force"), "value"), State(spec.id("month"), "value"),
              prevent_initial_call=True)
    def fy_changed(fy, force, month):
        try:
            year = params.parse_fy(fy)
            options = month_options(spec.dataset, year, force if isinstance(force, str) and force else None)
        except (ValueError, geography.UnknownArea):
            return no_update, no_update
        values = [o["value"] for o in options]
        return options, (month if month in values else (values[-1] if values else None))

    @callback(Output(spec.id("neighbourhood"), "data", allow_duplicate=True), Input(spec.id("area"), "value"),
              prevent_initial_call=True)
    def area_changed(_area):
        return None

    @versioned.callback(spec.dataset, Output(spec.id("area"), "options"), Output(spec.id("area"), "value", allow_duplicate=True),
              Input(spec.id("force"), "value"), prevent_initial_call=True)
    def force_changed(force):
        """Another force lists its own areas and opens on its force area (names are unique only within a force)."""
        try:
            areas = series.force_areas(state.store(), force if isinstance(force, str) else None).top_areas
        except geography.UnknownArea:
            return no_update, no_update
        return [{"label": a, "value": a} for a in areas], geography.FORCE


def chart_figure(spec: TrendSpec, view: params.View, raw: dict, *, board: bool = False, stamp: str = "",
                 width=None) -> tuple[go.Figure, pd.DataFrame | None, list[str]]:
    """(figure, its series or None when the measure is not held, recording-change notes) for a view.

    One function for the chart callback and the page's layout, which draws the URL's chart
    with the page so the first paint needs no callback round trip (issue 12: the chart's
    callback otherwise queues behind the summary's, rolling's and drill-down's on first load)."""
    absent = _held_measure(spec, raw)
    if absent:
        return components.empty_figure(f"No {absent.lower()} are recorded in the store"), None, []
    table = _series(spec, view)
    figure = components.trend_figure(table, f"{view.area} - {view.measure}", count_label=spec.label_for(view.measure),
                                     board_view=board, stamp=stamp, screen_width=width)
    marks = components.mark_recording_changes(figure, state.store(), spec.dataset, table["month"])
    return figure, table, marks


def _register_chart(spec: TrendSpec) -> None:
    @callback(
        Output(spec.id("chart"), "figure"),
        Output(spec.id("chart-caution"), "children"),
        Output(spec.id("notes"), "children"),
        Output(spec.id("permalink"), "href"),
        Output(spec.id("method-text"), "children"),
        Output(spec.id("url"), "search"),
        Output(spec.id("board-link"), "href"),
        Output(spec.id("k"), "invalid"),
        Output(spec.id("k-feedback"), "children"),
        Output(spec.id("chart-summary"), "children"),
        # The board view's bar is drawn with the chart, from the same version: never half a step.
        Output(spec.id("stamp"), "children"),
        Output(spec.id("board-key"), "children"),
        Output(spec.id("board-list"), "children"),
        Output(spec.id("board-prev"), "disabled"),
        Output(spec.id("board-next"), "disabled"),
        *_inputs(spec),
        # An Input, not State: a drill row click puts neighbourhood= in the address and the link.
        Input(spec.id("neighbourhood"), "data"),
        # A board view moving to a newer store version redraws from it.
        Input(spec.id("version"), "data"),
        # A board chart is drawn for the screen's width (set once, in the browser).
        Input(spec.id("screen"), "data"),
        State(spec.id("board"), "data"),
    )
    def update_chart(*values):
        *selected, neighbourhood, token, width, board = values
        with state.pinned(token):
            return _chart(spec, tuple(selected), neighbourhood, board is True, width)

    def _chart(spec: TrendSpec, selected: tuple, neighbourhood, board: bool, width) -> tuple:
        raw = _values(spec, selected)
        view = view_from(spec, raw)
        extra, _ = _extra(spec, raw, view)
        more = {**extra, "neighbourhood": neighbourhood if isinstance(neighbourhood, str) else None}
        stamp = board_view.data_stamp(spec.dataset, view.force)  # the force's latest month
        walk = board_view.walk_for(spec, view) if board else report.Walk((), ())
        items = board_view.reachable(spec, walk)
        at = board_view.position(items, view.area, view.measure) if not more["neighbourhood"] else None
        key = board_view.key_text(items, at, view) if board else ""
        listed = board_view.issue_list(spec, items, at, walk, view, extra) if board else []
        first, last = (at is not None and at <= 1) or not items, (at is not None and at >= len(items)) or not items
        here = view.query_string(**more, issue=str(at) if at else None) + ("&present=1" if board else "")
        toggle = view.query_string(**more) + ("" if board else "&present=1")
        explanation = method.explanation(view.method, view.k, view.min_significant)
        invalid, feedback = _k_feedback(raw.get("k"), view)
        board_parts = (stamp, key, listed, first, last)
        absent = _held_measure(spec, raw)
        figure, table, marks = chart_figure(spec, view, raw, board=board, stamp=stamp, width=width)
        if absent:
            return (figure, [], [], here, explanation, here, toggle, invalid, feedback,
                    f"No {absent.lower()} are recorded in the store.", *board_parts)
        notes = list(view.warnings) + components.series_notes(table, view.method, view.month) + marks
        shown = table.loc[table["month"] <= view.month, "count"].dropna()
        words = summaries.chart_summary(table, f"{view.area} - {view.measure}", view.month)
        return (figure, _caution(spec, shown), components.notes_block(notes).children, here, explanation, here, toggle,
                invalid, feedback, words, *board_parts)

    @callback(*downloads.outputs(spec.id("chart")), *downloads.inputs(spec.id("chart")), *_inputs(spec, State),
              State(spec.id("version"), "data"), State(spec.id("url"), "href"), prevent_initial_call=True)
    def download_chart(*args):
        """The chart's figures, month by month, as CSV or Excel (with the About sheet), from the version shown."""
        values, token, href = args[len(FORMATS):-2], args[-2], args[-1]
        with state.pinned(token):
            return _download_chart(values, href)

    def _download_chart(values: tuple, href):
        raw = _values(spec, tuple(values))
        absent = _held_measure(spec, raw)
        if absent:
            return no_update, f"Nothing to download: no {absent.lower()} are recorded in the store."
        view = view_from(spec, raw)
        extra, _ = _extra(spec, raw, view)
        table = _series(spec, view)
        out = table[limits.COLUMNS].copy()
        # Later months have their lines drawn but no count yet: say so rather than "No data".
        out.loc[(table["month"] > view.month).to_numpy(), "status"] = NOT_REPORTED
        out["month"] = table["month"].dt.strftime("%Y-%m")
        if spec.caution_below is not None:
            out["caution"] = _caution_column(spec, out["count"])
        about = _about(spec, view, extra, f"{view.area} - {view.measure}", href)
        return _send(out, about, [view.area, view.measure, params.month_key(view.month), view.method, f"k{view.k:g}"], spec)


def _summary_wide(table: pd.DataFrame, measure_label: str) -> pd.DataFrame:
    table = table.assign(cell=[controls.status_cell(s, lv) for s, lv in zip(table["status"], table["low_volume"])])
    wide = table.pivot(index="measure", columns="area", values="cell")
    # Columns in the summary table's own area order (queries.series.county_table_areas).
    wide = wide.reindex(index=series.measure_order(list(wide.index)), columns=list(dict.fromkeys(table["area"])))
    return wide.rename_axis(None, axis=1).reset_index().rename(columns={"measure": measure_label})


def _register_summary(spec: TrendSpec) -> None:
    def summary(month, method_name, k, force=None) -> tuple[params.View, pd.DataFrame]:
        view = view_from(spec, {"month": month, "method": method_name, "k": k, "force": force})
        return view, series.summary(state.store(), view)

    @callback(
        Output(spec.id("summary"), "rowData"),
        Output(spec.id("summary"), "columnDefs"),
        Output(spec.id("summary-caption"), "children"),
        Input(spec.id("month"), "value"),
        Input(spec.id("method"), "value"),
        Input(spec.id("k"), "value"),
        Input(spec.id("force"), "value"),
        Input(spec.id("version"), "data"),
    )
    def update_summary(month, method_name, k, force, token):
        with state.pinned(token):
            view, table = summary(month, method_name, k, force)
        wide = _summary_wide(table, spec.measure_label)
        columns = [{"field": spec.measure_label, "pinned": "left", "minWidth": 230}] + [
            {"field": area, "cellStyle": controls.STATUS_STYLE, "minWidth": 105, "filter": False, "headerTooltip": area}
            for area in wide.columns[1:]
        ]
        flagged = table[np.isin(table["status"], [limits.ABOVE, limits.BELOW])]
        significant = flagged[~flagged["low_volume"]]
        caption = (
            f"{view.month:%B %Y}, {view.method} limits at k = {view.k:g}. {len(significant)} significant exceptions "
            f"({(significant['status'] == limits.ABOVE).sum()} Above, {(significant['status'] == limits.BELOW).sum()} Below) "
            f"of {len(table)} cells; {len(flagged) - len(significant)} more flagged but under {view.min_significant} "
            "crimes, shown in brackets. Click a cell to open its chart."
        )
        no_limits = int((table["status"] == limits.NO_LIMITS).sum())
        if no_limits:
            caption += (f" {no_limits} cells have no limits: the store holds no {view.month:%B} in the earlier years "
                        "needed (see the Data tab for missing months).")
        return wide.assign(id=wide[spec.measure_label]).to_dict("records"), components.column_defs(columns), caption

    @versioned.callback(spec.dataset,
        Output(spec.id("area"), "value"),
        Output(spec.id("measure"), "value"),
        Output(spec.id("neighbourhood"), "data", allow_duplicate=True),
        Input(spec.id("summary"), "cellClicked"),
        State(spec.id("force"), "value"),
        prevent_initial_call=True,
    )
    def summary_clicked(cell, force):
        """Clicking a summary cell opens that area's chart for that measure."""
        area, measure = clicked_id(cell, "colId"), clicked_id(cell, "rowId")
        view = view_from(spec, {"force": force})
        if area not in series.force_areas(state.store(), view.force).top_areas or measure not in series.measures(state.store(), spec.dataset):
            return no_update, no_update, no_update
        return area, measure, None

    # In the browser, at once: bring the chart into view and move focus to it (the redraw follows),
    # so a click or Enter low in the table is never answered off-screen.
    clientside_callback(
        f"""function(cell) {{
            const region = document.getElementById({spec.id("chart-region")!r});
            if (cell && region) {{
                region.scrollIntoView({{block: "start"}});
                region.focus({{preventScroll: true}});
            }}
            return window.dash_clientside.no_update;
        }}""",
        Output(spec.id("chart-focus"), "data"),
        Input(spec.id("summary"), "cellClicked"),
        prevent_initial_call=True,
    )

    def summary_frame(raw: dict, view: params.View):
        wide = _summary_wide(series.summary(state.store(), view), spec.measure_label)
        return wide, spec.summary_title, ["summary", params.month_key(view.month), view.method, f"k{view.k:g}"]

    _register_grid_export(spec, "summary", summary_frame)


def _rolling_note(own) -> str:
    """How the 12-month table's rows add up, in the force's own area names."""
    counties = own.county_names
    parts = " and ".join(counties) if counties else "the CSPs"
    sums = (f"{parts} {'is' if len(counties) == 1 else 'are'} the sum of {'its' if len(counties) == 1 else 'their'} "
            "CSPs; " if counties else "")
    adds = f"adds {' and '.join(own.unitaries)}, " if counties and own.unitaries else "adds up the CSPs, "
    return (f"{sums}{geography.FORCE} {adds}records placed outside the force area and records with no known area, "
            "so every record is counted once.")


def _register_rolling(spec: TrendSpec) -> None:
    def rolling(measure, month, force=None) -> tuple[params.View, pd.DataFrame]:
        view = view_from(spec, {"measure": measure, "month": month, "force": force})
        return view, series.rolling_12(state.store(), spec.dataset, view.measure, view.month, force=view.force)

    @callback(
        Output(spec.id("rolling"), "rowData"),
        Output(spec.id("rolling"), "columnDefs"),
        Output(spec.id("rolling-note"), "children"),
        Output(spec.id("rolling-card-title"), "children"),
        Input(spec.id("measure"), "value"),
        Input(spec.id("month"), "value"),
        Input(spec.id("force"), "value"),
        Input(spec.id("version"), "data"),
    )
    def update_rolling(measure, month, force, token):
        with state.pinned(token):
            view, table = rolling(measure, month, force)
        columns = [{"field": "Area", "minWidth": 170}] + [
            {"field": c, "valueFormatter": components.THOUSANDS, **components.NUMBER_COLUMN}
            for c in table.columns[1:3]
        ] + [
            {"field": "Numerical Change", **components.NUMBER_COLUMN,
             "valueFormatter": {"function": "params.value == null ? 'n/a' : d3.format(',')(params.value)"}},
            {"field": "% Change", **components.NUMBER_COLUMN,
             "valueFormatter": {"function": "params.value == null ? 'n/a' : d3.format('.1f')(params.value) + ' %'"}},
        ]
        note = table.attrs.get("note") or _rolling_note(series.force_areas(state.store(), view.force))
        return table.to_dict("records"), components.column_defs(columns), note, f"Rolling 12 months - {view.measure}"

    def rolling_frame(raw: dict, view: params.View):
        table = series.rolling_12(state.store(), spec.dataset, view.measure, view.month, force=view.force)
        return table, f"Rolling 12 months - {view.measure}", ["rolling-12", view.measure, params.month_key(view.month)]

    _register_grid_export(spec, "rolling", rolling_frame)


def _register_drill(spec: TrendSpec) -> None:
    def drill_table(raw: dict) -> tuple[params.View, pd.DataFrame | None]:
        view = view_from(spec, raw)
        if view.area not in series.force_areas(state.store(), view.force).csps or _held_measure(spec, raw):
            return view, None
        return view, series.neighbourhood_table(state.store(), view)

    @callback(
        Output(spec.id("drill"), "rowData"),
        Output(spec.id("drill"), "columnDefs"),
        Output(spec.id("drill-caption"), "children"),
        Output(spec.id("drill-wrap"), "style"),
        *_inputs(spec),
        Input(spec.id("version"), "data"),
    )
    def update_drilldown(*values):
        *values, token = values
        raw = _values(spec, tuple(values))
        with state.pinned(token):
            view, table = drill_table(raw)
        if table is None:
            if _held_measure(spec, raw):
                return [], [], f"No {_held_measure(spec, raw).lower()} are recorded in the store.", HIDDEN
            return ([], [], f"Choose a CSP (not {view.area}) in Area to see its neighbourhoods ranked by how far they "
                    "are above expected, and click one for its chart.", HIDDEN)
        shown = controls.drilldown_rows(table)
        if spec.caution_below is not None:
            shown["Caution"] = _caution_column(spec, shown["Count"])
        caption = (f"{view.area}, {view.measure}, {view.month:%B %Y}: ranked by count minus expected. "
                   "Click a row for its chart.")
        return shown.replace({np.nan: None}).to_dict("records"), controls.drilldown_columns(shown), caption, SHOWN

    @callback(Output(spec.id("neighbourhood"), "data", allow_duplicate=True), Input(spec.id("drill"), "cellClicked"),
              prevent_initial_call=True)
    def drill_clicked(cell):
        name = clicked_id(cell)
        return name if name is not None else no_update

    @callback(
        Output(spec.id("drill-chart"), "figure"),
        Output(spec.id("drill-chart"), "style"),
        Output(spec.id("drill-chart-summary"), "children"),
        Input(spec.id("neighbourhood"), "data"),
        *_inputs(spec),
        Input(spec.id("version"), "data"),
    )
    def update_drill_chart(neighbourhood, *values):
        *values, token = values
        with state.pinned(token):
            return _drill_chart(neighbourhood, tuple(values))

    def _drill_chart(neighbourhood, values: tuple):
        raw = _values(spec, values)
        view = view_from(spec, {**raw, "neighbourhood": neighbourhood if isinstance(neighbourhood, str) else None})
        if not view.neighbourhood or _held_measure(spec, raw):
            return components.empty_figure(""), HIDDEN, ""
        table = _series(spec, view, neighbourhood=view.neighbourhood)
        title = f"{view.neighbourhood} ({view.area}) - {view.measure}"
        figure = components.trend_figure(table, title, count_label=spec.label_for(view.measure))
        return components.half_width(figure), SHOWN, summaries.chart_summary(table, title, view.month)

    def drill_frame(raw: dict, view: params.View):
        view, table = drill_table(raw)
        if table is None:
            return None
        shown = controls.drilldown_rows(table).drop(columns="id")
        if spec.caution_below is not None:
            shown["Caution"] = _caution_column(spec, shown["Count"])
        return (shown, f"Neighbourhoods of {view.area} - {view.measure}",
                ["neighbourhoods", view.area, view.measure, params.month_key(view.month), view.method, f"k{view.k:g}"])

    _register_grid_export(spec, "drill", drill_frame)


# --------------------------------------------------------------------------- exports


def _view_url(href, view: params.View, extra: dict, neighbourhood: str | None = None) -> str:
    """The address of this view (the page's own address with the view's parameters)."""
    base = href.split("#", 1)[0].split("?", 1)[0] if isinstance(href, str) else ""
    return base + view.query_string(**{**extra, "neighbourhood": neighbourhood})


def _about(spec: TrendSpec, view: params.View, extra: dict, title: str, href, neighbourhood: str | None = None) -> dict:
    """The About sheet for a trend-tab export: the view's filters, method, k, report month and the store's provenance."""
    filters = {"Area": view.area, spec.measure_label: view.measure, "Financial year": params.fy_label(view.fy),
               **{name.capitalize(): str(value) for name, value in extra.items()}}
    if neighbourhood:
        filters["Neighbourhood"] = neighbourhood
    return describe_view(state.store(), [datasets.get(spec.dataset).source], title=title,
                         view_url=_view_url(href, view, extra, neighbourhood), filters=filters, method=view.method,
                         k=view.k, report_month=view.month)


def _send(frame: pd.DataFrame, about: dict, parts: list, spec: TrendSpec) -> tuple:
    """(dcc.Download data, message) for a frame in the clicked format."""
    return downloads.frame_download(frame, about, [spec.file_prefix, *parts], downloads.clicked_format())


def _register_grid_export(spec: TrendSpec, part: str, frame_of: Callable) -> None:
    """CSV/Excel of one grid exactly as shown: the frame is rebuilt on the server from the
    selectors, then the grid's filterModel and columnState (sort, visible columns) are replayed.

    frame_of(raw, view) -> (frame with the grid's columns, title, file-name parts) or None (nothing shown).
    """
    grid = spec.id(part)

    @callback(*downloads.outputs(grid), *downloads.inputs(grid), State(grid, "filterModel"), State(grid, "columnState"),
              *_inputs(spec, State), State(spec.id("version"), "data"), State(spec.id("url"), "href"),
              prevent_initial_call=True)
    def download_grid(*args):
        filter_model, column_state = args[len(FORMATS)], args[len(FORMATS) + 1]
        values, token, href = args[len(FORMATS) + 2:-2], args[-2], args[-1]
        with state.pinned(token):
            return _download_grid(filter_model, column_state, values, href)

    def _download_grid(filter_model, column_state, values: tuple, href):
        raw = _values(spec, tuple(values))
        view = view_from(spec, raw)
        extra, _ = _extra(spec, raw, view)
        made = frame_of(raw, view)
        if made is None:
            return no_update, "Nothing to download: choose a CSP in Area first."
        frame, title, parts = made
        about = _about(spec, view, extra, title, href)
        return downloads.grid_download(frame, filter_model, column_state, downloads.clicked_format(), about,
                                       [spec.file_prefix, *parts])


# --------------------------------------------------------------------------- ward map


def _register_map(spec: TrendSpec) -> None:
    @versioned.callback(spec.dataset,
        Output(spec.id("drill-map"), "figure"),
        Output(spec.id("drill-map"), "style"),
        Output(spec.id("drill-map-summary"), "children"),
        Output(spec.id("drill-map-table"), "children"),
        Output(spec.id("drill-map-known"), "data"),
        Output(spec.id("drill-map-hint"), "style"),
        *_inputs(spec),
        prevent_initial_call=True,  # the layout draws the first map
    )
    def update_map(*values):
        """The chosen CSP's wards for the tab's measure, month, method and k (nothing drawn for a county or force)."""
        raw = _values(spec, values)
        if _held_measure(spec, raw):
            return {}, HIDDEN, f"No {_held_measure(spec, raw).lower()} are recorded in the store.", [], [], HIDDEN
        return _map_parts(spec, view_from(spec, raw))

    @callback(Output(spec.id("neighbourhood"), "data", allow_duplicate=True), Input(spec.id("drill-map"), "clickData"),
              State(spec.id("drill-map-known"), "data"), prevent_initial_call=True)
    def map_clicked(click_data, known):
        """A ward clicked opens its neighbourhood's chart here, exactly as its row in the table does."""
        name = map_card.neighbourhood_from_click(click_data, known if isinstance(known, list) else [])
        return name if name is not None else no_update

    # The chart opens in the neighbourhoods card, which may be off-screen (above the map on a
    # wide screen, far above on a phone): bring it into view once it is drawn.
    clientside_callback(
        f"""function(clickData) {{
            if (!clickData) {{ return window.dash_clientside.no_update; }}
            const started = Date.now();
            const reveal = () => {{
                const chart = document.getElementById('{spec.id("drill-chart")}');
                if (chart && chart.offsetParent !== null && chart.querySelector('.gtitle')) {{
                    chart.scrollIntoView({{block: 'center'}});
                }} else if (Date.now() - started < 10000) {{
                    setTimeout(reveal, 200);
                }}
            }};
            setTimeout(reveal, 200);
            return window.dash_clientside.no_update;
        }}""",
        Output(spec.id("drill-map-known"), "data", allow_duplicate=True),
        Input(spec.id("drill-map"), "clickData"),
        prevent_initial_call=True,
    )
