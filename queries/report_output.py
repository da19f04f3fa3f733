"""The monthly report as files: one HTML (screen, print and PDF), a PDF printed from it by
headless Chromium, and a Word document built with python-docx.

Charts are drawn by plotly's static export (kaleido, driving the system Chromium), in
batches, into a cache folder keyed by the store version and the report's parameters, so
the same report is never drawn twice and a new import never reuses stale pictures. This
is slow work (about a second a chart): the CLI does it directly, the web app only in a
background job (`dashboard/pages/report.py`), never inside a request.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from queries import limits
from queries.report import Flag, Report

FORMATS = ("html", "pdf", "docx")
CHROMIUM = os.environ.get("CSP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--no-pdf-header-footer"]
PDF_TIMEOUT_SECONDS = 120
# A chart drawn at this size reads across an A4 page (print width ~17 cm) and in Word at 16 cm.
CHART_WIDTH, CHART_HEIGHT, CHART_SCALE = 900, 420, 2
DOCX_CHART_CM = 16.0
# Charts drawn per kaleido call: batching shares one browser tab set-up (~0.8 s a chart
# batched against ~2.3 s alone); small enough that progress moves on a long report.
CHART_BATCH = 6
TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE = "report.html.j2"
ACTIVITY_HEADING = "Community Safety Partnership (CSP) Activity"

# The app's chart colours and markers (queries/limits.py), so printed and on-screen charts read
# alike; exceptions differ by shape and label too, never by colour alone.
COLOURS = limits.SERIES_COLOURS
LINE_STYLES = {"monthly_average_prev3": "dash", "average": "dot", "upper": "dashdot", "lower": "dashdot"}
SYMBOLS = limits.SERIES_SYMBOLS
EXCEPTION_COLOURS = {limits.ABOVE: COLOURS["upper"], limits.BELOW: COLOURS["lower"]}


class RenderError(RuntimeError):
    """A renderer (Chromium, kaleido) is missing or failed; the message says what to install."""


# --------------------------------------------------------------------------- charts


def issue_figure(table: pd.DataFrame, title: str) -> go.Figure:
    """The board's five-series chart for one issue, for print: white, large labels, key below."""
    months = table["month"].dt.strftime("%b %Y")
    fig = go.Figure()
    for key, style in LINE_STYLES.items():
        fig.add_trace(go.Scatter(x=months, y=table[key], name=limits.SERIES_NAMES[key], mode="lines",
                                 line=dict(color=COLOURS[key], dash=style, width=2.5)))
    status = table["status"].to_numpy()
    flagged = np.isin(status, [limits.ABOVE, limits.BELOW])
    fig.add_trace(go.Scatter(
        x=months, y=table["count"], name=limits.SERIES_NAMES["count"], mode="lines+markers+text",
        line=dict(color=COLOURS["count"], width=3.5),
        marker=dict(symbol=[SYMBOLS.get(s, "circle") for s in status], size=np.where(flagged, 16, 7),
                    color=[EXCEPTION_COLOURS.get(s, COLOURS["count"]) for s in status]),
        text=[s if f else "" for s, f in zip(status, flagged)], textfont=dict(size=15, color="#000"),
        textposition=["bottom center" if s == limits.BELOW else "top center" for s in status],
        connectgaps=False,
    ))
    top = np.nanmax(table[["count", "upper", "monthly_average_prev3"]].to_numpy(dtype=float))
    fig.update_layout(
        title=dict(text=title, x=0.01, font=dict(size=20)),
        font=dict(family="Helvetica, Arial, sans-serif", size=14), plot_bgcolor="white", paper_bgcolor="white",
        margin=dict(l=60, r=20, t=60, b=40), legend=dict(orientation="h", yanchor="top", y=-0.14, xanchor="center", x=0.5),
        yaxis=dict(range=[0, (top if np.isfinite(top) and top > 0 else 1) * 1.2], gridcolor="#e5e5e5", title="Count"),
        xaxis=dict(showgrid=False, tickmode="array", tickvals=list(months), ticktext=list(table["month"].dt.strftime("%b<br>%Y"))),
    )
    return fig


def chart_title(flag: Flag) -> str:
    return f"{flag.area} - {flag.measure}"


def _chromium_env() -> dict:
    """kaleido 1.x (choreographer) looks for Chrome; point it at the system Chromium, never a download."""
    if not Path(CHROMIUM).exists():
        raise RenderError(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) "
                          "or set CSP_CHROMIUM to a Chromium binary")
    os.environ.setdefault("BROWSER_PATH", CHROMIUM)
    return os.environ


def render_charts(report: Report, chart_dir: Path, progress: Callable[[int, int], None] | None = None) -> dict[tuple, Path]:
    """PNG per issue chart, drawn in batches; charts already in `chart_dir` are reused.

    Returns {(area, measure): path}. `progress(done, total)` is called after each batch.
    """
    import plotly.io as pio

    chart_dir.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for section in report.sections:
        for flag in section.issues:
            name = hashlib.sha256(f"{flag.area}|{flag.measure}".encode()).hexdigest()[:16] + ".png"
            wanted[(flag.area, flag.measure)] = chart_dir / name
    todo = [(key, path) for key, path in wanted.items() if not path.exists()]
    total, done = len(wanted), len(wanted) - len(todo)
    if progress:
        progress(done, total)
    if todo:
        _chromium_env()
    for start in range(0, len(todo), CHART_BATCH):
        batch = todo[start : start + CHART_BATCH]
        figures = [issue_figure(report.all_limits.series_frame(area, measure), f"{area} - {measure}")
                   for (area, measure), _ in batch]
        temporary = [path.with_suffix(".tmp.png") for _, path in batch]
        try:
            pio.write_images(figures, temporary, format="png", width=CHART_WIDTH, height=CHART_HEIGHT, scale=CHART_SCALE)
        except Exception as exc:  # kaleido/choreographer raise several types; say what to do
            raise RenderError(f"drawing charts with kaleido failed ({exc}); check that {CHROMIUM} runs") from exc
        for tmp, (_, path) in zip(temporary, batch):
            os.replace(tmp, path)  # a half-written picture is never taken for a finished one
        done += len(batch)
        if progress:
            progress(done, total)
    return wanted


# --------------------------------------------------------------------------- HTML


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return str(value)


@dataclass(frozen=True)
class Table:
    """A table as the template and Word both print it: header and text cells."""

    columns: list[str]
    rows: list[list[str]]

    @classmethod
    def of(cls, frame: pd.DataFrame | None) -> "Table | None":
        if frame is None:
            return None
        return cls([str(c) for c in frame.columns], [[_cell(v) for v in row] for row in frame.itertuples(index=False)])


def rolling_display(report: Report) -> pd.DataFrame:
    table = report.rolling.copy()
    table["% Change"] = [("" if pd.isna(v) else f"{v:.1f} %") for v in table["% Change"]]
    return table


def fire_display(report: Report) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The KPI line and the district table, as the fire service prints them."""
    if report.fire_kpi is None:
        return None, None
    kpi = report.fire_kpi.kpi
    line = pd.DataFrame([{"Descriptor": kpi.descriptor, "Actual": kpi.actual,
                          "Target": "" if kpi.target is None else kpi.target, "Target Met?": kpi.met_text,
                          "Direction of travel": kpi.direction}])
    return line, report.fire_kpi.districts[["District", "Incidents", "Target", "Target Met?"]]


def template_context(report: Report, charts: dict[tuple, Path] | None, embed: bool = True) -> dict:
    """Everything the HTML template prints, with tables already as text."""
    sections = []
    for section in report.sections:
        issues = []
        remarks = section.commentary or [None] * len(section.issues)
        added = section.added_by or [None] * len(section.issues)
        for flag, context, remark, adder in zip(section.issues, section.contexts, remarks, added):
            path = (charts or {}).get((flag.area, flag.measure))
            src = None
            if path is not None and path.exists():
                src = ("data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()) if embed else path.name
            title = flag.measure + (f" (added by {adder[1]}: {adder[0]})" if adder else "")
            issues.append({"key": (flag.area, flag.measure), "title": title, "chart_title": chart_title(flag),
                           "context": context, "chart": src, "commentary": remark})
        sections.append({"title": section.title, "issues": issues, "activity": section.activity,
                         "dropped": [f"{f.measure} (dropped by {by}: {reason})" for f, reason, by in section.dropped],
                         "below": [f"{f.measure} ({f.count:,.0f}, lower line {f.lower:,.1f})" for f in section.below],
                         "small": [f"{f.measure} ({f.count:,.0f}, upper line {f.upper:,.1f})" for f in section.not_significant]})
    fire_line, fire_districts = fire_display(report)
    return {
        "report": report, "sections": sections,
        "summary": Table.of(report.summary), "rolling": Table.of(rolling_display(report)),
        "fire_line": Table.of(fire_line), "fire_districts": Table.of(fire_districts),
        "marac": Table.of(report.marac), "marac_split": Table.of(report.marac_split), "hate": Table.of(report.hate_ytd),
        "version": report.version, "min_significant": report.min_significant, "activity_heading": ACTIVITY_HEADING,
    }


def render_html(report: Report, charts: dict[tuple, Path] | None) -> str:
    """The one HTML report: read on screen, printed by a browser and by Chromium for the PDF."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template(TEMPLATE).render(**template_context(report, charts))


# --------------------------------------------------------------------------- PDF


def html_to_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print the report's HTML to A4 PDF with headless Chromium (the page's own print stylesheet)."""
    _chromium_env()
    tmp = pdf_path.with_suffix(".tmp.pdf")
    with tempfile.TemporaryDirectory(prefix="csp-chromium-") as profile:
        command = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={tmp}",
                   html_path.resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PDF_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise RenderError(f"Chromium did not print {html_path} within {PDF_TIMEOUT_SECONDS}s") from None
    if done.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
        raise RenderError(f"Chromium could not print {html_path} to PDF (exit {done.returncode}): {done.stderr[-500:]}")
    os.replace(tmp, pdf_path)


# --------------------------------------------------------------------------- Word


def _docx_table(document, table: Table | None, style: str = "Table Grid") -> None:
    if table is None:
        return
    grid = document.add_table(rows=1, cols=len(table.columns))
    grid.style = style
    for cell, text in zip(grid.rows[0].cells, table.columns):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in table.rows:
        cells = grid.add_row().cells
        for cell, text in zip(cells, row):
            cell.text = text


def _docx_other_datasets(document, report: Report, context: dict) -> None:
    """Fire KPI, MARAC (protected release only) and hate crime year to date, as in the HTML."""
    document.add_heading("Deliberate fires", level=1)
    if context["fire_line"] is not None:
        _docx_table(document, context["fire_line"])
        document.add_paragraph("")
        _docx_table(document, context["fire_districts"])
    else:
        document.add_paragraph(report.fire_note)
    document.add_heading("MARAC", level=1)
    _docx_table(document, context["marac"])
    document.add_paragraph("")
    _docx_table(document, context["marac_split"])
    document.add_paragraph(report.marac_note)
    document.add_heading("Hate crime year to date", level=1)
    _docx_table(document, context["hate"])
    document.add_paragraph(report.hate_note)


def render_docx(report: Report, charts: dict[tuple, Path], out: Path) -> None:
    """The report as a Word document with the same sections, sentences and charts as the HTML."""
    import docx
    from docx.shared import Cm, Pt

    context = template_context(report, charts, embed=False)
    document = docx.Document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.left_margin = section.right_margin = Cm(2.0)
    document.styles["Normal"].font.name = "Arial"
    document.styles["Normal"].font.size = Pt(10.5)
    document.add_heading(report.title, level=0)
    document.add_paragraph(report.data_as_at)
    document.add_paragraph(report.session_words).runs[0].bold = True
    document.add_paragraph(report.method_words)
    document.add_paragraph(f"Built from store version {report.version.key}; rebuild with "
                           f"python app.py report --month {report.month:%Y-%m} --method {report.method} --k {report.k:g}"
                           + (f" --force {report.force}." if report.force else "."))
    if not report.areas:
        document.add_heading("Summary table of crimes falling above or below trigger levels", level=1)
        _docx_table(document, context["summary"])
        document.add_heading(f"Table 1: All crimes, rolling 12 months to {report.month:%B %Y}", level=1)
        _docx_table(document, context["rolling"])
        if report.rolling_note:
            document.add_paragraph(report.rolling_note)
    for part in context["sections"]:
        document.add_heading(part["title"], level=1)
        document.add_heading("Current Issues", level=2)
        if not part["issues"]:
            document.add_paragraph("None")
        # Numbered in the text, not with Word's list numbering, which would run on across sections.
        for number, issue in enumerate(part["issues"], start=1):
            document.add_paragraph(f"{number}. {issue['title']}")
        if part["dropped"]:
            document.add_paragraph("Above the upper line but not discussed: " + "; ".join(part["dropped"]) + ".")
        if part["below"]:
            document.add_paragraph("Below the lower line (not issues): " + "; ".join(part["below"]) + ".")
        if part["small"]:
            document.add_paragraph(f"Above the upper line but under {report.min_significant} (not significant): "
                                   + "; ".join(part["small"]) + ".")
        if part["issues"]:
            document.add_heading("Context", level=2)
        for number, issue in enumerate(part["issues"], start=1):
            document.add_paragraph(f"{number}. {issue['context']}")
            if issue["commentary"]:
                document.add_paragraph(f"Analyst commentary (approved by {issue['commentary'][1]}): {issue['commentary'][0]}")
            path = charts.get(issue["key"])
            if path is not None and path.exists():
                document.add_picture(str(path), width=Cm(DOCX_CHART_CM))
        if part["activity"]:
            document.add_heading(ACTIVITY_HEADING, level=2)
            document.add_paragraph(f"{part['activity'][0]} (approved by {part['activity'][1]})")
    if not report.areas:
        _docx_other_datasets(document, report, context)
    tmp = out.with_suffix(".tmp.docx")
    document.save(tmp)
    os.replace(tmp, out)


# --------------------------------------------------------------------------- the cache


# The session a report was prepared for, in its folder's name: the server that serves a cached
# file reads it there, so a closed-session report (with MARAC) never reaches an open-session request.
OPEN_SESSION, CLOSED_SESSION = "open", "closed"


def session_word(closed_session: bool) -> str:
    return CLOSED_SESSION if closed_session else OPEN_SESSION


def cache_key(month: pd.Timestamp, method: str, k: float, min_significant: int, suppress_below: int,
              areas: list[str] | None, notes_key: str = "", closed_session: bool = False, force: str = "") -> str:
    """A folder name for one report's parameters (the store version is the folder above it):
    `<YYYY-MM>-<open|closed>-<hash of the parameters>`. `force` (set in a store of several forces)
    keeps two forces' reports and charts apart: their areas share names such as "Force Area"."""
    forces = {"force": force} if force else {}  # a one-force store's keys stay what they were
    params = {**forces, "month": f"{pd.Timestamp(month):%Y-%m}", "method": method, "k": float(k), "min_significant": int(min_significant),
              "suppress_below": int(suppress_below), "areas": sorted(areas or []), "notes": notes_key,
              "session": session_word(closed_session)}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return f"{pd.Timestamp(month):%Y-%m}-{session_word(closed_session)}-{digest}"


def report_folder(cache_dir: Path, report: Report, areas: list[str] | None) -> Path:
    """`<cache>/<store version>/<month>-<parameters>`: one folder per report, never shared between versions."""
    key = cache_key(report.month, report.method, report.k, report.min_significant, report.suppress_below, areas,
                    report.notes_key, report.closed_session, report.force)
    return Path(cache_dir) / report.version.key / key


def chart_folder(cache_dir: Path, report: Report) -> Path:
    """Charts depend only on the store version, month, method and k: shared by every report that shows them
    (one partnership's or all, with or without commentary)."""
    key = cache_key(report.month, report.method, report.k, 0, 0, None, force=report.force)
    return Path(cache_dir) / report.version.key / f"charts-{key}"


def write_report(report: Report, fmt: str, out: Path, cache_dir: Path, areas: list[str] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> Path:
    """Write the report in `fmt` to `out`, drawing (or reusing) its charts in the cache."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    folder = report_folder(cache_dir, report, areas)
    charts = render_charts(report, chart_folder(cache_dir, report), progress)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "docx":
        render_docx(report, charts, out)
        return out
    html = render_html(report, charts)
    if fmt == "html":
        tmp = out.with_suffix(".tmp.html")
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, out)
        return out
    html_path = folder / "report.html"
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(html, encoding="utf-8")
    html_to_pdf(html_path, out)
    return out


def build_all(report: Report, cache_dir: Path, areas: list[str] | None = None,
              progress: Callable[[str, int, int], None] | None = None) -> dict[str, Path]:
    """HTML, PDF and Word for one report in its cache folder (reused when already there)."""
    folder = report_folder(cache_dir, report, areas)
    folder.mkdir(parents=True, exist_ok=True)
    charts = render_charts(report, chart_folder(cache_dir, report), (lambda d, t: progress("charts", d, t)) if progress else None)
    paths = {fmt: folder / f"report.{fmt}" for fmt in FORMATS}
    if not paths["html"].exists():
        tmp = folder / "report.tmp.html"
        tmp.write_text(render_html(report, charts), encoding="utf-8")
        os.replace(tmp, paths["html"])
    if progress:
        progress("pdf", 0, 1)
    if not paths["pdf"].exists():
        html_to_pdf(paths["html"], paths["pdf"])
    if progress:
        progress("docx", 0, 1)
    if not paths["docx"].exists():
        render_docx(report, charts, paths["docx"])
    return paths


def cache_dir_for(config) -> Path:
    """Where rendered reports are kept: `<state dir>/reports`, beside the store (never inside it)."""
    return Path(config.state_dir) / "reports"
