"""One store version per page, and the "Newer data available" banner, for every page.

An import can swap the store while a page is open. Each card of a page is its own HTTP
request, so a page that let each callback read the current version could show one card from
the old data and the next from the new. So a page records the version it was drawn from
(`parts`: a dcc.Store "<prefix>-version"), every callback of the page reads through it
(`callback`: the page's version State is added, and the body runs inside
`state.pinned(token)`), and once a minute (`CSP_VERSION_CHECK_SECONDS`) the page asks whether
a newer version exists (`register`): an ordinary page keeps its figures and says
"Newer data available" with a reload link; a board view (trend tabs, `board_id`) moves to
the newer version and its callbacks redraw it whole.

The trend tabs (dashboard/board.py), the Map, Data, Report and MARAC pages and the public hate
view all use these three: one component, one check, one way to pin. Ids follow the
"<prefix>-<part>" convention, so the server's role check treats the version store as part of
the page's dataset (dashboard/auth.py).
"""
from __future__ import annotations

import functools

import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update

from dashboard import state
from dashboard.safe import callback as total_callback

MS_PER_SECOND = 1000
NEWER_DATA = "Newer data available"
VERSION, TICK, NEWER = "version", "tick", "newer"  # the parts' names after "<prefix>-"


def version_id(prefix: str) -> str:
    """The id of the page's version store."""
    return f"{prefix}-{VERSION}"


def parts(prefix: str, token: str | None = None) -> list:
    """The page's version (`token`, default the version this layout is drawn from), the minute's
    check and the banner's place (a status region, so a screen reader hears it appear)."""
    return [
        dcc.Store(id=version_id(prefix), data=state.store().token if token is None else token),
        dcc.Interval(id=f"{prefix}-{TICK}", interval=state.config.version_check_seconds * MS_PER_SECOND),
        html.Div(id=f"{prefix}-{NEWER}", role="status"),
    ]


def banner() -> dbc.Alert:
    """What an ordinary page says when the store has moved on since it was drawn."""
    return dbc.Alert([html.Strong(f"{NEWER_DATA}. "), "This page shows the data as it was when opened; ",
                      html.A("reload to see the newer data", href="", className="alert-link"), "."],
                     color="info", class_name="py-2 mb-2 newer-data")


def register(prefix: str, board_id: str | None = None) -> None:
    """The minute's version check for one page (`board_id`: the trend tab's board-view flag)."""
    extra = [State(board_id, "data")] if board_id else []

    @total_callback(Output(version_id(prefix), "data"), Output(f"{prefix}-{NEWER}", "children"),
                    Input(f"{prefix}-{TICK}", "n_intervals"), State(version_id(prefix), "data"), *extra,
                    prevent_initial_call=True)
    def check_version(_ticks, token, board=None):
        """Each minute: a board view moves to a newer store version (its callbacks redraw it whole
        from that one version); an ordinary page keeps its version and says newer data is there."""
        current = state.store().snapshot().token
        if not isinstance(token, str) or token == current:
            return no_update, no_update
        if board is True:
            return current, []
        return no_update, banner()


def callback(prefix: str, *args, **kwargs):
    """`dashboard.safe.callback` for a page's callback that reads the store: the page's version is
    added as the last State and taken off again, and the body reads that one version throughout.
    A crafted or missing token reads the current version (`state.pinned`)."""
    def decorate(fn):
        @functools.wraps(fn)
        def read_pinned(*values):
            *own, token = values
            with state.pinned(token):
                return fn(*own)

        return total_callback(*args, State(version_id(prefix), "data"), **kwargs)(read_pinned)

    return decorate
