"""National scale: a police.uk-format data set for 43 forces, imported whole, then one month more.

    python scripts/benchmark_scale.py [--months 108] [--rows-per-month 550000] [--forces 43]
                                      [--work DIR] [--out docs/benchmarks.md] [--smoke]

Generates (fixed seed) police.uk street files for --forces forces over --months months,
`YYYY-MM/YYYY-MM-<force>-street.csv`, about --rows-per-month rows a month in all (forces
weighted like England and Wales: the Met largest), plus one more month. Derbyshire's rows
use real LSOA codes from the repo's lookup (so they land in wards); other forces' codes are
outside the lookup (stored as outside the force area, as for any force the store has no
geography for yet). Then measures, each in its own child process (so peak RSS is that
step's alone), side by side in the same run:

* `full import`       `python app.py import police-uk` of every history month into a copy of data/;
* `one more month`    importing the next month into that store (the force analyst's monthly job);
* `duckdb full`       plain DuckDB: `read_csv` of the same files -> GROUP BY month, LSOA, type -> Parquet;
* `duckdb one month`  the same for the new month only;
* `pandas one month`  plain pandas: `read_csv` of the new month's files + one `groupby`;
* `query: month x measure counts`  the store's grouped counts (what the summary tables rest on),
  p50/p95 over repeated calls, beside one pandas groupby and DuckDB over the records.

The defaults are the issue's national case (108 months x 550k = 59.4 M rows, about 13 GB of
CSV); `--smoke` is a few seconds (the test suite runs it so it cannot rot). Results are
appended to --out as a Markdown section (or printed only, with --out -).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from queries import geography, national  # noqa: E402
from queries.importers import police_uk  # noqa: E402

_spec = importlib.util.spec_from_file_location("benchmark_import", Path(__file__).with_name("benchmark_import.py"))
bench_import = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_import)

SEED = 20260301
DEFAULT_MONTHS = 108
DEFAULT_ROWS_PER_MONTH = 550_000
DEFAULT_FORCES = 43
FIRST_MONTH = "2016-01-01"
QUERY_REPEATS = 20
SMOKE = {"months": 2, "rows_per_month": 3_000, "forces": 3}
# police.uk's 43 territorial forces of England and Wales, with rough relative volumes
# (the Met about a fifth of all records; the smallest forces under 1%).
FORCES = {
    "metropolitan": 20.0, "west-midlands": 6.0, "greater-manchester": 6.0, "west-yorkshire": 5.5,
    "thames-valley": 3.5, "merseyside": 3.0, "south-yorkshire": 3.0, "hampshire": 3.0, "kent": 3.0,
    "lancashire": 2.8, "northumbria": 2.8, "avon-and-somerset": 2.7, "essex": 2.7, "devon-and-cornwall": 2.3,
    "sussex": 2.3, "nottinghamshire": 2.0, "derbyshire": 1.8, "leicestershire": 1.7, "south-wales": 1.7,
    "west-mercia": 1.7, "cleveland": 1.5, "staffordshire": 1.5, "humberside": 1.5, "durham": 1.3,
    "cheshire": 1.3, "hertfordshire": 1.3, "surrey": 1.1, "lincolnshire": 1.0,
    "northamptonshire": 1.0, "norfolk": 1.0, "suffolk": 0.9, "bedfordshire": 0.9, "cambridgeshire": 1.0,
    "cumbria": 0.7, "north-yorkshire": 1.0, "gloucestershire": 0.7, "dorset": 0.8, "wiltshire": 0.7,
    "warwickshire": 0.6, "north-wales": 0.9, "gwent": 0.8, "dyfed-powys": 0.5, "city-of-london": 0.1,
}


# --------------------------------------------------------------------------- synthetic data


def force_list(count: int) -> dict[str, float]:
    """The `count` largest forces, always including Derbyshire (the forces the store has wards for)."""
    names = sorted(FORCES, key=FORCES.get, reverse=True)[:count]
    if "derbyshire" not in names:
        names[-1] = "derbyshire"
    weights = np.array([FORCES[n] for n in names])
    return dict(zip(names, weights / weights.sum()))


def generate(root: Path, months: int, rows_per_month: int, forces: int, data_dir: Path = REPO / "data") -> dict:
    """History months under root/history and the next month under root/new; returns sizes."""
    rng = np.random.default_rng(SEED)
    lookup = geography.lsoa_table(data_dir)
    derby_codes = lookup[lookup["lsoa_vintage"] == "2021"]["lsoa_code"].to_numpy()
    other_codes = np.array([f"E0{n:07d}" for n in range(1_000_000, 1_035_000)])  # not in the lookup
    streets = np.array([f"On or near {s}" for s in bench_import.STREETS])
    shares = force_list(forces)
    header = (",".join(police_uk.EXPECTED_COLUMNS) + "\n").encode()
    all_months = pd.date_range(FIRST_MONTH, periods=months + 1, freq="MS")
    sizes = {"history_rows": 0, "new_rows": 0, "history_bytes": 0, "new_bytes": 0, "files": 0}
    for index, month in enumerate(all_months):
        part = "new" if index == months else "history"
        text = f"{month:%Y-%m}"
        folder = root / part / text
        folder.mkdir(parents=True, exist_ok=True)
        for force, share in shares.items():
            n = max(1, int(round(rows_per_month * share * rng.uniform(0.93, 1.07))))
            codes = derby_codes if force == "derbyshire" else other_codes
            kind, crime_id, outcome = bench_import.random_crimes(rng, n)
            name = national.forces()[force].name  # police.uk's own "Falls within", as the importer requires
            table = pa.table({
                "Crime ID": crime_id, "Month": np.full(n, text), "Reported by": np.full(n, name),
                "Falls within": np.full(n, name),
                "Longitude": np.round(rng.uniform(-3.0, 0.5, n), 6).astype(str),
                "Latitude": np.round(rng.uniform(50.5, 54.5, n), 6).astype(str),
                "Location": streets[rng.integers(0, len(streets), n)], "LSOA code": codes[rng.integers(0, len(codes), n)],
                "LSOA name": np.full(n, "Somewhere 001A"), "Crime type": kind, "Last outcome category": outcome,
                "Context": np.full(n, ""),
            })
            path = folder / f"{text}-{force}-street.csv"
            with open(path, "wb") as handle:
                handle.write(header)
                pa_csv.write_csv(table, handle, write_options=pa_csv.WriteOptions(include_header=False, quoting_style="none"))
            sizes[f"{part}_rows"] += n
            sizes[f"{part}_bytes"] += path.stat().st_size
            sizes["files"] += 1
    return sizes


# --------------------------------------------------------------------------- steps (each in a child process)


def step_import(work: Path, part: str) -> int:
    with open(os.devnull, "w") as sink:
        code = police_uk.run_import([work / part], work / "store", progress=False, out=sink, err=sink)
    if code != 0:
        raise SystemExit(f"import of {part} failed with exit {code}")
    return int(json.loads((work / "store" / "import-log.jsonl").read_text().splitlines()[-1])["rows_read"])


def step_duckdb(work: Path, part: str) -> int:
    import duckdb

    con = duckdb.connect(":memory:")
    glob = str(work / part / "*" / "*.csv")
    out = work / f"duckdb-{part}.parquet"
    con.execute(
        f"""COPY (SELECT "Month" AS month, "LSOA code" AS lsoa_code, "Crime type" AS crime_type, count(*) AS n
                 FROM read_csv('{glob}', header = true, all_varchar = true) GROUP BY ALL)
            TO '{out}' (FORMAT parquet)"""
    )
    return int(con.execute(f"SELECT sum(n) FROM read_parquet('{out}')").fetchone()[0])


def step_pandas(work: Path, part: str) -> int:
    frames = [pd.read_csv(p, usecols=["Month", "LSOA code", "Crime type"], dtype=str)
              for p in sorted((work / part).rglob("*.csv"))]
    frame = pd.concat(frames, ignore_index=True)
    counts = frame.groupby(["Month", "LSOA code", "Crime type"], dropna=False).size()
    return int(counts.sum())


def step_queries(work: Path, part: str) -> dict:
    """p50/p95 of the store's grouped counts beside one pandas groupby and DuckDB over the records."""
    import duckdb

    from queries.export import grouped_counts
    from queries.store import Store, parquet_source

    store = Store(work / "store").snapshot()
    records = store.datasets["crime"] / "records.parquet"

    def timed(function) -> list[float]:
        function()  # warm
        out = []
        for _ in range(QUERY_REPEATS):
            started = time.perf_counter()
            function()
            out.append((time.perf_counter() - started) * 1000)
        return out

    frame = pd.read_parquet(records, columns=["month", "measure"])
    con = duckdb.connect(":memory:")
    ways = {
        "store (monthly table)": timed(lambda: grouped_counts(store, "crime", ["month", "measure"])),
        "pandas groupby over records (held in memory)": timed(lambda: frame.groupby(["month", "measure"]).size()),
        "duckdb over records Parquet": timed(
            lambda: con.execute(f"SELECT month, measure, count(*) FROM {parquet_source(records)} GROUP BY ALL").df()),
    }
    return {k: {"p50_ms": float(np.percentile(v, 50)), "p95_ms": float(np.percentile(v, 95))} for k, v in ways.items()}


STEPS = {
    "full import": (step_import, "history"), "one more month": (step_import, "new"),
    "duckdb full": (step_duckdb, "history"), "duckdb one month": (step_duckdb, "new"),
    "pandas one month": (step_pandas, "new"), "queries": (step_queries, "history"),
}


def child(name: str, work: Path) -> None:
    function, part = STEPS[name]
    started = time.perf_counter()
    result = function(work, part)
    seconds = time.perf_counter() - started
    print(json.dumps({"result": result, "seconds": seconds, "peak_rss_bytes": bench_import._peak_rss()}))


def measure(name: str, work: Path, in_process: bool = False) -> dict:
    if in_process:  # the smoke run: no child processes (peak RSS is then the whole run's, not the step's)
        function, part = STEPS[name]
        started = time.perf_counter()
        result = function(work, part)
        return {"result": result, "seconds": time.perf_counter() - started, "peak_rss_bytes": bench_import._peak_rss()}
    done = subprocess.run([sys.executable, __file__, "--child", name, "--work", str(work)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def render(info: dict, args, sizes: dict, results: dict) -> str:
    gib = 1 << 30
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.2f}" for x in info["load"])
    lines = [
        f"## National scale: {args.forces} forces, {args.months} months + 1 ({now})", "",
        f"`python scripts/benchmark_scale.py --months {args.months} --rows-per-month {args.rows_per_month} "
        f"--forces {args.forces}`. Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory_gb']:.1f} GB, "
        f"Python {info['python']}, pandas {info['pandas']}, pyarrow {info['pyarrow']}, duckdb {info['duckdb']}; "
        f"load average at start {load} (a shared machine: treat timings as +-20%).", "",
        f"Data: {sizes['files']:,} files; history {sizes['history_rows']:,} rows ({sizes['history_bytes'] / 1e6:,.0f} MB "
        f"of CSV), new month {sizes['new_rows']:,} rows ({sizes['new_bytes'] / 1e6:,.0f} MB).", "",
        "| step | rows | wall time | rows/s | peak RSS |", "|---|---|---|---|---|",
    ]
    for name in ("full import", "duckdb full", "one more month", "duckdb one month", "pandas one month"):
        r = results.get(name)
        if r is None:
            continue
        lines.append(f"| {name} | {r['result']:,} | {r['seconds']:.2f} s | {r['result'] / r['seconds']:,.0f} | "
                     f"{r['peak_rss_bytes'] / gib:.2f} GiB |")
    queries = results.get("queries")
    if queries:
        lines += ["", f"Month x measure counts over the whole store, {QUERY_REPEATS} calls each "
                      f"(peak RSS of that process {queries['peak_rss_bytes'] / gib:.2f} GiB):", "",
                  "| way | p50 | p95 |", "|---|---|---|"]
        for way, t in queries["result"].items():
            lines.append(f"| {way} | {t['p50_ms']:.1f} ms | {t['p95_ms']:.1f} ms |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=DEFAULT_MONTHS)
    parser.add_argument("--rows-per-month", type=int, default=DEFAULT_ROWS_PER_MONTH)
    parser.add_argument("--forces", type=int, default=DEFAULT_FORCES, choices=range(1, len(FORCES) + 1), metavar="1-43")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temporary one, removed after)")
    parser.add_argument("--out", default="-", help="Markdown file to append the results to, or - to print only")
    parser.add_argument("--smoke", action="store_true", help=f"a few seconds: {SMOKE}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.work)
        return 0
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        sizes = generate(work, args.months, args.rows_per_month, args.forces)
        shutil.copytree(REPO / "data", work / "store", ignore=shutil.ignore_patterns(".lock", ".staging-*", ".versions",
                                                                                      "import-log.jsonl"))
        # The store is for every generated force (a regional or national deployment), Derbyshire first:
        # each force's rows are its own, none is "another force's".
        slugs = sorted(force_list(args.forces), key=lambda s: s != "derbyshire")
        national.write_store_forces(work / "store", [national.forces()[s] for s in slugs])
        results = {}
        for name in ("full import", "one more month", "duckdb full", "duckdb one month", "pandas one month", "queries"):
            results[name] = measure(name, work, in_process=args.smoke)
            print(f"{name}: {json.dumps(results[name])}", file=sys.stderr)
        report = render(bench_import.machine(), args, sizes, results)
        print(report)
        if args.out != "-":
            with open(args.out, "a") as handle:
                handle.write("\n" + report)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
