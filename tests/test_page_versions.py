"""Every page keeps the store version it was drawn from: after an import swaps the store, each of
its callbacks (each card is its own request) still answers from that version, and the page says
"Newer data available" — the Map, Data, Report and MARAC pages, the Fire and Hate pages' own cards
and the public hate view, as the trend tabs already did.

In-process: the real app (Flask's test client) over a real store that a real import swaps.
"""
from __future__ import annotations

import base64
import io
import json

import pandas as pd
import pytest

from conftest import copy_store
from test_store_versions import HALF, MARCH, MARCH_ROWS, half_march, import_march


@pytest.fixture(scope="module")
def swapped(tmp_path_factory):
    """(client, dependencies, the version the pages were drawn from, the version after the swap)."""
    from dashboard import auth, create_app, state

    held = state._store, auth._CONFIG
    data_dir = copy_store(tmp_path_factory.mktemp("pages") / "data")  # the demo store: every dataset
    import_march(data_dir, MARCH)
    app = create_app(data_dir)
    client = app.server.test_client()
    assert client.get("/data").status_code == 200
    drawn_from = state.store().token
    import_march(data_dir, half_march(tmp_path_factory.mktemp("half")))
    now = state.store().snapshot().token
    assert now != drawn_from
    yield client, client.get("/_dash-dependencies").get_json(), drawn_from, now
    state._store, auth._CONFIG = held  # later modules draw from their own app's store


def _dependency(dependencies: list[dict], output: str) -> dict:
    return next(d for d in dependencies if output in d["output"])


def _post(client, dependency: dict, values: dict, trigger: str) -> tuple[int, dict]:
    """One callback request as the browser sends it; `values` by "id.property", everything else None."""
    def items(kind):
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in dependency[kind]]

    output = dependency["output"]
    outputs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]}
               for p in (output[2:-2].split("...") if output.startswith("..") else [output])]
    payload = {"output": output, "outputs": outputs if output.startswith("..") else outputs[0],
               "inputs": items("inputs"), "state": items("state"), "changedPropIds": [trigger]}
    response = client.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
    return response.status_code, (response.get_json() if response.status_code == 200 else {})


def _overview_csv(client, dependencies, token) -> pd.DataFrame:
    dependency = _dependency(dependencies, "data-overview-download.data")
    status, answer = _post(client, dependency, {"data-overview-download-csv.n_clicks": 1, "data-version.data": token},
                           "data-overview-download-csv.n_clicks")
    assert status == 200
    sent = answer["response"]["data-overview-download"]["data"]
    text = base64.b64decode(sent["content"]).decode("utf-8-sig") if sent.get("base64") else sent["content"]
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("dataset,"))
    return pd.read_csv(io.StringIO("\n".join(lines[start:])))


def test_a_pages_callback_answers_from_the_version_it_was_drawn_from_after_a_swap(swapped):
    client, dependencies, drawn_from, now = swapped
    old = _overview_csv(client, dependencies, drawn_from).set_index("dataset")
    new = _overview_csv(client, dependencies, now).set_index("dataset")
    # March holds every row in the page's version and half of them now: the page still counts them all.
    assert old.loc["crime", "records"] - new.loc["crime", "records"] == MARCH_ROWS - HALF


@pytest.mark.parametrize("page", ["data", "report", "map"])
def test_a_page_on_a_superseded_version_says_newer_data_is_available_and_keeps_its_version(swapped, page):
    client, dependencies, drawn_from, now = swapped
    check = _dependency(dependencies, f"{page}-newer.children")
    status, answer = _post(client, check, {f"{page}-tick.n_intervals": 1, f"{page}-version.data": drawn_from},
                           f"{page}-tick.n_intervals")
    assert status == 200
    assert "Newer data available" in json.dumps(answer["response"][f"{page}-newer"])
    assert f"{page}-version" not in answer["response"]  # an ordinary page keeps its figures
    status, answer = _post(client, check, {f"{page}-tick.n_intervals": 2, f"{page}-version.data": now},
                           f"{page}-tick.n_intervals")
    assert status in (200, 204) and f"{page}-newer" not in answer.get("response", {})  # current: nothing to say


@pytest.mark.parametrize("path, prefix", [("/data", "data"), ("/report", "report"), ("/map", "map"),
                                          ("/marac", "marac"), ("/fire", "fire"), ("/hate", "hate")])
def test_each_page_is_drawn_with_its_version_and_the_banners_place(swapped, path, prefix):
    client, dependencies, _, now = swapped
    layout = client.post("/_dash-update-component", data=json.dumps(_pages_payload(dependencies, path)),
                         content_type="application/json").get_json()
    text = json.dumps(layout)
    assert f'"{prefix}-version"' in text and f'"{now}"' in text and f'"{prefix}-newer"' in text


def _pages_payload(dependencies: list[dict], path: str) -> dict:
    pages = next(d for d in dependencies if "_pages_content.children" in d["output"])
    values = {"pathname": path, "search": "", "href": "http://localhost" + path, "hash": ""}
    output = pages["output"]
    outputs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]}
               for p in (output[2:-2].split("...") if output.startswith("..") else [output])]
    return {"output": output, "outputs": outputs if output.startswith("..") else outputs[0],
            "inputs": [{**i, "value": values.get(i["property"])} for i in pages["inputs"]],
            "state": [{**s, "value": values.get(s["property"])} for s in pages["state"]],
            "changedPropIds": [f"{pages['inputs'][0]['id']}.{pages['inputs'][0]['property']}"]}


# Each page's own store-reading callbacks, by an output they draw: every one reads the page's version.
PAGE_CALLBACKS = {
    "marac": ["marac-cases-chart.figure", "marac-cases-download.data", "marac-repeat-download.data",
              "marac-periods-download.data", "marac-split-download.data", "marac-agency-download.data",
              "marac-rate-download.data"],
    "fire": ["fire-kpi.children", "fire-quarter.value", "fire-kpi-download.data", "fire-districts-download.data"],
    "hate": ["hate-ytd.rowData", "hate-strands.rowData", "hate-outcomes.rowData", "hate-ytd-download.data",
             "hate-strands-download.data", "hate-outcomes-download.data"],
    "hatepublic": ["hatepublic-chart.figure"],
    "data": ["data-overview-download.data"],
    "report": ["report-status.children", "commentary-about.options", "commentary-text.value"],
}


@pytest.mark.parametrize("page", list(PAGE_CALLBACKS))
def test_every_card_of_a_page_reads_the_pages_one_version(swapped, page):
    _, dependencies, _, _ = swapped
    for output in PAGE_CALLBACKS[page]:
        dependency = _dependency(dependencies, output)
        version = "report" if page == "report" else page
        assert {"id": f"{version}-version", "property": "data"} in dependency["state"], output
    # And one minute's check per page, the same callback for each.
    assert any(f"{page}-newer.children" in d["output"] for d in dependencies)
