"""The store: record-level Parquet extracts per dataset, read through DuckDB.

Layout under the data directory (see docs/data.md for every column)::

    manifest.json                    which version of each dataset is current
    <dataset>/<version>/records.parquet         one row per crime / incident / case
    <dataset>/<version>/monthly.parquet         pre-aggregated counts (no interactive query scans records)
    <dataset>/<version>/coverage.parquet        the months the dataset holds (missing is not zero)
    <dataset>/<version>/reconciliation.parquet  rows read = loaded + outside area + unallocated + rejected
    <dataset>/<version>/rejected.parquet        rejected rows, each with its reason
    geography/*.csv, measures.csv, ...          editable lookups

Writers build a whole new version directory aside and then swap `manifest.json` with an
atomic rename, so a reader sees the old store or the new one, never half of one, and a
failed import leaves the old store untouched.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from queries import datasets, geography
from queries.datasets import SensitiveData, refuse_sensitive  # noqa: F401  (kept importable from here)

# The store datasets and which are sensitive come from the dataset registry.
DATASETS = tuple(datasets.stored())
MANIFEST = "manifest.json"
TABLES = ("records", "monthly", "coverage", "reconciliation", "rejected")
# Old versions kept after a swap, so a worker still reading one is not cut off.
VERSIONS_KEPT = 2

MONTHLY_COLUMNS = ["measure", "month", "ward_code", "neighbourhood", "csp", "parent", "location", "count"]


class StoreError(RuntimeError):
    """The store is missing or unreadable; the message says which file."""


SENSITIVE_DATASETS = datasets.sensitive()


# --------------------------------------------------------------------------- reading


class Store:
    """A read-only view of the data directory: one in-memory DuckDB per process.

    The monthly aggregates are loaded into memory (they are small); record tables stay
    as views over Parquet. `refresh()` reloads when the manifest changed, so a running
    dashboard picks up a finished import without a restart.
    """

    def __init__(self, data_dir: Path | str):
        self.data_dir = Path(data_dir)
        self._lock = threading.Lock()
        self._manifest_stamp: tuple | None = None
        self._pid = os.getpid()
        self.con: duckdb.DuckDBPyConnection | None = None
        self.datasets: dict[str, Path] = {}
        self.refresh()

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
            self._pid, self._manifest_stamp, self.con = os.getpid(), None, None
        if stamp == self._manifest_stamp and self.con is not None:
            return
        with self._lock:
            if stamp == self._manifest_stamp and self.con is not None:
                return
            self._load(stamp)

    def _load(self, stamp) -> None:
        manifest = read_manifest(self.data_dir)
        con = duckdb.connect(":memory:")
        datasets = {}
        for dataset, rel in manifest.get("datasets", {}).items():
            folder = self.data_dir / rel
            if not (folder / "monthly.parquet").exists():
                raise StoreError(f"{folder / 'monthly.parquet'} is missing: rebuild or re-import {dataset}")
            datasets[dataset] = folder
            for table in TABLES:
                path = folder / f"{table}.parquet"
                if path.exists():
                    con.execute(
                        f"CREATE VIEW {dataset}_{table} AS SELECT * FROM read_parquet({sql_string(path)})"
                    )
        monthly = [
            f"SELECT '{d}' AS dataset, {', '.join(MONTHLY_COLUMNS)} FROM read_parquet({sql_string(f / 'monthly.parquet')})"
            for d, f in datasets.items()
        ]
        if monthly:
            con.execute("CREATE TABLE monthly AS " + " UNION ALL ".join(monthly))
        else:
            con.execute(
                "CREATE TABLE monthly (dataset VARCHAR, measure VARCHAR, month DATE, ward_code VARCHAR, "
                "neighbourhood VARCHAR, csp VARCHAR, parent VARCHAR, location VARCHAR, count BIGINT)"
            )
        coverage = [
            f"SELECT '{d}' AS dataset, month FROM read_parquet({sql_string(f / 'coverage.parquet')})"
            for d, f in datasets.items()
        ]
        con.execute(
            "CREATE TABLE coverage AS " + " UNION ALL ".join(coverage)
            if coverage
            else "CREATE TABLE coverage (dataset VARCHAR, month DATE)"
        )
        areas = geography.ward_areas(self.data_dir)
        con.register("areas_df", areas)
        con.execute("CREATE TABLE areas AS SELECT * FROM areas_df")
        con.unregister("areas_df")
        old, self.con = self.con, con
        self._cache = {}
        self.datasets = datasets
        self.manifest = manifest
        self._manifest_stamp = stamp
        if old is not None:
            old.close()

    # -- querying
    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run parameterised SQL on a per-call cursor (DuckDB connections are not thread-safe)."""
        self.refresh()
        cursor = self.con.cursor()
        try:
            return cursor.execute(sql, params or []).df()
        finally:
            cursor.close()

    def cached(self, key: tuple, compute):
        """Memoise a small lookup (measure list, months held) until the store is reloaded."""
        self.refresh()
        cache = self._cache
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def has(self, dataset: str) -> bool:
        self.refresh()
        return dataset in self.datasets

    def is_synthetic(self, dataset: str) -> bool:
        self.refresh()
        return bool(self.manifest.get("synthetic", {}).get(dataset, False))

    def source(self, dataset: str) -> str:
        self.refresh()
        return self.manifest.get("sources", {}).get(dataset, "")


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


# --------------------------------------------------------------------------- writing


@contextmanager
def write_lock(data_dir: Path):
    """One writer at a time per data directory; readers never wait."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_version_dir(data_dir: Path, dataset: str) -> Path:
    """A fresh, hidden staging folder for a dataset's next version."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    folder = Path(data_dir) / dataset / f".staging-{stamp}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    return folder


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False, compression="zstd")


def monthly_select(measure_sql: str) -> str:
    """The aggregation every dataset shares: its measures per ward and month, with the area hierarchy.

    `measure_sql` is the dataset's own SELECT over a relation named `records` returning
    (measure, month, ward_code, location); one record may count in several measures
    (a deliberate primary fire is also a deliberate fire), so it may UNION several selects.
    A relation named `areas` (geography.ward_areas) must be visible too.
    """
    return f"""
        SELECT m.measure, m.month, m.ward_code, a.neighbourhood, a.csp, a.parent, m.location, count(*) AS count
        FROM ({measure_sql}) AS m
        LEFT JOIN areas AS a ON a.ward_code = m.ward_code
        GROUP BY ALL
        ORDER BY m.measure, m.month, a.csp, a.neighbourhood, m.ward_code, m.location
    """


def aggregate_records(records: pd.DataFrame, measure_sql: str, areas: pd.DataFrame) -> pd.DataFrame:
    """The monthly table for records held in memory (tests and tools), by exactly the store's SQL."""
    con = duckdb.connect(":memory:")
    try:
        con.register("records", records)
        con.register("areas", areas)
        return con.execute(monthly_select(measure_sql)).df()
    finally:
        con.close()


def build_monthly(folder: Path, data_dir: Path, measure_sql: str) -> None:
    """Aggregate a version's records.parquet into its monthly.parquet."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"CREATE VIEW records AS SELECT * FROM read_parquet({sql_string(folder / 'records.parquet')})")
        con.register("areas", geography.ward_areas(data_dir))
        con.execute(
            f"COPY ({monthly_select(measure_sql)}) TO {sql_string(folder / 'monthly.parquet')} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
    finally:
        con.close()


def publish(data_dir: Path, dataset: str, folder: Path, source: str, synthetic: bool) -> Path:
    """Make a staged version current by an atomic swap of the manifest.

    Call inside `write_lock`. The staging folder must already hold every table.
    """
    data_dir = Path(data_dir)
    missing = [t for t in ("records", "monthly", "coverage") if not (folder / f"{t}.parquet").exists()]
    if missing:
        raise StoreError(f"{folder}: cannot publish {dataset}, missing {', '.join(missing)}")
    final = folder.with_name(folder.name.removeprefix(".staging-"))
    os.rename(folder, final)
    manifest = read_manifest(data_dir)
    manifest.setdefault("datasets", {})[dataset] = str(final.relative_to(data_dir))
    manifest.setdefault("sources", {})[dataset] = source
    manifest.setdefault("synthetic", {})[dataset] = synthetic
    manifest["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    tmp = data_dir / f".{MANIFEST}.{uuid.uuid4().hex[:6]}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    with open(tmp) as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, data_dir / MANIFEST)
    _prune(data_dir, dataset, keep=final.name)
    return final


def _prune(data_dir: Path, dataset: str, keep: str) -> None:
    """Delete stale staging folders and all but the newest few versions."""
    root = Path(data_dir) / dataset
    versions = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in versions[VERSIONS_KEPT:]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)


def current_records(data_dir: Path, dataset: str) -> Path | None:
    """Path of the current records.parquet for a dataset, for importers that merge months."""
    rel = read_manifest(data_dir).get("datasets", {}).get(dataset)
    return Path(data_dir) / rel / "records.parquet" if rel else None
