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

import numpy as np
import pandas as pd
import pyarrow as pa

from queries import hate
from queries.importers import csv_stream
from queries.importers.common import ImportError_, ImportResult
from queries.importers.csv_stream import by_distinct, first_reason
from queries.importers.marac import (
    DEFAULT_ENCODING,
    ROWS_PER_BATCH,
    AreaResolver,
    Checked,
    Dedupe,
    add_arguments,  # noqa: F401  (the CLI looks for it on this module)
    batch_rejects,
    is_blank,
    month_start,
    open_csv,
    parse_date,
    print_result,
    record_table,
    spool_and_publish,
    stripped,
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


def _month_rule(day_text: str, month_text: str, today: date) -> tuple:
    """(day, month, reason, future reason) for a row's date (or month) text, as a row checked alone."""
    if day_text:
        try:
            day = parse_date(day_text)
        except ValueError as exc:
            return None, None, str(exc), None
        month = month_start(day)
    elif not month_text:
        return None, None, "no date (or month) given", None
    else:
        try:
            parts = month_text.split("-") if "-" in month_text else month_text.split("/")[::-1]
            day, month = None, date(int(parts[0]), int(parts[1]), 1)
        except (ValueError, IndexError):
            return None, None, f"month {month_text!r} is not a month like 2025-03", None
    if month > month_start(today) or (day is not None and day > today):
        return day, month, None, f"{'date' if day else 'month'} {day_text or month_text} is in the future"
    return day, month, None, None


def _category_rule(kind_text: str, strand_text: str, outcome_text: str) -> tuple:
    """(kind, strand, outcome code, outcome name, positive, reason) for a row's kind, strand and outcome."""
    kind = KIND_ALIASES.get(" ".join(kind_text.lower().split()))
    if kind is None:
        return None, None, None, None, False, f"unknown kind {kind_text!r}; choose Incident or Crime"
    if any(sep in strand_text for sep in (";", "|", "/")) and hate.canonical_strand(strand_text) is None:
        return None, None, None, None, False, (f"several strands {strand_text!r}: give the one primary strand per "
                                               f"record ({', '.join(hate.STRANDS)})")
    strand = hate.canonical_strand(strand_text)
    if strand is None:
        return None, None, None, None, False, f"unknown strand {strand_text!r}; choose one of: {', '.join(hate.STRANDS)}"
    code = name = None
    positive = False
    if kind == hate.CRIME:
        outcome = hate.outcome_of(outcome_text)
        if outcome is None:
            return None, None, None, None, False, (
                f"unknown outcome {outcome_text!r}: give the Home Office outcome number (1-22) or its "
                "name (e.g. Charged/Summonsed), or leave it blank while under investigation")
        code, name, positive = outcome
    return kind, strand, code, name, bool(positive), None


def _area_rule(resolver: AreaResolver, code: str) -> tuple:
    try:
        ward, location = resolver.resolve(code)
    except ValueError as exc:
        return None, None, str(exc)
    return ward, location, None


def _check_batch(batch: csv_stream.Batch, positions: dict[str, int | None], file_index: int, resolver: AreaResolver,
                 today: date) -> Checked:
    """Every check of a record, a column at a time; each distinct value (or combination) is looked at once.

    The reasons, and their order, are those of a row checked alone: the first failing check is the reason.
    """
    n = len(batch.lines)
    record_id = stripped(batch, positions["record_id"])
    if n:
        day, month, date_reason, future = by_distinct(lambda d, m: _month_rule(d, m, today),
                                                      stripped(batch, positions["date"]), stripped(batch, positions["month"]))
        kind, strand, code, name, positive, category_reason = by_distinct(
            _category_rule, stripped(batch, positions["kind"]), stripped(batch, positions["strand"]),
            stripped(batch, positions["outcome"]))
        ward, location, area_reason = by_distinct(lambda c: _area_rule(resolver, c), stripped(batch, positions["area_code"]))
    else:
        day = month = date_reason = future = kind = strand = code = name = positive = category_reason = \
            ward = location = area_reason = np.empty(0, object)
    reason = first_reason(date_reason, future, np.where(is_blank(record_id), "record_id is blank", None),
                          category_reason, area_reason)
    keep = pd.isna(reason)
    records = record_table({
        "record_id": (record_id, pa.string()),
        "date": (day, pa.date32()),
        "month": (month, pa.date32()),
        "ward_code": (ward, pa.string()),
        "location": (location, pa.string()),
        "kind": (kind, pa.string()),
        "strand": (strand, pa.string()),
        "outcome_code": (code, pa.int64()),
        "outcome": (name, pa.string()),
        "positive_outcome": (positive, pa.bool_()),
    }, keep, batch, file_index, location if n else np.empty(0, object))
    return Checked(records, batch_rejects(batch, file_index, ~keep, reason, month, _raw))


def _raw(values: list[str] | None, text: str, file_index: int = 0) -> str:
    """A rejected hate row is quarantined as the file had it."""
    return text


def import_files(paths: list[Path], data_dir: Path, encoding: str = DEFAULT_ENCODING,
                 replace_smaller: bool = False, rows_per_batch: int = ROWS_PER_BATCH) -> tuple[ImportResult, list[str]]:
    """Read, check and publish hate files; raise ImportError_ (store unchanged) on a file problem.

    Each file is read in batches of `rows_per_batch` rows; the result does not depend on it.
    """
    data_dir = Path(data_dir)
    if not paths:
        raise ImportError_("no files given")
    resolver = AreaResolver(data_dir)
    today = date.today()
    notes: list[str] = []
    opened = [open_csv(Path(path), REQUIRED, OPTIONAL, encoding, one_of=[DATE_COLUMNS]) for path in paths]
    positions = []
    for path, (_, header, ignored) in zip(paths, opened):
        ignored = [c for c in ignored if c]
        if ignored:
            notes.append(f"{path}: ignored column(s) {', '.join(ignored)}")
        if "outcome" not in header:
            notes.append(f"{path}: no outcome column, so its crimes count as awaiting an outcome")
        positions.append({name: (header.index(name) if name in header else None)
                          for name in REQUIRED + DATE_COLUMNS + OPTIONAL})
    result = spool_and_publish(
        [Path(p) for p in paths], [codec for codec, _, _ in opened],
        lambda index, batch: _check_batch(batch, positions[index], index, resolver, today),
        [Dedupe(["record_id"], "duplicate record_id (first at {first})")], data_dir, DATASET, "record_id",
        RECORD_COLUMNS, _raw, "Hate incidents and crimes CSV: " + ", ".join(Path(p).name for p in paths),
        replace_smaller, rows_per_batch)
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
