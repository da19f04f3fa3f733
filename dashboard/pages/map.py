"""Map tab (`/map`): one CSP's neighbourhoods on a map, for crime, fire or hate crime.

The view comes from the URL like every tab (`?dataset=crime&area=Chesterfield&measure=...`);
the form is a plain GET form, so choosing an area reloads the page with a new address and
needs no callback. Clicking a ward offers that neighbourhood's chart on its own tab.
The map card itself lives in dashboard/map_card.py so the trend tabs can place it too.
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import controls, map_card, state, versioned
from dashboard.safe import page_layout
from queries import geography, params, series

dash.register_page(__name__, path="/map", name="Map", title="Map - CSP Performance", order=4)

DATASETS = {"crime": "Crime", "fire": "Deliberate fires", "hate": "Hate crime"}
DEFAULT_DATASET = "crime"
P = "map"  # id prefix of the page's own parts


def _select(label: str, name: str, value: str, options: list[tuple[str, str]]) -> dbc.Col:
    control_id = f"map-{name}"
    return dbc.Col([
        dbc.Label(label, html_for=control_id, class_name="small mb-0"),
        dbc.Select(id=control_id, name=name, value=value, options=[{"label": t, "value": v} for v, t in options]),
    ], xs=12, md=3)


@page_layout
def layout(**raw) -> html.Div:
    store = state.store()
    warnings = []
    dataset = raw.get("dataset") or DEFAULT_DATASET
    if not isinstance(dataset, str) or dataset not in DATASETS:
        warnings.append(f"Unknown dataset '{params.clip(dataset)}'; showing {DATASETS[DEFAULT_DATASET]}. "
                        f"Choose from: {', '.join(DATASETS)}.")
        dataset = DEFAULT_DATASET
    # The page's h1 ("Map") is the shell's (dashboard/shell.py): one per page.
    if not store.has(dataset):
        return html.Div(dbc.Alert(f"The store holds no {dataset} data.", color="danger"))
    measures = series.measures(store, dataset)
    view = params.resolve_view(store, dataset, raw, state.config, default_measure=measures[-1],
                               default_area=series.force_areas(state.store()).csps[0])
    form = html.Form(
        dbc.Row([
            _select("Dataset", "dataset", dataset, list(DATASETS.items())),
            _select("CSP", "area", view.area, [(a, a) for a in series.force_areas(state.store()).csps]),
            _select("Measure", "measure", view.measure, [(m, m) for m in measures]),
            dbc.Col(dbc.Button("Show map", type="submit", color="primary", class_name="mt-3"), xs=12, md=2),
            dcc.Input(type="hidden", name="month", value=f"{view.month:%Y-%m}"),
            dcc.Input(type="hidden", name="method", value=view.method),
            dcc.Input(type="hidden", name="k", value=f"{view.k:g}"),
        ], class_name="g-2 align-items-end"),
        action="/map", method="get", className="mb-3",
    )
    return html.Div([
        *versioned.parts(P),  # the version this map is drawn from, and "Newer data available"
        controls.warnings_block(warnings + list(view.warnings)),
        form,
        map_card.map_card(dataset, store, view.area, view.measure, view.month, view.method, view.k,
                          state.config.min_significant),
    ])


versioned.register(P)
