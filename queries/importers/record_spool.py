"""A record importer's accepted records on disk, not in memory, from the first batch to the publish (issue 9).

The MARAC, hate crime and fire importers check their files batch by batch (csv_stream). What a
batch keeps goes here at once, so an import's memory is one batch plus a bounded buffer,
whatever the size of its files. Why it is built this way:

* Records are written as Parquet parts already split by month (`raw/ym=YYYY-MM/part-<n>.parquet`),
  each record numbered in reading order (`_seq`: file by file, line by line). The checks that need
  every file read first - duplicates across batches and files, ids the store already holds - run
  in DuckDB over the parts within the store's memory limit (store_writer.bounded_connection),
  spilling to disk rather than growing, and only their answers (the few records rejected late)
  come back to Python.
* Records rejected late are marked dead by their number; nothing is rewritten for them.
* When the import is ready to publish, each month's parts become one file of that month's live
  records in file order, laid out as the store's partitions are (`records/force=<slug>/ym=YYYY-MM/`):
  a `common.SpooledRecords`, which `common.publish_spooled_import` publishes as the police.uk import
  does - the same shrink guard, reconciliation, quarantine and atomic swap, the records never read
  into pandas. One month at a time, so the write is bounded by the largest month, not the file.
* Buffering SPOOL_ROWS_PER_PART records before writing keeps the parts few (a file read one row
  per batch is not one file per row) while the buffer stays tens of megabytes.
* Rejected rows wait on disk too (`RejectedRows`), with only their counts and each file's first
  rows in memory: a file of millions of bad rows is refused (or published) without holding them.
"""
from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from queries import store_writer
from queries.importers.common import SPOOL_SCHEMA, SpooledRecords, StoreWriteFailed, _write_failure
from queries.store import FORCE_KEY, MONTH_KEY, sql_string

# Records buffered before they are written as parts, one per month (about 25 MB of Arrow for MARAC's
# columns): a file spread over 132 months writes 132 small parts per flush, so fewer flushes matter.
SPOOL_ROWS_PER_PART = 250_000
SEQ = "_seq"
# What every spooled record carries besides its own columns: the file's place in the import and
# the record's first and last physical lines (duplicates name the first; the raw text is fetched by line).
FILE_INDEX, LINE, END = "_file", "_line", "_end"
RAW = "raw"
RECORDS = "records"
# The spooled parts' codec; the store's partitions use it too, and the final files become them.
COMPRESSION = "zstd"
# The live records, as a relation: every spooled record not marked dead.
ALIVE = f"(SELECT * FROM spooled WHERE {SEQ} NOT IN (SELECT {SEQ} FROM dead))"


def nothing_to_import_message(names: list[str]) -> str:
    """What publish_import says when every file was empty (the files named, issue 9 part 7)."""
    names = sorted({Path(str(n)).name for n in names})
    return "no rows to import: every file was empty" + (f" (only a header line, no rows: {', '.join(names)})" if names else "")


class RecordSpool:
    """Accepted records of one import, spooled by month under the store's write lock (see module doc).

    `folder` is a fresh `store_writer.new_spool_dir`: the caller holds the lock and removes it
    when the import ends (a killed import's is removed by the next writer).
    """

    def __init__(self, folder: Path, data_dir: Path):
        self.folder = Path(folder)
        self.data_dir = Path(data_dir)
        self.rows = 0  # records added
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._parts = 0
        self._schema: pa.Schema | None = None
        self._dead: list[np.ndarray] = []
        self._con: duckdb.DuckDBPyConnection | None = None

    # ------------------------------------------------------------------ writing

    def add(self, table: pa.Table) -> None:
        """Spool one batch's kept records (with a `month` column); they are numbered in the order added."""
        n = table.num_rows
        table = table.append_column(SEQ, pa.array(np.arange(self.rows, self.rows + n, dtype=np.int64)))
        self.rows += n
        if self._schema is None:
            self._schema = table.schema
        if n:
            self._pending.append(table)
            self._pending_rows += n
        if self._pending_rows >= SPOOL_ROWS_PER_PART:
            self.flush()

    def flush(self) -> None:
        """Write the buffered records, one part per month (a disk refusing them is the store's write failure)."""
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        try:
            months = pc.strftime(pc.cast(table["month"], pa.timestamp("s")), format="%Y-%m")
            order = pc.sort_indices(pa.table({"m": months, "s": table[SEQ]}), sort_keys=[("m", "ascending"),
                                                                                         ("s", "ascending")])
            table, months = table.take(order), months.take(order)
            counts = pc.value_counts(months)
            start = 0
            for item in sorted(counts.to_pylist(), key=lambda i: i["values"]):
                folder = self.folder / RAW / f"{MONTH_KEY}={item['values']}"
                folder.mkdir(parents=True, exist_ok=True)
                _write(table.slice(start, item["counts"]), folder / f"part-{self._parts:06d}.parquet")
                start += item["counts"]
            self._parts += 1
        except OSError as exc:
            raise StoreWriteFailed(_write_failure(self.data_dir, exc)) from None

    # ------------------------------------------------------------------ reading back

    @property
    def empty(self) -> bool:
        return self.rows == 0

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """A bounded DuckDB seeing the spooled records as `spooled` and the dead ones' numbers as `dead`."""
        if self._con is None:
            self.flush()
            self._con = store_writer.bounded_connection(self.folder / store_writer.DUCKDB_TEMP_FOLDER)
            pattern = sql_string(self.folder / RAW / "*" / "*.parquet")
            self._con.execute(f"CREATE VIEW spooled AS SELECT * FROM read_parquet({pattern}, hive_partitioning=false)")
            self._register_dead()
        return self._con

    def _register_dead(self) -> None:
        seqs = np.concatenate(self._dead) if self._dead else np.empty(0, np.int64)
        self.con.register("dead", pa.table({SEQ: pa.array(seqs.astype(np.int64))}))

    def kill(self, seqs) -> None:
        """Mark records dead (rejected after every file was read): they are not published."""
        seqs = np.asarray(list(seqs), dtype=np.int64)
        if len(seqs):
            self._dead.append(seqs)
            if self._con is not None:
                self._register_dead()

    @property
    def dead(self) -> int:
        return int(sum(len(d) for d in self._dead))

    def query(self, sql: str, **tables) -> pa.Table:
        """A SELECT over `alive` (the live records: {alive} in `sql`), `spooled` and `dead`; small results only."""
        if self.empty:
            raise LookupError("no records spooled")
        for name, table in tables.items():
            self.con.register(name, table)
        try:
            return self.con.sql(sql.replace("{alive}", ALIVE)).to_arrow_table()
        except duckdb.IOException as exc:  # a spill the disk refused: the store's write failure, not a crash
            raise StoreWriteFailed(_write_failure(self.data_dir, exc)) from None
        finally:
            for name in tables:
                self.con.unregister(name)

    def duplicates(self, keys: list[str]) -> list[tuple[int, int, int]]:
        """(number, first's file index, first's line) of every live record whose keys an earlier live record has.

        Grouped, not windowed, so DuckDB spills rather than grows on millions of keys; a NULL key
        equals a NULL key, as rows grouped by value would."""
        if self.empty:
            return []
        same = " AND ".join(f"c.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)
        listed = ", ".join(keys)
        rows = self.query(
            f"WITH c AS (SELECT {listed}, {SEQ}, {FILE_INDEX}, {LINE} FROM {{alive}}), "
            f"d AS (SELECT {listed}, min({SEQ}) AS first FROM c GROUP BY ALL HAVING count(*) > 1) "
            f"SELECT c.{SEQ} AS seq, f.{FILE_INDEX} AS file, f.{LINE} AS line FROM c JOIN d ON {same} "
            f"JOIN c AS f ON f.{SEQ} = d.first WHERE c.{SEQ} <> d.first ORDER BY c.{SEQ}"
        )
        return list(zip(*(rows[c].to_pylist() for c in ("seq", "file", "line"))))

    def months(self) -> set:
        """Months of the live records."""
        if self.empty:
            return set()
        return set(self.query("SELECT DISTINCT month FROM {alive} WHERE month IS NOT NULL")["month"].to_pylist())

    def rows_of(self, seqs: list[int], columns: list[str]) -> dict[int, dict]:
        """Some records' columns, by number (rows rejected late, for the quarantine)."""
        if not seqs:
            return {}
        found = self.query(f"SELECT {SEQ}, {', '.join(columns)} FROM spooled WHERE {SEQ} IN (SELECT {SEQ} FROM wanted)",
                           wanted=pa.table({SEQ: pa.array(seqs, pa.int64())}))
        values = {c: found[c].to_pylist() for c in columns}
        return {seq: {c: values[c][i] for c in columns} for i, seq in enumerate(found[SEQ].to_pylist())}

    # ------------------------------------------------------------------ publishing

    def records(self, columns: list[str], force: str) -> SpooledRecords:
        """The live records as the store's partitions (`records/force=<force>/ym=YYYY-MM/`), one file a month in
        reading order, for common.publish_spooled_import; the raw parts are removed as each month is written."""
        target = self.folder / RECORDS
        target.mkdir(parents=True, exist_ok=True)
        listed = ", ".join(columns)
        try:
            if self._schema is not None:  # an empty file with the records' columns, for a publish of no records
                empty = pa.table({c: pa.array([], type=_plain(self._schema.field(c).type)) for c in columns})
                _write(empty, target / SPOOL_SCHEMA)
            if not self.empty:
                con = self.con
                for month_dir in sorted((self.folder / RAW).glob(f"{MONTH_KEY}=*")):
                    destination = target / f"{FORCE_KEY}={force}" / month_dir.name
                    destination.mkdir(parents=True, exist_ok=True)
                    parts = sql_string(month_dir / "*.parquet")
                    con.execute(
                        f"COPY (SELECT {listed} FROM read_parquet({parts}, hive_partitioning=false) "
                        f"WHERE {SEQ} NOT IN (SELECT {SEQ} FROM dead) ORDER BY {SEQ}) "
                        f"TO {sql_string(destination / 'part_0.parquet')} (FORMAT parquet, COMPRESSION {COMPRESSION})"
                    )
                    if not pq.read_metadata(destination / "part_0.parquet").num_rows:  # every record there was dead
                        shutil.rmtree(destination)
                    shutil.rmtree(month_dir)
        except (OSError, duckdb.IOException) as exc:
            raise StoreWriteFailed(_write_failure(self.data_dir, exc)) from None
        finally:
            self.close()
        return SpooledRecords(self.folder)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def _plain(kind: pa.DataType) -> pa.DataType:
    """A dictionary column is stored as its values (the store's records hold plain strings)."""
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def _write(table: pa.Table, path: Path) -> None:
    """pq.write_table into a file opened and always closed here (a refused write leaves no open handle)."""
    with pa.OSFile(str(path), "wb") as sink:
        pq.write_table(table, sink, compression=COMPRESSION)


class RejectedRows:
    """The rows a record import rejects while reading, on disk beside the spooled records, not in memory.

    Each batch's rejected rows (with their raw text) are written as a Parquet part at once; what
    stays in memory is small: rows per file and month, and each file's first few rows (for the
    messages that name them). They are read back only for the files that can be published: a file
    more than common.REJECTED_LIMIT rejected is refused by the shrink guard unless the import was
    told --replace-smaller, so for it only its first row is read back (as police.uk does), and a
    200 MB file of bad rows costs no more memory than a good one.
    """

    def __init__(self, folder: Path, data_dir: Path, file_key: str, line_key: str = "line", kept: int = 5):
        self.folder = Path(folder) / "rejected"
        self.data_dir = Path(data_dir)
        self.file_key, self.line_key, self.kept = file_key, line_key, kept
        self.counts: dict = {}  # (file, month or None) -> rows
        self.first: dict = {}  # file -> its first `kept` rows by (line, reason), as a frame
        self._parts: dict = {}  # file -> its parts
        self._number = 0

    def add(self, frame: pd.DataFrame) -> None:
        """Spool one batch's rejected rows (a pandas frame with the file key, line, reason, raw, month)."""
        if not len(frame):
            return
        for (file, month), n in frame.groupby([self.file_key, frame["month"].map(_month_or_none)], dropna=False,
                                              sort=False).size().items():
            key = (file, None if month is None or month != month else month)
            self.counts[key] = self.counts.get(key, 0) + int(n)
        for file, rows in frame.groupby(self.file_key, sort=False):
            mine = pd.concat([self.first[file], rows], ignore_index=True) if file in self.first else rows
            self.first[file] = mine.sort_values([self.line_key, "reason"], kind="stable").head(self.kept) \
                .reset_index(drop=True)
            path = self.folder / f"part-{self._number:06d}.parquet"
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                with open(path, "wb") as sink:  # closed even when the disk refuses the write
                    rows.astype({"month": "object"}).to_parquet(sink, index=False)
            except OSError as exc:
                raise StoreWriteFailed(_write_failure(self.data_dir, exc)) from None
            self._parts.setdefault(file, []).append(path)
            self._number += 1

    def total(self, file) -> int:
        return sum(n for (f, _), n in self.counts.items() if f == file)

    def rows(self, file) -> pd.DataFrame | None:
        """Every rejected row of one file, read back from its parts (file order)."""
        frames = [pd.read_parquet(part) for part in self._parts.get(file, [])]
        return pd.concat(frames, ignore_index=True) if frames else None


def _month_or_none(month):
    return None if month is None or month != month else month


@contextlib.contextmanager
def spool_session(data_dir: Path, dataset: str, file_column: str, kept: int) -> Iterator[tuple[RecordSpool, RejectedRows]]:
    """The store's write lock, a fresh spool folder with its record spool and rejected rows, for the
    whole of one record import (MARAC, hate, fire); the folder goes when the block ends.

    The lock is held throughout because the spool lives in the dataset's folder, which the lock's
    cleaning clears of a killed import's leftovers. A disk that refuses the spool is the one clean
    failure (`StoreWriteFailed`, exit 3) every importer gives."""
    data_dir = Path(data_dir)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(store_writer.write_lock(data_dir))
            folder = store_writer.new_spool_dir(data_dir, dataset)
        except OSError as exc:
            raise StoreWriteFailed(_write_failure(data_dir, exc)) from None
        stack.callback(shutil.rmtree, folder, True)
        spool = RecordSpool(folder, data_dir)
        stack.callback(spool.close)
        yield spool, RejectedRows(folder, data_dir, file_column, kept=kept)
