"""The neighbourhood map card: a CSP's wards coloured by how far each neighbourhood is from
expected, flagged neighbourhoods marked, a text summary and a table alternative.

Drawn offline: `go.Choroplethmap` on the blank "white-bg" style needs no tile server (plain
`go.Choropleth` fetches a world map from a CDN). Map text layers would fetch font glyphs from
the internet, so nothing on the map itself is text: the status is shown by markers whose
size differs (large = Above, small = Below), named in words in the legend, repeated in the
hover text, the summary sentence and the table, so colour is never the only cue.

Ids follow the trend-tab convention {"tab": <dataset>, "part": <name>}; the click callback
below uses MATCH, so one registration serves every tab that places a map card.
"""
from __future__ import annotations

import math
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import MATCH, Input, Output, State, dcc, html

from dashboard import shell
from dashboard.safe import callback
from queries import geography, limits, maps
from queries.boundaries import BoundaryError

# Distance from expected is clipped to this many spreads for colouring (the table shows the value).
Z_CLIP = 3.0
# Blue (below) - white - red (above), from ColorBrewer RdBu: readable by the common colour-blind types.
Z_COLOURSCALE = [[0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1.0, "#b2182b"]]
NO_LIMITS_FILL = "#d9d9d9"
OUTLINE = "#404040"
MARKER_COLOUR = "#111111"
MARKER_SIZE = {limits.ABOVE: 20, limits.BELOW: 10}
STATUS_WORDS = {limits.ABOVE: "Above the upper line", limits.BELOW: "Below the lower line"}
# The legend names the marker by its size as well as the status, so the key reads without colour.
LEGEND_WORDS = {limits.ABOVE: "Large dot: above the upper line", limits.BELOW: "Small dot: below the lower line"}
MAP_HEIGHT = 540
BOTTOM_MARGIN = 80  # px below the map for the horizontal colour bar
# Plotly maps (MapLibre) draw the world 512 px wide at zoom 0; used to fit a CSP in the card.
WORLD_PX = 512
ASSUMED_WIDTH = 420  # a phone's card; wider cards show more margin round the CSP
ZOOM_MARGIN = 0.1
TOP_MARGIN = 76  # px above the map for its title, which sits below the tool bar (a phone's card is too narrow for both in one line)
TITLE_BELOW_TOOLBAR = 34  # px from the top of the figure to the title
# Which page draws a dataset's neighbourhood chart (the lead's dataset registry will know this).
CHART_PATHS = {"crime": "/", "fire": "/fire", "hate": "/hate"}


def part(dataset: str, name: str) -> dict:
    return {"tab": dataset, "part": name}


# --------------------------------------------------------------------------- figure


def _fmt(value: float, digits: int = 1) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def _status_text(status: str, low_volume: bool) -> str:
    if status in STATUS_WORDS:
        return STATUS_WORDS[status] + (" (low volume: not significant)" if low_volume else "")
    return status or "Within the lines"


def _fit(boundaries: dict) -> tuple[dict, float]:
    """Centre and zoom that fit the features in a card about ASSUMED_WIDTH x MAP_HEIGHT px."""
    from shapely.geometry import shape

    bounds = np.array([shape(f["geometry"]).bounds for f in boundaries["features"]])
    west, south = bounds[:, 0].min(), bounds[:, 1].min()
    east, north = bounds[:, 2].max(), bounds[:, 3].max()
    lat = (south + north) / 2
    lon_span = max(east - west, 1e-4)
    lat_span = max((north - south) / math.cos(math.radians(lat)), 1e-4)  # Mercator stretch
    zoom = min(math.log2(ASSUMED_WIDTH * 360 / (WORLD_PX * lon_span)), math.log2((MAP_HEIGHT - TOP_MARGIN - BOTTOM_MARGIN) * 360 / (WORLD_PX * lat_span)))
    return {"lon": (west + east) / 2, "lat": lat}, zoom - ZOOM_MARGIN


def _marker_points(wards: pd.DataFrame, boundaries: dict) -> pd.DataFrame:
    """One point inside each flagged neighbourhood (its largest ward's representative point)."""
    from shapely.geometry import shape

    shapes = {f["id"]: shape(f["geometry"]) for f in boundaries["features"]}
    flagged = wards[wards["status"].isin(list(STATUS_WORDS)) & wards["ward_code"].isin(list(shapes))]
    rows = []
    for hood, group in flagged.groupby("neighbourhood", sort=False):
        largest = max(group["ward_code"], key=lambda code: shapes[code].area)
        point = shapes[largest].representative_point()
        first = group.iloc[0]
        rows.append({"neighbourhood": hood, "lon": point.x, "lat": point.y, "status": first["status"],
                     "low_volume": bool(first["low_volume"]), "count": first["count"], "expected": first["expected"],
                     "z": first["z"]})
    return pd.DataFrame(rows, columns=["neighbourhood", "lon", "lat", "status", "low_volume", "count", "expected", "z"])


def map_figure(wards: pd.DataFrame, boundaries: dict, title: str) -> go.Figure:
    """The choropleth of `wards` (queries.maps.ward_status) over `boundaries` (GeoJSON, id = ward code).

    Every trace carries customdata whose first item is the neighbourhood, so a click on a ward
    or a marker names the neighbourhood (see `neighbourhood_from_click`).
    """
    drawn = wards[wards["ward_code"].isin([f["id"] for f in boundaries["features"]])]
    fig = go.Figure()
    hover = ("<b>%{customdata[0]}</b><br>Ward: %{customdata[1]}<br>Count: %{customdata[3]}"
             "<br>Expected: %{customdata[4]}<br>Distance from expected: %{customdata[5]} spreads"
             "<br>%{customdata[2]}<extra></extra>")

    def custom(frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([
            frame["neighbourhood"], frame["ward_name"],
            [_status_text(s, lv) for s, lv in zip(frame["status"], frame["low_volume"].fillna(False))],
            [_fmt(v, 0) for v in frame["count"]], [_fmt(v) for v in frame["expected"]], [_fmt(v) for v in frame["z"]],
        ]) if len(frame) else np.empty((0, 6))

    scored = drawn[drawn["z"].notna()]
    unscored = drawn[drawn["z"].isna()]
    fig.add_trace(go.Choroplethmap(
        geojson=boundaries, locations=scored["ward_code"], featureidkey="id",
        z=scored["z"].clip(-Z_CLIP, Z_CLIP), zmin=-Z_CLIP, zmax=Z_CLIP, colorscale=Z_COLOURSCALE,
        marker=dict(line=dict(color=OUTLINE, width=1), opacity=0.85),
        customdata=custom(scored), hovertemplate=hover, name="Distance from expected",
        # Horizontal, under the map, so a phone keeps the whole width for the wards.
        colorbar=dict(
            title=dict(text="Distance from expected (spreads)", side="top"), thickness=12, len=0.9,
            orientation="h", x=0.5, xanchor="center", y=0, yanchor="top",
            tickvals=[-2, 0, 2], ticktext=["−2 (below)", "0 (as expected)", "+2 (above)"],
        ),
        showlegend=False,
    ))
    if len(unscored):
        fig.add_trace(go.Choroplethmap(
            geojson=boundaries, locations=unscored["ward_code"], featureidkey="id", z=[0] * len(unscored),
            colorscale=[[0, NO_LIMITS_FILL], [1, NO_LIMITS_FILL]], showscale=False,
            marker=dict(line=dict(color=OUTLINE, width=1)), customdata=custom(unscored), hovertemplate=hover,
            name="No expected level (no baseline)", showlegend=True,
        ))
    points = _marker_points(drawn, boundaries)
    for status, words in STATUS_WORDS.items():
        chosen = points[points["status"] == status]
        fig.add_trace(go.Scattermap(
            lon=chosen["lon"], lat=chosen["lat"], mode="markers", name=f"{LEGEND_WORDS[status]} ({len(chosen)})",
            marker=dict(size=MARKER_SIZE[status], color=MARKER_COLOUR, opacity=0.9),
            customdata=np.column_stack([chosen["neighbourhood"], [words] * len(chosen)]) if len(chosen) else np.empty((0, 2)),
            hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]}<extra></extra>",
            showlegend=True, visible=True,
        ))
    centre, zoom = _fit(boundaries) if boundaries["features"] else ({"lon": -1.6, "lat": 53.0}, 8)
    fig.update_layout(
        title=dict(text=title, x=0.01, font=dict(size=16), yref="container", y=1, yanchor="top",
                   pad=dict(t=TITLE_BELOW_TOOLBAR)),
        map=dict(style="white-bg", center=centre, zoom=zoom),
        height=MAP_HEIGHT, margin=dict(l=0, r=0, t=TOP_MARGIN, b=BOTTOM_MARGIN),
        legend=dict(orientation="h", yanchor="top", y=1.0, x=0.01, bgcolor="rgba(255,255,255,0.85)"),
        font=dict(family="Segoe UI, Helvetica, Arial, sans-serif", size=13),
    )
    return fig


# --------------------------------------------------------------------------- text and table


def _by_neighbourhood(wards: pd.DataFrame) -> pd.DataFrame:
    grouped = wards.groupby("neighbourhood", sort=False).agg(
        wards=("ward_name", lambda names: ", ".join(sorted(names))),
        count=("count", "first"), expected=("expected", "first"), z=("z", "first"),
        status=("status", "first"), low_volume=("low_volume", "first"),
    ).reset_index()
    return grouped.sort_values(["z", "neighbourhood"], ascending=[False, True], na_position="last", ignore_index=True)


def text_summary(wards: pd.DataFrame, area: str, measure: str, month: pd.Timestamp) -> str:
    """One sentence a screen reader can read instead of the map."""
    hoods = _by_neighbourhood(wards)
    parts = []
    for status, words in ((limits.ABOVE, "above the upper line"), (limits.BELOW, "below the lower line")):
        chosen = hoods[hoods["status"] == status]
        if len(chosen):
            listed = "; ".join(f"{r.neighbourhood}: {_fmt(r.count, 0)}, expected {_fmt(r.expected)}" for r in chosen.itertuples())
            parts.append(f"{len(chosen)} {words} ({listed})")
        else:
            parts.append(f"none {words}")
    return (f"{area}, {measure}, {pd.Timestamp(month):%B %Y}: {len(hoods)} neighbourhoods; " + "; ".join(parts) + ".")


def map_table(wards: pd.DataFrame, caption: str) -> dbc.Table:
    """The map as a table (a screen reader's and a printer's alternative), furthest above expected first."""
    hoods = _by_neighbourhood(wards)
    header = html.Thead(html.Tr([html.Th(h, scope="col") for h in
                                 ("Neighbourhood", "Wards", "Count", "Expected", "Distance (spreads)", "Status")]))
    body = html.Tbody([
        html.Tr([html.Th(r.neighbourhood, scope="row", className="fw-normal"), html.Td(r.wards),
                 html.Td(_fmt(r.count, 0), className="text-end"), html.Td(_fmt(r.expected), className="text-end"),
                 html.Td(_fmt(r.z), className="text-end"), html.Td(_status_text(r.status, bool(r.low_volume)))])
        for r in hoods.itertuples()
    ])
    return dbc.Table([html.Caption(caption, className="caption-top"), header, body], size="sm", striped=True,
                     responsive=True, class_name="small mb-0")


# --------------------------------------------------------------------------- card


def chart_href(dataset: str, area: str, measure: str, month: pd.Timestamp, method: str, k: float,
               neighbourhood: str) -> str:
    """The address of a neighbourhood's chart on its dataset's tab."""
    query = urlencode({"area": area, "measure": measure, "month": f"{pd.Timestamp(month):%Y-%m}", "method": method,
                       "k": f"{k:g}", "neighbourhood": neighbourhood})
    return f"{CHART_PATHS.get(dataset, '/')}?{query}"


def map_parts(store, dataset: str, area: str, measure: str, month: pd.Timestamp, method: str, k: float,
              min_significant: int) -> tuple[go.Figure | None, str, list, list[str]]:
    """(figure, summary sentence, table children, neighbourhood names) for a view; figure None
    when there is no map to draw (not a CSP, or no boundaries: the table still shows)."""
    csps = geography.areas(store.data_dir).csps
    if area not in csps:
        return None, f"The map shows one CSP's neighbourhoods: choose one of {', '.join(csps)}.", [], []
    wards = maps.ward_status(store, dataset, area, measure, month, method, k, min_significant)
    known = sorted(set(wards["neighbourhood"]))
    caption = f"{area} neighbourhoods, {measure}, {pd.Timestamp(month):%B %Y}"
    try:
        boundaries, missing = maps.csp_boundaries(store, list(wards["ward_code"]))
    except BoundaryError as exc:
        return None, str(exc), [map_table(wards, caption)], known
    summary = text_summary(wards, area, measure, month)
    if missing:
        summary += f" {len(missing)} ward(s) have no boundary and are not drawn: {', '.join(missing)}."
    title = f"{area} - {measure}, {pd.Timestamp(month):%b %Y}"
    figure = map_figure(wards, boundaries, title)
    return figure, summary, [map_table(wards, caption)], known


def map_card(dataset: str, store, area: str, measure: str, month: pd.Timestamp, method: str, k: float,
             min_significant: int) -> dbc.Card:
    """A ready card: heading, loading-wrapped map, summary, "open chart" slot and table alternative."""
    figure, summary, table, known = map_parts(store, dataset, area, measure, month, method, k, min_significant)
    context = {"dataset": dataset, "area": area, "measure": measure, "month": f"{pd.Timestamp(month):%Y-%m}",
               "method": method, "k": k, "known": known}
    # The map is for sighted mouse users; its content is in the summary sentence above it and the table.
    graph = dcc.Graph(
        id=part(dataset, "map"), figure=figure or {}, config={"displaylogo": False, "scrollZoom": False},
        style={"display": "block" if figure else "none"},
    )
    return dbc.Card(
        [
            dbc.CardHeader(html.H2("Neighbourhood map", className="h5 mb-0")),
            dbc.CardBody([
                html.P(summary, id=part(dataset, "map-summary"), className="small"),
                shell.loading(graph),
                html.Div(id=part(dataset, "map-open"), className="mt-2", **{"aria-live": "polite"}),
                dcc.Store(id=part(dataset, "map-context"), data=context),
                html.Details([html.Summary("Table: the map as figures"), *table], className="mt-2", open=False),
            ]),
        ],
        class_name="mb-3",
        id=part(dataset, "map-card"),
    )


def neighbourhood_from_click(click_data, known: list[str]) -> str | None:
    """The neighbourhood a map click names, or None for anything else (including hostile payloads)."""
    if not isinstance(click_data, dict):
        return None
    points = click_data.get("points")
    if not isinstance(points, list) or not points or not isinstance(points[0], dict):
        return None
    custom = points[0].get("customdata")
    name = custom[0] if isinstance(custom, list) and custom else None
    return name if isinstance(name, str) and name in known else None


@callback(
    Output(part(MATCH, "map-open"), "children"),
    Input(part(MATCH, "map"), "clickData"),
    State(part(MATCH, "map-context"), "data"),
    prevent_initial_call=True,
)
def _map_clicked(click_data, context):
    """A click on a ward offers its neighbourhood's chart (a link, so the keyboard and the back button work)."""
    if not isinstance(context, dict):
        return dash.no_update
    hood = neighbourhood_from_click(click_data, context.get("known") or [])
    if hood is None:
        return dash.no_update
    href = chart_href(context["dataset"], context["area"], context["measure"], pd.Timestamp(context["month"]),
                      context["method"], float(context["k"]), hood)
    return dbc.Alert([f"{hood}: ", html.A(f"open its {context['measure']} chart", href=href, id=part(context["dataset"], "map-link"))],
                     color="light", class_name="py-2 mb-0")
