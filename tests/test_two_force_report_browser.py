"""The Report page of a store of two forces, in real headless Chromium against real gunicorn:
`/report?force=leicestershire` offers Leicestershire's months and prepares Leicestershire's report,
its sections named from Leicestershire's geography (not the store's first force's)."""
from __future__ import annotations

import io
import sys
import urllib.request
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from conftest import screenshot, start_gunicorn, stop
from helpers import click, wait_for, wait_text
from queries import cli
from queries.init_store import init_store

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).parent / "fixtures" / "police-uk"
PREPARE_SECONDS = 120


@pytest.fixture(scope="module")
def two_force_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("two-browser") / "store"
    init_store(data_dir, ["derbyshire", "leicestershire"])
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    try:
        code = cli.main(["import", "police-uk", str(FIXTURES / "leicestershire-street-2021-03.zip"),
                         str(FIXTURES / "derbyshire-street-2025-03.zip"), "--data-dir", str(data_dir), "--no-progress"])
    finally:
        sys.stdout, sys.stderr = old
    assert code == 0
    proc, url = start_gunicorn(data_dir, env_extra={"CSP_STATE_DIR": str(tmp_path_factory.mktemp("state"))})
    yield url
    stop(proc)


def test_the_report_page_for_the_second_force_shows_its_months_and_its_own_sections(two_force_server, browser):
    browser.get(two_force_server + "/report?force=leicestershire")
    wait_text(browser, "#report-status", "has not been prepared")
    current = browser.find_element(By.CSS_SELECTOR, "#report-forces [aria-current='page']")
    assert current.text == "Leicestershire Police"
    assert "March 2021" in browser.find_element(By.CSS_SELECTOR, "#report-month").text  # Leicestershire's month
    # Commentary is kept per force: Leicestershire's editor offers Leicestershire's sections.
    wait_text(browser, "#commentary-area", "Leicestershire")
    click(browser, wait_for(browser, "#report-prepare")[0])
    wait_for(browser, "#report-pdf", timeout=PREPARE_SECONDS)
    html_url = browser.find_element(By.CSS_SELECTOR, "#report-html").get_attribute("href")
    with urllib.request.urlopen(html_url, timeout=30) as response:
        page = response.read().decode()
    assert "County (excluding Leicester and Rutland) - Summary of issues" in page
    assert "Charnwood - Summary of issues" in page and "Amber Valley" not in page
    screenshot(browser, "report-second-force")
    # The store's first force is the default, with its own month.
    browser.get(two_force_server + "/report")
    wait_text(browser, "#report-status", "has not been prepared")
    assert "March 2025" in browser.find_element(By.CSS_SELECTOR, "#report-month").text
    assert browser.find_element(By.CSS_SELECTOR, "#report-forces [aria-current='page']").text == "Derbyshire Constabulary"
