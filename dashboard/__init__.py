"""The Dash app: a navigation bar over one page per tab (Dash `pages`, state from the URL)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import html

from dashboard import auth, state
from queries import settings
from queries.settings import REPO_ROOT

TITLE = "Community Safety Partnership Performance"


def _navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
        for page in dash.page_registry.values()
        if not page.get("hidden") and auth.may_view(auth.page_dataset(page))
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand(TITLE, href="/", class_name="fw-semibold"),
                dbc.Nav(links, navbar=True, class_name="ms-auto", pills=True),
                html.Div(auth.status_bar(), className="d-flex align-items-center ms-3"),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        class_name="mb-3",
    )


def _synthetic_banner() -> html.Div | None:
    store = state.store()
    synthetic = [d for d in store.datasets if store.is_synthetic(d)]
    if not synthetic:
        return None
    return dbc.Alert(
        [
            html.Strong("Synthetic demo data: "),
            f"the {', '.join(sorted(synthetic))} figures are invented for demonstration, not real. "
            "Import real files with python app.py import (see README).",
        ],
        color="warning",
        class_name="py-2 mb-2",
        id="synthetic-banner",
    )


def serve_layout() -> html.Div:
    """Built per page load so a finished import (and its banner) shows without a restart."""
    state.store().refresh()
    return html.Div(
        [
            _navbar(),
            dbc.Container([_synthetic_banner(), dash.page_container], fluid=True, class_name="pb-5"),
        ],
        className=auth.hidden_controls(),  # assets/roles.css hides what the role may not use
    )


def create_app(data_dir: Path | str) -> dash.Dash:
    state.init(data_dir)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(Path(__file__).parent / "pages"),
        assets_folder=str(REPO_ROOT / "assets"),
        title=TITLE,
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.layout = serve_layout
    # The state directory sits beside the store actually served (`run --data-dir` may differ from CSP_DATA_DIR).
    auth.install(app, dataclasses.replace(state.config, state_dir=settings.state_dir_for(dict(os.environ), Path(data_dir))))
    return app
