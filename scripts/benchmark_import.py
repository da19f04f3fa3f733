"""Import throughput: the police.uk importer next to a plain pandas read_csv + groupby.

    python scripts/benchmark_import.py [PATH...] [--rows 10000000] [--out docs/benchmarks-import.md]

Two data sets, each measured three ways in the same run:

(a) the real police.uk archives given as PATH (default: /work/shared/data/police-uk/derbyshire-street-*.zip
    when present);
(b) a generated police.uk-format CSV of --rows rows (default 10 million, 120 months in one
    file), written into a temporary folder with realistic values: LSOA codes from the repo's
    lookup (2011 codes before 2023, 2021 codes after), about 1% outside the force area and
    a few with no location, police.uk's 14 categories in their real 2025 shares, 64-hex
    Crime IDs, no Crime ID and no outcome for anti-social behaviour.

Ways:
* `import`  - `python app.py import police-uk` end to end, into a scratch copy of data/
  (read, check, classify, write the store, build the monthly table, swap);
* `parse`   - the importer's reading and classifying only (no store written);
* `pandas`  - plain `pandas.read_csv` of the three columns needed, LSOA -> district by a dict,
  then `groupby(month, district, type).size()`: what an analyst's script would do, and a
  floor, since it writes nothing and checks nothing.

Each way runs in its own child process so peak RSS (VmHWM) is that run's alone.
Results go to --out (Markdown) and stdout. Timings are not part of the test suite.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from queries import geography  # noqa: E402
from queries.importers import police_uk  # noqa: E402

DEFAULT_REAL = "/work/shared/data/police-uk/derbyshire-street-*.zip"  # the national month needs a national store: scripts/verify_national_import.py
DEFAULT_ROWS = 10_000_000
DEFAULT_OUT = REPO / "docs" / "benchmarks-import.md"
SEED = 20250301
FIRST_MONTH = "2015-01-01"
MONTHS = 120
LSOA_2021_FROM = "2023-01-01"
OUTSIDE_SHARE = 0.01
NO_LOCATION_SHARE = 0.0005
ROWS_PER_CHUNK = 1_000_000
FORCE = "Derbyshire Constabulary"
# police.uk's categories in Derbyshire's real 2025 shares (102,621 rows).
TYPE_SHARES = {
    "Violence and sexual offences": 0.4083, "Anti-social behaviour": 0.1558, "Public order": 0.0907,
    "Criminal damage and arson": 0.0712, "Shoplifting": 0.0701, "Other theft": 0.0579, "Vehicle crime": 0.037,
    "Drugs": 0.032, "Burglary": 0.0297, "Other crime": 0.0202, "Possession of weapons": 0.01, "Robbery": 0.0071,
    "Theft from the person": 0.0059, "Bicycle theft": 0.004,
}
OUTCOME_SHARES = {
    "Unable to prosecute suspect": 0.43, "Investigation complete; no suspect identified": 0.31,
    "Status update unavailable": 0.08, "Court result unavailable": 0.06, "Local resolution": 0.05,
    "Awaiting court outcome": 0.04, "Action to be taken by another organisation": 0.013,
    "Further investigation is not in the public interest": 0.006, "Offender given a caution": 0.005,
    "Formal action is not in the public interest": 0.005, "Further action is not in the public interest": 0.001,
}
STREETS = ["High Street", "Station Road", "Church Street", "Market Place", "Supermarket", "Parking Area",
           "Sports/Recreation Area", "Shopping Area", "Petrol Station", "Nightclub", "Park/Open Space",
           "Mansfield Road", "London Road", "Derby Road", "Chesterfield Road", "Nottingham Road"]


# --------------------------------------------------------------------------- synthetic data


_TYPES = np.array(list(TYPE_SHARES))
_TYPE_P = np.array(list(TYPE_SHARES.values()))
_OUTCOMES = np.array(list(OUTCOME_SHARES))
_OUTCOME_P = np.array(list(OUTCOME_SHARES.values()))
_HEX_PAIRS = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")


def random_crimes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n rows of (crime type, Crime ID, last outcome) in police.uk's shares; ASB rows have no id and no
    outcome, as in police.uk's files. Shared by this benchmark and scripts/benchmark_scale.py."""
    kind = _TYPES[rng.choice(len(_TYPES), n, p=_TYPE_P / _TYPE_P.sum())]
    asb = kind == "Anti-social behaviour"
    crime_id = _HEX_PAIRS[rng.integers(0, 256, (n, 32), dtype=np.uint8)].view("S64").ravel().astype(str).astype(object)
    crime_id[asb] = ""
    outcome = _OUTCOMES[rng.choice(len(_OUTCOMES), n, p=_OUTCOME_P / _OUTCOME_P.sum())].astype(object)
    outcome[asb] = ""
    return kind, crime_id, outcome


def generate(path: Path, rows: int, data_dir: Path = REPO / "data", seed: int = SEED) -> int:
    """Write a police.uk-format street CSV of `rows` rows, month by month; returns its size in bytes."""
    rng = np.random.default_rng(seed)
    lookup = geography.lsoa_table(data_dir)
    inside = set(lookup["lsoa_code"])
    outside_codes = np.array([c for c in (f"E0102{n:04d}" for n in range(7000, 9000)) if c not in inside][:400])
    vintages = {v: lookup[lookup["lsoa_vintage"] == v].reset_index(drop=True) for v in ("2011", "2021")}
    streets = np.array([f"On or near {s}" for s in STREETS])
    months = pd.date_range(FIRST_MONTH, periods=MONTHS, freq="MS")
    per_month = np.full(MONTHS, rows // MONTHS)
    per_month[: rows % MONTHS] += 1
    header = (",".join(police_uk.EXPECTED_COLUMNS) + "\n").encode()  # police.uk's header is unquoted
    with open(path, "wb") as handle:
        handle.write(header)
        writer = None
        month_index = 0
        while month_index < MONTHS:
            # a chunk of whole months, about ROWS_PER_CHUNK rows
            take = max(1, ROWS_PER_CHUNK // max(int(per_month[month_index]), 1))
            chunk_months = range(month_index, min(MONTHS, month_index + take))
            month_index = chunk_months[-1] + 1
            n = int(per_month[list(chunk_months)].sum())
            month_of_row = np.repeat(np.array(list(chunk_months)), per_month[list(chunk_months)])
            month_text = months[month_of_row].strftime("%Y-%m").to_numpy()
            vintage = "2021" if months[chunk_months[0]] >= pd.Timestamp(LSOA_2021_FROM) else "2011"
            lsoas = vintages[vintage]
            pick = rng.integers(0, len(lsoas), n)
            code = lsoas["lsoa_code"].to_numpy()[pick].astype(object)
            name = lsoas["lsoa_name"].to_numpy()[pick].astype(object)
            where = rng.random(n)
            outside = where < OUTSIDE_SHARE
            code[outside] = rng.choice(outside_codes, outside.sum())
            name[outside] = "Ashfield 003B"
            nowhere = where > 1 - NO_LOCATION_SHARE
            code[nowhere] = ""
            name[nowhere] = ""
            kind, crime_id, outcome = random_crimes(rng, n)
            street = streets[rng.integers(0, len(streets), n)].astype(object)
            street[nowhere] = "No location"
            longitude = pc.cast(pa.array(np.round(rng.uniform(-2.03, -1.21, n), 6)), pa.string()).to_numpy(zero_copy_only=False)
            latitude = pc.cast(pa.array(np.round(rng.uniform(52.69, 53.54, n), 6)), pa.string()).to_numpy(zero_copy_only=False)
            longitude = np.where(nowhere, "", longitude)
            latitude = np.where(nowhere, "", latitude)
            table = pa.table({
                "Crime ID": crime_id, "Month": month_text, "Reported by": np.full(n, FORCE), "Falls within": np.full(n, FORCE),
                "Longitude": longitude, "Latitude": latitude, "Location": street, "LSOA code": code, "LSOA name": name,
                "Crime type": kind, "Last outcome category": outcome, "Context": np.full(n, ""),
            })
            if writer is None:
                writer = pa_csv.CSVWriter(handle, table.schema,
                                          write_options=pa_csv.WriteOptions(include_header=False, quoting_style="none"))
            writer.write_table(table)
        if writer is not None:
            writer.close()
    return path.stat().st_size


# --------------------------------------------------------------------------- the three ways (child processes)


def run_import(paths: list[Path], data_dir: Path) -> int:
    with open(os.devnull, "w") as sink:
        code = police_uk.run_import(paths, data_dir, progress=False, out=sink)
    if code != 0:
        raise SystemExit(f"import failed with {code}")
    return int(pd.read_csv(data_dir / "crime" / police_uk.LAST_RECONCILIATION)["rows_read"].sum())


def run_parse(paths: list[Path], data_dir: Path) -> int:
    lookup = geography.lsoa_lookup(data_dir)
    wards = dict(zip(lookup["lsoa_code"], lookup["ward_code"]))
    files, _, problems = police_uk.discover(paths)
    assert not problems, problems
    rows = 0
    for source in files:  # block by block, as the importer reads, without writing the spool
        for parsed in police_uk.read_street_batches(source, police_uk.Progress(1, "", enabled=False)):
            result = police_uk.classify_file(parsed, wards, None, raw_text=False)
            rows += int(result.reconciliation["rows_read"].sum())
    return rows


def _csv_handles(paths: list[Path]):
    for path in paths:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    if name.endswith("-street.csv"):
                        with archive.open(name) as handle:
                            yield handle
        elif path.is_dir():
            for csv_path in sorted(path.rglob("*-street.csv")):
                yield csv_path
        else:
            yield path


def run_pandas(paths: list[Path], data_dir: Path) -> int:
    lookup = geography.lsoa_table(data_dir).drop_duplicates("lsoa_code")
    district = dict(zip(lookup["lsoa_code"], lookup["lad_name"]))
    counts = []
    rows = 0
    for handle in _csv_handles(paths):
        frame = pd.read_csv(handle, usecols=["Month", "LSOA code", "Crime type"])
        frame["district"] = frame["LSOA code"].map(district).fillna("outside or none")
        counts.append(frame.groupby(["Month", "district", "Crime type"]).size())
        rows += len(frame)
    pd.concat(counts).groupby(level=[0, 1, 2]).sum()
    return rows


WAYS = {"import": run_import, "parse": run_parse, "pandas": run_pandas}


def child(way: str, paths: list[Path]) -> None:
    """Run one way and print {rows, seconds, peak_rss_bytes} as JSON (peak RSS of this process alone)."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-import-"))
    data_dir = scratch / "data"  # a copy of data/ (lookups + demo store), made before the clock starts
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns(".lock", ".staging-*"))
    try:
        started = time.perf_counter()
        rows = WAYS[way](paths, data_dir)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    peak = _peak_rss()
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_bytes": peak}))


def _peak_rss() -> int:
    """This process's peak resident set (VmHWM). Not ru_maxrss: on Linux that survives fork+exec,
    so a child would report the parent's peak (here, the generator's) instead of its own."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(way: str, paths: list[Path]) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", way, *map(str, paths)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{way} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["rows_per_second"] = result["rows"] / result["seconds"]
    return result


# --------------------------------------------------------------------------- report


def machine() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    import duckdb

    return {
        "nproc": os.cpu_count(), "cpu": cpu, "memory_gb": mem_kb / 1024 / 1024, "python": platform.python_version(),
        "pandas": pd.__version__, "pyarrow": pa.__version__, "duckdb": duckdb.__version__,
        "load": os.getloadavg(),
    }


def data_size(paths: list[Path]) -> tuple[int, int]:
    """(bytes on disk, uncompressed CSV bytes)."""
    files, _, _ = police_uk.discover(paths)
    return sum(p.stat().st_size for p in paths), sum(f.size for f in files)


def render(info: dict, sets: list[dict]) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Import benchmark: police.uk",
        "",
        f"Generated by `python scripts/benchmark_import.py` on {now}. Rerun it to refresh this file;",
        "timings are not part of the test suite.",
        "",
        "## Machine",
        "",
        f"- CPUs (`nproc`): {info['nproc']}",
        f"- CPU model: {info['cpu']}",
        f"- Memory: {info['memory_gb']:.1f} GB",
        f"- Python {info['python']}, pandas {info['pandas']}, pyarrow {info['pyarrow']}, duckdb {info['duckdb']}",
        f"- Load average when the run started: {', '.join(f'{x:.2f}' for x in info['load'])} "
        "(a shared machine: other work was running, so treat timings as ±20%)",
        "",
        "## Data",
        "",
        "| data set | files | rows | on disk | CSV (uncompressed) |",
        "|---|---|---|---|---|",
    ]
    for s in sets:
        lines.append(f"| {s['name']} | {s['files']} | {s['rows']:,} | {s['disk'] / 1e6:,.1f} MB | {s['csv'] / 1e6:,.1f} MB |")
    lines += [
        "",
        "## Results",
        "",
        "| data set | way | wall time | rows/s | peak RSS |",
        "|---|---|---|---|---|",
    ]
    for s in sets:
        for way, r in s["results"].items():
            lines.append(f"| {s['name']} | {way} | {r['seconds']:.1f} s | {r['rows_per_second']:,.0f} | "
                         f"{r['peak_rss_bytes'] / 2**30:.2f} GiB |")
    lines += [
        "",
        "Ways: **import** is `python app.py import police-uk` end to end (read, check every row,",
        "LSOA -> ward, write records/monthly/coverage/reconciliation Parquet, atomic swap) into a",
        "scratch copy of `data/`; **parse** is the importer's reading and classifying alone (no",
        "store written); **pandas** is plain `pandas.read_csv(usecols=[Month, LSOA code, Crime type])`",
        "+ LSOA -> district by a dict + `groupby(month, district, type).size()`, which checks",
        "nothing and writes nothing, so it is a floor rather than a rival. Each way runs in its",
        "own process; peak RSS is that process's high-water mark (`VmHWM`).",
        "",
        "## Reading the figures",
        "",
        "- The importer reads with pyarrow's streaming CSV reader (single-threaded, so malformed",
        "  rows report their physical line; on two cores threads did not read faster) and maps",
        "  months, LSOA codes and categories once per distinct value, so its own work grows",
        "  linearly and needs no Python loop per row.",
        "- import minus parse is spooling and publishing: each block's records are written as",
        "  Parquet parts split by force and month (on a writer thread) while the file is read,",
        "  then moved into the new version, and DuckDB builds the imported months' monthly",
        "  table within its memory limit (`common.publish_spooled_import`), so peak memory",
        "  does not grow with the file.",
        "- On the real archives the fixed costs dominate: many small files, each spooled, then",
        "  a store write (monthly table, coverage, reconciliation) of about a second.",
        "- The generated file puts 10 million rows in one CSV over 120 months (about 83,000 a",
        "  month, roughly nine forces' worth); real downloads come as one file per month.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1], [Path(p) for p in argv[2:]])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help=f"real police.uk downloads (default {DEFAULT_REAL})")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows in the generated file")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--ways", default="import,parse,pandas")
    args = parser.parse_args(argv)
    ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    info = machine()
    real = args.paths or [Path(p) for p in sorted(glob.glob(DEFAULT_REAL))]
    sets = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-police-uk-"))
    try:
        inputs = []
        if real:
            inputs.append((f"real police.uk ({len(real)} archives)", real))
        else:
            print(f"no real archives given and none at {DEFAULT_REAL}: skipping (a)", file=sys.stderr)
        if args.rows > 0:
            synthetic = scratch / "synthetic-street.csv"
            started = time.perf_counter()
            generate(synthetic, args.rows)
            print(f"generated {args.rows:,} rows ({synthetic.stat().st_size / 1e9:.2f} GB) in "
                  f"{time.perf_counter() - started:.0f}s", file=sys.stderr)
            inputs.append((f"synthetic, {args.rows / 1e6:g}M rows", [synthetic]))
        for name, paths in inputs:
            disk, csv_bytes = data_size(paths)
            files, _, _ = police_uk.discover(paths)
            entry = {"name": name, "files": len(files), "disk": disk, "csv": csv_bytes, "results": {}}
            for way in ways:
                result = measure(way, paths)
                entry["results"][way] = result
                entry["rows"] = result["rows"]
                print(f"{name:32} {way:7} {result['seconds']:7.1f}s {result['rows_per_second']:>12,.0f} rows/s "
                      f"peak RSS {result['peak_rss_bytes'] / 2**30:.2f} GiB", file=sys.stderr)
            sets.append(entry)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    text = render(info, sets)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
