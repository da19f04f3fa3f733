"""Issue 11 in a real browser: the board view on a projector-sized screen, walked by keyboard.

Real gunicorn (the live_server fixture, or its own for the version test) and real headless
Chromium. Screenshots of every tab's board view at 1280x720, 1920x1080 and 390 px wide are
saved under screenshots/ (tests/conftest.py `screenshot`) for a person to look at; MARAC's as
a board member signed in and switched to a closed session, the only way the board sees it.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from conftest import screenshot, start_gunicorn, stop
from helpers import click, legend_names, sign_in, wait_for, wait_text
from queries import marac, report, roles, series, users
from queries.limits import SERIES_NAMES
from queries.settings import DEFAULT_SUPPRESS_BELOW
from queries.store import Store

pytestmark = pytest.mark.browser

BOARD_TABS = {"crime": "/", "asb": "/asb", "fire": "/fire", "hate": "/hate"}
SCREENS = {"1280x720": (1280, 720), "1920x1080": (1920, 1080), "390px": (390, 844)}
BROWSER_DEFAULT = (1600, 2000)  # tests/conftest.py's window
# The chart must take most of a projector's screen.
MIN_CHART_SHARE = 0.6
DASH = "\u2013"
PASSWORD = "correct horse battery"
MARAC_NO_WALK = "MARAC: no Current Issues \u2014 the report lists issues for crime groups"


def inner_size(driver, width: int, height: int) -> None:
    """Size the page's viewport (not the window) to width x height."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])


@pytest.fixture()
def screen(browser):
    yield lambda size: inner_size(browser, *SCREENS[size])
    browser.set_window_size(*BROWSER_DEFAULT)


def query(driver) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(driver.current_url).query).items()}


def key_text(driver) -> str:
    return driver.find_element(By.ID, "crime-board-key").text


def press(driver, key: str) -> None:
    ActionChains(driver).send_keys(key).perform()


@pytest.fixture(scope="module")
def issues(demo_store, demo_config):
    month = max(series.coverage(demo_store, "crime"))
    walk = report.board_walk(demo_store, month, demo_config.limit_method, demo_config.k, demo_config.min_significant)
    assert len(walk.issues) >= 3
    return walk.issues


def wait_issue(driver, number: int, issues) -> None:
    flag = issues[number - 1]
    wait_text(driver, "#crime-board-key", f"{number} of {len(issues)}: {flag.area} {DASH} {flag.measure}, above")
    wait_text(driver, "#crime-chart .gtitle", f"{flag.area} - {flag.measure}")
    wait_for(driver, "body", condition=lambda _: query(driver).get("issue") == str(number))
    here = query(driver)
    assert (here["area"], here["measure"], here["present"]) == (flag.area, flag.measure, "1")


def test_the_board_view_walks_the_current_issues_by_keyboard(live_server, browser, screen, issues):
    screen("1280x720")
    browser.get(live_server + "/?present=1")
    wait_text(browser, "#crime-board-key", "not a Current Issue")
    press(browser, Keys.ARROW_RIGHT)
    wait_issue(browser, 1, issues)
    press(browser, "n")
    wait_issue(browser, 2, issues)
    press(browser, Keys.PAGE_DOWN)  # a presenter's clicker
    wait_issue(browser, 3, issues)
    press(browser, Keys.ARROW_LEFT)
    wait_issue(browser, 2, issues)
    press(browser, "p")
    wait_issue(browser, 1, issues)
    press(browser, Keys.ARROW_LEFT)  # never past the first
    time.sleep(1)
    wait_issue(browser, 1, issues)
    # L lists them all, the one shown marked; Escape closes the list.
    press(browser, "l")
    items = wait_for(browser, "#crime-board-list ol li", condition=lambda els: len(els) == len(issues) and els[0].is_displayed())
    assert items[0].find_element(By.CSS_SELECTOR, "a").get_attribute("aria-current") == "true"
    assert [i.text for i in items] == [f"{f.area} {DASH} {f.measure}, above" for f in issues]
    screenshot(browser, "board-crime-issue-list-1280x720")
    press(browser, Keys.ESCAPE)
    wait_for(browser, "#crime-board-list ol li", condition=lambda els: not els[0].is_displayed())


def test_a_board_view_link_opens_an_issue_and_the_area_changes_without_leaving_the_view(live_server, browser, screen,
                                                                                        issues):
    screen("1280x720")
    browser.get(live_server + "/?present=1&issue=2")
    wait_issue(browser, 2, issues)
    Select(browser.find_element(By.ID, "crime-area")).select_by_value("Erewash")  # then the keys walk again
    wait_text(browser, "#crime-chart .gtitle", f"Erewash - {issues[1].measure}")
    wait_for(browser, "body", condition=lambda _: query(browser).get("area") == "Erewash")
    assert query(browser)["present"] == "1" and browser.find_element(By.CLASS_NAME, "board-view").is_displayed()
    # Off the list, Next goes on from the issue last walked to.
    press(browser, Keys.ARROW_RIGHT)
    wait_issue(browser, 3, issues)


@pytest.mark.parametrize("tab", list(BOARD_TABS))
def test_every_tab_has_a_board_view_that_fits_the_screen_with_its_key_and_stamp(live_server, browser, screen, tab):
    for size in SCREENS:
        screen(size)
        browser.get(live_server + BOARD_TABS[tab] + "?present=1")
        wait_for(browser, f"#{tab}-chart .gtitle")
        wait_for(browser, f"#{tab}-chart .annotation-text", condition=lambda els: any("Data as at" in e.text for e in els))
        assert sorted(legend_names(browser, f"{tab}-chart")[:4]) == sorted(
            [v for k, v in SERIES_NAMES.items() if k != "count"])
        assert not browser.find_element(By.CSS_SELECTOR, ".navbar").is_displayed()
        key = browser.find_element(By.ID, f"{tab}-board-key")
        assert key.is_displayed() and key.text
        time.sleep(0.5)  # let the chart settle at its final size before the picture
        screenshot(browser, f"board-{tab}-{size}")
        if size == "390px":
            continue
        fits(browser, size, f"{tab}-chart")


def fits(driver, size: str, chart_id: str) -> None:
    """Nothing scrolls, and the chart takes most of the screen."""
    width, height = SCREENS[size]
    scroll = driver.execute_script("return document.documentElement.scrollHeight")
    assert scroll <= height, f"{chart_id} at {size} scrolls ({scroll} px)"
    chart = driver.find_element(By.ID, chart_id).size
    assert chart["height"] >= MIN_CHART_SHARE * height and chart["width"] >= 0.9 * width


def stamp_on_screen(driver, chart_id: str):
    """The chart's "Data as at" line, checked to lie wholly inside the window."""
    stamp = wait_for(driver, f"#{chart_id} .annotation-text",
                     condition=lambda els: any("Data as at" in e.text for e in els))
    box = driver.execute_script("""
        const el = [...document.querySelectorAll(arguments[0])].find(e => e.textContent.includes('Data as at'));
        const r = el.getBoundingClientRect();
        return [r.left, r.top, r.right, r.bottom, window.innerWidth, window.innerHeight];""",
                                f"#{chart_id} .annotation-text")
    left, top, right, bottom, width, height = box
    assert 0 <= left and 0 <= top and right <= width and bottom <= height, box
    return stamp


@pytest.fixture()
def closed_session(demo_dir, tmp_path_factory, browser):
    """gunicorn with a board member's account (visitors must sign in), signed in and switched to a
    closed session in the shared browser, the only way a board member sees MARAC."""
    state = tmp_path_factory.mktemp("board-state")
    users.add(state, "bea", roles.BOARD, PASSWORD)
    marac.release(Store(demo_dir), DEFAULT_SUPPRESS_BELOW, state_dir=state)  # as `import marac` does
    proc, url = start_gunicorn(demo_dir, workers=1, env_extra={"CSP_STATE_DIR": str(state),
                                                               "CSP_ANONYMOUS_ROLE": "none"}, ready_path="/login")
    try:
        browser.delete_all_cookies()
        sign_in(browser, url, "bea", PASSWORD)
        browser.get(url + "/marac?present=1")
        wait_text(browser, "#role-refused", "shown only in a closed session")  # a board member starts open
        click(browser, wait_text(browser, "#session-switch", "Open session"))
        wait_for(browser, ".board-view")  # back on the board view the switch was pressed on
        yield url
    finally:
        browser.delete_all_cookies()
        stop(proc)


def test_marac_board_view_fits_the_screen_with_its_stamp_and_changes_area_in_the_view(closed_session, browser,
                                                                                      screen):
    url = closed_session
    for size in SCREENS:
        screen(size)
        browser.get(url + "/marac?present=1")
        wait_text(browser, "#marac-chart .gtitle", "Force Area - Cases discussed")
        stamp_on_screen(browser, "marac-chart")
        assert not browser.find_element(By.CSS_SELECTOR, ".navbar").is_displayed()
        # Nothing to walk: the bar says so, and a walk key points at that sentence.
        key = browser.find_element(By.ID, "marac-board-key")
        assert key.is_displayed() and key.text == MARAC_NO_WALK and not browser.find_elements(By.ID, "marac-board-next")
        time.sleep(0.5)  # let the chart settle at its final size before the picture
        screenshot(browser, f"board-marac-{size}")
        if size == "390px":
            continue
        fits(browser, size, "marac-chart")
        press(browser, "n")
        wait_for(browser, "#marac-board-key.board-nudge")
        assert query(browser).get("area", "Force Area") == "Force Area"
        # The area and the measure change in the view; the address follows, still a board view.
        Select(browser.find_element(By.ID, "marac-board-area")).select_by_value("Derby City")
        Select(browser.find_element(By.ID, "marac-board-measure")).select_by_value("Repeat rate")
        wait_text(browser, "#marac-chart .gtitle", "Derby City - Repeat rate by quarter")
        wait_for(browser, "body", condition=lambda _: query(browser).get("area") == "Derby City")
        assert query(browser)["present"] == "1" and browser.find_element(By.CLASS_NAME, "board-view").is_displayed()
        assert f"Local target ({marac.REPEAT_TARGET_PCT:g}%)" in legend_names(browser, "marac-chart")
        wait_text(browser, "#marac-chart .annotation-text", "Axis does not start at zero")
        stamp_on_screen(browser, "marac-chart")
        time.sleep(0.5)
        screenshot(browser, f"board-marac-derby-city-repeat-rate-{size}")
        fits(browser, size, "marac-chart")


def test_the_force_total_frames_its_axis_and_says_it_does_not_start_at_zero(live_server, browser, screen):
    screen("1280x720")
    browser.get(live_server + "/?present=1&area=Force+Area&measure=All+crimes")
    wait_text(browser, "#crime-chart .annotation-text", "Axis does not start at zero")
    screenshot(browser, "board-crime-force-1280x720")


def test_an_open_board_view_redraws_itself_from_a_newer_store_version_without_spinners(tmp_data_dir, browser, screen):
    """A real import under a running gunicorn: the board's stamp moves on with no reload and no
    loading spinner, while an ordinary page keeps its version and says newer data is there."""
    from test_store_versions import MARCH, import_march

    proc, url = start_gunicorn(tmp_data_dir, workers=1, env_extra={"CSP_VERSION_CHECK_SECONDS": "1"})
    try:
        screen("1280x720")
        browser.get(url + "/?present=1&area=Erewash&measure=Shoplifting")
        before = wait_text(browser, "#crime-chart .annotation-text", "Data as at").text
        browser.execute_script("""
            window.__spinners = 0;
            // A spinner on screen (the cards kept unseen under the board view may show theirs).
            new MutationObserver(() => {
                const shown = [...document.querySelectorAll('.dash-spinner')].filter(e => e.getClientRects().length);
                if (shown.length) { window.__spinners += 1; }
            }).observe(document.body, {subtree: true, childList: true, attributes: true});
            window.__sameDocument = true;
        """)
        import_march(tmp_data_dir, MARCH)
        wait_for(browser, "#crime-chart .annotation-text", timeout=40,
                 condition=lambda els: any("Data as at" in e.text and e.text != before for e in els))
        assert browser.execute_script("return window.__sameDocument === true")  # no reload
        assert browser.execute_script("return window.__spinners") == 0
        assert query(browser)["area"] == "Erewash"
        screenshot(browser, "board-crime-after-new-version-1280x720")

        # An ordinary page opened on the new version, then a second import: it says so and keeps its figures.
        browser.get(url + "/?area=Erewash&measure=Shoplifting")
        wait_text(browser, "#crime-chart .gtitle", "Erewash - Shoplifting")
        from test_store_versions import half_march
        import_march(tmp_data_dir, half_march(tmp_data_dir.parent / "half"))
        wait_text(browser, "#crime-newer", "Newer data available", timeout=40)
    finally:
        stop(proc)
