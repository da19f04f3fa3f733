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
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from queries import geography, marac, store
from queries.importers.common import RECONCILIATION_COLUMNS, REJECTED_COLUMNS, ImportError_, ImportResult, publish_import

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


# A physical line longer than this is a rejected row, never parsed (a MARAC or hate row is
# a few hundred characters; Python's csv module refuses fields over 131,072).
MAX_LINE_CHARS = 65_536
RAW_KEPT_CHARS = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--encoding", default=DEFAULT_ENCODING,
        help="text encoding of the CSV files (default utf-8; e.g. cp1252 for an old Excel export)",
    )


# --------------------------------------------------------------------------- reading CSV (shared with hate)


@dataclass
class Row:
    """One data row: its first physical line, fields by column name, and its original text."""

    line: int
    fields: dict[str, str]
    raw: str
    values: list[str]
    reason: str | None = None  # why a bad row is bad, when it is not its field count


@dataclass
class CsvFile:
    path: Path
    header: list[str]
    rows: list[Row] = field(default_factory=list)
    bad_rows: list[Row] = field(default_factory=list)  # wrong number of fields
    ignored_columns: list[str] = field(default_factory=list)


def normalise_column(name: str) -> str:
    return "_".join(name.replace("\ufeff", "").strip().lower().replace("-", " ").split())


def read_csv(path: Path, required: list[str], optional: list[str], encoding: str = DEFAULT_ENCODING,
             one_of: list[list[str]] | None = None) -> CsvFile:
    """Read a CSV with physical line numbers, or raise ImportError_ naming the file (and line).

    File-level problems raise; rows with the wrong number of fields are returned in
    `bad_rows` for the caller to reject. Blank lines are not rows and are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportError_(f"{path}: no such file")
    data = path.read_bytes()
    if not data.strip():
        raise ImportError_(f"{path}: the file is empty (no header, no rows)")
    try:
        text = data.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportError_(
            f"{path} line {line}: not {encoding} (byte {data[exc.start:exc.start + 1].hex()} cannot be read); "
            "save the file as 'CSV UTF-8', or pass --encoding cp1252 if it came from an old Excel"
        ) from None
    except LookupError:
        raise ImportError_(f"--encoding {encoding!r} is not an encoding Python knows (try utf-8 or cp1252)") from None
    lines = text.splitlines(keepends=True)
    too_long = [Row(number, {}, line[:RAW_KEPT_CHARS] + f"... ({len(line):,} characters)", [],
                    f"line longer than {MAX_LINE_CHARS:,} characters (a row is a few hundred): not read")
                for number, line in enumerate(lines, start=1) if len(line) > MAX_LINE_CHARS]
    if too_long:
        # Each over-long line becomes a blank one (skipped) and a rejected row: no crash, no field limit error.
        for row in too_long:
            lines[row.line - 1] = "\n"
        text = "".join(lines)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    result: CsvFile | None = None
    previous_end = 0
    try:
        for values in reader:
            start, previous_end = previous_end + 1, reader.line_num
            raw = "".join(lines[start - 1 : reader.line_num]).rstrip("\r\n")
            if not any(v.strip() for v in values):
                continue
            if header is None:
                header = [normalise_column(v) for v in values]
                result = CsvFile(path, header)
                _check_header(path, start, header, values, required, optional, one_of or [])
                result.ignored_columns = [h for h in header if h not in required + optional + sum(one_of or [], [])]
                continue
            row = Row(start, {}, raw, values)
            if len(values) != len(header):
                result.bad_rows.append(row)
                continue
            row.fields = {h: v.strip() for h, v in zip(header, values)}
            result.rows.append(row)
    except csv.Error as exc:
        raise ImportError_(
            f"{path} line {previous_end + 1}: {exc} (a quoted field is never closed: is the file cut short?); "
            "nothing was imported"
        ) from None
    if result is None:
        raise ImportError_(f"{path}: the file has only blank lines (no header, no rows)")
    result.bad_rows = sorted(result.bad_rows + [r for r in too_long if r.line > 1], key=lambda r: r.line)
    return result


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


def reconciliation_frame(file_name: str, outcomes: list[tuple[date | None, str]]) -> pd.DataFrame:
    """Per month (None when a row had no readable month): rows read and where they went."""
    tally: dict[date | None, dict[str, int]] = {}
    for month, status in outcomes:
        counts = tally.setdefault(month, {})
        counts[status] = counts.get(status, 0) + 1
    rows = [
        {
            "file": file_name,
            "month": month,
            "rows_read": sum(counts.values()),
            "loaded": counts.get(geography.IN_AREA, 0),
            "outside_area": counts.get(geography.OUTSIDE_AREA, 0),
            "unallocated": counts.get(geography.NO_LOCATION, 0),
            "rejected": counts.get(REJECTED, 0),
        }
        for month, counts in sorted(tally.items(), key=lambda item: (item[0] is None, item[0] or date.min))
    ]
    return pd.DataFrame(rows, columns=RECONCILIATION_COLUMNS)


def existing_ids(data_dir: Path, dataset: str, keep_months: set[date]) -> dict[str, date]:
    """Record ids already in the store in months this import will not replace (real data only)."""
    manifest = store.read_manifest(data_dir)
    if manifest.get("synthetic", {}).get(dataset):
        return {}
    path = store.current_records(data_dir, dataset)
    if path is None or not path.exists():
        return {}
    frame = pd.read_parquet(path, columns=["record_id", "month"])
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    frame = frame[~frame["month"].isin(keep_months)]
    return dict(zip(frame["record_id"], frame["month"]))


def refuse_if_nothing_loaded(path: Path, loaded: int, rejected: list[tuple[int, str]]) -> None:
    """A file of which no row could be read is the wrong file: stop before it empties months."""
    if loaded == 0 and rejected:
        examples = "; ".join(f"line {line}: {reason}" for line, reason in rejected[:EXAMPLES_SHOWN])
        raise ImportError_(
            f"{path}: none of its {len(rejected)} row(s) could be imported, so nothing was written "
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


def _redacted(row: Row, header: list[str]) -> str:
    """The row's original text with the victim id replaced by its pseudonym."""
    values = list(row.values)
    if "victim_id" in header:
        position = header.index("victim_id")
        if position < len(values) and values[position].strip():
            values[position] = pseudonym(values[position])
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def import_files(paths: list[Path], data_dir: Path, encoding: str = DEFAULT_ENCODING,
                 replace_smaller: bool = False) -> tuple[ImportResult, list[str]]:
    """Read, check and publish MARAC files; raise ImportError_ (store unchanged) on a file problem."""
    data_dir = Path(data_dir)
    if not paths:
        raise ImportError_("no files given")
    resolver = AreaResolver(data_dir)
    today = date.today()
    notes: list[str] = []
    parsed = []  # (CsvFile, [(row, record dict | None, reason | None, month | None)])
    seen_ids: dict[str, str] = {}
    seen_victim_dates: dict[tuple[str, date], str] = {}
    for path in paths:
        csv_file = read_csv(Path(path), COLUMNS, [], encoding)
        ignored = [c for c in csv_file.ignored_columns if c]
        if ignored:
            why = [c for c in ignored if c in IGNORED_ON_PURPOSE]
            notes.append(
                f"{path}: ignored column(s) {', '.join(ignored)}"
                + ("; repeats are worked out from each victim's referral history, not read from the file" if why else "")
            )
        outcomes = []
        for row in csv_file.bad_rows:
            outcomes.append((row, None, row.reason or f"{len(row.values)} fields, expected {len(csv_file.header)} (truncated line, "
                                        "or a comma inside an unquoted value)", None))
        for row in csv_file.rows:
            record, reason, month = _parse_row(row, resolver, today)
            where = f"{Path(path).name} line {row.line}"
            if record is not None:
                if record["record_id"] in seen_ids:
                    record, reason = None, f"duplicate referral_id (first at {seen_ids[record['record_id']]})"
                elif (record["victim_id"], record["referral_date"]) in seen_victim_dates:
                    first = seen_victim_dates[(record["victim_id"], record["referral_date"])]
                    record, reason = None, f"the same victim is already referred on the same day ({first}): duplicate case?"
                else:
                    seen_ids[record["record_id"]] = where
                    seen_victim_dates[(record["victim_id"], record["referral_date"])] = where
            outcomes.append((row, record, reason, month))
        parsed.append((csv_file, outcomes))

    months = {m for _, outcomes in parsed for _, record, _, m in outcomes if record is not None}
    already = existing_ids(data_dir, DATASET, months)
    records, rejected, reconciliation = [], [], []
    for csv_file, outcomes in parsed:
        file_outcomes, problems = [], []
        for row, record, reason, month in sorted(outcomes, key=lambda o: o[0].line):
            month = only_loaded_months(month, months)
            if record is not None and record["record_id"] in already:
                record, reason = None, (f"referral_id is already in the store for "
                                        f"{already[record['record_id']]:%Y-%m}, a month this import does not replace")
            if record is None:
                rejected.append({"file": str(csv_file.path), "line": row.line, "reason": reason,
                                 "raw": _redacted(row, csv_file.header)})
                problems.append((row.line, reason))
                file_outcomes.append((month, REJECTED))
            else:
                records.append(record)
                file_outcomes.append((month, geography.IN_AREA))
        loaded = sum(1 for _, status in file_outcomes if status != REJECTED)
        refuse_if_nothing_loaded(csv_file.path, loaded, sorted(problems))
        reconciliation.append(reconciliation_frame(str(csv_file.path), file_outcomes))
    frame = pd.DataFrame(records, columns=["record_id", "victim_id", "referral_date", "month", "ward_code", "location",
                                           "referring_agency"])
    result = publish_import(
        data_dir, DATASET, frame,
        pd.DataFrame(rejected, columns=REJECTED_COLUMNS),
        pd.concat(reconciliation, ignore_index=True),
        source="MARAC case-level CSV: " + ", ".join(Path(p).name for p in paths),
        replace_smaller=replace_smaller, files=[str(p) for p in paths],
    )
    return result, notes


def _parse_row(row: Row, resolver: AreaResolver, today: date) -> tuple[dict | None, str | None, date | None]:
    """(record, None, month) for a good row, else (None, reason, month if the date was readable)."""
    f = row.fields
    month = None
    try:
        referral_date = parse_date(f["referral_date"])
        month = month_start(referral_date)
    except ValueError:  # parse_date's message quotes the date: MARAC reasons quote nothing (module doc)
        return None, ("referral_date is not a date like 2025-03-15 or 15/03/2025" if f["referral_date"]
                      else "referral_date is blank"), None
    if referral_date > today:
        return None, "referral_date is in the future", month
    if not f["referral_id"]:
        return None, "referral_id is blank", month
    if not f["victim_id"]:
        return None, "victim_id is blank: repeats cannot be worked out without it", month
    agency = marac.canonical_agency(f["referring_agency"])
    if agency is None:
        return None, f"unknown referring_agency; choose one of: {', '.join(marac.AGENCIES)}", month
    try:
        ward, location = resolver.resolve(f["area_code"])
    except ValueError:
        return None, "area_code is not a ward (E05...) or LSOA (E01...) code", month
    if location == geography.NO_LOCATION:
        return None, "area_code is blank: a MARAC case must be placed in Derby City or the County", month
    if location == geography.OUTSIDE_AREA:
        return None, ("area_code is outside the force area: a MARAC case must be placed in "
                      "Derby City or the County"), month
    return {
        "record_id": f["referral_id"],
        "victim_id": pseudonym(f["victim_id"]),
        "referral_date": referral_date,
        "month": month,
        "ward_code": ward,
        "location": location,
        "referring_agency": agency,
    }, None, month


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
