"""The Dash app: a navigation bar over one page per tab (Dash `pages`, state from the URL)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import flask
from dash import html

from dashboard import auth, guard, shell, state
from queries import settings
from queries.settings import REPO_ROOT

TITLE = "Community Safety Partnership Performance"


def _navbar() -> dbc.Navbar:
    return shell.navbar(TITLE, extra=html.Div(auth.status_bar(), className="d-flex align-items-center ms-3"))


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
            shell.skip_link(),
            html.Header(_navbar()),
            dbc.Container(shell.main_area([_synthetic_banner(), dash.page_container]), fluid=True, class_name="pb-5"),
        ],
        className=auth.hidden_controls(),  # assets/roles.css hides what the role may not use
    )


def create_app(data_dir: Path | str, open_store: bool = True) -> dash.Dash:
    """The whole app on the store in `data_dir`. `open_store=False` (app.py, what gunicorn imports)
    builds it without opening the store's DuckDB connection, so gunicorn can import the app once in
    its master and fork the workers (gunicorn.conf.py: each worker opens its own connection)."""
    state.init(data_dir, open_now=open_store)
    server = flask.Flask(__name__)
    shell.configure_compression(server)
    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(Path(__file__).parent / "pages"),
        assets_folder=str(REPO_ROOT / "assets"),
        title=TITLE,
        suppress_callback_exceptions=True,
        update_title=None,
        # Responses gzip/brotli-compressed by flask-compress (plotly.js alone is 4.8 MB raw).
        compress=True,
        meta_tags=shell.META_TAGS,
    )
    app.index_string = shell.index_string(app.config.requests_pathname_prefix)
    shell.may_view_page = lambda page: auth.page_release(auth.page_dataset(page)) is not None
    shell.install_server_hooks(app)
    app.layout = serve_layout
    app.server.before_request(guard.check_callback_request)
    from dashboard import report_files  # the Report tab's finished files

    report_files.register_routes(app.server)
    _pin_one_version_per_request(app)
    # The state directory sits beside the store actually served (`run --data-dir` may differ from CSP_DATA_DIR).
    auth.install(app, dataclasses.replace(state.config, state_dir=settings.state_dir_for(dict(os.environ), Path(data_dir))))
    return app


def _pin_one_version_per_request(app: dash.Dash) -> None:
    """Every query of one HTTP request (a page layout, one callback) reads one store version.

    An import may swap the store between two queries of the same callback; pinning the
    version for the request means the answer is wholly the old version's or the new one's.
    (Pinning a whole page, across its callbacks, is `state.store().at(token)`.)
    """
    @app.server.before_request
    def _pin():
        pin = state.store().pin()
        pin.__enter__()
        flask.g.csp_store_pin = pin

    @app.server.teardown_request
    def _unpin(_exc):
        pin = flask.g.pop("csp_store_pin", None)
        if pin is not None:
            pin.__exit__(None, None, None)
