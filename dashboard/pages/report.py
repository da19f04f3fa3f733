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
from dash import Input, Output, State, callback, dcc, html

from dashboard import components, state
from dashboard.report_files import ROUTE, cache_dir
from queries import report, report_jobs, series

P = "report"  # id prefix
POLL_MS = 1000

dash.register_page(__name__, path="/report", name="Report", title="Report - CSP Performance", order=8)


def _job(month: pd.Timestamp) -> report_jobs.Job:
    config = state.config
    store = state.store()
    notes = report_jobs.approved_notes(config.state_dir, month)
    return report_jobs.Job(store.data_dir, cache_dir(), report.store_version(store).key, month, config.limit_method,
                           config.k, config.min_significant, config.suppress_below, config.state_dir,
                           report.notes_key(notes))


def _months() -> list[str]:
    store = state.store()
    if not store.has(report.DATASET):
        return []
    return [f"{m:%Y-%m}" for m in reversed(series.coverage(store, report.DATASET))]


def layout(month: str | None = None, **_params) -> html.Div:
    months = _months()
    if not months:
        return dbc.Alert("The store holds no crime data, so there is no report to show. Import some first.", color="warning")
    warning = None
    if month not in months:
        if month is not None:
            warning = dbc.Alert(f"The store does not hold month {month!r}; showing {months[0]} instead "
                                f"(held: {months[-1]} to {months[0]}).", color="warning", class_name="py-2")
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
        warning,
        components.card("Community Safety Partnership Performance Report", [
            controls,
            html.Div(id=f"{P}-status", className="mt-3"),
            html.Div(id=f"{P}-downloads", className="mt-2"),
        ]),
        html.Iframe(id=f"{P}-frame", className="report-frame", style={"width": "100%", "height": "85vh", "border": "0",
                                                                      "background": "#fff", "display": "none"}),
        dcc.Interval(id=f"{P}-poll", interval=POLL_MS, disabled=True),
    ])


def _file_url(job: report_jobs.Job, fmt: str) -> str:
    return f"{ROUTE}/{job.version}/{job.folder.name}/report.{fmt}"


def _view(month: str | None, started: bool = False):
    """(status, downloads, iframe src, iframe style, poll disabled) for a month's report."""
    try:
        job = _job(report.check_month(state.store(), month))
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
        note = html.P(f"Built from store version {job.version}.", className="small text-muted mb-0")
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


@callback(
    Output(f"{P}-status", "children"), Output(f"{P}-downloads", "children"), Output(f"{P}-frame", "src"),
    Output(f"{P}-frame", "style"), Output(f"{P}-poll", "disabled"),
    Input(f"{P}-month", "value"), Input(f"{P}-prepare", "n_clicks"), Input(f"{P}-poll", "n_intervals"),
)
def _update(month, _clicks, _ticks):
    started = dash.ctx.triggered_id == f"{P}-prepare"
    return _view(month, started)
