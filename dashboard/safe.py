"""Total callbacks: whatever arrives, a callback answers with the page and a clear message, never an HTTP 500.

Inputs are made valid first (queries/params.py falls back to defaults with a note); this is
the net under that. `callback` is a drop-in for `dash.callback`: if the function still
raises, each output gets a stand-in that says what could not be drawn (an empty chart with
the message, an alert, an empty table) and the error is logged at ERROR level, so the
property-based test in tests/test_callbacks_fuzz.py fails on it and the bug gets fixed.
"""
from __future__ import annotations

import functools
import logging

import dash
import dash_bootstrap_components as dbc
from dash import Output, no_update
from dash.exceptions import PreventUpdate

from dashboard import components

log = logging.getLogger("csp.callbacks")

SORRY = "This part could not be drawn for the values chosen; pick another value or reload the page."


def _stand_in(output: Output, message: str):
    prop = output.component_property
    if prop == "figure":
        return components.empty_figure(message)
    if prop == "children":
        return dbc.Alert(message, color="warning", class_name="py-1 px-2 mb-1 small")
    if prop in ("rowData", "columnDefs"):
        return []
    return no_update


def callback(*args, **kwargs):
    """`dash.callback`, made total (see the module docstring)."""
    outputs = [a for a in args if isinstance(a, Output)]
    for value in kwargs.values():
        if isinstance(value, Output):
            outputs.append(value)

    def decorate(fn):
        @functools.wraps(fn)
        def total(*values, **named):
            try:
                return fn(*values, **named)
            except PreventUpdate:
                raise
            except Exception:  # noqa: BLE001 - the net: logged loudly, answered politely
                log.exception("callback %s failed for inputs %r", fn.__name__, values)
                stand_ins = [_stand_in(o, SORRY) for o in outputs]
                return stand_ins[0] if len(stand_ins) == 1 else tuple(stand_ins)

        return dash.callback(*args, **kwargs)(total)

    return decorate


def clicked_id(cell: object, key: str = "rowId") -> str | None:
    """The row (or column) id from an AG Grid cellClicked payload, if it is one; None for anything else."""
    if not isinstance(cell, dict):
        return None
    value = cell.get(key)
    return value if isinstance(value, str) and value else None


def page_layout(fn):
    """A page's `layout(**params)`, made total: a failure shows a message in place of the page, and is logged."""
    @functools.wraps(fn)
    def total(**params):
        try:
            return fn(**params)
        except Exception:  # noqa: BLE001 - logged loudly, answered politely
            log.exception("page layout %s failed for %r", fn.__module__, params)
            return dbc.Alert("This page could not be drawn for the link given. Try the page without its "
                             "parameters, or reload.", color="danger", class_name="mt-3")
    return total
