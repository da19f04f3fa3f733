"""Anti-social behaviour tab: police.uk's ASB records on their own, with their own exceptions.

Added by following docs/extending.md: one registry record (queries/datasets.py) and this page.
"""
import dash

from dashboard import trend_tab
from dashboard.safe import page_layout

SPEC = trend_tab.register(trend_tab.TrendSpec(
    dataset="asb", measure_label="Measure", file_prefix="asb",
    summary_title="Summary table of anti-social behaviour above or below trigger levels", rolling=True,
    ward_map=True,
))

dash.register_page(__name__, path="/asb", name="ASB", title="Anti-social behaviour - CSP Performance",
                   order=0.5, dataset=SPEC.dataset)


@page_layout
def layout(**params):
    return trend_tab.layout(SPEC, params)
