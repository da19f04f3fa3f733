"""dashboard/downloads.py without a browser: ids, filter wording, and a hostile grid model
giving a message instead of a file."""
from __future__ import annotations

import base64
import io

import dash
import openpyxl
import pandas as pd

from dashboard import downloads

FRAME = pd.DataFrame({"area": ["Erewash", "Bolsover", "High Peak"], "count": [5.0, 12.0, 7.0]})


def test_ids_follow_both_conventions():
    assert downloads.sub_id("data-overview", "download") == "data-overview-download"
    assert downloads.sub_id({"tab": "crime", "part": "summary"}, "download-xlsx") == {"tab": "crime", "part": "summary-download-xlsx"}


def test_grid_download_replays_filter_and_sort_and_names_the_filter():
    model = {"count": {"filterType": "number", "type": "greaterThan", "filter": 6}}
    state = [{"colId": "area"}, {"colId": "count", "sort": "desc", "sortIndex": 0}]
    data, message = downloads.grid_download(FRAME, model, state, "xlsx", {"title": "t"}, ["Crime", "summary", "2026-10"])
    assert message == "" and data["filename"] == "Crime_summary_2026-10.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(data["content"])))
    assert list(book["Data"].iter_rows(values_only=True)) == [("area", "count"), ("Bolsover", 12), ("High Peak", 7)]
    about = dict(r[:2] for r in book["About this data"].iter_rows(min_row=2, values_only=True))
    assert about["Filters: table column 'count'"] == "greaterThan 6"


def test_a_hostile_model_gives_a_message_and_no_file():
    data, message = downloads.grid_download(FRAME, {"__proto__": {"filterType": "text"}}, None, "csv", {}, ["x"])
    assert data is dash.no_update and message.startswith("Cannot download: filterModel: unknown column '__proto__'")
    data, message = downloads.grid_download(FRAME, None, None, "pdf", {}, ["x"])
    assert data is dash.no_update and "unknown export format 'pdf'" in message
