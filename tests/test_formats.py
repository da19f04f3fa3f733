"""Export formats (queries/formats.py): the CSV and Excel writers, safe file names, and the
server-side replay of an AG Grid filterModel / sortModel, on hand-made frames."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from queries import formats, limits
from queries.formats import ABOUT_FIELDS, FORMATS, apply_grid_view, export_filename, format_for

REPO = Path(__file__).resolve().parent.parent

FRAME = pd.DataFrame(
    {
        "Area": ["Amber Valley", "Bolsover", "Chesterfield", "Derby City", "Erewash", "High Peak"],
        "count": [53.0, 7.0, np.nan, 120.0, 31.0, 7.0],
        "expected": [40.5, 9.25, 11.0, 101.333, 30.0, 8.0],
        "status": ["Above", "", "No data", "Above", "", "Below"],
    }
)
ABOUT = {"title": "Shoplifting", "view_url": "http://x/?area=Erewash", "filters": {"area": "Erewash"},
         "method": "pooled", "k": "2", "synthetic": True}


def _bytes(key: str, frame=FRAME, about=ABOUT) -> bytes:
    return FORMATS[key].to_bytes(frame, about)


# --------------------------------------------------------------------------- registry


def test_registry_offers_csv_and_xlsx_and_refuses_a_second_csv():
    assert set(FORMATS) == {"csv", "xlsx"}
    with pytest.raises(ValueError, match="registered twice"):
        formats.register(FORMATS["csv"])


@pytest.mark.parametrize("key, path, expected", [
    (None, "out.csv", "csv"), (None, "OUT.XLSX", "xlsx"), (None, "noext", "csv"), ("xlsx", "out.csv", "xlsx"),
])
def test_format_is_the_flag_else_the_suffix_else_csv(key, path, expected):
    assert format_for(key, path).key == expected


def test_unknown_format_or_suffix_names_the_choices():
    with pytest.raises(ValueError, match="unknown export format 'pdf'; choose from: csv, xlsx"):
        format_for("pdf")
    with pytest.raises(ValueError, match=r"\.txt.*\.csv, \.xlsx"):
        format_for(None, "counts.txt")


# --------------------------------------------------------------------------- CSV


def test_csv_has_the_header_on_line_one_and_counts_as_integers():
    lines = _bytes("csv").decode("utf-8").split("\n")
    assert lines[0] == "Area,count,expected,status"
    assert lines[1] == "Amber Valley,53,40.50,Above"
    assert lines[3] == "Chesterfield,,11.00,No data"  # a missing count stays blank, never 0
    assert lines[4] == "Derby City,120,101.33,Above"


def test_csv_streams_chunks_with_one_header_and_leaves_the_stream_open():
    stream = io.BytesIO()
    FORMATS["csv"].write_chunks((FRAME.iloc[i:i + 2] for i in range(0, 6, 2)), ABOUT, stream)
    assert not stream.closed
    assert stream.getvalue() == _bytes("csv")


def test_csv_of_nothing_is_refused():
    with pytest.raises(ValueError, match="nothing to export"):
        FORMATS["csv"].write_chunks(iter([]), ABOUT, io.BytesIO())


# --------------------------------------------------------------------------- Excel


def _book(frame=FRAME, about=ABOUT) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(_bytes("xlsx", frame, about)))


def test_xlsx_data_sheet_has_integer_counts_a_frozen_header_and_fitted_widths():
    book = _book()
    assert book.sheetnames == ["Data", "About this data"]
    data = book["Data"]
    assert data.freeze_panes == "A2"
    rows = list(data.iter_rows(values_only=True))
    assert rows[0] == ("Area", "count", "expected", "status")
    assert rows[1][1] == 53 and isinstance(rows[1][1], int)
    assert rows[3][1] is None
    assert rows[4][2] == pytest.approx(101.33)
    assert data["B2"].number_format == "0" and data["C2"].number_format == "0.00"
    assert data.column_dimensions["A"].width >= len("Amber Valley")
    assert formats.MIN_COLUMN_WIDTH <= data.column_dimensions["B"].width <= formats.MAX_COLUMN_WIDTH


def test_xlsx_about_sheet_lists_every_field_and_each_filter():
    about = dict(rows[:2] for rows in _book()["About this data"].iter_rows(min_row=2, values_only=True))
    labels = set(about)
    for key, label in ABOUT_FIELDS.items():
        assert label in labels or any(name.startswith(label + ": ") for name in labels), key
    assert about["Filters: area"] == "Erewash"
    assert about["View (link to this view)"] == "http://x/?area=Erewash"
    assert about["Synthetic data"] == "Yes"
    assert about["Report month"] == formats.NOT_APPLICABLE


def test_xlsx_streams_many_chunks():
    big = pd.DataFrame({"n": np.arange(5_000, dtype=float), "label": "x"})
    stream = io.BytesIO()
    FORMATS["xlsx"].write_chunks((big.iloc[i:i + 1000] for i in range(0, len(big), 1000)), {}, stream)
    data = openpyxl.load_workbook(stream, read_only=True)["Data"]
    values = [row[0] for row in data.iter_rows(min_row=2, values_only=True)]
    assert values == list(range(5_000))


# --------------------------------------------------------------------------- file names


def test_filename_carries_the_view_context():
    name = export_filename(["Chesterfield", "Shoplifting", "2026-10", "pooled", "k2"], "csv")
    assert name == "Chesterfield_Shoplifting_2026-10_pooled_k2.csv"


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "CON", "a/b\\c", "Kilburn, Denby & Horsley", "\x00é€", "." * 10])
def test_filename_is_safe_whatever_the_parts(hostile):
    name = export_filename([hostile, "Shoplifting" * 30], "xlsx")
    assert name.endswith(".xlsx") and len(name) <= formats.MAX_FILENAME
    assert "/" not in name and "\\" not in name and ".." not in name and not name.startswith(".")
    assert name.isascii() and " " not in name


# --------------------------------------------------------------------------- AG Grid view


def test_text_filter_is_case_insensitive_contains():
    shown = apply_grid_view(FRAME, {"Area": {"filterType": "text", "type": "contains", "filter": "ER"}})
    assert list(shown["Area"]) == ["Amber Valley", "Bolsover", "Chesterfield", "Derby City", "Erewash"]


def test_combined_number_conditions_and_or():
    model = {"count": {"filterType": "number", "operator": "OR", "conditions": [
        {"filterType": "number", "type": "lessThan", "filter": 10},
        {"filterType": "number", "type": "greaterThanOrEqual", "filter": 100},
    ]}}
    assert list(apply_grid_view(FRAME, model)["Area"]) == ["Bolsover", "Derby City", "High Peak"]
    model["count"]["operator"] = "AND"
    assert apply_grid_view(FRAME, model).empty


def test_old_style_condition1_condition2_and_in_range():
    model = {"expected": {"filterType": "number", "operator": "AND",
                          "condition1": {"type": "greaterThan", "filter": 9}, "condition2": {"type": "notEqual", "filter": 30}},
             "count": {"filterType": "number", "type": "inRange", "filter": 100, "filterTo": 7}}
    assert list(apply_grid_view(FRAME, model)["Area"]) == ["Amber Valley"]


def test_blank_filters_and_filters_on_two_columns():
    assert list(apply_grid_view(FRAME, {"count": {"filterType": "number", "type": "blank"}})["Area"]) == ["Chesterfield"]
    both = {"status": {"filterType": "text", "type": "notBlank"}, "count": {"filterType": "number", "type": "greaterThan", "filter": "50"}}
    assert list(apply_grid_view(FRAME, both)["Area"]) == ["Amber Valley", "Derby City"]


def test_multi_column_sort_in_priority_order_with_blanks_first_ascending():
    shown = apply_grid_view(FRAME, sort_model=[{"colId": "count", "sort": "asc"}, {"colId": "Area", "sort": "desc"}])
    assert list(shown["Area"]) == ["Chesterfield", "High Peak", "Bolsover", "Erewash", "Amber Valley", "Derby City"]
    shown = apply_grid_view(FRAME, sort_model=[{"colId": "status", "sort": "desc"}, {"colId": "count", "sort": "desc"}])
    assert list(shown["Area"]) == ["Chesterfield", "High Peak", "Derby City", "Amber Valley", "Erewash", "Bolsover"]


def test_column_state_gives_sort_priority_and_visible_columns():
    state = [{"colId": "Area", "sort": "desc", "sortIndex": 1}, {"colId": "count", "sort": "asc", "sortIndex": 0},
             {"colId": "expected", "hide": True}, {"colId": "status", "sort": None}]
    assert formats.sort_model_from_column_state(state) == [{"colId": "count", "sort": "asc"}, {"colId": "Area", "sort": "desc"}]
    shown = apply_grid_view(FRAME, None, formats.sort_model_from_column_state(state), formats.visible_columns(state))
    assert list(shown.columns) == ["Area", "count", "status"]
    assert list(shown["Area"])[:3] == ["Chesterfield", "High Peak", "Bolsover"]


@pytest.mark.parametrize("filter_model, sort_model, message", [
    ({"Nope": {"filterType": "text", "type": "contains", "filter": "a"}}, None, "unknown column 'Nope'"),
    ({"count": {"filterType": "number", "type": "greaterThan", "filter": "ten"}}, None, "expected a number, got 'ten'"),
    ({"count": {"filterType": "number", "type": "greaterThan", "filter": [1]}}, None, "expected a number"),
    ({"count": {"filterType": "number", "type": "greaterThan", "filter": float("nan")}}, None, "finite"),
    ({"Area": {"filterType": "number", "type": "equals", "filter": 1}}, None, "number filter on a column that holds text"),
    ({"Area": {"filterType": "set", "values": ["Erewash"]}}, None, "unsupported filterType 'set'"),
    ({"Area": {"filterType": "text", "type": "regex", "filter": ".*"}}, None, "unknown text filter type 'regex'"),
    ({"Area": {"filterType": "text", "type": "contains", "filter": None}}, None, "needs a text 'filter'"),
    ({"Area": {"filterType": "text", "operator": "XOR", "conditions": []}}, None, "operator must be one of AND, OR"),
    ({"Area": {"filterType": "text", "operator": "AND", "conditions": []}}, None, "non-empty list"),
    ({"Area": "Erewash"}, None, "must be an object"),
    (["Area"], None, "filterModel must be an object"),
    (None, [{"colId": "count", "sort": "sideways"}], "sort must be one of asc, desc"),
    (None, [{"colId": "__import__", "sort": "asc"}], "unknown column '__import__'"),
    (None, {"colId": "count"}, "sortModel must be a list"),
    (None, ["count"], "sortModel entry 1"),
])
def test_hostile_models_are_refused_with_a_clear_message(filter_model, sort_model, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.").replace("*", r"\*")):
        apply_grid_view(FRAME, filter_model, sort_model)


def test_no_model_returns_every_row_in_order():
    pd.testing.assert_frame_equal(apply_grid_view(FRAME, {}, []), FRAME)


# --------------------------------------------------------------------------- CLI


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=REPO, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_cli_export_series_writes_xlsx_from_the_suffix_with_its_about_sheet(demo_dir, tmp_path):
    out = tmp_path / "erewash.xlsx"
    result = _run("export", "series", "--area", "Erewash", "--measure", "Shoplifting", "--fy", "2025",
                  "--method", "classic", "--k", "1.5", "--data-dir", str(demo_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    book = openpyxl.load_workbook(out)
    rows = list(book["Data"].iter_rows(values_only=True))
    assert list(rows[0]) == limits.COLUMNS and len(rows) == 13
    assert all(isinstance(r[1], int) for r in rows[1:])
    about = dict(r[:2] for r in book["About this data"].iter_rows(min_row=2, values_only=True))
    assert about["Filters: area"] == "Erewash" and about["Limit method"] == "classic" and about["k (multiplier for the upper and lower lines)"] == "1.5"
    assert about["Synthetic data: crime"].startswith("Yes")
    assert "imported 2026-" in about["Sources (imported): crime"]


def test_cli_format_flag_wins_and_a_bad_suffix_fails_cleanly(demo_dir, tmp_path):
    out = tmp_path / "counts.data"
    result = _run("export", "counts", "--by", "month", "--format", "csv", "--data-dir", str(demo_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text().split("\n")[0] == "month,count"
    bad = _run("export", "marac", "--data-dir", str(demo_dir), "--out", str(tmp_path / "m.pdf"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "cannot tell the export format" in bad.stderr and not (tmp_path / "m.pdf").exists()


# --------------------------------------------------------------------------- record-level, streamed


def test_records_stream_in_chunks_that_add_up_to_the_store(demo_store):
    from queries.export import record_chunks

    sizes = [len(chunk) for chunk in record_chunks(demo_store, "fire", chunk_rows=10_000)]
    total = int(demo_store.query("SELECT count(*) AS n FROM fire_records")["n"][0])
    assert len(sizes) >= -(-total // 10_000) and max(sizes) <= 10_000 and sum(sizes) == total


def test_records_of_people_are_never_exported_row_by_row(demo_store):
    from queries.export import record_chunks
    from queries.store import SensitiveData

    with pytest.raises(SensitiveData):
        next(record_chunks(demo_store, "marac"))
    with pytest.raises(ValueError, match="'hate' records are not exported row by row"):
        next(record_chunks(demo_store, "hate"))


def test_cli_export_records_streams_fire_to_csv(demo_dir, tmp_path):
    out = tmp_path / "fire.csv"
    result = _run("export", "records", "--dataset", "fire", "--data-dir", str(demo_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert "record_id" == table.columns[0] and table["record_id"].is_unique
    assert f"wrote {len(table):,} fire records" in result.stdout


def test_excel_refuses_more_rows_than_a_sheet_holds(monkeypatch):
    monkeypatch.setattr(formats, "MAX_XLSX_ROWS", 5)
    with pytest.raises(ValueError, match="more than 5 rows: an Excel sheet cannot hold them; export as CSV"):
        FORMATS["xlsx"].write_chunks([FRAME, FRAME], {}, io.BytesIO())
