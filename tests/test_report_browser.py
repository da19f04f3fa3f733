"""The Report tab in real headless Chromium against real gunicorn on the demo store:
the files are prepared in the background with progress shown, then the report appears
on the page and its PDF and Word files download."""
from __future__ import annotations

import os
import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.by import By

from pathlib import Path

from conftest import screenshot
from conftest import COUNTY
from queries import geography
from queries.commentary import ACTIVITY, Commentary, Key
from queries.settings import load_settings
from helpers import click, wait_for, wait_text

pytestmark = pytest.mark.browser
PREPARE_SECONDS = 120


def _state_dir(live_server_data: Path) -> Path:
    """The state folder gunicorn uses: it runs with this environment plus CSP_DATA_DIR (conftest.start_gunicorn)."""
    return load_settings(dict(os.environ, CSP_DATA_DIR=str(live_server_data))).state_dir


def test_commentary_round_trip_then_the_report_prepares_in_the_background_and_shows_it(live_server, browser, demo_dir):
    notes = Commentary(_state_dir(demo_dir), "derbyshire")
    key = Key(COUNTY, "", "2026-09", ACTIVITY, "derbyshire")
    browser.get(live_server + "/report?month=2026-09")
    wait_text(browser, "#report-status", "has not been prepared")
    wait_text(browser, "#commentary-info", "Nothing saved yet")
    browser.find_element(By.CSS_SELECTOR, "#commentary-author").send_keys("A. Analyst")
    box = browser.find_element(By.CSS_SELECTOR, "#commentary-text")
    box.send_keys("Partnership tasking on vehicle crime.")
    click(browser, browser.find_element(By.CSS_SELECTOR, "#commentary-save"))
    wait_text(browser, "#commentary-message", "Saved as version 1")
    # A colleague saves from another worker while this page still shows version 1 ...
    notes.save(key, "Colleague: vehicle crime tasking with Derby City.", "B. Colleague", base_version=1)
    box.send_keys(" Extra line.")
    click(browser, browser.find_element(By.CSS_SELECTOR, "#commentary-save"))
    # ... so this save is refused, showing both texts; nothing is lost.
    wait_text(browser, "#commentary-message", "Not saved: B. Colleague saved version 2")
    assert "Partnership tasking on vehicle crime. Extra line." in browser.find_element(By.CSS_SELECTOR, "#commentary-mine").text
    wait_for(browser, "#commentary-text", condition=lambda els: els[0].get_attribute("value").startswith("Colleague:"))
    click(browser, browser.find_element(By.CSS_SELECTOR, "#commentary-approve"))
    wait_text(browser, "#commentary-message", "Version 2 approved")
    browser.refresh()
    wait_text(browser, "#commentary-info", "approved (this version)")
    assert browser.find_element(By.CSS_SELECTOR, "#commentary-text").get_attribute("value").startswith("Colleague:")

    click(browser, wait_for(browser, "#report-prepare")[0])
    links = wait_for(browser, "#report-pdf", timeout=PREPARE_SECONDS)
    pdf_url = links[0].get_attribute("href")
    docx_url = browser.find_element(By.CSS_SELECTOR, "#report-docx").get_attribute("href")
    with urllib.request.urlopen(pdf_url, timeout=30) as response:
        assert response.read(5) == b"%PDF-"
    with urllib.request.urlopen(docx_url, timeout=30) as response:
        assert response.read(2) == b"PK", "a .docx is a zip"
    frame = wait_for(browser, "#report-frame", condition=lambda els: els[0].is_displayed())[0]
    browser.switch_to.frame(frame)
    try:
        wait_text(browser, "h1", "Community Safety Partnership Performance Report up to and including September 2026")
        headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h2")]
        assert headings.index("County (excluding Derby City) - Summary of issues") < headings.index(
            "Amber Valley - Summary of issues")
        wait_text(browser, ".activity", "Colleague: vehicle crime tasking with Derby City.")
    finally:
        browser.switch_to.default_content()
    screenshot(browser, "report-page")


def test_report_files_route_serves_nothing_outside_the_cache(live_server):
    for path in ("/report-files/abc/def/report.pdf", "/report-files/0123456789ab/2026-09-0123456789ab/report.exe",
                 "/report-files/0123456789ab/2026-09-0123456789ab/report.pdf"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(live_server + path, timeout=10)
        assert refused.value.code == 404
    # A climbing path is normalised by the server before routing: it never reaches the file route.
    try:
        with urllib.request.urlopen(live_server + "/report-files/../../etc/passwd", timeout=10) as response:
            body = response.read()
    except urllib.error.HTTPError as not_found:  # the page shell answers an unknown path with a real 404
        body = not_found.read()
    assert b"root:" not in body
