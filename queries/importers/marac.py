"""MARAC case-level referrals CSV: one row per case discussed (schema in docs/marac-hate.md).

`python app.py import marac PATH... [--data-dir DIR] [--encoding utf-8]`

Columns (header required, any order, case-insensitive; other columns are ignored):

    referral_id       unique id of the referral (case) in the MARAC's own system
    victim_id         PSEUDONYMOUS id of the victim, the same for every referral of that victim
    referral_date     date the case was referred: 2025-03-15 or 15/03/2025 (UK day first)
    area_code         2025 ward code (E05...) or LSOA code (E01..., 2011 or 2021) of the case
    referring_agency  Police, IDVA, Health, Children's Social Care, ... (see queries.marac.AGENCIES)

Why it is built this way:

* Repeats are never read from the file: a `repeat` column, if present, is ignored and the
  store works repeats out from the victims' referral history (queries/marac.py).
* The store never holds the victim id as given: it keeps a one-way pseudonym (SHA-256), so
  even a file that carried a real identifier by mistake leaves no readable identifier
  behind; the quarantine's copy of a rejected line has the id replaced the same way.
* A case must belong to Derby City or a County MARAC: a row with no area, or an area outside
  the force, is rejected (quarantined with its reason), so City + County = Force exactly.
* Rejection reasons quote nothing from the row (no ids, dates, codes or agency text): the
  Data tab lists reasons with their counts, and a reason quoting a case's values would put
  that case on screen. The analyst finds the row by file and line in the quarantine, whose
  copy of the line has the victim id pseudonymised.
* File problems (missing file, empty, wrong header, not UTF-8, broken quoting) stop the
  import before anything is written; row problems (bad date, unknown agency, truncated
  line, duplicate) reject that row only. For every file and month,
  rows read = loaded + rejected (outside area and unallocated are always 0 here).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from queries import geography, marac, owners, store
from queries.importers import csv_stream
from queries.importers.common import (
    RECONCILIATION_COLUMNS,
    REJECTED_COLUMNS,
    REJECTED_LIMIT,
    ImportError_,
    ImportResult,
    SpooledRecords,
    publish_spooled_import,
)
from queries.importers.record_spool import END, FILE_INDEX, LINE, RecordSpool, RejectedRows, nothing_to_import_message, spool_session
from queries.importers.csv_stream import by_distinct, first_reason

DATASET = "marac"
COLUMNS = ["referral_id", "victim_id", "referral_date", "area_code", "referring_agency"]
IGNORED_ON_PURPOSE = {"repeat", "is_repeat", "repeat_case"}
PSEUDONYM_SALT = "csp-dashboard/marac/victim/v1:"
DEFAULT_ENCODING = "utf-8"
GSS_CODE = re.compile(r"^[EWSN]\d{8}$")
WARD_OR_LSOA = re.compile(r"^[EW]0[15]\d{6}$")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
REJECTED = "rejected"
EXAMPLES_SHOWN = 5
# The limits on a line, and the batch size, are csv_stream's (one rule for every record importer).
MAX_LINE_CHARS = csv_stream.MAX_LINE_CHARS
RAW_KEPT_CHARS = csv_stream.RAW_KEPT_CHARS
ROWS_PER_BATCH = csv_stream.ROWS_PER_BATCH


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--encoding", default=DEFAULT_ENCODING,
        help="text encoding of the CSV files (default utf-8; e.g. cp1252 for an old Excel export)",
    )


# --------------------------------------------------------------------------- reading CSV (shared with hate)
#
# Files are read batch by batch (csv_stream) and checked a column at a time, so an import's
# memory is one batch (what it keeps goes at once to a spool on disk: record_spool), whatever the
# file's size (issue 9).


def normalise_column(name: str) -> str:
    return "_".join(name.replace("\ufeff", "").strip().lower().replace("-", " ").split())


def _codec(encoding: str) -> str:
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def open_csv(path: Path, required: list[str], optional: list[str], encoding: str = DEFAULT_ENCODING,
             one_of: list[list[str]] | None = None) -> tuple[str, list[str], list[str]]:
    """Check a CSV file as a whole: (codec, normalised header, ignored columns), or ImportError_ naming the file.

    Only file-level problems raise here (missing, empty, not the encoding, wrong header); the
    file is read in blocks, never whole.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportError_(f"{path}: no such file")
    codec = _codec(encoding)
    try:
        found = csv_stream.scan(path, codec)
    except LookupError:
        raise ImportError_(f"--encoding {encoding!r} is not an encoding Python knows (try utf-8 or cp1252)") from None
    if not found.has_text:
        raise ImportError_(f"{path}: the file is empty (no header, no rows)")
    if found.bad_line is not None:
        raise ImportError_(
            f"{path} line {found.bad_line}: not {encoding} (byte {found.bad_byte} cannot be read); "
            "save the file as 'CSV UTF-8', or pass --encoding cp1252 if it came from an old Excel"
        )
    try:
        first = csv_stream.read_header(path, codec)
    except csv_stream.BrokenCsv as exc:
        raise _broken(path, exc) from None
    if first is None:
        raise ImportError_(f"{path}: the file has only blank lines (no header, no rows)")
    values, line = first
    header = [normalise_column(v) for v in values]
    _check_header(path, line, header, values, required, optional, one_of or [])
    ignored = [h for h in header if h not in required + optional + sum(one_of or [], [])]
    return codec, header, ignored


def _broken(path: Path, exc: csv_stream.BrokenCsv) -> ImportError_:
    return ImportError_(
        f"{path} line {exc.start}: {exc.error} (a quoted field is never closed: is the file cut short?); "
        "nothing was imported"
    )


def read_batches(path: Path, codec: str, rows_per_batch: int) -> Iterator[csv_stream.Batch]:
    """The file's rows in batches; a quote never closed stops the import naming the line."""
    try:
        yield from csv_stream.batches(path, codec, rows_per_batch)
    except csv_stream.BrokenCsv as exc:
        raise _broken(path, exc) from None


def _check_header(path: Path, line: int, header: list[str], values: list[str], required: list[str],
                  optional: list[str], one_of: list[list[str]]) -> None:
    expected = ",".join(required + [f"[{'|'.join(group)}]" for group in one_of] + [f"[{c}]" for c in optional])
    known = set(required) | set(optional) | set(sum(one_of, []))
    if not set(header) & known:
        raise ImportError_(
            f"{path} line {line}: this is not the expected header (is the header row missing?); "
            f"expected {expected}; found {','.join(values)[:120]!r}"
        )
    duplicated = sorted({h for h in header if header.count(h) > 1 and h})
    if duplicated:
        raise ImportError_(f"{path} line {line}: column(s) {', '.join(duplicated)} appear twice in the header")
    missing = [c for c in required if c not in header]
    for group in one_of:
        if not any(c in header for c in group):
            missing.append(" or ".join(group))
    if missing:
        raise ImportError_(
            f"{path} line {line}: missing column(s) {', '.join(missing)}; expected {expected} "
            f"(found {','.join(h for h in header if h)})"
        )


@dataclass
class Checked:
    """One batch after the row checks: the records kept (compact, Arrow) and the rows rejected."""

    records: pa.Table  # the dataset's record columns + STATUS, FILE_INDEX, LINE, END
    rejected: pd.DataFrame  # FILE_INDEX, line, reason, raw, month


# Bookkeeping columns carried beside each record until publishing (dropped then).
STATUS = "_status"
REJECT_COLUMNS = [FILE_INDEX, "line", "reason", "raw", "month"]


def stripped(batch: csv_stream.Batch, position: int | None) -> pa.Array:
    """One column of the batch's good rows as Arrow strings, surrounding spaces removed ("" when the file lacks it)."""
    if position is None:
        return pa.array([""] * len(batch.lines), type=pa.string())
    return pc.utf8_trim_whitespace(pa.array(batch.columns[position], type=pa.string()))


def is_blank(column: pa.Array) -> np.ndarray:
    return pc.equal(column, "").to_numpy(zero_copy_only=False)


def batch_rejects(batch: csv_stream.Batch, file_index: int, mask: np.ndarray, reason: np.ndarray,
                  month: np.ndarray, raw_of: Callable[[list[str] | None, str], str]) -> pd.DataFrame:
    """The batch's rejected rows: good-width rows failing a check (mask), rows of the wrong width, over-long lines."""
    rows = []
    width = len(batch.header)
    for i in np.flatnonzero(mask):
        values = [batch.columns[j][i] for j in range(width)]
        rows.append((file_index, int(batch.lines[i]), reason[i],
                     raw_of(values, batch.raw(int(batch.lines[i]), int(batch.ends[i]))), month[i]))
    for first, last, values in batch.bad:
        rows.append((file_index, first, f"{len(values)} fields, expected {width} (truncated line, "
                                        "or a comma inside an unquoted value)", raw_of(values, batch.raw(first, last)), None))
    for line, kept in batch.too_long:
        rows.append((file_index, line, f"line longer than {csv_stream.MAX_LINE_CHARS:,} characters (a row is a few "
                                       "hundred): not read", raw_of(None, kept), None))
    return pd.DataFrame(rows, columns=REJECT_COLUMNS)


def record_table(columns: dict[str, tuple[np.ndarray, pa.DataType]], keep: np.ndarray, batch: csv_stream.Batch,
                 file_index: int, status: np.ndarray) -> pa.Table:
    """The kept rows as an Arrow table: ids as strings, every other text column dictionary-encoded (a ward
    code or an agency is a 4-byte index, not a string per row), dates as 4 bytes, lines as int32."""
    mask = pa.array(keep)
    arrays = {}
    for name, (values, kind) in columns.items():
        array = (values.filter(mask).cast(kind) if isinstance(values, pa.Array)
                 else pa.array(values[keep], type=kind, from_pandas=True))
        arrays[name] = array.dictionary_encode() if kind == pa.string() and name not in DISTINCT_PER_ROW else array
    arrays[STATUS] = pa.array(status[keep], type=pa.string()).dictionary_encode()
    arrays[FILE_INDEX] = pa.array(np.full(int(keep.sum()), file_index, dtype=np.int32))
    arrays[LINE] = pa.array(batch.lines[keep].astype(np.int32))
    arrays[END] = pa.array(batch.ends[keep].astype(np.int32))
    return pa.table(arrays)


# Text columns that differ row by row (a dictionary would only add an index to each).
DISTINCT_PER_ROW = {"record_id", "victim_id"}


@dataclass
class Dedupe:
    """A rule that keeps the first record with a key and rejects the later ones."""

    keys: list[str]
    reason: str  # formatted with first= "<file> line <n>" of the record kept


def spool_and_publish(paths: list[Path], codecs: list[str], check: Callable[[int, csv_stream.Batch], Checked],
                      rules: list[Dedupe], data_dir: Path, dataset: str, id_label: str, record_columns: list[str],
                      raw_of: Callable[[list[str] | None, str, int], str], source: str, replace_smaller: bool,
                      rows_per_batch: int) -> ImportResult:
    """Read every file batch by batch into a spool, finish the import across files, and publish it (MARAC, hate).

    The whole import holds the store's write lock, since the spool lives in the dataset's folder
    (which the lock's cleaning clears of a killed import's leftovers); the spool goes when it ends.
    Memory is one batch and the spool's buffer, whatever the files' size (record_spool): kept
    records and rejected rows alike go to disk as they are found."""
    with spool_session(data_dir, dataset, FILE_INDEX, EXAMPLES_SHOWN) as (spool, rejected_rows):
        for index, (path, codec) in enumerate(zip(paths, codecs)):
            for batch in read_batches(path, codec, rows_per_batch):
                checked = check(index, batch)
                spool.add(checked.records)
                rejected_rows.add(checked.rejected)
                del checked, batch
        records, rejected, reconciliation = finish_import(paths, codecs, spool, rejected_rows, rules, data_dir,
                                                          dataset, id_label, record_columns, raw_of, replace_smaller)
        return publish_spooled_import(data_dir, dataset, records, rejected, reconciliation, source=source,
                                      replace_smaller=replace_smaller)


def finish_import(paths: list[Path], codecs: list[str], spool: RecordSpool, rejected_rows: RejectedRows,
                  rules: list[Dedupe], data_dir: Path, dataset: str, id_label: str, record_columns: list[str],
                  raw_of: Callable[[list[str] | None, str, int], str],
                  replace_smaller: bool = False) -> tuple[SpooledRecords, pd.DataFrame, pd.DataFrame]:
    """Across every file: duplicates, ids the store already holds, the per-file check, and what
    publish_spooled_import takes (the records spooled as the store's partitions, rejected rows
    with raw text, reconciliation).

    A record is rejected as a duplicate only if it passed its own checks, and the first record
    with a key is the one kept, as when rows were checked one at a time. Duplicates and held ids
    are found by DuckDB over the spool (record_spool: it spills to disk rather than grow); only
    the records rejected late come back to Python, never the records kept. The rows rejected
    while reading are read back from disk only for files that can be published (RejectedRows).
    """
    names = [Path(p).name for p in paths]
    late: list[tuple[int, str]] = []  # (seq, reason)
    for rule in rules:
        found = spool.duplicates(rule.keys)
        for seq, file_index, line in found:
            late.append((seq, rule.reason.format(first=f"{names[file_index]} line {line}")))
        spool.kill(seq for seq, _, _ in found)
    months = spool.months()
    held = held_elsewhere(spool, data_dir, dataset, months)
    for seq, month in held:
        late.append((seq, f"{id_label} is already in the store for {month:%Y-%m}, a month this import does not replace"))
    spool.kill(seq for seq, _ in held)
    late_rows = []
    if late:
        picked = spool.rows_of([seq for seq, _ in late], [FILE_INDEX, LINE, END, "month"])
        by_file: dict[int, dict[int, int]] = {}
        for row in picked.values():
            by_file.setdefault(row[FILE_INDEX], {})[row[LINE]] = row[END]
        fetched = {i: csv_stream.fetch_rows(Path(paths[i]), codecs[i], wanted) for i, wanted in by_file.items()}
        for seq, reason in late:
            row = picked[seq]
            values, text = fetched[row[FILE_INDEX]].get(row[LINE], (None, ""))
            late_rows.append((row[FILE_INDEX], row[LINE], reason, raw_of(values, text, row[FILE_INDEX]), row["month"]))
    late_frame = pd.DataFrame(late_rows, columns=REJECT_COLUMNS)
    loaded_counts = None if spool.empty else spool.query(
        f"SELECT {FILE_INDEX}, month, {STATUS} AS status, count(*) AS rows FROM {{alive}} GROUP BY ALL").to_pandas()
    reconciliation, published = [], []
    for file_index, path in enumerate(paths):
        late_mine = late_frame[late_frame[FILE_INDEX] == file_index]
        # A rejected row keeps its month only when that month has loaded rows (only_loaded_months).
        tally: dict = {}
        for (f, month), n in rejected_rows.counts.items():
            if f == file_index:
                key = only_loaded_months(month, months)
                tally[key] = tally.get(key, 0) + n
        for month in late_mine["month"]:
            key = only_loaded_months(None if month is None or pd.isna(month) else month, months)
            tally[key] = tally.get(key, 0) + 1
        counts = pd.DataFrame({"month": list(tally), "status": REJECTED, "rows": list(tally.values())})
        n_rejected = int(sum(tally.values()))
        loaded = 0
        if loaded_counts is not None:
            own = loaded_counts[loaded_counts[FILE_INDEX] == file_index][["month", "status", "rows"]]
            loaded = int(own["rows"].sum())
            counts = pd.concat([own, counts], ignore_index=True)
        first = rejected_rows.first.get(file_index)
        examples = sorted(list(zip(late_mine["line"], late_mine["reason"]))
                          + (list(zip(first["line"], first["reason"])) if first is not None else []))
        refuse_if_nothing_loaded(Path(path), loaded, n_rejected, examples[:EXAMPLES_SHOWN])
        reconciliation.append(reconciliation_frame(str(path), counts))
        # A file mostly rejected is refused by the shrink guard unless told --replace-smaller: its first row is enough.
        refused = n_rejected > REJECTED_LIMIT * (loaded + n_rejected)
        read = first.head(1) if refused and not replace_smaller and first is not None else rejected_rows.rows(file_index)
        published += [frame for frame in (read, late_mine) if frame is not None and len(frame)]
    rejected = pd.concat(published, ignore_index=True) if published else pd.DataFrame(columns=REJECT_COLUMNS)
    rejected = rejected.sort_values([FILE_INDEX, "line"], kind="stable", ignore_index=True)
    files = [str(p) for p in paths]  # one string per file, shared by its rows
    rejected_out = pd.DataFrame({"file": [files[i] for i in rejected[FILE_INDEX]], "line": rejected["line"],
                                 "reason": rejected["reason"], "raw": rejected["raw"]}, columns=REJECTED_COLUMNS)
    if spool.rows - spool.dead == 0 and rejected_out.empty:
        raise ImportError_(nothing_to_import_message(files))
    records = spool.records(record_columns, owners.default_owner(data_dir))
    return records, rejected_out, pd.concat(reconciliation, ignore_index=True)


def parse_date(text: str) -> date:
    """A date as YYYY-MM-DD or DD/MM/YYYY (a time after it, as Excel adds, is ignored)."""
    text = text.strip().split(" ")[0].split("T")[0]
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"date {text!r} is not a date like 2025-03-15 or 15/03/2025")


class AreaResolver:
    """Ward or LSOA code -> (ward_code, location), using the store's geography lookup."""

    def __init__(self, data_dir: Path):
        lookup = geography.lsoa_lookup(data_dir)
        self.lsoa_to_ward = dict(zip(lookup["lsoa_code"], lookup["ward_code"]))
        self.wards = set(lookup["ward_code"])

    def resolve(self, code: str) -> tuple[str | None, str]:
        """Raises ValueError with the reason when the code cannot be a ward or LSOA code."""
        code = code.strip().upper()
        if not code:
            return None, geography.NO_LOCATION
        if code in self.wards:
            return code, geography.IN_AREA
        if code in self.lsoa_to_ward:
            return self.lsoa_to_ward[code], geography.IN_AREA
        if WARD_OR_LSOA.match(code):
            return None, geography.OUTSIDE_AREA
        if GSS_CODE.match(code):
            raise ValueError(f"area_code {code!r} is not a ward (E05...) or LSOA (E01...) code; give the case's ward or LSOA")
        raise ValueError(f"area_code {code!r} is not a ward (E05...) or LSOA (E01...) code")


# Why a rejected row keeps its month only when that month also has loaded rows: a month in
# the reconciliation becomes a month the store "holds", and a month held with nothing
# loaded would read as zero cases (missing is not zero). Its row is still counted, under
# no month, so rows read = loaded + ... + rejected holds for the file.
def only_loaded_months(month: date | None, loaded_months: set) -> date | None:
    return month if month in loaded_months else None


def month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def reconciliation_frame(file_name: str, counts: pd.DataFrame) -> pd.DataFrame:
    """Per month (None when a row had no readable month): rows read and where they went.

    `counts` holds month (or None), status (a geography location or REJECTED) and rows.
    """
    tally: dict = {}
    for month, status, rows in zip(counts["month"], counts["status"], counts["rows"]):
        month = None if month is None or pd.isna(month) else month
        bucket = tally.setdefault(month, {})
        bucket[status] = bucket.get(status, 0) + int(rows)
    rows = [
        {
            "file": file_name,
            "month": month,
            "rows_read": sum(tallied.values()),
            "loaded": tallied.get(geography.IN_AREA, 0),
            "outside_area": tallied.get(geography.OUTSIDE_AREA, 0),
            "unallocated": tallied.get(geography.NO_LOCATION, 0),
            "rejected": tallied.get(REJECTED, 0),
        }
        for month, tallied in sorted(tally.items(), key=lambda item: (item[0] is None, item[0] or date.min))
    ]
    return pd.DataFrame(rows, columns=RECONCILIATION_COLUMNS)


def held_elsewhere(spool: RecordSpool, data_dir: Path, dataset: str, keep_months: set[date]) -> list[tuple[int, date]]:
    """(number, month held) of the live spooled records whose id the store already holds in a month this
    import will not replace (real data only), in reading order. Joined in DuckDB over the spool and the
    store, so neither side's ids are held in Python."""
    manifest = store.read_manifest(data_dir)
    if manifest.get("synthetic", {}).get(dataset) or spool.empty:
        return []
    path = store.current_records(data_dir, dataset)
    if path is None or not path.exists():
        return []
    found = spool.query(
        f"SELECT a._seq AS seq, min(s.month::DATE) AS month FROM {{alive}} AS a "
        f"JOIN {store.parquet_source(path)} AS s ON s.record_id = a.record_id "
        "WHERE s.month::DATE NOT IN (SELECT month FROM replaced) GROUP BY a._seq ORDER BY a._seq",
        replaced=pa.table({"month": pa.array(sorted(keep_months), type=pa.date32())}))
    return list(zip(found["seq"].to_pylist(), found["month"].to_pylist()))


def refuse_if_nothing_loaded(path: Path, loaded: int, rejected: int, first: list[tuple[int, str]]) -> None:
    """A file of which no row could be read is the wrong file: stop before it empties months."""
    if loaded == 0 and rejected:
        examples = "; ".join(f"line {line}: {reason}" for line, reason in first[:EXAMPLES_SHOWN])
        raise ImportError_(
            f"{path}: none of its {rejected} row(s) could be imported, so nothing was written "
            f"(is it the right file?). First problems: {examples}"
        )


def print_result(result: ImportResult, notes: list[str], dataset: str) -> None:
    for note in notes:
        print(note)
    recon = result.reconciliation
    for file_name, group in recon.groupby("file", sort=False):
        totals = group[["rows_read", "loaded", "outside_area", "unallocated", "rejected"]].sum()
        print(
            f"{file_name}: {totals['rows_read']} rows read = {totals['loaded']} loaded + {totals['outside_area']} outside "
            f"the force area + {totals['unallocated']} with no known area + {totals['rejected']} rejected"
        )
    months = sorted({pd.Timestamp(m).strftime("%Y-%m") for m in result.months_replaced})
    if months:
        print(f"{dataset}: replaced {len(months)} month(s), {months[0]} to {months[-1]}")
    if result.replaced_synthetic:
        print(f"{dataset}: the synthetic demo data was replaced entirely (real and invented figures are never mixed)")
    if result.quarantine_file is not None:
        print(f"rejected rows and their reasons: {result.quarantine_file}")


# --------------------------------------------------------------------------- MARAC


def pseudonym(victim_id: str) -> str:
    """A one-way, stable pseudonym: the same victim id always gives the same value."""
    return "P" + hashlib.sha256((PSEUDONYM_SALT + victim_id.strip()).encode("utf-8")).hexdigest()[:16]


def pseudonyms(victim_ids: pa.Array) -> pa.Array:
    """`pseudonym` of each (already stripped) id, hashed in DuckDB: the same SHA-256 of the same UTF-8
    bytes, without a Python call per row."""
    con = duckdb.connect(":memory:")
    try:
        con.register("ids", pa.table({"v": victim_ids}))
        return con.sql(f"SELECT 'P' || left(sha256({store.sql_string(PSEUDONYM_SALT)} || v), 16) AS p FROM ids") \
            .to_arrow_table()["p"].combine_chunks()
    finally:
        con.close()


def _redacted_values(values: list[str] | None, header: list[str]) -> str:
    """A row's values as CSV text with the victim id replaced by its pseudonym ("" for a line not read)."""
    values = list(values or [])
    if "victim_id" in header:
        position = header.index("victim_id")
        if position < len(values) and values[position].strip():
            values[position] = pseudonym(values[position])
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


RECORD_COLUMNS = ["record_id", "victim_id", "referral_date", "month", "ward_code", "location", "referring_agency"]


def import_files(paths: list[Path], data_dir: Path, encoding: str = DEFAULT_ENCODING,
                 replace_smaller: bool = False, rows_per_batch: int = ROWS_PER_BATCH) -> tuple[ImportResult, list[str]]:
    """Read, check and publish MARAC files; raise ImportError_ (store unchanged) on a file problem.

    Each file is read in batches of `rows_per_batch` rows; the result does not depend on it.
    """
    data_dir = Path(data_dir)
    if not paths:
        raise ImportError_("no files given")
    resolver = AreaResolver(data_dir)
    today = date.today()
    notes: list[str] = []
    opened = [open_csv(Path(path), COLUMNS, [], encoding) for path in paths]  # file problems first, store untouched
    codecs_used = [codec for codec, _, _ in opened]
    headers = [header for _, header, _ in opened]
    for path, (_, _, ignored) in zip(paths, opened):
        ignored = [c for c in ignored if c]
        if ignored:
            why = [c for c in ignored if c in IGNORED_ON_PURPOSE]
            notes.append(
                f"{path}: ignored column(s) {', '.join(ignored)}"
                + ("; repeats are worked out from each victim's referral history, not read from the file" if why else "")
            )
    rules = [Dedupe(["record_id"], "duplicate referral_id (first at {first})"),
             Dedupe(["victim_id", "referral_date"],
                    "the same victim is already referred on the same day ({first}): duplicate case?")]

    def check(index: int, batch: csv_stream.Batch) -> Checked:
        header = headers[index]
        return _check_batch(batch, {name: header.index(name) for name in COLUMNS}, index, resolver, today,
                            _raw_for(header))

    # Rows rejected late are redacted with their own file's header.
    result = spool_and_publish(
        [Path(p) for p in paths], codecs_used, check, rules, data_dir, DATASET, "referral_id", RECORD_COLUMNS,
        _late_raw(headers), "MARAC case-level CSV: " + ", ".join(Path(p).name for p in paths), replace_smaller,
        rows_per_batch)
    return result, notes


def _raw_for(header: list[str]) -> Callable[[list[str] | None, str], str]:
    return lambda values, text: _redacted_values(values, header)


class _late_raw:
    """raw_of for rows rejected after every file is read: redacted with the row's own file's header.

    finish_import fetches rows file by file, so the header in use is set per file (`for_file`)."""

    def __init__(self, headers: list[list[str]]):
        self.headers = headers

    def __call__(self, values: list[str] | None, text: str, file_index: int = 0) -> str:
        return _redacted_values(values, self.headers[file_index])


def _check_batch(batch: csv_stream.Batch, positions: dict[str, int], file_index: int, resolver: AreaResolver,
                 today: date, raw_of) -> Checked:
    """Every check of a referral, a column at a time; each distinct value is looked at once.

    The reasons, and the order they are tried in, are those of a row checked alone: the first
    failing check names the row's reason. MARAC reasons quote nothing from the row (module doc).
    """
    referral_date = stripped(batch, positions["referral_date"])
    referral_id = stripped(batch, positions["referral_id"])
    victim = stripped(batch, positions["victim_id"])

    def date_rule(text: str) -> tuple:
        try:
            day = parse_date(text)
        except ValueError:  # parse_date's message quotes the date: MARAC reasons quote nothing (module doc)
            return None, None, ("referral_date is not a date like 2025-03-15 or 15/03/2025" if text
                                else "referral_date is blank"), None
        return day, month_start(day), None, ("referral_date is in the future" if day > today else None)

    def agency_rule(text: str) -> tuple:
        agency = marac.canonical_agency(text)
        return agency, (None if agency else f"unknown referring_agency; choose one of: {', '.join(marac.AGENCIES)}")

    def area_rule(code: str) -> tuple:
        try:
            ward, location = resolver.resolve(code)
        except ValueError:
            return None, None, "area_code is not a ward (E05...) or LSOA (E01...) code"
        if location == geography.NO_LOCATION:
            return None, location, "area_code is blank: a MARAC case must be placed in Derby City or the County"
        if location == geography.OUTSIDE_AREA:
            return None, location, ("area_code is outside the force area: a MARAC case must be placed in "
                                    "Derby City or the County")
        return ward, location, None

    n = len(batch.lines)
    if n:
        day, month, date_reason, future = by_distinct(date_rule, referral_date)
        agency, agency_reason = by_distinct(agency_rule, stripped(batch, positions["referring_agency"]))
        ward, location, area_reason = by_distinct(area_rule, stripped(batch, positions["area_code"]))
    else:
        day = month = date_reason = future = agency = agency_reason = ward = location = area_reason = np.empty(0, object)
    reason = first_reason(
        date_reason, future,
        np.where(is_blank(referral_id), "referral_id is blank", None),
        np.where(is_blank(victim), "victim_id is blank: repeats cannot be worked out without it", None),
        agency_reason, area_reason,
    )
    keep = pd.isna(reason)
    records = record_table({
        "record_id": (referral_id, pa.string()),
        "victim_id": (pseudonyms(victim), pa.string()),
        "referral_date": (day, pa.date32()),
        "month": (month, pa.date32()),
        "ward_code": (ward, pa.string()),
        "location": (location, pa.string()),
        "referring_agency": (agency, pa.string()),
    }, keep, batch, file_index, np.full(n, geography.IN_AREA, dtype=object))
    return Checked(records, batch_rejects(batch, file_index, ~keep, reason, month, raw_of))


def main(args) -> int:
    result, notes = import_files(args.paths, args.data_dir, getattr(args, "encoding", DEFAULT_ENCODING),
                                 getattr(args, "replace_smaller", False))
    print_result(result, notes, DATASET)
    return release_to_ledger(Path(args.data_dir))


# The records were stored, but the disclosure audit withheld the release (every page says so).
# Distinct from a failed write (common.EXIT_WRITE_FAILED), so a script can tell the two apart.
EXIT_NOT_RELEASED = 4


def release_to_ledger(data_dir: Path) -> int:
    """Each import that changes MARAC appends its release to the ledger now (audited), not at first view."""
    from queries import marac_ledger, settings
    from queries.statedb import StateError
    from queries.store import Store

    config = settings.load_settings()
    state_dir = settings.state_dir_for(dict(os.environ), data_dir)
    try:
        rel = marac.release(Store(data_dir), config.suppress_below, state_dir=state_dir)
    except (marac.RevisionError, marac_ledger.DisclosureError, StateError) as exc:
        print(f"error: the files are in the store, but MARAC is not released: {exc}", file=sys.stderr)
        return EXIT_NOT_RELEASED
    print(f"released {len(rel.cells):,} MARAC figures ({int(rel.cells['suppressed'].sum())} hidden), "
          f"audited over the ledger in {state_dir}")
    return 0
