"""Fire incidents from Incident Recording System (IRS) exports (CSV, Windows-1252 or UTF-8).

`python app.py import fire PATH... [--areas FILE] [--encoding auto|utf-8|cp1252] [--data-dir DIR]`

Each PATH is an incident-level IRS export: one row per incident with columns such as
Incident Number, Day, Month, Year, Incident Category, Is Primary Fire, Cause of Fire,
Property Category, Property Type and the service's area columns (e.g. Unitary Authority,
Ward). Every row becomes a record of the `fire` dataset (schema: queries.fire.RECORD_COLUMNS):
fires, false alarms and special services alike, because the board's fire measures count
only fires but an import must account for every row it read.

Areas: the export's area columns are matched against an area mapping file (`--areas`,
default `<data-dir>/fire-areas.csv`): a CSV whose first columns are named exactly like the
export's area columns, followed by `district`, `ward_code` and optionally `ward_name`.

* A row mapping to a Derbyshire ward code (data/geography) places the incident in that
  ward: location in_area.
* A row naming a district that is not a Derbyshire CSP (another service's area, e.g.
  Bristol) counts the incident as outside_area, with the mapped district and ward kept in
  the record's `district` / `mapped_ward` columns: it is in the Force Area total and in no
  Derbyshire district, exactly as police.uk records placed over the border are.
* An area the mapping does not name (or a blank area) counts as unallocated ("No known
  area"): counted in the total, in no district, and listed by the import report.
* A blank key cell in the mapping matches any value, so `BRISTOL,,Bristol,,` maps every
  Bristol ward; the most specific row wins.

Nothing is dropped: for every file and month, rows read = loaded (in a Derbyshire ward) +
outside area + unallocated + rejected. Rows that cannot be read (truncated lines, dates
that are not dates, unknown categories, duplicate incident numbers) go to the quarantine
with file, line, reason and raw text. Whole-file problems (empty file, wrong header, bad
encoding, mostly unreadable) stop the import before anything is written, and the store
changes only through `publish_spooled_import`'s atomic swap, so a failed import leaves it as it was.
Each export is read batch by batch (queries/importers/csv_stream.py) and checked a column at
a time, each distinct date, category and area once, with exact physical line numbers and raw
text kept for the quarantine; what a batch keeps goes at once to a spool on disk
(queries/importers/record_spool.py), where duplicates are found and from which the store's
partitions are written, so memory stays bounded whatever the file's size.
"""
from __future__ import annotations

import argparse
import calendar
import csv
import io
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TextIO

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from queries import fire, geography, owners, store_writer
from queries.importers import csv_stream
from queries.importers.common import (
    RECONCILIATION_COLUMNS,
    REJECTED_COLUMNS,
    ImportError_,
    publish_spooled_import,
)
from queries.importers.record_spool import END, LINE, RecordSpool, RejectedRows, nothing_to_import_message, spool_session
from queries.importers.record_spool import FILE_INDEX as FILE
from queries.store import parquet_source, sql_string
from queries.importers.csv_stream import by_distinct, first_reason

DATASET = fire.DATASET
AREAS_FILE = "fire-areas.csv"
ENCODINGS = ("auto", "utf-8", "cp1252")
# The columns every IRS incident export must have (area columns come from the mapping file).
REQUIRED_COLUMNS = (
    "Incident Number", "Day", "Month", "Year", "Incident Category", "Is Primary Fire", "Cause of Fire",
    "Property Category", "Property Type",
)
# Mapping-file columns that say where an area goes; every other column is a key naming an export column.
MAPPING_TARGETS = ("district", "ward_code", "ward_name")
# District names the mapping may use besides the store's CSP names: the ONS district name
# ("Derby") or the start of one CSP's name ("North East"); see geography.ForceAreas.csp_named.
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}
MONTH_NAMES = {name.lower(): number for number, name in enumerate(calendar.month_name) if name} | {
    name.lower(): number for number, name in enumerate(calendar.month_abbr) if name
} | {"sept": 9}
EARLIEST_YEAR = 1990  # the IRS started in 2009; anything before 1990 is a typo
# A file where more than this share of rows is unreadable is not the file it claims to be:
# refuse it rather than replace a month with scraps (as the police.uk importer does) ...
MAX_REJECTED_SHARE = 0.10
# ... but a handful of bad rows in a small file is still row-level.
REJECTED_ROWS_ALWAYS_ALLOWED = 10
EXAMPLES_SHOWN = 10
SOURCE_AREA_SEPARATOR = " / "

# A physical line longer than this is a rejected row, never parsed (an IRS row is a few hundred characters).
MAX_LINE_CHARS = csv_stream.MAX_LINE_CHARS
RAW_KEPT_CHARS = csv_stream.RAW_KEPT_CHARS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--areas", type=Path,
        help=f"area mapping CSV: the export's area columns, then district,ward_code[,ward_name] "
             f"(default: <data-dir>/{AREAS_FILE}). See docs/fire.md.",
    )
    parser.add_argument("--encoding", choices=ENCODINGS, default="auto",
                        help="text encoding of the exports; auto tries UTF-8 then Windows-1252 (cp1252)")


class FileProblem(Exception):
    """A whole file cannot be imported; the message names it (and the line)."""


def _norm(text: str | None) -> str:
    """Area names compared without case or repeated spaces ('S  Glos' == 'S GLOS')."""
    return " ".join((text or "").split()).upper()


# --------------------------------------------------------------------------- the area mapping


@dataclass(frozen=True)
class AreaTarget:
    """Where one mapping row sends an incident."""

    location: str
    district: str | None
    ward_code: str | None  # Derbyshire ward code (in_area only)
    mapped_ward: str | None
    line: int


@dataclass
class AreaMap:
    """The mapping file: key columns (export column names) -> AreaTarget, blanks matching anything."""

    path: Path
    keys: list[str]
    rules: dict[tuple[str, ...], AreaTarget]
    masks: list[tuple[bool, ...]] = field(default_factory=list)

    def lookup(self, values: tuple[str, ...]) -> AreaTarget | None:
        """The most specific rule matching the export's area values, or None (unmapped)."""
        values = tuple(_norm(v) for v in values)
        if not any(values):
            return None
        for mask in self.masks:
            if any(m and not v for m, v in zip(mask, values)):
                continue
            hit = self.rules.get(tuple(v if m else "" for m, v in zip(mask, values)))
            if hit is not None:
                return hit
        return None


def read_areas(path: Path, data_dir: Path) -> AreaMap:
    """Read and check the mapping file; every problem names the file and line."""
    path = Path(path)
    if not path.exists():
        raise ImportError_(f"{path}: no such area mapping file (give --areas FILE; see docs/fire.md)")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise ImportError_(f"{path} line {line}: the area mapping is neither UTF-8 nor Windows-1252 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    if not header:
        raise ImportError_(f"{path}: the area mapping file is empty; it needs a header like "
                           "'Unitary Authority,Ward,district,ward_code,ward_name'")
    if "district" not in header or "ward_code" not in header:
        raise ImportError_(f"{path} line 1: the area mapping needs columns district and ward_code after the export's "
                           f"area columns; found {', '.join(header)}")
    if len(set(header)) != len(header):
        raise ImportError_(f"{path} line 1: a column name is repeated in {', '.join(header)}")
    # Exact, lower-case target names, so an export column called "District" can still be a key.
    keys = [h for h in header if h not in MAPPING_TARGETS]
    if not keys:
        raise ImportError_(f"{path} line 1: no key columns: name the export's area columns (e.g. Unitary Authority, Ward) "
                           "before district and ward_code")
    own = geography.areas(data_dir)
    wards = geography.ward_areas(data_dir).set_index("ward_code")
    ward_by_name = {(row.csp, _norm(row.ward_name)): code for code, row in wards.iterrows()}
    rules: dict[tuple[str, ...], AreaTarget] = {}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ImportError_(f"{path} line {number}: {len(row)} fields, the header has {len(header)}")
        cells = dict(zip(header, (c.strip() for c in row)))
        key = tuple(_norm(cells[k]) for k in keys)
        if not any(key):
            raise ImportError_(f"{path} line {number}: every key column is blank; name the area this row maps")
        if key in rules:
            raise ImportError_(f"{path} line {number}: {SOURCE_AREA_SEPARATOR.join(key)} is mapped twice "
                               f"(first on line {rules[key].line})")
        rules[key] = _target(path, number, cells, wards, ward_by_name, own)
    if not rules:
        raise ImportError_(f"{path}: the area mapping has a header but no rows")
    masks = sorted({tuple(bool(v) for v in key) for key in rules}, key=lambda m: (-sum(m), [not b for b in m]))
    return AreaMap(path, keys, rules, masks)


def _target(path: Path, line: int, cells: dict, wards: pd.DataFrame, ward_by_name: dict,
            own: geography.ForceAreas) -> AreaTarget:
    """Decide in_area / outside_area for one mapping row, refusing rows that cannot be placed."""
    district = cells.get("district", "")
    named = next((c for c in own.csps if c.casefold() == district.casefold()), None) if district else None
    district = (named or own.csp_named(district) or district) if district else ""
    ward_code = cells.get("ward_code", "")
    ward_name = cells.get("ward_name", "")
    if not ward_code and ward_name and district in own.csps:
        ward_code = ward_by_name.get((district, _norm(ward_name)), "")
    if ward_code in wards.index:
        csp = wards.loc[ward_code, "csp"]
        if district and district != csp:
            raise ImportError_(f"{path} line {line}: ward {ward_code} is in {csp}, not {cells['district']!r}")
        return AreaTarget(geography.IN_AREA, csp, ward_code, ward_code, line)
    if district in own.csps:
        raise ImportError_(
            f"{path} line {line}: {district} is a CSP of {own.force.name}, so the row needs one of its 2025 ward "
            f"codes or ward names; {ward_code or ward_name or 'none'!r} is not one"
        )
    if not district:
        raise ImportError_(f"{path} line {line}: no district and no ward code of {own.force.name}; "
                           "say where this area belongs")
    return AreaTarget(geography.OUTSIDE_AREA, district, None, ward_code or ward_name or None, line)


# --------------------------------------------------------------------------- reading one export


@dataclass
class ParsedExport:
    """What one file yielded: its rejected rows and counts for the report (its records are in the spool)."""

    name: str
    rejected: pd.DataFrame | None  # REJECTED_COLUMNS + month; read back from the spool once the file is importable
    encoding: str
    rows: int = 0  # non-blank data rows read, counted apart from where they went
    blank_lines: int = 0
    path: Path | None = None
    codec: str = "utf-8-sig"
    kept: int = 0  # records spooled and still live (not rejected as duplicates)
    index: int = 0  # the file's place in the import (`_file` of its spooled records)
    late: pd.DataFrame | None = None  # rows rejected once every file was read (duplicates)
    rejected_rows: RejectedRows | None = None  # where the rows rejected while reading are spooled

    @property
    def bad(self) -> int:
        """Rows rejected, while reading and after."""
        return self.rejected_rows.total(self.name) + (len(self.late) if self.late is not None else 0)

    def first_rejected(self) -> pd.Series:
        """The rejected row with the lowest line (for the message refusing a mostly unreadable file)."""
        frames = [f for f in (self.rejected_rows.first.get(self.name), self.late) if f is not None and len(f)]
        return pd.concat(frames, ignore_index=True).sort_values("line", kind="stable").iloc[0]

    def read_rejected(self) -> pd.DataFrame:
        """Every rejected row of the file, in line order, read back from the spool (an importable file: few)."""
        frames = [f for f in (self.rejected_rows.rows(self.name), self.late) if f is not None and len(f)]
        self.rejected = pd.concat(frames, ignore_index=True).sort_values("line", kind="stable", ignore_index=True) \
            if frames else pd.DataFrame(columns=REJECT_FRAME_COLUMNS)
        return self.rejected


def choose_codec(path: Path, encoding: str) -> tuple[str, str]:
    """(codec to read with, encoding's name) after decoding the whole file block by block;
    FileProblem naming the line if it is neither, or if the file is empty or binary."""
    tries = {"auto": ("utf-8-sig", "cp1252"), "utf-8": ("utf-8-sig",), "cp1252": ("cp1252",)}[encoding]
    failure = None
    for codec in tries:
        found = csv_stream.scan(path, codec)
        if not found.has_text:
            raise FileProblem(f"{path}: the file is empty (no header, no incidents)")
        if b"\x00" in found.head:
            raise FileProblem(f"{path}: not a text file (it contains NUL bytes); give the IRS export as CSV")
        if found.bad_line is None:
            return codec, "utf-8" if codec == "utf-8-sig" else codec
        failure = found
    if encoding == "auto":
        hint = "save the export as CSV in UTF-8 or Windows-1252"
        what = "neither UTF-8 nor Windows-1252 (cp1252)"
    else:
        hint = "try --encoding auto"
        what = "not UTF-8" if encoding == "utf-8" else "not Windows-1252 (cp1252)"
    raise FileProblem(f"{path} line {failure.bad_line}: the text is {what} (byte 0x{failure.bad_byte} at offset "
                      f"{failure.bad_offset}); {hint}")


def check_header(path: Path, header: list[str], areas: AreaMap) -> dict[str, int]:
    """Column name -> position; FileProblem when the IRS columns or the mapping's area columns are missing."""
    names = [name.strip() for name in header]
    positions = {name: i for i, name in reversed(list(enumerate(names)))}  # first occurrence wins
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if len(missing) > len(REQUIRED_COLUMNS) // 2:
        raise FileProblem(
            f"{path} line 1: not an IRS incident export header (is the header missing?); expected columns "
            f"{', '.join(REQUIRED_COLUMNS)}; found {','.join(header)[:160]!r}"
        )
    repeated = sorted({n for n in names if names.count(n) > 1 and n})
    if repeated:
        raise FileProblem(f"{path} line 1: column(s) {', '.join(repr(n) for n in repeated)} appear twice in the header")
    if missing:
        raise FileProblem(f"{path} line 1: the header lacks {', '.join(repr(c) for c in missing)}; "
                          f"an IRS incident export needs {', '.join(REQUIRED_COLUMNS)}")
    missing_keys = [k for k in areas.keys if k not in positions]
    if missing_keys:
        raise FileProblem(f"{path} line 1: the area mapping {areas.path} matches on {', '.join(repr(k) for k in missing_keys)}, "
                          f"which this export does not have; its columns are {', '.join(header)}")
    return positions


def parse_date(day: str, month: str, year: str) -> date:
    """Day/Month/Year as IRS exports write them: 1 / July (or Jul, 7) / 2014. ValueError says why not."""
    try:
        d, y = int(day.strip()), int(year.strip())
    except ValueError:
        raise ValueError(f"Day {day!r} / Year {year!r} are not whole numbers") from None
    text = month.strip().lower()
    m = int(text) if text.isdigit() else MONTH_NAMES.get(text)
    if m is None:
        raise ValueError(f"Month {month!r} is not a month name or number")
    if not EARLIEST_YEAR <= y <= date.today().year + 1:
        raise ValueError(f"Year {y} is not plausible")
    try:
        return date(y, m, d)
    except ValueError as exc:
        raise ValueError(f"{day}/{month}/{year} is not a date ({exc})") from None


TOO_LONG_REASON = f"line longer than {MAX_LINE_CHARS:,} characters (a row is a few hundred): not read"
REJECT_FRAME_COLUMNS = REJECTED_COLUMNS + ["month"]


def parse_export(path: Path, areas: AreaMap, encoding: str, rows_per_batch: int, spool: RecordSpool,
                 file_index: int, rejected_rows: RejectedRows) -> ParsedExport:
    """Read one export batch by batch, its records into the spool and its rejected rows kept (rows never vanish).

    Duplicate Incident Numbers are found across files afterwards (`reject_duplicates`). A file
    that cannot be read to its end leaves no live record in the spool.
    """
    codec, used = choose_codec(Path(path), encoding)
    try:
        first = csv_stream.read_header(Path(path), codec, skip_blank_header=False, strict=False)
    except csv_stream.BrokenCsv as exc:
        raise FileProblem(f"{path} line 1: cannot read the header ({exc.error})") from None
    header = first[0] if first else []
    positions = check_header(path, header, areas)
    name = Path(path).name
    parsed = ParsedExport(name, None, used, path=Path(path), codec=codec, index=file_index, rejected_rows=rejected_rows)
    first_seq = spool.rows
    batches = 0
    try:
        for batch in csv_stream.batches(Path(path), codec, rows_per_batch, strict=False, skip_blank_header=False):
            batches += 1
            parsed.rows += batch.rows
            parsed.blank_lines += batch.blank_lines
            table, bad = _check_batch(batch, positions, areas, name)
            parsed.kept += table.num_rows
            spool.add(table.append_column(FILE, pa.array(np.full(table.num_rows, file_index, dtype=np.int32)))
                      .append_column(LINE, table["source_line"]))
            rejected_rows.add(bad)
            del table, batch, bad
    except csv_stream.BrokenCsv as exc:
        spool.kill(range(first_seq, spool.rows))
        raise FileProblem(f"{path} line {exc.line}: unreadable CSV ({exc.error})") from None
    if not batches or (not parsed.kept and not parsed.bad):
        raise FileProblem(f"{path}: the file has a header but no incidents")
    return parsed


RECORD_TYPES = {
    "record_id": pa.string(), "month": pa.date32(), "incident_date": pa.date32(), "incident_category": pa.string(),
    "fire_type": pa.string(), "cause": pa.string(), "property_category": pa.string(), "property_type": pa.string(),
    "source_area": pa.string(), "district": pa.string(), "mapped_ward": pa.string(), "ward_code": pa.string(),
    "location": pa.string(), "deliberate": pa.bool_(), "property_group": pa.string(), "source_file": pa.string(),
    "source_line": pa.int64(),
}


def _category_rule(category_text: str, primary_text: str) -> tuple:
    category = {c.lower(): c for c in fire.INCIDENT_CATEGORIES}.get(category_text.lower())
    if category is None:
        return None, None, (f"unknown Incident Category {category_text!r}; expected "
                            f"{', '.join(fire.INCIDENT_CATEGORIES)}")
    if category != fire.FIRE:
        return category, None, None
    primary = primary_text.lower()
    if primary in YES:
        return category, fire.PRIMARY, None
    if primary in NO:
        return category, fire.SECONDARY, None
    return None, None, f"Is Primary Fire {primary_text!r} for a fire; expected yes or no"


def _date_rule(day: str, month: str, year: str) -> tuple:
    try:
        when = parse_date(day, month, year)
    except ValueError as exc:
        return None, None, f"unparseable Day/Month/Year: {exc}"
    return when, when.replace(day=1), None


def _check_batch(batch: csv_stream.Batch, positions: dict[str, int], areas: AreaMap, name: str) -> tuple[pa.Table, pd.DataFrame]:
    """Every check of an incident, a column at a time; each distinct value (or combination) is looked at once."""
    n = len(batch.lines)

    def column(col: str) -> np.ndarray:
        return np.array([v.strip() for v in batch.columns[positions[col]]], dtype=object) if n else np.empty(0, object)

    incident = column("Incident Number")
    if n:
        when, month, date_reason = by_distinct(_date_rule, column("Day"), column("Month"), column("Year"))
        category, fire_type, category_reason = by_distinct(_category_rule, column("Incident Category"),
                                                           column("Is Primary Fire"))
        area_columns = [column(k) for k in areas.keys]
        source_area, district, mapped_ward, ward_code, location = by_distinct(_area_rule(areas), *area_columns)
    else:
        when = month = date_reason = category = fire_type = category_reason = source_area = district = \
            mapped_ward = ward_code = location = np.empty(0, object)
    reason = first_reason(date_reason, np.where(incident == "", "no Incident Number", None), category_reason)
    keep = pd.isna(reason)
    none_if_blank = lambda values: np.where(values == "", None, values)  # noqa: E731
    frame = pd.DataFrame({
        "fire_type": fire_type[keep], "cause": none_if_blank(column("Cause of Fire"))[keep],
        "property_category": none_if_blank(column("Property Category"))[keep],
        "property_type": none_if_blank(column("Property Type"))[keep],
    }, dtype=object)
    is_fire = pd.Series(category[keep] == fire.FIRE)
    frame["deliberate"] = (is_fire & fire.is_deliberate(frame["cause"])).astype(bool)
    frame["property_group"] = fire.property_groups(frame["fire_type"], frame["property_category"], frame["property_type"])
    values = {
        "record_id": incident[keep], "month": month[keep], "incident_date": when[keep],
        "incident_category": category[keep], "fire_type": frame["fire_type"].to_numpy(),
        "cause": frame["cause"].to_numpy(), "property_category": frame["property_category"].to_numpy(),
        "property_type": frame["property_type"].to_numpy(), "source_area": source_area[keep],
        "district": district[keep], "mapped_ward": mapped_ward[keep], "ward_code": ward_code[keep],
        "location": location[keep], "deliberate": frame["deliberate"].to_numpy(),
        "property_group": frame["property_group"].to_numpy(dtype=object), "source_file": np.full(int(keep.sum()), name, object),
        "source_line": batch.lines[keep],
    }
    table = pa.table({c: pa.array(values[c], type=RECORD_TYPES[c], from_pandas=True) for c in fire.RECORD_COLUMNS})
    table = table.append_column(END, pa.array(batch.ends[keep]))
    rows = [(name, int(batch.lines[i]), reason[i], batch.raw(int(batch.lines[i]), int(batch.ends[i])), month[i])
            for i in np.flatnonzero(~keep)]
    rows += [(name, first, f"{len(values_)} fields where the header has {len(batch.header)} (truncated or broken line)",
              batch.raw(first, last), None) for first, last, values_ in batch.bad]
    rows += [(name, line, TOO_LONG_REASON, kept, None) for line, kept in batch.too_long]
    return table, pd.DataFrame(rows, columns=REJECT_FRAME_COLUMNS)


def _area_rule(areas: AreaMap):
    def rule(*area_values: str) -> tuple:
        target = areas.lookup(area_values)
        source = SOURCE_AREA_SEPARATOR.join(area_values) if any(area_values) else None
        if target is None:
            return source, None, None, None, geography.NO_LOCATION
        return source, target.district, target.mapped_ward, target.ward_code, target.location
    return rule


def reject_duplicates(parsed: list[ParsedExport], spool: RecordSpool) -> None:
    """A later record with an Incident Number already read (in this file or an earlier one) is rejected,
    naming where the first was read; found by DuckDB over the spool, not a Python dict."""
    found = spool.duplicates(["record_id"])
    if not found:
        return
    spool.kill(seq for seq, _, _ in found)
    picked = spool.rows_of([seq for seq, _, _ in found], ["record_id", "source_line", END, "month", FILE])
    by_index = {p.index: p for p in parsed}
    by_file: dict[int, list[tuple[dict, str]]] = {}
    for seq, first_file, first_line in found:
        row = picked[seq]
        by_file.setdefault(row[FILE], []).append((row, f"{by_index[first_file].name} line {first_line}"))
    for file_index, dups in by_file.items():
        p = by_index[file_index]
        fetched = csv_stream.fetch_rows(p.path, p.codec, {row["source_line"]: row[END] for row, _ in dups})
        rows = [(p.name, row["source_line"], f"duplicate Incident Number {row['record_id']} (first read at {first})",
                 fetched.get(row["source_line"], (None, ""))[1], row["month"]) for row, first in dups]
        p.kept -= len(dups)
        p.late = pd.DataFrame(rows, columns=REJECT_FRAME_COLUMNS)


# --------------------------------------------------------------------------- what publish_spooled_import takes


@dataclass
class FireSummary:
    """What the report says of an import's records, counted over the spool (the records are never loaded whole)."""

    categories: dict[str, int]  # incident category -> records
    primary: int
    secondary: int
    deliberate: int  # deliberate fires
    records: int
    outside: pd.Series  # mapped district -> records outside the force area, most first
    unmapped: pd.Series  # source area -> records with no known area, most first


def summarise(spool: RecordSpool) -> FireSummary:
    """The report's counts of the live records, by DuckDB over the spool."""
    if spool.empty or spool.rows == spool.dead:
        return FireSummary({}, 0, 0, 0, 0, pd.Series(dtype="int64"), pd.Series(dtype="int64"))
    categories = spool.query("SELECT incident_category AS c, count(*) AS n FROM {alive} GROUP BY ALL").to_pylist()
    fires = spool.query(
        f"SELECT count(*) FILTER (fire_type = {sql_string(fire.PRIMARY)}) AS primary_, "
        f"count(*) FILTER (fire_type = {sql_string(fire.SECONDARY)}) AS secondary, "
        f"count(*) FILTER (deliberate) AS deliberate FROM {{alive}} "
        f"WHERE incident_category = {sql_string(fire.FIRE)}").to_pylist()[0]

    def counted(where: str, column: str) -> pd.Series:
        # Most first; ties in the order first read (as value_counts over the records in file order).
        rows = spool.query(f"SELECT {column} AS v, count(*) AS n FROM {{alive}} WHERE {where} GROUP BY ALL "
                           "ORDER BY n DESC, min(_seq)").to_pydict()
        return pd.Series(rows["n"], index=pd.Index(rows["v"], dtype=object), dtype="int64")

    return FireSummary(
        {r["c"]: r["n"] for r in categories}, fires["primary_"], fires["secondary"], fires["deliberate"],
        sum(r["n"] for r in categories),
        counted(f"location = {sql_string(geography.OUTSIDE_AREA)}", "district"),
        counted(f"location = {sql_string(geography.NO_LOCATION)}", "coalesce(source_area, '(blank)')"),
    )


def reconcile(parsed: list[ParsedExport], spool: RecordSpool) -> pd.DataFrame:
    """rows read = loaded + outside area + unallocated + rejected, per file and month (month empty
    for rejected rows whose date could not be read)."""
    parts = {geography.IN_AREA: "loaded", geography.OUTSIDE_AREA: "outside_area", geography.NO_LOCATION: "unallocated",
             "rejected": "rejected"}
    loaded = pd.DataFrame({FILE: [], "month": [], "part": [], "n": []}) if spool.empty or spool.rows == spool.dead else \
        spool.query(f"SELECT {FILE}, month, location AS part, count(*) AS n FROM {{alive}} GROUP BY ALL").to_pandas()
    frames = []
    for p in parsed:
        counts = loaded[loaded[FILE] == p.index][["month", "part", "n"]].copy()
        counts["month"] = [m.isoformat() if m is not None and not pd.isna(m) else "" for m in counts["month"]]
        rejected = pd.DataFrame({"month": [m.isoformat() if m is not None and not pd.isna(m) else ""
                                           for m in p.rejected["month"]], "part": "rejected"})
        rejected = rejected.groupby(["month", "part"]).size().rename("n").reset_index()
        frames.append(pd.concat([counts, rejected], ignore_index=True).assign(file=p.name))
    frame = pd.concat(frames, ignore_index=True)
    table = (frame.assign(part=frame["part"].map(parts)).pivot_table(index=["file", "month"], columns="part",
                                                                     values="n", aggfunc="sum", fill_value=0)
             .reindex(columns=list(parts.values()), fill_value=0).astype("int64").reset_index())
    table.columns.name = None
    table["rows_read"] = table[list(parts.values())].sum(axis=1)
    # The per-file totals must equal the rows the reader met, counted apart from the split.
    for p in parsed:
        counted = int(table.loc[table["file"] == p.name, "rows_read"].sum())
        if counted != p.rows:
            raise ImportError_(f"{p.name}: read {p.rows} rows but accounted for {counted}; nothing was written")
    order = {p.name: i for i, p in enumerate(parsed)}
    table = table.sort_values(["file", "month"], key=lambda c: c.map(order) if c.name == "file" else c.replace("", "~"),
                              ignore_index=True)
    table["month"] = [date.fromisoformat(m) if m else None for m in table["month"]]
    return table[RECONCILIATION_COLUMNS]


def rejection_problems(parsed: list[ParsedExport]) -> list[str]:
    """Files that are mostly unreadable: refuse them rather than replace a month with what is left."""
    problems = []
    for p in parsed:
        bad = p.bad
        total = bad + p.kept
        if bad and (not p.kept or (bad > REJECTED_ROWS_ALWAYS_ALLOWED and bad > MAX_REJECTED_SHARE * total)):
            first = p.first_rejected()
            problems.append(f"{p.name}: {bad:,} of {total:,} rows cannot be read (all, or more than "
                            f"{MAX_REJECTED_SHARE:.0%}), so the file was not imported; first, line {first['line']}: "
                            f"{first['reason']}")
    return problems


# --------------------------------------------------------------------------- the command


@dataclass
class FireImport:
    """An import's outcome, for the report and for tests."""

    result: object  # common.ImportResult
    rejected: pd.DataFrame
    reconciliation: pd.DataFrame
    parsed: list[ParsedExport]
    summary: FireSummary

    @property
    def unmapped(self) -> pd.Series:
        """source_area -> incidents, for areas the mapping does not name."""
        return self.summary.unmapped

    @property
    def records(self) -> pd.DataFrame:
        """The records this import published, in file and line order, read back from the version on demand
        (tests and tools: an import never holds them whole)."""
        pairs = pa.table({"key": sorted(store_writer.partition_key(f, m) for f, m in self.result.pairs)})
        con = duckdb.connect(":memory:")
        try:
            con.register("pairs", pairs)
            source = parquet_source(Path(self.result.version) / "records.parquet")
            names = {p.name for p in self.parsed}
            con.register("names", pa.table({"name": sorted(names)}))
            return con.execute(
                f"SELECT {', '.join(fire.RECORD_COLUMNS)} FROM {source} WHERE {store_writer.PAIR_SQL} IN "
                "(SELECT key FROM pairs) AND source_file IN (SELECT name FROM names) ORDER BY source_file, source_line"
            ).df()
        finally:
            con.close()


def run_import(paths: list[Path], data_dir: Path, areas_file: Path | None = None, encoding: str = "auto",
               replace_smaller: bool = False, rows_per_batch: int = csv_stream.ROWS_PER_BATCH) -> FireImport:
    """Read and check every file, then publish them all in one atomic swap (or nothing).

    Records go to a spool as they are read (record_spool), so memory is one batch whatever the
    files' size; the whole import holds the store's write lock, since the spool lives in the
    dataset's folder, and the spool goes when it ends.
    """
    data_dir = Path(data_dir)
    if not paths:
        raise ImportError_("no files given")
    areas = read_areas(areas_file or data_dir / AREAS_FILE, data_dir)
    problems, parsed = [], []
    names: dict[str, Path] = {}
    with spool_session(data_dir, DATASET, "file", 1) as (spool, rejected_rows):
        for path in paths:
            path = Path(path)
            if path.name in names:
                problems.append(f"{path}: a file of the same name ({names[path.name]}) is already in this import")
                continue
            names[path.name] = path
            if not path.is_file():
                problems.append(f"{path}: no such file")
                continue
            try:
                parsed.append(parse_export(path, areas, encoding, rows_per_batch, spool, len(parsed), rejected_rows))
            except FileProblem as exc:
                problems.append(str(exc))
        reject_duplicates(parsed, spool)
        problems += rejection_problems(parsed)
        if problems:
            raise ImportError_(f"{len(problems)} problem(s) found, nothing was imported:\n  " + "\n  ".join(problems))
        rejected = pd.concat([p.read_rejected() for p in parsed], ignore_index=True)
        reconciliation = reconcile(parsed, spool)
        summary = summarise(spool)
        if not summary.records and rejected.empty:
            raise ImportError_(nothing_to_import_message([p.name for p in parsed]))
        records = spool.records(list(fire.RECORD_COLUMNS), owners.default_owner(data_dir))
        source = "IRS incident export: " + ", ".join(p.name for p in parsed)
        result = publish_spooled_import(data_dir, DATASET, records, rejected[REJECTED_COLUMNS], reconciliation, source,
                                        replace_smaller=replace_smaller)
    return FireImport(result, rejected, reconciliation, parsed, summary)


def main(args: argparse.Namespace) -> int:
    """Import the given exports and print the reconciliation. Exit 0 on success, 2 on bad input."""
    try:
        outcome = run_import(list(args.paths), Path(args.data_dir), getattr(args, "areas", None),
                             getattr(args, "encoding", "auto") or "auto", getattr(args, "replace_smaller", False))
    except ImportError_ as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("The store was not changed.", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    report(outcome, sys.stdout)
    return 0


def report(outcome: FireImport, out: TextIO) -> None:
    """What was read, where every row went, and what needs a person's attention."""
    summary, recon = outcome.summary, outcome.reconciliation
    total = recon[["rows_read", "loaded", "outside_area", "unallocated", "rejected"]].sum()
    print(f"fire import: {int(total['rows_read']):,} rows from {len(outcome.parsed)} file(s) "
          f"({', '.join(f'{p.name} [{p.encoding}]' for p in outcome.parsed)})", file=out)
    print(f"  {'file':<44} {'month':<8} {'read':>7} {'in area':>8} {'outside':>8} {'no area':>8} {'rejected':>8}", file=out)
    for row in recon.itertuples():
        month = str(row.month)[:7] if row.month is not None else "no date"
        print(f"  {row.file[:44]:<44} {month:<8} {row.rows_read:>7,} {row.loaded:>8,} {row.outside_area:>8,} "
              f"{row.unallocated:>8,} {row.rejected:>8,}", file=out)
    print("  rows read = in area (a Derbyshire ward) + outside (mapped to another area) + no area (unmapped) + rejected",
          file=out)
    categories = summary.categories
    print(f"incidents: {categories.get(fire.FIRE, 0):,} fires ({summary.primary:,} primary, "
          f"{summary.secondary:,} secondary; {summary.deliberate:,} deliberate), "
          f"{categories.get(fire.FALSE_ALARM, 0):,} false alarms, {categories.get(fire.SPECIAL_SERVICE, 0):,} special "
          "services (kept, but only fires count in fire measures)", file=out)
    if len(summary.outside):
        print("outside the force area, by mapped district: " + ", ".join(f"{d} {n:,}" for d, n in summary.outside.items()),
              file=out)
    if len(outcome.unmapped):
        shown = ", ".join(f"{a} ({n:,})" for a, n in outcome.unmapped.head(EXAMPLES_SHOWN).items())
        more = len(outcome.unmapped) - EXAMPLES_SHOWN
        print(f"unmapped areas, counted as 'No known area' ({int(outcome.unmapped.sum()):,} incidents): {shown}"
              + (f" and {more} more" if more > 0 else "") + "; add them to the area mapping and re-import", file=out)
    if len(outcome.rejected):
        print(f"rejected: {len(outcome.rejected):,} row(s), kept with reason and raw line in "
              f"{outcome.result.quarantine_file}:", file=out)
        for r in outcome.rejected.head(EXAMPLES_SHOWN).itertuples():
            print(f"  {r.file} line {r.line}: {r.reason}", file=out)
    blank = sum(p.blank_lines for p in outcome.parsed)
    if blank:
        print(f"note: {blank} blank line(s) skipped (they hold no incident)", file=out)
    months = ", ".join(f"{m:%Y-%m}" for m in outcome.result.months_replaced)
    print(f"months written (each replaces whatever the store held for that month, so no duplicates): {months}", file=out)
    if outcome.result.replaced_synthetic:
        print("the store held SYNTHETIC demo fire data: this import replaced it entirely", file=out)
