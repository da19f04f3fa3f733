"""Small waits for browser tests: Dash renders after the page loads, so poll, don't sleep."""
from __future__ import annotations

import time

from selenium.webdriver.common.by import By

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
