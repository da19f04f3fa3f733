"""The neighbourhood map's data (queries/maps.py), boundaries (queries/boundaries.py) and the
figure and click handling (dashboard/map_card.py), on the demo store and hand-made GeoJSON."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard import map_card
from conftest import copy_geography
from queries import boundaries, geography, limits, maps, series
from queries.boundaries import BoundaryError

REPO = Path(__file__).resolve().parent.parent
OCT = pd.Timestamp("2026-10-01")
VIEW = dict(dataset="crime", csp="Chesterfield", measure="Shoplifting", report_month=OCT, method="pooled", k=2.0,
            min_significant=10)


def _square(code: str, name: str, x0: float, y0: float, size: float = 0.01, key="WD24") -> dict:
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return {"type": "Feature", "properties": {f"{key}CD": code, f"{key}NM": name, "LAD24CD": "E0", "LAD24NM": "X"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_z_is_distance_from_expected_in_spreads(demo_store):
    table = maps.neighbourhood_status(demo_store, **VIEW)
    drill = series.drilldown(demo_store, "crime", "Chesterfield", "Shoplifting", OCT, "pooled", 2.0, 10)
    assert list(table["neighbourhood"]) == list(drill["neighbourhood"])
    row = table.set_index("neighbourhood").loc["Chesterfield Town Centre"]
    # upper = expected + k * spread, so spread = (upper - expected) / k
    assert row["spread"] == pytest.approx((row["upper"] - row["expected"]) / 2)
    assert row["z"] == pytest.approx((row["count"] - row["expected"]) / row["spread"])
    assert row["status"] == limits.ABOVE and row["z"] > 2


def test_z_is_the_same_whatever_k_says_about_the_lines(demo_store):
    at_2 = maps.neighbourhood_status(demo_store, **VIEW).set_index("neighbourhood")["z"]
    at_1 = maps.neighbourhood_status(demo_store, **{**VIEW, "k": 1.0}).set_index("neighbourhood")["z"]
    pd.testing.assert_series_equal(at_1, at_2)


def test_z_hand_worked_and_blank_where_there_is_no_spread_or_count():
    spread, z = maps.distance_from_expected([12, 3, 0, np.nan], [8, 0, 0, 5], [12, 0, 0, 9], k=2)
    assert spread.tolist()[:3] == [2.0, 0.0, 0.0]
    assert z[0] == 2.0  # (12 - 8) / ((12 - 8) / 2)
    assert np.isnan(z[1:]).all()


def test_every_ward_of_the_csp_carries_its_neighbourhoods_figures(demo_store):
    wards = maps.ward_status(demo_store, **VIEW)
    assert list(wards.columns) == maps.COLUMNS
    assert len(wards) == len(set(wards["ward_code"])) == 16
    town = wards[wards["neighbourhood"] == "Chesterfield Town Centre"]
    assert set(town["status"]) == {limits.ABOVE}
    shared = wards[wards["neighbourhood"] == "Dunston Moor and St Helens"]
    assert len(shared) == 2 and shared["count"].nunique() == 1


def test_bad_k_is_refused(demo_store):
    with pytest.raises(ValueError, match="k must be above 0"):
        maps.neighbourhood_status(demo_store, **{**VIEW, "k": 0.0})


def test_shipped_boundaries_cover_every_demo_ward_and_are_small():
    path = REPO / "data" / boundaries.BOUNDARY_FILE
    assert path.stat().st_size < 1_000_000
    codes = {f["id"] for f in json.loads(path.read_text())["features"]}
    lookup = geography.lsoa_lookup(REPO / "data")
    assert codes == set(lookup["ward_code"])


def test_import_keeps_the_lookups_wards_simplifies_and_reports_missing(tmp_data_dir, tmp_path):
    lookup = geography.lsoa_lookup(tmp_data_dir)
    known = sorted(set(lookup["ward_code"]))
    # A dense ring (many collinear points) simplifies away; a ward from another force is dropped.
    dense = _square(known[0], "Dense", -1.5, 53.0)
    edge = [[-1.5 + i * 0.0001, 53.0] for i in range(101)]
    dense["geometry"]["coordinates"] = [edge + [[-1.49, 53.01], [-1.5, 53.01], [-1.5, 53.0]]]
    source = tmp_path / "ons.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": [
        dense, _square(known[1], "Second", -1.4, 53.0), _square("W05999999", "Elsewhere", 3, 51)]}))
    written, missing, size = boundaries.import_boundaries(source, tmp_data_dir)
    assert written == 2 and len(missing) == len(known) - 2 and size > 0
    stored = json.loads(boundaries.boundary_path(tmp_data_dir).read_text())
    first = stored["features"][0]
    assert first["id"] == known[0] and first["properties"] == {"ward_code": known[0], "ward_name": "Dense"}
    ring = first["geometry"]["coordinates"][0]
    assert len(ring) <= 6
    assert all(round(v, boundaries.DECIMALS) == v for point in ring for v in point)


@pytest.mark.parametrize("collection, message", [
    ({"type": "Feature"}, "not a GeoJSON FeatureCollection"),
    ({"type": "FeatureCollection", "features": []}, "holds no features"),
    ({"type": "FeatureCollection", "features": [{"properties": {"LSOA21CD": "E01"}, "geometry": None}]}, "no ward code property"),
    ({"type": "FeatureCollection", "features": [_square("E05015507", "Abbey", 440000, 330000, 500)]}, "British National Grid"),
    ({"type": "FeatureCollection", "features": [_square("W05999999", "Elsewhere", 3, 51)]}, "none of its 1 wards"),
])
def test_unusable_boundary_files_are_refused_naming_the_file(tmp_data_dir, tmp_path, collection, message):
    source = tmp_path / "bad.geojson"
    source.write_text(json.dumps(collection))
    before = boundaries.boundary_path(tmp_data_dir).read_bytes()
    with pytest.raises(BoundaryError, match=message):
        boundaries.import_boundaries(source, tmp_data_dir)
    assert str(source) in str(pytest.raises(BoundaryError, boundaries.import_boundaries, source, tmp_data_dir).value)
    assert boundaries.boundary_path(tmp_data_dir).read_bytes() == before


def test_cli_import_boundaries_from_the_shipped_file(tmp_path):
    data = tmp_path / "data"
    copy_geography(data)
    result = subprocess.run([sys.executable, "app.py", "import", "boundaries", str(REPO / "data" / boundaries.BOUNDARY_FILE),
                             "--data-dir", str(data)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "wrote 176 ward boundaries" in result.stdout
    written = json.loads(boundaries.boundary_path(data).read_text())
    shipped = json.loads((REPO / "data" / boundaries.BOUNDARY_FILE).read_text())
    assert [f["id"] for f in written["features"]] == [f["id"] for f in shipped["features"]]


def test_a_file_that_is_not_geojson_is_refused_by_name(tmp_data_dir):
    with pytest.raises(BoundaryError, match="README.md: not valid GeoJSON"):
        boundaries.import_boundaries(REPO / "README.md", tmp_data_dir)


# --------------------------------------------------------------------------- figure


def test_figure_is_an_offline_choroplethmap_whose_clicks_name_the_neighbourhood(demo_store):
    wards = maps.ward_status(demo_store, **VIEW)
    shapes, missing = maps.csp_boundaries(demo_store, list(wards["ward_code"]))
    assert missing == []
    fig = map_card.map_figure(wards, shapes, "Chesterfield")
    assert fig.layout.map.style == "white-bg"
    choropleth = fig.data[0]
    assert choropleth.type == "choroplethmap" and len(choropleth.locations) == 16
    by_ward = dict(zip(choropleth.locations, (c[0] for c in choropleth.customdata)))
    assert by_ward["E05015179"] == "Chesterfield Town Centre"  # Spire ward
    markers = [t for t in fig.data if t.type == "scattermap" and len(t.lon)]
    assert [t.name for t in markers] == ["Large dot: above the upper line (1)"]
    assert markers[0].customdata[0][0] == "Chesterfield Town Centre"


def test_summary_and_table_say_what_the_map_shows(demo_store):
    wards = maps.ward_status(demo_store, **VIEW)
    text = map_card.text_summary(wards, "Chesterfield", "Shoplifting", OCT)
    assert text.startswith("Chesterfield, Shoplifting, October 2026: 13 neighbourhoods")
    assert "1 above the upper line (Chesterfield Town Centre: 20, expected 4.7)" in text
    table = map_card.map_table(wards, "caption")
    first_row = table.children[2].children[0].children
    assert first_row[0].children == "Chesterfield Town Centre" and first_row[5].children == "Above the upper line"


@pytest.mark.parametrize("click", [
    None, "x", {}, {"points": "x"}, {"points": []}, {"points": [None]}, {"points": [{"customdata": "Hasland"}]},
    {"points": [{"customdata": ["<script>"]}]}, {"points": [{"customdata": [["Hasland"]]}]},
])
def test_a_click_that_names_no_known_neighbourhood_gives_none(click):
    assert map_card.neighbourhood_from_click(click, ["Hasland"]) is None


def test_a_click_on_a_ward_gives_its_neighbourhood_and_chart_address():
    click = {"points": [{"location": "E05015179", "customdata": ["Chesterfield Town Centre", "Spire", "Above"]}]}
    assert map_card.neighbourhood_from_click(click, ["Chesterfield Town Centre"]) == "Chesterfield Town Centre"
    href = map_card.chart_href("crime", "Chesterfield", "Shoplifting", OCT, "pooled", 2.0, "Chesterfield Town Centre")
    assert href == "/?area=Chesterfield&measure=Shoplifting&month=2026-10&method=pooled&k=2&neighbourhood=Chesterfield+Town+Centre"
