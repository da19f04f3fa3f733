"""Every registered callback, driven with generated and hostile values through the real Dash app.

In-process (Flask's test client over the real app on the demo store, no browser), so it can
afford thousands of requests: any answer but 200/204 (or 403 where a role forbids it), and any
error logged while answering, fails. About a third of the examples use only valid values, so
the ordinary paths are exercised as hard as the hostile ones. Fixed seed, no deadline.
"""
from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from conftest import TOP_AREAS
from dash_requests import changed, concrete, split_outputs, value_kind
from queries import datasets, geography, hate, limits, params, series

EXAMPLES = 2000
VALID_EXAMPLES = 600  # a third of these runs use valid values only; the rest mix in hostile ones
ALLOWED = {200, 204, 403}
SEED = 20261130
COUNTS = {"valid": 0, "all": 0}  # filled by the fuzz tests, checked by the test after them


class _Errors(logging.Handler):
    """Collects every record at ERROR or above, from any logger (Flask, Dash, ours)."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture(scope="module")
def app_client(demo_dir):
    from dashboard import create_app

    app = create_app(demo_dir)
    client = app.server.test_client()
    assert client.get("/").status_code == 200  # sets the callbacks up
    dependencies = client.get("/_dash-dependencies").get_json()
    callbacks = [d for d in dependencies if not d.get("clientside_function") and d["output"].count("MATCH") <= 1
                 and "ALL" not in d["output"]]
    return client, callbacks, _valid_values(app_store(demo_dir))


def app_store(demo_dir):
    from dashboard import state
    return state.store()


def _valid_values(demo_store) -> dict[str, list]:
    """Valid values by the last part of a component id (crime-area -> area) or by property."""
    months = [params.month_key(m) for m in series.coverage(demo_store, "crime")]
    measures = sorted({m for d in ("crime", "fire", "hate") for m in series.measures(demo_store, d)})
    neighbourhoods = sorted(set(series.neighbourhoods(demo_store, "Chesterfield"))
                            | set(series.neighbourhoods(demo_store, "Erewash")))
    return {
        "area": list(TOP_AREAS),
        "force": ["derbyshire", None],
        "measure": measures,
        "month": months,
        "fy": sorted({limits.fy_of(m) for m in series.coverage(demo_store, "crime")}),
        "method": list(limits.METHODS),
        "k": [0.5, 1, 1.5, 2, 2.5, 3, 5],
        "neighbourhood": neighbourhoods + [None],
        "kind": ["crimes", "incidents"],
        "strand": hate.STRAND_CHOICES,
        "quarter": ["2026-Q2", "2025-Q1", "2024-Q3"],
        "period": ["month", "quarter", "calendar", "financial"],
        "board": [True, False],
        "version": [demo_store.token],
        "issue": [1, 2, 3, None],
        "screen": [390, 1280, 1920, None],
        "tick": [1, 2],
        "n_clicks": [1, 2, 7],
        "cellClicked": [{"colId": a, "rowId": m} for a in ("Chesterfield", "Erewash", "County Council Area")
                        for m in ("Shoplifting", "All crimes")]
        + [{"colId": "Neighbourhood", "rowId": n} for n in neighbourhoods[:5]],
        "pathname": ["/", "/fire", "/marac", "/hate", "/data", "/asb", "/nonexistent"],
        "search": ["", "?area=Chesterfield&measure=Shoplifting&month=2026-10", "?month=2025-06&k=3&method=classic",
                   "?fy=2023", "?kind=incidents&strand=Race", "?quarter=2025-Q2", "?present=1"],
    }


HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=80),
    st.sampled_from(["-1", "0", "10", "nan", "inf", "2099-13", "2026-00", "1800-01", "<script>alert(1)</script>",
                     "' OR 1=1 --", "x" * 5000, "?month=-1", "?k=0&area=%00", "/../../etc/passwd", "{}", "[]"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.just({"colId": ["x"], "rowId": {"a": 1}}), st.just({"rowId": None}),
)


def _drive(app_client, data, all_valid: bool) -> None:
    """One generated request to one registered callback; asserts the answer and that nothing was logged."""
    client, callbacks, valid = app_client
    dependency = data.draw(st.sampled_from(callbacks), label="callback")

    def value_for(item: dict):
        choices = valid.get(value_kind(concrete(item["id"]), item["property"]))
        if choices and (all_valid or data.draw(st.booleans(), label="valid?")):
            return data.draw(st.sampled_from(choices), label=str(item["id"]))
        return data.draw(HOSTILE, label=str(item["id"]))

    outputs = split_outputs(dependency["output"])
    payload = {
        "output": dependency["output"],
        "outputs": outputs if dependency["output"].startswith("..") else outputs[0],
        "inputs": [{**i, "id": concrete(i["id"]), "value": value_for(i)} for i in dependency["inputs"]],
        "state": [{**s, "id": concrete(s["id"]), "value": value_for(s)} for s in dependency["state"]],
        "changedPropIds": [changed(dependency["inputs"][0])] if dependency["inputs"] else [],
    }
    errors = _Errors()
    root = logging.getLogger()
    root.addHandler(errors)
    try:
        response = client.post("/_dash-update-component", data=json.dumps(payload, default=str),
                               content_type="application/json")
    finally:
        root.removeHandler(errors)
    COUNTS["all"] += 1
    COUNTS["valid"] += all_valid
    assert response.status_code in ALLOWED, (dependency["output"], payload["inputs"], response.data[:500])
    assert not errors.records, [r.getMessage()[:300] for r in errors.records]




FUZZ = settings(deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@settings(FUZZ, max_examples=VALID_EXAMPLES)
@seed(SEED)
@given(data=st.data())
def test_every_callback_answers_valid_values_without_error(app_client, data):
    _drive(app_client, data, all_valid=True)


@settings(FUZZ, max_examples=EXAMPLES - VALID_EXAMPLES)
@seed(SEED + 1)
@given(data=st.data())
def test_every_callback_answers_hostile_values_without_error(app_client, data):
    _drive(app_client, data, all_valid=False)


def test_a_quarter_or_more_of_the_fuzzed_examples_were_valid():
    if COUNTS["all"] == 0:
        pytest.skip("runs after the fuzz test above, in the same session")
    assert COUNTS["all"] >= EXAMPLES and COUNTS["valid"] >= COUNTS["all"] / 4, COUNTS


def test_every_registered_dataset_has_a_page_or_is_sensitive():
    import dash

    from dashboard import create_app  # noqa: F401  (pages registered on import of the app)

    pages = {p.get("dataset") for p in dash.page_registry.values()}
    for key, record in datasets.DATASETS.items():
        assert key in pages or record.sensitive, key
