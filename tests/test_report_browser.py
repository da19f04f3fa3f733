"""The Report tab in real headless Chromium against real gunicorn on the demo store:
the files are prepared in the background with progress shown, then the report appears
on the page and its PDF and Word files download."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.by import By

from conftest import screenshot
from helpers import click, wait_for, wait_text

pytestmark = pytest.mark.browser
PREPARE_SECONDS = 120


def test_report_page_prepares_in_the_background_then_shows_and_serves_the_files(live_server, browser):
    browser.get(live_server + "/report?month=2026-09")
    wait_text(browser, "#report-status", "has not been prepared")
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
    with urllib.request.urlopen(live_server + "/report-files/../../etc/passwd", timeout=10) as response:
        assert b"root:" not in response.read()
