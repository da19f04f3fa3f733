"""What every importer shares: month-replacing merge, the shrink guard, reconciliation, quarantine, atomic publish.

An importer parses its files into three frames and hands them to `publish_import` (or, when it
streams, spools its records to Parquet parts and hands them to `publish_spooled_import`, which
runs the same guard, merge and swap without the records ever being in memory whole):

* records: one row per accepted record, with at least record_id, month (date), ward_code,
  location (geography.IN_AREA / OUTSIDE_AREA / NO_LOCATION) and the dataset's own columns;
* rejected: one row per rejected input row: file, line, reason, raw (the original text);
* reconciliation: one row per file and month: file, month, rows_read, loaded,
  outside_area, unallocated, rejected; rows_read must equal the sum of the other four.

Re-importing a month replaces that month (no duplicates); other months are kept. If the
dataset currently holds synthetic demo data, a real import replaces it entirely, so real
and invented figures are never mixed.

The guard, in this one place for every importer: an import that would leave a month it
replaces with much less than the store holds (SHRINK_LIMIT), or in which a file is mostly
rejected rows (REJECTED_LIMIT), stops before writing and says which months and how many
rows; `--replace-smaller` publishes it anyway. A month in the future, or far outside the
months the store holds, is published with a warning naming the file.

The reconciliation and rejected tables of a version describe the data it *holds*: a
replaced month's old reconciliation rows go with its old records. The history of imports
is `import-log.jsonl` (store_writer.append_log).
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pa_dataset
import pyarrow.parquet as pq

from queries import owners, store_writer
from queries.measures import MEASURE_SQL
from queries.store import FORCE_KEY as FORCE, has_column, parquet_source, read_manifest, sql_string

RECONCILIATION_COLUMNS = ["file", "month", "rows_read", "loaded", "outside_area", "unallocated", "rejected"]
# The store's reconciliation, fixed here for every dataset (issue 9):
#   rows_read = loaded + outside_area (outside the owner's area) + another_owner (in an area another
#   owner covers) + unknown_area (an area code no lookup knows) + unallocated (no location) + rejected.
# The owner is the police force for crime and hate crime, the fire and rescue service for fire, the
# MARAC's area for MARAC. Importers that cannot yet tell another owner's area or an unknown code from
# "outside" (they need national geography: issue 8) leave those two at 0.
OWNER_PARTS = ["another_owner", "unknown_area"]
RECONCILED_PARTS = ["loaded", "outside_area", *OWNER_PARTS, "unallocated", "rejected"]
STORED_RECONCILIATION_COLUMNS = ["file", "month", "rows_read", *RECONCILED_PARTS]
REJECTED_COLUMNS = ["file", "line", "reason", "raw"]
# The rejected table is carried from version to version a batch of this many rows at a time.
REJECTED_BATCH_ROWS = 65_536
# A column with no values yet (an import with no rejected rows) is written with these types.
REJECTED_TYPES = {"line": pa.int64()}

# A month held in the store may not lose more than this share of its records in a
# re-import without --replace-smaller (one stray row must not replace 9,162).
SHRINK_LIMIT = 0.20
# A file more than this share of whose rows are rejected is not published without --replace-smaller.
REJECTED_LIMIT = 0.50
# A month this many months before the first or after the last month held is worth a warning
# (a mistyped year: 2052 for 2025).
FAR_OUTSIDE_MONTHS = 36
REPLACE_SMALLER_FLAG = "--replace-smaller"
# Exit code for an import refused because the disk is full or read-only (the old store is live).
EXIT_WRITE_FAILED = 3
MONTHS_LISTED = 12
# A spooled force-month in at most this many parts is published as those parts (renamed into
# the version); one in more (a file that mixes months in every block) is rewritten as one file,
# so a partition never holds hundreds of slivers.
SPOOL_PARTS_KEPT = 8
# Each spooled file's folder holds an empty Parquet file with the records' columns.
SPOOL_SCHEMA = "schema.parquet"


class ImportError_(ValueError):
    """Input that cannot be imported; the message names the file (and line)."""


class ShrinkRefused(ImportError_):
    """The import would replace held months with much less, or most of a file was rejected."""


class StoreWriteFailed(ImportError_):
    """The disk refused the write (full, read-only, no permission); the old store is still live."""

    exit_code = EXIT_WRITE_FAILED


@dataclass
class ImportResult:
    version: Path
    months_replaced: list
    replaced_synthetic: bool
    reconciliation: pd.DataFrame
    quarantine_file: Path | None
    warnings: list[str] = field(default_factory=list)
    pairs: set = field(default_factory=set)  # the (force, month) pairs the import replaced or added


def check_reconciliation(reconciliation: pd.DataFrame) -> None:
    """Refuse to publish numbers that do not add up: nothing may be silently lost."""
    present = [c for c in RECONCILED_PARTS if c in reconciliation]
    parts = reconciliation[present].sum(axis=1)
    bad = reconciliation[parts != reconciliation["rows_read"]]
    if len(bad):
        row = bad.iloc[0]
        raise ImportError_(
            f"{row['file']} {row['month']}: rows read {row['rows_read']} != {' + '.join(present)} "
            f"({parts[bad.index[0]]}); nothing was written"
        )


def held_months(reconciliation: pd.DataFrame) -> set:
    """Months an import vouches for: a file month with no data rows is a real zero (held), but a
    month whose every row was rejected is unknown, not zero, so it is not held."""
    known = reconciliation.dropna(subset=["month"])
    vouched = known[(known["rows_read"] == 0) | (known["rows_read"] > known["rejected"])]
    return set(pd.to_datetime(vouched["month"]).dt.date)


def _month(m) -> str:
    return f"{pd.Timestamp(m):%Y-%m}"


def _files_for(reconciliation: pd.DataFrame, month: date) -> str:
    months = pd.to_datetime(reconciliation["month"]).dt.date
    names = sorted({Path(str(f)).name for f in reconciliation.loc[months == month, "file"]})
    return ", ".join(names) or "?"


def shrink_problems(held: dict, incoming: dict, reconciliation: pd.DataFrame) -> list[str]:
    """Why this import may not publish without --replace-smaller: force-months that would shrink, files mostly rejected.

    `held` and `incoming` map (force, month) -> records (the store's now, and this import's);
    a month is compared per force, so one force's file is never measured against another's month.
    Plain month keys (no force) are accepted too.
    """
    problems = []
    for key in sorted(held, key=str):
        before, after = int(held[key]), int(incoming.get(key, 0))
        force, month = key if isinstance(key, tuple) else (None, key)
        if key in incoming and before > 0 and after < before * (1 - SHRINK_LIMIT):
            problems.append(
                f"{_month(month)}: the store holds {before:,} records, this import has {after:,} "
                f"({(after - before) / before:+.0%}, {f'force {force}, ' if force else ''}from {_files_for(reconciliation, month)})"
            )
    per_file = reconciliation.groupby("file", sort=False)[["rows_read", "rejected"]].sum()
    for name, row in per_file.iterrows():
        if row["rows_read"] and row["rejected"] > REJECTED_LIMIT * row["rows_read"]:
            problems.append(f"{name}: {int(row['rejected']):,} of {int(row['rows_read']):,} rows rejected "
                            f"(more than {REJECTED_LIMIT:.0%})")
    return problems


def month_warnings(months: list[date], held: list[date], reconciliation: pd.DataFrame, today: date | None = None) -> list[str]:
    """Months in the future, or far outside the months the store holds: published, but said out loud."""
    today = today or date.today()
    this_month = date(today.year, today.month, 1)
    warnings = []
    first, last = (min(held), max(held)) if held else (None, None)

    def gap(a: date, b: date) -> int:
        return (b.year - a.year) * 12 + b.month - a.month

    for month in sorted(months):
        files = _files_for(reconciliation, month)
        if month > this_month:
            warnings.append(f"{files}: {_month(month)} is in the future (today is {today:%Y-%m-%d}); is the date right?")
        elif first is not None and (gap(month, first) > FAR_OUTSIDE_MONTHS or gap(last, month) > FAR_OUTSIDE_MONTHS):
            warnings.append(f"{files}: {_month(month)} is more than {FAR_OUTSIDE_MONTHS} months outside the months "
                            f"held ({_month(first)} to {_month(last)}); is the date right?")
    return warnings


def import_pairs(records: pd.DataFrame, reconciliation: pd.DataFrame) -> set[tuple[str, date]]:
    """The (force, month) pairs an import replaces: those its records hold, and each file's
    held months for the file's force (a month published empty is a held zero, not a gap).

    A month is replaced per force, never across forces: importing force B's March leaves
    force A's March exactly as it was.
    """
    pairs = set(zip(records[FORCE].astype(str), records["month"])) if len(records) else set()
    known = reconciliation.dropna(subset=["month"])
    vouched = known[(known["rows_read"] == 0) | (known["rows_read"] > known["rejected"])]
    pairs |= set(zip(vouched[FORCE].astype(str), pd.to_datetime(vouched["month"]).dt.date))
    return pairs


def _held_counts(current: Path | None, months: list, owner: str, pairs: set | None = None) -> dict:
    """Records per (force, month) the store holds, for the months this import brings (with `pairs`, only
    those force-months' partition files are opened, so the check costs the same whatever the store holds)."""
    if current is None or not current.exists() or not months:
        return {}
    con = duckdb.connect(":memory:")
    try:
        source = parquet_source(current)
        if pairs is not None and store_writer.force_partitioned(current):
            files = store_writer.partition_files(current, sorted({store_writer.partition_key(f, m) for f, m in pairs}))
            if not files:
                return {}
            source = store_writer.partitions_source(files)
        force = FORCE if has_column(con, source, FORCE) else sql_string(owner)
        con.register("wanted", pd.DataFrame({"month": pd.to_datetime(pd.Series(months))}))
        rows = con.execute(
            f"SELECT {force}, month, count(*) FROM {source} "
            "WHERE month BETWEEN (SELECT min(month) FROM wanted)::DATE AND (SELECT max(month) FROM wanted)::DATE "
            "GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    return {(str(f), pd.Timestamp(m).date()): n for f, m, n in rows if m is not None}


def _held_months(current_dir: Path | None) -> list:
    """Every month the current version holds (its coverage table), for the far-outside warning."""
    if current_dir is None or not (current_dir / "coverage.parquet").exists():
        return []
    return sorted(pd.to_datetime(pd.read_parquet(current_dir / "coverage.parquet")["month"]).dt.date)


def publish_import(
    data_dir: Path,
    dataset: str,
    records: pd.DataFrame,
    rejected: pd.DataFrame,
    reconciliation: pd.DataFrame,
    source: str,
    replace_smaller: bool = False,
    files: list | None = None,
) -> ImportResult:
    """Merge new records into the dataset, replacing the months they cover, and swap it in.

    Raises ShrinkRefused (nothing written) when the guard trips and `replace_smaller` is
    False, and StoreWriteFailed (old store live, nothing left half-written) when the disk
    refuses a write.
    """
    data_dir = Path(data_dir)
    check_reconciliation(reconciliation)
    if records.empty and rejected.empty:
        names = sorted({Path(str(f)).name for f in list(reconciliation["file"]) + list(files or [])})
        raise ImportError_(
            "no rows to import: every file was empty"
            + (f" (only a header line, no rows: {', '.join(names)})" if names else "")
        )
    records = records.copy()
    records["month"] = pd.to_datetime(records["month"]).dt.date
    # Every record and reconciliation row belongs to a force; importers that do not read one
    # per row (fire, MARAC, hate crime) hold the store's own force's data.
    owner = owners.default_owner(data_dir)
    if FORCE not in records:
        records[FORCE] = owner
    reconciliation = reconciliation.copy()
    if FORCE not in reconciliation:
        reconciliation[FORCE] = owner
    reconciliation[FORCE] = reconciliation[FORCE].fillna(owner).astype(str)
    pairs = import_pairs(records, reconciliation)
    new_months = sorted({m for _, m in pairs})
    try:
        with store_writer.write_lock(data_dir):
            return _merge_and_publish(data_dir, dataset, records, rejected, reconciliation, source,
                                      new_months, replace_smaller, pairs, owner)
    except (OSError, duckdb.IOException, duckdb.PermissionException) as exc:
        raise StoreWriteFailed(_write_failure(data_dir, exc)) from None


@dataclass
class SpooledRecords:
    """An import's accepted records as Parquet parts in a spool folder, written while the files were read.

    The records of a big import never sit in memory whole: the importer writes each block
    of each file as Parquet parts already split by force and month, hive style
    (`<folder>/<file>/force=<slug>/ym=YYYY-MM/<part>.parquet`, without the two keys, as the
    store's own partitions are), and an empty `schema.parquet` with the records' columns.
    Publishing then moves each force-month's parts into the new version as they are (a
    rename: nothing is read or written again; a force-month folder holding only its parts is
    renamed whole, so no folder is made in the version nor left in the spool), and only a force-month spread over more than
    SPOOL_PARTS_KEPT parts (a file mixing months in every block) is rewritten as one file,
    by DuckDB within the store's memory limit.
    """

    folder: Path
    _counts: dict | None = field(default=None, repr=False)

    @property
    def temp_dir(self) -> Path:
        """Where DuckDB spills while building the version: inside the spool, so it goes with it."""
        return self.folder / store_writer.DUCKDB_TEMP_FOLDER

    def partitions(self) -> dict[tuple[str, str], list[Path]]:
        """(force, YYYY-MM) -> the parts holding its records, from every file's folder."""
        found: dict[tuple[str, str], list[Path]] = {}
        for part in sorted(self.folder.glob(f"*/{FORCE}=*/{store_writer.PARTITION_KEY}=*/*.parquet")):
            key = (part.parent.parent.name.split("=", 1)[1], part.parent.name.split("=", 1)[1])
            found.setdefault(key, []).append(part)
        return found

    def counts(self) -> dict:
        """Records per (force, month), from the parts' Parquet footers (no row is read)."""
        if self._counts is None:
            self._counts = {}
            for (force, ym), parts in self.partitions().items():
                rows = sum(pq.read_metadata(part).num_rows for part in parts)
                if rows:
                    self._counts[(force, date(int(ym[:4]), int(ym[5:7]), 1))] = rows
        return self._counts

    def move_partitions(self, target: Path) -> None:
        """Put the spooled force-months into a staging version's records folder (the spool is left without them)."""
        target = Path(target)
        target.mkdir(parents=True, exist_ok=True)
        con = None
        try:
            for (force, ym), parts in self.partitions().items():
                destination = target / f"{FORCE}={force}" / f"{store_writer.PARTITION_KEY}={ym}"
                if len(parts) <= SPOOL_PARTS_KEPT and not destination.exists() and _whole_folder(parts):
                    # The spool's folder is the partition as it will be: one rename, no folder made here and
                    # none left in the spool to remove (on this machine's disk a folder costs 2-5 ms to remove).
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(parts[0].parent, destination)
                    continue
                destination.mkdir(parents=True, exist_ok=True)
                if len(parts) <= SPOOL_PARTS_KEPT:
                    for part in parts:
                        os.replace(part, destination / f"part_{uuid.uuid4().hex}.parquet")
                    continue
                con = con or store_writer.bounded_connection(self.temp_dir)
                listed = "[" + ", ".join(sql_string(p) for p in parts) + "]"
                con.execute(f"COPY (SELECT * FROM read_parquet({listed}, hive_partitioning=false)) TO "
                            f"{sql_string(destination / f'part_{uuid.uuid4().hex}.parquet')} "
                            "(FORMAT parquet, COMPRESSION zstd)")
        finally:
            if con is not None:
                con.close()
        if not any(target.rglob("*.parquet")):  # no records at all: one empty file keeps the columns
            schema = next(self.folder.glob(f"*/{SPOOL_SCHEMA}"), None)
            if schema is not None:
                shutil.copyfile(schema, target / store_writer.EMPTY_PARTITION)


def _whole_folder(parts: list[Path]) -> bool:
    """Whether `parts` are every entry of one folder (so the folder itself can become the partition)."""
    folder = parts[0].parent
    return all(p.parent == folder for p in parts) and len(os.listdir(folder)) == len(parts)


def _record_counts(records) -> dict:
    """Records per (force, month) of an import, held in memory or spooled."""
    if isinstance(records, SpooledRecords):
        return dict(records.counts())
    incoming = records.groupby([FORCE, "month"], observed=True).size().to_dict() if len(records) else {}
    return {(str(f), m): n for (f, m), n in incoming.items()}


def _records_connection(records) -> duckdb.DuckDBPyConnection:
    """The connection that writes the new version: seeing records held in memory as `new_records`; for
    spooled records (moved in by SpooledRecords.move_partitions, not selected) bounded in memory."""
    if isinstance(records, SpooledRecords):
        return store_writer.bounded_connection(records.temp_dir)
    con = duckdb.connect(":memory:")
    con.register("new_records", records)
    return con


def publish_spooled_import(
    data_dir: Path,
    dataset: str,
    records: SpooledRecords,
    rejected: pd.DataFrame,
    reconciliation: pd.DataFrame,
    source: str,
    replace_smaller: bool = False,
) -> ImportResult:
    """`publish_import` for records spooled to Parquet by a streaming importer; same guard, same swap.

    Call inside `store_writer.write_lock`: the spool lives in the dataset's folder, where
    the lock's cleaning of a dead writer's leftovers would otherwise remove it.
    """
    data_dir = Path(data_dir)
    check_reconciliation(reconciliation)
    counts = records.counts()
    if not counts and rejected.empty:
        names = sorted({Path(str(f)).name for f in reconciliation["file"]})
        raise ImportError_(
            "no rows to import: every file was empty"
            + (f" (only a header line, no rows: {', '.join(names)})" if names else "")
        )
    owner = owners.default_owner(data_dir)
    reconciliation = reconciliation.copy()
    if FORCE not in reconciliation:
        reconciliation[FORCE] = owner
    reconciliation[FORCE] = reconciliation[FORCE].fillna(owner).astype(str)
    pairs = set(counts) | import_pairs(pd.DataFrame(), reconciliation)
    new_months = sorted({m for _, m in pairs})
    try:
        return _merge_and_publish(data_dir, dataset, records, rejected, reconciliation, source,
                                  new_months, replace_smaller, pairs, owner)
    except (OSError, duckdb.IOException, duckdb.PermissionException) as exc:
        raise StoreWriteFailed(_write_failure(data_dir, exc)) from None


def _write_failure(data_dir: Path, exc: BaseException) -> str:
    """One line from an OSError or a DuckDB IO error (whose text nests the OS reason in JSON)."""
    reason = getattr(exc, "strerror", None)
    if reason is None:
        text = str(exc)
        errno_found = re.search(r'"errno":\s*"?(\d+)', text)
        found = re.search(r'(?:write|open|create)[^"]*\\?"[^"]+\\?":\s*([^"\\}]+)', text)
        if errno_found:
            reason = os.strerror(int(errno_found[1]))
        elif found:
            reason = found[1].strip()
        else:
            reason = text.splitlines()[0][:200]
    where = getattr(exc, "filename", None) or data_dir
    return (f"cannot write the store at {where}: {reason} (is the disk full or read-only?); "
            "nothing was published, the store is as it was")


def _merge_and_publish(data_dir, dataset, records, rejected, reconciliation, source, new_months, replace_smaller,
                       pairs, owner):
    manifest = read_manifest(data_dir)
    replaced_synthetic = bool(manifest.get("synthetic", {}).get(dataset))
    current = None if replaced_synthetic else store_writer.current_records(data_dir, dataset)
    current_dir = current.parent if current is not None else None
    held = {k: n for k, n in _held_counts(current, new_months, owner, pairs).items() if k in pairs}
    incoming = _record_counts(records)
    for pair in pairs:
        incoming.setdefault(pair, 0)
    problems = shrink_problems(held, incoming, reconciliation)
    if problems and not replace_smaller:
        shown = problems[:MONTHS_LISTED] + ([f"... and {len(problems) - MONTHS_LISTED} more"] if len(problems) > MONTHS_LISTED else [])
        raise ShrinkRefused(
            f"this import would replace held data with much less (more than {SHRINK_LIMIT:.0%} fewer records in a "
            f"month) or is mostly rejected rows; nothing was written:\n  " + "\n  ".join(shown)
            + f"\nIf that is what you mean, run the import again with {REPLACE_SMALLER_FLAG}."
        )
    warnings = month_warnings(new_months, _held_months(current_dir), reconciliation)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    folder = store_writer.new_version_dir(data_dir, dataset)
    try:
        areas = store_writer.areas_fingerprint(data_dir)
        con = _records_connection(records)
        con.register("new_pairs", pd.DataFrame({"key": sorted(store_writer.partition_key(f, m) for f, m in pairs)}))
        target = folder / "records.parquet"
        replaced = {store_writer.partition_key(f, m) for f, m in pairs}
        if isinstance(records, SpooledRecords):
            records.move_partitions(target)
        else:
            store_writer.write_month_partitions(con, "SELECT * FROM new_records", target)
        old_coverage = pd.DataFrame({"month": [], "source": [], FORCE: []})
        rebuild_all = True
        if current is not None and current.exists():
            if store_writer.force_partitioned(current):  # keep the other force-months by hard links, nothing rewritten
                store_writer.link_month_partitions(current, target, skip=replaced)
                rebuild_all = store_writer.version_meta(current_dir).get("areas") != areas
            else:  # a single-file or month-only version (older stores): rewritten once, force-partitioned from now on
                old = parquet_source(current)
                keyed = has_column(con, old, FORCE)
                select = f"SELECT *{'' if keyed else f', {sql_string(owner)} AS {FORCE}'} FROM {old}"
                store_writer.write_month_partitions(
                    con, f"SELECT * FROM ({select}) AS o WHERE {store_writer.PAIR_SQL} NOT IN (SELECT key FROM new_pairs)",
                    target)
            old_coverage = pd.read_parquet(current_dir / "coverage.parquet")
            if FORCE not in old_coverage:
                old_coverage[FORCE] = owner
        con.close()
        spill = getattr(records, "temp_dir", None)  # a spooled import's DuckDB is bounded and spills there
        if rebuild_all:
            store_writer.build_monthly_partitions(folder, data_dir, MEASURE_SQL[dataset], None, spill)
        else:  # only the force-months imported; the rest were built under the same geography
            store_writer.build_monthly_partitions(folder, data_dir, MEASURE_SQL[dataset], sorted(pairs), spill)
            store_writer.link_month_partitions(current_dir / "monthly.parquet", folder / "monthly.parquet", skip=replaced)
        old_keys = list(zip(old_coverage[FORCE].astype(str), pd.to_datetime(old_coverage["month"]).dt.date))
        coverage = pd.concat(
            [old_coverage[[k not in pairs for k in old_keys]],
             pd.DataFrame({"month": [m for _, m in sorted(pairs)], "source": source, FORCE: [f for f, _ in sorted(pairs)]})],
            ignore_index=True,
        )
        coverage["month"] = pd.to_datetime(coverage["month"]).dt.date
        store_writer.write_parquet(coverage.sort_values([FORCE, "month"], ignore_index=True), folder / "coverage.parquet")
        held_recon = _carry_reconciliation(current_dir, folder, reconciliation, pairs, owner)
        _carry_rejected(current_dir, folder, rejected, reconciliation, held_recon)
        log = {
            "files": sorted({str(f) for f in reconciliation["file"]}),
            "months": [_month(m) for m in new_months],
            "rows_read": int(reconciliation["rows_read"].sum()), "loaded": int(reconciliation["loaded"].sum()),
            "outside_area": int(reconciliation["outside_area"].sum()),
            **{part: int(reconciliation[part].sum()) for part in OWNER_PARTS if part in reconciliation},
            "forces": sorted({f for f, _ in pairs}),
            "unallocated": int(reconciliation["unallocated"].sum()), "rejected": int(reconciliation["rejected"].sum()),
            "records": sum(incoming.values()), "replaced_smaller": bool(problems), "warnings": warnings,
        }
        version = store_writer.publish(data_dir, dataset, folder, source=source, synthetic=False, log=log,
                                       meta={"areas": areas})
    except BaseException:  # interrupted or failed: leave nothing half-written behind
        shutil.rmtree(folder, ignore_errors=True)
        raise
    quarantine = None
    try:
        store_writer.relink_quarantine(data_dir, dataset, version)
    except OSError as exc:
        print(f"warning: the import was published; {dataset}/quarantine.csv could not be updated ({exc.strerror}): "
              f"the rejected rows are in {version / 'quarantine.csv'}", file=sys.stderr)
    if len(rejected):
        quarantine = data_dir / dataset / "quarantine.csv"
        if not quarantine.exists():
            quarantine = version / "quarantine.csv"
    return ImportResult(version, new_months, replaced_synthetic, reconciliation, quarantine, warnings, pairs)


def _read_history(current_dir: Path | None, table: str) -> pd.DataFrame | None:
    if current_dir is not None and (current_dir / f"{table}.parquet").exists():
        return pd.read_parquet(current_dir / f"{table}.parquet")
    return None


def _carry_reconciliation(current_dir, folder, reconciliation: pd.DataFrame, pairs: set, owner: str) -> pd.DataFrame:
    """The reconciliation of the data held: old rows of replaced force-months go; a re-imported file's unknown-month rows go."""
    columns = STORED_RECONCILIATION_COLUMNS + [c for c in reconciliation.columns if c not in STORED_RECONCILIATION_COLUMNS]
    frame = _typed(reconciliation.reindex(columns=columns), columns)
    for part in OWNER_PARTS:
        frame[part] = frame[part].fillna(0).astype("int64")
    old = _read_history(current_dir, "reconciliation")
    if old is not None:
        old = old.assign(**{p: old[p] if p in old else 0 for p in OWNER_PARTS})
        old[FORCE] = old[FORCE].fillna(owner) if FORCE in old else owner
    frames = [frame]
    if old is not None:
        months = pd.to_datetime(old["month"], errors="coerce").dt.date
        replaced = pd.Series([(str(f), m) in pairs for f, m in zip(old[FORCE], months)], index=old.index, dtype=bool)
        same_file_unknown = months.isna() & old["file"].isin(set(reconciliation["file"]))
        frames.insert(0, old[~(replaced | same_file_unknown)])
    merged = pd.concat(frames, ignore_index=True)
    merged["month"] = merged["month"].astype("string")
    store_writer.write_parquet(merged, folder / "reconciliation.parquet")
    return merged


def _carry_rejected(current_dir, folder, rejected: pd.DataFrame, reconciliation: pd.DataFrame,
                    held_recon: pd.DataFrame) -> int:
    """Rejected rows of files still held (some reconciliation row kept), re-imported files' old rows replaced;
    written as the version's rejected.parquet and quarantine.csv. Returns how many rows they hold.

    Streamed: the previous version's rows are read a batch at a time (filtered to the files still
    held) and written before this import's, so memory does not grow with the rejected rows the
    store has gathered over its imports.
    """
    columns = REJECTED_COLUMNS + [c for c in rejected.columns if c not in REJECTED_COLUMNS]
    frame = _typed(rejected.reindex(columns=columns), columns)
    if "month" in frame:
        frame["month"] = frame["month"].astype("string")
    new = pa.Table.from_pandas(frame, preserve_index=False)
    old_path = current_dir / "rejected.parquet" if current_dir is not None else None
    old = pa_dataset.dataset(old_path, format="parquet") if old_path is not None and old_path.exists() else None
    still_held = sorted(set(held_recon["file"]) - set(reconciliation["file"]))
    schemas = [new.schema] + ([old.schema] if old is not None else [])
    schema = _rejected_schema(schemas, columns)
    target = folder / "rejected.parquet"
    written = 0
    with pq.ParquetWriter(target, schema, compression=store_writer.COMPRESSION) as writer:
        if old is not None and still_held:
            kept = pa_dataset.field("file").isin(still_held)
            for batch in old.to_batches(filter=kept, batch_size=REJECTED_BATCH_ROWS):
                writer.write_table(_conform(pa.Table.from_batches([batch]), schema))
                written += batch.num_rows
        if new.num_rows:
            writer.write_table(_conform(new, schema))
            written += new.num_rows
    if written:
        # The quarantine is part of the version: on disk before the version is published. DuckDB
        # writes it from the file just written, a vector at a time, in its order, quoting only where needed.
        con = store_writer.bounded_connection(folder.parent)
        try:
            con.execute("SET preserve_insertion_order = true")
            con.execute(f"COPY (SELECT * FROM read_parquet({sql_string(str(target))})) "
                        f"TO {sql_string(str(folder / 'quarantine.csv'))} (FORMAT csv, HEADER true)")
        finally:
            con.close()
    return written


def _rejected_schema(schemas: list[pa.Schema], columns: list[str]) -> pa.Schema:
    """One schema for the old and new rejected rows: REJECTED_COLUMNS first, then every other column once,
    types promoted as a concat would (a column of nulls takes the other's type; integers and floats give floats)."""
    unified = pa.unify_schemas(schemas, promote_options="permissive")
    names = columns + [n for n in unified.names if n not in columns]
    fields = []
    for name in names:
        field = unified.field(name)
        fields.append(pa.field(name, REJECTED_TYPES.get(name, pa.string())) if pa.types.is_null(field.type)
                      else pa.field(name, field.type))
    return pa.schema(fields)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with `schema`'s columns in its order (missing ones null) and types."""
    return pa.table({f.name: (table.column(f.name).cast(f.type) if f.name in table.column_names
                              else pa.nulls(table.num_rows, f.type)) for f in schema}, schema=schema)


def _typed(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame.astype({c: "string" for c in columns if c in ("file", "reason", "raw")})
