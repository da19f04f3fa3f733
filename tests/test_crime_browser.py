"""The Crime tab in real headless Chromium against real gunicorn on the demo store."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from conftest import screenshot
from helpers import click, legend_names, wait_for, wait_text
from queries.limits import SERIES_NAMES

pytestmark = pytest.mark.browser
FIVE_SERIES = [
    "Monthly Average (Prev. 3 Years)", "Average", "Upper Line", "Lower Line", "Crime Count (Current)",
]


def test_crime_tab_loads_with_the_five_named_series(live_server, browser):
    browser.get(live_server + "/")
    wait_text(browser, "#crime-chart .gtitle", "Force Area - All crimes")
    assert sorted(legend_names(browser, "crime-chart")) == sorted(FIVE_SERIES)
    assert sorted(FIVE_SERIES) == sorted(SERIES_NAMES.values())
    wait_text(browser, "#synthetic-banner", "Synthetic demo data")
    wait_for(browser, "#crime-summary .ag-row", condition=lambda rows: len(rows) >= 19)
    screenshot(browser, "crime-default")


def test_clicking_a_summary_cell_opens_that_chart(live_server, browser):
    browser.get(live_server + "/")
    wait_text(browser, "#crime-chart .gtitle", "Force Area - All crimes")
    cell = wait_for(browser, '#crime-summary .ag-row[row-id="Shoplifting"] .ag-cell[col-id="Chesterfield"]')[0]
    assert "Above" in cell.text  # the injected demo spike
    click(browser, cell)
    wait_text(browser, "#crime-chart .gtitle", "Chesterfield - Shoplifting")
    assert "Above" in browser.find_element(By.CSS_SELECTOR, "#crime-chart").text
    wait_for(browser, "body", condition=lambda _: "area=Chesterfield&measure=Shoplifting" in browser.current_url)
    screenshot(browser, "crime-summary-click")
    browser.back()  # the address is the view: Back returns to the previous chart
    wait_text(browser, "#crime-chart .gtitle", "Force Area - All crimes")


def test_drilldown_row_opens_a_neighbourhood_chart(live_server, browser):
    browser.get(live_server + "/?area=Chesterfield&measure=Shoplifting&month=2026-10")
    wait_text(browser, "#crime-chart .gtitle", "Chesterfield - Shoplifting")
    first = wait_for(browser, "#crime-drill .ag-row[row-index='0'] .ag-cell[col-id='Neighbourhood']")[0]
    assert first.text == "Chesterfield Town Centre"
    click(browser, first)
    title = wait_text(browser, "#crime-drill-chart .gtitle", "Chesterfield Town Centre (Chesterfield) - Shoplifting")
    assert title.is_displayed()
    assert sorted(legend_names(browser, "crime-drill-chart")) == sorted(FIVE_SERIES)
    screenshot(browser, "crime-drilldown")


def test_odd_url_parameters_are_explained_not_fatal(live_server, browser):
    browser.get(live_server + "/?area=%3Cscript%3Ealert(1)%3C%2Fscript%3E&measure=Nope&k=banana&month=2099-13")
    warnings = wait_for(browser, "#url-warnings .alert", condition=lambda els: len(els) >= 3)
    text = " ".join(w.text for w in warnings)
    assert "Unknown area '<script>alert(1)</script>'" in text
    assert "Unknown measure 'Nope'" in text
    assert "k 'banana'" in text
    wait_text(browser, "#crime-chart .gtitle", "Force Area - All crimes")
    assert browser.find_elements(By.TAG_NAME, "script")  # page intact, no injected alert
    screenshot(browser, "crime-bad-url")


def test_board_view_shows_just_the_large_chart(live_server, browser):
    browser.get(live_server + "/?area=Chesterfield&measure=Shoplifting&present=1")
    wait_text(browser, "#crime-chart .gtitle", "Chesterfield - Shoplifting")
    # The area can be changed in the board view; the other selectors and the tables are not shown.
    assert browser.find_element(By.ID, "crime-area").is_displayed()
    assert not browser.find_element(By.ID, "crime-fy").is_displayed()
    assert not browser.find_element(By.ID, "crime-summary").is_displayed()
    assert browser.find_element(By.ID, "crime-chart").size["height"] > 600
    assert sorted(legend_names(browser, "crime-chart")) == sorted(FIVE_SERIES)
    assert "present=1" in browser.current_url
    screenshot(browser, "crime-board-view")


def test_chart_and_summary_download_as_csv(live_server, browser, tmp_path):
    import time

    import pandas as pd

    from queries.limits import COLUMNS

    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(live_server + "/?area=Erewash&measure=Shoplifting&month=2026-10")
    wait_text(browser, "#crime-chart .gtitle", "Erewash - Shoplifting")
    click(browser, browser.find_element(By.ID, "crime-chart-download-csv"))
    click(browser, browser.find_element(By.ID, "crime-summary-download-csv"))
    deadline = time.time() + 30
    while time.time() < deadline and len([p for p in tmp_path.glob("*.csv")]) < 2:
        time.sleep(0.3)
    files = {p.name: p for p in tmp_path.glob("*.csv")}
    chart = pd.read_csv(files["Erewash_Shoplifting_2026-10_pooled_k2.csv"], keep_default_na=False)
    assert list(chart.columns) == COLUMNS and len(chart) == 12
    assert chart["count"].astype(str).str.fullmatch(r"\d*").all()  # counts as whole numbers, not 53.00
    assert "No data" not in set(chart["status"])  # months after the report month say so instead
    summary = pd.read_csv(files["summary_2026-10_pooled_k2.csv"], keep_default_na=False)
    # The grid on screen: one row per crime group, one column per area, the status words in the cells.
    assert summary.columns[0] == "Crime group" and {"Chesterfield", "Erewash"} <= set(summary.columns)
    assert "▲ Above" in set(summary["Chesterfield"])


def test_recording_changes_from_the_annotations_file_are_marked_on_the_chart(live_server, browser):
    browser.get(live_server + "/?area=Force+Area&measure=Shoplifting&fy=2020")
    wait_text(browser, "#crime-chart .gtitle", "Force Area - Shoplifting")
    wait_text(browser, "#crime-chart .annotation-text", "First COVID-19 lockdown")
    screenshot(browser, "crime-annotation")


def _region_state(browser) -> dict:
    return browser.execute_script(
        """const r = document.getElementById('crime-chart-region').getBoundingClientRect();
           return {top: r.top, height: window.innerHeight, focused: document.activeElement.id};""")


def test_a_summary_click_low_in_the_table_brings_the_chart_into_view_and_focus(live_server, browser):
    browser.get(live_server + "/?month=2026-10")
    wait_text(browser, "#crime-chart .gtitle", "Force Area - All crimes")
    rows = wait_for(browser, "#crime-summary .ag-row", condition=lambda els: len(els) >= 19)
    last = max(int(r.get_attribute("row-index")) for r in rows)
    cell = browser.find_element(By.CSS_SELECTOR, f'#crime-summary .ag-row[row-index="{last}"] .ag-cell[col-id="Erewash"]')
    measure = browser.find_element(By.CSS_SELECTOR, f'#crime-summary .ag-row[row-index="{last}"]').get_attribute("row-id")
    click(browser, cell)
    wait_text(browser, "#crime-chart .gtitle", f"Erewash - {measure}")
    seen = _region_state(browser)
    assert seen["focused"] == "crime-chart-region"
    assert -1 <= seen["top"] < seen["height"] / 2, seen  # the chart's top on screen (to the sub-pixel), not above it


def test_enter_on_a_focused_summary_cell_opens_its_chart_without_a_mouse(live_server, browser):
    from selenium.webdriver.common.keys import Keys

    browser.get(live_server + "/?month=2026-10")
    wait_text(browser, "#crime-chart .gtitle", "Force Area - All crimes")
    wait_for(browser, '#crime-summary .ag-row[row-id="Shoplifting"] .ag-cell[col-id="Chesterfield"]')
    # Focus the cell as the grid's arrow keys would (AG Grid's own focus API), then press Enter.
    browser.execute_script(
        """const api = dash_ag_grid.getApi('crime-summary');
           let index = null;
           api.forEachNodeAfterFilterAndSort(n => { if (n.id === 'Shoplifting') index = n.rowIndex; });
           api.ensureIndexVisible(index); api.setFocusedCell(index, 'Chesterfield');""")
    focused = browser.switch_to.active_element
    assert focused.get_attribute("col-id") == "Chesterfield" and "Above" in focused.text
    focused.send_keys(Keys.ENTER)
    wait_text(browser, "#crime-chart .gtitle", "Chesterfield - Shoplifting")
    assert _region_state(browser)["focused"] == "crime-chart-region"
    summary = wait_text(browser, "#crime-chart-summary", "Chesterfield - Shoplifting, October 2026:")
    assert "above the upper line" in summary.text


def test_a_neighbourhood_click_puts_it_in_the_address_and_the_link(live_server, browser):
    browser.get(live_server + "/?area=Chesterfield&measure=Shoplifting&month=2026-10")
    wait_text(browser, "#crime-chart .gtitle", "Chesterfield - Shoplifting")
    first = wait_for(browser, "#crime-drill .ag-row[row-index='0'] .ag-cell[col-id='Neighbourhood']")[0]
    click(browser, first)
    wait_text(browser, "#crime-drill-chart .gtitle", "Chesterfield Town Centre (Chesterfield) - Shoplifting")
    wait_for(browser, "body", condition=lambda _: "neighbourhood=Chesterfield+Town+Centre" in browser.current_url)
    link = browser.find_element(By.ID, "crime-permalink").get_attribute("href")
    assert "neighbourhood=Chesterfield+Town+Centre" in link
    wait_text(browser, "#crime-drill-chart-summary", "Chesterfield Town Centre (Chesterfield) - Shoplifting, October 2026")
    browser.get(link)  # the address opens the same neighbourhood chart
    wait_text(browser, "#crime-drill-chart .gtitle", "Chesterfield Town Centre (Chesterfield) - Shoplifting")


PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}


def test_on_a_phone_the_month_labels_do_not_run_together(live_server, browser):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        browser.get(live_server + "/?area=Chesterfield&measure=Shoplifting&month=2026-10")
        wait_text(browser, "#crime-chart .gtitle", "Chesterfield - Shoplifting")
        # assets/phone.js labels every third month once the chart is drawn narrow.
        labels = wait_for(browser, "#crime-chart .xtick text",
                          condition=lambda els: 0 < len([e for e in els if e.text.strip()]) <= 4)
        boxes = sorted((b for b in browser.execute_script(
            "return Array.from(arguments[0]).filter(e => e.textContent.trim())"
            ".map(e => {const r = e.getBoundingClientRect(); return [r.left, r.right];});", labels)))
        assert all(left_right[1] <= following[0] for left_right, following in zip(boxes, boxes[1:])), boxes
        assert "Apr" in labels[0].text
        screenshot(browser, "phone-390-crime-months")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
