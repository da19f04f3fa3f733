"""Download buttons (one per export format) and the server-side grid export they trigger.

A grid's download is recomputed on the server: the callback rebuilds the frame from the store
(so roles, suppression and the export log apply there), then replays the grid's filterModel
and columnState (sort and visible columns) with queries.formats.apply_grid_view, so the file
holds exactly the rows on screen, in the same order. The grid's client-side CSV export is
never used.

A card whose file is not a grid (a chart's figures, a KPI line) uses `frame_download`: the same
formats, file names and About sheet, just no grid view to replay.

How a card uses it (see the Data tab for a working example):

    actions=[downloads.download_buttons("data-overview")]          # or a {"tab":..,"part":..} id
    @callback(downloads.outputs("data-overview"), downloads.inputs("data-overview"),
              State("data-overview", "filterModel"), State("data-overview", "columnState"), State("shell-url", "href"))
    def _download(*clicks_and_state): ... return downloads.grid_download(frame, ..., fmt_key=downloads.clicked_format())
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, ctx, dcc, html

from queries.formats import FORMATS, apply_grid_view, export_filename, format_for, sort_model_from_column_state, visible_columns

Id = str | dict


def sub_id(base: Id, suffix: str) -> Id:
    """`base` + suffix in either id convention: "data-overview" -> "data-overview-csv";
    {"tab": "crime", "part": "summary"} -> {"tab": "crime", "part": "summary-csv"}."""
    if isinstance(base, dict):
        return {**base, "part": f"{base['part']}-{suffix}"}
    return f"{base}-{suffix}"


def download_buttons(base: Id, what: str = "this table") -> html.Span:
    """One small button per registered format, a dcc.Download and a polite status line."""
    buttons = [
        dbc.Button(fmt.label.split(" ")[0], id=sub_id(base, f"download-{key}"), size="sm", color="secondary",
                   outline=True, title=f"Download {what} as {fmt.label}, as shown (filters and sort applied)")
        for key, fmt in FORMATS.items()
    ]
    return html.Span([
        html.Span("Download:", className="small me-1"),
        dbc.ButtonGroup(buttons, size="sm"),
        dcc.Download(id=sub_id(base, "download")),
        html.Span(id=sub_id(base, "download-message"), className="small text-danger ms-2", role="status"),
    ], className="d-inline-flex align-items-center")


def menu(base: str, what: str = "this table") -> html.Span:
    """`download_buttons` in a wrapper whose id ends "-download-menu", so assets/roles.css can hide
    the whole menu from a role that may not export this dataset (the server refuses it anyway)."""
    return html.Span(download_buttons(base, what), id=f"{base}-download-menu")


def inputs(base: Id) -> list[Input]:
    return [Input(sub_id(base, f"download-{key}"), "n_clicks") for key in FORMATS]


def outputs(base: Id) -> list[Output]:
    return [Output(sub_id(base, "download"), "data"), Output(sub_id(base, "download-message"), "children")]


def clicked_format() -> str:
    """The format key of the button that fired the current callback."""
    trigger = ctx.triggered_id
    part = trigger["part"] if isinstance(trigger, dict) else str(trigger)
    return part.rsplit("download-", 1)[-1]


def describe_filters(filter_model) -> dict:
    """The grid's filters in words for the About sheet, e.g. {"dataset": "contains 'r'"}."""
    described = {}
    for column, model in (filter_model or {}).items():
        if not isinstance(model, dict):
            continue
        conditions = model.get("conditions") or [model]
        words = [f"{c.get('type')} {c.get('filter')!r}" + (f" to {c.get('filterTo')!r}" if c.get("filterTo") is not None else "")
                 for c in conditions if isinstance(c, dict)]
        described[f"table column {column!r}"] = f" {model.get('operator', 'AND')} ".join(words)
    return described


def frame_download(frame, about: dict, name_parts: list, fmt_key: str) -> tuple:
    """(dcc.Download data, message) for a whole frame in the clicked format (no grid to replay)."""
    try:
        fmt = format_for(fmt_key)
    except ValueError as exc:
        return dash.no_update, f"Cannot download: {exc}"
    filename = export_filename(name_parts, fmt)
    return dcc.send_bytes(lambda stream: fmt.write(frame, about, stream), filename), ""


def grid_download(frame, filter_model, column_state, fmt_key: str, about: dict, name_parts: list,
                  headers: dict | None = None) -> tuple:
    """(dcc.Download data, message) for the rows the grid shows; a model we cannot replay
    exactly gives no file and a message saying why.

    headers: the grid's field -> the column's heading, for grids whose fields are plain keys
    (AG Grid reads a "." in a field as a path, so "Vol. Change" travels as "c2"); the frame
    then has the grid's fields as columns and the file gets the headings.
    """
    try:
        shown = apply_grid_view(frame, filter_model, sort_model_from_column_state(column_state),
                                visible_columns(column_state))
    except ValueError as exc:
        return dash.no_update, f"Cannot download: {exc}"
    except TypeError:  # e.g. a sort on a column mixing numbers and text: we would not match the screen
        return dash.no_update, "Cannot download this sort exactly: clear the table's sort and try again."
    if headers:
        shown = shown.rename(columns=headers)
        filter_model = {headers.get(k, k): v for k, v in (filter_model or {}).items()} if isinstance(filter_model, dict) else filter_model
    about = {**about, "filters": {**(about.get("filters") or {}), **describe_filters(filter_model)}}
    return frame_download(shown, about, name_parts, fmt_key)
