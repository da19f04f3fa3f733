"""Data tab: what the store holds, where it came from, and where every record went."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from dashboard import auth, components, state
from queries import quality, roles
from queries.store import DATASETS

RECON_HEADERS = {"rows_read": "Rows read", "loaded": "Loaded", "outside_area": "Outside force area",
                 "unallocated": "No location", "rejected": "Rejected", "file": "File", "adds up": "Adds up"}

dash.register_page(__name__, path="/data", name="Data", title="Data - CSP Performance", order=9)


def _dataset_section(dataset: str) -> dbc.Card:
    store = state.store()
    gaps = quality.missing_months(store, dataset)
    recon = quality.reconciliation(store, dataset)
    reasons = quality.rejection_reasons(store, dataset, state.config.suppress_below)
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
                ("Every file reconciles: rows read = loaded + outside the force area + no location + rejected."
                 if ok else "Some files do not reconcile: see the rows marked False."),
                className="small " + ("text-success" if ok else "text-danger fw-semibold"),
            ),
            components.grid(f"data-{dataset}-recon", recon.assign(**{"adds up": recon["adds up"].map({True: "yes", False: "NO"})})
                            .rename(columns=RECON_HEADERS)),
        ]
    if len(reasons):
        body += [html.H6("Rejected rows by reason", className="mt-3"),
                 html.P(f"The rows themselves are kept in {dataset}/quarantine.csv in the store.", className="small text-muted"),
                 components.grid(f"data-{dataset}-rejected", reasons)]
    return components.card(f"{dataset.capitalize()}", body, id=f"data-{dataset}")


def layout(**_params) -> html.Div:
    store = state.store()
    overview = quality.overview(store)
    overview["synthetic"] = overview["synthetic"].map({True: "yes (demo)", False: "no"})
    return html.Div(
        [
            components.card("Datasets in the store", [
                # Server paths are for admins only (they tell an attacker where to look).
                *([html.P(f"Data directory: {store.data_dir}", className="small text-muted")]
                  if auth.identity().role == roles.ADMIN else []),
                components.grid("data-overview", overview),
            ]),
            *[_dataset_section(d) for d in DATASETS if store.has(d)],
        ]
    )
