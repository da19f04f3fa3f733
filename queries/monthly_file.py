"""One sorted file of a version's monthly table, so a national store is read without holding it.

Importers write the monthly table as force-month partitions (`monthly.parquet/force=<slug>/
ym=YYYY-MM/*.parquet`): a new month of one force then writes only its own partition. But a
reader pays for that layout on every query: a national store of 43 forces x 48 months is
about 2,000 files, and DuckDB globs them and reads every footer each time a query binds the
view (80-300 ms for one force's sum, measured). Loading the whole table into each worker
instead (what a force's store does) costs every worker memory in proportion to the store.

So each version also gets its monthly rows as one Parquet file per month, sorted by force and
measure, with small row groups:

    <dataset>/<version>/monthly-sorted/YYYY-MM.parquet

A query for one force (every page query names its force) then reads that force's few row
groups of each month, the rest skipped by their min/max statistics, from cached footers: one
file a month instead of one per force and month, with nothing held in the worker. The
partitions stay the store's record of what was imported (and what the next import links).

Written by `store_writer.publish` with the version, and only for the months whose partitions
changed (`store_writer.changed_pairs`): every other month's file is a hard link to the previous
version's, so a monthly import writes one month's file whatever the store holds. A version
published before this existed gets it on first read, once, under a lock (other workers wait,
then read it), with DuckDB's memory bounded so the worker that builds it does not grow with the
store. If it cannot be written (a read-only store), readers use the partitions as before.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from pathlib import Path

import duckdb
import pandas as pd

from queries.store import sql_string

FOLDER = "monthly-sorted"
LOCK_NAME = ".monthly-sorted.lock"
# Rows per row group: one force's measure is then a few groups of a month's file (small forces
# share a group), so min/max statistics on (force, measure) skip the rest unread.
ROW_GROUP_ROWS = 16_384
# DuckDB's memory while sorting (it spills to disk above this): the building process, often a
# web worker, must stay within its memory budget whatever the store's size.
BUILD_MEMORY = "256MB"
SORT_COLUMNS = "force, measure, month"


def needed(folder: Path) -> bool:
    """Whether a version's monthly table is a folder of partitions (one file needs no copy)."""
    return (Path(folder) / "monthly.parquet").is_dir()


def path_for(folder: Path) -> Path:
    return Path(folder) / FOLDER


def _months(folder: Path) -> dict[str, list[Path]]:
    """`YYYY-MM` -> that month's partition files, every force's (what one month's file is built from)."""
    from queries.store_writer import month_partitions

    months: dict[str, list[Path]] = {}
    for key, partition in month_partitions(Path(folder) / "monthly.parquet").items():
        months.setdefault(key.split("/", 1)[1], []).extend(sorted(partition.glob("*.parquet")))
    return months


def write(folder: Path, previous: Path | None = None, changed: set | None = None) -> Path | None:
    """Write the sorted per-month copy of a version's partitioned monthly table (atomically, as one
    folder); None when the table is one file already.

    With the previous version and the (force, month) pairs that changed, a month no pair names is
    a hard link to the previous version's file (its partitions are the very same files); without
    them (a first import, an older layout) every month is written.
    """
    from queries.store_writer import partitions_source

    folder = Path(folder)
    if not needed(folder):
        return None
    target = path_for(folder)
    changed_months = None if changed is None else {pd.Timestamp(m).strftime("%Y-%m") for _f, m in changed}
    reusable = path_for(previous) if previous is not None and changed_months is not None else None
    tmp = folder / f".{FOLDER}.{uuid.uuid4().hex[:6]}.tmp"
    spill = folder / f".{FOLDER}.{uuid.uuid4().hex[:6]}.spill"
    tmp.mkdir()
    con = duckdb.connect(":memory:", config={"memory_limit": BUILD_MEMORY, "temp_directory": str(spill)})
    try:
        for month, files in sorted(_months(folder).items()):
            name = f"{month}.parquet"
            old = reusable / name if reusable is not None else None
            if old is not None and month not in changed_months and old.exists():
                os.link(old, tmp / name)
                continue
            con.execute(
                f"COPY (SELECT * FROM {partitions_source(files)} ORDER BY {SORT_COLUMNS}) "
                f"TO {sql_string(tmp / name)} (FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_ROWS}, COMPRESSION zstd)"
            )
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    return target


def ensure(folder: Path) -> Path | None:
    """The version's sorted monthly files, built now if missing (once, under a lock); None if there is
    none to build (one file already) or it cannot be written (then the caller reads the partitions)."""
    folder = Path(folder)
    if not needed(folder):
        return None
    target = path_for(folder)
    if target.exists():
        return target
    try:
        with open(folder / LOCK_NAME, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker building it: wait, then read theirs
            try:
                if not target.exists():
                    write(folder)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    except (OSError, duckdb.Error):
        return None  # a read-only or full disk, or DuckDB could not sort it: readers use the partitions
    return target if target.exists() else None
