"""The page shell's server side (dashboard/shell.py) through Flask's test client: compression
and its cache, 404 status, the over-long address page."""
from __future__ import annotations

import re

import pytest

from dashboard import shell


@pytest.fixture(scope="module")
def client(demo_dir):
    from dashboard import create_app

    return create_app(demo_dir).server.test_client()


def _largest_script(client) -> str:
    page = client.get("/").get_data(as_text=True)
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+\.js[^"]*)"', page)
    return max(scripts, key=lambda src: len(client.get(src).get_data()))


def test_static_bundles_are_compressed_once_and_served_from_the_cache(client):
    src = _largest_script(client)
    plain = client.get(src).get_data()
    first = client.get(src, headers={"Accept-Encoding": "br"})
    second = client.get(src, headers={"Accept-Encoding": "br"})
    assert first.headers["Content-Encoding"] == "br" and len(first.get_data()) < len(plain) / 3
    assert first.get_data() == second.get_data()
    import brotli

    assert brotli.decompress(first.get_data()) == plain


def test_callback_answers_are_never_taken_from_the_cache():
    cache = shell.StaticCompressionCache(size=2)
    class Request:
        method, path, full_path = "POST", "/_dash-update-component", "/_dash-update-component?"
    key = "br;" + shell.compression_cache_key(Request)
    cache.set(key, b"an answer for someone else")
    assert cache.get(key) is None
    for i in range(3):
        cache.set(f"br;/assets/{i}.css?", b"x")
    assert cache.get("br;/assets/0.css?") is None and cache.get("br;/assets/2.css?") == b"x"


def test_unknown_pages_are_404_known_pages_and_internals_200(client):
    assert client.get("/nope").status_code == 404
    assert client.get("/map").status_code == 200 and client.get("/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200


def test_over_long_address_gets_the_friendly_page(client):
    response = client.get("/?area=" + "x" * (shell.MAX_URL_CHARS + 1))
    assert response.status_code == 414
    assert "Address too long" in response.get_data(as_text=True)
    assert client.get("/?area=" + "x" * 200).status_code == 200


# --------------------------------------------------------------------------- first load (issue 12)


def _page_content(client, path: str, search: str = "") -> dict:
    """What Dash's page router answers for an address: the page's layout, as the browser gets it."""
    payload = {"output": ".._pages_content.children..._pages_store.data..",
               "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
               "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                          {"id": "_pages_location", "property": "search", "value": search}],
               "changedPropIds": ["_pages_location.pathname"]}
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200
    return response.get_json()


def _props(node, component_id: str):
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == component_id:
            return node["props"]
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    return next((found for child in children if (found := _props(child, component_id)) is not None), None)


def test_a_trend_page_arrives_with_the_chart_its_address_asks_for(client):
    """The first paint needs no chart callback round trip: the layout holds the URL's figure."""
    default = _props(_page_content(client, "/"), "crime-chart")["figure"]
    assert default["data"] and any(trace.get("y") for trace in default["data"])
    asked = _props(_page_content(client, "/", "?area=Chesterfield&measure=Shoplifting"), "crime-chart")["figure"]
    assert asked["layout"]["title"]["text"] == "Chesterfield - Shoplifting" and asked != default


def test_the_page_preloads_plotly_from_the_address_the_chart_fetches_it_and_the_csp_allows(client):
    page = client.get("/")
    hrefs = re.findall(r'<link rel="preload" href="([^"]+)" as="script">', page.get_data(as_text=True))
    assert hrefs == ["/_dash-component-suites/plotly/package_data/plotly.min.js"]
    script = client.get(hrefs[0])
    assert script.status_code == 200 and b"Plotly" in script.get_data()[:20000]
    policy = page.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in policy
