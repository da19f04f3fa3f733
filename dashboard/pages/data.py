"""Data tab: what the store holds, where it came from, and where every record went."""
from __future__ import annotations

import pandas as pd

import dash
import dash_bootstrap_components as dbc
from dash import State, html

from dashboard import auth, components, downloads, state, versioned
from dashboard.safe import page_layout
from queries import quality, roles
from queries.export import describe_view
from queries.store import DATASETS

RECON_HEADERS = {"rows_read": "Rows read", "loaded": "Loaded", "outside_area": "Outside force area",
                 "another_owner": "Another force's area", "unknown_area": "Unknown area code",
                 "unallocated": "No location", "rejected": "Rejected", "file": "File", "adds up": "Adds up"}

dash.register_page(__name__, path="/data", name="Data", title="Data - CSP Performance", order=9)
P = "data"  # id prefix (the Data tab's own entry in the roles table)


def _dataset_section(dataset: str) -> dbc.Card:
    store = state.store()
    suppress = state.config.suppress_below
    # Once per store version (nine small queries a dataset; the tables are small, a row per file or month).
    gaps, recon, reasons, by_month = store.cached(("data_section", dataset, suppress), lambda: (
        quality.missing_months(store, dataset), quality.reconciliation(store, dataset),
        quality.rejection_reasons(store, dataset, suppress), quality.reconciliation_by_month(store, dataset)))
    body = [
        html.P(
            ("Missing months (gaps in every chart, never zeros): " + ", ".join(gaps)) if gaps
            else "No months missing between the first and last month held.",
            className="small",
        ),
    ]
    if len(recon):
        ok = bool(recon["adds up"].all())
        body += [
            html.P(
                ("Every file reconciles: rows read = loaded + outside the force area + another force's area + "
                 "unknown area code + no location + rejected."
                 if ok else "Some files do not reconcile: see the rows marked False."),
                className="small " + ("text-success" if ok else "text-danger fw-semibold"),
            ),
            components.grid(f"data-{dataset}-recon", recon.assign(**{"adds up": recon["adds up"].map({True: "yes", False: "NO"})})
                            .rename(columns=RECON_HEADERS)),
        ]
    if len(by_month):
        body += [
            html.H6("By month held (as the store holds it now; past imports are in import-log.jsonl)", className="mt-3"),
            components.grid(f"data-{dataset}-recon-month",
                            by_month.assign(**{"adds up": by_month["adds up"].map({True: "yes", False: "NO"})})
                            .rename(columns={**RECON_HEADERS, "month": "Month", "files": "Files"})),
        ]
    if len(reasons):
        body += [html.H6("Rejected rows by reason", className="mt-3"),
                 html.P(f"The rows themselves are kept in {dataset}/quarantine.csv in the store.", className="small text-muted"),
                 components.grid(f"data-{dataset}-rejected", reasons)]
    return components.card(f"{dataset.capitalize()}", body, id=f"data-{dataset}")


OVERVIEW = "data-overview"


def _overview(store) -> pd.DataFrame:
    """The overview table, built the same way for the page and for its downloads."""
    overview = quality.overview(store)
    overview["synthetic"] = overview["synthetic"].map({True: "yes (demo)", False: "no"})
    return overview


@page_layout
def layout(**_params) -> html.Div:
    store = state.store()
    overview = _overview(store)
    return html.Div(
        [
            *versioned.parts(P),  # the version this page is drawn from, and "Newer data available"
            components.card("Datasets in the store", [
                # Server paths are for admins only (they tell an attacker where to look).
                *([html.P(f"Data directory: {store.data_dir}", className="small text-muted")]
                  if auth.identity().role == roles.ADMIN else []),
                components.grid(OVERVIEW, overview),
            ], actions=[downloads.download_buttons(OVERVIEW, "the datasets table")]),
            *[_dataset_section(d) for d in DATASETS if store.has(d)],
        ]
    )


@versioned.callback(P, *downloads.outputs(OVERVIEW), *downloads.inputs(OVERVIEW),
          State(OVERVIEW, "filterModel"), State(OVERVIEW, "columnState"), State("shell-url", "href"),
          prevent_initial_call=True)
def _download_overview(*args):
    """The overview as shown (grid filters and sort replayed on the server), as CSV or Excel."""
    filter_model, column_state, href = args[-3:]
    store = state.store()
    about = describe_view(store, list(store.datasets), title="Datasets in the store", view_url=href)
    return downloads.grid_download(_overview(store), filter_model, column_state, downloads.clicked_format(), about,
                                   ["datasets-in-the-store"])


versioned.register(P)
