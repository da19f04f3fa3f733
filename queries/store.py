"""The store, read side: record-level Parquet extracts per dataset, read through DuckDB.

Layout under the data directory (see docs/data.md for every column)::

    manifest.json                    which version of each dataset is current
    .versions/<token>.json           every recent manifest, by version token (readers pin one)
    import-log.jsonl                 append-only log of imports and rollbacks
    <dataset>/<version>/records.parquet         one row per crime / incident / case (a file, or ym=YYYY-MM/ partitions)
    <dataset>/<version>/monthly.parquet         pre-aggregated counts (no interactive query scans records; likewise)
    <dataset>/<version>/coverage.parquet        the months the dataset holds (missing is not zero)
    <dataset>/<version>/monthly-sorted/         the partitioned monthly rows, one sorted file a month (queries/monthly_file.py)
    <dataset>/<version>/limits-<fp>.parquet     every series' limits, every month (queries/limits_table.py)
    <dataset>/<version>/reconciliation.parquet  per file and month held: rows read = loaded + outside area + unallocated + rejected
    <dataset>/<version>/rejected.parquet        rejected rows, each with its reason
    <dataset>/<version>/version.json            source, synthetic flag and time of the version (for rollback)
    geography/*.csv, measures.csv, ...          editable lookups

Writers (queries/store_writer.py) build a whole new version directory aside and then swap
`manifest.json` with an atomic rename, so a reader sees the old store or the new one, never
half of one, and a failed import leaves the old store untouched.

Readers answer from one version: `Store.snapshot()` (or `Store.at(token)`) returns a
`StoreVersion` bound to one manifest, with the same `query`/`cached`/`has` methods, so a
page (or a CLI command) that draws every figure from that object can never mix two
versions, however many swaps happen while it runs. `Store.pin(version)` binds the plain
`Store` methods to one version for the current thread (one HTTP request).
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from queries import datasets, geography, owners
from queries.datasets import SensitiveData, refuse_sensitive  # noqa: F401  (kept importable from here)

# The store datasets and which are sensitive come from the dataset registry.
DATASETS = tuple(datasets.stored())
MANIFEST = "manifest.json"
# Copies of recent manifests, by token, so a page pinned to a superseded version can still read it.
VERSIONS_FOLDER = ".versions"
TABLES = ("records", "monthly", "coverage", "reconciliation", "rejected")
# The monthly table is loaded into each worker's memory up to this many rows (Derbyshire's
# ten years: about 0.5 M, some 60 MB in DuckDB); above it (a regional or national store) queries
# read its sorted Parquet copy, one file a month (queries/monthly_file.py) instead, so no worker's memory grows with
# the store. (It was 3 M: a 43-force store of 2.7 M rows was then held whole in every worker.)
MONTHLY_IN_MEMORY_ROWS = 1_000_000
# Versions a process keeps open at once (the current one and pages still pinned to older ones).
OPEN_VERSIONS = 4
# Small results a version memoises (measure lists, months held, a board walk): the most recently
# used this many. Bounded, because some keys carry request values (a month, a k) and a worker's
# memory must not grow with the requests it has answered.
CACHED_RESULTS = 256
# DuckDB's cache of Parquet footers. Bounded by what a version's queries read: the sorted monthly
# copy (a file a month) and the limits files; not the records' partitions (see StoreVersion).
FOOTER_CACHE = "parquet_metadata_cache"

MONTHLY_COLUMNS = ["measure", "month", "ward_code", "neighbourhood", "csp", "parent", "location", "force", "count"]
# Tables whose rows belong to a force: read filtered to the store's own force(s).
FORCE_TABLES = ("records", "monthly")
# Partition keys of importers' records and monthly tables: `force=<slug>/ym=YYYY-MM/`.
FORCE_KEY = "force"
MONTH_KEY = "ym"

# Writing lives in queries/store_writer.py; these names are still reachable as `store.<name>`
# so callers written before the split (demo builders, tools) keep working.
_WRITER_NAMES = {
    "write_lock", "new_version_dir", "write_parquet", "monthly_select", "aggregate_records", "build_monthly",
    "publish", "current_records", "VERSIONS_KEPT", "rollback",
}


def __getattr__(name: str):
    if name in _WRITER_NAMES:
        from queries import store_writer

        return getattr(store_writer, name)
    raise AttributeError(f"module 'queries.store' has no attribute {name!r}")


class StoreError(RuntimeError):
    """The store is missing or unreadable; the message says which file."""


SENSITIVE_DATASETS = datasets.sensitive()


def version_token(manifest: dict) -> str:
    """A short name for one store version: the same manifest gives the same token in every process."""
    canonical = json.dumps(
        {k: manifest.get(k) for k in ("datasets", "sources", "synthetic", "updated")}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- one version


class StoreVersion:
    """One version of the store: an in-memory DuckDB over the files one manifest names.

    A force's monthly aggregates are loaded into memory (up to MONTHLY_IN_MEMORY_ROWS; a
    national store's stay a view over its sorted per-month Parquet copy), as are its limits table (queries/limits_table.py,
    up to its IN_MEMORY_ROWS, on first use); record tables always stay views over Parquet, and
    the only other things held are small: months held, the area list and the bounded result
    cache. Nothing here ever changes after loading, so every query on one StoreVersion reads
    the same data.
    """

    def __init__(self, data_dir: Path, manifest: dict, token: str | None = None):
        self.data_dir = Path(data_dir)
        self.manifest = manifest
        self.token = token or version_token(manifest)
        self._cache: OrderedDict = OrderedDict()
        self._cache_lock = threading.Lock()
        self.monthly_in_memory = True
        from queries import monthly_file  # it reads through this module's parquet_source

        con = duckdb.connect(":memory:")
        # The views are created with the footer cache off: creating a partitioned table's view reads
        # every partition's footer (union_by_name), and a national store's records are 2,064 partitions
        # whose footers (38 MiB) no page needs again. The cache is on from the first query (below).
        # GLOBAL: the setting is per session, and every query runs on a cursor (a session of its own)
        # that takes the database's global value, not the value SET on `con`.
        con.execute(f"SET GLOBAL {FOOTER_CACHE} = false")
        datasets = {}
        # Only the store's own force(s) count: another force's rows (imported with
        # --allow-other-forces) are kept under their own key and never reach a total.
        self.forces = owners.owner_slugs(self.data_dir)
        own = f"{FORCE_KEY} IN {owners.sql_list(self.forces)}"
        default = sql_string(self.forces[0])
        for dataset, rel in manifest.get("datasets", {}).items():
            folder = self.data_dir / rel
            if not (folder / "monthly.parquet").exists():
                con.close()
                raise StoreError(f"{folder / 'monthly.parquet'} is missing: rebuild or re-import {dataset}")
            datasets[dataset] = folder
            for table in TABLES:
                path = folder / f"{table}.parquet"
                if path.exists():
                    sorted_copy = monthly_file.ensure(folder) if table == "monthly" else None
                    source = parquet_source(sorted_copy or path)
                    if table in FORCE_TABLES:
                        # Force-month partitions carry the force in their folder names; tables written
                        # before stores were keyed by force are the store's own force's.
                        keyed = has_force_partitions(path) or has_column(con, source, FORCE_KEY)
                        source = (f"(SELECT * FROM {source} WHERE {own})" if keyed
                                  else f"(SELECT *, {default} AS {FORCE_KEY} FROM {source})")
                    con.execute(f"CREATE VIEW {dataset}_{table} AS SELECT * FROM {source}")
        monthly = [
            f"SELECT '{d}' AS dataset, {', '.join(MONTHLY_COLUMNS)} FROM {d}_monthly" for d in datasets
        ]
        if monthly:
            union = " UNION ALL ".join(monthly)
            rows = con.execute(f"SELECT count(*) FROM ({union})").fetchone()[0]  # from Parquet metadata: no scan
            # Small (a force's store): held in memory, fastest. Large (a national store): a view over
            # the Parquet, scanned with filters pushed down, so a worker's memory does not grow with the store.
            kind = "TABLE" if rows <= MONTHLY_IN_MEMORY_ROWS else "VIEW"
            con.execute(f"CREATE {kind} monthly AS {union}")
            self.monthly_in_memory = kind == "TABLE"
        else:
            con.execute(
                "CREATE TABLE monthly (dataset VARCHAR, measure VARCHAR, month DATE, ward_code VARCHAR, "
                "neighbourhood VARCHAR, csp VARCHAR, parent VARCHAR, location VARCHAR, force VARCHAR, count BIGINT)"
            )
        coverage = []
        for d, f in datasets.items():
            source = f"read_parquet({sql_string(f / 'coverage.parquet')})"
            keyed = has_column(con, source, FORCE_KEY)
            # Per force: a month one force holds is not held for another (its gap must stay a gap).
            coverage.append(f"SELECT DISTINCT '{d}' AS dataset, {FORCE_KEY}, month FROM {source} WHERE {own}" if keyed
                            else f"SELECT DISTINCT '{d}' AS dataset, {default} AS {FORCE_KEY}, month FROM {source}")
        con.execute(
            "CREATE TABLE coverage AS " + " UNION ALL ".join(coverage)
            if coverage
            else f"CREATE TABLE coverage (dataset VARCHAR, {FORCE_KEY} VARCHAR, month DATE)"
        )
        areas = geography.ward_areas(self.data_dir)
        con.register("areas_df", areas)
        con.execute("CREATE TABLE areas AS SELECT * FROM areas_df")
        con.unregister("areas_df")
        # Parquet footers read once per version, not at every query: the sorted monthly copy and the
        # limits table's files are then parsed once, however often a page asks.
        con.execute(f"SET GLOBAL {FOOTER_CACHE} = true")
        self.con = con
        self.datasets: dict[str, Path] = datasets

    def refresh(self) -> None:
        """A version never changes; kept so code written for `Store` runs unchanged on a version."""

    def snapshot(self) -> "StoreVersion":
        return self

    def query(self, sql: str, params: list | None = None, cache_footers: bool = True) -> pd.DataFrame:
        """Run parameterised SQL on a per-call cursor (DuckDB connections are not thread-safe).

        `cache_footers=False` for a query over tables no page reads again (the record count the
        Data tab memoises once per version): their footers are read and dropped, not kept in the
        worker (set for this cursor's session only, so other queries are unaffected)."""
        cursor = self.con.cursor()
        try:
            if not cache_footers:
                cursor.execute(f"SET SESSION {FOOTER_CACHE} = false")
            return cursor.execute(sql, params or []).df()
        finally:
            cursor.close()

    def cached(self, key: tuple, compute):
        """Memoise a small result (measure list, months held, a board walk) for this version:
        the CACHED_RESULTS most recently used. Never a national-size table: those stay in Parquet."""
        cache = self._cache
        with self._cache_lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        value = compute()
        with self._cache_lock:
            value = cache.setdefault(key, value)
            cache.move_to_end(key)
            while len(cache) > CACHED_RESULTS:
                cache.popitem(last=False)
        return value

    def has(self, dataset: str) -> bool:
        return dataset in self.datasets

    def is_synthetic(self, dataset: str) -> bool:
        return bool(self.manifest.get("synthetic", {}).get(dataset, False))

    def source(self, dataset: str) -> str:
        return self.manifest.get("sources", {}).get(dataset, "")


# --------------------------------------------------------------------------- the process's view


class Store:
    """A read-only view of the data directory, one per process.

    `refresh()` loads the current version when the manifest changed, so a running
    dashboard picks up a finished import without a restart. Its query methods read the
    current version at each call (or the version pinned to this thread by `pin`); code
    that must not mix versions across several calls takes one `snapshot()` and uses it.
    """

    def __init__(self, data_dir: Path | str, *, open_now: bool = True):
        """`open_now=False` opens no DuckDB connection until the first query (or `refresh()`): how
        gunicorn's preloading master builds the app without a connection crossing the fork into its
        workers (gunicorn.conf.py). The manifest is still read now, so a broken one fails at start."""
        self.data_dir = Path(data_dir)
        self._lock = threading.Lock()
        self._manifest_stamp: tuple | None = None
        self._pid = os.getpid()
        self._current: StoreVersion | None = None
        self._open: OrderedDict[str, StoreVersion] = OrderedDict()
        self._local = threading.local()
        if open_now:
            self.refresh()
        else:
            read_manifest(self.data_dir)

    @property
    def is_open(self) -> bool:
        """Whether this process holds a DuckDB connection on the store (one must never cross a fork)."""
        return self._current is not None or bool(self._open)

    # -- loading
    def _stamp(self) -> tuple | None:
        try:
            st = (self.data_dir / MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def refresh(self) -> None:
        """Reload if the manifest changed, or if this is a forked child (a DuckDB connection must not cross a fork)."""
        stamp = self._stamp()
        if os.getpid() != self._pid:
            self._pid, self._manifest_stamp, self._current = os.getpid(), None, None
            self._open = OrderedDict()
        if stamp == self._manifest_stamp and self._current is not None:
            return
        with self._lock:
            if stamp == self._manifest_stamp and self._current is not None:
                return
            manifest = read_manifest(self.data_dir)
            token = version_token(manifest)
            version = self._open.get(token) or StoreVersion(self.data_dir, manifest, token)
            self._remember(version)
            # Old versions are not closed here: a request still reading one finishes on it,
            # and DuckDB closes it when the last reference goes.
            self._current = version
            self._manifest_stamp = stamp

    def _remember(self, version: StoreVersion) -> None:
        self._open[version.token] = version
        self._open.move_to_end(version.token)
        while len(self._open) > OPEN_VERSIONS:
            self._open.popitem(last=False)

    def snapshot(self) -> StoreVersion:
        """The current version, fixed: every query on it reads that one version."""
        pinned = getattr(self._local, "version", None)
        if pinned is not None:
            return pinned
        self.refresh()
        return self._current

    def at(self, token: str | None) -> StoreVersion:
        """The version a page was drawn from, by its token; the current one if the token is unknown or gone.

        A caller compares the returned `.token` with the one it asked for: a different
        token means the asked-for version is no longer kept ("newer data available").
        """
        current = self.snapshot()
        if not token or not isinstance(token, str) or token == current.token:
            return current
        with self._lock:
            found = self._open.get(token)
        if found is not None:
            return found
        if not all(c in "0123456789abcdef" for c in token) or len(token) != len(current.token):
            return current
        path = self.data_dir / VERSIONS_FOLDER / f"{token}.json"
        try:
            manifest = json.loads(path.read_text())
            version = StoreVersion(self.data_dir, manifest, token)
        except (OSError, json.JSONDecodeError, StoreError, duckdb.Error):
            return current  # pruned: the caller sees a newer token
        with self._lock:
            self._remember(version)
        return version

    @contextmanager
    def pin(self, version: StoreVersion | None = None):
        """Within this block, this thread's `Store.query`/`cached`/`has`/... all read one version."""
        previous = getattr(self._local, "version", None)
        self._local.version = version or self.snapshot()
        try:
            yield self._local.version
        finally:
            self._local.version = previous

    # -- the current (or pinned) version's view, for code written before snapshots
    @property
    def token(self) -> str:
        return self.snapshot().token

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.snapshot().con

    @property
    def datasets(self) -> dict[str, Path]:
        return self.snapshot().datasets

    @property
    def manifest(self) -> dict:
        return self.snapshot().manifest

    def query(self, sql: str, params: list | None = None, cache_footers: bool = True) -> pd.DataFrame:
        return self.snapshot().query(sql, params, cache_footers)

    def cached(self, key: tuple, compute):
        return self.snapshot().cached(key, compute)

    def has(self, dataset: str) -> bool:
        return self.snapshot().has(dataset)

    def is_synthetic(self, dataset: str) -> bool:
        return self.snapshot().is_synthetic(dataset)

    def source(self, dataset: str) -> str:
        return self.snapshot().source(dataset)


def parquet_source(path: Path) -> str:
    """A table that is one file, or a folder of force-month partitions, as a relation for FROM.

    Importers write records and monthly tables partitioned by force and month
    (`force=<slug>/ym=YYYY-MM/*.parquet`, hive style), so a new month of one force writes
    only its own partition (the others are hard links to the previous version's files).
    `force` is read back from the folder name (hive partitioning, so a filter on it skips
    other forces' folders unread); the month key `ym` is dropped, as `month` holds it.
    The demo and older stores hold single files, or month-only folders (`ym=YYYY-MM/`):
    read as they are (their rows are the store's own force; see `StoreVersion`).
    """
    path = Path(path)
    if path.is_dir():
        pattern = sql_string(path / "**" / "*.parquet")
        if has_force_partitions(path):
            return (f"(SELECT * EXCLUDE ({MONTH_KEY}) FROM read_parquet({pattern}, hive_partitioning=true, "
                    f"union_by_name=true, hive_types={{'{FORCE_KEY}': VARCHAR, '{MONTH_KEY}': VARCHAR}}))")
        return f"read_parquet({pattern}, hive_partitioning=false, union_by_name=true)"
    return f"read_parquet({sql_string(path)})"


def has_force_partitions(path: Path) -> bool:
    """A table written as `force=<slug>/...` partitions: its rows always carry their force."""
    path = Path(path)
    return path.is_dir() and any(path.glob(f"{FORCE_KEY}=*"))


def has_column(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> bool:
    """Whether a relation (e.g. a parquet_source) has a column: older stores' tables have no `force`."""
    return column in con.execute(f"SELECT * FROM {relation} LIMIT 0").df().columns


def sql_string(path: Path) -> str:
    """A file path as a SQL string literal (paths cannot be bound as view parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def read_manifest(data_dir: Path) -> dict:
    path = Path(data_dir) / MANIFEST
    if not path.exists():
        return {"datasets": {}}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path} is not valid JSON (line {exc.lineno}): {exc.msg}") from None
