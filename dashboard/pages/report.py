"""Report tab: the monthly Community Safety Partnership Performance Report for a month,
shown as the same HTML that is printed to PDF, with its PDF and Word files to download.

Nothing slow runs in a request: the files are prepared by a background process
(`queries.report_jobs`) into a cache folder per store version, this page polls its
progress, and a small Flask route (`dashboard/report_files.py`) serves the finished files from that folder.
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, dcc, html

from dashboard import auth, components, state, versioned
from dashboard.safe import callback, page_layout
from dashboard.report_files import ROUTE, cache_dir
from queries import commentary, geography, marac, params, report, report_jobs, roles, series

P = "report"  # id prefix
# The commentary editor's id prefix: the server checks it as its own pseudo-dataset (roles.COMMENTARY),
# so a board member's crafted save or approve gets 403 even though the Report page is theirs to read.
N = roles.COMMENTARY
POLL_MS = 1000

dash.register_page(__name__, path="/report", name="Report", title="Report - CSP Performance", order=8)


def _force(raw: object, warnings: list[str] | None = None) -> str | None:
    """The force reported on, read through the one `force` parameter: None in a one-force store."""
    store = state.store()
    if len(geography.force_slugs(store.data_dir)) < 2:
        return None
    return params.loose("force", raw, params.Context(store, report.DATASET, state.config),
                        warnings if warnings is not None else [])


def _job(month: pd.Timestamp, force: str | None = None) -> report_jobs.Job:
    """The report this requester may have: with MARAC only when their role and session allow it, and
    the force's own approved commentary (area names such as "Force Area" repeat across forces)."""
    config = state.config
    store = state.store()
    notes = report_jobs.approved_notes(config.state_dir, month, store.data_dir, force)
    return report_jobs.Job(store.data_dir, cache_dir(), report.store_version(store).key, month, config.limit_method,
                           config.k, config.min_significant, config.suppress_below,
                           config.state_dir, report.notes_key(notes),
                           closed_session=auth.may_view(marac.DATASET), force=force or "")


def _months(force: str | None = None) -> list[str]:
    store = state.store()
    if not store.has(report.DATASET):
        return []
    return [f"{m:%Y-%m}" for m in reversed(series.coverage(store, report.DATASET, force))]


def _force_links(force: str | None) -> html.Div | None:
    """In a store of several forces, which force's report this is, and the others' (area names repeat across forces)."""
    store = state.store()
    slugs = geography.force_slugs(store.data_dir)
    if len(slugs) < 2:
        return None
    links = [html.A(geography.areas(store.data_dir, slug).force.name, href=f"/report?force={slug}",
                    className="btn btn-sm me-2 " + ("btn-primary" if slug == force else "btn-outline-secondary"),
                    **({"aria-current": "page"} if slug == force else {}))
             for slug in slugs]
    return html.Nav([html.Span("Force: ", className="small fw-semibold me-2"), *links], id=f"{P}-forces",
                    className="mb-2 no-print", **{"aria-label": "Force reported on"})


@page_layout
def layout(month: str | None = None, force: str | None = None, **_params) -> html.Div:
    notes: list[str] = []
    force = _force(force, notes)
    months = _months(force)
    if not months:
        return dbc.Alert("The store holds no crime data, so there is no report to show. Import some first.", color="warning")
    warning = dbc.Alert(" ".join(notes), color="warning", class_name="py-2") if notes else None
    if month not in months:
        if month is not None:
            notes.append(f"The store does not hold month {month!r}; showing {months[0]} instead "
                         f"(held: {months[-1]} to {months[0]}).")
            warning = dbc.Alert(" ".join(notes), color="warning", class_name="py-2")
        month = months[0]
    config = state.config
    controls = dbc.Row([
        dbc.Col([dbc.Label("Report month (up to and including)", html_for=f"{P}-month"),
                 dcc.Dropdown(id=f"{P}-month", options=[{"label": f"{pd.Timestamp(m):%B %Y}", "value": m} for m in months],
                              value=month, clearable=False)], md=4),
        dbc.Col(html.P(f"Limits: {config.limit_method} method, k = {config.k:g}; issues need a count of at least "
                       f"{config.min_significant}.", className="small text-muted mt-4"), md=5),
        dbc.Col(dbc.Button("Prepare PDF and Word", id=f"{P}-prepare", color="primary", class_name="mt-4 no-print"), md=3),
    ], class_name="no-print")
    return html.Div([
        *versioned.parts(P),  # the version this page is drawn from, and "Newer data available"
        warning,
        components.card("Community Safety Partnership Performance Report", [
            _force_links(force),
            dcc.Store(id=f"{P}-force", data=force),
            controls,
            html.Div(id=f"{P}-status", className="mt-3"),
            html.Div(id=f"{P}-downloads", className="mt-2"),
        ]),
        commentary_card(month, force) if auth.may_view(roles.COMMENTARY) else html.P(
            "Commentary is written and approved by analysts; the report below shows the approved commentary.",
            className="small text-muted", id=f"{P}-commentary-note"),
        html.Iframe(id=f"{P}-frame", className="report-frame", style={"width": "100%", "height": "85vh", "border": "0",
                                                                      "background": "#fff", "display": "none"}),
        dcc.Interval(id=f"{P}-poll", interval=POLL_MS, disabled=True),
    ])


def _file_url(job: report_jobs.Job, fmt: str) -> str:
    return f"{ROUTE}/{job.version}/{job.folder.name}/report.{fmt}"


def _view(month: str | None, started: bool = False, force: str | None = None):
    """(status, downloads, iframe src, iframe style, poll disabled) for a month's report (of one force)."""
    try:
        job = _job(report.check_month(state.store(), month, force=force), force)
    except (ValueError, LookupError) as exc:
        return dbc.Alert(str(exc), color="warning"), None, None, {"display": "none"}, True
    status = report_jobs.start(job) if started else report_jobs.read_status(job)
    hidden = {"width": "100%", "height": "85vh", "border": "0", "display": "none"}
    if status["state"] == report_jobs.DONE:
        downloads = html.Div([
            html.A("Download PDF", href=_file_url(job, "pdf"), className="btn btn-outline-secondary btn-sm me-2",
                   id=f"{P}-pdf", download=f"csp-report-{month}.pdf"),
            html.A("Download Word", href=_file_url(job, "docx"), className="btn btn-outline-secondary btn-sm me-2",
                   id=f"{P}-docx", download=f"csp-report-{month}.docx"),
            html.A("Open the report on its own (print from here)", href=_file_url(job, "html"), target="_blank",
                   className="btn btn-link btn-sm", id=f"{P}-html"),
        ])
        session = ("Closed session: this report includes MARAC." if job.closed_session else
                   "Open session: this report leaves MARAC out (it is reported in closed session only).")
        note = html.P(f"Built from store version {job.version}. {session}", className="small text-muted mb-0",
                      id=f"{P}-session")
        return note, downloads, _file_url(job, "html"), dict(hidden, display="block"), True
    if status["state"] == report_jobs.FAILED:
        return dbc.Alert(f"Preparing the report failed: {status['error']}", color="danger"), None, None, hidden, True
    if status["state"] in (report_jobs.QUEUED, report_jobs.RUNNING):
        total = status.get("total") or 0
        value = int(100 * status.get("done", 0) / total) if total else 5
        label = f"{status.get('stage', '')} ({status.get('done', 0)} of {total})" if total else status.get("stage", "")
        return html.Div([html.P(label, className="small mb-1", id=f"{P}-stage"),
                         dbc.Progress(value=value, striped=True, animated=True)]), None, None, hidden, False
    return (html.P("This report has not been prepared for the current data yet: press \"Prepare PDF and Word\" "
                   "(it takes about a second a chart).", className="small"), None, None, hidden, True)


@versioned.callback(P,
    Output(f"{P}-status", "children"), Output(f"{P}-downloads", "children"), Output(f"{P}-frame", "src"),
    Output(f"{P}-frame", "style"), Output(f"{P}-poll", "disabled"),
    Input(f"{P}-month", "value"), Input(f"{P}-prepare", "n_clicks"), Input(f"{P}-poll", "n_intervals"),
    State(f"{P}-force", "data"),
)
def _update(month, _clicks, _ticks, force=None):
    started = dash.ctx.triggered_id == f"{P}-prepare"
    return _view(month, started, _force(force))


# --------------------------------------------------------------------------- commentary

WHOLE_AREA = "__activity__"  # the "about" choice for the area's CSP Activity (measure "")


def _sections(force: str | None) -> list[str]:
    """The force's report sections (areas), in report order: what commentary may be written about."""
    return [a for a, _ in report.report_sections(series.force_areas(state.store(), force))]


def _about_options(month: str, area: str, force: str | None = None) -> list[dict]:
    """CSP Activity first, then the area's computed Current Issues, then every other measure."""
    store = state.store()
    config = state.config
    areas = _sections(force)
    area = area if isinstance(area, str) and area in areas else areas[0]
    options = [{"label": commentary.KIND_LABELS[commentary.ACTIVITY], "value": WHOLE_AREA}]
    try:
        # The board's walk holds every section's Current Issues, in the report's order (memoised per version).
        walk = report.board_walk(store, report.check_month(store, month, force=force), config.limit_method,
                                 config.k, config.min_significant, force=force)
        issues = [f.measure for f in walk.issues if f.area == area]
    except (ValueError, LookupError):
        issues = []
    options += [{"label": f"Current Issue: {m}", "value": m} for m in issues]
    options += [{"label": m, "value": m} for m in series.measures(store, report.DATASET) if m not in issues]
    return options


NOTE_KINDS = (commentary.COMMENTARY, commentary.DROP, commentary.ADD)  # for a measure; the area's is ACTIVITY


def _key(month: str, area: str, about: str, kind: str | None, force: str | None = None) -> commentary.Key:
    """The text's key, with the force (its slug; the store's first when None) whose area it is."""
    slug = commentary.force_of(state.store().data_dir, force)
    if about == WHOLE_AREA:
        return commentary.Key(area, "", month, commentary.ACTIVITY, slug)
    return commentary.Key(area, about or "", month, kind if kind in NOTE_KINDS else commentary.COMMENTARY, slug)


def _notes() -> commentary.Commentary:
    return commentary.for_store(state.config.state_dir, state.store().data_dir)


def commentary_card(month: str, force: str | None = None):
    areas = _sections(force)
    return components.card("Commentary and CSP Activity", [
        html.P("Write what the figures cannot say, or drop a computed Current Issue or add one (give the reason). "
               "A draft reaches the board's report once an analyst approves it, shown as theirs; every save and "
               "approval is kept with its author and time.", className="small text-muted"),
        dbc.Row([
            dbc.Col([dbc.Label("Area", html_for=f"{N}-area"),
                     dcc.Dropdown(id=f"{N}-area", options=areas, value=areas[0], clearable=False)], md=4),
            dbc.Col([dbc.Label("About", html_for=f"{N}-about"),
                     dcc.Dropdown(id=f"{N}-about", value=WHOLE_AREA, clearable=False)], md=5),
            dbc.Col([dbc.Label("Your name", html_for=f"{N}-author"),
                     dbc.Input(id=f"{N}-author", maxLength=commentary.MAX_NAME, persistence=True)], md=3),
        ]),
        dbc.RadioItems(id=f"{N}-kind", inline=True, value=commentary.COMMENTARY, class_name="mt-2 small",
                       options=[{"label": commentary.KIND_LABELS[k], "value": k} for k in NOTE_KINDS]),
        dbc.Textarea(id=f"{N}-text", rows=4, maxLength=commentary.MAX_TEXT, class_name="mt-2"),
        html.Div([
            dbc.Button("Save draft", id=f"{N}-save", color="primary", size="sm", class_name="me-2 mt-2"),
            dbc.Button("Approve for the report", id=f"{N}-approve", color="success", outline=True, size="sm",
                       class_name="mt-2"),
        ]),
        html.Div(id=f"{N}-message", className="mt-2"),
        html.P(id=f"{N}-info", className="small text-muted mt-1 mb-1"),
        html.Details([html.Summary("History", className="small"), html.Ul(id=f"{N}-history", className="small")]),
        dcc.Store(id=f"{N}-version", data=0),
    ], id=f"{P}-commentary")


@versioned.callback(P, Output(f"{N}-about", "options"), Output(f"{N}-about", "value"),
          Input(f"{P}-month", "value"), Input(f"{N}-area", "value"), State(f"{N}-about", "value"),
          State(f"{P}-force", "data"))
def _about(month, area, current, force=None):
    options = _about_options(month, area, _force(force))
    values = [o["value"] for o in options]
    return options, current if current in values else WHOLE_AREA


def _describe(entry: commentary.Entry | None) -> str:
    if entry is None:
        return "Nothing saved yet."
    approval = ("approved (this version)" if entry.approved_is_current else
                f"version {entry.approved_version} approved by {entry.approved_by}" if entry.approved_version else
                "not approved: the report does not show it yet")
    return f"Version {entry.version}, saved by {entry.author} at {entry.saved_at}; {approval}."


def _text(value: object) -> str:
    """Text from a box; anything that is not text (a crafted request) counts as empty."""
    return value if isinstance(value, str) else ""


def _version(value: object) -> int:
    """The version the editor loaded; a crafted value counts as 0 (so a save is refused if anyone saved)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _history(notes: commentary.Commentary, key: commentary.Key) -> list:
    return [html.Li(f"v{e.version} {e.action} by {e.author} at {e.at}: {e.text}") for e in reversed(notes.history(key))]


@versioned.callback(P,
    Output(f"{N}-text", "value"), Output(f"{N}-version", "data"), Output(f"{N}-info", "children"),
    Output(f"{N}-message", "children"), Output(f"{N}-history", "children"),
    Input(f"{P}-month", "value"), Input(f"{N}-area", "value"), Input(f"{N}-about", "value"),
    Input(f"{N}-kind", "value"), Input(f"{N}-save", "n_clicks"), Input(f"{N}-approve", "n_clicks"),
    State(f"{N}-text", "value"), State(f"{N}-author", "value"), State(f"{N}-version", "data"),
    State(f"{P}-force", "data"),
)
def _commentary(month, area, about, kind, _save, _approve, text, author, base, force=None):
    """Load, save (refused with both texts if someone saved first) or approve the text shown, for the
    force the page reports on (its `force` is checked like any parameter)."""
    trigger = dash.ctx.triggered_id
    try:
        notes = _notes()
        key = _key(month, area, about, kind, _force(force))
        text, author, base = _text(text), _text(author), _version(base)
        message = None
        if trigger == f"{N}-save":
            entry = notes.save(key, text or "", author or "", int(base or 0))
            message = dbc.Alert(f"Saved as version {entry.version}.", color="success", class_name="py-1")
        elif trigger == f"{N}-approve":
            entry = notes.approve(key, author or "", int(base or 0))
            message = dbc.Alert(f"Version {entry.version} approved: it will appear in the report.", color="success",
                                class_name="py-1")
        entry = notes.get(key)
    except commentary.Conflict as clash:
        theirs = clash.theirs
        message = dbc.Alert([
            html.Strong(f"Not saved: {theirs.author} saved version {theirs.version} at {theirs.saved_at} while you "
                        "were editing. Their text is now in the box; yours is below. Merge them and save again."),
            html.Pre(clash.mine, className="mt-2 mb-0", id=f"{N}-mine", style={"whiteSpace": "pre-wrap"}),
        ], color="danger")
        return theirs.text, theirs.version, _describe(theirs), message, _history(notes, key)
    except commentary.CommentaryError as exc:
        return dash.no_update, dash.no_update, dash.no_update, dbc.Alert(str(exc), color="warning", class_name="py-1"), dash.no_update
    if trigger in (f"{N}-save", f"{N}-approve"):
        return entry.text, entry.version, _describe(entry), message, _history(notes, key)
    return (entry.text if entry else ""), (entry.version if entry else 0), _describe(entry), None, _history(notes, key)


@callback(Output(f"{N}-kind", "style"), Input(f"{N}-about", "value"))
def _kind_shown(about):
    """Drop and add apply to a measure; the area's CSP Activity has no such choice."""
    return {"display": "none"} if about == WHOLE_AREA else {}


versioned.register(P)
