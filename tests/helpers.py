"""Small waits for browser tests: Dash renders after the page loads, so poll, don't sleep."""
from __future__ import annotations

import time

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

WAIT_SECONDS = 30


def wait_for(driver, css: str, timeout: float = WAIT_SECONDS, condition=lambda els: bool(els)):
    """Elements matching `css` once `condition(elements)` holds; fails with what was last seen."""
    deadline = time.time() + timeout
    elements = []
    while time.time() < deadline:
        elements = driver.find_elements(By.CSS_SELECTOR, css)
        try:
            if condition(elements):
                return elements
        except Exception:  # an element re-rendered between find and check: poll again
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {css!r}; found {len(elements)} element(s)")


def wait_text(driver, css: str, text: str, timeout: float = WAIT_SECONDS):
    """The first element matching `css` whose text contains `text`."""
    found = wait_for(driver, css, timeout, lambda els: any(text in e.text for e in els))
    return next(e for e in found if text in e.text)


def legend_names(driver, graph_id: str) -> list[str]:
    """Trace names in a Plotly graph's legend, as drawn."""
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, f"#{graph_id} .legend .traces .legendtext")]


def click(driver, element) -> None:
    """Scroll an element to the middle of the window and click it as a user would."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    time.sleep(0.2)
    element.click()


HOVER_SECONDS = 0.5


def click_ward(driver, graph_css: str, ward_code: str, timeout: float = WAIT_SECONDS) -> None:
    """Click inside one ward of a plotly map, as a mouse would: the map itself (MapLibre's
    project()) says where the ward is on screen once it has finished drawing."""
    point = None
    deadline = time.time() + timeout
    while point is None and time.time() < deadline:
        point = driver.execute_script(
            """const gd = document.querySelector(arguments[0] + ' .js-plotly-plot') || document.querySelector(arguments[0]);
               const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
               if (!sub || !sub.map || !sub.map.loaded()) return null;
               // a callback still running: its loading overlay would take the click
               if (document.querySelector('[data-dash-is-loading="true"]')) return null;
               const trace = gd._fullData.find(t => t.type === 'choroplethmap' && t.locations.includes(arguments[1]));
               if (!trace) return null;
               const feature = trace.geojson.features.find(f => f.id === arguments[1]);
               let ring = feature.geometry.coordinates[0];
               if (feature.geometry.type === 'MultiPolygon') ring = ring[0];
               // the centroid of the ring's vertices lies inside a compact ward
               const lon = ring.reduce((s, p) => s + p[0], 0) / ring.length;
               const lat = ring.reduce((s, p) => s + p[1], 0) / ring.length;
               const xy = sub.map.project([lon, lat]);
               const box = sub.map.getCanvas().getBoundingClientRect();
               return {x: xy.x, y: xy.y, w: box.width, h: box.height};""",
            graph_css, ward_code,
        )
        if point is None:
            time.sleep(0.3)
    assert point, f"the map {graph_css} never finished drawing ward {ward_code}"
    canvas = driver.find_element(By.CSS_SELECTOR, f"{graph_css} .maplibregl-canvas")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", canvas)
    # Nothing (a spinner, a legend) may lie over the ward where the mouse will press.
    wait_for(driver, "body", timeout, lambda _: driver.execute_script(
        """const c = arguments[0], box = c.getBoundingClientRect();
           return document.elementFromPoint(box.left + arguments[1], box.top + arguments[2]) === c;""",
        canvas, point["x"], point["y"]))
    # Plotly works out what is under the mouse on mousemove and a click opens what was found
    # there. The mouse may already rest on this very spot (an earlier page put a map in the same
    # place), and moving to where it already is sends no mousemove: so come in from the corner,
    # and pause on the ward, as a hand does, before pressing.
    ActionChains(driver).move_to_element_with_offset(canvas, int(2 - point["w"] / 2), int(2 - point["h"] / 2)) \
        .pause(HOVER_SECONDS) \
        .move_to_element_with_offset(canvas, int(point["x"] - point["w"] / 2), int(point["y"] - point["h"] / 2)) \
        .pause(HOVER_SECONDS).click().perform()


def sign_in(browser, url: str, name: str, password: str) -> None:
    """Sign in through the app's own form, and wait until the answer has landed."""
    browser.get(url + "/login")
    # The previous sign-in's redirect may still be landing: act on the settled sign-in form only.
    WebDriverWait(browser, 30).until(
        lambda b: b.execute_script("return document.readyState") == "complete" and "/login" in b.current_url)
    browser.find_element(By.ID, "login-username").send_keys(name)
    browser.find_element(By.ID, "login-password").send_keys(password)
    submit = browser.find_element(By.ID, "login-submit")
    submit.click()
    # Wait for the answer, so the next navigation cannot cancel this sign-in before it is counted.
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(submit))
