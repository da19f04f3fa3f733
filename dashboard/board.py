"""The board view of a trend tab (`present=1`): the chart alone, large, for a projector, and a
walk through the month's Current Issues by keyboard.

What the board reads from the back of a room: the chart fills the screen (assets/board.css
lays the view over the page, with no navigation bar), a bar above it says which issue is
shown ("3 of 11: Chesterfield - Shoplifting, above"), lets the area change, and carries the
"data as at" stamp. Next/previous buttons step through the Current Issues in the printed
report's order (queries/report.py `board_walk`); assets/board.js gives them keys (a
presenter's clicker sends PageDown/PageUp), with no inline script (docs/security.md's CSP).

Every trend page (board or not) records the store version it was drawn from and checks
every minute for a newer one: the board view redraws itself on it whole (one callback
draws the chart, the key and the stamp from one pinned version, with no loading spinner);
an ordinary page says "newer data available" and offers a reload.

MARAC is not a trend tab but has a board view too (dashboard/pages/marac.py): it takes the
layout, the stamp, the minute's check and the screen width from here (`Ids` names its
components), without the walk, as MARAC has no Current Issues.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc, html, no_update

from dashboard import components, state, versioned
from dashboard.safe import callback
from queries import datasets, params, report, series

if TYPE_CHECKING:  # trend_tab imports this module
    from dashboard.trend_tab import TrendSpec

VISUALLY_HIDDEN = "visually-hidden"
# The keys assets/board.js gives the walk (shown on the buttons' titles and in the README).
NEXT_KEYS = "Right arrow, N or Page Down"
PREVIOUS_KEYS = "Left arrow, P or Page Up"
LIST_KEY = "L"
DASH = "\u2013"


class Ids(Protocol):
    """What the board's parts need of a page: its dataset and its component ids ("<dataset>-<part>",
    which the server's role check reads). A TrendSpec is one; BoardIds is one for a page that is not."""

    dataset: str

    def id(self, part: str) -> str: ...


@dataclass(frozen=True)
class BoardIds:
    """The board view's component ids for a page that is not a trend tab (MARAC)."""

    dataset: str

    def id(self, part: str) -> str:
        return f"{self.dataset}-{part}"


def data_stamp(dataset: str, force: str | None = None) -> str:
    """A board chart's "data as at" line: when the store version read was imported and the latest
    month it holds of `dataset` for the force (and that it is invented, for the demo store)."""
    stamp = report.data_as_at(state.store(), dataset, force)
    return stamp + " (synthetic demo data)" if state.store().is_synthetic(datasets.get(dataset).source) else stamp


# --------------------------------------------------------------------------- the walk


def walk_for(spec: "TrendSpec", view: params.View) -> report.Walk:
    """The month's Current Issues for this tab's dataset, or an empty walk when it has none to give."""
    if datasets.get(spec.dataset).sensitive:
        return report.Walk((), ())
    try:
        return report.board_walk(state.store(), view.month, view.method, view.k, view.min_significant, spec.dataset,
                                 force=view.force)  # the chosen force's issues, in its report order
    except (series.NoData, KeyError, ValueError):
        return report.Walk((), ())


def reachable(spec: "TrendSpec", walk: report.Walk) -> list[tuple[report.Flag, dict]]:
    """The issues this tab can show, each with the tab's own control values that select its measure.

    A tab whose measure comes from its own controls (Hate: kind + strand) maps a measure
    back to them with `spec.measure_controls`; an issue it cannot show is left out.
    """
    if spec.measure_controls is None:
        return [(flag, {}) for flag in walk.issues]
    found = [(flag, spec.measure_controls(flag.measure)) for flag in walk.issues]
    return [(flag, extra) for flag, extra in found if extra is not None]


def position(items: list[tuple[report.Flag, dict]], area: str, measure: str) -> int | None:
    """1-based position of an area and measure among the walk's issues, or None."""
    for i, (flag, _extra) in enumerate(items, start=1):
        if flag.area == area and flag.measure == measure:
            return i
    return None


def step(current: int | None, stored: object, forward: bool, count: int) -> int | None:
    """Where next/previous goes: one on from the issue on screen (or from the last one walked to
    when the view has left the list), never past either end; None when there is nothing to walk."""
    if count == 0:
        return None
    base = current if current is not None else (stored if isinstance(stored, int) and not isinstance(stored, bool)
                                                and 1 <= stored <= count else 0)
    return min(max(base + (1 if forward else -1), 1), count)


def issue_words(flag: report.Flag) -> str:
    return f"{flag.area} {DASH} {flag.measure}, {flag.status.lower()}"


def key_text(items: list, here: int | None, view: params.View) -> str:
    """The bar's one line: "3 of 11: Chesterfield - Shoplifting, above", or where the view stands."""
    if not items:
        return f"No Current Issues in {view.month:%B %Y}"
    if here is None:
        return (f"{view.area} {DASH} {view.measure}: not a Current Issue "
                f"({len(items)} in {view.month:%B %Y})")
    return f"{here} of {len(items)}: {issue_words(items[here - 1][0])}"


def issue_list(spec: "TrendSpec", items: list, here: int | None, walk: report.Walk, view: params.View,
               extra: dict) -> list:
    """The numbered Current Issues (each a link to its board view), then the falls below, apart."""
    def link(flag: report.Flag, own: dict, number: int | None) -> str:
        shown = view.with_(area=flag.area, measure=flag.measure, neighbourhood=None)
        return shown.query_string(**{**extra, **own}, issue=str(number) if number else None) + "&present=1"

    rows = [html.Li(html.A(issue_words(flag), href=link(flag, own, i),
                           className="fw-bold" if i == here else None,
                           **({"aria-current": "true"} if i == here else {})))
            for i, (flag, own) in enumerate(items, start=1)]
    parts: list = [html.P(f"Current Issues, {view.month:%B %Y} ({len(items)})", className="fw-semibold mb-1"),
                   html.Ol(rows, className="mb-2") if rows else html.P("None", className="mb-2")]
    below = [f for f in walk.below if spec.measure_controls is None or spec.measure_controls(f.measure) is not None]
    if below:
        parts += [html.P("Below the lower line (not issues)", className="fw-semibold mb-1"),
                  html.Ul([html.Li(f"{f.area} {DASH} {f.measure}") for f in below], className="mb-0")]
    return parts


# --------------------------------------------------------------------------- layout


def version_parts(spec: Ids, token: str | None = None) -> list:
    """On every trend page: the store version it was drawn from (`token`, default the current
    one), the minute check and the banner (dashboard/versioned.py, shared by every page), and
    the window's width for a board chart (assets/board.js)."""
    return [*versioned.parts(spec.dataset, token), dcc.Store(id=spec.id("screen"))]


def bar(spec: Ids, selectors: list, no_walk: str | None = None) -> html.Div:
    """The line above the board chart: the walk, the area (and measure), the stamp and the way out.

    no_walk: a page with no Current Issues to walk (MARAC) gets no step buttons; its bar says
    this instead, and the walk's keys point at it (assets/board.js) rather than doing nothing.
    """
    steps = None if no_walk is not None else html.Div(
        [
            dbc.Button("\u25c0 Previous", id=spec.id("board-prev"), n_clicks=0, color="primary", outline=True,
                       class_name="board-step", title=f"Previous Current Issue ({PREVIOUS_KEYS})"),
            dbc.Button("Next \u25b6", id=spec.id("board-next"), n_clicks=0, color="primary",
                       class_name="board-step", title=f"Next Current Issue ({NEXT_KEYS})"),
            html.Details([html.Summary(f"All issues ({LIST_KEY})", className="btn btn-outline-secondary board-step",
                                       title=f"List the month's Current Issues ({LIST_KEY})"),
                          html.Div(id=spec.id("board-list"), className="board-list-panel")],
                         id=spec.id("board-list-box"), className="board-list"),
        ],
        className="board-walk",
    )
    return html.Div(
        [
            html.Div([html.Div(no_walk, id=spec.id("board-key"), role="status", **{"aria-live": "polite"},
                               className="board-key" + (" board-no-walk" if no_walk is not None else "")),
                      html.A("Exit board view", id=spec.id("board-link"), href="#", className="board-exit")],
                     className="board-line"),
            html.Div([*([steps] if steps is not None else []), html.Div(selectors, className="board-selectors"),
                      # The stamp is drawn on the chart itself (under the months); this copy is for screen readers.
                      html.Span(id=spec.id("stamp"), className=VISUALLY_HIDDEN)],
                     className="board-line"),
        ],
        className="board-bar",
    )


def view(spec: Ids, warnings, selectors: list, hidden_parts: list, no_walk: str | None = None) -> html.Div:
    """The board view: the bar (`selectors`: the area and measure boxes; `no_walk`: see `bar`),
    then the chart filling what is left of the screen.

    No loading wrapper round the chart: on a projector a spinner over the chart at each step
    (or each minute's check) is noise; the figure is swapped whole when its answer arrives.
    """
    graph = dcc.Graph(id=spec.id("chart"), className="board-graph", responsive=True,
                      config={"displaylogo": False, "displayModeBar": False}, style={"height": "100%"})
    return html.Div(
        [
            warnings,
            bar(spec, selectors, no_walk),
            html.Div([html.Div(graph, className="board-graph-box"),
                      html.P(id=spec.id("chart-summary"), className=VISUALLY_HIDDEN)],
                     id=spec.id("chart-region"), tabIndex="-1", role="region", className="board-chart",
                     **{"aria-label": "Trend chart", "aria-describedby": spec.id("chart-summary")}),
            html.Div(id=spec.id("chart-caution"), className="board-notes"),
            components.notes_block([], id=spec.id("notes")),
            html.Div(hidden_parts, style={"display": "none"}),
        ],
        className="board-view", id=spec.id("board-view"),
    )


def placeholders(spec: "TrendSpec") -> html.Div:
    """Outside the board view, the walk's parts exist but are not shown (one chart callback draws both views)."""
    return html.Div([html.Div(id=spec.id("board-key")), html.Div(id=spec.id("board-list")),
                     html.Button(id=spec.id("board-prev"), n_clicks=0, tabIndex="-1"),
                     html.Button(id=spec.id("board-next"), n_clicks=0, tabIndex="-1")],
                    style={"display": "none"}, **{"aria-hidden": "true"})


# --------------------------------------------------------------------------- callbacks


def register(spec: "TrendSpec", inputs, values_of, view_of) -> None:
    """The walk's next/previous and the minute's version check, for one tab.

    inputs(kind) -> the selectors as Inputs/States; values_of(values) -> URL-style parameters;
    view_of(raw) -> a checked View (trend_tab's, passed in to keep one place for each).
    """
    register_screen_and_version(spec)
    targets = [Output(spec.id(name), "value", allow_duplicate=True) for name in ("area", "measure", *spec.extra_params)]

    @callback(*targets, Output(spec.id("issue"), "data"),
              Input(spec.id("board-prev"), "n_clicks"), Input(spec.id("board-next"), "n_clicks"),
              *inputs(State), State(spec.id("issue"), "data"), State(spec.id("version"), "data"),
              prevent_initial_call=True)
    def walk_step(_previous, _next, *values):
        """Next/previous: show the next (or previous) Current Issue, in the report's order."""
        *selected, stored, token = values
        nothing = (no_update,) * (len(targets) + 1)
        forward = dash.ctx.triggered_id == spec.id("board-next") if dash.ctx.triggered_id else True
        with state.pinned(token):
            raw = values_of(tuple(selected))
            shown = view_of(raw)
            items = reachable(spec, walk_for(spec, shown))
            here = position(items, shown.area, shown.measure)
            target = step(here, stored, forward, len(items))
            if target is None:
                return nothing
        flag, own = items[target - 1]
        extras = [own.get(name, no_update) for name in spec.extra_params]
        measure = flag.measure if spec.measure_controls is None else no_update
        return (flag.area, measure, *extras, target)


def register_screen_and_version(spec: Ids) -> None:
    """What every board view registers, walk or not: the window's width for its chart, once
    (assets/board.js), and the minute's check for a newer store version, the same as every
    page's (dashboard/versioned.py): a board view follows the newer version, an ordinary page
    says "Newer data available"."""
    clientside_callback(ClientsideFunction("board", "width"), Output(spec.id("screen"), "data"),
                        Input(spec.id("board"), "data"))
    versioned.register(spec.dataset, board_id=spec.id("board"))
