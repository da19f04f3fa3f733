"""Import memory and time for the MARAC, hate crime and fire importers, beside plain pandas.

    python scripts/benchmark_import_other.py [--dataset marac|hate|fire ...] [--mb 50 200]
        [--before /work/main] [--out docs/benchmarks-import.md] [--work DIR]

For each dataset and size, a file in the importer's own format is generated deterministically
(fixed seed, written in chunks, so generating it needs little memory):

* marac: referral_id,victim_id,referral_date,area_code,referring_agency - Derbyshire ward and
  LSOA codes from the repo's lookup, dates 2015-2025, about two referrals per victim;
* hate: record_id,date,kind,strand,area_code,outcome - the monitored strands, crimes with a
  Home Office outcome code or blank, incidents without;
* fire: the real Avon IRS export in tests/fixtures/fire repeated with new Incident Numbers
  and years 2010-2024, imported with its area mapping.

Then, each in its own child process so peak RSS (VmHWM) is that run's alone:

* `import` - the importer's `import_files` / `run_import` (read, check every row, publish the
  store version) into a scratch copy of data/, from this checkout;
* `before` - the same from another checkout (--before, e.g. /work/main), when given;
* `pandas` - plain `pandas.read_csv(path)` of the same file: a floor that checks nothing.

The release audit that `app.py import marac|hate` runs after publishing is not included (it
reads the store, not the file). Results are appended to --out as a dated section.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
SEED = 20261201
ROWS_PER_CHUNK = 50_000
FIRST_DAY = np.datetime64("2015-01-01")
DAYS = 365 * 11
AVON = REPO / "tests" / "fixtures" / "fire" / "avon-fire-irs-incidents-2014-07.csv"
AVON_AREAS = REPO / "tests" / "fixtures" / "fire" / "avon-areas.csv"
MARAC_AGENCIES = ["Police", "IDVA", "Health", "Children's Social Care", "Adult Social Care", "Housing", "Probation"]
HATE_STRANDS = ["Race", "Religion", "Sexual orientation", "Disability", "Transgender", "Other"]
MB = 1024 * 1024

CHILD = r"""
import json, sys, time
from pathlib import Path
repo, dataset, path, data_dir = sys.argv[1:5]
sys.path.insert(0, repo)
def hwm():
    status = Path("/proc/self/status").read_text()
    return next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:")) * 1024
reading = {}
def watch(module):
    # The peak up to the hand-over to the shared publish step (queries/importers/common.py), which
    # is measured with the rest but is not the importer's own code.
    # (publish_import before the importers spooled their records, publish_spooled_import since.)
    for name in ("publish_import", "publish_spooled_import"):
        publish = getattr(module, name, None)
        if publish is None:
            continue
        def timed(*args, _publish=publish, **kwargs):
            reading.setdefault("read_peak", hwm())
            reading.setdefault("read_wall", time.perf_counter() - start)
            return _publish(*args, **kwargs)
        setattr(module, name, timed)
start = time.perf_counter()
if dataset == "pandas":
    import pandas as pd
    rows = len(pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8"))
elif dataset == "fire":
    from queries.importers import fire
    watch(fire)
    outcome = fire.run_import([Path(path)], Path(data_dir), Path(sys.argv[5]))
    rows = int(outcome.reconciliation["rows_read"].sum())
else:
    import importlib
    module = importlib.import_module(f"queries.importers.{dataset}")
    watch(module)
    if dataset == "hate":  # hate publishes through MARAC's shared spool_and_publish
        watch(importlib.import_module("queries.importers.marac"))
    result, _ = module.import_files([Path(path)], Path(data_dir), replace_smaller=True)
    rows = int(result.reconciliation["rows_read"].sum())
wall = time.perf_counter() - start
status = Path("/proc/self/status").read_text()
peak = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:")) * 1024
print(json.dumps({"wall": wall, "peak": peak, "rows": rows, **reading}))
"""


def codes(repo: Path) -> np.ndarray:
    """Derbyshire ward and LSOA codes the store's lookup knows (areas the importers place)."""
    lookup = pd.read_csv(repo / "data" / "geography" / "lsoa_ward_lookup.csv", dtype=str) \
        if (repo / "data" / "geography" / "lsoa_ward_lookup.csv").exists() else None
    if lookup is None:
        sys.path.insert(0, str(repo))
        from queries import geography
        lookup = geography.lsoa_lookup(repo / "data")
    return np.array(sorted(set(lookup["lsoa_code"]) | set(lookup["ward_code"])))


def generate(dataset: str, path: Path, megabytes: int) -> int:
    """Write a file of about `megabytes` MB; returns its data rows."""
    rng = np.random.default_rng(SEED)
    target = megabytes * MB
    written, rows = 0, 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        if dataset == "fire":
            with open(AVON, encoding="cp1252", newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader)
                template = [r for r in reader if any(c.strip() for c in r)]
            number, year = header.index("Incident Number"), header.index("Year")
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(header)
            out.write(buffer.getvalue())
            written = len(buffer.getvalue().encode())
            while written < target:
                buffer = io.StringIO()
                writer = csv.writer(buffer, lineterminator="\n")
                for _ in range(2):
                    for row in template:
                        row = list(row)
                        row[number] = f"G{rows:09d}"
                        row[year] = str(2010 + rows % 15)
                        writer.writerow(row)
                        rows += 1
                text = buffer.getvalue()
                out.write(text)
                written += len(text.encode())
            return rows
        areas = codes(REPO)
        header = ("referral_id,victim_id,referral_date,area_code,referring_agency\n" if dataset == "marac"
                  else "record_id,date,kind,strand,area_code,outcome\n")
        out.write(header)
        written = len(header)
        while written < target:
            n = ROWS_PER_CHUNK
            ids = np.arange(rows, rows + n)
            days = (FIRST_DAY + rng.integers(0, DAYS, n)).astype(str)
            area = areas[rng.integers(0, len(areas), n)]
            if dataset == "marac":
                frame = pd.DataFrame({
                    "referral_id": np.char.add("R", np.char.zfill(ids.astype(str), 9)),
                    "victim_id": np.char.add("V", np.char.zfill(rng.integers(0, max(n, 10_000_000), n).astype(str), 8)),
                    "referral_date": days, "area_code": area,
                    "referring_agency": np.array(MARAC_AGENCIES)[rng.integers(0, len(MARAC_AGENCIES), n)],
                })
            else:
                crime = rng.random(n) < 0.6
                outcome = np.where(rng.random(n) < 0.2, "", rng.integers(1, 23, n).astype(str))
                frame = pd.DataFrame({
                    "record_id": np.char.add("H", np.char.zfill(ids.astype(str), 9)), "date": days,
                    "kind": np.where(crime, "Crime", "Incident"),
                    "strand": np.array(HATE_STRANDS)[rng.integers(0, len(HATE_STRANDS), n)],
                    "area_code": area, "outcome": np.where(crime, outcome, ""),
                })
            text = frame.to_csv(index=False, header=False, lineterminator="\n")
            out.write(text)
            written += len(text.encode())
            rows += n
    return rows


def run(repo: Path, dataset: str, path: Path, work: Path) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="data-", dir=work)) / "data"
    shutil.copytree(repo / "data", data_dir, ignore=shutil.ignore_patterns(".lock", ".staging-*"))
    args = [sys.executable, "-c", CHILD, str(repo), dataset, str(path), str(data_dir), str(AVON_AREAS)]
    env = {**os.environ, "CSP_STATE_DIR": str(work / "state")}
    done = subprocess.run(args, capture_output=True, text=True, cwd=repo, env=env)
    shutil.rmtree(data_dir.parent, ignore_errors=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:160]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(next(l.split()[1] for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))) / MB
    import duckdb
    import pyarrow
    return [f"- CPUs (`nproc`): {os.cpu_count()}, {cpu}; memory {mem:.1f} GiB",
            f"- Python {platform.python_version()}, pandas {pd.__version__}, pyarrow {pyarrow.__version__}, "
            f"duckdb {duckdb.__version__}",
            "- Load average when the run started: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
            + " (a machine shared with other developers' work: treat timings as +-20%)"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", nargs="+", choices=["marac", "hate", "fire"], default=["marac", "hate", "fire"])
    parser.add_argument("--mb", nargs="+", type=int, default=[50, 200])
    parser.add_argument("--before", type=Path, help="another checkout to measure the same way (e.g. /work/main)")
    parser.add_argument("--ways", nargs="+", default=["before", "import", "pandas"])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path, help="folder for the generated files (default: a temporary one)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    lines = machine()
    print("\n".join(lines), flush=True)
    results = []
    for dataset in args.dataset:
        for megabytes in args.mb:
            path = work / f"{dataset}-{megabytes}mb.csv"
            if not path.exists():
                generate(dataset, path, megabytes)
            size = path.stat().st_size
            for way in args.ways:
                if way == "before" and args.before is None:
                    continue
                repo = args.before if way == "before" else REPO
                outcome = run(repo, "pandas" if way == "pandas" else dataset, path, work)
                row = {"dataset": dataset, "mb": size / MB, "way": way, **outcome}
                results.append(row)
                print(json.dumps(row), flush=True)
    table = ["| file | way | rows | wall time | peak RSS | peak / file size | read and checked (before publishing) |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            table.append(f"| {r['dataset']} {r['mb']:.0f} MB | {r['way']} | | {r['error']} | | | |")
            continue
        table.append(f"| {r['dataset']} {r['mb']:.0f} MB | {r['way']} | {r['rows']:,} | {r['wall']:.1f} s | "
                     f"{r['peak'] / 2**30:.2f} GiB | {r['peak'] / (r['mb'] * MB):.1f}x | "
                     + (f"{r['read_wall']:.1f} s, {r['read_peak'] / 2**30:.2f} GiB |" if "read_peak" in r else "|"))
    print("\n".join(table))
    if args.out:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        section = [f"\n## MARAC, hate crime and fire importers: bounded memory ({stamp})\n",
                   f"`python scripts/benchmark_import_other.py --dataset {' '.join(args.dataset)} --mb "
                   f"{' '.join(map(str, args.mb))}{' --before ' + str(args.before) if args.before else ''}`\n",
                   *lines, "", *table, ""]
        with open(args.out, "a", encoding="utf-8") as handle:
            handle.write("\n".join(section) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
