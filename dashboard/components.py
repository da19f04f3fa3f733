"""Small layout pieces every tab shares: the five-series chart, tables, downloads, notes."""
from __future__ import annotations

import math

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from dataclasses import dataclass

from dashboard import shell
from queries import limits
from queries.annotations import read_annotations

# The chart key's colours and markers (queries/limits.py): the same in the printed report.
COLOURS = limits.SERIES_COLOURS
SYMBOLS = limits.SERIES_SYMBOLS
FONT = dict(family="Segoe UI, Helvetica, Arial, sans-serif", size=15)


def _fmt(value: float, digits: int = 1) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


@dataclass(frozen=True)
class BoardSizes:
    """Sizes (px) of a board chart: one set for a projector, one for a phone held in the hand."""

    font: int
    title: int
    legend: int
    label: int  # the boxed "Above" / "Below"
    marker: int  # an exception's triangle
    label_offset: int  # the label sits this far above (or below) its point, on a stalk
    label_lean: int  # labels of neighbouring exception months lean this far apart
    note: int  # "Axis does not start at zero"
    stamp: int  # "Data as at ..."
    month_format: str
    margin: dict
    legend_below: bool  # under the months (a narrow screen) rather than above the plot


PROJECTOR = BoardSizes(font=20, title=30, legend=19, label=24, marker=30, label_offset=48, label_lean=32, note=20,
                       stamp=17, month_format="%b<br>%Y", margin=dict(l=90, r=20, t=100, b=100), legend_below=False)
PHONE = BoardSizes(font=12, title=17, legend=12, label=14, marker=18, label_offset=30, label_lean=16, note=12,
                   stamp=11, month_format="%b<br>%y", margin=dict(l=44, r=8, t=92, b=150), legend_below=True)
# Below this width (px) a board chart uses the phone's sizes.
PHONE_WIDTH = 700


# Exceptions differ from the line by colour, by shape (up/down triangle) and by a boxed word,
# so "Above" and "Below" never rest on colour alone. White on these is over 4.5:1.
EXCEPTION_COLOURS = {limits.ABOVE: "#a93226", limits.BELOW: "#1a5276"}
EXCEPTION_ARROWS = {limits.ABOVE: "\u25b2", limits.BELOW: "\u25bc"}
# The y-axis starts at zero unless the lowest line is above this share of the highest: then
# zero would squeeze every line into a strip at the top, so the axis frames the lines instead
# and the chart says "Axis does not start at zero".
ZERO_AXIS_SHARE = 0.4
# Room around the lines when the axis frames them: below, and above (for the "Above" labels).
AXIS_PAD_BELOW = 0.15
AXIS_PAD_ABOVE = 0.35
NOT_FROM_ZERO = "Axis does not start at zero"
AXIS_LINES = ("count", "monthly_average_prev3", "average", "upper", "lower")


def axis_frame(values: np.ndarray) -> tuple[float, float, bool]:
    """(bottom, top, starts at zero) for a board chart's y-axis over the values of its five lines.

    Zero is kept when it costs little (the lowest value is under ZERO_AXIS_SHARE of the highest);
    otherwise the axis frames the lines with room for the exception labels above them.
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not len(finite) or finite.max() <= 0:
        return 0.0, 1.0, True
    low, high = float(finite.min()), float(finite.max())
    if low <= ZERO_AXIS_SHARE * high:
        return 0.0, high * (1 + AXIS_PAD_ABOVE), True
    span = max(high - low, high * 0.05)
    return max(0.0, low - AXIS_PAD_BELOW * span), high + AXIS_PAD_ABOVE * span, False


def trend_figure(
    table: pd.DataFrame, title: str, count_label: str = limits.SERIES_NAMES["count"], board_view: bool = False,
    stamp: str = "", screen_width: int | None = None,
) -> go.Figure:
    """The board's chart: exactly five series, named as in its chart key.

    Exception months are drawn as large triangles with an "Above"/"Below" label on the
    count line itself, so the legend keeps its five entries.
    """
    months = table["month"].dt.strftime("%b %Y")
    names = dict(limits.SERIES_NAMES, count=count_label)
    fig = go.Figure()
    for key, dash_style in (("monthly_average_prev3", "dash"), ("average", "dot"), ("upper", "dashdot"), ("lower", "dashdot")):
        fig.add_trace(
            go.Scatter(
                x=months, y=table[key], name=names[key],
                line=dict(color=COLOURS[key], dash=dash_style, width=2.5 if key in ("upper", "lower") else 2),
                # Small markers so a month whose neighbours have no limits (gaps in real data) still shows.
                marker=dict(size=4, color=COLOURS[key]), mode="lines+markers",
                hovertemplate="%{y:,.1f}",
            )
        )
    status = table["status"].to_numpy()
    flagged = np.isin(status, [limits.ABOVE, limits.BELOW])
    low = table["low_volume"].to_numpy(dtype=bool)
    symbols = [SYMBOLS.get(s, "circle") + ("-open" if lv else "") for s, lv in zip(status, low)]
    labels = [
        (f"{s} (low volume)" if lv else s) if f else ""
        for s, f, lv in zip(status, flagged, low)
    ]
    fig.add_trace(
        go.Scatter(
            x=months, y=table["count"], name=names["count"], mode="lines+markers+text",
            line=dict(color=COLOURS["count"], width=3.5),
            marker=dict(symbol=symbols, size=np.where(flagged, 18, 8), color=COLOURS["count"],
                        line=dict(width=2, color=COLOURS["count"])),
            text=labels, textfont=dict(size=14, color="#000"),
            textposition=["bottom center" if s == limits.BELOW else "top center" for s in status],
            connectgaps=False, hovertemplate="%{y:,.0f} %{text}",
        )
    )
    top = np.nanmax(table[["count", "upper", "monthly_average_prev3"]].to_numpy(dtype=float)) if table[["count", "upper"]].notna().any().any() else 1
    fig.update_layout(
        # Below the mode bar, so a long title in a half-width card is never drawn under its icons.
        title=dict(text=title, x=0.01, font=dict(size=20), yref="container", y=1, yanchor="top", pad=dict(t=34)),
        font=FONT,
        hovermode="x unified",
        margin=dict(l=60, r=20, t=80, b=40),
        legend=dict(orientation="h", yanchor="top", y=-0.16, xanchor="center", x=0.5),
        plot_bgcolor="white",
        yaxis=dict(rangemode="tozero", range=[0, top * 1.18 if top and not math.isnan(top) else 1], gridcolor="#e5e5e5",
                   title="Count"),
        # Month over year on two lines: twelve labels fit a half-width card without slanting
        # into the legend; the values stay "Apr 2026" so markers and annotations still match.
        xaxis=dict(showgrid=False, tickmode="array", tickvals=list(months), tickangle=0,
                   ticktext=list(table["month"].dt.strftime("%b<br>%Y"))),
        height=None if board_view else 460,
    )
    if board_view:
        _board_style(fig, table, stamp, board_sizes(screen_width))
    return fig


def board_sizes(screen_width: object) -> BoardSizes:
    """The sizes for a board chart drawn for a window `screen_width` px wide (unknown: a projector)."""
    narrow = isinstance(screen_width, int) and not isinstance(screen_width, bool) and screen_width < PHONE_WIDTH
    return PHONE if narrow else PROJECTOR


def _label_places(flagged: np.ndarray, lean: int, stagger_pairs: bool = False) -> list[tuple[int, int, bool]]:
    """(month index, sideways shift in px, raised) for each exception's label.

    Labels of neighbouring months would overlap (a label is wider than a month): in a run of
    flagged months they lean apart, left and right in turn, and in a run of three or more
    (of two, on a phone) every other one also stands taller.
    """
    places: list[tuple[int, int, bool]] = []
    run: list[int] = []
    for i in [*np.flatnonzero(flagged), None]:
        if run and (i is None or i != run[-1] + 1):
            for p, j in enumerate(run):
                shift = 0 if len(run) == 1 else (-lean if p % 2 == 0 else lean)
                places.append((int(j), shift, len(run) >= (2 if stagger_pairs else 3) and p % 2 == 1))
            run = []
        if i is not None:
            run.append(int(i))
    return places


def _board_style(fig: go.Figure, table: pd.DataFrame, stamp: str, size: BoardSizes) -> None:
    """Restyle a trend figure for a projector (or a phone): the common board frame (board_frame),
    then each exception a large coloured triangle with a boxed "Above" or "Below" on a stalk."""
    count = fig.data[-1]
    status = table["status"].to_numpy()
    low = table["low_volume"].to_numpy(dtype=bool)
    flagged = np.isin(status, [limits.ABOVE, limits.BELOW])
    count.update(
        mode="lines+markers", text=[(f"{s} (low volume)" if lv else s) if f else "" for s, f, lv in zip(status, flagged, low)],
        marker=dict(size=np.where(flagged, size.marker, size.marker // 3), opacity=1,
                    color=[EXCEPTION_COLOURS.get(s, COLOURS["count"]) if f and not lv else
                           ("#fff" if f else COLOURS["count"]) for s, f, lv in zip(status, flagged, low)],
                    line=dict(width=[3 if f else 1 for f in flagged],
                              color=[EXCEPTION_COLOURS.get(s, COLOURS["count"]) for s in status])),
    )
    months = table["month"].dt.strftime("%b %Y").to_numpy()
    counts = table["count"].to_numpy(dtype=float)
    for i, shift_x, raised in _label_places(flagged, size.label_lean, stagger_pairs=size.legend_below):
        state, small = status[i], low[i]
        offset = size.label_offset * (2 if raised else 1)
        fig.add_annotation(
            x=months[i], y=counts[i], text=f"<b>{EXCEPTION_ARROWS[state]} {state}</b>" + (" (low volume)" if small else ""),
            showarrow=True, arrowhead=0, arrowwidth=2, arrowcolor=EXCEPTION_COLOURS[state], ax=shift_x,
            ay=-offset if state == limits.ABOVE else offset, font=dict(size=size.label, color="#fff"),
            bgcolor=EXCEPTION_COLOURS[state], bordercolor=EXCEPTION_COLOURS[state], borderpad=4,
        )
    board_frame(fig, table[list(AXIS_LINES)].to_numpy(dtype=float), stamp, size, tickformat=",d")
    fig.update_layout(xaxis=dict(ticktext=list(table["month"].dt.strftime(size.month_format))))


def board_frame(fig: go.Figure, values: np.ndarray, stamp: str, size: BoardSizes,
                tickformat: str | None = None) -> tuple[float, float, bool]:
    """What every board chart shares (the trend tabs' and MARAC's): large text, the key on one
    line above the plot (under the months on a phone), the y-axis framed on `values` by
    axis_frame's rule and saying "Axis does not start at zero" when it does not, and the
    data-as-at stamp on the chart. Returns the axis frame (bottom, top, starts at zero)."""
    bottom, top, from_zero = axis_frame(values)
    legend = (dict(orientation="h", yanchor="top", y=-0.16, xanchor="left", x=0) if size.legend_below else
              # The key on one line between the title and the plot: never over the month labels.
              dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0))
    fig.update_layout(
        font=dict(FONT, size=size.font),
        title=dict(font=dict(size=size.title), pad=dict(t=10), x=0.01),
        legend=dict(legend, font=dict(size=size.legend)),
        margin=size.margin,
        yaxis=dict(range=[bottom, top], rangemode="normal" if not from_zero else "tozero", title=None,
                   tickformat=tickformat, gridcolor="#d9d9d9"),
    )
    if not from_zero:
        fig.add_annotation(text=f"<b>{NOT_FROM_ZERO}</b>", xref="paper", yref="paper", x=1, y=1, yanchor="bottom",
                           xanchor="right", yshift=size.margin["t"] // 2, showarrow=False,
                           font=dict(size=size.note, color="#333"), bgcolor="#fff3cd", bordercolor="#8a6d3b", borderpad=4)
    if stamp and size.legend_below:
        stamp = stamp.replace(", latest", ",<br>latest")  # two short lines on a phone
    if stamp:
        # On the chart itself, so it is on every board chart and in any copy of one: under the
        # months on a projector, under the title on a phone (the key is under the months there).
        placed = (dict(x=0, xanchor="left", align="left", y=1, yanchor="bottom", yshift=4) if size.legend_below else
                  dict(x=1, xanchor="right", y=0, yanchor="top", yshift=-62))
        fig.add_annotation(text=stamp, xref="paper", yref="paper", showarrow=False, font=dict(size=size.stamp, color="#222"),
                           **placed)
    return bottom, top, from_zero


def half_width(figure: go.Figure) -> go.Figure:
    """A chart for a half-width card: smaller title clear of the tool bar, slanted months, legend below them."""
    figure.update_layout(title=dict(font=dict(size=17)), xaxis=dict(tickangle=-45), legend=dict(y=-0.3), height=540,
                         margin=dict(t=80, b=60))
    return figure


def mark_recording_changes(figure: go.Figure, store, dataset: str, months: pd.Series) -> list[str]:
    """Draw data/annotations.csv's recording changes that fall in the chart; return problems with the file."""
    notes, problems = read_annotations(store.data_dir, dataset, store.is_synthetic(dataset))
    shown = set(pd.DatetimeIndex(months))
    for row in notes.itertuples():
        if row.month in shown:
            label = f"{row.month:%b %Y}"
            figure.add_vline(x=label, line=dict(color="#555", dash="dash", width=1.5))
            figure.add_annotation(x=label, y=1.0, yref="paper", text=row.text, showarrow=False, xanchor="left",
                                  font=dict(size=12), bgcolor="rgba(255,255,255,0.85)")
    return problems


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font=dict(size=16), xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_layout(xaxis=dict(visible=False), yaxis=dict(visible=False), height=300, plot_bgcolor="white")
    return fig


def series_notes(table: pd.DataFrame, method: str, report_month: pd.Timestamp | None) -> list[str]:
    """Plain-words caveats for one chart: short baselines, missing months."""
    notes = limits.baseline_notes(table["month"], table["baseline_years"].to_numpy(), method)
    reported = table if report_month is None else table[table["month"] <= report_month]
    missing = reported.loc[reported["count"].isna(), "month"]
    if len(missing):
        notes.append("No data held for " + ", ".join(missing.dt.strftime("%b %Y")) + ": shown as a gap, not zero.")
    return notes


def notes_block(notes: list[str], id: str | None = None) -> html.Div:
    kwargs = {"id": id} if id else {}
    return html.Div([dbc.Alert(n, color="info", class_name="py-1 px-2 mb-1 small") for n in notes], **kwargs)


# AG Grid formatter (d3-format ships with dash-ag-grid): 12,345; blank for missing values.
THOUSANDS = {"function": "params.value == null ? '' : d3.format(',')(params.value)"}


# Numbers need no text filter; without its icon a short header fits without breaking mid-word.
NUMBER_COLUMN = {"filter": False, "minWidth": 100}


def column_defs(defs: list[dict]) -> list[dict]:
    """Column definitions with headers exactly as given (AG Grid would title-case "12 Months to ...")."""
    return [{"headerName": d["field"], **d} for d in defs]


# After a grid, a keyboard user lands here from its skip link (assets/keyboard.js moves focus).
SKIP_TARGET_SUFFIX = "-after"


def skip_link(target_id: str, text: str = "Skip past this table") -> html.A:
    """A link shown only when focused (Bootstrap's visually-hidden-focusable) that moves focus
    past a grid: without it a keyboard user tabs through every cell and header to leave."""
    return html.A(text, href=f"#{target_id}", className="skip-grid visually-hidden-focusable small",
                  **{"data-skip-to": target_id})


def grid(id: str, frame: pd.DataFrame | None = None, height: int | None = None, grid_options: dict | None = None,
         **kwargs) -> html.Div:
    """A sortable, filterable table; columns come from the frame unless columnDefs is given.

    Returned inside a wrapper with a skip link before it and its focus target after it, so a
    keyboard user can pass the grid in one key press; the AG Grid itself keeps the id `id`.
    grid_options: extra dashGridOptions (e.g. MARAC's "render every row").
    """
    defs = kwargs.pop("columnDefs", None)
    if defs is None and frame is not None:
        defs = [
            {"field": c, **({"valueFormatter": THOUSANDS, "type": "rightAligned"} if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool else {})}
            for c in frame.columns if c != "id"
        ]
    style = {"height": f"{height}px"} if height else {}
    options = {**({"domLayout": "autoHeight"} if not height else {}), **(grid_options or {})}
    table = dag.AgGrid(
        id=id,
        rowData=[] if frame is None else frame.to_dict("records"),
        columnDefs=column_defs(defs or []),
        defaultColDef={"sortable": True, "resizable": True, "filter": True, "minWidth": 90,
                       "wrapHeaderText": True, "autoHeaderHeight": True},
        columnSize="responsiveSizeToFit",
        dashGridOptions=options,
        style=style,
        **kwargs,
    )
    after = f"{id}{SKIP_TARGET_SUFFIX}"
    return html.Div([skip_link(after), table, html.Span(id=after, tabIndex="-1", className="skip-target")],
                    className="grid-with-skip")


def select(id: str, options, value, **kwargs) -> dbc.Select:
    """A native, labelled <select> (give its dbc.Label html_for=id). Values travel as strings,
    so callbacks parse them with queries/params.py (which accepts "2026" for a year).

    Why not dcc.Dropdown: Dash 4's dropdown renders a focusable aria-hidden input (axe
    aria-hidden-focus) and is named by its value, not its label; a <select> is both keyboard-
    and screen-reader-native, and a phone shows its own picker.
    """
    def option(o) -> dict:
        if isinstance(o, dict):
            return {**o, "value": str(o["value"])}
        return {"label": str(o), "value": str(o)}

    return dbc.Select(id=id, options=[option(o) for o in options], value=None if value is None else str(value), **kwargs)


def card(title, body, actions=None, id: str | None = None) -> dbc.Card:
    header = dbc.CardHeader(
        html.Div([html.Span(title, className="fw-semibold", **({"id": f"{id}-title"} if id else {})),
                  html.Span(actions or [], className="ms-auto")], className="d-flex align-items-center gap-2")
    )
    # The card carries the id too, so assets/roles.css can hide a whole card ("crime-drill-card").
    return dbc.Card([header, dbc.CardBody(body)], class_name="mb-3 shadow-sm", **({"id": id} if id else {}))


def neighbourhood_card(prefix: str, actions=None) -> dbc.Card:
    """The drill-down: a CSP's neighbourhoods ranked, and a chart for the one clicked."""
    return card(
        "Neighbourhoods",
        [html.P(id=f"{prefix}-drill-caption", className="small text-muted mb-1"),
         # Hidden until a CSP is chosen: an empty grid is a header row with no cells (axe aria-required-children).
         html.Div(shell.loading(grid(f"{prefix}-drill", height=430, getRowId="params.data.id")), id=f"{prefix}-drill-wrap",
                  style={"display": "none"}),
         shell.loading(dcc.Graph(id=f"{prefix}-drill-chart", config={"displaylogo": False}, style={"display": "none"})),
         html.P(id=f"{prefix}-drill-chart-summary", className="small mt-1 chart-summary")],
        actions=actions,
        id=f"{prefix}-drill-card",
    )
