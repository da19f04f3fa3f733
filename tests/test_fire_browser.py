"""The Fire tab in real headless Chromium against real gunicorn on the demo store."""
from __future__ import annotations

import time

import openpyxl
import pandas as pd
import pytest
from selenium.webdriver.common.by import By

from conftest import screenshot
from helpers import click, legend_names, wait_for, wait_text
from conftest import CITY, CSPS
from queries import fire, formats, geography
from queries.limits import COLUMNS

pytestmark = pytest.mark.browser
FIVE_SERIES = ["Monthly Average (Prev. 3 Years)", "Average", "Upper Line", "Lower Line", "Fire Count (Current)"]
DOWNLOAD_SECONDS = 30


def test_fire_tab_loads_with_five_series_kpi_card_and_district_table(live_server, browser):
    browser.get(live_server + "/fire")
    wait_text(browser, "#fire-chart .gtitle", "Force Area - Deliberate fires")
    assert sorted(legend_names(browser, "fire-chart")) == sorted(FIVE_SERIES)
    descriptor = wait_text(browser, "#fire-kpi-descriptor", "KPM1.4 Deliberate Fires (Q")
    kpi = browser.find_element(By.ID, "fire-kpi").text
    assert "Target Met?" in kpi and "Direction of travel" in kpi
    met = browser.find_element(By.ID, "fire-kpi-met").text
    assert met in (fire.MET, fire.NOT_MET), met  # symbol and words, never colour alone
    direction = browser.find_element(By.ID, "fire-kpi-direction").text
    assert direction[0] in "↑↓↔" and direction[1:].isdigit(), direction
    rows = wait_for(browser, "#fire-districts .ag-row", condition=lambda els: len(els) >= len(CSPS) + 3)
    names = [r.find_element(By.CSS_SELECTOR, "[col-id='District']").text for r in rows]
    assert CITY in names and geography.UNALLOCATED in names and geography.FORCE in names
    wait_text(browser, "#fire-vehicles-caption", "of deliberate primary fires in Force Area")
    wait_for(browser, "#fire-secondary .barlayer .trace", condition=lambda els: len(els) == 3)
    assert "Q" in descriptor.text
    screenshot(browser, "fire-default")


def test_url_selects_area_measure_and_quarter_and_drilldown_opens_a_ward_chart(live_server, browser):
    browser.get(live_server + "/fire?area=Chesterfield&measure=Deliberate+secondary+fires&month=2026-09&quarter=2025-Q2")
    wait_text(browser, "#fire-chart .gtitle", "Chesterfield - Deliberate secondary fires")
    wait_text(browser, "#fire-kpi-descriptor", "KPM1.4 Deliberate Fires (Q2 2025/26)")
    assert "Chesterfield" in browser.find_element(By.ID, "fire-kpi").text
    first = wait_for(browser, "#fire-drill .ag-row[row-index='0'] .ag-cell[col-id='Neighbourhood']")[0]
    name = first.text
    click(browser, first)
    title = wait_text(browser, "#fire-drill-chart .gtitle", f"{name} (Chesterfield)")
    assert "Deliberate secondary fires" in title.text
    assert sorted(legend_names(browser, "fire-drill-chart")) == sorted(FIVE_SERIES)
    wait_for(browser, "body", condition=lambda _: "quarter=2025-Q2" in browser.current_url)
    screenshot(browser, "fire-chesterfield-drilldown")


def _downloaded(folder, count: int, suffix: str) -> dict:
    deadline = time.time() + DOWNLOAD_SECONDS
    while time.time() < deadline and len(list(folder.glob(f"*{suffix}"))) < count:
        time.sleep(0.3)
    return {p.name: p for p in folder.glob(f"*{suffix}")}


def test_every_fire_table_and_chart_downloads_as_csv_and_excel(live_server, browser, tmp_path):
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(live_server + "/fire?area=Erewash&measure=Deliberate+fires&month=2026-09&quarter=2026-Q2")
    wait_text(browser, "#fire-kpi-descriptor", "(Q2 2026/27)")
    wait_for(browser, "#fire-drill .ag-row")
    cards = ["fire-chart", "fire-kpi", "fire-districts", "fire-vehicles", "fire-secondary", "fire-drill"]
    for card in cards:
        click(browser, browser.find_element(By.ID, f"{card}-download-csv"))
    files = _downloaded(tmp_path, len(cards), ".csv")
    assert len(files) == len(cards), sorted(files)
    chart = pd.read_csv(files["fire_Erewash_Deliberate-fires_2026-09_pooled_k2.csv"], keep_default_na=False)
    assert list(chart.columns) == COLUMNS and len(chart) == 12
    kpi = pd.read_csv(files["kpm1.4-deliberate-fires_Erewash_2026-Q2.csv"])
    assert kpi.loc[0, "Descriptor"] == "KPM1.4 Deliberate Fires (Q2 2026/27)"
    assert kpi.loc[0, "Target Met?"] in (fire.MET, fire.NOT_MET)
    districts = pd.read_csv(files["fire-districts_2026-Q2.csv"])
    assert list(districts.columns) == fire.DISTRICT_COLUMNS
    in_districts = districts.loc[districts["District"].isin(CSPS), "Incidents"].sum()
    parts = districts.set_index("District")["Incidents"]
    assert in_districts + parts[geography.UNALLOCATED] + parts[geography.OUTSIDE] == parts[geography.FORCE]
    assert int(kpi.loc[0, "Actual"]) == parts["Erewash"]
    assert "Road vehicle share (%)" in pd.read_csv(files["fire-road-vehicles_2026-Q2.csv"]).columns
    assert list(pd.read_csv(files["fire-secondary_2026-Q2.csv"]).columns) == ["Area", *fire.SECONDARY_GROUPS, "Total"]
    assert "Neighbourhood" in pd.read_csv(files["fire_neighbourhoods_Erewash_Deliberate-fires_2026-09_pooled_k2.csv"]).columns

    # Excel: the same rows, and an About sheet naming the quarter chosen.
    for card in ("fire-kpi", "fire-districts"):
        click(browser, browser.find_element(By.ID, f"{card}-download-xlsx"))
    books = _downloaded(tmp_path, 2, ".xlsx")
    book = openpyxl.load_workbook(books["fire-districts_2026-Q2.xlsx"])
    rows = list(book[formats.DATA_SHEET].iter_rows(values_only=True))
    assert list(rows[0]) == fire.DISTRICT_COLUMNS and len(rows) - 1 == len(districts)
    about = dict(r[:2] for r in book[formats.ABOUT_SHEET].iter_rows(min_row=2, values_only=True))
    assert about["Filters: Quarter"] == "Q2 2026/27" and about["Filters: Area"] == "Erewash"
    assert "quarter=2026-Q2" in about[formats.ABOUT_FIELDS["view_url"]]
    kpi_book = openpyxl.load_workbook(books["kpm1.4-deliberate-fires_Erewash_2026-Q2.xlsx"])
    assert list(kpi_book[formats.DATA_SHEET].iter_rows(values_only=True))[1][2] == int(kpi.loc[0, "Actual"])
