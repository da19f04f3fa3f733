"""The report as files, written by `python app.py report` from the purpose-built store of
test_report.py: the PDF printed by headless Chromium and turned into PNG pages with
poppler's pdftoppm (saved under screenshots/ to look at), the Word file opened with
python-docx, and the HTML in the report's order. Charts are drawn once per module and reused.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import docx
import pandas as pd
import pytest

from conftest import REPO, copy_store
from queries import cli, report, report_output
from queries.store import Store
from test_report import FIRST, MONTH, _records
from test_series import _publish_crime

PDFTOPPM, PDFTOTEXT = "/usr/bin/pdftoppm", "/usr/bin/pdftotext"
EREWASH_ARGS = ["--month", "2025-09", "--area", "Erewash", "--method", "classic", "--k", "2"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = copy_store(tmp_path_factory.mktemp("report-output") / "data")
    _publish_crime(folder, _records(folder), [m.strftime("%Y-%m-%d") for m in pd.date_range(FIRST, MONTH, freq="MS")])
    return folder


@pytest.fixture()
def state(data_dir, monkeypatch) -> Path:
    """One state folder per module run (so charts drawn by one test are reused by the next)."""
    folder = data_dir.parent / "state"
    monkeypatch.setenv("CSP_STATE_DIR", str(folder))
    return folder


def _run(args: list[str]) -> int:
    return cli.main(["report", *args])


def _poppler() -> None:
    for tool in (PDFTOPPM, PDFTOTEXT):
        if not Path(tool).exists():
            pytest.fail(f"{tool} is missing: install poppler-utils (bash .ci/run does)")


def test_pdf_of_one_partnership_prints_its_issues_and_charts(data_dir, state, tmp_path):
    _poppler()
    pdf = tmp_path / "erewash.pdf"
    assert _run([*EREWASH_ARGS, "--data-dir", str(data_dir), "--out", str(pdf)]) == 0
    text = subprocess.run([PDFTOTEXT, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    words = " ".join(text.split())  # the cover's title wraps over two lines
    assert "Community Safety Partnership Performance Report up to and including September 2025" in words
    assert "Erewash - Summary of issues" in text and "Chesterfield - Summary of issues" not in text
    assert "1. Violence without Injury" in text and "2. All crimes" in text
    assert "4 fewer offences" in words
    pages = tmp_path / "page"
    subprocess.run([PDFTOPPM, "-r", "60", "-png", str(pdf), str(pages)], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) >= 2, "cover, then the section with its two charts"
    looked_at = REPO / "screenshots" / "report-erewash"
    shutil.rmtree(looked_at, ignore_errors=True)
    looked_at.mkdir(parents=True)
    for png in pngs:
        shutil.copy(png, looked_at / png.name)


def test_word_file_has_the_same_sections_sentences_and_charts(data_dir, state, tmp_path):
    out = tmp_path / "erewash.docx"
    assert _run([*EREWASH_ARGS, "--data-dir", str(data_dir), "--out", str(out)]) == 0
    document = docx.Document(str(out))
    paragraphs = [p.text for p in document.paragraphs]
    expected = report.build_report(Store(data_dir), "2025-09", "classic", 2, 10, areas=["Erewash"])
    assert paragraphs[0] == expected.title
    assert "Erewash - Summary of issues" in paragraphs
    start = paragraphs.index("Current Issues")
    assert paragraphs[start + 1 : start + 3] == ["1. Violence without Injury", "2. All crimes"]
    assert f"1. {expected.sections[0].contexts[0]}" in paragraphs
    assert len(document.inline_shapes) == 2, "one chart per issue"
    assert any(expected.version.key in p for p in paragraphs), "stamped with the store version"


def test_html_report_runs_in_the_report_order_with_none_where_no_issues(data_dir, state, tmp_path):
    out = tmp_path / "report.html"
    assert _run(["--month", "2025-09", "--method", "classic", "--k", "2", "--data-dir", str(data_dir),
                 "--out", str(out), "--session", "closed"]) == 0
    html = out.read_text()
    headings = ["Summary table of crimes falling above or below trigger levels", "Table 1: All crimes, rolling 12 months",
                "County (excluding Derby City) - Summary of issues", "Amber Valley - Summary of issues",
                "High Peak - Summary of issues", "South Derbyshire - Summary of issues", "Deliberate fires", "<h2>MARAC</h2>",
                "Hate crime year to date"]
    positions = [html.index(h) for h in headings]
    assert positions == sorted(positions)
    high_peak = html[html.index("High Peak - Summary of issues"):html.index("North East Derbyshire - Summary of issues")]
    assert '<p class="current-issues">None</p>' in high_peak
    assert html.count("data:image/png;base64,") == 6, "County 2, Chesterfield 2, Erewash 2"
    assert 'name="csp-store-version"' in html
    assert "Counts under 5 are suppressed" in html
    assert "Closed session paper: includes MARAC" in html and "<th>Cases discussed</th>" in html


def test_an_open_session_report_has_no_marac_figures_in_html_or_word(data_dir, state, tmp_path):
    """The default session is open: the MARAC heading says why it is empty, and no MARAC table is printed."""
    common = ["--month", "2025-09", "--method", "classic", "--k", "2", "--data-dir", str(data_dir)]
    assert _run([*common, "--out", str(tmp_path / "open.html")]) == 0
    assert _run([*common, "--out", str(tmp_path / "open.docx")]) == 0
    html = (tmp_path / "open.html").read_text()
    assert report.OPEN_SESSION_MARAC_NOTE in html and "Open session paper" in html
    marac_part = html[html.index("<h2>MARAC</h2>"):html.index("Hate crime year to date")]
    assert "<table>" not in marac_part and "Cases discussed" not in html and "Counts under 5 are suppressed" not in html
    text = "\n".join(p.text for p in docx.Document(tmp_path / "open.docx").paragraphs)
    cells = [c.text for t in docx.Document(tmp_path / "open.docx").tables for row in t.rows for c in row.cells]
    assert report.OPEN_SESSION_MARAC_NOTE in text and "Cases discussed" not in cells


def test_charts_are_drawn_once_per_store_version(data_dir, state):
    store = Store(data_dir)
    built = report.build_report(store, "2025-09", "classic", 2, 10, areas=["Erewash"])
    folder = report_output.chart_folder(state / "reports", built)
    first = report_output.render_charts(built, folder)
    stamps = {p: p.stat().st_mtime_ns for p in first.values()}
    seen = []
    again = report_output.render_charts(built, folder, lambda done, total: seen.append((done, total)))
    assert {p: p.stat().st_mtime_ns for p in again.values()} == stamps
    assert seen == [(2, 2)], "nothing left to draw"


def test_unknown_format_is_refused_with_the_choices(data_dir, state, tmp_path, capsys):
    assert _run([*EREWASH_ARGS, "--data-dir", str(data_dir), "--out", str(tmp_path / "x.txt")]) == 2
    assert "give pdf, docx or html" in capsys.readouterr().err


def test_approved_commentary_and_csp_activity_appear_in_the_report_drafts_do_not(data_dir, state, tmp_path):
    from queries.commentary import ACTIVITY, COMMENTARY, Commentary, Key

    notes = Commentary(state, "derbyshire")
    remark = Key("Erewash", "Violence without Injury", "2025-09", COMMENTARY, "derbyshire")
    notes.save(remark, "Two licensed premises account for the rise.", "A. Analyst", base_version=0)
    notes.approve(remark, "Lead Analyst", version=1)
    activity = Key("Erewash", "", "2025-09", ACTIVITY, "derbyshire")
    notes.save(activity, "Night-time economy patrols from October.", "A. Analyst", base_version=0)
    draft = Key("Erewash", "All crimes", "2025-09", COMMENTARY, "derbyshire")
    notes.save(draft, "Unapproved musing.", "B. Analyst", base_version=0)
    out = tmp_path / "erewash.html"
    assert _run([*EREWASH_ARGS, "--data-dir", str(data_dir), "--out", str(out)]) == 0
    html = out.read_text()
    assert "Analyst commentary (approved by Lead Analyst): Two licensed premises account for the rise." in html
    assert "Night-time economy patrols" not in html and "Unapproved musing" not in html, "drafts stay out"
    notes.approve(activity, "Lead Analyst", version=1)
    assert _run([*EREWASH_ARGS, "--data-dir", str(data_dir), "--out", str(out)]) == 0
    html = out.read_text()
    assert "Community Safety Partnership (CSP) Activity" in html and "Night-time economy patrols from October." in html
