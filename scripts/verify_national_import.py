"""Import police.uk's national month into a national store and check it against a plain count.

    python scripts/verify_national_import.py [ARCHIVE] [--work DIR] [--keep]

ARCHIVE defaults to ../shared/data/police-uk/england-wales-street-2021-03.zip (41 files: 39
territorial forces, British Transport Police and the Police Service of Northern Ireland;
386,698 rows). The script

1. makes a national store in a scratch directory: `geography/forces.csv` lists all 43
   territorial forces, the LSOA lookup is the shipped national one;
2. imports the archive with `--allow-other-forces` (BTP and PSNI are not territorial
   forces: their rows are kept under their own key, never in a district's totals),
   in a child process, timing it and measuring its peak memory;
3. counts the same raw CSVs the plain way, in another child process: pandas reads every
   row, "Falls within" names the force, the national tables place the LSOA (no code of
   the importer is used);
4. compares, for every force, its rows and each part of the reconciliation (loaded,
   outside its area, another force's, unknown LSOA, no location), and for every district
   the rows of its force placed in it, as the dashboard's monthly table has them.

Prints the reconciliation and the comparison; exits 0 when every figure agrees and no row
is lost, 1 otherwise. The test suite runs the same functions on a small cut of the archive
(tests/fixtures/police-uk/england-wales-street-2021-03-sample.zip).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_ARCHIVE = REPO.parent / "shared" / "data" / "police-uk" / "england-wales-street-2021-03.zip"
NATIONAL = REPO / "data" / "geography" / "national"
# police.uk publishers with no district: not in the district table.
NON_TERRITORIAL = {"British Transport Police": "btp", "Police Service of Northern Ireland": "northern-ireland"}
PARTS = ["loaded", "outside_area", "another_owner", "unknown_area", "unallocated", "rejected"]
ALL_CRIMES = "All crimes"


# --------------------------------------------------------------------------- the national store


def make_national_store(data_dir: Path) -> Path:
    """A data directory for all 43 territorial forces of England and Wales, made as `app.py init` makes one."""
    from queries import init_store, national

    territorial = sorted((f for f in national.forces().values() if f.territorial), key=lambda f: f.name)
    init_store.init_store(Path(data_dir), [f.slug for f in territorial])
    return Path(data_dir)


# --------------------------------------------------------------------------- the plain way


def plain_counts(archive: Path, store_forces: set[str]) -> dict[str, pd.DataFrame]:
    """Per force and per district, from the raw CSVs with pandas and the national tables only."""
    lsoas = pd.read_parquet(NATIONAL / "lsoa-ward-lad.parquet")[["lsoa_code", "lad_code"]].drop_duplicates("lsoa_code")
    districts = pd.read_parquet(NATIONAL / "lad-utla-force.parquet")
    slug_of = dict(zip(districts["force"], districts["force_slug"])) | NON_TERRITORIAL
    frames = []
    with zipfile.ZipFile(archive) as zf:
        for name in sorted(n for n in zf.namelist() if n.endswith("-street.csv")):
            with zf.open(name) as handle:
                frame = pd.read_csv(handle, dtype=str, usecols=["Falls within", "LSOA code"], keep_default_na=False)
            frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    rows["force"] = rows["Falls within"].map(slug_of)
    rows = rows.merge(lsoas, left_on="LSOA code", right_on="lsoa_code", how="left")
    rows = rows.merge(districts[["lad_code", "force_slug"]], on="lad_code", how="left")
    has_code = rows["LSOA code"].str.strip() != ""
    own = rows["force"].isin(store_forces)
    part = pd.Series("outside_area", index=rows.index)
    part[has_code & rows["lad_code"].notna() & (rows["force_slug"] == rows["force"])] = "loaded"
    part[has_code & rows["lad_code"].isna()] = "unknown_area"
    part[~has_code] = "unallocated"
    part[~own] = "another_owner"
    rows["part"] = part
    by_force = rows.groupby(["force", "part"]).size().unstack(fill_value=0).reindex(columns=PARTS, fill_value=0)
    by_force.insert(0, "rows", by_force.sum(axis=1))
    by_district = rows[rows["part"] == "loaded"].groupby(["force", "lad_code"]).size().rename("rows").reset_index()
    return {"by_force": by_force.sort_index(), "by_district": by_district.sort_values(["force", "lad_code"], ignore_index=True),
            "rows": len(rows)}


# --------------------------------------------------------------------------- the store's figures


def store_counts(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Per force (the reconciliation) and per district (the dashboard's monthly table) from the store."""
    from queries.store import Store, parquet_source

    store = Store(data_dir)
    reconciliation = store.query("SELECT * FROM crime_reconciliation")
    folder = store.datasets["crime"]
    con = duckdb.connect()
    records = con.execute(f"SELECT force, count(*) AS rows FROM {parquet_source(folder / 'records.parquet')} GROUP BY force").df()
    con.close()
    # Each record once: every measure but the "All crimes" total.
    monthly = store.query("SELECT force, ward_code, sum(count)::BIGINT AS rows FROM monthly "
                          "WHERE dataset = 'crime' AND measure <> ? AND location = 'in_area' GROUP BY ALL", [ALL_CRIMES])
    wards = pd.read_parquet(NATIONAL / "lsoa-ward-lad.parquet")[["ward_code", "lad_code"]].drop_duplicates("ward_code")
    by_district = monthly.merge(wards, on="ward_code", how="left").groupby(["force", "lad_code"])["rows"].sum().reset_index()
    return {"reconciliation": reconciliation, "records": records.set_index("force")["rows"].sort_index(),
            "by_district": by_district.sort_values(["force", "lad_code"], ignore_index=True)}


def compare(plain: dict, stored: dict) -> list[str]:
    """Every disagreement between the plain count and the store, as lines a person reads (empty: all agree)."""
    problems = []
    recon = stored["reconciliation"]
    if int(recon["rows_read"].sum()) != plain["rows"]:
        problems.append(f"rows read {int(recon['rows_read'].sum()):,} != raw rows {plain['rows']:,}")
    if (recon[PARTS].sum(axis=1) != recon["rows_read"]).any():
        problems.append("a reconciliation row does not add up")
    stored_parts = recon.groupby("force")[PARTS].sum()
    # Another force's rows are reported under their file's force; the plain way puts them there too.
    for force, row in plain["by_force"].iterrows():
        held = stored_parts.loc[force] if force in stored_parts.index else None
        for part in PARTS:
            if (0 if held is None else int(held[part])) != int(row[part]):
                problems.append(f"{force} {part}: store {0 if held is None else int(held[part]):,} != plain {int(row[part]):,}")
        if int(stored["records"].get(force, 0)) != int(row["rows"]) - int(row["rejected"]):
            problems.append(f"{force}: {int(stored['records'].get(force, 0)):,} records stored, plain {int(row['rows']):,}")
    merged = plain["by_district"].merge(stored["by_district"], on=["force", "lad_code"], how="outer",
                                        suffixes=("_plain", "_store")).fillna(0)
    for row in merged[merged["rows_plain"] != merged["rows_store"]].itertuples():
        problems.append(f"{row.force} {row.lad_code}: store {int(row.rows_store):,} != plain {int(row.rows_plain):,}")
    return problems


# --------------------------------------------------------------------------- measured child processes


def _child(target, args, queue) -> None:
    started = time.perf_counter()
    result = target(*args)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    queue.put((result, seconds, peak))


def measured(target, *args):
    """Run target(*args) in a fresh process: (result, seconds, peak RSS bytes), so one way's memory is not the other's."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def import_archive(archive: Path, data_dir: Path) -> int:
    import io

    from queries.importers import police_uk

    return police_uk.run_import([archive], data_dir, progress=False, out=io.StringIO(), err=io.StringIO(),
                                allow_other_forces=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", nargs="?", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--work", type=Path, help="scratch directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the national store made in the scratch directory")
    args = parser.parse_args()
    if not args.archive.exists():
        print(f"{args.archive}: not found (the national month lives in ../shared/data/police-uk/)", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="national-import-"))
    data_dir = make_national_store(work / "store")
    forces = set(pd.read_csv(data_dir / "geography" / "forces.csv")["force"])
    code, import_seconds, import_peak = measured(import_archive, args.archive, data_dir)
    if code != 0:
        print(f"import failed with exit code {code}", file=sys.stderr)
        return 1
    plain, plain_seconds, plain_peak = measured(plain_counts, args.archive, forces)
    stored = store_counts(data_dir)
    problems = compare(plain, stored)

    table = stored["reconciliation"].groupby("force")[["rows_read", *PARTS]].sum()
    pd.set_option("display.width", 200)
    print(f"{args.archive.name}: {plain['rows']:,} rows in {table.shape[0]} forces' files")
    print(table.to_string())
    print(f"TOTAL {table.sum().to_dict()}")
    print(f"districts compared: {len(plain['by_district'])}; forces compared: {len(plain['by_force'])}")
    print(json.dumps({
        "rows": plain["rows"],
        "import": {"seconds": round(import_seconds, 2), "peak_rss_mib": round(import_peak / 2**20)},
        "plain_pandas_count": {"seconds": round(plain_seconds, 2), "peak_rss_mib": round(plain_peak / 2**20)},
    }, indent=2))
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        print(f"{len(problems)} disagreement(s):\n  " + "\n  ".join(problems[:50]), file=sys.stderr)
        return 1
    print("every force's and every district's count equals the plain count; no row lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())
