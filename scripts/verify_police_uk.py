"""Check a police.uk import against a plain pandas count of the same raw files.

    python scripts/verify_police_uk.py PATH... [--data-dir DIR] [--keep]

Imports PATH... (zips, folders or CSVs, as `python app.py import police-uk` takes them)
into a scratch copy of the data directory (the repo's data/ unless --data-dir), then checks,
independently of the importer's own code path:

1. per month, per district (CSP, outside the force area, no known area) and per category
   (police.uk's types plus "All crimes"), the store's counts equal pandas' count of the raw CSVs;
2. for every file and month, rows read = loaded + outside area + unallocated + rejected, and
   rows read equals the rows pandas reads from that file;
3. each month, at least 99% of the rows within the force area (not outside it) have a ward;
4. which LSOA vintage (2011 / 2021 codes) each month uses.

Prints the figures and exits 0 when every check passes, 1 otherwise. Nothing is written
outside the scratch directory, which is deleted unless --keep.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from queries import geography  # noqa: E402
from queries.export import grouped_counts  # noqa: E402
from queries.importers import police_uk  # noqa: E402
from queries.measures import ALL_CRIME, ASB  # noqa: E402
from queries.store import Store  # noqa: E402

MIN_WARD_SHARE = 0.99


def street_csvs(paths: list[Path]) -> list[tuple[str, object]]:
    """(file label as the importer names it, opener) for every street CSV under the paths."""
    found = []
    for path in paths:
        if path.is_dir():
            found += [(str(p), p) for p in sorted(path.rglob("*-street.csv"))]
        elif path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith("-street.csv")]
            found += [(f"{path.name}:{n}", (path, n)) for n in sorted(names)]
        else:
            found.append((str(path), path))
    return found


def read_raw(paths: list[Path]) -> pd.DataFrame:
    """Every row of every street CSV, as text, with the file it came from: plain pandas."""
    frames = []
    for label, source in street_csvs(paths):
        if isinstance(source, tuple):
            with zipfile.ZipFile(source[0]) as archive, archive.open(source[1]) as handle:
                frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_csv(source, dtype=str, keep_default_na=False)
        frames.append(frame.assign(file=label))
    return pd.concat(frames, ignore_index=True)


def pandas_counts(raw: pd.DataFrame, data_dir: Path) -> pd.DataFrame:
    """Counts by month, area (CSP / outside / no known area) and measure, straight from the raw rows."""
    lookup = geography.lsoa_table(data_dir).drop_duplicates("lsoa_code")
    district = raw["LSOA code"].map(dict(zip(lookup["lsoa_code"], lookup["lad_name"])))
    area = district.map(dict(geography.areas(data_dir).district_names))
    area = area.where(district.notna(), geography.OUTSIDE)
    area = area.where(raw["LSOA code"] != "", geography.UNALLOCATED)
    frame = pd.DataFrame({"month": raw["Month"], "area": area, "measure": raw["Crime type"]})
    by_type = frame.groupby(["month", "area", "measure"]).size()
    crimes = frame[frame["measure"] != ASB]
    all_crimes = crimes.groupby(["month", "area"]).size().rename(lambda x: x)
    all_crimes.index = pd.MultiIndex.from_tuples([(m, a, ALL_CRIME) for m, a in all_crimes.index],
                                                 names=["month", "area", "measure"])
    return pd.concat([by_type, all_crimes]).rename("count").reset_index()


def compare(store_counts: pd.DataFrame, raw_counts: pd.DataFrame) -> pd.DataFrame:
    """Rows where the store and pandas disagree (empty when they match exactly)."""
    keys = ["month", "area", "measure"]
    merged = store_counts.merge(raw_counts, on=keys, how="outer", suffixes=("_store", "_pandas")).fillna(0)
    return merged[merged["count_store"] != merged["count_pandas"]]


def lsoa_vintages(raw: pd.DataFrame, data_dir: Path) -> pd.DataFrame:
    """Per month: rows whose LSOA code exists only in the 2011 set, only in 2021, in both, or neither."""
    lookup = geography.lsoa_table(data_dir)
    v2011 = set(lookup.loc[lookup["lsoa_vintage"] == "2011", "lsoa_code"])
    v2021 = set(lookup.loc[lookup["lsoa_vintage"] == "2021", "lsoa_code"])
    codes = raw["LSOA code"]
    kind = pd.Series("outside/none", index=raw.index)
    kind[codes.isin(v2011) & ~codes.isin(v2021)] = "2011 only"
    kind[codes.isin(v2021) & ~codes.isin(v2011)] = "2021 only"
    kind[codes.isin(v2011) & codes.isin(v2021)] = "both"
    return pd.crosstab(raw["Month"].rename("month"), kind.rename("LSOA code vintage"))


def verify(paths: list[Path], data_dir: Path) -> bool:
    started = time.monotonic()
    raw = read_raw(paths)
    print(f"pandas read {len(raw):,} rows from {raw['file'].nunique()} files, "
          f"{raw['Month'].nunique()} months, in {time.monotonic() - started:.1f}s")

    started = time.monotonic()
    code = police_uk.run_import(paths, data_dir, progress=False, out=open("/dev/null", "w"))
    print(f"import exit code {code} in {time.monotonic() - started:.1f}s")
    store = Store(data_dir)
    ok = code == 0

    # 1. counts
    store_counts = grouped_counts(store, "crime", ["month", "area", "measure"])
    raw_counts = pandas_counts(raw, data_dir)
    diff = compare(store_counts, raw_counts)
    print(f"\n1. counts by month x area x measure: {len(raw_counts):,} cells from pandas, "
          f"{len(store_counts):,} from the store, {len(diff)} differ")
    if len(diff):
        print(diff.head(20).to_string(index=False))
        ok = False
    total_store = int(store_counts.loc[store_counts["measure"] != ALL_CRIME, "count"].sum())
    print(f"   rows in the store (all measures but the All crimes rollup): {total_store:,}; raw rows: {len(raw):,}")
    ok &= total_store == len(raw)

    # 2. reconciliation
    reconciliation = pd.read_csv(data_dir / "crime" / police_uk.LAST_RECONCILIATION)
    parts = reconciliation[["loaded", "outside_area", "unallocated", "rejected"]].sum(axis=1)
    exact = bool((parts == reconciliation["rows_read"]).all())
    per_file = raw.groupby("file").size()
    read = reconciliation.groupby("file")["rows_read"].sum()
    same_files = per_file.sort_index().equals(read.sort_index())
    totals = reconciliation[["rows_read", "loaded", "outside_area", "unallocated", "rejected"]].sum()
    print(f"\n2. reconciliation: {len(reconciliation)} file-month rows; rows read = loaded + outside + unallocated + "
          f"rejected on every row: {exact}; rows read per file equal pandas' rows per file: {same_files}")
    print("   totals: " + ", ".join(f"{k} {int(v):,}" for k, v in totals.items()))
    ok &= exact and same_files

    # 3. ward match per month
    monthly = store.query(
        """SELECT strftime(month, '%Y-%m') AS month,
                  count(*) FILTER (WHERE location <> ?) AS in_force,
                  count(*) FILTER (WHERE ward_code IS NOT NULL) AS with_ward
           FROM crime_records GROUP BY ALL ORDER BY month""",
        [geography.OUTSIDE_AREA],
    )
    monthly["share"] = monthly["with_ward"] / monthly["in_force"]
    worst = monthly.loc[monthly["share"].idxmin()]
    print(f"\n3. rows within the force area that have a ward: lowest month {worst['month']} at {worst['share']:.2%}; "
          f"overall {monthly['with_ward'].sum():,} of {monthly['in_force'].sum():,} "
          f"({monthly['with_ward'].sum() / monthly['in_force'].sum():.2%})")
    ok &= bool((monthly["share"] >= MIN_WARD_SHARE).all())

    # 4. vintages
    vintages = lsoa_vintages(raw, data_dir)
    print("\n4. LSOA code vintage per month (rows):")
    print(vintages.to_string())
    coverage = store.query("SELECT count(DISTINCT month) AS n FROM coverage WHERE dataset = 'crime'")["n"].iat[0]
    print(f"\nmonths held: {coverage}")
    print("\nALL CHECKS PASSED" if ok else "\nCHECKS FAILED")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--data-dir", type=Path, default=REPO / "data",
                        help="copied, never written: supplies the geography lookup (and the store to import over)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch data directory and print its path")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="verify-police-uk-"))
    data_dir = scratch / "data"
    shutil.copytree(args.data_dir, data_dir, ignore=shutil.ignore_patterns(".lock", ".staging-*"))
    try:
        return 0 if verify(args.paths, data_dir) else 1
    finally:
        if args.keep:
            print(f"scratch store kept at {data_dir}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
