"""A second police force end to end: `init` a Leicestershire store, import its real police.uk
month (March 2021, tests/fixtures/police-uk/leicestershire-street-2021-03.zip), and use it in
real headless Chromium against real gunicorn.

Leicestershire has one county (seven districts) and two unitaries (Leicester, Rutland): the
city is its own row, never inside "Leicestershire"'s county total.
"""
from __future__ import annotations

import subprocess
import sys
import zipfile

import pandas as pd
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import REPO, screenshot, start_gunicorn, stop
from helpers import wait_for, wait_text

pytestmark = pytest.mark.browser
FIXTURE = REPO / "tests" / "fixtures" / "police-uk" / "leicestershire-street-2021-03.zip"
COUNTY_CSPS = ["Blaby", "Charnwood", "Harborough", "Hinckley and Bosworth", "Melton", "North West Leicestershire",
               "Oadby and Wigston"]
SELECTOR = COUNTY_CSPS + ["Leicestershire", "Leicester", "Rutland", "Force Area"]
MONTH = "2021-03"


def app(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def scroll_to(browser, element_id: str) -> None:
    """Bring an element to the top of the window (for a screenshot of it at the window's size)."""
    browser.execute_script(
        "const el = document.getElementById(arguments[0]).closest('.card') || document.getElementById(arguments[0]);"
        "el.scrollIntoView({block: 'start'});", element_id)
    import time
    time.sleep(0.5)


def raw_counts_by_district(data_dir) -> pd.Series:
    """An independent count of the fixture's crimes (not anti-social behaviour) per district, straight from the CSV."""
    from queries import geography

    with zipfile.ZipFile(FIXTURE) as archive:
        with archive.open(archive.namelist()[0]) as handle:
            raw = pd.read_csv(handle, dtype=str, keep_default_na=False)
    lookup = geography.lsoa_table(data_dir).drop_duplicates("lsoa_code")
    district = raw["LSOA code"].map(dict(zip(lookup["lsoa_code"], lookup["lad_name"])))
    return district[raw["Crime type"] != "Anti-social behaviour"].value_counts()


@pytest.fixture(scope="module")
def leicestershire(tmp_path_factory):
    """A fresh store made by `init` for Leicestershire, holding its real March 2021 file."""
    data_dir = tmp_path_factory.mktemp("leics") / "store"
    made = app("init", "--force", "leicestershire", "--data-dir", str(data_dir))
    assert made.returncode == 0, made.stderr
    assert "Blaby, Charnwood" in made.stdout and "Leicester, Rutland" in made.stdout
    imported = app("import", "police-uk", str(FIXTURE), "--data-dir", str(data_dir))
    assert imported.returncode == 0, imported.stderr
    return data_dir


@pytest.fixture(scope="module")
def leics_server(leicestershire):
    proc, url = start_gunicorn(leicestershire)
    yield url
    stop(proc)


def test_export_series_for_a_leicestershire_csp_counts_what_the_raw_file_holds(leicestershire, tmp_path):
    out = tmp_path / "charnwood.csv"
    result = app("export", "series", "--area", "Charnwood", "--measure", "All crimes", "--fy", "2020",
                 "--data-dir", str(leicestershire), "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, dtype={"month": str})
    assert int(table.loc[table["month"] == MONTH, "count"].iloc[0]) == raw_counts_by_district(leicestershire)["Charnwood"]
    derby = app("export", "series", "--area", "Derby City", "--measure", "All crimes", "--fy", "2020",
                "--data-dir", str(leicestershire), "--out", str(out))
    assert derby.returncode != 0 and "Charnwood" in derby.stderr and "Rutland" in derby.stderr


def test_the_city_is_its_own_row_never_inside_the_county_total(leicestershire):
    from queries import series
    from queries.store import Store

    table = series.rolling_12(Store(leicestershire), "crime", "All crimes", pd.Timestamp(MONTH)).set_index("Area")
    now = table.columns[1]
    raw = raw_counts_by_district(leicestershire)
    assert list(table.index) == SELECTOR[:-1] + ["Outside force area", "No known area", "Force Area"]
    assert table.loc["Leicestershire", now] == raw[COUNTY_CSPS].sum()
    assert table.loc["Leicester", now] == raw["Leicester"]
    parts = ["Leicestershire", "Leicester", "Rutland", "Outside force area", "No known area"]
    assert table.loc[parts, now].sum() == table.loc["Force Area", now]


def test_leicestershire_in_chromium_selector_tables_and_drilldown(leicestershire, leics_server, browser):
    browser.set_window_size(1280, 720)
    browser.get(leics_server + "/")
    wait_text(browser, "#crime-chart .gtitle", "Force Area - All crimes")
    options = [o.text for o in Select(browser.find_element(By.ID, "crime-area")).options if o.text]
    assert options == SELECTOR
    wait_for(browser, "#crime-summary .ag-header-cell", condition=lambda cells: len(cells) >= 9)
    headers = [c.get_attribute("col-id") for c in browser.find_elements(By.CSS_SELECTOR, "#crime-summary .ag-header-cell")]
    assert [h for h in headers if h in SELECTOR] == COUNTY_CSPS + ["Leicestershire"]  # the county board's table
    rows = wait_for(browser, "#crime-rolling .ag-row", condition=lambda els: len(els) >= 13)
    areas = [r.find_element(By.CSS_SELECTOR, ".ag-cell[col-id='Area']").text for r in rows]
    assert "Leicester" in areas and "Rutland" in areas and "Leicestershire" in areas
    screenshot(browser, "leicestershire-force-1280")
    for part in ("summary", "rolling"):
        scroll_to(browser, f"crime-{part}")
        screenshot(browser, f"leicestershire-{part}-1280")

    browser.get(leics_server + f"/?area=Charnwood&measure=All+crimes&month={MONTH}")
    wait_text(browser, "#crime-chart .gtitle", "Charnwood - All crimes")
    hoods = wait_for(browser, "#crime-drill .ag-row .ag-cell[col-id='Neighbourhood']", condition=lambda els: len(els) >= 10)
    from queries import geography

    wards = geography.areas(leicestershire).wards
    assert {h.text for h in hoods} <= set(wards.loc[wards["csp"] == "Charnwood", "neighbourhood"])
    scroll_to(browser, "crime-drill")
    screenshot(browser, "leicestershire-charnwood-drill-1280")

    browser.set_window_size(390, 844)
    browser.get(leics_server + f"/?area=Leicester&measure=All+crimes&month={MONTH}")
    wait_text(browser, "#crime-chart .gtitle", "Leicester - All crimes")
    screenshot(browser, "leicestershire-leicester-390")
    browser.set_window_size(1600, 2000)


# --------------------------------------------------------------------------- a store of two forces


@pytest.fixture(scope="module")
def two_forces(tmp_path_factory):
    """A store for Derbyshire and Leicestershire (a region), holding Leicestershire's March 2021."""
    data_dir = tmp_path_factory.mktemp("region") / "store"
    made = app("init", "--force", "derbyshire", "--force", "leicestershire", "--data-dir", str(data_dir))
    assert made.returncode == 0, made.stderr
    imported = app("import", "police-uk", str(FIXTURE), "--data-dir", str(data_dir))
    assert imported.returncode == 0, imported.stderr
    return data_dir


def test_in_a_store_of_two_forces_the_cli_needs_the_force_an_area_belongs_to(two_forces, tmp_path):
    out = tmp_path / "charnwood.csv"
    args = ["export", "series", "--area", "Charnwood", "--measure", "All crimes", "--fy", "2020",
            "--data-dir", str(two_forces), "--out", str(out)]
    without = app(*args)
    assert without.returncode != 0 and "it is an area of force leicestershire" in without.stderr
    done = app(*args, "--force", "leicestershire")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, dtype={"month": str})
    assert int(table.loc[table["month"] == MONTH, "count"].iloc[0]) == raw_counts_by_district(two_forces)["Charnwood"]


def test_in_a_store_of_two_forces_the_selector_starts_with_the_force(two_forces, browser):
    proc, url = start_gunicorn(two_forces)
    try:
        browser.set_window_size(1280, 720)
        browser.get(url + f"/?force=leicestershire&area=Leicester&month={MONTH}")
        wait_text(browser, "#crime-chart .gtitle", "Leicester - All crimes")
        force = Select(browser.find_element(By.ID, "crime-force"))
        assert [o.text for o in force.options if o.text] == ["Derbyshire Constabulary", "Leicestershire Police"]
        assert force.first_selected_option.text == "Leicestershire Police"
        assert [o.text for o in Select(browser.find_element(By.ID, "crime-area")).options if o.text] == SELECTOR
        wait_for(browser, "body", condition=lambda _: "force=leicestershire" in browser.current_url)
        rows = wait_for(browser, "#crime-rolling .ag-row", condition=lambda els: len(els) >= 13)
        assert "Rutland" in [r.find_element(By.CSS_SELECTOR, ".ag-cell[col-id='Area']").text for r in rows]
        screenshot(browser, "two-forces-leicester-1280")
        force.select_by_visible_text("Derbyshire Constabulary")
        wait_for(browser, "#crime-area option", condition=lambda els: "Amber Valley" in [e.text for e in els])
        wait_text(browser, "#crime-chart .gtitle", "Force Area - All crimes")
        wait_for(browser, "body", condition=lambda _: "force=derbyshire" in browser.current_url)
        screenshot(browser, "two-forces-derbyshire-1280")
    finally:
        browser.set_window_size(1600, 2000)
        stop(proc)
