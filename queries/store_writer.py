"""The store, write side: staging a version, publishing it atomically, rollback, the import log.

Only importers, the demo builder and `python app.py rollback` write; the web app never
does. One writer at a time per data directory (`write_lock`); readers never wait.

A version is published only when everything it references is on disk: its tables, its
`version.json` and its quarantine. Then a copy of the new manifest is written to
`.versions/<token>.json` (so a page pinned to it can find it again) and `manifest.json`
is replaced by an atomic rename. A writer that dies at any point leaves the old store
live; what it left half-written (a staging folder, a `.tmp` file) is removed by the next
writer, which holds the lock, so nobody else can be writing it.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from queries import geography, limits_table, monthly_file, owners
from queries.store import (
    FORCE_KEY, MANIFEST, MONTH_KEY, VERSIONS_FOLDER, StoreError, has_column, parquet_source, read_manifest, sql_string,
    version_token,
)

# How many versions of each dataset are kept for `rollback`: the current one and the
# VERSIONS_KEPT - 1 before it (so two rollbacks in a row are possible).
VERSIONS_KEPT = 3
# A superseded version stays on disk at least this long, whatever VERSIONS_KEPT says, so a
# page drawn from it (pinned by its token) keeps answering from it until it is refreshed.
SUPERSEDED_KEPT_SECONDS = 6 * 60 * 60
IMPORT_LOG = "import-log.jsonl"
VERSION_META = "version.json"
LOCK_FILE = ".lock"
# An import that streams spools its records into `<dataset>/.spool-<id>` (removed when it ends,
# and by the next writer if it was killed). DuckDB builds the version from the spool within
# this memory, spilling the rest to a folder inside the spool: well under the 1 GiB an import
# may use (issue 9), with room for Python, the geography and the reader's batches.
SPOOL_PREFIX = ".spool-"
DUCKDB_MEMORY_LIMIT = "400MB"
DUCKDB_TEMP_FOLDER = "duckdb-temp"


@contextmanager
def write_lock(data_dir: Path):
    """One writer at a time per data directory; readers never wait.

    Whoever holds the lock is the only writer, so anything temporary found now was left by
    a writer that died: it is removed before this one starts.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            clean_leftovers(data_dir)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clean_leftovers(data_dir: Path) -> list[Path]:
    """Remove what a dead writer left: staging folders and `.tmp` files. Returns what was removed."""
    data_dir = Path(data_dir)
    removed = []
    candidates = list(data_dir.glob(f".{MANIFEST}.*.tmp")) + list(data_dir.glob(f"{VERSIONS_FOLDER}/*.tmp"))
    candidates += list(data_dir.glob("*.jsonl.tmp"))
    for child in data_dir.iterdir() if data_dir.exists() else []:
        if child.is_dir() and not child.name.startswith("."):
            candidates += list(child.glob(".staging-*")) + list(child.glob("*.tmp"))
            candidates += list(child.glob(f"{SPOOL_PREFIX}*"))
    for path in candidates:
        try:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            removed.append(path)
        except OSError:
            pass  # read-only or vanished: the next writer tries again
    return removed


def new_version_dir(data_dir: Path, dataset: str) -> Path:
    """A fresh, hidden staging folder for a dataset's next version."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    folder = Path(data_dir) / dataset / f".staging-{stamp}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    return folder


def new_spool_dir(data_dir: Path, dataset: str) -> Path:
    """A fresh scratch folder for an import's spooled records; call inside `write_lock` (its cleaning removes spools)."""
    folder = Path(data_dir) / dataset / f"{SPOOL_PREFIX}{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return folder


def bounded_connection(temp_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that stays within DUCKDB_MEMORY_LIMIT, spilling sorts and aggregates to `temp_dir`.

    Without a limit DuckDB may take most of the machine's memory for one COPY or GROUP BY;
    with one it spills to disk, so an import's peak no longer grows with the file.
    """
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = {sql_string(DUCKDB_MEMORY_LIMIT)}")
    con.execute(f"SET temp_directory = {sql_string(Path(temp_dir))}")
    # Insertion order is meaningless for records (every reader groups or sorts): not keeping
    # it lets DuckDB stream a COPY instead of buffering it.
    con.execute("SET preserve_insertion_order = false")
    return con


# The codec of the store's small tables (coverage, reconciliation, rejected rows) and of its partitions.
COMPRESSION = "zstd"


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False, compression=COMPRESSION)


def monthly_select(measure_sql: str) -> str:
    """The aggregation every dataset shares: its measures per force, ward and month, with the area hierarchy.

    `measure_sql` is the dataset's own SELECT over a relation named `records` returning
    (measure, month, ward_code, location, force); one record may count in several measures
    (a deliberate primary fire is also a deliberate fire), so it may UNION several selects.
    The force passes through from the records, so another force's rows stay its own.
    A relation named `areas` (geography.ward_areas) must be visible too.
    """
    return f"""
        SELECT m.measure, m.month, m.ward_code, a.neighbourhood, a.csp, a.parent, m.location, m.force, count(*) AS count
        FROM ({measure_sql}) AS m
        LEFT JOIN areas AS a ON a.ward_code = m.ward_code
        GROUP BY ALL
        ORDER BY m.force, m.measure, m.month, a.csp, a.neighbourhood, m.ward_code, m.location
    """


def records_view(con: duckdb.DuckDBPyConnection, relation: str, data_dir: Path, where: str = "") -> None:
    """CREATE VIEW records over a relation, with a `force` column even where older files have none.

    Records written before stores were keyed by force (the shipped demo, older imports) are
    the store's own force's.
    """
    force = "" if has_column(con, relation, FORCE_KEY) else f", {sql_string(owners.default_owner(data_dir))} AS {FORCE_KEY}"
    con.execute(f"CREATE VIEW records AS SELECT *{force} FROM {relation}{where}")


def aggregate_records(records: pd.DataFrame, measure_sql: str, areas: pd.DataFrame) -> pd.DataFrame:
    """The monthly table for records held in memory (tests and tools), by exactly the store's SQL.

    Hand-built records without a `force` column aggregate under a null force.
    """
    con = duckdb.connect(":memory:")
    try:
        if FORCE_KEY not in records:
            records = records.assign(**{FORCE_KEY: pd.Series([None] * len(records), dtype="object", index=records.index)})
        con.register("records", records)
        con.register("areas", areas)
        return con.execute(monthly_select(measure_sql)).df()
    finally:
        con.close()


def build_monthly(folder: Path, data_dir: Path, measure_sql: str) -> None:
    """Aggregate a version's records.parquet into its monthly.parquet."""
    con = duckdb.connect(":memory:")
    try:
        records_view(con, f"read_parquet({sql_string(folder / 'records.parquet')})", data_dir)
        con.register("areas", geography.ward_areas(data_dir))
        con.execute(
            f"COPY ({monthly_select(measure_sql)}) TO {sql_string(folder / 'monthly.parquet')} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
    finally:
        con.close()


# Records and monthly tables written by importers are folders of force-month partitions:
# `records.parquet/force=derbyshire/ym=2025-03/part_<uuid>.parquet`. Importing a force's month
# writes only its partition; every other force-month is a hard link to the previous version's
# file (no copy, no extra space), so a new month costs the same whatever the store already
# holds, and one force's month can never replace another force's.
PARTITION_KEY = MONTH_KEY
EMPTY_PARTITION = "empty.parquet"


# The same key in SQL, over a relation with `force` and `month` columns.
# Forces whose partitions are linked at once (link_month_partitions): each kept force-month is a new
# folder and a hard link per file, 9,396 of each (records and monthly) for a 108-month national store,
# and on this kind of virtual disk each costs 0.3-0.7 ms of waiting on the file system, not CPU. Two
# threads (the calls release the GIL) took 2.4-3.2 s where one took 3.6-6.6 s, three rounds back to
# back; four and eight were no better (2.8-3.4 s). It still grows with the months held: see
# docs/benchmarks.md (session 8).
LINK_THREADS = 2
PAIR_SQL = f"({FORCE_KEY} || '/' || strftime(month, '%Y-%m'))"


def partition_key(force: str, month) -> str:
    """`<force>/<YYYY-MM>`: how a force-month partition is named in skip sets and listings."""
    return f"{force}/{pd.Timestamp(month):%Y-%m}"


def write_month_partitions(con: duckdb.DuckDBPyConnection, select_sql: str, target: Path) -> None:
    """COPY a SELECT with `force` and `month` columns into `target/force=<slug>/ym=YYYY-MM/` files.

    Neither key is stored in the files (readers get `force` from the folder name). A SELECT
    with no rows writes one empty file, so the table still has its columns.
    """
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    append = ", APPEND" if any(target.iterdir()) else ""
    con.execute(
        f"COPY (SELECT *, strftime(month, '%Y-%m') AS {MONTH_KEY} FROM ({select_sql})) TO {sql_string(target)} "
        f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({FORCE_KEY}, {MONTH_KEY}), FILENAME_PATTERN 'part_{{uuid}}'{append})"
    )
    if not any(target.rglob("*.parquet")):
        con.execute(f"COPY (SELECT * FROM ({select_sql}) LIMIT 0) TO {sql_string(target / EMPTY_PARTITION)} (FORMAT parquet)")


def force_partitioned(table: Path) -> bool:
    """Whether a table is a folder of force-month partitions (not a single file or an older month-only folder)."""
    table = Path(table)
    return table.is_dir() and (any(table.glob(f"{FORCE_KEY}=*")) or not any(table.glob(f"{MONTH_KEY}=*")))


def month_partitions(table: Path) -> dict[str, Path]:
    """`<force>/<YYYY-MM>` -> partition folder of a force-partitioned table (empty for any other table)."""
    table = Path(table)
    if not table.is_dir():
        return {}
    found = {}
    for force_dir in table.glob(f"{FORCE_KEY}=*"):
        for month_dir in force_dir.glob(f"{MONTH_KEY}=*"):
            if month_dir.is_dir():
                found[f"{force_dir.name.split('=', 1)[1]}/{month_dir.name.split('=', 1)[1]}"] = month_dir
    return found


def _partition_files(table: Path) -> dict[str, frozenset[tuple[str, int, int]]]:
    """`<force>/<YYYY-MM>` -> its Parquet files as (name, device, inode) of a force-partitioned table.

    By os.scandir, whose entries carry their inode without a stat (a 108-month national table is
    4,700 folders; a glob and two stats per file took 0.7 s of a monthly import), and the table's
    device once: a hard link is always on its file's device."""
    device = os.stat(table).st_dev
    found = {}
    for force_dir in os.scandir(table):
        if not (force_dir.name.startswith(f"{FORCE_KEY}=") and force_dir.is_dir()):
            continue
        force = force_dir.name.split("=", 1)[1]
        for month_dir in os.scandir(force_dir.path):
            if month_dir.name.startswith(f"{MONTH_KEY}=") and month_dir.is_dir():
                found[f"{force}/{month_dir.name.split('=', 1)[1]}"] = frozenset(
                    (part.name, device, part.inode()) for part in os.scandir(month_dir.path)
                    if part.name.endswith(".parquet"))
    return found


def link_month_partitions(source: Path, target: Path, skip: set[str]) -> int:
    """Hard-link every force-month partition of `source` not in `skip` into `target`; returns files linked.

    A hard link shares the file's data: the new version costs no space and no write for
    the months it keeps, and deleting the old version later leaves the new one whole.
    Falls back to a copy where the file system has no hard links. Forces are linked
    LINK_THREADS at a time (see there).
    """
    source, target = Path(source), Path(target)
    if not source.is_dir():
        return 0
    forces = [entry for entry in os.scandir(source) if entry.name.startswith(f"{FORCE_KEY}=") and entry.is_dir()]
    with ThreadPoolExecutor(LINK_THREADS, thread_name_prefix="link") as pool:
        return sum(pool.map(lambda force_dir: _link_force(force_dir, str(target), skip), forces))


def _link_force(force_dir: os.DirEntry, target: str, skip: set[str]) -> int:
    """One force's partitions of link_month_partitions: its month folders made, their files linked."""
    # os.scandir and plain string paths: a national store has thousands of partitions, and pathlib's
    # glob and mkdir cost several times the link itself for each.
    linked = 0
    force = force_dir.name.split("=", 1)[1]
    made_force = False
    for month_dir in os.scandir(force_dir.path):
        if not (month_dir.name.startswith(f"{MONTH_KEY}=") and month_dir.is_dir()):
            continue
        if f"{force}/{month_dir.name.split('=', 1)[1]}" in skip:
            continue
        if not made_force:
            os.makedirs(os.path.join(target, force_dir.name), exist_ok=True)
            made_force = True
        destination = os.path.join(target, force_dir.name, month_dir.name)
        try:
            os.mkdir(destination)
        except FileExistsError:  # already made (a partition moved in before): link into it
            pass
        for part in os.scandir(month_dir.path):
            if not part.name.endswith(".parquet"):
                continue
            try:
                os.link(part.path, os.path.join(destination, part.name))
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
                    raise
                shutil.copyfile(part.path, os.path.join(destination, part.name))
            linked += 1
    return linked


def partition_files(table: Path, keys: list[str]) -> list[Path]:
    """The Parquet files of the given `<force>/<YYYY-MM>` partitions of a force-partitioned table (none where absent)."""
    files: list[Path] = []
    for key in keys:
        force, ym = key.split("/", 1)
        files += sorted((Path(table) / f"{FORCE_KEY}={force}" / f"{MONTH_KEY}={ym}").glob("*.parquet"))
    return files


def partitions_source(files: list[Path]) -> str:
    """Some partitions' files as a relation for FROM, read as `parquet_source` reads the whole table
    (`force` from the folder names, `ym` dropped), without opening any other partition."""
    listed = "[" + ", ".join(sql_string(f) for f in files) + "]"
    return (f"(SELECT * EXCLUDE ({MONTH_KEY}) FROM read_parquet({listed}, hive_partitioning=true, union_by_name=true, "
            f"hive_types={{'{FORCE_KEY}': VARCHAR, '{MONTH_KEY}': VARCHAR}}))")


def changed_pairs(previous: Path, folder: Path) -> set[tuple[str, pd.Timestamp]] | None:
    """The (force, month) pairs whose monthly rows or coverage differ between two versions of a
    dataset; None when that cannot be told (a table that is not force-partitioned, an older coverage).

    Read from the files themselves, not from what an importer says it did: a kept partition is a
    hard link to the previous version's file (same inode), so any partition whose files are not
    the very same files, or that only one version has, changed; so did a month held in only one
    version's coverage (a month published empty holds no partition).
    """
    old_table, new_table = Path(previous) / "monthly.parquet", Path(folder) / "monthly.parquet"
    if not (old_table.is_dir() and new_table.is_dir() and force_partitioned(old_table) and force_partitioned(new_table)):
        return None
    old, new = _partition_files(old_table), _partition_files(new_table)
    changed = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
    held = []
    for version in (previous, folder):
        try:
            coverage = pd.read_parquet(Path(version) / "coverage.parquet")
        except OSError:
            return None
        if FORCE_KEY not in coverage:
            return None
        held.append({partition_key(f, m) for f, m in zip(coverage[FORCE_KEY].astype(str), coverage["month"])})
    changed |= held[0] ^ held[1]
    return {(key.split("/", 1)[0], pd.Timestamp(key.split("/", 1)[1] + "-01")) for key in changed}


def areas_fingerprint(data_dir: Path) -> str:
    """A digest of the ward -> neighbourhood -> CSP table: monthly partitions built under another one are rebuilt."""
    areas = geography.ward_areas(data_dir)
    return hashlib.sha256(areas.to_csv(index=False).encode()).hexdigest()[:16]


# A whole store's monthly table is built this many force-months at a time: built at once, DuckDB's
# grouping and ordering of a national store overshot its memory limit (the import peaked at 0.89 GiB
# with 2,064 force-months, 0.59 GiB with 516, growing with the store); a slice of about a hundred
# (1.3 M records at police.uk's national volume) keeps the peak where the reading left it.
MONTHLY_PAIRS_AT_ONCE = 100


def build_monthly_partitions(folder: Path, data_dir: Path, measure_sql: str, pairs: list | None,
                             temp_dir: Path | None = None) -> None:
    """Aggregate a version's partitioned records into monthly partitions: only the (force, month) `pairs`, or all.

    With `temp_dir`, DuckDB keeps within DUCKDB_MEMORY_LIMIT and spills there (streaming imports).
    """
    con = duckdb.connect(":memory:") if temp_dir is None else bounded_connection(temp_dir)
    try:
        con.register("areas", geography.ward_areas(data_dir))
        records = folder / "records.parquet"
        keys = sorted(month_partitions(records)) if pairs is None else sorted(partition_key(f, m) for f, m in pairs)
        if pairs is None and not keys:  # a single-file or month-only records table (older stores): built at once
            records_view(con, parquet_source(records), data_dir)
            write_month_partitions(con, monthly_select(measure_sql), folder / "monthly.parquet")
            return
        # A slice of force-months at a time, whether the whole store or an import's pairs (an import of
        # every month of a national store is as many pairs as the store): memory flat either way.
        for start in range(0, max(len(keys), 1), MONTHLY_PAIRS_AT_ONCE):  # no pairs: one empty slice, as before
            _monthly_for_keys(con, folder, data_dir, measure_sql, keys[start:start + MONTHLY_PAIRS_AT_ONCE])
    finally:
        con.close()


def _monthly_for_keys(con: duckdb.DuckDBPyConnection, folder: Path, data_dir: Path, measure_sql: str,
                      keys: list[str]) -> None:
    """The monthly partitions of some `<force>/<YYYY-MM>` keys, from those keys' records files only."""
    con.execute("DROP VIEW IF EXISTS records")
    con.register("wanted_pairs", pd.DataFrame({"key": keys}))
    where = f" WHERE {PAIR_SQL} IN (SELECT key FROM wanted_pairs)"
    # Only these force-months' files are opened: scanning the whole table (even just its footers)
    # made a one-month import slower the more months the store held.
    files = partition_files(folder / "records.parquet", keys)
    source = partitions_source(files) if files else parquet_source(folder / "records.parquet")
    records_view(con, source, data_dir, where)
    write_month_partitions(con, monthly_select(measure_sql), folder / "monthly.parquet")


def _write_atomically(path: Path, text: str) -> None:
    """Write a small file by tmp + fsync + rename; a failure leaves no tmp behind."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    try:
        with open(tmp, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _swap_manifest(data_dir: Path, manifest: dict) -> str:
    """Make `manifest` current: its copy under .versions first (a reader seeing the token can load it), then the swap."""
    manifest["updated"] = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    token = version_token(manifest)
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (data_dir / VERSIONS_FOLDER).mkdir(exist_ok=True)
    _write_atomically(data_dir / VERSIONS_FOLDER / f"{token}.json", text)
    _write_atomically(data_dir / MANIFEST, text)
    return token


def publish(data_dir: Path, dataset: str, folder: Path, source: str, synthetic: bool, log: dict | None = None,
            meta: dict | None = None) -> Path:
    """Make a staged version current by an atomic swap of the manifest.

    Call inside `write_lock`. The staging folder must already hold every table (and the
    quarantine, if any): nothing is written into a version after it is published.
    """
    data_dir = Path(data_dir)
    missing = [t for t in ("records", "monthly", "coverage") if not (folder / f"{t}.parquet").exists()]
    if missing:
        raise StoreError(f"{folder}: cannot publish {dataset}, missing {', '.join(missing)}")
    # What changed since the current version: a monthly import then writes only its months' sorted
    # monthly files and the limits blocks its months touch; everything else is linked.
    current = read_manifest(data_dir).get("datasets", {}).get(dataset)
    previous = data_dir / current if current else None
    changed = changed_pairs(previous, folder) if previous is not None and previous.is_dir() else None
    monthly_file.write(folder, previous, changed)  # the monthly rows one sorted file a month, for readers
    limits_table.write(folder, data_dir, dataset, previous if limits_table.materialised(dataset) else None, changed)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    _write_atomically(folder / VERSION_META, json.dumps({"dataset": dataset, "source": source, "synthetic": synthetic,
                                                         "created": created, **(meta or {})}, indent=2) + "\n")
    final = folder.with_name(folder.name.removeprefix(".staging-"))
    os.rename(folder, final)
    try:
        manifest = read_manifest(data_dir)
        previous = manifest.setdefault("datasets", {}).get(dataset)
        history = manifest.setdefault("history", {}).get(dataset, [])
        if previous and not (data_dir / previous / VERSION_META).exists() and (data_dir / previous).is_dir():
            # A version made before version.json existed: record what the manifest says of it, for rollback.
            _write_atomically(data_dir / previous / VERSION_META, json.dumps({
                "dataset": dataset, "source": manifest.get("sources", {}).get(dataset, ""),
                "synthetic": bool(manifest.get("synthetic", {}).get(dataset, False)), "created": ""}, indent=2) + "\n")
        if previous:
            history = [previous] + [h for h in history if h != previous]
        manifest["history"][dataset] = history[: VERSIONS_KEPT - 1]
        manifest["datasets"][dataset] = str(final.relative_to(data_dir))
        manifest.setdefault("sources", {})[dataset] = source
        manifest.setdefault("synthetic", {})[dataset] = synthetic
        token = _swap_manifest(data_dir, manifest)
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)  # never referenced: the old manifest is still current
        raise
    append_log(data_dir, {"action": "import" if not synthetic else "demo", "dataset": dataset,
                          "version": final.name, "token": token, "source": source, **(log or {})})
    prune(data_dir, dataset)
    return final


def rollback(data_dir: Path, dataset: str) -> dict:
    """Put the previous version of a dataset back; returns what was restored and what it replaced."""
    data_dir = Path(data_dir)
    with write_lock(data_dir):
        manifest = read_manifest(data_dir)
        current = manifest.get("datasets", {}).get(dataset)
        if not current:
            held = ", ".join(sorted(manifest.get("datasets", {}))) or "none"
            raise StoreError(f"the store at {data_dir} holds no {dataset!r} data to roll back; datasets held: {held}")
        history = [h for h in manifest.get("history", {}).get(dataset, []) if (data_dir / h / "monthly.parquet").exists()]
        if not history:
            raise StoreError(
                f"no earlier version of {dataset} is kept (each import keeps the {VERSIONS_KEPT - 1} before it); "
                "nothing was changed"
            )
        restored = history[0]
        meta = version_meta(data_dir / restored)
        manifest["datasets"][dataset] = restored
        manifest["history"][dataset] = history[1:]
        manifest.setdefault("sources", {})[dataset] = meta.get("source", manifest.get("sources", {}).get(dataset, ""))
        manifest.setdefault("synthetic", {})[dataset] = bool(meta.get("synthetic", False))
        token = _swap_manifest(data_dir, manifest)
        relink_quarantine(data_dir, dataset, data_dir / restored)
        outcome = {
            "action": "rollback", "dataset": dataset, "restored": Path(restored).name, "replaced": Path(current).name,
            "restored_created": meta.get("created", ""), "source": manifest["sources"][dataset], "token": token,
            "records": _count_rows(data_dir / restored / "records.parquet"),
        }
        append_log(data_dir, outcome)
        prune(data_dir, dataset)
    return outcome


def version_meta(folder: Path) -> dict:
    try:
        return json.loads((folder / VERSION_META).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _count_rows(path: Path) -> int:
    con = duckdb.connect(":memory:")
    try:
        return int(con.execute(f"SELECT count(*) FROM {parquet_source(path)}").fetchone()[0])
    finally:
        con.close()


def relink_quarantine(data_dir: Path, dataset: str, version: Path) -> None:
    """`<dataset>/quarantine.csv` shows the current version's rejected rows (a hard link: no copy, no extra space)."""
    target = data_dir / dataset / "quarantine.csv"
    source = version / "quarantine.csv"
    if not source.exists():
        target.unlink(missing_ok=True)
        return
    tmp = target.with_name(f".quarantine.{uuid.uuid4().hex[:6]}.tmp")
    try:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def prune(data_dir: Path, dataset: str, now: float | None = None) -> list[Path]:
    """Delete versions neither current, nor kept for rollback, nor superseded recently (pages may still read them)."""
    data_dir = Path(data_dir)
    now = time.time() if now is None else now
    manifest = read_manifest(data_dir)
    keep = {manifest.get("datasets", {}).get(dataset)} | set(manifest.get("history", {}).get(dataset, []))
    recent = []
    for copy in (data_dir / VERSIONS_FOLDER).glob("*.json"):
        try:
            young = now - copy.stat().st_mtime < SUPERSEDED_KEPT_SECONDS
        except OSError:
            continue
        if young:
            recent.append(copy)
            try:
                keep |= set(json.loads(copy.read_text()).get("datasets", {}).values())
            except (OSError, json.JSONDecodeError):
                pass
        elif copy.stem != version_token(manifest):
            copy.unlink(missing_ok=True)
    removed = []
    root = data_dir / dataset
    for old in root.iterdir() if root.exists() else []:
        if old.is_dir() and not old.name.startswith(".") and str(old.relative_to(data_dir)) not in keep:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def append_log(data_dir: Path, entry: dict) -> None:
    """One JSON line per import or rollback: time, files, counts. Never rewritten, only appended.

    The store is already published when this runs, so a failure to log (a full disk) is
    reported, not raised: the import itself succeeded.
    """
    line = json.dumps({"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), **entry}, default=str)
    try:
        with open(Path(data_dir) / IMPORT_LOG, "a") as handle:
            handle.write(line + "\n")
    except OSError as exc:
        print(f"warning: the import was published but could not be logged in {IMPORT_LOG}: {exc.strerror}", file=sys.stderr)


def read_log(data_dir: Path) -> list[dict]:
    """The import log, oldest first (an unreadable line is skipped, not fatal)."""
    path = Path(data_dir) / IMPORT_LOG
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def current_records(data_dir: Path, dataset: str) -> Path | None:
    """Path of the current records.parquet for a dataset, for importers that merge months."""
    rel = read_manifest(data_dir).get("datasets", {}).get(dataset)
    return Path(data_dir) / rel / "records.parquet" if rel else None
