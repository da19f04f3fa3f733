"""Fire tab: deliberate fires as the fire service reports them, and as the board's trend charts.

The monthly trend of any fire measure with the same five series as crime; the quarterly
KPI card "KPM1.4 Deliberate Fires" (Actual, Target, Target Met?, direction of travel) with
the district table; the road-vehicle share of deliberate primary fires and the split of
deliberate secondary fires; the drill-down to neighbourhoods. Every figure comes from
queries.fire / queries.series; callbacks only pass the selections through.
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html, no_update

from dashboard import components, downloads, state, trend_tab, versioned
from dashboard.safe import callback, page_layout
from queries import fire, geography, params, series
from queries.export import describe_view
from queries.formats import FORMATS

DATASET = fire.DATASET
P = "fire"  # id prefix

MET_STYLE = {
    "styleConditions": [
        {"condition": "params.value && params.value.startsWith('✓')", "style": {"backgroundColor": "#cfe8cf", "fontWeight": "600"}},
        {"condition": "params.value && params.value.startsWith('✗')", "style": {"backgroundColor": "#f5c6c0", "fontWeight": "600"}},
    ]
}
# Secondary-fire groups: colours that differ in lightness too, so they read in grey.
GROUP_COLOURS = {fire.RUBBISH: "#8c510a", fire.VEGETATION: "#5ab4ac", fire.OTHER_OUTDOOR: "#c7c7c7"}
TILE_COLOURS = {True: "success", False: "danger", None: "secondary"}
INT_FORMAT = {"function": "params.value == null ? '' : d3.format(',')(params.value)"}


# --------------------------------------------------------------------------- view state


def _quarter_options(held: pd.DatetimeIndex) -> list[dict]:
    """Every quarter the store holds any month of, newest first; partial ones say so."""
    table = fire.quarters_held(held)
    options = []
    for row in table.itertuples():
        months = fire.quarter_months(row.fy, row.quarter)
        label = f"{fire.quarter_label(row.fy, row.quarter)} ({months[0]:%b}-{months[-1]:%b %Y})"
        if row.months_held < 3:
            label += f", {row.months_held} of 3 months held"
        options.append({"label": label, "value": fire.quarter_key(row.fy, row.quarter)})
    return options


def default_quarter(held: pd.DatetimeIndex, month: pd.Timestamp) -> str | None:
    """The latest fully held quarter ending by `month` (the KPI is judged on whole quarters),
    else the quarter holding `month`."""
    table = fire.quarters_held(held[held <= month])
    complete = table[table["months_held"] == 3]
    row = complete.iloc[0] if len(complete) else (table.iloc[0] if len(table) else None)
    return None if row is None else fire.quarter_key(int(row["fy"]), int(row["quarter"]))


def _resolve_quarter(raw: dict, held: pd.DatetimeIndex, month: pd.Timestamp, warnings: list[str]) -> str | None:
    """The quarter from the URL (e.g. quarter=2015-Q2), or the default with a warning saying why."""
    wanted = raw.get("quarter")
    fallback = default_quarter(held, month)
    if not wanted:
        return fallback
    shown = fire.quarter_label(*fire.parse_quarter(fallback)) if fallback else "no quarter"
    try:
        return params.check("quarter", wanted, params.Context(state.store(), DATASET, state.config))
    except params.ParamError as exc:
        warnings.append(f"{params.sentence(exc)}; showing {shown}.")
        return fallback


def _targets() -> tuple[pd.DataFrame, str | None]:
    """The editable targets file, read per request so an edit shows without a restart."""
    try:
        return fire.targets(state.store().data_dir), None
    except fire.TargetsError as exc:
        return fire.empty_targets(), f"Targets not used: {exc}"


# --------------------------------------------------------------------------- layout


def _extra(raw: dict, view: params.View) -> tuple[dict, list[str]]:
    warnings: list[str] = []
    quarter = _resolve_quarter(raw, series.coverage(state.store(), DATASET), view.month, warnings)
    return {"quarter": quarter}, warnings


def _kpi_card(view: params.View, extra: dict) -> dbc.Card:
    return components.card(
        fire.KPI_NAME,
        [
            dbc.Label("Quarter", class_name="small fw-semibold mb-0", html_for=f"{P}-quarter"),
            components.select(f"{P}-quarter", _quarter_options(series.coverage(state.store(), DATASET)), extra["quarter"],
                              class_name="mb-2"),
            html.Div(id=f"{P}-kpi"),
        ],
        actions=[downloads.menu(f"{P}-kpi", "the KPI line")],
        id=f"{P}-kpi-card",
    )


def _cards(view: params.View, extra: dict) -> list:
    return [
        components.card(
            "Districts",
            [html.P(id=f"{P}-districts-caption", className="small text-muted mb-1"), components.grid(f"{P}-districts")],
            actions=[downloads.menu(f"{P}-districts", "the districts table")],
            id=f"{P}-districts-card",
        ),
        dbc.Row(
            [
                dbc.Col(components.card(
                    "Deliberate primary fires involving road vehicles",
                    [html.P(id=f"{P}-vehicles-caption", className="mb-2"), components.grid(f"{P}-vehicles")],
                    actions=[downloads.menu(f"{P}-vehicles", "the road-vehicle table")],
                    id=f"{P}-vehicles-card",
                ), lg=6),
                dbc.Col(components.card(
                    "Deliberate secondary fires by property",
                    [html.P(id=f"{P}-secondary-caption", className="small text-muted mb-1"),
                     dcc.Graph(id=f"{P}-secondary", config={"displaylogo": False, "displayModeBar": False})],
                    actions=[downloads.menu(f"{P}-secondary", "the secondary fires figures")],
                    id=f"{P}-secondary-card",
                ), lg=6),
            ]
        ),
    ]


SPEC = trend_tab.register(trend_tab.TrendSpec(
    dataset=DATASET, measure_label="Measure", file_prefix="fire", extra_params=("quarter",),
    extra=_extra, side_card=_kpi_card, cards=_cards,
))

dash.register_page(__name__, path="/fire", name="Fire", title="Fire - CSP Performance", order=1, dataset=DATASET)


@page_layout
def layout(**raw) -> html.Div:
    return trend_tab.layout(SPEC, raw)


@versioned.callback(P, Output(f"{P}-quarter", "value"), Input(f"{P}-month", "value"), prevent_initial_call=True)
def month_changed(month):
    """A new report month shows the latest whole quarter up to it."""
    try:
        when = params.parse_month(month)
    except ValueError:
        return no_update
    quarter = default_quarter(series.coverage(state.store(), DATASET), when)
    return quarter or no_update


# --------------------------------------------------------------------------- the quarter


def _tile(label: str, value: str, detail: str = "", colour: str | None = None, id: str | None = None) -> dbc.Col:
    body = [html.Div(label, className="small text-muted"),
            html.Div(value, className="fs-3 fw-bold lh-sm", **({"id": id} if id else {})),
            html.Div(detail, className="small")]
    return dbc.Col(html.Div(body, className=f"border rounded p-2 h-100 {('border-' + colour + ' border-2') if colour else ''}"),
                   xs=6, class_name="mb-2")


def _kpi_body(report: fire.QuarterReport, targets_note: str | None) -> list:
    kpi = report.kpi
    months = fire.quarter_months(kpi.fy, kpi.quarter)
    target = "none" if kpi.target is None else f"{kpi.target:,.0f}"
    if not kpi.complete:
        met_value, met_detail = "Not judged", f"only {kpi.months_held} of the quarter's 3 months are held"
    elif kpi.target is None:
        met_value, met_detail = fire.NO_TARGET, f"no target for {kpi.area} in {fire.TARGETS_FILE}"
    else:
        met_value = kpi.met_text
        met_detail = f"{kpi.actual:,} {'≤' if kpi.met else '>'} {kpi.target:,.0f}"
    children = [
        html.Div(kpi.descriptor, className="fw-semibold", id=f"{P}-kpi-descriptor"),
        html.Div(f"{kpi.area}, {months[0]:%B} - {months[-1]:%B %Y}. Met when incidents are at or below the target.",
                 className="small text-muted mb-2"),
        dbc.Row([
            _tile("Actual", f"{kpi.actual:,}", "deliberate fires" + ("" if kpi.complete else " so far"), id=f"{P}-kpi-actual"),
            _tile("Target", target, "" if kpi.target is not None else "no target set", id=f"{P}-kpi-target"),
            _tile("Target Met?", met_value, met_detail, TILE_COLOURS[kpi.met], id=f"{P}-kpi-met"),
            _tile("Direction of travel", kpi.direction, kpi.direction_text, id=f"{P}-kpi-direction"),
        ], class_name="g-2"),
    ]
    if targets_note:
        children.append(dbc.Alert(targets_note, color="warning", class_name="py-1 px-2 mt-2 small"))
    return children


def _quarter(quarter: str | None) -> tuple[int, int] | None:
    try:
        return fire.parse_quarter(quarter) if quarter else None
    except ValueError:
        return None


def _report(area: str, quarter: str | None) -> tuple[fire.QuarterReport | None, str | None]:
    parsed = _quarter(quarter)
    if parsed is None:
        return None, None
    targets, note = _targets()
    kpi_area = area if area in series.force_areas(state.store()).top_areas else geography.FORCE
    return fire.quarter_report(state.store(), targets, *parsed, area=kpi_area), note


def _district_columns() -> list[dict]:
    return components.column_defs([
        {"field": "District", "minWidth": 170},
        {"field": "Incidents", "valueFormatter": INT_FORMAT, **components.NUMBER_COLUMN},
        {"field": "Target", "valueFormatter": INT_FORMAT, **components.NUMBER_COLUMN},
        {"field": "Target Met?", "cellStyle": MET_STYLE, "minWidth": 120},
        {"field": "Same quarter last year", "valueFormatter": INT_FORMAT, **components.NUMBER_COLUMN},
        {"field": "Direction of travel", "headerTooltip": "↓20 = 20 fewer than the same quarter last year"},
    ])


def _secondary_figure(table: pd.DataFrame, label: str) -> go.Figure:
    """Stacked bars per district (and the unallocated / outside rows when they hold any)."""
    rows = table[table["Area"].isin(series.force_areas(state.store()).csps) | ((table["Area"].isin([geography.OUTSIDE, geography.UNALLOCATED]))
                                                       & (table["Total"] > 0))]
    rows = rows.iloc[::-1]  # first district at the top
    fig = go.Figure()
    for group in fire.SECONDARY_GROUPS:
        fig.add_trace(go.Bar(y=rows["Area"], x=rows[group], name=group, orientation="h",
                             marker_color=GROUP_COLOURS[group], hovertemplate="%{y}: %{x:,} " + group.lower()))
    fig.update_layout(
        barmode="stack", font=components.FONT, height=430, plot_bgcolor="white",
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.16, xanchor="center", x=0.5, traceorder="normal"),
        xaxis=dict(title=f"Deliberate secondary fires, {label}", gridcolor="#e5e5e5", rangemode="tozero", automargin=True),
        yaxis=dict(automargin=True),
    )
    return fig


@versioned.callback(P,
    Output(f"{P}-kpi", "children"),
    Output(f"{P}-districts", "rowData"),
    Output(f"{P}-districts", "columnDefs"),
    Output(f"{P}-districts-caption", "children"),
    Output(f"{P}-districts-card-title", "children"),
    Output(f"{P}-vehicles", "rowData"),
    Output(f"{P}-vehicles", "columnDefs"),
    Output(f"{P}-vehicles-caption", "children"),
    Output(f"{P}-secondary", "figure"),
    Output(f"{P}-secondary-caption", "children"),
    Input(f"{P}-area", "value"),
    Input(f"{P}-quarter", "value"),
)
def update_quarter(area, quarter):
    report, note = _report(area, quarter)
    if report is None:
        empty = components.empty_figure("No quarter held")
        return (dbc.Alert("The store holds no fire data by quarter.", color="warning"), [], [], "", "Districts",
                [], [], "", empty, "")
    kpi = report.kpi
    label = kpi.label
    districts = report.districts
    in_districts = int(districts.loc[districts["District"].isin(series.force_areas(state.store()).csps), "Incidents"].sum())
    force = districts.set_index("District")["Incidents"]
    caption = (
        f"Deliberate fires, {label}. Districts sum to {in_districts:,}; the Force Area total of "
        f"{int(force[geography.FORCE]):,} adds {int(force[geography.UNALLOCATED]):,} with no known area and "
        f"{int(force[geography.OUTSIDE]):,} outside the force area, counted in no district. "
        "Direction of travel: ↓N means N fewer than the same quarter last year."
    )
    vehicles = report.road_vehicles
    row = vehicles.set_index("Area").loc[kpi.area]
    if row["Deliberate primary fires"] > 0:
        vehicles_caption = [
            html.Span(f"{row['Road vehicle share (%)']:.0f}%", className="fs-4 fw-bold me-2", id=f"{P}-vehicles-share"),
            f"of deliberate primary fires in {kpi.area} in {label} involved road vehicles "
            f"({int(row['Road vehicles']):,} of {int(row['Deliberate primary fires']):,}).",
        ]
    else:
        vehicles_caption = f"No deliberate primary fires in {kpi.area} in {label}."
    vehicle_columns = components.column_defs([
        {"field": "Area", "minWidth": 170},
        {"field": "Deliberate primary fires", "valueFormatter": INT_FORMAT, **components.NUMBER_COLUMN},
        {"field": "Road vehicles", "valueFormatter": INT_FORMAT, **components.NUMBER_COLUMN},
        {"field": "Road vehicle share (%)", "valueFormatter": {"function": "params.value == null ? '' : d3.format('.1f')(params.value) + ' %'"}},
    ])
    secondary = report.secondary
    total = secondary.set_index("Area").loc[geography.FORCE]
    secondary_caption = (
        f"{label}, force-wide: {int(total['Total']):,} deliberate secondary fires - "
        + ", ".join(f"{g.lower()} {int(total[g]):,}" for g in fire.SECONDARY_GROUPS) + "."
    )
    return (
        _kpi_body(report, note),
        districts.to_dict("records"), _district_columns(), caption, f"Districts - {fire.KPI_NAME}, {label}",
        vehicles.to_dict("records"), vehicle_columns, vehicles_caption,
        _secondary_figure(secondary, label), secondary_caption,
    )


# --------------------------------------------------------------------------- downloads


def kpi_table(kpi: fire.QuarterKpi) -> pd.DataFrame:
    """The fire service's KPI line, as its report prints it."""
    return pd.DataFrame([{
        "Descriptor": kpi.descriptor, "Area": kpi.area, "Actual": kpi.actual,
        "Target": None if kpi.target is None else int(kpi.target),
        "Target Met?": kpi.met_text if kpi.complete else "Quarter incomplete",
        "Direction of travel": kpi.direction, "Same quarter last year": kpi.previous,
        "Months held": kpi.months_held,
    }])


# The About sheet's title for each quarter download, as its card is headed.
QUARTER_TITLES = {
    "kpi": fire.KPI_NAME,
    "districts": f"Districts - {fire.KPI_NAME}",
    "vehicles": "Deliberate primary fires involving road vehicles",
    "secondary": "Deliberate secondary fires by property",
}
# The quarter's downloads: card -> (table from the report, file-name words, whether a grid shows it).
# A grid's file replays its filters and sort (dashboard/downloads.py); the KPI line and the
# chart's figures have no grid, so they download whole.
QUARTER_DOWNLOADS = {
    "kpi": (lambda r: kpi_table(r.kpi), lambda r: ["kpm1.4-deliberate-fires", r.kpi.area], False),
    "districts": (lambda r: r.districts, lambda r: ["fire-districts"], True),
    "vehicles": (lambda r: r.road_vehicles, lambda r: ["fire-road-vehicles"], True),
    "secondary": (lambda r: r.secondary, lambda r: ["fire-secondary"], False),
}


def _quarter_about(title: str, area, quarter, href) -> dict:
    """The About sheet for a quarter's table: the area and quarter chosen, and the store's provenance."""
    parsed = _quarter(quarter)
    filters = {"Area": area, "Quarter": fire.quarter_label(*parsed) if parsed else str(quarter)}
    return describe_view(state.store(), [DATASET], title=title, view_url=href, filters=filters)


def _register_quarter_download(name: str, table_of, words_of, is_grid: bool) -> None:
    base = f"{P}-{name}"
    grid_state = [State(base, "filterModel"), State(base, "columnState")] if is_grid else []

    @versioned.callback(P, *downloads.outputs(base), *downloads.inputs(base), *grid_state, State(f"{P}-area", "value"),
              State(f"{P}-quarter", "value"), State(f"{P}-url", "href"), prevent_initial_call=True)
    def download(*args):
        area, quarter, href = args[-3:]
        report, _ = _report(area, quarter)
        if report is None:
            return no_update, "Nothing to download: no quarter of fire data is held."
        about = _quarter_about(QUARTER_TITLES[name], area, quarter, href)
        parts = [*words_of(report), quarter]
        if is_grid:
            filter_model, column_state = args[len(FORMATS)], args[len(FORMATS) + 1]
            return downloads.grid_download(table_of(report), filter_model, column_state, downloads.clicked_format(),
                                           about, parts)
        return downloads.frame_download(table_of(report), about, parts, downloads.clicked_format())


for _name, (_table_of, _words_of, _is_grid) in QUARTER_DOWNLOADS.items():
    _register_quarter_download(_name, _table_of, _words_of, _is_grid)
