"""Sign-in, lock-out, the closed-session switch, sign-out and the idle timeout in real Chromium
against real gunicorn with accounts set up and CSP_ANONYMOUS_ROLE=none (everything needs sign-in;
the public role is tested over HTTP in test_access.py)."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import requests
from selenium.webdriver.common.by import By

from conftest import screenshot, start_gunicorn, stop
from helpers import click, sign_in, wait_for, wait_text
from queries import hate_release, marac, roles, users
from queries.settings import DEFAULT_SUPPRESS_BELOW
from queries.store import Store

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
# 15 seconds, so the test can wait it out; 6 s was shorter than one page draw on a loaded 2-core machine
# (a busy browser sent its next request after the session had already idled out).
IDLE_MINUTES = 0.25


@pytest.fixture(scope="module")
def signin_server(tmp_path_factory, demo_dir):
    state = tmp_path_factory.mktemp("state")
    users.add(state, "bea", roles.BOARD, PASSWORD)
    users.add(state, "lou", roles.ANALYST, PASSWORD)
    # As `import marac` does: the release is audited and in the ledger before anyone asks.
    marac.release(Store(demo_dir), DEFAULT_SUPPRESS_BELOW, state_dir=state)
    proc, url = start_gunicorn(demo_dir, workers=2, env_extra={
        "CSP_STATE_DIR": str(state), "CSP_IDLE_MINUTES": str(IDLE_MINUTES), "CSP_ANONYMOUS_ROLE": "none"}, ready_path="/login")
    yield url
    stop(proc)


# Records Content-Security-Policy violations from the first script on (CDP scripts bypass CSP).
LISTEN_FOR_CSP = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
                  "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile));")


def test_lock_out_after_five_failures_then_sign_in_switch_session_and_sign_out(signin_server, browser):
    url = signin_server
    browser.delete_all_cookies()
    listener = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LISTEN_FOR_CSP})
    try:
        browser.get(url + "/marac")  # not signed in: every page leads to the sign-in form
        wait_text(browser, "h1", "Sign in")
        assert browser.current_url == url + "/login"
        for _ in range(5):
            sign_in(browser, url, "lou", "not the password")
        sign_in(browser, url, "lou", PASSWORD)
        wait_text(browser, "#login-error", "Too many failed sign-ins")

        sign_in(browser, url, "bea", PASSWORD)
        wait_text(browser, "#role-status", "bea (board)")
        browser.get(url + "/marac")  # a board member starts in open session: no MARAC
        wait_text(browser, "#role-refused", "shown only in a closed session")
        click(browser, wait_text(browser, "#session-switch", "Open session"))
        wait_text(browser, "#session-switch", "Closed session (MARAC shown)")
        # Back on the page the switch was pressed on (the page may already have written its view to the query).
        assert urlsplit(browser.current_url).path == "/marac"
        wait_text(browser, "#marac-cases-chart .gtitle", "Force Area - Cases discussed")
        wait_for(browser, "#marac-periods .ag-row", condition=lambda rows: len(rows) >= 3)
        # Board members may not export: the server refuses (403), and the buttons are not offered.
        for fmt in ("csv", "xlsx"):
            assert not browser.find_element(By.ID, f"marac-cases-download-{fmt}").is_displayed()
        screenshot(browser, "access-board-closed-session")
        # The strict policy (no inline or eval'd scripts) leaves Dash, plotly and the grids working.
        assert browser.execute_script("return window.__csp") == []

        click(browser, browser.find_element(By.ID, "sign-out"))
        wait_text(browser, "h1", "Sign in")
        browser.get(url + "/marac")
        wait_text(browser, "h1", "Sign in")
        assert browser.current_url == url + "/login" and not browser.find_elements(By.ID, "marac-cases-chart")
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", listener)
        browser.delete_all_cookies()


def test_idle_session_is_signed_out(signin_server, browser):
    url = signin_server
    browser.delete_all_cookies()
    try:
        sign_in(browser, url, "bea", PASSWORD)
        wait_text(browser, "#role-status", "bea (board)")
        time.sleep(IDLE_MINUTES * 60 + 2)
        browser.get(url + "/fire")
        wait_text(browser, "#login-timed-out", "signed out after a period without activity")
        assert browser.current_url == url + "/login"
    finally:
        browser.delete_all_cookies()


def test_without_signing_in_callbacks_and_layouts_are_refused(signin_server):
    url = signin_server
    page_callback = {"output": ".._pages_content.children..._pages_store.data..",
                     "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/"}]}
    assert requests.post(url + "/_dash-update-component", json=page_callback, timeout=30).status_code == 401
    assert requests.get(url + "/_dash-layout", timeout=30).status_code == 401
    assert requests.get(url + "/assets/app.css", timeout=30).status_code == 200


def test_public_hate_tab_draws_the_suppressed_release_with_under_five_labels(tmp_path_factory, demo_dir, browser):
    """A public visitor's Hate crime tab, in Chromium: the chart's hidden months say "<5", as does the table."""
    state = tmp_path_factory.mktemp("public-state")
    users.add(state, "bea", roles.BOARD, PASSWORD)  # users exist, so visitors are public
    # As at import: the public release is audited over its ledger before the first public view.
    hate_release.release(Store(demo_dir), DEFAULT_SUPPRESS_BELOW, state_dir=state)
    proc, url = start_gunicorn(demo_dir, workers=1, env_extra={"CSP_STATE_DIR": str(state),
                                                              "CSP_ANONYMOUS_ROLE": "public"})
    try:
        browser.delete_all_cookies()
        browser.get(url + "/hate?area=Bolsover&strand=Race")
        wait_text(browser, "#role-status", "public view")
        wait_for(browser, "#hatepublic-chart text.bartext", condition=lambda els: any(e.text == "<5" for e in els))
        wait_for(browser, "#hatepublic-table .ag-cell", condition=lambda els: any(e.text == "<5" for e in els))
        cells = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#hatepublic-table .ag-cell[col-id='Count']")]
        assert cells and all(c == "<5" or int(c) >= DEFAULT_SUPPRESS_BELOW for c in cells)
        assert not browser.find_elements(By.CSS_SELECTOR, "#hate-chart, #hate-ytd, #hate-neighbourhood-card")
        screenshot(browser, "public-hate")
    finally:
        stop(proc)
