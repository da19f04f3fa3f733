"""Time the monthly report: every series' limits at once against one series at a time, and
drawing its charts batched against one by one, then the PDF and Word files.

    python scripts/benchmark_report.py [--data-dir data] [--month 2026-10] [--repeat 10] [--out docs/benchmarks-report.md]

The limits are timed in-process (p50/p95 over --repeat runs after a warm-up). Chart drawing
is slow and runs once: a cold cache in a temporary folder, batched (what the app and CLI
do) and then the same charts one call each.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmark import _timings  # noqa: E402  (scripts/ is on the path when run as a script; one timer for every benchmark)
from queries import geography, limits, report, report_output, series  # noqa: E402
from queries.store import Store  # noqa: E402

METHOD, K, MIN_SIGNIFICANT = "pooled", 2.0, 10


def _one_by_one(store: Store, month: pd.Timestamp) -> int:
    """The plain way: series_table per area and measure (no neighbourhoods), as a loop over the engine."""
    n = 0
    for area in geography.areas(store.data_dir).top_areas:
        for measure in series.measures(store, "crime"):
            series.series_table(store, "crime", area, measure, limits.fy_of(month), METHOD, K, MIN_SIGNIFICANT, month)
            n += 1
    return n


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks-report.md"))
    args = parser.parse_args()
    store = Store(args.data_dir)
    month = pd.Timestamp(args.month)
    all_at_once = _timings(lambda: report.all_series_limits(store, month, METHOD, K, MIN_SIGNIFICANT), args.repeat)
    n_series = len(report.all_series_limits(store, month, METHOD, K, MIN_SIGNIFICANT).keys)
    one_by_one = _timings(lambda: _one_by_one(store, month), max(2, args.repeat // 5))
    n_loop = _one_by_one(store, month)
    build = _timings(lambda: report.build_report(store, month, METHOD, K, MIN_SIGNIFICANT), max(2, args.repeat // 5))
    built = report.build_report(store, month, METHOD, K, MIN_SIGNIFICANT)
    n_charts = sum(len(s.issues) for s in built.sections)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report_output.render_charts(built, Path(tmp) / "batched")
        batched = time.perf_counter() - start
        single = []
        for section in built.sections:
            for flag in section.issues:
                one = report.Report(**{**built.__dict__, "sections": [report.Section(
                    section.area, section.heading, [flag], [""], [], [])]})
                start = time.perf_counter()
                report_output.render_charts(one, Path(tmp) / f"single-{len(single)}")
                single.append(time.perf_counter() - start)
        start = time.perf_counter()
        report_output.write_report(built, "pdf", Path(tmp) / "r.pdf", Path(tmp) / "cache")
        pdf = time.perf_counter() - start  # includes drawing the charts again into the new cache
        start = time.perf_counter()
        report_output.write_report(built, "docx", Path(tmp) / "r.docx", Path(tmp) / "cache")
        docx_seconds = time.perf_counter() - start
        pdf_size = (Path(tmp) / "r.pdf").stat().st_size
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        "# Report benchmarks",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}. "
        f"Store: {args.data_dir} (synthetic demo, {int(store.query('SELECT sum(count) FROM monthly WHERE dataset = ?', ['crime']).iloc[0, 0]):,} "
        f"crime measure-counts), report month {month:%Y-%m}, {METHOD} k={K:g}.",
        "Reproduce: `python scripts/benchmark_report.py`.",
        "",
        "| What | Series / charts | p50 | p95 |",
        "|---|---|---|---|",
        f"| Every series' limits at once (`report.all_series_limits`, incl. neighbourhoods) | {n_series:,} | "
        f"{np.percentile(all_at_once, 50):.0f} ms | {np.percentile(all_at_once, 95):.0f} ms |",
        f"| Plain way: `series.series_table` per area x measure (no neighbourhoods) | {n_loop:,} | "
        f"{np.percentile(one_by_one, 50):.0f} ms | {np.percentile(one_by_one, 95):.0f} ms |",
        f"| Whole report data (`report.build_report`: limits, issues, contexts, fire, MARAC, hate) | | "
        f"{np.percentile(build, 50):.0f} ms | {np.percentile(build, 95):.0f} ms |",
        f"| Charts drawn batched ({report_output.CHART_BATCH} per kaleido call), cold cache | {n_charts} | "
        f"{batched:.1f} s total, {batched / max(n_charts, 1):.2f} s a chart | |",
        f"| Same charts one kaleido call each | {n_charts} | {sum(single):.1f} s total, "
        f"{np.median(single):.2f} s a chart (median) | {np.percentile(single, 95):.2f} s |" if single else "| Same charts one by one | 0 | | |",
        f"| PDF (charts drawn again into a fresh cache + Chromium print) | {n_charts} | {pdf:.1f} s ({pdf_size / 1e6:.1f} MB) | |",
        f"| Word file (charts cached) | {n_charts} | {docx_seconds:.1f} s | |",
        "",
        f"Peak memory of the process: {peak_mb:.0f} MB (kaleido's Chromium runs in its own processes, not counted).",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
