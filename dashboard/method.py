"""The "How these lines are calculated" panel: the method in plain words, naming what is in use.

Each method's own words live beside its function in queries/limits.py (METHODS), so a new
method explains itself here without an edit.
"""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from queries import limits


def explanation(method: str, k: float, min_significant: int) -> list:
    chosen = limits.get_method(method)
    common = html.P([
        html.Strong("Monthly Average (Prev. 3 Years)"), " is the average of the same calendar month in the three "
        "years before (for October 2026: October 2023, 2024 and 2025). ",
        html.Strong("Average"), " is the average of all 36 months of those three financial years: a flat line.",
    ])
    lines = html.P([
        html.Strong("Upper Line"), " and ", html.Strong("Lower Line"),
        f" ({chosen.label.lower()} method): " + chosen.explanation.format(k=f"{k:g}") + " " + chosen.false_alarms,
    ])
    rules = html.P([
        "A month is marked ", html.Strong("Above"), " when its count is over the Upper Line and ", html.Strong("Below"),
        f" when under the Lower Line (which never goes below zero). Following the board's rule, a flagged month with "
        f"fewer than {min_significant} is marked ", html.Em("low volume"), " (open triangle) and is not counted as a "
        "significant exception. Months with no data are gaps, never zeros. With fewer than three earlier years the "
        "lines use the years that exist and the chart says so.",
    ])
    return [common, lines, rules]


def panel(id: str, method: str, k: float, min_significant: int) -> dbc.Accordion:
    return dbc.Accordion(
        [dbc.AccordionItem(html.Div(explanation(method, k, min_significant), id=id), title="How these lines are calculated")],
        start_collapsed=False,
        class_name="mb-3",
    )
