"""Reading a record-level CSV batch by batch, in memory bounded whatever the file's size (issue 9).

The MARAC, hate crime and fire importers read with this. Why it is built this way:

* The file is never held whole: a first pass checks that it decodes (block by block, so the
  error can still name the line and byte), then a second pass hands Python's csv module one
  physical line at a time and yields `Batch`es of at most `ROWS_PER_BATCH` rows. Memory is
  one batch, whatever the file.
* Python's csv module, not a faster reader, because the quarantine promises each rejected
  row's first physical line and its raw text, quoted fields may hold line breaks, and a
  quote left open must stop the import naming the line: csv keeps all three exactly.
* A physical line longer than `MAX_LINE_CHARS` is never held either: `readline` is capped,
  the rest of the line is skipped unread into memory, and the row comes back in
  `Batch.too_long` (line, first `RAW_KEPT_CHARS` characters and length) for the importer to
  reject - a 100 MB single-line file is one rejected row, not a crash.
* Line ends may be LF, CRLF or CR alone (old Mac exports): the text is read with universal
  newlines, so a CR-only file is rows, not one long line.
* A batch's values are columns (lists of strings), never a dict per row: the importers check
  them a column at a time, and look up each *distinct* value once (`by_distinct`), since a
  file of millions of rows has only thousands of distinct dates, codes and categories.
"""
from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# A physical line longer than this is a rejected row, never parsed (a MARAC, hate or IRS row is a
# few hundred characters; Python's csv module refuses fields over 131,072).
MAX_LINE_CHARS = 65_536
# What the quarantine keeps of an over-long line.
RAW_KEPT_CHARS = 200
# Rows per batch: large enough that per-batch work (Arrow and pandas calls) is amortised, small
# enough that a batch's Python objects (a list and a string per field) stay tens of megabytes.
ROWS_PER_BATCH = 25_000
# Bytes decoded at a time when checking the encoding.
DECODE_BLOCK = 1 << 20
# How much of the file's start is looked at for NUL bytes (a binary file, not a CSV).
SNIFF_BYTES = 4096


@dataclass
class Scan:
    """What the decoding pass found: whether the file holds anything, and where it stops decoding."""

    has_text: bool  # some byte that is not whitespace
    head: bytes  # the first SNIFF_BYTES bytes
    bad_line: int | None = None  # physical line (1-based) of the first byte that does not decode
    bad_offset: int | None = None
    bad_byte: str | None = None  # that byte, hex


def scan(path: Path, codec: str) -> Scan:
    """Decode the whole file block by block (bounded memory); LookupError if `codec` is unknown."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    newlines = offset = 0
    has_text = False
    head = b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(DECODE_BLOCK)
            final = not block
            if len(head) < SNIFF_BYTES:
                head += block[: SNIFF_BYTES - len(head)]
            try:
                decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                # exc.object is the decoder's pending bytes (never a newline) followed by this block.
                pending = len(exc.object) - len(block)
                line = newlines + exc.object[: exc.start].count(b"\n") + 1
                return Scan(has_text or bool(block.strip()), head, line, offset + exc.start - pending,
                            exc.object[exc.start:exc.start + 1].hex())
            if final:
                return Scan(has_text, head)
            has_text = has_text or bool(block.strip())
            newlines += block.count(b"\n")
            offset += len(block)


class BrokenCsv(Exception):
    """csv could not read on (a quote never closed, a field over csv's limit)."""

    def __init__(self, start: int, line: int, error: csv.Error):
        super().__init__(str(error))
        self.start, self.line, self.error = start, line, error


@dataclass
class Batch:
    """Up to ROWS_PER_BATCH consecutive rows of one file."""

    header: list[str]  # the header row as read
    columns: list[list[str]]  # one list per header column, for the rows with the header's field count
    lines: np.ndarray  # first physical line of each of those rows
    ends: np.ndarray  # last physical line of each
    bad: list[tuple[int, int, list[str]]] = field(default_factory=list)  # (first, last line, values): wrong field count
    too_long: list[tuple[int, str]] = field(default_factory=list)  # (line, raw kept) of over-long lines
    blank_lines: int = 0  # physical lines of rows with nothing in them (skipped)
    text: list[str] = field(default_factory=list)  # the batch's physical lines, for raw text
    base: int = 1  # physical line number of text[0]

    def frame(self, names: list[str]) -> pd.DataFrame:
        """The good rows as a frame of strings (as read, not stripped), columns named `names`."""
        return pd.DataFrame({name: pd.array(values, dtype=object) for name, values in zip(names, self.columns)})

    def raw(self, first: int, last: int) -> str:
        """The original text of the row on physical lines first..last, line end removed."""
        return "".join(self.text[first - self.base: last - self.base + 1]).rstrip("\r\n")

    @property
    def rows(self) -> int:
        return len(self.lines) + len(self.bad) + len(self.too_long)


def _physical_lines(handle, too_long: list[tuple[int, str]], counter: list[int], keep: list[list[str]]) -> Iterator[str]:
    """Physical lines with their ends; an over-long line is read past (capped) and given as a blank line."""
    while True:
        line = handle.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        counter[0] += 1
        if len(line) > MAX_LINE_CHARS:
            length, tail = len(line), line
            while not tail.endswith(("\n", "\r")):
                tail = handle.readline(MAX_LINE_CHARS)
                if not tail:
                    break
                length += len(tail)
            too_long.append((counter[0], line[:RAW_KEPT_CHARS] + f"... ({length:,} characters)"))
            line = "\n"
        keep[0].append(line)
        yield line


def batches(path: Path, codec: str, rows_per_batch: int = ROWS_PER_BATCH, strict: bool = True,
            skip_blank_header: bool = True) -> Iterator[Batch]:
    """The file's data rows in batches, after its header (the first row, or first non-blank row).

    Rows with nothing in them are skipped (counted in `blank_lines`). Raises BrokenCsv when csv
    cannot read on; the importer turns it into its file-level message. An empty file yields nothing.
    """
    too_long: list[tuple[int, str]] = []
    counter = [0]
    keep: list[list[str]] = [[]]
    with open(path, encoding=codec, newline="") as handle:
        lines = _physical_lines(handle, too_long, counter, keep)
        reader = csv.reader(lines, strict=strict)
        header: list[str] | None = None
        previous_end = 0
        batch: Batch | None = None
        good: list[list[str]] = []
        starts: list[int] = []
        ends: list[int] = []
        while True:
            start = previous_end + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise BrokenCsv(start, reader.line_num, exc) from None
            previous_end = reader.line_num
            if header is None:
                if skip_blank_header and not any(v.strip() for v in values):
                    continue
                header = values
                # Lines up to the header are not data; an over-long line there is not a row either.
                too_long.clear()
                keep[0] = []
                batch = Batch(header, [], np.empty(0, np.int64), np.empty(0, np.int64), base=previous_end + 1)
                continue
            if not "".join(values).strip():
                batch.blank_lines += previous_end - start + 1
                continue
            if len(values) == len(header):
                good.append(values)
                starts.append(start)
                ends.append(previous_end)
            else:
                batch.bad.append((start, previous_end, values))
            if len(good) + len(batch.bad) >= rows_per_batch:
                yield _finish(batch, good, starts, ends, too_long, keep)
                batch = Batch(header, [], np.empty(0, np.int64), np.empty(0, np.int64), base=previous_end + 1)
                good, starts, ends, too_long[:], keep[0] = [], [], [], [], []
        if header is None:
            return
        batch.too_long = list(too_long)
        if good or batch.bad or batch.too_long or batch.blank_lines:
            yield _finish(batch, good, starts, ends, too_long, keep)


def fetch_rows(path: Path, codec: str, wanted: dict[int, int]) -> dict[int, tuple[list[str], str]]:
    """(values, raw text) of the rows on the given physical lines (first -> last), read again in one pass.

    Rows rejected only once every file is read (duplicates, ids the store holds) get their raw
    text this way, so the records kept meanwhile carry no copy of each line.
    """
    found: dict[int, tuple[list[str], str]] = {}
    if not wanted:
        return found
    last_needed = max(wanted.values())
    collecting: dict[int, list[str]] = {}
    with open(path, encoding=codec, newline="") as handle:
        counter, keep = [0], [[]]
        for line in _physical_lines(handle, [], counter, keep):
            number = counter[0]
            keep[0] = []
            if number in wanted:
                collecting[number] = []
            for first, parts in collecting.items():
                parts.append(line)
            for first in [f for f in collecting if wanted[f] == number]:
                parts = collecting.pop(first)
                values = next(csv.reader(parts), [])
                found[first] = (values, "".join(parts).rstrip("\r\n"))
            if number >= last_needed and not collecting:
                break
    return found


def read_header(path: Path, codec: str, skip_blank_header: bool = True,
                strict: bool = True) -> tuple[list[str], int] | None:
    """The header row and its physical line, without reading further; None when there is none.

    Raises BrokenCsv when csv cannot read the header."""
    with open(path, encoding=codec, newline="") as handle:
        lines = _physical_lines(handle, [], [0], [[]])
        reader = csv.reader(lines, strict=strict)
        previous_end = 0
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise BrokenCsv(previous_end + 1, reader.line_num, exc) from None
            start, previous_end = previous_end + 1, reader.line_num
            if skip_blank_header and not any(v.strip() for v in values):
                continue
            return values, start
    return None


def _finish(batch: Batch, good, starts, ends, too_long, keep) -> Batch:
    width = len(batch.header)
    batch.columns = [list(column) for column in zip(*good)] if good else [[] for _ in range(width)]
    batch.lines = np.asarray(starts, dtype=np.int64)
    batch.ends = np.asarray(ends, dtype=np.int64)
    batch.too_long = list(too_long)
    batch.text = keep[0]
    return batch


def _encoded(column) -> tuple[np.ndarray, list]:
    """Integer codes and the distinct values of a column (Arrow array, Series or list of strings)."""
    array = column if isinstance(column, (pa.Array, pa.ChunkedArray)) else pa.array(list(column), type=pa.string())
    encoded = pc.dictionary_encode(array)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


def by_distinct(func: Callable[..., tuple], *columns) -> list[np.ndarray]:
    """func applied once per distinct combination of the columns' values, spread back to every row.

    `func(*values)` returns a tuple; the result is one object array per tuple element. A file of
    millions of rows has thousands of distinct dates or codes, so the Python work is per distinct
    value, and the exact same rule decides every row holding that value.
    """
    encoded = [_encoded(column) for column in columns]
    if len(encoded) == 1:
        codes, uniques = encoded[0][0], [(value,) for value in encoded[0][1]]
    else:
        combined = np.zeros(len(encoded[0][0]), dtype=np.int64)
        for column_codes, values in encoded:
            combined = combined * max(len(values), 1) + column_codes
        keys, codes = np.unique(combined, return_inverse=True)
        uniques = []
        for key in keys.tolist():
            parts = []
            for _, values in reversed(encoded):
                key, position = divmod(key, max(len(values), 1))
                parts.append(values[position])
            uniques.append(tuple(reversed(parts)))
    results = [func(*values) for values in uniques]
    if not results:
        return []
    out = []
    for i in range(len(results[0])):
        table = np.empty(len(results), dtype=object)
        table[:] = [r[i] for r in results]
        out.append(table[np.asarray(codes).reshape(-1)])
    return out


def first_reason(*checks: np.ndarray) -> np.ndarray:
    """Row by row, the first of the reasons that is not None (the order the checks run in)."""
    reason = np.full(len(checks[0]) if checks else 0, None, dtype=object)
    for check in reversed(checks):
        has = pd.notna(check)
        reason[has] = check[has]
    return reason
