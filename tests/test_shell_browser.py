"""The page shell and the map in real headless Chromium against real gunicorn: landmarks, skip
link, phones, 404, over-long addresses, compression, and a map click opening a chart."""
from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from conftest import screenshot
from helpers import click_ward, wait_for, wait_text

pytestmark = pytest.mark.browser

# A phone as Chromium's device emulation sees it (overlay scrollbars, the page's viewport meta
# honoured): a plain 390 px window is clamped to 500 px by headless Chromium.
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
PAGE_DRAWN = {
    "/": ".js-plotly-plot .scatterlayer .trace", "/fire": ".js-plotly-plot .scatterlayer .trace", "/marac": ".ag-row",
    "/hate": ".js-plotly-plot .scatterlayer .trace", "/data": ".ag-row", "/map": ".js-plotly-plot canvas",
}
PAGES = list(PAGE_DRAWN)
MAP_VIEW = "/map?area=Chesterfield&measure=Shoplifting&month=2026-10&method=pooled&k=2"
# Hasland ward is its own neighbourhood and carries no status marker, so the click lands on the ward shape.
HASLAND = "E05015176"


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _shell_ready(browser):
    return wait_for(browser, "#page-heading", condition=lambda els: els and els[0].text.strip())[0]


def test_pages_have_lang_one_h1_a_main_landmark_and_a_working_skip_link(live_server, browser):
    for path in ["/data", "/map", "/"]:
        browser.get(live_server + path)
        heading = _shell_ready(browser)
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        assert len(browser.find_elements(By.TAG_NAME, "h1")) == 1, path
        assert len(browser.find_elements(By.TAG_NAME, "main")) == 1
        assert heading.text == {"/data": "Data", "/map": "Map", "/": "Crime"}[path]
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    active = browser.switch_to.active_element
    assert active.text == "Skip to main content" and active.is_displayed()
    active.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"


def test_a_keyboard_user_skips_past_a_grid_in_one_key_press(live_server, browser):
    browser.get(live_server + "/?area=Erewash&month=2026-10")
    wait_for(browser, "#crime-summary .ag-row", condition=lambda rows: len(rows) >= 3)
    link = browser.find_element(By.CSS_SELECTOR, "a[data-skip-to='crime-summary-after']")
    assert link.size["width"] <= 1  # out of sight (1 px, clipped) until a keyboard reaches it
    browser.execute_script("arguments[0].focus();", link)
    assert link.size["width"] > 50 and link.text == "Skip past this table"
    screenshot(browser, "grid-skip-link-focused")
    before = browser.current_url
    link.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "crime-summary-after"
    assert browser.current_url == before  # the view in the address is untouched
    # The next Tab leaves the grid behind: focus is on something after it, not in a cell.
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.execute_script(
        "const g = document.getElementById('crime-summary'); const a = document.activeElement;"
        "return !g.contains(a) && !!(g.compareDocumentPosition(a) & Node.DOCUMENT_POSITION_FOLLOWING);")
    # Every grid on the page has one.
    grids = browser.find_elements(By.CSS_SELECTOR, ".grid-with-skip")
    assert len(grids) >= 3 and all(g.find_elements(By.CSS_SELECTOR, "a[data-skip-to]") for g in grids)


def test_unknown_address_is_a_404_page_with_links_back(live_server, browser):
    status, _, _ = _get(live_server + "/no-such-page")
    assert status == 404
    assert _get(live_server + "/fire")[0] == 200
    browser.get(live_server + "/no-such-page")
    assert _shell_ready(browser).text == "Page not found"
    links = wait_for(browser, "#not-found-links a")
    assert {"Crime", "Fire", "MARAC", "Hate crime", "Data"} <= {a.text for a in links}
    next(a for a in links if a.text == "Fire").click()
    wait_text(browser, "#page-heading", "Fire")


def test_over_long_address_gets_a_friendly_page_not_the_servers_414(live_server):
    status, headers, body = _get(live_server + "/?area=" + "x" * 100_000)
    text = body.decode()
    assert status == 414 and headers["Content-Type"].startswith("text/html")
    assert "<h1>Address too long</h1>" in text and 'href="/fire"' in text
    assert "Request Line is too large" not in text


def test_responses_are_compressed(live_server):
    status, _, page = _get(live_server + "/")
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+\.js[^"]*)"', page.decode())
    assert status == 200 and scripts, "no script in the page"
    largest = max(scripts, key=lambda src: len(_get(live_server + src)[2]))
    _, plain_headers, plain = _get(live_server + largest)
    _, headers, packed = _get(live_server + largest, {"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in plain_headers
    assert headers.get("Content-Encoding") in ("gzip", "br")
    assert len(packed) < len(plain) / 3


def test_phone_layout_folds_the_menu_and_never_scrolls_sideways(live_server, browser):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        for path in PAGES:
            browser.get(live_server + path)
            _shell_ready(browser)
            wait_for(browser, PAGE_DRAWN[path])  # the widest parts: charts, grids, the map
            widths = browser.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            if path == "/":
                screenshot(browser, "phone-390-crime")
            assert widths[1] == PHONE["width"]
            assert widths[0] <= widths[1], f"{path} is {widths[0]} px wide on a {widths[1]} px screen"
        toggler = browser.find_element(By.CSS_SELECTOR, ".navbar-toggler")
        link = browser.find_element(By.CSS_SELECTOR, ".navbar .nav-link[href='/fire']")
        assert toggler.is_displayed() and not link.is_displayed()
        assert toggler.get_attribute("aria-label")
        toggler.click()
        wait_for(browser, ".navbar .nav-link[href='/fire']", condition=lambda els: els[0].is_displayed())
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_clicking_a_ward_on_the_map_opens_its_neighbourhoods_chart(live_server, browser):
    browser.get(live_server + MAP_VIEW)
    wait_for(browser, ".js-plotly-plot canvas")
    click_ward(browser, "#main", HASLAND)
    link = wait_text(browser, "a", "open its Shoplifting chart")
    href = link.get_attribute("href")
    assert "neighbourhood=Hasland" in href and "area=Chesterfield" in href and "month=2026-10" in href
    screenshot(browser, "map-clicked")
    link.click()
    wait_text(browser, ".gtitle", "Hasland (Chesterfield) - Shoplifting")


@pytest.mark.parametrize("path, dataset, measure, area_in_link", [
    ("/", "crime", "Shoplifting", False),  # the area chosen on the page: the map comes by callback
    ("/asb", "asb", None, True),  # the area in the link: the map comes with the page
])
def test_the_trend_tabs_ward_map_opens_a_neighbourhoods_chart_in_the_tab(live_server, browser, path, dataset, measure,
                                                                         area_in_link):
    query = "?month=2026-10" + (f"&measure={measure}" if measure else "") + ("&area=Chesterfield" if area_in_link else "")
    browser.get(live_server + path + query)
    if not area_in_link:
        wait_text(browser, f"#{dataset}-drill-map-summary", "choose one of")  # a county has no one map
        Select(browser.find_element(By.ID, f"{dataset}-area")).select_by_value("Chesterfield")
    wait_text(browser, f"#{dataset}-drill-map-summary", "Chesterfield")
    wait_for(browser, f"#{dataset}-drill-map .maplibregl-canvas")
    assert not browser.find_elements(By.CSS_SELECTOR, f"#{dataset}-drill-chart .gtitle")
    click_ward(browser, f"#{dataset}-drill-map", HASLAND)
    title = wait_text(browser, f"#{dataset}-drill-chart .gtitle", "Hasland (Chesterfield)")
    assert "http" not in browser.current_url.split(path, 1)[1].split("?")[0]  # still on the same tab
    wait_for(browser, "body", condition=lambda _: "neighbourhood=Hasland" in browser.current_url)
    chart = browser.find_element(By.ID, f"{dataset}-drill-chart")
    in_view = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top < window.innerHeight && r.bottom > 0;", chart)
    assert in_view, "the neighbourhood's chart opened off-screen"
    screenshot(browser, f"{dataset}-ward-map-clicked")
    assert title.text.startswith("Hasland (Chesterfield)")
