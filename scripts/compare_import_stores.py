"""Import the same police.uk files with two checkouts of this project into copies of one store, and
compare every table the import stored, so a change meant to be faster is shown to store the same rows.

    python scripts/compare_import_stores.py OLD_CHECKOUT NEW_CHECKOUT BASE_STORE WORK -- PATH... [--allow-other-forces]

Each checkout runs `python app.py import police-uk PATH... --data-dir <copy of BASE_STORE>` in its own
process (WORK/store-old, WORK/store-new). Compared: exit code, stdout (the timing removed) and stderr;
then every table of the published crime version (each .parquet file or partitioned folder, and
quarantine.csv) and `last-import-reconciliation.csv`, with EXCEPT ALL both ways (rows as a multiset,
so a duplicate row lost or gained counts). Exit 0 when everything is identical, 1 otherwise.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

USAGE = __doc__.split("\n\n")[1]


def _import(checkout: Path, base: Path, store: Path, args: list[str]) -> tuple[int, str, str]:
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(base, store, symlinks=True)
    done = subprocess.run([sys.executable, "app.py", "import", "police-uk", *args, "--data-dir", str(store),
                           "--no-progress"], cwd=checkout, capture_output=True, text=True)
    out = re.sub(r"in \d+\.\d+s", "in Xs", done.stdout).replace(str(store), "STORE")
    return done.returncode, out, done.stderr.replace(str(store), "STORE")


def _version(store: Path) -> Path | None:
    rel = json.loads((store / "manifest.json").read_text()).get("datasets", {}).get("crime")
    return store / rel if rel else None


def _relation(path: Path) -> str:
    text = str(path).replace("'", "''")
    if path.suffix == ".csv":
        return f"read_csv('{text}', all_varchar=true, header=true)"
    if path.is_dir():
        return f"read_parquet('{text}/**/*.parquet', hive_partitioning=true, union_by_name=true)"
    return f"read_parquet('{text}')"


def compare(old: Path, new: Path, base: Path, work: Path, args: list[str]) -> bool:
    stores = {name: work / f"store-{name}" for name in ("old", "new")}
    runs = {name: _import(checkout, base, stores[name], args) for name, checkout in (("old", old), ("new", new))}
    same = runs["old"] == runs["new"]
    print(f"exit {runs['old'][0]} / {runs['new'][0]}, stdout and stderr {'identical' if same else 'DIFFERENT'}")
    versions = {name: _version(store) for name, store in stores.items()}
    if None in versions.values():
        print(f"no crime version in {[n for n, v in versions.items() if v is None]}")
        return same and versions["old"] == versions["new"]
    pairs = [(versions["old"] / n, versions["new"] / n)
             for n in sorted({p.name for v in versions.values() for p in v.iterdir()})
             if n.endswith((".parquet", ".csv")) or (versions["old"] / n).is_dir() or (versions["new"] / n).is_dir()]
    pairs.append(tuple(stores[n] / "crime" / "last-import-reconciliation.csv" for n in ("old", "new")))
    con = duckdb.connect()
    for a, b in pairs:
        if not a.exists() and not b.exists():
            continue
        if not a.exists() or not b.exists():
            print(f"{a.name}: only in {'old' if a.exists() else 'new'}")
            same = False
            continue
        if a.is_dir() and not any(a.rglob("*.parquet")):
            continue
        ra, rb = _relation(a), _relation(b)
        rows = con.execute(f"SELECT count(*) FROM {ra}").fetchone()[0]
        gone = con.execute(f"SELECT count(*) FROM (SELECT * FROM {ra} EXCEPT ALL SELECT * FROM {rb})").fetchone()[0]
        came = con.execute(f"SELECT count(*) FROM (SELECT * FROM {rb} EXCEPT ALL SELECT * FROM {ra})").fetchone()[0]
        same &= gone == 0 and came == 0
        print(f"{a.name}: {rows:,} rows; only in old {gone:,}, only in new {came:,}")
    print("ALL IDENTICAL" if same else "SOME DIFFER")
    return same


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 4:
        print(USAGE, file=sys.stderr)
        return 2
    old, new, base, work = map(Path, argv[:4])
    work.mkdir(parents=True, exist_ok=True)
    return 0 if compare(old.resolve(), new.resolve(), base.resolve(), work.resolve(), argv[5:]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
