"""Recording changes to mark on charts (new systems, thresholds, publicity), from data/annotations.csv.

The board's packs show breaks in a series (MARAC's 2014 threshold change, a new police
system, Operation Yewtree) that readers need told about on the chart itself.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from queries import params

from queries.lookup_cache import reparse_when_changed

ANNOTATIONS_FILE = "annotations.csv"
ANNOTATION_COLUMNS = ["dataset", "month", "text"]
ANNOTATION_SCOPES = ("", "all", "demo", "real")
_MONTH_TEXT = re.compile(r"^\d{4}-\d{2}$")


@reparse_when_changed(lambda data_dir, *args, **kwargs: Path(data_dir) / ANNOTATIONS_FILE)
def read_annotations(data_dir: Path, dataset: str, synthetic: bool) -> tuple[pd.DataFrame, list[str]]:
    """Recording changes to mark on a dataset's charts, from data/annotations.csv (editable).

    Columns dataset, month (YYYY-MM), text and an optional scope ("demo": only on synthetic
    data; "real": only on imported data; blank or "all": always). A bad line never breaks a
    chart: it is skipped and described in the returned problems.
    """
    path = Path(data_dir) / ANNOTATIONS_FILE
    empty = pd.DataFrame({"month": pd.DatetimeIndex([]), "text": pd.Series([], dtype=str)})
    if not path.exists():
        return empty, []
    problems: list[str] = []
    rows = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [h.strip().lower() for h in next(reader, [])]
            if header[:3] != ANNOTATION_COLUMNS:
                return empty, [f"{path.name} line 1: expected the header {','.join(ANNOTATION_COLUMNS)}[,scope]; annotations not shown"]
            for fields in reader:
                line = reader.line_num
                if not any(f.strip() for f in fields):
                    continue
                fields = [f.strip() for f in fields] + [""] * 4
                name, month, text, scope = fields[:4]
                if name != dataset:
                    continue
                if not _MONTH_TEXT.match(month):
                    problems.append(f"{path.name} line {line}: month {month!r} is not YYYY-MM; line skipped")
                    continue
                try:
                    when = params.parse_month(month)
                except ValueError:
                    problems.append(f"{path.name} line {line}: month {month!r} is not a month; line skipped")
                    continue
                if scope.lower() not in ANNOTATION_SCOPES:
                    problems.append(f"{path.name} line {line}: scope {scope!r} is not demo, real or all; line skipped")
                    continue
                if (scope.lower() == "demo" and not synthetic) or (scope.lower() == "real" and synthetic):
                    continue
                rows.append((when, text))
    except (UnicodeDecodeError, csv.Error) as exc:
        return empty, [f"{path.name}: cannot be read ({exc}); annotations not shown"]
    if not rows:
        return empty, problems
    return pd.DataFrame(rows, columns=["month", "text"]).sort_values("month", ignore_index=True), problems
