"""Server time of the Crime tab's main callbacks on a store, against the plain-pandas way.

    python scripts/benchmark.py [--data-dir data] [--repeat 30] [--out docs/benchmarks.md]

Each callback's work is timed in-process (what a gunicorn worker spends per request,
excluding the network): the DuckDB path the app uses, and the obvious alternative of
holding the records in a pandas DataFrame and filtering/grouping them per request.
Writes a Markdown table (machine, data size, p50/p95) to --out.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import components  # noqa: E402
from queries import geography, limits, series  # noqa: E402
from queries.measures import ASB, ALL_CRIME  # noqa: E402
from queries.store import Store  # noqa: E402

METHOD, K, MIN_SIGNIFICANT = "pooled", 2.0, 10


def _timings(fn, repeat: int) -> np.ndarray:
    fn()  # warm-up (first call compiles/caches)
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return np.array(out)


class PlainPandas:
    """The obvious way without a store: records in one DataFrame, filter and group per request."""

    def __init__(self, store: Store):
        self.records = pd.read_parquet(store.datasets["crime"] / "records.parquet")
        areas = store.query("SELECT * FROM areas")
        self.records = self.records.merge(areas, on="ward_code", how="left")
        self.records["month"] = pd.to_datetime(self.records["month"])
        self.held = pd.DatetimeIndex(sorted(self.records["month"].unique()))
        self.own = geography.areas(store.data_dir)

    def _select(self, area: str, measure: str) -> pd.DataFrame:
        r = self.records
        r = r[r["measure"] != ASB] if measure == ALL_CRIME else r[r["measure"] == measure]
        if area in self.own.county_names:
            r = r[r["parent"] == area]
        elif area != geography.FORCE:
            r = r[r["csp"] == area]
        return r

    def chart(self, area: str, measure: str, month: pd.Timestamp) -> pd.DataFrame:
        counts = self._select(area, measure).groupby("month").size().reindex(self.held, fill_value=0).astype(float)
        return limits.series_limits(counts, limits.fy_of(month), METHOD, K, MIN_SIGNIFICANT, month)

    def summary(self, month: pd.Timestamp) -> list:
        measures = sorted(self.records["measure"].unique()) + [ALL_CRIME]
        return [self.chart(area, m, month) for m in measures for area in series.county_table_areas(self.own)]


def run(data_dir: Path, repeat: int) -> tuple[list[dict], dict]:
    store = Store(data_dir)
    month = series.latest_month(store, "crime")
    fy = limits.fy_of(month)
    figure_input = series.series_table(store, "crime", "Erewash", "Shoplifting", fy, METHOD, K, MIN_SIGNIFICANT, month)
    cases = {
        "chart series (query + limits)": lambda: series.series_table(
            store, "crime", "Erewash", "Shoplifting", fy, METHOD, K, MIN_SIGNIFICANT, month),
        "chart figure (Plotly, same for both ways)": lambda: components.trend_figure(figure_input, "t"),
        "summary table (all groups x 9 areas)": lambda: series.summary_table(store, "crime", month, METHOD, K, MIN_SIGNIFICANT),
        "rolling 12 months": lambda: series.rolling_12(store, "crime", ALL_CRIME, month),
        "drill-down (neighbourhoods)": lambda: series.drilldown(store, "crime", "Chesterfield", "Shoplifting", month, METHOD, K, MIN_SIGNIFICANT),
    }
    rows = []
    for name, fn in cases.items():
        t = _timings(fn, repeat)
        rows.append({"what": name, "way": "DuckDB store (app)", "p50": np.percentile(t, 50), "p95": np.percentile(t, 95)})
    rss_app = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    plain = PlainPandas(store)
    load_ms = (time.perf_counter() - start) * 1000
    plain_cases = {
        "chart series (query + limits)": lambda: plain.chart("Erewash", "Shoplifting", month),
        "summary table (all groups x 9 areas)": lambda: plain.summary(month),
    }
    for name, fn in plain_cases.items():
        t = _timings(fn, max(3, repeat // 5) if "summary" in name else repeat)
        rows.append({"what": name, "way": "plain pandas", "p50": np.percentile(t, 50), "p95": np.percentile(t, 95)})
    info = {
        "records": len(plain.records),
        "monthly_rows": int(store.query("SELECT count(*) AS n FROM monthly")["n"][0]),
        "rss_app_mb": rss_app,
        "rss_after_pandas_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pandas_load_ms": load_ms,
        "month": month,
    }
    return rows, info


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows, info = run(args.data_dir, args.repeat)
    table = ["| Callback work | Way | p50 ms | p95 ms |", "|---|---|---:|---:|"]
    table += [f"| {r['what']} | {r['way']} | {r['p50']:.1f} | {r['p95']:.1f} |" for r in rows]
    text = "\n".join([
        "# Benchmarks: dashboard callbacks",
        "",
        "Written by `python scripts/benchmark.py --out docs/benchmarks.md`. Server time per request of the Crime "
        "tab's main callbacks, in-process (what a gunicorn worker spends, without the network), against the "
        "obvious plain-pandas way (records held in a DataFrame, filtered and grouped per request). Import "
        "throughput is in [benchmarks-import.md](benchmarks-import.md).",
        "",
        f"Machine: {machine()}.",
        f"Data: {info['records']:,} crime records (store `{args.data_dir}`), {info['monthly_rows']:,} rows in the "
        f"monthly table; report month {info['month']:%B %Y}; {args.repeat} timed runs after one warm-up.",
        "",
        *table,
        "",
        f"Peak RSS: {info['rss_app_mb']:.0f} MB serving from the store; {info['rss_after_pandas_mb']:.0f} MB once the "
        f"plain-pandas records are also held (loading them took {info['pandas_load_ms']:.0f} ms per worker start).",
    ])
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
