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
changes only through `publish_import`'s atomic swap, so a failed import leaves it as it was.
IRS exports are small (a county's year is tens of thousands of rows), so a plain csv pass
is fast enough and keeps exact physical line numbers and raw text for the quarantine.
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

import pandas as pd

from queries import fire, geography
from queries.importers.common import RECONCILIATION_COLUMNS, REJECTED_COLUMNS, ImportError_, publish_import

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
MAX_LINE_CHARS = 65_536
RAW_KEPT_CHARS = 200
TOO_LONG_MARK = "(line too long)"


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
    """What one file yielded: records, rejected rows (as dicts) and counts for the report."""

    name: str
    records: list[dict]
    rejected: list[dict]
    encoding: str
    rows: int = 0  # non-blank data rows read, counted apart from where they went
    blank_lines: int = 0


def decode(path: Path, data: bytes, encoding: str) -> tuple[str, str]:
    """The file's text and the encoding used; FileProblem naming the line if it is neither."""
    if not data.strip():
        raise FileProblem(f"{path}: the file is empty (no header, no incidents)")
    if b"\x00" in data[:4096]:
        raise FileProblem(f"{path}: not a text file (it contains NUL bytes); give the IRS export as CSV")
    tries = {"auto": ("utf-8-sig", "cp1252"), "utf-8": ("utf-8-sig",), "cp1252": ("cp1252",)}[encoding]
    failure = None
    for codec in tries:
        try:
            return data.decode(codec), "utf-8" if codec == "utf-8-sig" else codec
        except UnicodeDecodeError as exc:
            failure = (codec, exc)
    codec, exc = failure
    line = data.count(b"\n", 0, exc.start) + 1
    byte = data[exc.start:exc.start + 1].hex()
    if encoding == "auto":
        hint = "save the export as CSV in UTF-8 or Windows-1252"
        what = "neither UTF-8 nor Windows-1252 (cp1252)"
    else:
        hint = "try --encoding auto"
        what = "not UTF-8" if encoding == "utf-8" else "not Windows-1252 (cp1252)"
    raise FileProblem(f"{path} line {line}: the text is {what} (byte 0x{byte} at offset {exc.start}); {hint}")


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


def parse_export(path: Path, areas: AreaMap, encoding: str = "auto", seen: dict | None = None) -> ParsedExport:
    """Read one export into record dicts and rejected-row dicts (rows never vanish)."""
    text, used = decode(path, Path(path).read_bytes(), encoding)
    lines = io.StringIO(text, newline="").readlines()
    # An over-long line is a rejected row, never parsed (Python's csv refuses fields over 131,072 characters).
    too_long = {number for number, line in enumerate(lines, start=1) if number > 1 and len(line) > MAX_LINE_CHARS}
    reader = csv.reader(TOO_LONG_MARK + "\n" if number in too_long else line
                        for number, line in enumerate(lines, start=1))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise FileProblem(f"{path} line 1: cannot read the header ({exc})") from None
    positions = check_header(path, header, areas)
    seen = {} if seen is None else seen
    name = Path(path).name
    parsed = ParsedExport(name, [], [], used)
    consumed = reader.line_num
    while True:
        start = consumed + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise FileProblem(f"{path} line {reader.line_num}: unreadable CSV ({exc})") from None
        consumed = reader.line_num
        raw = "".join(lines[start - 1:consumed]).rstrip("\r\n")
        if not any(cell.strip() for cell in row):
            parsed.blank_lines += consumed - start + 1
            continue
        parsed.rows += 1
        if start in too_long:
            parsed.rejected.append({"file": name, "line": start, "month": None,
                                    "reason": f"line longer than {MAX_LINE_CHARS:,} characters (a row is a few hundred): not read",
                                    "raw": raw[:RAW_KEPT_CHARS] + f"... ({len(raw):,} characters)"})
            continue
        record, reason, month = _record(row, header, positions, areas)
        if reason is None:
            first = seen.get(record["record_id"])
            if first is not None:
                reason = f"duplicate Incident Number {record['record_id']} (first read at {first})"
            else:
                seen[record["record_id"]] = f"{name} line {start}"
        if reason is not None:
            parsed.rejected.append({"file": name, "line": start, "reason": reason, "raw": raw, "month": month})
            continue
        record.update(source_file=name, source_line=start)
        parsed.records.append(record)
    if not parsed.records and not parsed.rejected:
        raise FileProblem(f"{path}: the file has a header but no incidents")
    return parsed


def _record(row: list[str], header: list[str], positions: dict[str, int], areas: AreaMap) -> tuple[dict, str | None, date | None]:
    """One row -> (record, None, month) or (partial, reason, month or None)."""
    if len(row) != len(header):
        return {}, (f"{len(row)} fields where the header has {len(header)} (truncated or broken line)"), None
    get = {col: row[i].strip() for col, i in positions.items()}
    try:
        when = parse_date(get["Day"], get["Month"], get["Year"])
    except ValueError as exc:
        return {}, f"unparseable Day/Month/Year: {exc}", None
    month = when.replace(day=1)
    incident_id = get["Incident Number"]
    if not incident_id:
        return {}, "no Incident Number", month
    category = {c.lower(): c for c in fire.INCIDENT_CATEGORIES}.get(get["Incident Category"].lower())
    if category is None:
        return {}, (f"unknown Incident Category {get['Incident Category']!r}; expected "
                    f"{', '.join(fire.INCIDENT_CATEGORIES)}"), month
    fire_type = None
    if category == fire.FIRE:
        primary = get["Is Primary Fire"].lower()
        if primary in YES:
            fire_type = fire.PRIMARY
        elif primary in NO:
            fire_type = fire.SECONDARY
        else:
            return {}, f"Is Primary Fire {get['Is Primary Fire']!r} for a fire; expected yes or no", month
    area_values = tuple(get[k] for k in areas.keys)
    target = areas.lookup(area_values)
    record = {
        "record_id": incident_id,
        "month": month,
        "incident_date": when,
        "incident_category": category,
        "fire_type": fire_type,
        "cause": get["Cause of Fire"] or None,
        "property_category": get["Property Category"] or None,
        "property_type": get["Property Type"] or None,
        "source_area": SOURCE_AREA_SEPARATOR.join(area_values) if any(area_values) else None,
        "district": target.district if target else None,
        "mapped_ward": target.mapped_ward if target else None,
        "ward_code": target.ward_code if target else None,
        "location": target.location if target else geography.NO_LOCATION,
    }
    return record, None, month


# --------------------------------------------------------------------------- frames for publish_import


def records_frame(records: list[dict]) -> pd.DataFrame:
    """Record dicts -> the fire records schema, with deliberate and property_group derived."""
    frame = pd.DataFrame.from_records(records, columns=[c for c in fire.RECORD_COLUMNS if c not in ("deliberate", "property_group")])
    is_fire = frame["incident_category"] == fire.FIRE
    frame["deliberate"] = (is_fire & fire.is_deliberate(frame["cause"])).astype(bool)
    frame["property_group"] = fire.property_groups(frame["fire_type"], frame["property_category"], frame["property_type"])
    frame["source_line"] = frame["source_line"].astype("Int64")
    for column in ("month", "incident_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame[list(fire.RECORD_COLUMNS)]


def reconcile(parsed: list[ParsedExport]) -> pd.DataFrame:
    """rows read = loaded + outside area + unallocated + rejected, per file and month (month empty
    for rejected rows whose date could not be read)."""
    rows = []
    for p in parsed:
        rows += [(p.name, r["month"], r["location"]) for r in p.records]
        rows += [(p.name, r["month"], "rejected") for r in p.rejected]
    frame = pd.DataFrame(rows, columns=["file", "month", "part"])
    frame["month"] = [m.isoformat() if m is not None else "" for m in frame["month"]]  # sortable; "" = no date
    parts = {geography.IN_AREA: "loaded", geography.OUTSIDE_AREA: "outside_area", geography.NO_LOCATION: "unallocated",
             "rejected": "rejected"}
    table = (frame.assign(part=frame["part"].map(parts)).pivot_table(index=["file", "month"], columns="part",
                                                                     aggfunc="size", fill_value=0)
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
        bad, total = len(p.rejected), len(p.rejected) + len(p.records)
        if bad and (not p.records or (bad > REJECTED_ROWS_ALWAYS_ALLOWED and bad > MAX_REJECTED_SHARE * total)):
            first = p.rejected[0]
            problems.append(f"{p.name}: {bad:,} of {total:,} rows cannot be read (all, or more than "
                            f"{MAX_REJECTED_SHARE:.0%}), so the file was not imported; first, line {first['line']}: "
                            f"{first['reason']}")
    return problems


# --------------------------------------------------------------------------- the command


@dataclass
class FireImport:
    """An import's outcome, for the report and for tests."""

    result: object  # common.ImportResult
    records: pd.DataFrame
    rejected: pd.DataFrame
    reconciliation: pd.DataFrame
    parsed: list[ParsedExport]
    unmapped: pd.Series  # source_area -> incidents, for areas the mapping does not name


def run_import(paths: list[Path], data_dir: Path, areas_file: Path | None = None, encoding: str = "auto",
               replace_smaller: bool = False) -> FireImport:
    """Read and check every file, then publish them all in one atomic swap (or nothing)."""
    data_dir = Path(data_dir)
    if not paths:
        raise ImportError_("no files given")
    areas = read_areas(areas_file or data_dir / AREAS_FILE, data_dir)
    problems, parsed, seen = [], [], {}
    names: dict[str, Path] = {}
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
            parsed.append(parse_export(path, areas, encoding, seen))
        except FileProblem as exc:
            problems.append(str(exc))
    problems += rejection_problems(parsed)
    if problems:
        raise ImportError_(f"{len(problems)} problem(s) found, nothing was imported:\n  " + "\n  ".join(problems))
    records = records_frame([r for p in parsed for r in p.records])
    rejected = pd.DataFrame([r for p in parsed for r in p.rejected], columns=REJECTED_COLUMNS + ["month"])
    reconciliation = reconcile(parsed)
    source = "IRS incident export: " + ", ".join(p.name for p in parsed)
    result = publish_import(data_dir, DATASET, records, rejected[REJECTED_COLUMNS], reconciliation, source,
                            replace_smaller=replace_smaller)
    unallocated = records[records["location"] == geography.NO_LOCATION]
    unmapped = unallocated["source_area"].fillna("(blank)").value_counts()
    return FireImport(result, records, rejected, reconciliation, parsed, unmapped)


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
    records, recon = outcome.records, outcome.reconciliation
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
    fires = records[records["incident_category"] == fire.FIRE]
    categories = records["incident_category"].value_counts()
    print(f"incidents: {len(fires):,} fires ({(fires['fire_type'] == fire.PRIMARY).sum():,} primary, "
          f"{(fires['fire_type'] == fire.SECONDARY).sum():,} secondary; {int(fires['deliberate'].sum()):,} deliberate), "
          f"{categories.get(fire.FALSE_ALARM, 0):,} false alarms, {categories.get(fire.SPECIAL_SERVICE, 0):,} special "
          "services (kept, but only fires count in fire measures)", file=out)
    outside = records[records["location"] == geography.OUTSIDE_AREA]
    if len(outside):
        by = outside["district"].value_counts()
        print("outside the force area, by mapped district: " + ", ".join(f"{d} {n:,}" for d, n in by.items()), file=out)
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
