"""The page for an address the dashboard does not have (Dash pages uses a module of this name).

The server also answers such addresses with HTTP 404 (dashboard/shell.py), and the h1 says
"Page not found"; this body gives the way back.
"""
from __future__ import annotations

import dash
from dash import html

dash.register_page(__name__, path="/404", name="Page not found", title="Page not found - CSP Performance", hidden=True)


def layout(**_params) -> html.Div:
    pages = [p for p in dash.page_registry.values() if not p.get("hidden")]
    return html.Div([
        html.P("There is no page at this address. It may have been mistyped, or a link may be out of date."),
        html.P("Go to one of these pages:"),
        html.Ul([html.Li(html.A(p["name"], href=p["relative_path"])) for p in pages], id="not-found-links"),
    ])
