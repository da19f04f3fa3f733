"""The MARAC and Hate crime tabs in real headless Chromium against real gunicorn on the demo store."""
from __future__ import annotations

import re
import time

import openpyxl
import pytest
from selenium.webdriver.common.by import By

from conftest import screenshot
from helpers import click, legend_names, wait_for, wait_text
from queries import formats, hate, marac
from queries.settings import DEFAULT_SUPPRESS_BELOW

pytestmark = pytest.mark.browser
MARAC_GRIDS = ("marac-periods", "marac-split", "marac-agency", "marac-rate")
# A rendered count: "3", "47", "1,136" (rates carry a decimal point, labels have letters).
COUNT = re.compile(r"^\d{1,3}(,\d{3})*$")
DOWNLOAD_SECONDS = 30
HATE_SERIES = ["Monthly Average (Prev. 3 Years)", "Average", "Upper Line", "Lower Line"]


def grid_texts(browser, grid_id: str) -> list[str]:
    """Every rendered cell's text in one round trip (the MARAC grids render all their rows)."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText.trim())", f"#{grid_id} .ag-cell")


@pytest.mark.parametrize("query, title", [
    ("", "Force Area - Cases discussed by quarter"),
    ("?area=Derby+City&period=financial", "Derby City - Cases discussed by financial year"),
    # Months and calendar years are no longer released: an old link falls back to quarters.
    ("?area=County+Council+Area&period=calendar", "County Council Area - Cases discussed by quarter"),
])
def test_marac_tab_shows_no_count_under_5_in_any_table_cell(live_server, browser, query, title):
    browser.get(live_server + "/marac" + query)
    wait_text(browser, "#marac-cases-chart .gtitle", title)
    wait_text(browser, "#marac-privacy-note", "Counts under 5 are suppressed")
    checked = 0
    for grid in MARAC_GRIDS:
        wait_for(browser, f"#{grid} .ag-row", condition=lambda rows: len(rows) >= 3)
        texts = grid_texts(browser, grid)
        counts = [int(t.replace(",", "")) for t in texts if COUNT.match(t)]
        small = [t for t in texts if COUNT.match(t) and int(t.replace(",", "")) < DEFAULT_SUPPRESS_BELOW]
        assert not small, f"{grid} shows {small}"
        checked += len(counts)
    assert checked > 50
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent.trim())",
        "#marac-cases-chart .textpoint, #marac-repeat-chart .textpoint")
    assert set(labels) <= {"", marac.SUPPRESSED}  # chart labels only ever say "*"
    screenshot(browser, "marac-" + (query.split("&")[0].split("=")[-1].replace("+", "-").lower() or "default"))


def test_marac_charts_carry_the_target_line_and_the_recording_change(live_server, browser):
    browser.get(live_server + "/marac?period=quarter")
    wait_text(browser, "#marac-repeat-chart .gtitle", "Force Area - Repeat rate by quarter")
    assert f"Local target ({marac.REPEAT_TARGET_PCT:g}%)" in legend_names(browser, "marac-repeat-chart")
    note = wait_text(browser, "#marac-cases-chart .annotation-text", "Referral threshold lowered")
    assert "16 to" in note.text
    assert browser.find_elements(By.CSS_SELECTOR, "#marac-cases-chart .shapelayer path")  # the marker line
    wait_text(browser, "#marac-rate-chart", "SafeLives benchmark (40)")


def test_hate_toggle_switches_the_chart_between_crimes_and_incidents(live_server, browser):
    browser.get(live_server + "/hate")
    wait_text(browser, "#hate-chart .gtitle", "Force Area - Hate crimes")
    assert sorted(legend_names(browser, "hate-chart")) == sorted(HATE_SERIES + ["Hate Crime Count (Current)"])
    screenshot(browser, "hate-crimes")
    click(browser, browser.find_element(By.XPATH, "//label[normalize-space()='Hate incidents']"))
    wait_text(browser, "#hate-chart .gtitle", "Force Area - Hate incidents")
    assert sorted(legend_names(browser, "hate-chart")) == sorted(HATE_SERIES + ["Hate Incident Count (Current)"])
    wait_text(browser, "#hate-ytd-card-title", "Year to date - Hate incidents")
    headers = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#hate-ytd .ag-header-cell-text")]
    assert "Vol. Change" in headers and "% Change" in headers
    assert re.fullmatch(r"-?\d+\.\d%|n/a", grid_value(browser, "hate-ytd", "Force", "c4"))
    wait_for(browser, "body", condition=lambda _: "kind=incidents" in browser.current_url)
    screenshot(browser, "hate-incidents")


def grid_value(browser, grid_id: str, row_label: str, col_id: str) -> str:
    for row in browser.find_elements(By.CSS_SELECTOR, f"#{grid_id} .ag-center-cols-container .ag-row"):
        index = row.get_attribute("row-index")
        label = browser.find_element(By.CSS_SELECTOR, f"#{grid_id} .ag-pinned-left-cols-container .ag-row[row-index='{index}']")
        if label.text.strip() == row_label:
            return row.find_element(By.CSS_SELECTOR, f".ag-cell[col-id='{col_id}']").text.strip()
    raise AssertionError(f"no row {row_label!r} in {grid_id}")


def test_hate_small_numbers_carry_the_caution(live_server, browser):
    browser.get(live_server + "/hate?kind=incidents&strand=Transgender&area=Derbyshire+Dales")
    wait_text(browser, "#hate-chart .gtitle", "Derbyshire Dales - Hate incidents - Transgender")
    wait_text(browser, "#hate-chart-caution", hate.CAUTION_TEXT)
    wait_for(browser, "#hate-ytd .ag-cell", condition=lambda cells: any(hate.CAUTION_TEXT in c.text for c in cells))
    wait_for(browser, "#hate-drill .ag-row", condition=lambda rows: len(rows) >= 3)
    screenshot(browser, "hate-small-numbers")


def _wait_for_file(folder, suffix: str):
    deadline = time.time() + DOWNLOAD_SECONDS
    while time.time() < deadline:
        done = [p for p in folder.glob(f"*{suffix}") if not p.name.endswith(".crdownload")]
        if done:
            return done[0]
        time.sleep(0.3)
    raise AssertionError(f"no {suffix} file in {folder}: {[p.name for p in folder.iterdir()]}")


def test_hate_year_to_date_downloads_as_excel_sorted_as_shown_with_the_boards_headings(live_server, browser, tmp_path):
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(live_server + "/hate?kind=crimes&month=2026-09")
    wait_for(browser, "#hate-ytd .ag-row", condition=lambda rows: len(rows) >= 3)
    header = browser.find_element(By.CSS_SELECTOR, "#hate-ytd .ag-header-cell[col-id='c0'] .ag-header-cell-label")
    click(browser, header)
    click(browser, header)  # descending: an order the server cannot produce by accident
    wait_for(browser, "#hate-ytd .ag-header-cell[col-id='c0'][aria-sort='descending']")
    shown = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#hate-ytd .ag-center-cols-container .ag-row, "
                                                   "#hate-ytd .ag-pinned-left-cols-container .ag-row")
             if c.text]
    time.sleep(0.5)  # the grid reports its sort to Dash on the next tick
    click(browser, browser.find_element(By.ID, "hate-ytd-download-xlsx"))
    book = openpyxl.load_workbook(_wait_for_file(tmp_path, ".xlsx"))
    rows = list(book[formats.DATA_SHEET].iter_rows(values_only=True))
    assert "Vol. Change" in rows[0] and "% Change" in rows[0] and rows[0][0] == "Area"
    areas = [r[0] for r in rows[1:]]
    assert areas == sorted(areas, reverse=True) and set(areas) <= {line.split("\n")[0] for line in shown}
    about = dict(r[:2] for r in book[formats.ABOUT_SHEET].iter_rows(min_row=2, values_only=True))
    assert about["Filters: Measure"] == "Hate crimes - All strands" or "Hate crimes" in about["Filters: Measure"]


def test_marac_table_downloads_as_excel_from_the_protected_release(live_server, browser, tmp_path):
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(live_server + "/marac")
    wait_for(browser, "#marac-periods .ag-row", condition=lambda rows: len(rows) >= 3)
    click(browser, browser.find_element(By.ID, "marac-periods-download-xlsx"))
    book = openpyxl.load_workbook(_wait_for_file(tmp_path, ".xlsx"))
    cells = [v for row in list(book[formats.DATA_SHEET].iter_rows(values_only=True))[1:] for v in row]
    assert marac.SUPPRESSED in cells
    assert not [v for v in cells if isinstance(v, int) and v < DEFAULT_SUPPRESS_BELOW]
