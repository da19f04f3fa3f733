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


def _shown(browser) -> tuple[list[str], list[list]]:
    """The grid's displayed columns and rows, in display order, from the grid itself."""
    return browser.execute_script(
        """const api = dash_ag_grid.getApi(arguments[0]);
           const cols = api.getAllDisplayedColumns().map(c => c.getColId());
           const rows = [];
           api.forEachNodeAfterFilterAndSort(n => rows.push(cols.map(c => n.data[c])));
           return [cols, rows];""",
        GRID,
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
