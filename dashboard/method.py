"""The "How these lines are calculated" panel: the method in plain words, naming what is in use."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def explanation(method: str, k: float, min_significant: int) -> list:
    common = [
        html.P([
            html.Strong("Monthly Average (Prev. 3 Years)"), " is the average of the same calendar month in the three "
            "years before (for October 2026: October 2023, 2024 and 2025). ",
            html.Strong("Average"), " is the average of all 36 months of those three financial years: a flat line.",
        ]),
    ]
    if method == "classic":
        lines = html.P([
            html.Strong("Upper Line"), " and ", html.Strong("Lower Line"),
            f" (classic method, as in the board's published reports): the monthly average plus or minus {k:g} times "
            "the standard deviation of the three same-month values. Three values give a very unsteady spread, so even "
            f"a perfectly steady series crosses these lines often: about 22% of months at k = 2, 12% at k = 3.",
        ])
    else:
        lines = html.P([
            html.Strong("Upper Line"), " and ", html.Strong("Lower Line"),
            f" (pooled method): the monthly average plus or minus {k:g} times one spread worked out from all 36 "
            "earlier months (how far each month sat from its own three-year average). The spread is never taken as "
            "smaller than chance alone would give for counts of that size (the square root of the average), and it is "
            "widened a little because the average itself comes from only three years. On a steady series, about 4 "
            "months in 100 fall outside the lines at k = 2, so a month outside them is worth a look.",
        ])
    rules = html.P([
        "A month is marked ", html.Strong("Above"), " when its count is over the Upper Line and ", html.Strong("Below"),
        f" when under the Lower Line (which never goes below zero). Following the board's rule, a flagged month with "
        f"fewer than {min_significant} is marked ", html.Em("low volume"), " (open triangle) and is not counted as a "
        "significant exception. Months with no data are gaps, never zeros. With fewer than three earlier years the "
        "lines use the years that exist and the chart says so.",
    ])
    return common + [lines, rules]


def panel(id: str, method: str, k: float, min_significant: int) -> dbc.Accordion:
    return dbc.Accordion(
        [dbc.AccordionItem(html.Div(explanation(method, k, min_significant), id=id), title="How these lines are calculated")],
        start_collapsed=False,
        class_name="mb-3",
    )
