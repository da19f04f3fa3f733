"""The page shell every tab sits in: language, landmarks, one h1, skip link, a navigation bar
that collapses on phones, a real 404, a friendly page for over-long addresses, and the one
loading wrapper cards use.

Why here and not in each page: these are the same on every page, and axe-core checks them
on every page (html-has-lang, landmark-one-main, page-has-heading-one, bypass).
"""
from __future__ import annotations

import html as html_text

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, clientside_callback, dcc, html

MAIN_ID = "main"
HEADING_ID = "page-heading"
NAV_COLLAPSE_ID = "nav-collapse"
NAV_TOGGLER_ID = "nav-toggler"
NOT_FOUND_NAME = "Page not found"
# Addresses longer than this get the friendly "address too long" page (HTTP 414). No view's
# link comes near it (the longest, a neighbourhood chart, is under 300 characters). gunicorn
# must let such a line through to Flask: see gunicorn.conf.py (limit_request_line).
MAX_URL_CHARS = 8000
# Wait this long before showing a spinner, so quick callbacks do not flicker.
LOADING_DELAY_MS = 300

# `lang` on <html> (screen readers pick the voice from it; axe html-has-lang).
INDEX_STRING = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""
# The trend chart needs plotly.js (4.8 MB raw, ~1.4 MB brotli), which dcc.Graph only asks for
# once the page's content has come back from the server and the graph mounts. Preloading it
# starts that download with the other bundles instead (issue 12: first load). The address is
# dcc's own (an async chunk, no fingerprint); the CSP's script-src 'self' covers it.
PRELOADED_SCRIPTS = ("_dash-component-suites/plotly/package_data/plotly.min.js",)


def index_string(prefix: str) -> str:
    """INDEX_STRING with the preload links for an app served under `prefix` (ends in "/")."""
    links = "".join(f'\n        <link rel="preload" href="{html_text.escape(prefix + path)}" as="script">'
                    for path in PRELOADED_SCRIPTS)
    return INDEX_STRING.replace("{%css%}", "{%css%}" + links)


# Phones: let the page fit the screen rather than a 980 px desktop canvas.
META_TAGS = [{"name": "viewport", "content": "width=device-width, initial-scale=1"}]


def loading(component, *, id: str | dict | None = None) -> dcc.Loading:
    """THE wrapper for any card content a callback redraws (chart, grid, map): a spinner after
    LOADING_DELAY_MS, announced politely to screen readers, the old content kept underneath."""
    kwargs = {"id": id} if id is not None else {}
    return dcc.Loading(component, type="circle", delay_show=LOADING_DELAY_MS, overlay_style={"visibility": "visible", "opacity": 0.5},
                       **kwargs)


def skip_link() -> html.A:
    return html.A("Skip to main content", href=f"#{MAIN_ID}", className="visually-hidden-focusable skip-link")


def navbar(title: str, extra=None) -> dbc.Navbar:
    """Brand + the page links the visitor's role may open (+ `extra`, the sign-in status);
    on narrow screens the links fold behind a labelled toggler button."""
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
        for page in dash.page_registry.values()
        if not page.get("hidden") and may_view_page(page)
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand(title, href="/", class_name="fw-semibold text-wrap"),
                # react-bootstrap names the button "Toggle navigation" (aria-label).
                dbc.NavbarToggler(id=NAV_TOGGLER_ID, n_clicks=0),
                dbc.Collapse([dbc.Nav(links, navbar=True, class_name="ms-auto", pills=True), *([extra] if extra else [])],
                             id=NAV_COLLAPSE_ID, is_open=False, navbar=True),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        expand="lg",
        class_name="mb-3",
    )


# Which pages the visitor may open (set by create_app from the roles table): every list of
# page links (navbar, headings store, 404 and 414 pages) names only those.
may_view_page = lambda page: True  # noqa: E731


def page_names() -> dict[str, str]:
    """Path -> the h1 text: the page's name as the navigation bar says it (pages the visitor may open)."""
    return {page["relative_path"]: page["name"] for page in dash.page_registry.values()
            if not page.get("hidden") and may_view_page(page)}


def main_area(children) -> html.Main:
    """The one <main> landmark, focus target of the skip link, led by the page's one h1."""
    return html.Main(
        [html.H1(id=HEADING_ID, className="h4 mb-2"), dcc.Location(id="shell-url", refresh=False),
         dcc.Store(id="shell-pages", data=page_names()), *children],
        id=MAIN_ID, tabIndex="-1",
    )


# The h1 follows the address at once, in the browser (pages change without a reload).
clientside_callback(
    f"""function(pathname, names) {{
        const text = (names && names[pathname]) || {NOT_FOUND_NAME!r};
        return text;
    }}""",
    Output(HEADING_ID, "children"),
    Input("shell-url", "pathname"),
    State("shell-pages", "data"),
)

clientside_callback(
    "function(n, open) { return n ? !open : open; }",
    Output(NAV_COLLAPSE_ID, "is_open"),
    Input(NAV_TOGGLER_ID, "n_clicks"),
    State(NAV_COLLAPSE_ID, "is_open"),
)


# --------------------------------------------------------------------------- server side


def _plain_page(title: str, message: str, status: int) -> flask.Response:
    """A small self-contained HTML page (no Dash: it must work when Dash cannot help)."""
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html_text.escape(title)} - CSP Performance</title>
<style>body{{font-family:Segoe UI,Helvetica,Arial,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}</style>
</head><body><main><h1>{html_text.escape(title)}</h1><p>{html_text.escape(message)}</p>
<nav aria-label="Pages"><ul>{''.join(f'<li><a href="{html_text.escape(path)}">{html_text.escape(name)}</a></li>' for path, name in page_names().items())}</ul></nav>
</main></body></html>"""
    return flask.Response(body, status=status, mimetype="text/html")


# Static bundles (plotly.js is 4.8 MB) are the same bytes on every load: compress each once per
# worker instead of on every request. Only GETs of these paths are cached; callback answers never.
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
COMPRESSED_CACHE_ENTRIES = 128
_NOT_CACHED = "not-cached:"


def compression_cache_key(request) -> str:
    """flask-compress's cache key: the address for static GETs, a never-stored key otherwise."""
    if request.method == "GET" and any(p in request.path for p in STATIC_PREFIXES):
        return request.full_path
    return _NOT_CACHED


class StaticCompressionCache:
    """A small bounded in-process cache for flask-compress (COMPRESS_CACHE_BACKEND)."""

    def __init__(self, size: int = COMPRESSED_CACHE_ENTRIES):
        import collections
        import threading

        self._entries: collections.OrderedDict = collections.OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str):
        if key.endswith(_NOT_CACHED):
            return None
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def set(self, key: str, value) -> None:
        if key.endswith(_NOT_CACHED):
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


def configure_compression(server: flask.Flask) -> None:
    """Set before Dash(compress=True) initialises flask-compress (it reads the config then)."""
    server.config.setdefault("COMPRESS_CACHE_BACKEND", StaticCompressionCache)
    server.config.setdefault("COMPRESS_CACHE_KEY", compression_cache_key)


def install_server_hooks(app: dash.Dash) -> None:
    """Friendly over-long address page; HTTP 404 status for unknown page addresses."""
    server = app.server
    prefix = app.config.requests_pathname_prefix.rstrip("/")

    @server.before_request
    def _refuse_long_urls():
        if len(flask.request.full_path) > MAX_URL_CHARS:
            return _plain_page(
                "Address too long",
                f"This address is {len(flask.request.full_path):,} characters long; the dashboard accepts up to "
                f"{MAX_URL_CHARS:,}. A link may have been pasted twice or cut badly. Start again from one of these pages:",
                414,
            )
        return None

    known = None

    @server.after_request
    def _not_found_status(response: flask.Response):
        nonlocal known
        if known is None:
            known = {prefix + page["relative_path"].removeprefix(prefix) for page in dash.page_registry.values()
                     if not page.get("hidden")}
            known |= {p.rstrip("/") for p in known if p != "/"}
        path = flask.request.path
        is_page = flask.request.method == "GET" and response.mimetype == "text/html" and response.status_code == 200
        internal = any(part in path for part in ("/_dash", "/assets/", "/_reload", "/_favicon"))
        # Only Dash's catch-all answers unknown addresses; a route of its own (/admin) is a real page.
        rule = flask.request.url_rule
        dash_catch_all = rule is None or "<path:" in rule.rule or rule.rule == prefix
        if is_page and not internal and path not in known and dash_catch_all:
            response.status_code = 404
        return response
