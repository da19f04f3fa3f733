"""One sorted file of a version's monthly table, so a national store is read without holding it.

Importers write the monthly table as force-month partitions (`monthly.parquet/force=<slug>/
ym=YYYY-MM/*.parquet`): a new month of one force then writes only its own partition. But a
reader pays for that layout on every query: a national store of 43 forces x 48 months is
about 2,000 files, and DuckDB globs them and reads every footer each time a query binds the
view (80-300 ms for one force's sum, measured). Loading the whole table into each worker
instead (what a force's store does) costs every worker memory in proportion to the store.

So each version also gets its monthly rows as one Parquet file, sorted by force, measure and
month, with small row groups:

    <dataset>/<version>/monthly-sorted.parquet

A query for one force (every page query names its force) then reads that force's few row
groups, the rest skipped by their min/max statistics, from one footer: 4-15 ms for a national
store, with nothing held in the worker. The partitions stay the store's record of what was
imported (and what the next import links); this file is derived from them and never linked
into a later version.

Written by `store_writer.publish` with the version (one pass over the monthly rows: seconds
for a national store, not the records). A version published before this existed gets it on
first read, once, under a lock (other workers wait, then read it), with DuckDB's memory
bounded so the worker that builds it does not grow with the store. If it cannot be written
(a read-only store), readers use the partitions as before.
"""
from __future__ import annotations

import fcntl
import os
import uuid
from pathlib import Path

import duckdb

from queries.store import parquet_source, sql_string

FILE = "monthly-sorted.parquet"
LOCK_NAME = ".monthly-sorted.lock"
# Rows per row group: one force's measure is then a few groups of a national file (small forces
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
    return Path(folder) / FILE


def write(folder: Path) -> Path | None:
    """Write the sorted copy of a version's partitioned monthly table (atomically); None when one file already."""
    folder = Path(folder)
    if not needed(folder):
        return None
    target = path_for(folder)
    tmp = folder / f".{FILE}.{uuid.uuid4().hex[:6]}.tmp"
    spill = folder / f".{FILE}.{uuid.uuid4().hex[:6]}.spill"
    con = duckdb.connect(":memory:", config={"memory_limit": BUILD_MEMORY, "temp_directory": str(spill)})
    try:
        con.execute(
            f"COPY (SELECT * FROM {parquet_source(folder / 'monthly.parquet')} ORDER BY {SORT_COLUMNS}) "
            f"TO {sql_string(tmp)} (FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_ROWS}, COMPRESSION zstd)"
        )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        con.close()
        _remove_tree(spill)
    return target


def ensure(folder: Path) -> Path | None:
    """The version's sorted monthly file, built now if missing (once, under a lock); None if there is
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


def _remove_tree(path: Path) -> None:
    """DuckDB's spill folder, if it made one."""
    if not path.exists():
        return
    for child in sorted(path.rglob("*"), reverse=True):
        child.rmdir() if child.is_dir() else child.unlink(missing_ok=True)
    path.rmdir()
