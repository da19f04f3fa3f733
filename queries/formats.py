"""Export formats: one registry that the dashboard's download menus and `python app.py export` both read.

A format is a record (key, extension, media type, writer). Writers take the rows exactly as
the user sees them plus an `about` dict describing the view (see `ABOUT_FIELDS`), and write
to a binary stream, so the same code serves a Flask/Dash download and a file on disk.

- CSV stays machine-readable: the column header on line 1 and nothing else but rows. Its
  context (area, measure, month, method, k) travels in the file name (`export_filename`).
- Excel (.xlsx, via openpyxl) has a "Data" sheet (counts as integers, header frozen, widths
  fitted) and an "About this data" sheet listing every field of `about`.

`apply_grid_view` recomputes on the server what an AG Grid shows (its filterModel, sort and
visible columns), so a download holds exactly the rows on screen, in the same order, while
the server still decides what may leave it (roles, suppression, the export log).

Large exports stream: `write_chunks` takes an iterator of frames and never holds more than
one chunk (CSV writes as it goes; openpyxl's write-only workbook spools rows to disk).
"""
from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
from werkzeug.utils import secure_filename

# Floats that are not whole numbers (averages, limits) are written to this many decimals,
# as the tables show them; whole-number columns (counts) are written as integers.
DECIMALS = 2
DATA_SHEET = "Data"
ABOUT_SHEET = "About this data"
# Excel column widths (characters): wide enough for the longest value, never absurd.
MIN_COLUMN_WIDTH = 8
MAX_COLUMN_WIDTH = 60
# Longest file name we build (well under every filesystem's 255-byte limit, leaves room for "(1)").
MAX_FILENAME = 150
# An Excel sheet holds 1,048,576 rows, one of them our header.
MAX_XLSX_ROWS = 1_048_575

# What the "About this data" sheet lists, in order: key in `about` -> row label. Keys not
# given are written as "not applicable" rather than left out, so every sheet has every row.
ABOUT_FIELDS: dict[str, str] = {
    "title": "Title",
    "view_url": "View (link to this view)",
    "dataset": "Dataset",
    "filters": "Filters",
    "method": "Limit method",
    "k": "k (multiplier for the upper and lower lines)",
    "report_month": "Report month",
    "data_as_at": "Data as at (latest month held)",
    "sources": "Sources (imported)",
    "suppression": "Suppression applied",
    "synthetic": "Synthetic data",
    "exported_at": "Exported at (UTC)",
}
NOT_APPLICABLE = "not applicable"


# --------------------------------------------------------------------------- registry


Writer = Callable[[Iterable[pd.DataFrame], Mapping[str, Any], BinaryIO], None]


@dataclass(frozen=True)
class ExportFormat:
    """One download format. `write` is the whole-frame convenience over `write_chunks`."""

    key: str            # the word in URLs, the CLI's --format and the menu
    label: str          # what the download menu says
    extension: str      # with the dot, e.g. ".csv"
    media_type: str     # the HTTP Content-Type of the file
    write_chunks: Writer

    def write(self, frame: pd.DataFrame, about: Mapping[str, Any], stream: BinaryIO) -> None:
        self.write_chunks([frame], about, stream)

    def to_bytes(self, frame: pd.DataFrame, about: Mapping[str, Any]) -> bytes:
        """The file as bytes, e.g. for `dcc.send_bytes` in a download callback."""
        buffer = io.BytesIO()
        self.write(frame, about, buffer)
        return buffer.getvalue()


FORMATS: dict[str, ExportFormat] = {}


def register(fmt: ExportFormat) -> ExportFormat:
    """Add a format; a key or extension registered twice is a bug, so it raises at import."""
    if fmt.key in FORMATS or any(f.extension == fmt.extension for f in FORMATS.values()):
        raise ValueError(f"export format {fmt.key!r} ({fmt.extension}) registered twice")
    FORMATS[fmt.key] = fmt
    return fmt


def format_for(key: str | None = None, path: Path | str | None = None) -> ExportFormat:
    """The format named by `key`, else inferred from `path`'s suffix, else CSV.

    Raises ValueError naming the bad value and the choices, for a key or suffix we do not write.
    """
    if key:
        if key not in FORMATS:
            raise ValueError(f"unknown export format {key!r}; choose from: {', '.join(FORMATS)}")
        return FORMATS[key]
    suffix = Path(path).suffix.lower() if path is not None else ""
    if not suffix:
        return FORMATS["csv"]
    for fmt in FORMATS.values():
        if fmt.extension == suffix:
            return fmt
    raise ValueError(
        f"cannot tell the export format from the file name {str(path)!r} ({suffix}); "
        f"use one of {', '.join(f.extension for f in FORMATS.values())} or give --format {'|'.join(FORMATS)}"
    )


# --------------------------------------------------------------------------- values


def whole_number_columns(frame: pd.DataFrame) -> set[str]:
    """Float columns whose held values are all whole numbers: counts held as float because a
    month may be missing. They are written as integers ("53", not "53.00")."""
    whole = set()
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values):
            held = values.dropna()
            if len(held) and np.all(np.isfinite(held)) and np.all(held == np.round(held)):
                whole.add(column)
    return whole


def tidy_numbers(frame: pd.DataFrame, integer_columns: set[str] | None = None) -> pd.DataFrame:
    """Counts as nullable integers, other floats rounded to DECIMALS.

    `integer_columns` fixes the decision (a streamed export decides on its first chunk, so a
    column is written the same way in every chunk); a later fraction in one of them is refused.
    """
    integer_columns = whole_number_columns(frame) if integer_columns is None else integer_columns
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column in integer_columns and pd.api.types.is_float_dtype(values):
            held = values.dropna()
            if len(held) and not np.all(held == np.round(held)):
                raise ValueError(f"column {column!r} held whole numbers in the first rows but fractions later")
            out[column] = values.round().astype("Int64")
        elif pd.api.types.is_float_dtype(values):
            out[column] = values.round(DECIMALS)
    return out


def _tidy_chunks(chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Tidy every chunk with the first chunk's choice of integer columns."""
    integer_columns = None
    for chunk in chunks:
        if integer_columns is None:
            integer_columns = whole_number_columns(chunk)
        yield tidy_numbers(chunk, integer_columns)


def _cell(value: Any) -> Any:
    """A plain Python value for a spreadsheet cell: None for missing, int/float/str otherwise."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m") if value.day == 1 and value.hour == 0 else value.isoformat()
    return value


def about_rows(about: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) rows for the About sheet: every ABOUT_FIELDS row, then any extra keys."""
    unknown = [k for k in about if k not in ABOUT_FIELDS]
    rows = []
    for key in [*ABOUT_FIELDS, *unknown]:
        rows.extend(_about_entries(ABOUT_FIELDS.get(key, key), about.get(key)))
    return rows


def _about_entries(label: str, value: Any) -> list[tuple[str, str]]:
    if value is None or value == "" or value == {} or value == []:
        return [(label, NOT_APPLICABLE)]
    if isinstance(value, bool):
        return [(label, "Yes" if value else "No")]
    if isinstance(value, Mapping):
        return [(f"{label}: {name}", _text(v)) for name, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [(label if i == 0 else "", _text(v)) for i, v in enumerate(value)]
    return [(label, _text(value))]


def _text(value: Any) -> str:
    if value is None or value == "":
        return NOT_APPLICABLE
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m")
    return str(value)


# --------------------------------------------------------------------------- CSV


def _write_csv(chunks: Iterable[pd.DataFrame], about: Mapping[str, Any], stream: BinaryIO) -> None:
    """Header on line 1, then rows; UTF-8, no BOM, "\\n" line ends. `about` goes in the file name."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
    try:
        header_written = False
        for tidy in _tidy_chunks(chunks):
            tidy.to_csv(text, index=False, header=not header_written, lineterminator="\n", quoting=csv.QUOTE_MINIMAL,
                        float_format=f"%.{DECIMALS}f")
            header_written = True
        if not header_written:
            raise ValueError("nothing to export: no rows and no columns were given")
        text.flush()
    finally:
        text.detach()  # leave the caller's stream open


# --------------------------------------------------------------------------- Excel


def _column_width(name: str, values: pd.Series) -> float:
    longest = max([len(str(name))] + [len(str(v)) for v in values.head(1000) if v is not None and v is not pd.NA])
    return float(min(MAX_COLUMN_WIDTH, max(MIN_COLUMN_WIDTH, longest + 2)))


def _write_xlsx(chunks: Iterable[pd.DataFrame], about: Mapping[str, Any], stream: BinaryIO) -> None:
    """A write-only (streaming) workbook: the Data sheet, then the About sheet."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    data = book.create_sheet(DATA_SHEET)
    bold = Font(bold=True)
    iterator: Iterator[pd.DataFrame] = _tidy_chunks(chunks)
    first = next(iterator, None)
    if first is None:
        raise ValueError("nothing to export: no rows and no columns were given")
    # Write-only sheets take widths and the frozen pane before the first row.
    for i, column in enumerate(first.columns, start=1):
        data.column_dimensions[get_column_letter(i)].width = _column_width(column, first[column])
    data.freeze_panes = "A2"
    header = []
    for column in first.columns:
        cell = WriteOnlyCell(data, value=str(column))
        cell.font = bold
        header.append(cell)
    data.append(header)
    try:
        integer_columns = None
        written = 0
        for chunk in itertools.chain([first], iterator):
            written += len(chunk)
            if written > MAX_XLSX_ROWS:
                raise ValueError(f"more than {MAX_XLSX_ROWS:,} rows: an Excel sheet cannot hold them; export as CSV")
            if integer_columns is None:
                integer_columns = {i for i, c in enumerate(chunk.columns) if pd.api.types.is_integer_dtype(chunk[c])}
            for row in chunk.itertuples(index=False, name=None):
                cells = []
                for i, value in enumerate(row):
                    cell = WriteOnlyCell(data, value=_cell(value))
                    if i in integer_columns:
                        cell.number_format = "0"
                    elif isinstance(cell.value, float):
                        cell.number_format = "0." + "0" * DECIMALS
                    cells.append(cell)
                data.append(cells)
    except BaseException:
        data.close()  # end openpyxl's row writer and its temporary file, then say why
        raise

    sheet = book.create_sheet(ABOUT_SHEET)
    sheet.column_dimensions["A"].width = 45
    sheet.column_dimensions["B"].width = 100
    title = WriteOnlyCell(sheet, value=ABOUT_SHEET)
    title.font = Font(bold=True, size=14)
    sheet.append([title])
    wrap = Alignment(wrap_text=True, vertical="top")
    for label, text in about_rows(about):
        name = WriteOnlyCell(sheet, value=label)
        name.font = bold
        name.alignment = wrap
        value = WriteOnlyCell(sheet, value=text)
        value.alignment = wrap
        sheet.append([name, value])
    book.save(stream)


register(ExportFormat("csv", "CSV", ".csv", "text/csv; charset=utf-8", _write_csv))
register(ExportFormat(
    "xlsx", "Excel (.xlsx)", ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _write_xlsx,
))


# --------------------------------------------------------------------------- file names


def export_filename(parts: Sequence[Any], fmt: ExportFormat | str) -> str:
    """A safe, descriptive file name: the view's context joined by "_", e.g.
    `Chesterfield_Shoplifting_2026-10_pooled_k2.csv`.

    Each part goes through werkzeug's `secure_filename` (ASCII only, no path separators, no
    Windows device names); empty parts are dropped; the stem is capped at MAX_FILENAME.
    """
    fmt = FORMATS[fmt] if isinstance(fmt, str) else fmt
    safe = []
    for part in parts:
        if part is None or part == "":
            continue
        if isinstance(part, float) and part.is_integer():
            part = int(part)
        cleaned = secure_filename(str(part).replace("&", "and").replace("/", "-"))
        cleaned = re.sub(r"_+", "-", cleaned).strip("-.")
        if cleaned:
            safe.append(cleaned)
    stem = "_".join(safe)[: MAX_FILENAME - len(fmt.extension)].strip("_-.") or "export"
    return stem + fmt.extension


# --------------------------------------------------------------------------- AG Grid view


TEXT_TYPES = ("equals", "notEqual", "contains", "notContains", "startsWith", "endsWith", "blank", "notBlank")
NUMBER_TYPES = (
    "equals", "notEqual", "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual", "inRange",
    "blank", "notBlank",
)
SORT_DIRECTIONS = ("asc", "desc")
OPERATORS = ("AND", "OR")


def _blank(values: pd.Series) -> pd.Series:
    """AG Grid's blank: null, NaN or the empty string."""
    return values.isna() | (values.astype("string").fillna("") == "")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{where}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return number


def _text_condition(values: pd.Series, cond: Mapping[str, Any], where: str) -> pd.Series:
    kind = cond.get("type")
    if kind not in TEXT_TYPES:
        raise ValueError(f"{where}: unknown text filter type {kind!r}; choose from: {', '.join(TEXT_TYPES)}")
    if kind == "blank":
        return _blank(values)
    if kind == "notBlank":
        return ~_blank(values)
    needle = cond.get("filter")
    if not isinstance(needle, (str, int, float)) or isinstance(needle, bool):
        raise ValueError(f"{where}: a text filter needs a text 'filter', got {needle!r}")
    needle = str(needle).lower()
    # AG Grid's default text matcher: case-insensitive, on the value as text.
    text = values.astype("string").str.lower()
    result = {
        "equals": lambda: text == needle,
        "notEqual": lambda: text != needle,
        "contains": lambda: text.str.contains(needle, regex=False),
        "notContains": lambda: ~text.str.contains(needle, regex=False),
        "startsWith": lambda: text.str.startswith(needle),
        "endsWith": lambda: text.str.endswith(needle),
    }[kind]()
    # notEqual / notContains keep blanks, as AG Grid does; the rest never match a blank.
    return result.fillna(kind in ("notEqual", "notContains")).astype(bool)


def _number_condition(values: pd.Series, cond: Mapping[str, Any], where: str) -> pd.Series:
    kind = cond.get("type")
    if kind not in NUMBER_TYPES:
        raise ValueError(f"{where}: unknown number filter type {kind!r}; choose from: {', '.join(NUMBER_TYPES)}")
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise ValueError(f"{where}: a number filter on a column that holds text")
    if kind == "blank":
        return values.isna()
    if kind == "notBlank":
        return values.notna()
    number = _number(cond.get("filter"), where)
    numbers = values.astype("Float64")
    if kind == "inRange":
        upper = _number(cond.get("filterTo"), where + " (filterTo)")
        low, high = min(number, upper), max(number, upper)
        result = (numbers > low) & (numbers < high)  # AG Grid's inRange excludes both ends by default
    else:
        result = {
            "equals": lambda: numbers == number,
            "notEqual": lambda: numbers != number,
            "lessThan": lambda: numbers < number,
            "lessThanOrEqual": lambda: numbers <= number,
            "greaterThan": lambda: numbers > number,
            "greaterThanOrEqual": lambda: numbers >= number,
        }[kind]()
    return result.fillna(kind == "notEqual").astype(bool)


CONDITIONS = {"text": _text_condition, "number": _number_condition}


def _column_filter(values: pd.Series, model: Any, where: str) -> pd.Series:
    if not isinstance(model, Mapping):
        raise ValueError(f"{where}: a column filter must be an object, got {type(model).__name__}")
    kind = model.get("filterType")
    if kind not in CONDITIONS:
        raise ValueError(f"{where}: unsupported filterType {kind!r}; choose from: {', '.join(CONDITIONS)}")
    check = CONDITIONS[kind]
    if "conditions" in model or "operator" in model:
        operator = model.get("operator")
        conditions = model.get("conditions")
        if conditions is None:  # AG Grid before v29 sent condition1 / condition2
            conditions = [model[k] for k in ("condition1", "condition2") if k in model]
        if operator not in OPERATORS:
            raise ValueError(f"{where}: operator must be one of {', '.join(OPERATORS)}, got {operator!r}")
        if not isinstance(conditions, list) or not conditions:
            raise ValueError(f"{where}: a combined filter needs a non-empty list of conditions")
        masks = []
        for i, cond in enumerate(conditions):
            if not isinstance(cond, Mapping):
                raise ValueError(f"{where} condition {i + 1}: must be an object, got {type(cond).__name__}")
            masks.append(check(values, cond, f"{where} condition {i + 1}"))
        combined = masks[0]
        for mask in masks[1:]:
            combined = (combined & mask) if operator == "AND" else (combined | mask)
        return combined
    return check(values, model, where)


def _known_column(frame: pd.DataFrame, col_id: Any, where: str) -> str:
    if not isinstance(col_id, str) or col_id not in frame.columns:
        raise ValueError(f"{where}: unknown column {col_id!r}; columns: {', '.join(map(str, frame.columns))}")
    return col_id


def sort_model_from_column_state(column_state: Any) -> list[dict]:
    """dash-ag-grid reports sorting in `columnState` ({colId, sort, sortIndex, ...}); turn it
    into a sortModel ([{colId, sort}] in priority order)."""
    if column_state is None:
        return []
    if not isinstance(column_state, list):
        raise ValueError(f"columnState must be a list, got {type(column_state).__name__}")
    sorted_cols = []
    for i, col in enumerate(column_state):
        if not isinstance(col, Mapping):
            raise ValueError(f"columnState entry {i + 1}: must be an object")
        if col.get("sort"):
            index = col.get("sortIndex")
            sorted_cols.append((index if isinstance(index, int) else i, {"colId": col.get("colId"), "sort": col["sort"]}))
    return [entry for _, entry in sorted(sorted_cols, key=lambda pair: pair[0])]


def visible_columns(column_state: Any) -> list[str] | None:
    """Column ids the grid shows, in its order (None when the grid has not reported state)."""
    if not column_state:
        return None
    if not isinstance(column_state, list) or not all(isinstance(c, Mapping) for c in column_state):
        raise ValueError("columnState must be a list of objects")
    return [c.get("colId") for c in column_state if not c.get("hide")]


def apply_grid_view(
    frame: pd.DataFrame,
    filter_model: Mapping[str, Any] | None = None,
    sort_model: Sequence[Mapping[str, Any]] | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The rows and columns an AG Grid shows for this filterModel and sortModel, recomputed here.

    Text filters match case-insensitively on the value as text; number filters need a numeric
    column. Combined conditions (`operator` + `conditions`, or the older condition1/2) are
    supported. Sorting is stable, by each sortModel entry in order, blanks first ascending as
    AG Grid puts them. Anything we cannot honour exactly (an unknown column, filter type,
    operator or a value of the wrong type) raises ValueError saying which and where, rather
    than exporting rows the user did not see.
    """
    filter_model = filter_model or {}
    if not isinstance(filter_model, Mapping):
        raise ValueError(f"filterModel must be an object keyed by column, got {type(filter_model).__name__}")
    mask = pd.Series(True, index=frame.index)
    for col_id, model in filter_model.items():
        where = f"filter on column {col_id!r}"
        column = _known_column(frame, col_id, "filterModel")
        mask &= _column_filter(frame[column], model, where).to_numpy()
    out = frame[mask.to_numpy()]

    sort_model = sort_model or []
    if not isinstance(sort_model, (list, tuple)):
        raise ValueError(f"sortModel must be a list, got {type(sort_model).__name__}")
    by, ascending = [], []
    for i, entry in enumerate(sort_model):
        where = f"sortModel entry {i + 1}"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: must be an object with colId and sort")
        by.append(_known_column(frame, entry.get("colId"), where))
        direction = entry.get("sort")
        if direction not in SORT_DIRECTIONS:
            raise ValueError(f"{where}: sort must be one of {', '.join(SORT_DIRECTIONS)}, got {direction!r}")
        ascending.append(direction == "asc")
    if by:
        # Sort from the least significant key up with a stable sort, so each key keeps its own
        # null placement (AG Grid: blanks first ascending, last descending).
        for column, asc in reversed(list(zip(by, ascending))):
            out = out.sort_values(column, ascending=asc, kind="stable", na_position="first" if asc else "last")

    if columns is not None:
        for col in columns:
            _known_column(frame, col, "columns")
        out = out[list(columns)]
    return out.reset_index(drop=True)
