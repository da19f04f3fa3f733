"""National scale: a police.uk-format data set for 43 forces, imported whole, then one month more.

    python scripts/benchmark_scale.py [--months 108] [--rows-per-month 550000] [--forces 43]
                                      [--work DIR] [--out docs/benchmarks.md] [--smoke]

Generates (fixed seed) police.uk street files for --forces forces over --months months,
`YYYY-MM/YYYY-MM-<force>-street.csv`, about --rows-per-month rows a month in all (forces
weighted like England and Wales: the Met largest), plus one more month. Every force's rows
use its own real LSOA codes from the national lookup, so they land in its wards and districts
(the store is initialised for every generated force). Then measures, each in its own child process (so peak RSS is that
step's alone), side by side in the same run:

* `full import`       `python app.py import police-uk` of every history month into a copy of data/;
* `one more month`    importing the next month into that store (the force analyst's monthly job);
* `duckdb full`       plain DuckDB: `read_csv` of the same files -> GROUP BY month, LSOA, type -> Parquet;
* `duckdb one month`  the same for the new month only;
* `pandas one month`  plain pandas: `read_csv` of the new month's files + one `groupby`;
* `query: month x measure counts`  the store's grouped counts (what the summary tables rest on),
  p50/p95 over repeated calls, beside one pandas groupby and DuckDB over the records;
* `limits`            all limits of the national store at once (areas and wards, both methods, every
  year: `queries/limits_table.py`), beside the per-force pass on demand and one chart at a time, and
  the first force's chart and summary table in-process (stored limits and on demand), with the
  monthly table's row count;
* `callbacks`         every registered callback's server time, in-process through the real Dash app
  (as tests/test_callbacks_fuzz.py drives it), valid values for the first force and the Met;
* `gunicorn`          a real gunicorn: cold start (launch to the first 200 on /) and each worker's RSS
  after serving the pages and every callback once for two forces over HTTP;
* the same chart/summary, callbacks and gunicorn figures on the Derbyshire demo store, beside them.

The defaults are the issue's national case (108 months x 550k = 59.4 M rows, about 13 GB of
CSV); `--smoke` is a few seconds plus one pass over the callbacks (the test suite runs it so it
cannot rot; it skips gunicorn and the Derbyshire comparisons). Results are
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
sys.path.insert(0, str(REPO / "tests"))

from queries import geography, national  # noqa: E402
from queries.importers import police_uk  # noqa: E402
from dash_requests import changed, concrete, split_outputs, value_kind  # noqa: E402  (tests/dash_requests.py: one way to build a request)

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
CHART_SAMPLE = 20  # charts drawn one at a time to price "every chart, one at a time"
CALLBACK_REPEATS = 10  # requests per callback per force, valid values drawn with a fixed seed
SMOKE_CALLBACK_REPEATS = 1
REPEATS_VARIABLE = "BENCHMARK_SCALE_CALLBACK_REPEATS"  # how the smoke run tells its child steps
GUNICORN_WORKERS = 2
LARGEST_FORCE = "metropolitan"  # callbacks are timed for the store's first force and this one
GUNICORN_START_SECONDS = 120
PAGE_ROUNDS = 5
# Pages served before a worker's RSS is read: the crime tab (chart with the page), other tabs, a drill-down.
PAGES = ["/", "/?area=Chesterfield&measure=Shoplifting", "/?k=3&method=classic", "/asb", "/hate", "/fire", "/data"]
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


def force_lsoas() -> dict[str, np.ndarray]:
    """Each force's real 2021 LSOA codes (the national lookup), so every force's rows land in its own
    wards and districts: the monthly table then has a national store's size (every ward of every force)."""
    lsoas = national.lsoas()
    lsoas = lsoas[lsoas["lsoa_vintage"] == "2021"]
    return {slug: lsoas.loc[lsoas["lad_code"].isin(national.districts_of([slug])["lad_code"]), "lsoa_code"].to_numpy()
            for slug in FORCES}


def generate(root: Path, months: int, rows_per_month: int, forces: int, data_dir: Path = REPO / "data") -> dict:
    """History months under root/history and the next month under root/new; returns sizes."""
    rng = np.random.default_rng(SEED)
    codes_of = force_lsoas()
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
            codes = codes_of[force]
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


def _percentiles(values: list[float]) -> dict:
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95)), "n": len(values)}


def step_limits(work: Path, part: str) -> dict:
    """All limits for the national store at once (areas and wards, both methods, every year), beside
    the ways without it: the per-force vectorised pass on demand, and one chart at a time."""
    from queries import limits, limits_table, report, series
    from queries.store import Store

    store = Store(work / "store").snapshot()
    folder = store.datasets["crime"]
    started = time.perf_counter()
    path = limits_table.write(folder, store.data_dir, "crime")
    all_at_once = time.perf_counter() - started
    rows = limits_table.row_count(path)
    stored = store.query(f"SELECT count(DISTINCT month) AS months, count(DISTINCT (force, measure, area, neighbourhood)) AS n "
                         f"FROM {limits_table.source_sql(path)}")
    incremental = incremental_limits(store, folder, path)
    latest = series.coverage(store, "crime")[-1]
    with limits_table.computing_on_demand():
        started = time.perf_counter()
        for slug in store.forces:
            report.all_series_limits(store, latest, "pooled", 2.0, 10, force=slug)
        per_force = time.perf_counter() - started
    started = time.perf_counter()
    for slug in store.forces:
        report.all_series_limits(store, latest, "pooled", 2.0, 10, force=slug)
    per_force_stored = time.perf_counter() - started
    # One chart at a time (what drawing every neighbourhood's chart costs without the table): a sample, scaled up.
    own = series.force_areas(store, store.forces[0])
    csp = own.csps[0]
    sample = [(csp, n) for n in series.neighbourhoods(store, csp, store.forces[0])][:CHART_SAMPLE]
    fy = limits.fy_of(latest)
    with limits_table.computing_on_demand():
        started = time.perf_counter()
        for area, hood in sample:
            series.series_table(store, "crime", area, "All crimes", fy, "pooled", 2.0, 10, latest, hood, store.forces[0])
        per_chart = (time.perf_counter() - started) / max(len(sample), 1)
    return {
        "first_force": first_force_timings(store),
        "all_at_once_s": all_at_once, "rows": rows, "series": int(stored["n"].iloc[0]),
        "months": int(stored["months"].iloc[0]), "methods": len(limits.METHODS),
        "monthly_rows": int(store.query("SELECT count(*) AS n FROM monthly")["n"].iloc[0]),
        "monthly_in_memory": store.monthly_in_memory, "forces": len(store.forces),
        "per_force_on_demand_s": per_force, "per_force_stored_s": per_force_stored,
        "per_chart_on_demand_ms": per_chart * 1000,
        "one_chart_at_a_time_s": per_chart * int(stored["n"].iloc[0]) * int(stored["months"].iloc[0]) / 12,
        **incremental,
    }


def incremental_limits(store, folder: Path, path: Path) -> dict:
    """What publishing the current version cost given the one before it (the `one more month`
    import): only the (force, year) blocks its months touch computed, the rest hard-linked."""
    from queries import limits_table, store_writer
    from queries.store import read_manifest

    history = read_manifest(store.data_dir).get("history", {}).get("crime", [])
    previous = store.data_dir / history[0] if history else None
    if previous is None or not previous.is_dir():
        return {}
    changed = store_writer.changed_pairs(previous, folder)
    old = limits_table.ensure(previous, store.data_dir, "crime")
    if changed is None or old is None:
        return {}
    started = time.perf_counter()
    new = limits_table.write(folder, store.data_dir, "crime", previous, changed)
    seconds = time.perf_counter() - started
    old_files = {p.relative_to(old): p.stat().st_ino for p in old.glob("*/*.parquet")}
    new_files = {p.relative_to(new): p.stat().st_ino for p in new.glob("*/*.parquet")}
    linked = sum(1 for name, inode in new_files.items() if old_files.get(name) == inode)
    return {"incremental_s": seconds, "changed_pairs": len(changed), "blocks": len(new_files),
            "blocks_computed": len(new_files) - linked}


def first_force_timings(store) -> dict:
    """The store's first force's chart and summary table in-process (stored limits, and on demand)."""
    from queries import limits_table, series

    force = store.forces[0]
    own = series.force_areas(store, force)
    month = series.coverage(store, "crime", force)[-1]
    area = own.csps[0]

    def timed(function) -> dict:
        function()  # warm: the version's small caches
        values = []
        for _ in range(QUERY_REPEATS):
            started = time.perf_counter()
            function()
            values.append((time.perf_counter() - started) * 1000)
        return _percentiles(values)

    def chart():
        series.series_table(store, "crime", area, "All crimes", limits_fy(month), "pooled", 2.0, 10, month, force=force)

    def summary():
        series.summary_table(store, "crime", month, "pooled", 2.0, 10, force=force)

    out = {"force": force, "chart": timed(chart), "summary": timed(summary)}
    with limits_table.computing_on_demand():
        out["chart on demand"], out["summary on demand"] = timed(chart), timed(summary)
    return out


def limits_fy(month) -> int:
    from queries import limits

    return limits.fy_of(month)


def step_demo_queries(work: Path, part: str) -> dict:
    """The same chart and summary timings on the Derbyshire demo store (the figures that must stay where they are)."""
    from queries.store import Store

    return first_force_timings(Store(demo_copy(work)).snapshot())


# --------------------------------------------------------------------------- callbacks, in-process through Dash


def _valid_values(store, force: str) -> dict[str, list]:
    """Valid values for one force of the store, by value kind."""
    from queries import limits, series

    own = series.force_areas(store, force)
    months = [f"{m:%Y-%m}" for m in series.coverage(store, "crime", force)]
    csps = own.csps[:4]
    hoods = sorted({n for c in csps for n in series.neighbourhoods(store, c, force)})[:20]
    return {
        "area": own.top_areas, "force": [force], "measure": series.measures(store, "crime"), "month": months[-13:],
        "fy": sorted({limits.fy_of(pd.Timestamp(m)) for m in months})[-2:], "method": list(limits.METHODS),
        "k": [2, 2, 2, 3], "neighbourhood": hoods + [None], "period": ["month", "quarter", "financial"],
        "board": [True, False], "version": [store.token], "issue": [1, 2, None], "screen": [1280, 1920],
        "tick": [1], "n_clicks": [1],
        "cellClicked": [{"colId": a, "rowId": "All crimes"} for a in csps],
        "pathname": ["/", "/asb", "/hate", "/data"],
        "search": ["", f"?force={force}", f"?force={force}&area={csps[0]}&measure=Shoplifting", f"?force={force}&k=3"],
    }


def demo_copy(work: Path) -> Path:
    """The repo's Derbyshire demo store, copied once into the work folder (its limits are built there, not in data/)."""
    target = work / "demo-store"
    if not target.exists():
        shutil.copytree(REPO / "data", target, ignore=shutil.ignore_patterns(".lock", ".staging-*", ".versions",
                                                                               "import-log.jsonl"))
    return target


def _payload(dependency: dict, valid: dict, rng) -> str:
    """One request to a registered callback, every input and state a valid value drawn by `rng`."""
    def value(item: dict):
        choices = valid.get(value_kind(concrete(item["id"]), item["property"]))
        return rng.choice(choices) if choices else None

    outputs = split_outputs(dependency["output"])
    return json.dumps({
        "output": dependency["output"],
        "outputs": outputs if dependency["output"].startswith("..") else outputs[0],
        "inputs": [{**i, "id": concrete(i["id"]), "value": value(i)} for i in dependency["inputs"]],
        "state": [{**s, "id": concrete(s["id"]), "value": value(s)} for s in dependency["state"]],
        "changedPropIds": [changed(dependency["inputs"][0])] if dependency["inputs"] else [],
    }, default=str)


def _registered(dependencies: list[dict]) -> list[dict]:
    """The server-side callbacks a request can drive (as tests/test_callbacks_fuzz.py selects them)."""
    return [d for d in dependencies if not d.get("clientside_function") and d["output"].count("MATCH") <= 1
            and "ALL" not in d["output"]]


def step_callbacks(work: Path, part: str) -> dict:
    """Every registered callback's server time (in-process through the real Dash app, as the fuzz test
    drives it), with valid values for the store's first force and its largest, CALLBACK_REPEATS each."""
    import random

    from dashboard import create_app, state

    callback_repeats = int(os.environ.get(REPEATS_VARIABLE, CALLBACK_REPEATS))
    store_dir = work / "store" if part == "national" else demo_copy(work)
    app = create_app(store_dir)
    client = app.server.test_client()
    started = time.perf_counter()
    first = client.get("/")
    first_page = time.perf_counter() - started
    dependencies = client.get("/_dash-dependencies").get_json()
    callbacks = _registered(dependencies)
    store = state.store().snapshot()
    forces = [store.forces[0]] + [f for f in (LARGEST_FORCE,) if f in store.forces and f != store.forces[0]]
    if callback_repeats <= SMOKE_CALLBACK_REPEATS:
        forces = forces[:1]  # the smoke run: each callback once, so the script cannot rot, in seconds
    rng = random.Random(SEED)
    times: dict[str, list[float]] = {}
    statuses: dict[int, int] = {}
    for force in forces:
        valid = _valid_values(store, force)
        for dependency in callbacks:
            for _ in range(callback_repeats):
                body = _payload(dependency, valid, rng)
                started = time.perf_counter()
                response = client.post("/_dash-update-component", data=body, content_type="application/json")
                times.setdefault(dependency["output"], []).append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    every = [t for values in times.values() for t in values]
    return {"first_page_s": first_page, "first_status": first.status_code, "statuses": statuses,
            "all": _percentiles(every), "callbacks": {k: _percentiles(v) for k, v in times.items()},
            "forces": forces}


# --------------------------------------------------------------------------- a real gunicorn


def _workers(master: int) -> list[Path]:
    """/proc folders of the gunicorn master's children (its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                found.append(entry)
        except (OSError, ValueError, IndexError):
            continue
    return found


def _worker_rss(master: int) -> list[int]:
    """Resident set (VmRSS, bytes) of each gunicorn worker: the master's children, read from /proc."""
    sizes = []
    for entry in _workers(master):
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) * 1024)
        except (OSError, ValueError, IndexError):
            continue
    return sizes


def _worker_shares(master: int) -> list[dict]:
    """Each worker's PSS (its pages, those shared with the master and the other workers divided among
    them) and USS (pages only it holds), bytes, from /proc/<pid>/smaps_rollup: with gunicorn's
    preload the workers share the imported app, which RSS counts whole in every worker."""
    found = []
    for entry in _workers(master):
        try:
            fields = {line.split(":")[0]: int(line.split()[1]) * 1024
                      for line in (entry / "smaps_rollup").read_text().splitlines()[1:]}
        except (OSError, ValueError, IndexError):
            continue
        found.append({"pss": fields.get("Pss", 0),
                      "uss": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)})
    return found


def step_gunicorn(work: Path, part: str) -> dict:
    """Cold start (gunicorn launched -> first 200 on /) and each worker's RSS after serving the pages."""
    import socket
    import urllib.error
    import urllib.request

    store_dir = work / "store" if part == "national" else demo_copy(work)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, CSP_DATA_DIR=str(store_dir))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(GUNICORN_WORKERS), "--bind",
                             f"127.0.0.1:{port}", "app:server"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        cold = None
        while time.perf_counter() - started < GUNICORN_START_SECONDS:
            try:
                with urllib.request.urlopen(url + "/", timeout=30) as response:
                    if response.status == 200:
                        cold = time.perf_counter() - started
                        break
            except OSError:
                time.sleep(0.05)
        if cold is None:
            raise SystemExit("gunicorn did not answer / in time")
        pages = []
        for _ in range(PAGE_ROUNDS):
            for page in PAGES:
                began = time.perf_counter()
                with urllib.request.urlopen(url + page, timeout=60) as response:
                    response.read()
                pages.append((time.perf_counter() - began) * 1000)
        # Then every callback once for each of two forces, over HTTP (what a page's cards ask), so the
        # RSS read below is a worker's after answering real queries, not after the page shell only.
        import random

        from queries.store import Store

        with urllib.request.urlopen(url + "/_dash-dependencies", timeout=60) as response:
            callbacks = _registered(json.loads(response.read()))
        store = Store(store_dir).snapshot()
        rng = random.Random(SEED)
        answered: dict[int, int] = {}
        for force in [store.forces[0]] + [f for f in (LARGEST_FORCE,) if f in store.forces and f != store.forces[0]]:
            valid = _valid_values(store, force)
            for dependency in callbacks:
                request = urllib.request.Request(url + "/_dash-update-component", data=_payload(dependency, valid, rng).encode(),
                                                 headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=120) as response:
                        response.read()
                        answered[response.status] = answered.get(response.status, 0) + 1
                except urllib.error.HTTPError as error:
                    answered[error.code] = answered.get(error.code, 0) + 1
        rss = _worker_rss(proc.pid)
        shares = _worker_shares(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"cold_start_s": cold, "worker_rss_bytes": rss, "worker_pss_bytes": [w["pss"] for w in shares],
            "worker_uss_bytes": [w["uss"] for w in shares], "pages": _percentiles(pages), "callbacks_answered": answered}


STEPS = {
    "full import": (step_import, "history"), "one more month": (step_import, "new"),
    "duckdb full": (step_duckdb, "history"), "duckdb one month": (step_duckdb, "new"),
    "pandas one month": (step_pandas, "new"), "queries": (step_queries, "history"),
    "limits": (step_limits, "history"), "queries (Derbyshire demo)": (step_demo_queries, "demo"),
    "callbacks": (step_callbacks, "national"), "callbacks (Derbyshire demo)": (step_callbacks, "demo"),
    "gunicorn": (step_gunicorn, "national"), "gunicorn (Derbyshire demo)": (step_gunicorn, "demo"),
}


def child(name: str, work: Path) -> None:
    function, part = STEPS[name]
    started = time.perf_counter()
    result = function(work, part)
    seconds = time.perf_counter() - started
    print(json.dumps({"result": result, "seconds": seconds, "peak_rss_bytes": bench_import._peak_rss()}))


def measure(name: str, work: Path, in_process: bool = False, env: dict | None = None) -> dict:
    if in_process:  # the smoke run: no child processes (peak RSS is then the whole run's, not the step's)
        function, part = STEPS[name]
        started = time.perf_counter()
        result = function(work, part)
        return {"result": result, "seconds": time.perf_counter() - started, "peak_rss_bytes": bench_import._peak_rss()}
    done = subprocess.run([sys.executable, __file__, "--child", name, "--work", str(work)],
                          capture_output=True, text=True, check=False, env=env)
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
    lines += render_scale(results)
    return "\n".join(lines) + "\n"


def render_scale(results: dict) -> list[str]:
    """The query side at national scale: all limits, callbacks, a worker's memory, cold start."""
    mb = 1 << 20
    lines = []
    found = results.get("limits")
    if found:
        r = found["result"]
        lines += ["", f"Monthly table: {r['monthly_rows']:,} rows over {r['forces']} forces "
                      f"({'held in each worker' if r['monthly_in_memory'] else 'a view over its Parquet, not held'}).", "",
                  "| all limits (areas and wards, every year, both methods) | time |", "|---|---|",
                  f"| materialised, all at once: {r['series']:,} series x {r['months']} months = {r['rows']:,} rows "
                  f"(compute + write) | {r['all_at_once_s']:.2f} s |",
                  *([f"| materialised after one more month: {r['blocks_computed']} of {r['blocks']} (force, year) "
                     f"blocks computed for {r['changed_pairs']} changed force-months, the rest hard-linked | "
                     f"{r['incremental_s']:.2f} s |"] if "incremental_s" in r else []),
                  f"| on demand, one vectorised pass per force, one year only ({r['forces']} forces) | "
                  f"{r['per_force_on_demand_s']:.2f} s |",
                  f"| read from the table, the same {r['forces']} forces' year | {r['per_force_stored_s']:.2f} s |",
                  f"| one chart at a time, on demand ({r['per_chart_on_demand_ms']:.1f} ms a chart, scaled to every "
                  f"series x month) | {r['one_chart_at_a_time_s']:,.0f} s |"]
    timings = [("national store", results["limits"]["result"]["first_force"])] if results.get("limits") else []
    if results.get("queries (Derbyshire demo)"):
        timings.append(("Derbyshire demo store", results["queries (Derbyshire demo)"]["result"]))
    if timings:
        lines += ["", f"The first force's chart and summary table in-process ({QUERY_REPEATS} calls each):", "",
                  "| store | force | way | p50 | p95 |", "|---|---|---|---|---|"]
        for store_name, t in timings:
            for way in ("chart", "chart on demand", "summary", "summary on demand"):
                lines.append(f"| {store_name} | {t['force']} | {way}{' (stored limits)' if 'demand' not in way else ''} | "
                             f"{t[way]['p50_ms']:.1f} ms | {t[way]['p95_ms']:.1f} ms |")
    for name in ("callbacks", "callbacks (Derbyshire demo)"):
        found = results.get(name)
        if not found:
            continue
        r = found["result"]
        worst = sorted(r["callbacks"].items(), key=lambda kv: kv[1]["p95_ms"], reverse=True)
        lines += ["", f"{name}: every registered callback in-process through the real Dash app "
                      f"(forces {', '.join(r['forces'])}; {r['all']['n']:,} requests, statuses {r['statuses']}); "
                      f"all callbacks p50 {r['all']['p50_ms']:.1f} ms, p95 {r['all']['p95_ms']:.1f} ms. "
                      f"Slowest five by p95:", "", "| callback output | p50 | p95 |", "|---|---|---|"]
        for output, t in worst[:5]:
            lines.append(f"| `{output[:90]}` | {t['p50_ms']:.1f} ms | {t['p95_ms']:.1f} ms |")
    for name in ("gunicorn", "gunicorn (Derbyshire demo)"):
        found = results.get(name)
        if not found:
            continue
        r = found["result"]
        rss = ", ".join(f"{b / mb:,.0f} MB" for b in sorted(r["worker_rss_bytes"]))
        pss = ", ".join(f"{b / mb:,.0f}" for b in sorted(r.get("worker_pss_bytes", [])))
        uss = ", ".join(f"{b / mb:,.0f}" for b in sorted(r.get("worker_uss_bytes", [])))
        lines += ["", f"{name} ({GUNICORN_WORKERS} workers): cold start to the first 200 on / {r['cold_start_s']:.2f} s; "
                      f"worker RSS after serving {len(PAGES)} pages x {PAGE_ROUNDS} and every callback once for two "
                      f"forces over HTTP ({r.get('callbacks_answered')}): {rss} (PSS {pss} MB, USS {uss} MB); page p50 "
                      f"{r['pages']['p50_ms']:.0f} ms, p95 {r['pages']['p95_ms']:.0f} ms."]
    return lines


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
        for name in ("full import", "one more month", "duckdb full", "duckdb one month", "pandas one month", "queries",
                     "limits"):
            results[name] = measure(name, work, in_process=args.smoke)
            print(f"{name}: {json.dumps(results[name])}", file=sys.stderr)
        # The app's own steps always run in a child (a Dash app and its store are process-wide state);
        # the smoke run drives each callback once and skips the Derbyshire comparisons and gunicorn.
        env = dict(os.environ, **{REPEATS_VARIABLE: str(SMOKE_CALLBACK_REPEATS if args.smoke else CALLBACK_REPEATS)})
        app_steps = ["callbacks"] if args.smoke else ["queries (Derbyshire demo)", "callbacks",
                                                      "callbacks (Derbyshire demo)", "gunicorn", "gunicorn (Derbyshire demo)"]
        for name in app_steps:
            results[name] = measure(name, work, env=env)
            print(f"{name}: {json.dumps(results[name])[:2000]}", file=sys.stderr)
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
