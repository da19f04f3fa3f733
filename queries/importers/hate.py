"""Hate incidents and crimes, record-level CSV: one row per incident or crime (schema in docs/marac-hate.md).

`python app.py import hate PATH... [--data-dir DIR] [--encoding utf-8]`

Columns (header required, any order, case-insensitive; other columns are ignored):

    record_id   unique id of the incident or crime
    date        date recorded: 2025-03-15 or 15/03/2025 (or, instead of date, `month`: 2025-03)
    kind        Incident or Crime (a hate crime is recorded once, as a Crime)
    strand      the monitored strand: Race, Religion, Sexual orientation, Disability,
                Transgender or Other (common spellings such as "Racial" or "Faith" are accepted)
    area_code   2025 ward code (E05...) or LSOA code (E01..., 2011 or 2021); blank = no known area
    outcome     optional column; for crimes the Home Office outcome (1-22 or its name), blank
                while under investigation; ignored for incidents

Every row is counted: loaded in its ward, outside the force area (a valid code that is not
Derbyshire's), with no known area (blank code), or rejected with its reason. For every
file and month, rows read = loaded + outside area + unallocated + rejected. File problems
(missing, empty, wrong header, not UTF-8, broken quoting) stop the import with the store
unchanged.
"""
from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import pandas as pd

from queries import hate
from queries.importers.common import REJECTED_COLUMNS, ImportError_, ImportResult, publish_import
from queries.importers.marac import (
    DEFAULT_ENCODING,
    REJECTED,
    AreaResolver,
    Row,
    add_arguments,  # noqa: F401  (the CLI looks for it on this module)
    existing_ids,
    month_start,
    only_loaded_months,
    parse_date,
    print_result,
    read_csv,
    reconciliation_frame,
    refuse_if_nothing_loaded,
)

DATASET = "hate"
REQUIRED = ["record_id", "kind", "strand", "area_code"]
DATE_COLUMNS = ["date", "month"]
OPTIONAL = ["outcome"]
KIND_ALIASES = {
    "crime": hate.CRIME, "hate crime": hate.CRIME, "c": hate.CRIME,
    "incident": hate.INCIDENT, "hate incident": hate.INCIDENT, "non-crime incident": hate.INCIDENT,
    "non crime incident": hate.INCIDENT, "i": hate.INCIDENT,
}
RECORD_COLUMNS = ["record_id", "date", "month", "ward_code", "location", "kind", "strand", "outcome_code", "outcome",
                  "positive_outcome"]


def _parse_month(row: Row) -> tuple[date | None, date | None, str | None]:
    """(date or None, month, None) or (None, None, reason)."""
    text = row.fields.get("date", "")
    if text:
        try:
            day = parse_date(text)
        except ValueError as exc:
            return None, None, str(exc)
        return day, month_start(day), None
    text = row.fields.get("month", "")
    if not text:
        return None, None, "no date (or month) given"
    try:
        parts = text.split("-") if "-" in text else text.split("/")[::-1]
        return None, date(int(parts[0]), int(parts[1]), 1), None
    except (ValueError, IndexError):
        return None, None, f"month {text!r} is not a month like 2025-03"


def _parse_row(row: Row, resolver: AreaResolver, today: date) -> tuple[dict | None, str | None, date | None, str]:
    """(record, None, month, location) for a good row, else (None, reason, month or None, REJECTED)."""
    f = row.fields
    day, month, reason = _parse_month(row)
    if reason:
        return None, reason, None, REJECTED
    if month > month_start(today) or (day is not None and day > today):
        return None, f"{'date' if day else 'month'} {f.get('date') or f.get('month')} is in the future", month, REJECTED
    if not f["record_id"]:
        return None, "record_id is blank", month, REJECTED
    kind = KIND_ALIASES.get(" ".join(f["kind"].lower().split()))
    if kind is None:
        return None, f"unknown kind {f['kind']!r}; choose Incident or Crime", month, REJECTED
    if any(sep in f["strand"] for sep in (";", "|", "/")) and hate.canonical_strand(f["strand"]) is None:
        return None, (f"several strands {f['strand']!r}: give the one primary strand per record "
                      f"({', '.join(hate.STRANDS)})"), month, REJECTED
    strand = hate.canonical_strand(f["strand"])
    if strand is None:
        return None, f"unknown strand {f['strand']!r}; choose one of: {', '.join(hate.STRANDS)}", month, REJECTED
    code = name = None
    positive = False
    if kind == hate.CRIME:
        outcome = hate.outcome_of(f.get("outcome", ""))
        if outcome is None:
            return None, (f"unknown outcome {f.get('outcome')!r}: give the Home Office outcome number (1-22) or its "
                          "name (e.g. Charged/Summonsed), or leave it blank while under investigation"), month, REJECTED
        code, name, positive = outcome
    try:
        ward, location = resolver.resolve(f["area_code"])
    except ValueError as exc:
        return None, str(exc), month, REJECTED
    return {
        "record_id": f["record_id"],
        "date": day,
        "month": month,
        "ward_code": ward,
        "location": location,
        "kind": kind,
        "strand": strand,
        "outcome_code": code,
        "outcome": name,
        "positive_outcome": bool(positive),
    }, None, month, location


def import_files(paths: list[Path], data_dir: Path, encoding: str = DEFAULT_ENCODING,
                 replace_smaller: bool = False) -> tuple[ImportResult, list[str]]:
    """Read, check and publish hate files; raise ImportError_ (store unchanged) on a file problem."""
    data_dir = Path(data_dir)
    if not paths:
        raise ImportError_("no files given")
    resolver = AreaResolver(data_dir)
    today = date.today()
    notes: list[str] = []
    parsed = []
    seen: dict[str, str] = {}
    for path in paths:
        csv_file = read_csv(Path(path), REQUIRED, OPTIONAL, encoding, one_of=[DATE_COLUMNS])
        ignored = [c for c in csv_file.ignored_columns if c]
        if ignored:
            notes.append(f"{path}: ignored column(s) {', '.join(ignored)}")
        if "outcome" not in csv_file.header:
            notes.append(f"{path}: no outcome column, so its crimes count as awaiting an outcome")
        outcomes = [
            (row, None, row.reason or f"{len(row.values)} fields, expected {len(csv_file.header)} (truncated line, or a comma "
                        "inside an unquoted value)", None, REJECTED)
            for row in csv_file.bad_rows
        ]
        for row in csv_file.rows:
            record, reason, month, status = _parse_row(row, resolver, today)
            if record is not None:
                if record["record_id"] in seen:
                    record, reason, status = None, f"duplicate record_id (first at {seen[record['record_id']]})", REJECTED
                else:
                    seen[record["record_id"]] = f"{Path(path).name} line {row.line}"
            outcomes.append((row, record, reason, month, status))
        parsed.append((csv_file, outcomes))

    months = {m for _, outcomes in parsed for _, record, _, m, _ in outcomes if record is not None}
    already = existing_ids(data_dir, DATASET, months)
    records, rejected, reconciliation = [], [], []
    for csv_file, outcomes in parsed:
        file_outcomes, problems = [], []
        for row, record, reason, month, status in sorted(outcomes, key=lambda o: o[0].line):
            month = only_loaded_months(month, months)
            if record is not None and record["record_id"] in already:
                record, status = None, REJECTED
                reason = (f"record_id is already in the store for "
                          f"{already[row.fields['record_id']]:%Y-%m}, a month this import does not replace")
            if record is None:
                rejected.append({"file": str(csv_file.path), "line": row.line, "reason": reason, "raw": row.raw})
                problems.append((row.line, reason))
            else:
                records.append(record)
            file_outcomes.append((month, status))
        refuse_if_nothing_loaded(csv_file.path, sum(1 for _, s in file_outcomes if s != REJECTED), sorted(problems))
        reconciliation.append(reconciliation_frame(str(csv_file.path), file_outcomes))
    frame = pd.DataFrame(records, columns=RECORD_COLUMNS)
    frame["outcome_code"] = frame["outcome_code"].astype("Int64")
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    frame["positive_outcome"] = frame["positive_outcome"].astype(bool)
    result = publish_import(
        data_dir, DATASET, frame,
        pd.DataFrame(rejected, columns=REJECTED_COLUMNS),
        pd.concat(reconciliation, ignore_index=True),
        source="Hate incidents and crimes CSV: " + ", ".join(Path(p).name for p in paths),
        replace_smaller=replace_smaller, files=[str(p) for p in paths],
    )
    return result, notes


def main(args) -> int:
    result, notes = import_files(args.paths, args.data_dir, getattr(args, "encoding", DEFAULT_ENCODING),
                                 getattr(args, "replace_smaller", False))
    print_result(result, notes, DATASET)
    return release_to_ledger(Path(args.data_dir))


# The records were stored, but the disclosure audit withheld the public release (the page says so).
# The same code as MARAC's, so a script treats both importers alike.
EXIT_NOT_RELEASED = 4


def release_to_ledger(data_dir: Path) -> int:
    """Release the public hate-crime figures for the store's new version now, audited over the ledger.

    The audit takes seconds (6-18 s on the demo store); done here, at import, no web request
    waits for it: the first public view reads the release back from the ledger. A store made
    any other way is still released at its first public view (queries/hate_release.py).
    """
    from queries import hate_ledger, hate_release, settings
    from queries.statedb import StateError
    from queries.store import Store

    config = settings.load_settings()
    state_dir = settings.state_dir_for(dict(os.environ), Path(data_dir))
    try:
        rel = hate_release.release(Store(Path(data_dir)), config.suppress_below, state_dir=state_dir)
    except LookupError:
        return 0  # no hate data in the store (nothing to release)
    except (hate_ledger.DisclosureError, StateError) as exc:
        print(f"error: the files are in the store, but the public hate-crime release is withheld: {exc}", file=sys.stderr)
        return EXIT_NOT_RELEASED
    print(f"released {len(rel.cells):,} public hate-crime figures ({int(rel.cells['suppressed'].sum())} hidden), "
          f"audited over the ledger in {state_dir}")
    return 0
