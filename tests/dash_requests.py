"""Dash callback requests built from the app's own `/_dash-dependencies` list.

Shared by the property test (tests/test_callbacks_fuzz.py) and the national benchmark
(scripts/benchmark_scale.py), which both drive every registered callback in-process: one way
to name a request's ids, trigger and outputs, so the two cannot drift apart.
"""
from __future__ import annotations

import json

MATCHED_TAB = "crime"  # the tab a pattern-matching (MATCH) id is sent for


def concrete(component_id: str):
    """A dependency's id as a request carries it: dict ids decoded, MATCH replaced by one tab."""
    if not component_id.startswith("{"):
        return component_id
    decoded = json.loads(component_id)
    return {k: (MATCHED_TAB if v == ["MATCH"] else v) for k, v in decoded.items()}


def changed(item: dict) -> str:
    """The triggering input as Dash names it: a dict id as compact sorted JSON, then the property."""
    component = concrete(item["id"])
    name = json.dumps(component, sort_keys=True, separators=(",", ":")) if isinstance(component, dict) else component
    return f"{name}.{item['property']}"


def split_outputs(output: str) -> list[dict]:
    """A dependency's output string ("..a.b...c.d..") as the request's list of outputs."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    return [{"id": concrete(p.rsplit(".", 1)[0]), "property": p.rsplit(".", 1)[1]} for p in parts]


def value_kind(component_id, prop: str) -> str:
    """Which kind of value an input takes, from its id's last part ("crime-area" -> "area"),
    so generated requests can pick valid values for it; clicks and URLs by their property."""
    if prop in ("n_clicks", "cellClicked", "pathname", "search"):
        return prop
    if isinstance(component_id, dict):
        return str(component_id.get("part", ""))
    return component_id.rsplit("-", 1)[-1] if "-" in component_id else component_id
