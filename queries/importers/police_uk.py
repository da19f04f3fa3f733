"""police.uk street-level crime and anti-social behaviour downloads (zip, folder or CSV).

`python app.py import police-uk PATH... [--groups FILE] [--data-dir DIR]`

Each PATH is a police.uk custom download as published (a zip holding
`YYYY-MM/YYYY-MM-<force>-street.csv`), the folder it unpacks to, or single street CSVs.
Every row becomes a record of the `crime` dataset, placed in a ward through its LSOA code
(both 2011 and 2021 codes), outside the force area, or unallocated when it has no LSOA;
rows that cannot be read go to the quarantine with their reason and raw line. Nothing is
dropped: for every file and month, rows read = loaded + outside area + unallocated +
rejected, and the import refuses to publish figures that do not add up.

Why it is built this way:

* Speed and bounded memory: the CSV is parsed by pyarrow's streaming reader (C++, one
  block at a time), each block is classified by vectorised Arrow/NumPy passes (Python never
  loops over rows on the happy path) and written at once as a Parquet part in a spool
  inside the store's temp area. DuckDB then builds the version from the spool within a
  memory limit, spilling to disk, so no import holds a file's records whole and memory
  does not grow with the file (docs/benchmarks-import.md).
* Exact line numbers: the reader runs single-threaded so a malformed row reports its
  row number; on two cores that costs nothing (measured), and it lets a valid row's
  line be derived from its position, which anti-social behaviour rows (no Crime ID) need
  for an id that is the same every time the same file is imported. A row is one physical
  line unless a quoted value holds a line break, so a file with no quote character takes
  that fast path and any other the exact path, which counts the line feeds inside values
  (`read_street_batches`).
* Safety: files are read and checked completely before anything is published (only the
  spool is written meanwhile, under the store's write lock), and the store changes only
  through `publish_spooled_import` (the shared publish path with the records in a spool),
  which stages a new version aside and swaps the manifest atomically. A bad file, a crash
  or Ctrl-C leaves the old store as it was; a killed import's spool is removed by the next.
"""
from __future__ import annotations

import argparse
import csv
import io
import re
import shutil
import sys
import threading
import time
import zipfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from queries import geography, national, owners
from queries import store_writer
from queries.importers.common import (
    REJECTED_COLUMNS,
    STORED_RECONCILIATION_COLUMNS,
    SPOOL_SCHEMA,
    ImportError_,
    SpooledRecords,
    StoreWriteFailed,
    _write_failure,
    publish_spooled_import,
)
from queries.measures import ALL_CRIME, ASB, POLICE_UK_TYPES
from queries.store import StoreError, read_manifest

DATASET = "crime"
# police.uk's street-level header, in its published order.
EXPECTED_COLUMNS = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
]
# The columns worth keeping, and their names inside the importer. "Falls within" is the
# force a row belongs to (its `force`); "Reported by" is kept beside it (BTP reports rows
# that fall within a territorial force's area). LSOA name (derivable) and Context (almost
# always empty) are not parsed at all, which keeps a 10M-row import lean.
KEPT_COLUMNS = {
    "Crime ID": "crime_id",
    "Month": "month_text",
    "Reported by": "reported_by",
    "Falls within": "falls_within",
    "Longitude": "longitude",
    "Latitude": "latitude",
    "Location": "street",
    "LSOA code": "lsoa_code",
    "Crime type": "crime_type",
    "Last outcome category": "outcome",
}
# `2025-03-derbyshire-street.csv`; police.uk's other files (-outcomes, -stop-and-search) are skipped.
STREET_FILE = re.compile(r"^(?P<month>\d{4}-\d{2})-(?P<force>.+)-street\.csv$", re.IGNORECASE)
MONTH_FOLDER = re.compile(r"^\d{4}-\d{2}$")
MONTH_TEXT = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
# Parse in 16 MiB blocks: large enough for pyarrow's throughput, small enough to keep
# memory flat and give the progress bar something to show on a single big file.
BLOCK_SIZE = 16 << 20
# The reader may run this many blocks ahead of the importer (see _ReadAhead), and waits at
# most this long for the importer before reading on anyway.
READ_AHEAD_BLOCKS = 4
READ_AHEAD_WAIT_SECONDS = 5.0
HEADER_LIMIT = 1 << 20
# Bytes looked at a time when checking a file for quote characters (plain_file).
QUOTE_SCAN_BLOCK = 1 << 20
# A rejected line longer than this keeps only its start (and its length) in the quarantine.
RAW_KEPT_CHARS = 10_000
# A zip member is refused unread if it would inflate beyond this, or compresses better than
# MAX_ZIP_RATIO to 1 (real police.uk CSVs: about 5 to 1; small members are not ratio-checked).
MAX_ZIP_MEMBER_BYTES = 1 << 30
MAX_ZIP_RATIO = 50
RATIO_CHECKED_ABOVE = 1 << 20
# A file where more than this share of rows is unreadable is not the file it claims to
# be (a renamed month, another format): refuse it rather than replace a month with scraps.
MAX_REJECTED_SHARE = 0.10
# ... but a handful of bad rows in a small file is still row-level.
REJECTED_ROWS_ALWAYS_ALLOWED = 10
EXAMPLES_SHOWN = 10
LAST_RECONCILIATION = "last-import-reconciliation.csv"
# Spooled parts become the store's partitions as they are (see common.SpooledRecords): the store's codec.
SPOOL_COMPRESSION = "zstd"
# Every file's parts go in this one folder of the spool, named by file and block: a police.uk file is
# one force-month, so a folder per file meant three more folders per file, made and removed again (on
# this machine removing a folder costs 2-5 ms: 2 s of a 258-file import); publishing now renames each
# force-month folder into the version whole (common.SpooledRecords.move_partitions).
SPOOL_FILES_FOLDER = "files"
# Blocks handed to the spool's writer thread and not yet written, at most.
SPOOL_WRITES_PENDING = 2
# Files read and classified at once, each on its own thread (pyarrow's CSV parser and compute
# kernels release the GIL): a national month is 43 files, and one at a time left a core idle
# while the other parsed. Memory holds this many files' blocks in flight instead of one.
STREAM_THREADS = 2
# Columns with few distinct values, dictionary-encoded in the spool's Parquet; the others (ids,
# coordinates: nearly all distinct) are not, which made writing a quarter faster (measured).
SPOOL_DICTIONARY_COLUMNS = ["measure", "ward_code", "location", "reported_by", "source_category", "lsoa_code",
                            "outcome", "street"]
ALLOW_OTHER_FORCES_FLAG = "--allow-other-forces"
# A store for more forces than this is named by its count in messages, not by every name.
MANY_FORCES = 3
# Where each row went, for the reconciliation (common.RECONCILED_PARTS without "rejected").
PLACED_PARTS = ("loaded", "outside_area", "another_owner", "unknown_area", "unallocated")
# The same, as the small integers the classification works with (their positions in PLACED_PARTS).
PLACED_LOADED, PLACED_OUTSIDE, PLACED_ANOTHER, PLACED_UNKNOWN, PLACED_UNALLOCATED = range(len(PLACED_PARTS))
# What the lookups say of an LSOA code: none given, a code no lookup knows, a known code.
NO_LSOA, UNKNOWN, KNOWN = 0, 1, 2
GROUPS_COLUMNS = ("police_uk_type", "group")
# Non-TTY progress: one line per this share of the work, no more often than this.
PROGRESS_STEP = 0.10
PROGRESS_MIN_SECONDS = 5.0
PROGRESS_TTY_SECONDS = 0.1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--groups",
        type=Path,
        help="CSV with columns police_uk_type,group: count police.uk's categories under your reporting "
        "groups (the original category is kept as source_category). See docs/import-police-uk.md.",
    )
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar on stderr")
    parser.add_argument(
        ALLOW_OTHER_FORCES_FLAG, action="store_true",
        help="keep rows that fall within another police force than the store's (their 'Falls within'), stored as "
        "that force's and never counted in this store's figures; without it such a file is refused",
    )


# --------------------------------------------------------------------------- progress


class Progress:
    """A tiny progress bar on stderr that is safe in CI logs.

    On a terminal it redraws one line in place (at most ten times a second); otherwise it
    prints a plain line each time another tenth of the work is done, and no more often
    than every few seconds, so a short import prints only its final line and a long one
    about ten. tqdm is not a dependency for the sake of these forty lines.
    """

    def __init__(self, total: int, label: str, stream: TextIO | None = None, enabled: bool = True,
                 min_seconds: float = PROGRESS_MIN_SECONDS):
        self.total = max(int(total), 1)
        self.min_seconds = min_seconds
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.started = time.monotonic()
        self._last_draw = self.started
        self._last_step = 0
        self._lock = threading.Lock()  # files are read on several threads (STREAM_THREADS)

    def update(self, amount: int) -> None:
        with self._lock:
            self._update(amount)

    def _update(self, amount: int) -> None:
        self.done = min(self.done + int(amount), self.total)
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw >= PROGRESS_TTY_SECONDS:
                self._draw("\r", "")
                self._last_draw = now
            return
        step = int(self.done / self.total / PROGRESS_STEP)
        if step > self._last_step and now - self._last_draw >= self.min_seconds:
            self._draw("", "\n")
            self._last_step, self._last_draw = step, now

    def close(self) -> None:
        self.done = self.total
        if self.enabled:
            self._draw("\r" if self.tty else "", "\n")
            self.enabled = False  # closing twice draws once

    def _draw(self, start: str, end: str) -> None:
        share = self.done / self.total
        width = 30
        bar = "#" * int(share * width) + "-" * (width - int(share * width))
        elapsed = time.monotonic() - self.started
        self.stream.write(f"{start}{self.label} [{bar}] {share:4.0%} {_size(self.done)}/{_size(self.total)} {elapsed:5.1f}s{end}")
        self.stream.flush()


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


# --------------------------------------------------------------------------- finding files


@dataclass(frozen=True)
class StreetFile:
    """One police.uk street CSV, on disk or inside a zip."""

    display: str  # how messages name it: "archive.zip:2025-03/2025-03-derbyshire-street.csv"
    name: str  # the file's own name, stable across zip / folder / copy; prefixes ASB ids
    size: int  # uncompressed bytes, for the progress bar
    expected_month: date | None  # from the file (and folder) name; None for other CSV names
    force: str | None
    path: Path  # the CSV itself, or the zip that holds it
    member: str | None = None

    def open(self) -> BinaryIO:
        if self.member is None:
            return open(self.path, "rb")
        archive = zipfile.ZipFile(self.path)
        handle = archive.open(self.member)
        handle._archive = archive  # keep the archive open as long as the member is read
        return handle

    @property
    def key(self) -> tuple:
        """Two files with the same key hold the same force's same month: the later one wins."""
        if self.expected_month is not None:
            return ("month", self.expected_month, (self.force or "").lower())
        return ("file", str(self.path.resolve()), self.member)


class StreamStopped(Exception):
    """A file left unread because its import is unwinding (interrupted, or failed elsewhere)."""


class FileProblem(Exception):
    """A whole file cannot be imported; the message names it (and the line)."""


def _month_of(text: str) -> date | None:
    try:
        year, month = int(text[:4]), int(text[5:7])
        return date(year, month, 1)
    except ValueError:
        return None


def _street_file(display: str, inner: str, size: int, path: Path, member: str | None) -> StreetFile:
    """Describe one CSV, checking that its folder and file name agree on the month."""
    parts = inner.replace("\\", "/").split("/")
    match = STREET_FILE.match(parts[-1])
    expected = force = None
    if match:
        expected = _month_of(match["month"])
        force = match["force"]
        if expected is None:
            raise FileProblem(f"{display}: {match['month']!r} in the file name is not a month (YYYY-MM)")
        folder = parts[-2] if len(parts) > 1 else ""
        if MONTH_FOLDER.match(folder) and folder != match["month"]:
            raise FileProblem(
                f"{display}: the folder says {folder} but the file name says {match['month']}; "
                "police.uk puts each month's file in a folder of the same month"
            )
    return StreetFile(display, parts[-1], size, expected, force, path, member)


def discover(paths: list[Path]) -> tuple[list[StreetFile], list[str], list[str]]:
    """Every street CSV under the given paths -> (files, notes on skipped files, file-level problems)."""
    found: list[StreetFile] = []
    problems: list[str] = []
    for path in paths:
        try:
            found.extend(_discover_one(Path(path)))
        except FileProblem as exc:
            problems.append(str(exc))
    # The same force's same month given twice (overlapping downloads): the later path wins,
    # exactly as if the two had been imported one after the other.
    latest: dict[tuple, StreetFile] = {}
    for item in found:
        latest[item.key] = item
    keep = set(map(id, latest.values()))
    files = [f for f in found if id(f) in keep]
    skipped = [
        f"{f.display}: skipped, the same month is in {latest[f.key].display}, given later" for f in found if id(f) not in keep
    ]
    return files, skipped, problems


def refuse_implausible_member(path: Path, member: zipfile.ZipInfo) -> None:
    """A zip bomb is refused before a byte of it is inflated: by its declared size and its compression ratio.

    zipfile never inflates more than a member declares (it stops, then fails the CRC), so
    checking the declared size bounds what will be read.
    """
    name = f"{path.name}:{member.filename}"
    if member.file_size > MAX_ZIP_MEMBER_BYTES:
        raise FileProblem(
            f"{name}: {_size(member.file_size)} uncompressed, more than the {_size(MAX_ZIP_MEMBER_BYTES)} a police.uk "
            "file can plausibly be (the largest force's month is about 30 MB); not imported"
        )
    ratio = member.file_size / max(member.compress_size, 1)
    if member.file_size > RATIO_CHECKED_ABOVE and ratio > MAX_ZIP_RATIO:
        raise FileProblem(
            f"{name}: compressed {ratio:,.0f} to 1 ({_size(member.compress_size)} inflating to {_size(member.file_size)}); "
            f"police.uk CSVs compress about 5 to 1, more than {MAX_ZIP_RATIO} to 1 is a zip bomb or a file of one "
            "repeated row; not imported"
        )


def _discover_one(path: Path) -> list[StreetFile]:
    if not path.exists():
        raise FileProblem(f"{path}: no such file or folder")
    if path.is_dir():
        files = [
            _street_file(str(p), str(p.relative_to(path)), p.stat().st_size, p, None)
            for p in sorted(path.rglob("*.csv"))
            if STREET_FILE.match(p.name)
        ]
        if not files:
            others = sorted(p.name for p in path.rglob("*.csv"))[:5]
            raise FileProblem(
                f"{path}: no police.uk street files (YYYY-MM/YYYY-MM-<force>-street.csv) in this folder"
                + (f"; it has: {', '.join(others)}" if others else "")
            )
        return files
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
        except zipfile.BadZipFile as exc:
            raise FileProblem(f"{path}: not a readable zip archive ({exc}); is the download complete?") from None
        files = [
            _street_file(f"{path.name}:{m.filename}", m.filename, m.file_size, path, m.filename)
            for m in members
            if STREET_FILE.match(m.filename.replace("\\", "/").rsplit("/", 1)[-1])
        ]
        for m in members:
            refuse_implausible_member(path, m)
        if not files:
            others = [m.filename for m in members][:5]
            raise FileProblem(
                f"{path}: the zip holds no police.uk street files (YYYY-MM/YYYY-MM-<force>-street.csv)"
                + (f"; it has: {', '.join(others)}" if others else "; it is empty")
            )
        return sorted(files, key=lambda f: f.member or "")
    if path.suffix.lower() == ".csv":
        return [_street_file(str(path), path.name, path.stat().st_size, path, None)]
    raise FileProblem(f"{path}: not a zip archive, a folder or a .csv file")


# --------------------------------------------------------------------------- reading one file


@dataclass
class ParsedFile:
    """One file's rows as Arrow (kept columns, empty fields as null, plus `line`) and its malformed lines."""

    source: StreetFile
    table: pa.Table
    malformed: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, raw)
    blank_lines: int = 0


def check_header(source: StreetFile) -> list[str]:
    """The file's column names, or FileProblem when it is empty, not UTF-8 or not police.uk's header."""
    with source.open() as handle:
        first = handle.readline(HEADER_LIMIT)
    if not first:
        raise FileProblem(f"{source.display}: the file is empty (0 bytes, no header); re-download it")
    if b"\r" in first.rstrip(b"\r\n"):
        raise FileProblem(
            f"{source.display}: its lines end in CR only (an old Mac format), so the file reads as one line; "
            "police.uk files end lines in LF: re-download it, or save it again with Windows or Unix line ends"
        )
    if len(first) >= HEADER_LIMIT and not first.endswith(b"\n"):
        raise FileProblem(
            f"{source.display} line 1: longer than {HEADER_LIMIT >> 20} MiB with no line end, so it is not "
            "police.uk's header line; is this a police.uk street-level CSV?"
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileProblem(_not_utf8(source, 1, first, exc)) from None
    columns = [c.strip() for c in next(csv.reader([text.rstrip("\r\n")]), [])]
    if columns == EXPECTED_COLUMNS:
        return columns
    missing = [c for c in EXPECTED_COLUMNS if c not in columns]
    unexpected = [c for c in columns if c not in EXPECTED_COLUMNS]
    if not missing and not unexpected and len(columns) == len(EXPECTED_COLUMNS):
        return columns  # police.uk's columns in another order: read by name
    if len(missing) > len(EXPECTED_COLUMNS) // 2:
        found = text.strip()[:120]
        raise FileProblem(
            f"{source.display} line 1: not the police.uk street-level header (is the header missing?); "
            f"expected {','.join(EXPECTED_COLUMNS)}; found {found!r}"
        )
    detail = []
    if missing:
        detail.append("missing " + ", ".join(repr(c) for c in missing))
    if unexpected:
        detail.append("unexpected " + ", ".join(repr(c) for c in unexpected))
    if not detail:
        detail.append("a column is repeated")
    raise FileProblem(
        f"{source.display} line 1: the header does not match police.uk's street-level columns ({'; '.join(detail)}); "
        f"expected {','.join(EXPECTED_COLUMNS)}"
    )


def _not_utf8(source: StreetFile, line: int, raw: bytes, exc: UnicodeDecodeError) -> str:
    bad = raw[exc.start : exc.end].hex(" ")
    return (
        f"{source.display} line {line}: not UTF-8 (byte {bad} at column {exc.start + 1}); police.uk files are "
        "UTF-8, so this copy was probably re-saved by a spreadsheet in another encoding (e.g. Windows-1252). "
        "Re-download it, or save it as 'CSV UTF-8'"
    )


def _first_non_utf8(source: StreetFile) -> str:
    """Message naming the first line that is not UTF-8 (only run once pyarrow has said so)."""
    with source.open() as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return _not_utf8(source, number, raw, exc)
    return f"{source.display}: not UTF-8"


def _too_long_line(source: StreetFile) -> str:
    """Message naming the first line longer than the reader's block (only run once pyarrow has refused it)."""
    number = 0
    with source.open() as handle:
        while True:
            number += 1
            chunk = handle.readline(BLOCK_SIZE)
            if not chunk:
                break
            if not chunk.endswith(b"\n"):
                if len(chunk) >= BLOCK_SIZE:
                    break
    return (
        f"{source.display} line {number}: longer than {BLOCK_SIZE >> 20} MiB, the longest line the importer reads "
        "(a police.uk row is a few hundred bytes), so the file is damaged; re-download it"
    )


def raw_lines(source: StreetFile, wanted: set[int]) -> dict[int, str]:
    """The original text of the given physical lines (1-based), for the quarantine.

    A slow Python pass over the file, run only for files that have rejected rows.
    """
    found: dict[int, str] = {}
    if not wanted:
        return found
    last = max(wanted)
    with source.open() as handle:
        for number, raw in enumerate(handle, start=1):
            if number in wanted:
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if len(text) > RAW_KEPT_CHARS:  # an excerpt of a runaway line, not megabytes in the quarantine
                    text = text[:RAW_KEPT_CHARS] + f"... ({len(text):,} characters)"
                found[number] = text
            if number >= last:
                break
    return found


class _ReadAhead(io.RawIOBase):
    """A file the CSV reader may read at most READ_AHEAD_BLOCKS blocks ahead of the blocks consumed.

    pyarrow's streaming reader fetches blocks on its own thread as fast as the disk gives
    them, so while the importer classifies and spools block 1 it had read the whole file
    into memory (measured: 355 MB held for a 350 MB file). Here its reads wait until the
    importer has taken the blocks before them. A wait gives up after READ_AHEAD_WAIT_SECONDS
    (the read then goes ahead), so a reader needing more than the window can never hang.
    """

    def __init__(self, raw: BinaryIO, block_size: int):
        super().__init__()
        self.raw, self.block_size = raw, block_size
        self.position = 0
        self.limit = READ_AHEAD_BLOCKS * block_size
        self._moved = threading.Condition()

    def readable(self) -> bool:
        return True

    def consumed_block(self) -> None:
        """The importer took one more block: let the reader have one more."""
        with self._moved:
            self.limit += self.block_size
            self._moved.notify_all()

    def read(self, size: int | None = -1) -> bytes:
        wanted = self.block_size if size is None or size < 0 else min(size, self.block_size)
        with self._moved:
            self._moved.wait_for(lambda: self.position + wanted <= self.limit, timeout=READ_AHEAD_WAIT_SECONDS)
        data = self.raw.read(-1 if size is None else size)
        self.position += len(data)
        return data

    def close(self) -> None:
        self.raw.close()
        super().close()


def read_street_file(source: StreetFile, progress: Progress) -> ParsedFile:
    """Parse one whole file into Arrow (kept columns only), noting malformed lines (tools and benchmarks).

    The importer itself reads batch by batch (`read_street_batches`); this is those batches
    put back together.
    """
    chunks = list(read_street_batches(source, progress))
    tables = [c.table for c in chunks]
    return ParsedFile(source, pa.concat_tables(tables) if tables else _empty_rows(),
                      sorted(m for c in chunks for m in c.malformed), sum(c.blank_lines for c in chunks))


def _empty_rows() -> pa.Table:
    schema = pa.schema([(c, pa.string()) for c in KEPT_COLUMNS.values()] + [("line", pa.int32())])
    return schema.empty_table()


def read_street_batches(source: StreetFile, progress: Progress, block_size: int = BLOCK_SIZE,
                        exact: bool | None = None) -> Iterator[ParsedFile]:
    """Parse one file block by block, yielding each block's rows (kept columns, plus `line`) and malformed lines.

    Memory stays at about one block whatever the file's size. Physical line numbers: the
    header is line 1 and every later row is either a row or a malformed one (blank lines
    are read as rows of nulls, not skipped, so they count), hence a valid row's number
    follows from its position once the malformed rows before it are known; the reader
    reports a block's malformed rows while parsing it, before the block is yielded.

    That row number is the physical line only while no row spans several lines. One can
    only with a quoted value holding a line break, so a file without a quote character
    (`plain_file`: nearly every police.uk file) takes the fast path, reading only the kept
    columns; any other file (or `exact=True`) takes the exact path: every column is read
    and each row's line breaks inside values are counted, so every later row, valid or
    malformed, keeps its physical line (`_PhysicalLines`). At least one (possibly empty)
    part is yielded, so an empty month is still reported. Raises FileProblem (possibly
    after some parts) when the file cannot be read.
    """
    columns = check_header(source)
    if exact is None:
        exact = not plain_file(source)
    physical = _PhysicalLines()
    malformed: list[tuple[int, str, int]] = []  # (line, text, fields), not yet handed out
    swallowed: list[int] = []  # lines where an unclosed quote ran several lines together

    def on_invalid(row) -> str:
        text = row.text
        if "\n" in text or "\r" in text:
            swallowed.append(row.number)
        if len(text) > RAW_KEPT_CHARS:  # an excerpt of a runaway line, not megabytes in the quarantine
            text = text[:RAW_KEPT_CHARS] + f"... ({len(text):,} characters)"
        malformed.append((row.number, text, row.actual_columns))
        return "skip"

    read_options = pa_csv.ReadOptions(column_names=columns, skip_rows=1, use_threads=False, block_size=block_size)
    parse_options = pa_csv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False)
    convert_options = pa_csv.ConvertOptions(
        column_types={c: pa.string() for c in columns},
        include_columns=columns if exact else list(KEPT_COLUMNS),
        strings_can_be_null=True,
        null_values=[""],  # only an empty field is missing: a street called "NA" is a street
    )
    expected = len(EXPECTED_COLUMNS)
    bad_seen = np.zeros(0, dtype=np.int64)  # every malformed line so far, sorted
    next_line = 2
    yielded = False

    def part(batch: pa.RecordBatch | None) -> ParsedFile:
        nonlocal bad_seen, next_line
        fresh = sorted(malformed, key=lambda m: m[0])
        malformed.clear()
        if fresh:
            bad_seen = np.union1d(bad_seen, np.array([m[0] for m in fresh], dtype=np.int64))
        table = (pa.Table.from_batches([batch]) if batch is not None
                 else _empty_rows().drop_columns(["line"]).rename_columns(list(KEPT_COLUMNS)))
        breaks = _line_breaks(table) if exact and batch is not None else None
        table = table.select(list(KEPT_COLUMNS)).rename_columns(list(KEPT_COLUMNS.values()))
        n = table.num_rows
        ahead = bad_seen[bad_seen >= next_line]
        lines = np.arange(next_line, next_line + n + len(ahead), dtype=np.int64)
        if len(ahead):
            lines = np.setdiff1d(lines, ahead)[:n]
        if n:
            next_line = int(lines[-1]) + 1
        if breaks is not None:
            physical.add(lines, breaks)
        table = table.append_column("line", pa.array(physical.of(lines).astype(np.int32)))
        table, blank = _drop_blank_lines(source, table)
        rejects = [
            (int(physical.of(np.array([line]))[0]),
             f"{count} fields, expected {expected} ({'line cut short?' if count < expected else 'a stray comma?'})", text)
            for line, text, count in fresh
        ]
        return ParsedFile(source, table, rejects, blank)

    with _ReadAhead(source.open(), block_size) as handle:
        position = 0
        try:
            reader = pa_csv.open_csv(handle, read_options=read_options, parse_options=parse_options,
                                     convert_options=convert_options)
            for batch in reader:
                if swallowed:
                    break
                now = handle.position
                progress.update(now - position)
                position = now
                yield part(batch)
                yielded = True
                handle.consumed_block()
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "UTF-8" in str(exc):
                raise FileProblem(_first_non_utf8(source)) from None
            if "straddl" in str(exc):
                raise FileProblem(_too_long_line(source)) from None
            raise FileProblem(f"{source.display}: cannot be read as CSV: {exc}") from None
        progress.update(source.size - position)
    if swallowed:
        raise FileProblem(
            f"{source.display} line {min(swallowed)}: a quote (\") opens a field that is never closed, so the "
            "lines after it run together into one; fix that line or re-download the file"
        )
    if malformed or not yielded:  # malformed lines after the last block's rows, or no rows at all
        yield part(None)


def plain_file(source: StreetFile) -> bool:
    """Whether the file holds no quote character, so no value can hold a line break and every row is one
    physical line (the fast path). One pass at memory speed, block by block (a zip member is inflated
    for it: about 0.2 s for a national month), far less than the exact path's cost for every file."""
    with source.open() as handle:
        while True:
            block = handle.read(QUOTE_SCAN_BLOCK)
            if not block:
                return True
            if b'"' in block:
                return False


def _line_breaks(table: pa.Table) -> np.ndarray:
    """Line feeds inside each row's values (every column, kept or not): the physical lines it spans, less one."""
    total = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        total += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy().astype(np.int64)
    return total


class _PhysicalLines:
    """Row number (as the reader counts rows: one per record, the header being 1) -> physical line.

    A row's physical line is its row number plus the line feeds inside the values of every
    row before it. Only rows that hold line feeds are remembered (few: a multi-line street
    name or context), sorted, so mapping a block is one searchsorted.
    """

    def __init__(self) -> None:
        self.rows = np.zeros(0, dtype=np.int64)  # row numbers holding line feeds, ascending
        self.before = np.zeros(1, dtype=np.int64)  # line feeds in the rows before rows[i] (before[i]); total last

    def add(self, rows: np.ndarray, breaks: np.ndarray) -> None:
        """Remember a block's rows (ascending, after every row added before) and their line feeds."""
        has = breaks > 0
        if has.any():
            self.rows = np.concatenate([self.rows, rows[has]])
            self.before = np.concatenate([self.before, self.before[-1] + np.cumsum(breaks[has])])

    def of(self, rows: np.ndarray) -> np.ndarray:
        if not len(self.rows):
            return rows
        return rows + self.before[np.searchsorted(self.rows, rows, side="left")]


def _drop_blank_lines(source: StreetFile, table: pa.Table) -> tuple[pa.Table, int]:
    """Blank lines are not rows. They read as all-null rows, as does ",,,,,,,,,,," (which is a
    row, and is rejected later), so only the raw text tells them apart; checked only when a
    row has no Month at all, which a police.uk file never has."""
    if table["month_text"].null_count == 0:
        return table, 0
    empty = None
    for name in KEPT_COLUMNS.values():
        column = pc.is_null(table[name])
        empty = column if empty is None else pc.and_(empty, column)
    candidates = table.filter(empty)["line"].to_pylist()
    if not candidates:
        return table, 0
    texts = raw_lines(source, set(candidates))
    blank = {line for line in candidates if not texts.get(line, "").strip()}
    if not blank:
        return table, 0
    keep = pc.invert(pc.is_in(table["line"], value_set=pa.array(sorted(blank), pa.int32())))
    return table.filter(keep), len(blank)


# --------------------------------------------------------------------------- groups mapping


def read_groups(path: Path) -> dict[str, str]:
    """The optional --groups file: police_uk_type (lower case) -> reporting group, checked line by line.

    Anti-social behaviour is not a crime and "All crimes" is computed from every group, so a
    mapping may neither move ASB into a crime group nor name a crime group after either.
    """
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ImportError_(f"--groups {path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ImportError_(f"--groups {path}: not UTF-8 (byte at offset {exc.start}); save it as 'CSV UTF-8'") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip().lower() for c in rows[0]][:2] != list(GROUPS_COLUMNS):
        raise ImportError_(f"--groups {path} line 1: the header must be {','.join(GROUPS_COLUMNS)}")
    mapping: dict[str, tuple[str, int]] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise ImportError_(f"--groups {path} line {number}: needs a police_uk_type and a group, got {','.join(row)!r}")
        kind, group = row[0].strip(), row[1].strip()
        key = kind.lower()
        if key in mapping and mapping[key][0] != group:
            raise ImportError_(
                f"--groups {path} line {number}: {kind!r} is mapped to {mapping[key][0]!r} on line {mapping[key][1]} "
                f"and to {group!r} here"
            )
        if key == ASB.lower() and group != ASB:
            raise ImportError_(
                f"--groups {path} line {number}: {ASB} is a separate measure, not a crime; it cannot go in {group!r}"
            )
        if key != ASB.lower() and group.lower() in (ASB.lower(), ALL_CRIME.lower()):
            raise ImportError_(f"--groups {path} line {number}: {group!r} is a reserved measure name; choose another group")
        mapping[key] = (group, number)
    return {key: group for key, (group, _) in mapping.items()}


# --------------------------------------------------------------------------- classifying


@dataclass
class FileResult:
    """One file's outcome: its records, its rejected rows and its reconciliation rows."""

    source: StreetFile
    records: pa.Table
    rejected: pd.DataFrame  # file, line, reason, raw, month
    reconciliation: pd.DataFrame  # RECONCILIATION_COLUMNS
    categories: dict[str, int]  # source category -> rows
    blank_lines: int = 0
    other_forces: dict[str, int] = field(default_factory=dict)  # another force's slug -> rows (not the store's)
    # Accepted rows per PLACED_PARTS (the reconciliation's numbers without building its frame).
    placed_counts: np.ndarray | None = None


class _Distinct:
    """A low-cardinality column as its distinct values plus each row's index into them.

    Months, LSOA codes and crime types have hundreds of distinct values in millions of rows,
    so mapping them costs one hash lookup per row in Arrow and one Python call per distinct
    value; the index is computed once and shared by every mapping of the same column.
    """

    def __init__(self, column: pa.ChunkedArray):
        self.values = pc.unique(column)
        self.index = pc.index_in(column, value_set=self.values)  # never null: unique() keeps a null value too
        self.values_list = self.values.to_pylist()

    @property
    def index_numpy(self) -> np.ndarray:
        return self.index.to_numpy()

    def map(self, function: Callable[[str | None], object], type_: pa.DataType) -> pa.ChunkedArray:
        return pc.take(pa.array([function(v) for v in self.values_list], type=type_), self.index)


def _parse_month(text: str | None) -> date | None:
    text = (text or "").strip()
    return date(int(text[:4]), int(text[5:7]), 1) if MONTH_TEXT.fullmatch(text) else None


def _month_reason(text: str | None, expected: date | None) -> str | None:
    month = _parse_month(text)
    if text is None or not text.strip():
        return "Month is empty"
    if month is None:
        return f"Month {text!r} is not a month (YYYY-MM)"
    if expected is not None and month != expected:
        return f"Month {month:%Y-%m} does not match the file's month {expected:%Y-%m} (from its name)"
    return None


def _to_float(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Coordinates as numbers; an unreadable one becomes null (the LSOA, not the point, places a row)."""
    try:
        return pc.cast(column, pa.float64())
    except pa.ArrowInvalid:
        return pa.chunked_array([pa.array(pd.to_numeric(column.to_pandas(), errors="coerce"), pa.float64())])


@dataclass
class Placement:
    """Everything that places a row: the store's own lookup and force(s), and the national geography.

    `owners` None means "every row is the store's own force's" (tools that classify a file
    on its own, without a store).
    """

    store_wards: dict[str, str]
    owners: set[str] | None = None
    default_force: str | None = None
    _facts: dict = field(default_factory=dict, repr=False, compare=False)
    # Every code met so far -> its row in _fact_arrays (the lsoa_facts tuples as columns, plus "no national
    # force"): a block's distinct codes take their facts by one dict lookup each and one NumPy take per fact.
    _row_of: dict = field(default_factory=dict, repr=False, compare=False)
    _fact_arrays: tuple | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)  # STREAM_THREADS

    def facts_of(self, codes: list) -> tuple[np.ndarray, ...]:
        """lsoa_facts for each code as arrays (state, national force, in the store's lookup, store ward,
        national ward, no national force), looked up once per code per import, not once per block
        (files classified on several threads share it: one at a time here)."""
        with self._lock:
            return self._facts_of(codes)

    def _facts_of(self, codes: list) -> tuple[np.ndarray, ...]:
        rows = list(map(self._row_of.get, codes))
        if None in rows:
            fresh = []
            for i, code in enumerate(codes):
                if rows[i] is None:
                    if code not in self._row_of:
                        self._row_of[code] = len(self._row_of)
                        fresh.append(self.lsoa_facts(code))
                    rows[i] = self._row_of[code]
            if fresh:
                added = (np.array([f[0] for f in fresh], dtype=np.int8), _objects([f[1] for f in fresh]),
                         np.array([f[2] for f in fresh], dtype=bool), _objects([f[3] for f in fresh]),
                         _objects([f[4] for f in fresh]), np.array([f[1] is None for f in fresh], dtype=bool))
                self._fact_arrays = added if self._fact_arrays is None else tuple(
                    np.concatenate([held, new]) for held, new in zip(self._fact_arrays, added))
        at = np.asarray(rows, dtype=np.int64)
        if self._fact_arrays is None:  # no codes at all (an empty block)
            return (np.zeros(0, np.int8), _objects([]), np.zeros(0, bool), _objects([]), _objects([]), np.zeros(0, bool))
        return tuple(column[at] for column in self._fact_arrays)

    def lsoa_facts(self, code: str | None) -> tuple[int, str | None, bool, str | None, str | None]:
        """(NO_LSOA / UNKNOWN / KNOWN, the force whose district holds it, in the store's lookup, the
        store's ward, the national ward) for one LSOA code as read; remembered for the whole import."""
        found = self._facts.get(code)
        if found is None:
            nat_force, nat_ward = _national_lsoas()
            key = (code or "").strip()
            state = NO_LSOA if not key else KNOWN if key in self.store_wards or key in nat_force else UNKNOWN
            found = (state, nat_force.get(key), key in self.store_wards, self.store_wards.get(key), nat_ward.get(key))
            self._facts[code] = found
        return found

    @staticmethod
    def for_store(data_dir: Path) -> "Placement":
        try:
            lookup = geography.lsoa_lookup(data_dir)
        except FileNotFoundError:
            raise ImportError_(
                f"{Path(data_dir) / geography.LSOA_FILE}: the LSOA lookup is missing from the data directory; "
                f"create the store with: python app.py init --force SLUG --data-dir {Path(data_dir)}"
            ) from None
        try:
            forces = owners.owner_slugs(data_dir)
        except (national.MissingForces, national.UnknownForce) as exc:
            raise ImportError_(str(exc)) from None
        # Both vintages (2011 and 2021) in one map: a code unchanged in 2021 has the same ward.
        wards = dict(zip(lookup["lsoa_code"].str.strip().tolist(), lookup["ward_code"].tolist()))
        return Placement(wards, set(forces), forces[0])


def _objects(values: list) -> np.ndarray:
    """A 1-D object array of the values as they are (np.array would make a list of strings a string array)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@lru_cache(maxsize=1)
def _national_lsoas() -> tuple[dict[str, str], dict[str, str]]:
    """LSOA code (either vintage) -> the force whose district holds it, and -> its 2025 ward."""
    table = national.lsoas().merge(national.districts()[["lad_code", "force_slug"]], on="lad_code", how="left")
    codes = table["lsoa_code"].tolist()
    return dict(zip(codes, table["force_slug"].tolist())), dict(zip(codes, table["ward_code"].tolist()))


def _force_slug(name: str | None) -> str | None:
    found = national.force_named(name) if name and name.strip() else None
    return found.slug if found is not None else None


def classify_file(parsed: ParsedFile, wards: "dict[str, str] | Placement", groups: dict[str, str] | None,
                  raw_text: bool = True, reconcile: bool = True) -> FileResult:
    """Month checks, force, LSOA -> ward, measure and reconciliation for one file (or one part of it), all vectorised.

    With `raw_text` False a rejected row's raw line is left empty, for the caller to fill in
    one pass over the file (reading it again for every part would cost the file's size each time).
    With `reconcile` False the reconciliation frame is not built (None): its numbers are in
    `placed_counts` and the rejected rows, for a caller summing a file's blocks.

    A row's force is its "Falls within" (empty: the file name's force, else the store's). A
    row of the store's own force is loaded in its ward, outside the force area (an LSOA of
    another district), an unknown LSOA (no lookup knows the code) or unallocated (no LSOA).
    Another force's row is placed relative to its own force, and counted as another force's.
    """
    placement = wards if isinstance(wards, Placement) else Placement(dict(wards))
    source, table = parsed.source, parsed.table
    expected = source.expected_month
    months, kinds, lsoas = _Distinct(table["month_text"]), _Distinct(table["crime_type"]), _Distinct(table["lsoa_code"])
    falls = _Distinct(table["falls_within"])
    month = months.map(_parse_month, pa.date32())
    fallback = _force_slug(source.force) or placement.default_force
    reason = pc.coalesce(
        months.map(lambda t: _month_reason(t, expected), pa.string()),
        kinds.map(lambda t: None if (t or "").strip() else "Crime type is empty", pa.string()),
        falls.map(lambda t: None if not (t or "").strip() or _force_slug(t)
                  else f"Falls within {t.strip()!r} is not a police force that publishes on police.uk", pa.string()),
    )
    force = falls.map(lambda t: _force_slug(t) or fallback, pa.string())

    def measure_of(kind: str | None) -> str | None:
        kind = (kind or "").strip()
        if not kind or kind == ASB or groups is None:
            return kind or None
        return groups.get(kind.lower(), kind)

    # Where each row goes follows from two low-cardinality columns, its LSOA code and its force: the
    # decision is made once per (distinct LSOA, distinct force) pair on a small grid, and each row
    # takes its pair's outcome (Python never loops over rows; an LSOA's facts are looked up once per import).
    state, code_force, in_store, store_ward, other_ward, no_national = (
        column[:, None] for column in placement.facts_of(lsoas.values_list))
    forces_d = [_force_slug(t) or fallback for t in falls.values_list]
    row_force = np.array(forces_d, dtype=object)[None, :]
    own = np.array([placement.owners is None or f in placement.owners for f in forces_d], dtype=bool)[None, :]
    same_force = code_force == row_force
    # Where the row lies relative to its own force's area.
    inside = np.where(own, in_store & (no_national | same_force), same_force) & (state == KNOWN)
    location_grid = np.where(state != KNOWN, geography.NO_LOCATION,
                             np.where(inside, geography.IN_AREA, geography.OUTSIDE_AREA))
    grid = inside.shape
    placed_grid = np.select(
        [np.broadcast_to(~own, grid), np.broadcast_to(state == NO_LSOA, grid), np.broadcast_to(state == UNKNOWN, grid),
         inside],
        [PLACED_ANOTHER, PLACED_UNALLOCATED, PLACED_UNKNOWN, PLACED_LOADED],
        default=PLACED_OUTSIDE,
    ).astype(np.int8)
    ward_grid = np.where(inside, np.where(own, store_ward, other_ward), None)
    pair = (lsoas.index_numpy.astype(np.int64) * len(forces_d) + falls.index_numpy).astype(np.int64)
    pair_index = pa.array(pair)
    placed_np = placed_grid.ravel()[pair]
    location = pc.take(pa.array(location_grid.ravel().astype(object), pa.string()), pair_index)
    ward_code = pc.take(pa.array(ward_grid.ravel(), pa.string()), pair_index)
    record_ids = table["crime_id"]
    if record_ids.null_count:  # anti-social behaviour rows: the file's name and the row's line
        record_ids = pc.coalesce(
            record_ids, pc.binary_join_element_wise(pa.scalar(source.name), pc.cast(table["line"], pa.string()), ":"),
        )
    records = pa.table(
        {
            "record_id": record_ids,
            "month": month,
            "measure": kinds.map(measure_of, pa.string()),
            "ward_code": ward_code,
            "location": location,
            "force": force,
            "reported_by": table["reported_by"],
            "source_category": kinds.map(lambda t: (t or "").strip() or None, pa.string()),
            "lsoa_code": table["lsoa_code"],
            "outcome": table["outcome"],
            "longitude": _to_float(table["longitude"]),
            "latitude": _to_float(table["latitude"]),
            "street": table["street"],
        }
    )
    accepted = pc.is_null(reason)
    n_rejected = len(reason) - reason.null_count
    rejected_parts = []
    if parsed.malformed:
        rejected_parts.append(pd.DataFrame({"line": [m[0] for m in parsed.malformed],
                                            "reason": [m[1] for m in parsed.malformed],
                                            "raw": [m[2] for m in parsed.malformed], "month": expected}))
    if n_rejected:
        judged = pa.table({"line": table["line"], "reason": reason, "month": month}).filter(pc.invert(accepted)).to_pandas()
        texts = raw_lines(source, set(judged["line"].tolist())) if raw_text else {}
        judged["raw"] = [texts.get(line, "") for line in judged["line"]]
        judged["month"] = expected if expected is not None else judged["month"]
        rejected_parts.append(judged)
        records = records.filter(accepted)
        placed_np = placed_np[accepted.to_numpy(zero_copy_only=False)]
    if rejected_parts:
        rejected = pd.concat(rejected_parts, ignore_index=True)
        rejected["month"] = pd.to_datetime(rejected["month"]).dt.date
        rejected.insert(0, "file", source.display)
        rejected = rejected.sort_values("line", ignore_index=True)
    else:
        rejected = _no_rejected()
    categories = pc.value_counts(records["source_category"]).to_pylist()
    other_forces = {}
    if (placed_np == PLACED_ANOTHER).any():
        others = records.filter(pa.array(placed_np == PLACED_ANOTHER))
        other_forces = {c["values"]: c["counts"] for c in pc.value_counts(others["force"]).to_pylist()}
    file_force = _force_slug(source.force) or _majority(records["force"]) or placement.default_force
    placed_counts = np.bincount(placed_np, minlength=len(PLACED_PARTS)).astype(np.int64)
    reconciliation = _reconcile(source, records, placed_np, placed_counts, rejected, file_force) if reconcile else None
    return FileResult(
        source,
        records,
        rejected,
        reconciliation,
        {c["values"]: c["counts"] for c in categories if c["values"] is not None},
        parsed.blank_lines,
        other_forces,
        placed_counts,
    )


def _no_rejected() -> pd.DataFrame:
    """A file's (or block's) rejected rows when there are none: the columns and types of a non-empty one
    (copied from one made once: building a frame costs a millisecond, a file's block a few)."""
    return _empty_rejected().copy()


@lru_cache(maxsize=1)
def _empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({"file": pd.Series([], dtype=object), "line": pd.Series([], dtype="int64"),
                         "reason": pd.Series([], dtype=object), "raw": pd.Series([], dtype=object),
                         "month": pd.Series([], dtype=object)})


def _majority(column: pa.ChunkedArray) -> str | None:
    """The most frequent value of a column (a file's force when its name does not say)."""
    counts = [c for c in pc.value_counts(column).to_pylist() if c["values"] is not None]
    return max(counts, key=lambda c: c["counts"])["values"] if counts else None


def _reconciliation_row(display: str, month: date, placed_counts: np.ndarray, rejected: int,
                        force: str | None) -> pd.DataFrame:
    """The one reconciliation row of a file named for a month (all its rows, rejected ones too, are that month's)."""
    counts = {part: int(n) for part, n in zip(PLACED_PARTS, placed_counts)}
    row = {"file": display, "month": month, "rows_read": sum(counts.values()) + int(rejected), **counts,
           "rejected": int(rejected), "force": force}
    return pd.DataFrame([row], columns=STORED_RECONCILIATION_COLUMNS + ["force"])


def _reconcile(source: StreetFile, records: pa.Table, placed: np.ndarray, placed_counts: np.ndarray,
               rejected: pd.DataFrame, file_force: str | None) -> pd.DataFrame:
    """rows read = loaded + outside area + another force + unknown LSOA + unallocated + rejected, per month of one file.

    A file named for a month reports under that month, even with no rows at all, so a month
    published empty is recorded as held (zero) for the file's force, not as missing.
    `placed` is each accepted record's PLACED_PARTS position, `placed_counts` their counts.
    """
    if source.expected_month is not None:
        return _reconciliation_row(source.display, source.expected_month, placed_counts, len(rejected), file_force)
    if records.num_rows == 0:
        frame = pd.DataFrame({"month": pd.Series([], dtype=object)})
    else:
        named = pa.array(np.array(PLACED_PARTS, dtype=object)[placed], pa.string())
        grouped = (pa.table({"month": records["month"], "placed": named})
                   .group_by(["month", "placed"]).aggregate([([], "count_all")]))
        frame = grouped.to_pandas().pivot_table(index="month", columns="placed", values="count_all", aggfunc="sum")
        frame = frame.reset_index()
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    rejects = rejected.groupby("month", dropna=False).size().rename("rejected").reset_index()
    frame = frame.merge(rejects, on="month", how="outer")
    parts = [*PLACED_PARTS, "rejected"]
    frame = frame.reindex(columns=["month"] + parts)
    frame[parts] = frame[parts].fillna(0).astype("int64")
    frame["rows_read"] = frame[parts].sum(axis=1)
    frame["file"] = source.display
    frame["force"] = file_force
    return frame.sort_values("month", na_position="last", ignore_index=True)[STORED_RECONCILIATION_COLUMNS + ["force"]]


def check_rejection_rates(reconciliation: pd.DataFrame, rejected: pd.DataFrame) -> list[str]:
    """Files that are mostly unreadable: refuse them rather than replace a month with what is left."""
    problems = []
    per_file = reconciliation.groupby("file", sort=False)[["rows_read", "rejected"]].sum()
    for name, row in per_file.iterrows():
        if row["rejected"] == 0:
            continue
        if _mostly_unreadable(row["rows_read"], row["rejected"]):
            first = rejected[rejected["file"] == name].iloc[0]
            problems.append(
                f"{name}: {row['rejected']:,} of {row['rows_read']:,} rows cannot be read, so the file was not "
                f"imported (a file with more than {MAX_REJECTED_SHARE:.0%} bad rows is not what its name says); "
                f"first, line {first['line']}: {first['reason']}"
            )
    return problems


# --------------------------------------------------------------------------- the command


def main(args: argparse.Namespace) -> int:
    """Import the given downloads; print the reconciliation. Exit 0 on success, 2 on bad input."""
    try:
        return run_import(
            list(args.paths), Path(args.data_dir), getattr(args, "groups", None),
            progress=not getattr(args, "no_progress", False),
            replace_smaller=getattr(args, "replace_smaller", False),
            allow_other_forces=getattr(args, "allow_other_forces", False),
        )
    except ImportError_ as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("The store was not changed.", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        print("\ninterrupted: the store was not changed.", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("Imports swap in atomically, so the store is either as it was or fully updated; "
              "`python app.py export counts` shows which.", file=sys.stderr)
        return 1


def run_import(
    paths: list[Path],
    data_dir: Path,
    groups_file: Path | None = None,
    progress: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
    replace_smaller: bool = False,
    allow_other_forces: bool = False,
    block_size: int = BLOCK_SIZE,
) -> int:
    """Read, check and classify every file block by block into a spool, then publish them in one atomic swap.

    Memory holds one block of `block_size` bytes at a time, whatever the files' size; the
    spool (Parquet parts in the store's temp area) is removed when the import ends.

    A file holding rows of another force than the store's is refused (naming both forces)
    unless `allow_other_forces`: then those rows are stored as that force's, under its own
    partition key, and never counted in this store's figures.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    started = time.monotonic()
    if not Path(data_dir).is_dir():
        raise ImportError_(f"{data_dir}: no such data directory; create it with: "
                           f"python app.py init --force SLUG --data-dir {data_dir}")
    placement = Placement.for_store(data_dir)
    groups = read_groups(groups_file) if groups_file is not None else None

    files, skipped, problems = discover(paths)
    results: list[FileResult] = []
    with ExitStack() as stack:
        # The whole import holds the store's write lock: the spool lives in the store's temp
        # area, which the lock's cleaning clears of whatever a killed import left there.
        try:
            stack.enter_context(store_writer.write_lock(data_dir))
            spool = SpooledRecords(store_writer.new_spool_dir(data_dir, DATASET))
        except OSError as exc:
            raise StoreWriteFailed(_write_failure(data_dir, exc)) from None
        stack.callback(shutil.rmtree, spool.folder, True)
        # One thread writes every file's spooled parts (stream_file waits for a file's own before returning).
        writer = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool"))
        bar = Progress(sum(f.size for f in files), "reading police.uk files", stream=err, enabled=progress)
        readers = stack.enter_context(ThreadPoolExecutor(max_workers=STREAM_THREADS, thread_name_prefix="read"))
        stop = threading.Event()  # set as the import unwinds (Ctrl-C, a failure): files in flight stop at their next block
        stack.callback(stop.set)
        refused = 0  # files refused as another force's: the others are still classified, to name every one
        queued = iter(enumerate(files))
        in_flight: deque[tuple[int, Path | None, Future]] = deque()

        def read_ahead() -> None:
            """Keep STREAM_THREADS files reading, in the files' order."""
            while len(in_flight) < STREAM_THREADS and (item := next(queued, None)) is not None:
                number, source = item
                # once a file cannot be read nothing will be written: only check the rest
                folder = spool.folder / SPOOL_FILES_FOLDER if len(problems) == refused else None
                in_flight.append((number, folder, readers.submit(
                    stream_file, source, placement, groups, bar, folder, block_size, data_dir, writer, number, stop)))

        read_ahead()
        while in_flight:  # outcomes taken in the files' order, so messages and results keep it
            number, folder, future = in_flight.popleft()
            try:
                result = future.result()
            except FileProblem as exc:
                problems.append(str(exc))
                result = None
            if result is not None and result.other_forces and not allow_other_forces:
                problems.append(_other_force_problem(result, placement))
                refused += 1
                _remove_file_parts(folder, number)  # its records are not this store's
            elif result is not None:
                results.append(result)
            read_ahead()
        bar.close()
        if problems:
            raise ImportError_(_list("file(s) cannot be imported", problems))
        if not results:
            raise ImportError_("no police.uk street files found in " + ", ".join(map(str, paths)))

        reconciliation = pd.concat([r.reconciliation for r in results], ignore_index=True)
        rejected = pd.concat([r.rejected for r in results], ignore_index=True)
        categories: dict[str, int] = {}
        for r in results:
            for name, count in r.categories.items():
                categories[name] = categories.get(name, 0) + count
        problems = check_rejection_rates(reconciliation, rejected)
        unmapped = sorted(c for c in categories if groups is not None and c != ASB and c.lower() not in groups)
        if unmapped:
            problems.append(
                f"--groups {groups_file}: no group for {', '.join(repr(t) for t in unmapped)}; "
                "add a row for each (a category may be its own group)"
            )
        if problems:
            raise ImportError_(_list("problem(s) found", problems))

        months_before = _months_held(data_dir, placement.owners)
        source_note = "police.uk street-level crime: " + ", ".join(sorted({Path(p).name for p in paths}))
        blank_notes = [f"{r.source.display}: {r.blank_lines:,} blank line(s) ignored (not rows)" for r in results if r.blank_lines]
        del results
        if progress:
            err.write(f"writing the store ({sum(spool.counts().values()):,} records)...\n")
            err.flush()
        published = publish_spooled_import(data_dir, DATASET, spool, rejected[REJECTED_COLUMNS], reconciliation,
                                           source_note, replace_smaller=replace_smaller)
    try:
        saved = _save_last_reconciliation(data_dir, reconciliation)
        report(out, reconciliation, rejected, categories, published, months_before, skipped + blank_notes, saved,
               time.monotonic() - started, owned=placement.owners)
    except KeyboardInterrupt:
        err.write("\ninterrupted after the import was published: the store is complete and consistent; only the "
                  "summary was not printed (see the crime reconciliation table)\n")
        return 130
    return 0


def stream_file(source: StreetFile, placement: Placement, groups: dict[str, str] | None, progress: Progress,
                spool: Path | None, block_size: int = BLOCK_SIZE, data_dir: Path | None = None,
                writer: ThreadPoolExecutor | None = None, file_number: int = 0,
                stop: threading.Event | None = None) -> FileResult | None:
    """Read, classify and spool one file block by block; its outcome without its records.

    Each block's records are written to `spool` as Parquet parts as soon as they are
    classified, so memory holds one block, not the file; so are its rejected rows, which
    are read back only when the file is importable (then at most MAX_REJECTED_SHARE of its
    rows; a file refused as mostly unreadable keeps only its first rejected row, for the
    message). What stays in memory is small: the reconciliation per month, category and
    force counts. With `spool` None the file is only read (its problems found) and None
    is returned. `writer` is the one-thread pool that writes the parts (an import of many
    files passes one for them all: starting a thread per file cost more than a small file's
    classification); without it the file gets its own. `file_number` names the file's parts
    (`part-<file>-<block>`) in a spool folder shared by every file of the import. Once `stop` is
    set (the import is unwinding) the file stops at its next block with StreamStopped.
    """
    pieces: list[FileResult] = []
    forces: dict[str, int] = {}
    n_rejected = 0
    named_month = source.expected_month  # a file named for its month: one reconciliation row, summed from counts
    rejected_parts: list[Path] = []
    first_rejected: pd.DataFrame | None = None
    # Parquet writing releases the GIL: one thread writes block n while block n+1 is classified,
    # with at most SPOOL_WRITES_PENDING blocks waiting, so memory stays bounded.
    with ExitStack() as own_writer:
        if writer is None:
            writer = own_writer.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool"))
        pending: deque[Future] = deque()
        try:
            for number, parsed in enumerate(read_street_batches(source, progress, block_size)):
                if stop is not None and stop.is_set():
                    raise StreamStopped(source.display)
                if spool is None:
                    continue
                piece = classify_file(parsed, placement, groups, raw_text=False, reconcile=named_month is None)
                n_rejected += len(piece.rejected)
                del parsed
                for item in pc.value_counts(piece.records["force"]).to_pylist():
                    if item["values"] is not None:
                        forces[item["values"]] = forces.get(item["values"], 0) + item["counts"]
                while len(pending) >= SPOOL_WRITES_PENDING:
                    pending.popleft().result()
                name = f"{file_number:05d}-{number:06d}"
                pending.append(writer.submit(_write_part, piece.records, spool, name, data_dir))
                piece.records = piece.records.schema.empty_table()  # not a slice: that would keep the block alive
                if len(piece.rejected):
                    rejected_parts.append(_write_rejected(piece.rejected, spool / f"rejected-{name}.parquet", data_dir))
                    head = piece.rejected.iloc[[0]]
                    if first_rejected is None or head["line"].iat[0] < first_rejected["line"].iat[0]:
                        first_rejected = head
                    piece.rejected = piece.rejected.iloc[:0]
                pieces.append(piece)
            for done in pending:
                done.result()
        finally:  # a file that fails midway leaves no write of its own in flight behind it
            wait(pending)
    if spool is None:
        return None
    file_force = (_force_slug(source.force) or (max(forces, key=forces.get) if forces else None)
                  or placement.default_force)
    if named_month is not None:
        recon = _reconciliation_row(source.display, named_month, sum(p.placed_counts for p in pieces), n_rejected,
                                    file_force)
    else:
        parts = [*PLACED_PARTS, "rejected"]
        recon = pd.concat([p.reconciliation for p in pieces], ignore_index=True)
        recon = recon.groupby("month", dropna=False, sort=False)[parts].sum().reset_index()
        recon[parts] = recon[parts].astype("int64")
        recon["rows_read"] = recon[parts].sum(axis=1)
        recon["file"] = source.display
        recon["force"] = file_force
        recon = recon.sort_values("month", na_position="last", ignore_index=True)[STORED_RECONCILIATION_COLUMNS + ["force"]]
    n_read = int(recon["rows_read"].sum())
    if not n_rejected:
        rejected = pieces[0].rejected  # none: no concatenating, sorting or re-reading
    elif _mostly_unreadable(n_read, n_rejected):
        rejected = first_rejected  # refused by check_rejection_rates, which names the first
    else:
        rejected = pd.concat([pieces[0].rejected] + [pd.read_parquet(part) for part in rejected_parts],
                             ignore_index=True).sort_values("line", ignore_index=True)
    missing = rejected["raw"] == ""  # judged rows (wrong month, no type...): their text in one pass over the file
    if missing.any():
        texts = raw_lines(source, set(rejected.loc[missing, "line"].tolist()))
        rejected.loc[missing, "raw"] = [texts.get(line, "") for line in rejected.loc[missing, "line"]]
    categories: dict[str, int] = {}
    others: dict[str, int] = {}
    for piece in pieces:
        for name, count in piece.categories.items():
            categories[name] = categories.get(name, 0) + count
        for name, count in piece.other_forces.items():
            others[name] = others.get(name, 0) + count
    return FileResult(source, pieces[-1].records, rejected, recon, categories,
                      sum(p.blank_lines for p in pieces), others)


def _write_rejected(rejected: pd.DataFrame, path: Path, data_dir: Path | None) -> Path:
    """One block's rejected rows into the spool (a disk refusing them is the store's write failure)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as sink:  # closed even when the disk refuses the write (see _write_table)
            rejected.astype({"month": "object"}).to_parquet(sink, index=False)
    except OSError as exc:
        raise StoreWriteFailed(_write_failure(data_dir or path.parent, exc)) from None
    return path


def _write_table(table: pa.Table, path: Path, **options) -> None:
    """pq.write_table into a file this function opens and always closes.

    When the disk refuses a write, pyarrow's own file handle stays open (its close fails
    first) until the garbage collector runs, and an open file keeps a full disk from being
    remounted or freed. Arrow's own unbuffered file (no GIL held while writing, so the
    writer thread still overlaps the classification) closes its descriptor on leaving.
    """
    with pa.OSFile(str(path), "wb") as sink:
        pq.write_table(table, sink, **options)


def _remove_file_parts(spool: Path, file_number: int) -> None:
    """Remove one file's spooled parts (a file refused after it was spooled), leaving the other files' parts."""
    for part in spool.glob(f"*/*/part-{file_number:05d}-*.parquet"):
        part.unlink()
    for part in spool.glob(f"rejected-{file_number:05d}-*.parquet"):
        part.unlink()


def _mostly_unreadable(rows_read: int, rejected: int) -> bool:
    """The rule check_rejection_rates refuses a file by: too many bad rows, or none usable."""
    too_many = rejected > REJECTED_ROWS_ALWAYS_ALLOWED and rejected > MAX_REJECTED_SHARE * rows_read
    return rows_read - rejected == 0 or too_many


def _write_part(records: pa.Table, spool: Path, name: str, data_dir: Path | None) -> None:
    """One block's records into the spool, split by force and month as the store's partitions are.

    `<spool>/force=<slug>/ym=YYYY-MM/part-<file>-<block>.parquet`, without the two keys (the folder
    names hold them). A block of a police.uk file is one force-month, written as it is; a
    block mixing several is sorted by the key once and written slice by slice (plain
    write_table: measured two to three times faster than pyarrow's dataset writer here).
    A disk that refuses a write is the store's write failure (exit 3), not the file's.
    """
    rows = records.drop_columns(["force"])
    try:
        spool.mkdir(parents=True, exist_ok=True)
        if not (spool / SPOOL_SCHEMA).exists():
            _write_table(rows.schema.empty_table(), spool / SPOOL_SCHEMA)
        if not records.num_rows:
            return
        by = [("force", "ascending"), ("month", "ascending")]
        forces, months = pc.unique(records["force"]), pc.unique(records["month"])
        if len(forces) == 1 and len(months) == 1:  # a police.uk file's block: one force-month, no grouping
            pairs = pa.table({"force": forces, "month": months, "count_all": pa.array([records.num_rows], pa.int64())})
        else:
            pairs = records.select(["force", "month"]).group_by(["force", "month"]).aggregate([([], "count_all")])
        if pairs.num_rows > 1:
            rows = rows.take(pc.sort_indices(records, sort_keys=by))
            pairs = pairs.sort_by(by)
        start = 0
        for force, month, count in zip(*(pairs[c].to_pylist() for c in ("force", "month", "count_all"))):
            folder = spool / f"force={force}" / f"{store_writer.PARTITION_KEY}={month:%Y-%m}"
            folder.mkdir(parents=True, exist_ok=True)
            _write_table(rows.slice(start, count), folder / f"part-{name}.parquet", compression=SPOOL_COMPRESSION,
                         use_dictionary=SPOOL_DICTIONARY_COLUMNS)
            start += count
    except OSError as exc:
        raise StoreWriteFailed(_write_failure(data_dir or spool, exc)) from None


def _force_name(slug: str) -> str:
    found = national.forces().get(slug)
    return found.name if found is not None else slug


def _other_force_problem(result: FileResult, placement: Placement) -> str:
    """The refusal of a file with another force's rows: which forces, how many rows, what to do."""
    rows = result.reconciliation["rows_read"].sum()
    theirs = ", ".join(f"{_force_name(f)} ({n:,} rows)" for f, n in sorted(result.other_forces.items(), key=lambda x: -x[1]))
    owned = sorted(placement.owners or [])
    mine = (" and ".join(_force_name(f) for f in owned) if len(owned) <= MANY_FORCES
            else f"its {len(owned)} forces ({', '.join(owned[:MANY_FORCES])}, ...)")
    return (f"{result.source.display}: {sum(result.other_forces.values()):,} of {rows:,} rows fall within another "
            f"police force ('Falls within': {theirs}), but this store is for {mine}; nothing was imported. Import "
            f"it into a store for that force (python app.py init --force SLUG --data-dir DIR), or add "
            f"{ALLOW_OTHER_FORCES_FLAG} to keep those rows as that force's, never counted in {mine}'s figures")


def _list(title: str, problems: list[str]) -> str:
    return f"{len(problems)} {title}:\n  " + "\n  ".join(problems)


def _months_held(data_dir: Path, forces: set[str] | None = None) -> set[date]:
    """Months the crime dataset holds now for the store's own force(s) (none if it is the synthetic demo), for the summary."""
    try:
        manifest = read_manifest(data_dir)
    except StoreError:
        return set()
    rel = manifest.get("datasets", {}).get(DATASET)
    if not rel or manifest.get("synthetic", {}).get(DATASET):
        return set()
    path = Path(data_dir) / rel / "coverage.parquet"
    if not path.exists():
        return set()
    coverage = pd.read_parquet(path)
    if forces is not None and "force" in coverage:
        coverage = coverage[coverage["force"].isin(forces)]
    return set(pd.to_datetime(coverage["month"]).dt.date)


def _save_last_reconciliation(data_dir: Path, reconciliation: pd.DataFrame) -> Path:
    """`<data-dir>/crime/last-import-reconciliation.csv`, written atomically after the swap."""
    path = Path(data_dir) / DATASET / LAST_RECONCILIATION
    frame = reconciliation.copy()
    frame["month"] = pd.to_datetime(frame["month"]).dt.strftime("%Y-%m")
    tmp = path.with_suffix(".csv.tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def report(out: TextIO, reconciliation: pd.DataFrame, rejected: pd.DataFrame, categories: dict[str, int], published,
           months_before: set[date], skipped: list[str], saved: Path, seconds: float,
           owned: set[str] | None = None) -> None:
    """The summary a person reads: where every row went, which months changed, what was refused."""
    table = reconciliation.copy()
    table["month"] = pd.to_datetime(table["month"]).dt.strftime("%Y-%m").fillna("?")
    numbers = ["rows_read", "loaded", "outside_area", "another_owner", "unknown_area", "unallocated", "rejected"]
    total = table[numbers].sum()
    headings = ["file", "month", "rows read", "loaded", "outside area", "other force", "unknown LSOA", "unallocated",
                "rejected"]
    rows = [[r.file, r.month] + [f"{getattr(r, c):,}" for c in numbers] for r in table.itertuples()]
    rows.append(["TOTAL", ""] + [f"{int(total[c]):,}" for c in numbers])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headings)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    print(f"police.uk import: {int(total['rows_read']):,} rows from {table['file'].nunique()} file(s) in {seconds:.1f}s",
          file=out)
    print(line(headings), file=out)
    for row in rows[:-1]:
        print(line(row), file=out)
    print(line(rows[-1]), file=out)
    print("rows read = loaded (in a ward) + outside area + other force + unknown LSOA + unallocated (no LSOA) + rejected, "
          "for every file and month; outside-area, unknown-LSOA and unallocated rows are stored too and count in the "
          "Force Area total; another force's rows are stored as that force's and never counted in this store's figures.",
          file=out)
    in_force = int(total["rows_read"] - total["outside_area"] - total["another_owner"])
    if in_force:
        print(f"ward match: {int(total['loaded']):,} of {in_force:,} rows within the force area ({total['loaded'] / in_force:.2%}) "
              "have a ward", file=out)
    pairs = getattr(published, "pairs", set()) or {(None, m) for m in published.months_replaced}
    months = sorted({m for f, m in pairs if f is None or owned is None or f in owned})
    others = sorted({(f, m) for f, m in pairs if f is not None and owned is not None and f not in owned})
    if others:
        print("kept as another force's, never in this store's figures: "
              + ", ".join(f"{_force_name(f)} {m:%Y-%m}" for f, m in others), file=out)
    replaced = [m for m in months if m in months_before]
    added = [m for m in months if m not in months_before]
    if added:
        print(f"months added: {_month_list(added)}", file=out)
    if replaced:
        print(f"months replaced (re-imported; their old rows are gone, no duplicates): {_month_list(replaced)}", file=out)
    if published.replaced_synthetic:
        print("the store held SYNTHETIC demo crime data: this import replaced it entirely; no demo figures remain "
              "in the crime dataset.", file=out)
    for note in skipped:
        print(f"note: {note}", file=out)
    unknown = {k: v for k, v in categories.items() if k not in POLICE_UK_TYPES}
    if unknown:
        listed = ", ".join(f"{k!r} ({v:,} rows)" for k, v in sorted(unknown.items()))
        print(f"note: categories that are not among police.uk's 14 were kept as their own measures: {listed}", file=out)
    if len(rejected):
        print(f"rejected: {len(rejected):,} row(s), kept with their reason and raw line in {published.quarantine_file}:",
              file=out)
        for r in rejected.head(EXAMPLES_SHOWN).itertuples():
            print(f"  {r.file} line {r.line}: {r.reason}", file=out)
        if len(rejected) > EXAMPLES_SHOWN:
            print(f"  ... and {len(rejected) - EXAMPLES_SHOWN:,} more", file=out)
    print(f"reconciliation saved to {saved} (and in the store's reconciliation table)", file=out)


def _month_list(months: list[date]) -> str:
    if len(months) > 6:
        return f"{len(months)} months, {months[0]:%Y-%m} to {months[-1]:%Y-%m}"
    return ", ".join(f"{m:%Y-%m}" for m in months)
