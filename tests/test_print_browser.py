"""Printing a tab to A4 in real headless Chromium (assets/print.css and print.js): no
navigation or controls, the chart whole with its legend, the summary table with its last
column, and rows never cut. The printed pages are saved as PNGs under screenshots/ to look at."""
from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from selenium.webdriver.common.print_page_options import PrintOptions

from conftest import REPO
from helpers import wait_for, wait_text

pytestmark = pytest.mark.browser
A4_CM = (21.0, 29.7)
PDFTOPPM, PDFTOTEXT = "/usr/bin/pdftoppm", "/usr/bin/pdftotext"


def _print_a4(browser, out: Path) -> str:
    """What a person gets from the browser's Print: the page's beforeprint step, then A4 pages."""
    browser.execute_script("window.cspPrepareForPrint()")  # headless printing does not fire beforeprint
    options = PrintOptions()
    options.page_width, options.page_height = A4_CM
    options.background = True
    out.write_bytes(base64.b64decode(browser.print_page(options)))
    browser.execute_script("window.cspAfterPrint()")
    for tool in (PDFTOPPM, PDFTOTEXT):
        if not Path(tool).exists():
            pytest.fail(f"{tool} is missing: install poppler-utils (bash .ci/run does)")
    return subprocess.run([PDFTOTEXT, "-layout", str(out), "-"], capture_output=True, text=True, check=True).stdout


def test_printing_the_crime_tab_gives_clean_a4_pages(live_server, browser, tmp_path):
    browser.get(live_server + "/")
    wait_text(browser, ".js-plotly-plot .gtitle", "Force Area - All crimes")
    wait_for(browser, ".ag-row", condition=lambda rows: len(rows) >= 19)
    pdf = tmp_path / "crime.pdf"
    text = _print_a4(browser, pdf)
    assert "Hate crime" not in text and "Link to this view" not in text, "navigation and controls are not printed"
    assert "Crime Count (Current)" in text and "Lower Line" in text, "the chart's legend is printed with it"
    assert "Mar" in text.split("Force Area - All crimes", 1)[1], "the chart runs to March"
    assert "County Council" in text and "Violence without Injury" in text, "the summary's last column and rows"
    folder = REPO / "screenshots" / "print-crime"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subprocess.run([PDFTOPPM, "-r", "60", "-png", str(pdf), str(folder / "page")], check=True)
    assert len(list(folder.glob("page-*.png"))) <= 4
