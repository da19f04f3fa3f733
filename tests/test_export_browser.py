"""Downloads as a user gets them, in real Chromium: filter and sort a grid by hand, click Excel
or CSV, and the file holds exactly the rows on screen, with an About sheet matching the view."""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import openpyxl
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from helpers import click, wait_for

pytestmark = pytest.mark.browser

GRID = "data-overview"
DOWNLOAD_SECONDS = 30


def _wait_for_file(folder: Path, suffix: str) -> Path:
    deadline = time.time() + DOWNLOAD_SECONDS
    while time.time() < deadline:
        done = [p for p in folder.glob(f"*{suffix}") if not p.name.endswith(".crdownload")]
        if done:
            time.sleep(0.2)
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} file downloaded to {folder}; found {[p.name for p in folder.iterdir()]}")


def _shown(browser, grid: str = GRID) -> tuple[list[str], list[list]]:
    """The grid's displayed columns and rows, in display order, from the grid itself."""
    return browser.execute_script(
        """const api = dash_ag_grid.getApi(arguments[0]);
           const cols = api.getAllDisplayedColumns().map(c => c.getColId());
           const rows = [];
           api.forEachNodeAfterFilterAndSort(n => rows.push(cols.map(c => n.data[c])));
           return [cols, rows];""",
        grid,
    )


def test_excel_and_csv_hold_the_filtered_sorted_rows_and_the_view(live_server, browser, tmp_path):
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(live_server + "/data")
    wait_for(browser, f"#{GRID} .ag-row", condition=lambda els: len(els) == 4)
    # Filter "dataset" by hand: its filter menu, type "r" (crime, fire, marac; not hate).
    header = browser.find_element(By.CSS_SELECTOR, f"#{GRID} .ag-header-cell[col-id='dataset']")
    click(browser, header.find_element(By.CSS_SELECTOR, ".ag-header-cell-filter-button, .ag-header-cell-menu-button"))
    box = wait_for(browser, ".ag-popup input.ag-input-field-input[type='text'], .ag-popup input.ag-text-field-input")[0]
    box.send_keys("r")
    wait_for(browser, f"#{GRID} .ag-row", condition=lambda els: len(els) == 3)
    box.send_keys(Keys.ESCAPE)
    # Sort by records, smallest first (one click on its header): not the store's order.
    records = browser.find_element(By.CSS_SELECTOR, f"#{GRID} .ag-header-cell[col-id='records'] .ag-header-cell-label")
    click(browser, records)
    columns, rows = _shown(browser)
    assert [r[0] for r in rows] == ["marac", "fire", "crime"]
    time.sleep(0.5)  # the grid reports its filter and sort to Dash on the next tick

    click(browser, browser.find_element(By.ID, f"{GRID}-download-xlsx"))
    book = openpyxl.load_workbook(_wait_for_file(tmp_path, ".xlsx"))
    data = [list(r) for r in book["Data"].iter_rows(values_only=True)]
    assert data[0] == columns
    assert data[1:] == rows
    about = dict(r[:2] for r in book["About this data"].iter_rows(min_row=2, values_only=True))
    assert about["View (link to this view)"] == browser.current_url
    assert about["Filters: table column 'dataset'"] == "contains 'r'"
    assert about["Synthetic data: crime"].startswith("Yes")
    assert about["Sources (imported): crime"].startswith("Synthetic demo data")

    click(browser, browser.find_element(By.ID, f"{GRID}-download-csv"))
    text = _wait_for_file(tmp_path, ".csv").read_text(encoding="utf-8")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == columns
    assert [line[0] for line in lines[1:]] == ["marac", "fire", "crime"]
    assert lines[1][columns.index("records")] == str(rows[0][columns.index("records")])


ROLLING = "crime-rolling"


def _rounded(rows: list[list]) -> list[list]:
    """Grid values as the file writes them: fractions to 2 decimals."""
    return [[round(v, 2) if isinstance(v, float) else v for v in row] for row in rows]


def test_the_rolling_table_downloads_as_filtered_and_sorted_with_its_view(live_server, browser, tmp_path):
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(live_server + "/?area=Erewash&measure=Shoplifting&month=2026-10&method=classic&k=2.5")
    every = len(wait_for(browser, f"#{ROLLING} .ag-row", condition=lambda els: len(els) > 5))
    # Filter Area by hand ("er": Chesterfield, Erewash, ...), then sort by the change, largest first.
    header = browser.find_element(By.CSS_SELECTOR, f"#{ROLLING} .ag-header-cell[col-id='Area']")
    click(browser, header.find_element(By.CSS_SELECTOR, ".ag-header-cell-filter-button, .ag-header-cell-menu-button"))
    box = wait_for(browser, ".ag-popup input.ag-input-field-input[type='text'], .ag-popup input.ag-text-field-input")[0]
    box.send_keys("er")
    wait_for(browser, f"#{ROLLING} .ag-row", condition=lambda els: 1 < len(els) < every)
    box.send_keys(Keys.ESCAPE)
    change = browser.find_element(By.CSS_SELECTOR, f"#{ROLLING} .ag-header-cell[col-id='Numerical Change'] .ag-header-cell-label")
    click(browser, change)
    click(browser, change)  # second click: descending
    columns, rows = _shown(browser, ROLLING)
    changes = [r[columns.index("Numerical Change")] for r in rows if r[columns.index("Numerical Change")] is not None]
    assert changes == sorted(changes, reverse=True) and 1 < len(rows) < every
    time.sleep(0.5)  # the grid reports its filter and sort to Dash on the next tick

    click(browser, browser.find_element(By.ID, f"{ROLLING}-download-xlsx"))
    path = _wait_for_file(tmp_path, ".xlsx")
    assert path.name == "rolling-12_Shoplifting_2026-10.xlsx"
    book = openpyxl.load_workbook(path)
    data = [list(r) for r in book["Data"].iter_rows(values_only=True)]
    assert data[0] == columns
    assert data[1:] == _rounded(rows)
    assert all(isinstance(r[1], int) for r in data[1:])  # counts are whole numbers
    about = dict(r[:2] for r in book["About this data"].iter_rows(min_row=2, values_only=True))
    assert about["View (link to this view)"] == browser.current_url
    assert about["Filters: Area"] == "Erewash" and about["Filters: Crime group"] == "Shoplifting"
    assert about["Filters: table column 'Area'"] == "contains 'er'"
    assert (about["Limit method"], about["k (multiplier for the upper and lower lines)"]) == ("classic", "2.5")
    assert about["Report month"] == "2026-10"
    assert about["Data as at (latest month held): crime"].startswith("20")
    assert about["Sources (imported): crime"].startswith("Synthetic demo data")
    assert about["Synthetic data: crime"].startswith("Yes")


def test_the_chart_downloads_as_excel_named_for_its_view(live_server, browser, tmp_path):
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(live_server + "/?area=Chesterfield&measure=Shoplifting&month=2026-09")
    wait_for(browser, "#crime-chart .gtitle", condition=lambda els: els and "Chesterfield - Shoplifting" in els[0].text)
    click(browser, browser.find_element(By.ID, "crime-chart-download-xlsx"))
    path = _wait_for_file(tmp_path, ".xlsx")
    assert path.name == "Chesterfield_Shoplifting_2026-09_pooled_k2.xlsx"
    book = openpyxl.load_workbook(path)
    data = [list(r) for r in book["Data"].iter_rows(values_only=True)]
    assert data[0] == ["month", "count", "monthly_average_prev3", "average", "upper", "lower", "status"]
    by_month = {r[0]: r for r in data[1:]}
    assert isinstance(by_month["2026-09"][1], int)
    assert by_month["2026-10"][6] == "After the report month"  # not "No data": October is held, just not reported
    about = dict(r[:2] for r in book["About this data"].iter_rows(min_row=2, values_only=True))
    assert about["Title"] == "Chesterfield - Shoplifting"
    assert about["View (link to this view)"] == browser.current_url
    assert about["Report month"] == "2026-09"
