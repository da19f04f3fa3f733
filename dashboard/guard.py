"""The one gate in front of every callback request: malformed envelopes get a clear answer, not a 500.

Our own callbacks check their values (queries/params.py, dashboard/safe.py); this checks the
envelope Dash itself reads before any of our code runs (a JSON object with an `output`
string and lists of inputs and states), and the values Dash's own page router reads (the
URL's path and query must be text). A request that fails is answered 204 ("nothing to
update", what Dash answers when a callback declines to update) for router values, or 400
with a message saying what is wrong for a broken envelope.
"""
from __future__ import annotations

import json

import flask

UPDATE_PATH = "/_dash-update-component"
# The page router's inputs: Dash reads them as strings before any page code runs.
ROUTER_IDS = {"_pages_location"}
# A callback request larger than this is not one our pages make (the biggest is a grid's rows).
MAX_BODY_BYTES = 2_000_000


def _bad(message: str) -> flask.Response:
    return flask.Response(json.dumps({"error": message}), status=400, mimetype="application/json")


def _router_value_ok(prop: object, value: object) -> bool:
    """A path starts with '/'; a query string is text; both may be absent."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    return value.startswith("/") if prop == "pathname" else True


def check_callback_request() -> flask.Response | None:
    """Flask before_request hook: None lets the request through."""
    request = flask.request
    if request.method != "POST" or not request.path.endswith(UPDATE_PATH):
        return None
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _bad(f"callback request too large ({request.content_length:,} bytes)")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        return _bad("a callback request is a JSON object with an 'output' string")
    for part in ("inputs", "state"):
        items = body.get(part, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
            return _bad(f"'{part}' must be a list of objects with an 'id'")
    for item in body.get("inputs", []) + body.get("state", []):
        if isinstance(item.get("id"), str) and item["id"] in ROUTER_IDS and not _router_value_ok(item.get("property"), item.get("value")):
            return flask.Response(status=204)
    return None
