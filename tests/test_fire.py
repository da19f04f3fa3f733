"""Fire: the KPI as the fire service reports it, the measures, the IRS importer and the demo.

The KPI tests build incident records by hand and go through the store's own measure SQL,
so they pin the whole path from incidents to the brief's table. The importer tests run
on the real Avon IRS export (tests/fixtures/fire, byte-identical to the published file).
"""
from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import COUNTY, CITY, CSPS
from queries import fire, geography
from queries.demo import fire as demo_fire
from queries.importers import fire as irs
from queries.importers.common import ImportError_
from queries.store import Store, read_manifest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "fire"
AVON = FIXTURES / "avon-fire-irs-incidents-2014-07.csv"
AVON_AREAS = FIXTURES / "avon-areas.csv"
AVON_SHA256 = "daa401efebd693f3aca2001550ed7ec9091bf3aec9668511812478fc2b8af7ad"

# The brief's fire table, Q2 2015/16 ("North East" is North East Derbyshire).
BRIEF_FY, BRIEF_QUARTER = 2015, 2
BRIEF = {  # district: (incidents, target, target met?)
    "Amber Valley": (78, 61, False),
    "Bolsover": (106, 108, True),
    "Chesterfield": (66, 63, False),
    "Derby City": (216, 180, False),
    "Derbyshire Dales": (9, 13, True),
    "Erewash": (49, 52, True),
    "High Peak": (46, 37, False),
    "North East Derbyshire": (38, 36, False),
    "South Derbyshire": (39, 40, True),
}
BRIEF_UNALLOCATED = 3
BRIEF_TOTAL, BRIEF_TOTAL_TARGET, BRIEF_CHANGE = 650, 590, -20


# --------------------------------------------------------------------------- hand-built records


DERBYSHIRE = geography.areas(REPO / "data")  # the demo store's force, as the fire functions take it


@pytest.fixture(scope="module")
def areas() -> pd.DataFrame:
    return geography.ward_areas(REPO / "data")


def incidents(areas: pd.DataFrame, month: str, csp: str | None, n: int, *, category: str = fire.FIRE,
              deliberate: bool = True, fire_type: str | None = fire.PRIMARY, group: str | None = fire.BUILDING,
              day: int = 1) -> pd.DataFrame:
    """`n` incidents in `month`, spread over the CSP's wards (csp None: no known area)."""
    wards = [None] if csp is None else areas.loc[areas["csp"] == csp, "ward_code"].tolist()
    ward_codes = [wards[i % len(wards)] for i in range(n)]
    month_start = pd.Timestamp(month).date()
    is_fire = category == fire.FIRE
    return pd.DataFrame({
        "record_id": [f"T-{month}-{csp}-{category}-{deliberate}-{fire_type}-{group}-{day}-{i}" for i in range(n)],
        "month": month_start,
        "incident_date": month_start.replace(day=day),
        "incident_category": category,
        "fire_type": fire_type if is_fire else None,
        "cause": ("Deliberate – others property" if deliberate else "Accidental") if is_fire else None,
        "deliberate": deliberate and is_fire,
        "property_category": None,
        "property_type": None,
        "property_group": group if is_fire else None,
        "source_area": csp,
        "district": csp,
        "mapped_ward": ward_codes,
        "ward_code": ward_codes,
        "location": geography.IN_AREA if csp else geography.NO_LOCATION,
        "source_file": "hand-built",
        "source_line": pd.array([pd.NA] * n, dtype="Int64"),
    })[list(fire.RECORD_COLUMNS)]


def split_over_quarter(areas, fy: int, quarter: int, csp: str | None, n: int, **kwargs) -> list[pd.DataFrame]:
    """`n` incidents spread over the quarter's three months (so quarter sums are really sums)."""
    months = fire.quarter_months(fy, quarter)
    shares = [n // 3 + (1 if i < n % 3 else 0) for i in range(3)]
    return [incidents(areas, str(m.date()), csp, k, **kwargs) for m, k in zip(months, shares) if k]


def brief_records(areas: pd.DataFrame) -> pd.DataFrame:
    """Q2 2015/16 exactly as the brief (647 in districts + 3 unallocated = 650), Q2 2014/15 = 670,
    plus incidents that must not count: accidental fires and false alarms."""
    parts = []
    for csp, (count, _, _) in BRIEF.items():
        parts += split_over_quarter(areas, BRIEF_FY, BRIEF_QUARTER, csp, count,
                                    fire_type=fire.SECONDARY if count % 2 else fire.PRIMARY,
                                    group=fire.RUBBISH if count % 2 else fire.ROAD_VEHICLE)
        parts += split_over_quarter(areas, BRIEF_FY - 1, BRIEF_QUARTER, csp, count + 2)  # +18 over nine
        parts += split_over_quarter(areas, BRIEF_FY, BRIEF_QUARTER, csp, 5, deliberate=False)
        parts += split_over_quarter(areas, BRIEF_FY, BRIEF_QUARTER, csp, 7, category=fire.FALSE_ALARM)
    parts += split_over_quarter(areas, BRIEF_FY, BRIEF_QUARTER, None, BRIEF_UNALLOCATED)
    parts += split_over_quarter(areas, BRIEF_FY - 1, BRIEF_QUARTER, None, BRIEF_UNALLOCATED + 2)
    return pd.concat(parts, ignore_index=True)


def brief_targets(tmp_path: Path) -> pd.DataFrame:
    """The brief's targets through the real targets-file reader (with the service's 'North East')."""
    path = tmp_path / fire.TARGETS_FILE
    lines = ["district,financial_year,quarter,target", f"Force Area,2015/16,Q2,{BRIEF_TOTAL_TARGET}"]
    lines += [f"{'North East' if d == 'North East Derbyshire' else d},2015/16,Q2,{t}" for d, (_, t, _) in BRIEF.items()]
    path.write_text("\n".join(lines) + "\n")
    return fire.read_targets(path, DERBYSHIRE)


def held_quarters(*pairs: tuple[int, int]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.concatenate([fire.quarter_months(fy, q) for fy, q in pairs]))


def test_kpi_reproduces_the_brief_fire_table_from_records(areas, tmp_path):
    monthly = fire.monthly_from_records(brief_records(areas), areas)
    targets = brief_targets(tmp_path)
    held = held_quarters((BRIEF_FY - 1, BRIEF_QUARTER), (BRIEF_FY, BRIEF_QUARTER))

    kpi = fire.quarterly_kpi(monthly, targets, BRIEF_FY, BRIEF_QUARTER, held=held, own=DERBYSHIRE)
    assert kpi.descriptor == "KPM1.4 Deliberate Fires (Q2 2015/16)"
    assert (kpi.actual, kpi.target, kpi.met, kpi.direction) == (650, 590, False, "↓20")
    assert kpi.met_text == "✗ Not met"
    assert kpi.direction_text == "20 fewer than Q2 2014/15"

    table = fire.district_table(monthly, targets, BRIEF_FY, BRIEF_QUARTER, held=held, own=DERBYSHIRE).set_index("District")
    for district, (count, target, met) in BRIEF.items():
        row = table.loc[district]
        assert (row["Incidents"], row["Target"]) == (count, target), district
        assert row["Target Met?"] == ("✓ Met" if met else "✗ Not met"), district
    districts = table.loc[list(BRIEF), "Incidents"].sum()
    assert districts == 647  # "Districts sum to 647, not 650: unallocated incidents again"
    assert table.loc[geography.UNALLOCATED, "Incidents"] == BRIEF_UNALLOCATED
    assert table.loc[geography.UNALLOCATED, "Target Met?"] == ""  # counted in the total, judged nowhere
    assert table.loc[geography.FORCE, "Incidents"] == BRIEF_TOTAL
    assert table.loc[geography.FORCE, "Target"] == BRIEF_TOTAL_TARGET
    assert table.loc[geography.FORCE, "Target Met?"] == "✗ Not met"
    assert table.loc[geography.FORCE, "Direction of travel"] == "↓20"
    assert table.loc["Amber Valley", "Direction of travel"] == "↓2"
    assert list(table.index[:9]) == sorted(BRIEF)  # Derby City included, in the service's order


def test_target_is_met_when_incidents_equal_the_target(areas, tmp_path):
    records = pd.concat(split_over_quarter(areas, 2015, 2, "Bolsover", 108), ignore_index=True)
    monthly = fire.monthly_from_records(records, areas)
    kpi = fire.quarterly_kpi(monthly, brief_targets(tmp_path), 2015, 2, area="Bolsover", own=DERBYSHIRE)
    assert (kpi.actual, kpi.target, kpi.met, kpi.met_text) == (108, 108, True, "✓ Met")


def test_force_target_defaults_to_the_sum_of_district_targets_and_county_sums_its_eight(tmp_path):
    targets = brief_targets(tmp_path)
    without_force = targets[targets["district"] != geography.FORCE]
    assert fire.target_for(without_force, geography.FORCE, 2015, 2, own=DERBYSHIRE) == 590
    county = sum(t for d, (_, t, _) in BRIEF.items() if d != CITY)
    assert fire.target_for(targets, COUNTY, 2015, 2, own=DERBYSHIRE) == county
    assert fire.target_for(targets, "Bolsover", 2016, 2, own=DERBYSHIRE) is None  # no row: no target, never a guess
    assert fire.target_for(without_force[without_force["district"] != "Erewash"], geography.FORCE, 2015, 2, own=DERBYSHIRE) is None


def test_quarters_are_financial_year_quarters_starting_in_april():
    assert fire.quarter_of(pd.Timestamp("2015-04-01")) == (2015, 1)
    assert fire.quarter_of(pd.Timestamp("2015-06-30")) == (2015, 1)
    assert fire.quarter_of(pd.Timestamp("2015-07-01")) == (2015, 2)
    assert fire.quarter_of(pd.Timestamp("2015-12-31")) == (2015, 3)
    assert fire.quarter_of(pd.Timestamp("2016-01-01")) == (2015, 4)
    assert fire.quarter_of(pd.Timestamp("2016-03-31")) == (2015, 4)
    assert list(fire.quarter_months(2015, 4).strftime("%Y-%m")) == ["2016-01", "2016-02", "2016-03"]
    assert fire.quarter_label(2015, 2) == "Q2 2015/16"
    for text in ("2015-Q2", "2015Q2", "2015/16 Q2", "Q2 2015/16", "q2 2015"):
        assert fire.parse_quarter(text) == (2015, 2), text
    with pytest.raises(ValueError, match="not like 2015-Q2"):
        fire.parse_quarter("2015-Q5")


def test_incidents_either_side_of_a_quarter_boundary_count_in_their_own_quarter(areas):
    records = pd.concat([
        incidents(areas, "2015-06-01", "Erewash", 4, day=30),  # last day of Q1
        incidents(areas, "2015-07-01", "Erewash", 6, day=1),  # first day of Q2
        incidents(areas, "2016-03-01", "Erewash", 2, day=31),  # last day of Q4 (next calendar year)
        incidents(areas, "2016-04-01", "Erewash", 9, day=1),  # first day of 2016/17
    ], ignore_index=True)
    monthly = fire.monthly_from_records(records, areas)
    empty = fire.empty_targets()
    assert fire.quarterly_kpi(monthly, empty, 2015, 1, "Erewash", own=DERBYSHIRE).actual == 4
    assert fire.quarterly_kpi(monthly, empty, 2015, 2, "Erewash", own=DERBYSHIRE).actual == 6
    assert fire.quarterly_kpi(monthly, empty, 2015, 4, "Erewash", own=DERBYSHIRE).actual == 2
    assert fire.quarterly_kpi(monthly, empty, 2016, 1, "Erewash", own=DERBYSHIRE).actual == 9


def test_direction_of_travel_reads_as_the_count_change_against_the_same_quarter_last_year(areas):
    assert [fire.direction_label(c) for c in (-20, 5, 0, None)] == ["↓20", "↑5", "↔0", "n/a"]
    records = pd.concat(
        split_over_quarter(areas, 2014, 3, "High Peak", 40) + split_over_quarter(areas, 2015, 3, "High Peak", 45)
        + split_over_quarter(areas, 2015, 2, "High Peak", 99),  # a different quarter: not the comparison
        ignore_index=True)
    monthly = fire.monthly_from_records(records, areas)
    both = held_quarters((2014, 3), (2015, 2), (2015, 3))
    kpi = fire.quarterly_kpi(monthly, fire.empty_targets(), 2015, 3, "High Peak", held=both, own=DERBYSHIRE)
    assert (kpi.previous, kpi.change, kpi.direction, kpi.direction_text) == (40, 5, "↑5", "5 more than Q3 2014/15")
    # Last year's quarter not held: no arrow, rather than an arrow against a zero that is really missing.
    kpi = fire.quarterly_kpi(monthly, fire.empty_targets(), 2015, 3, "High Peak", held=held_quarters((2015, 3)), own=DERBYSHIRE)
    assert (kpi.previous, kpi.direction) == (None, "n/a")
    assert "not held" in kpi.direction_text


def test_a_partly_held_quarter_is_reported_but_not_judged(areas, tmp_path):
    records = incidents(areas, "2015-07-01", "Bolsover", 10)  # the store holds July only
    monthly = fire.monthly_from_records(records, areas)
    held = pd.DatetimeIndex(["2015-07-01"])
    kpi = fire.quarterly_kpi(monthly, brief_targets(tmp_path), 2015, 2, "Bolsover", held=held, own=DERBYSHIRE)
    assert (kpi.actual, kpi.months_held, kpi.complete, kpi.met) == (10, 1, False, None)
    table = fire.district_table(monthly, brief_targets(tmp_path), 2015, 2, held=held, own=DERBYSHIRE).set_index("District")
    assert table.loc["Bolsover", "Target Met?"] == "Quarter incomplete"


def test_road_vehicle_share_and_secondary_split_from_records(areas):
    month = "2015-08-01"
    records = pd.concat([
        incidents(areas, month, "Derby City", 38, group=fire.ROAD_VEHICLE),
        incidents(areas, month, "Derby City", 55, group=fire.BUILDING),
        incidents(areas, month, "Derby City", 7, group=fire.OTHER_PRIMARY),
        incidents(areas, month, "Derby City", 20, deliberate=False, group=fire.ROAD_VEHICLE),  # accidental: not counted
        incidents(areas, month, "Erewash", 11, fire_type=fire.SECONDARY, group=fire.RUBBISH),
        incidents(areas, month, "Erewash", 6, fire_type=fire.SECONDARY, group=fire.VEGETATION),
        incidents(areas, month, "Erewash", 2, fire_type=fire.SECONDARY, group=fire.OTHER_OUTDOOR),
        incidents(areas, month, None, 1, fire_type=fire.SECONDARY, group=fire.RUBBISH),
    ], ignore_index=True)
    monthly = fire.monthly_from_records(records, areas)
    months = fire.quarter_months(2015, 2)
    share = fire.road_vehicle_share(monthly, months, own=DERBYSHIRE).set_index("Area")
    assert share.loc["Derby City", ["Deliberate primary fires", "Road vehicles", "Road vehicle share (%)"]].tolist() == [100, 38, 38.0]
    assert np.isnan(share.loc["Erewash", "Road vehicle share (%)"])  # no primary fires: no share, not 0%
    split = fire.secondary_split(monthly, months, own=DERBYSHIRE).set_index("Area")
    assert split.loc["Erewash", list(fire.SECONDARY_GROUPS) + ["Total"]].tolist() == [11, 6, 2, 19]
    assert split.loc[geography.FORCE, "Total"] == 20
    assert (split[list(fire.SECONDARY_GROUPS)].sum(axis=1) == split["Total"]).all()


def test_property_groups_follow_the_irs_property_fields():
    rows = pd.DataFrame([
        (fire.PRIMARY, "RoadVehicle", "Road Vehicle > Car", fire.ROAD_VEHICLE),
        (fire.PRIMARY, "Dwelling", "Building > Dwelling > House - single occupancy", fire.BUILDING),
        (fire.PRIMARY, "OutdoorStructure", "Outdoor > Outdoor structures > Fence", fire.OTHER_PRIMARY),
        (fire.SECONDARY, "Outdoor", "Outdoor > Other outdoors (including land) > Loose refuse (incl in garden)", fire.RUBBISH),
        (fire.SECONDARY, "OutdoorStructure", "Outdoor > Outdoor structures > Wheelie bin", fire.RUBBISH),
        (fire.SECONDARY, "Outdoor", "Outdoor > Grassland, woodland and crops > Private/Domestic garden/allotment "
                                    "(vegetation not equipment/building)", fire.VEGETATION),
        (fire.SECONDARY, "Outdoor", "Outdoor > Other outdoors (including land) > Wasteland", fire.OTHER_OUTDOOR),
        (None, "Dwelling", "Building > Dwelling", None),
    ], columns=["fire_type", "category", "type", "expected"])
    got = fire.property_groups(rows["fire_type"], rows["category"], rows["type"])
    assert got.fillna("none").tolist() == rows["expected"].fillna("none").tolist()
    causes = pd.Series(["Deliberate – others property", "deliberate - own property", "Accidental", None, "Not known"])
    assert fire.is_deliberate(causes).tolist() == [True, True, False, False, False]


def test_targets_file_in_the_repo_covers_the_brief_and_every_demo_quarter():
    targets = fire.targets(REPO / "data")
    brief = targets[(targets["fy"] == 2015) & (targets["quarter"] == 2)].set_index("district")["target"]
    assert brief[geography.FORCE] == 590
    assert {d: brief[d] for d in BRIEF} == {d: t for d, (_, t, _) in BRIEF.items()}
    demo_quarters = {fire.quarter_of(m) for m in pd.date_range("2020-04-01", "2026-10-01", freq="MS")}
    for fy, quarter in demo_quarters:
        assert fire.target_for(targets, geography.FORCE, fy, quarter, own=DERBYSHIRE) is not None, (fy, quarter)
        assert all(fire.target_for(targets, d, fy, quarter, own=DERBYSHIRE) is not None for d in CSPS)


@pytest.mark.parametrize("body, message", [
    ("district,quarter,target\nBolsover,Q2,3\n", "line 1: missing column(s) financial_year"),
    ("district,financial_year,quarter,target\nBolsover,2015/16,Q2,3\nBolsovr,2015/16,Q2,4\n", "line 3: unknown district 'Bolsovr'"),
    ("district,financial_year,quarter,target\nBolsover,15/16,Q2,3\n", "line 2: financial_year '15/16'"),
    ("district,financial_year,quarter,target\nBolsover,2015/16,Q5,3\n", "line 2: quarter 'Q5'"),
    ("district,financial_year,quarter,target\nBolsover,2015/16,Q2,-1\n", "line 2: target '-1'"),
    ("district,financial_year,quarter,target\nBolsover,2015/16,Q2,3\nBolsover,2015,2,4\n", "line 3: a second target"),
])
def test_a_bad_targets_file_names_its_line(tmp_path, body, message):
    path = tmp_path / fire.TARGETS_FILE
    path.write_text(body)
    with pytest.raises(fire.TargetsError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        fire.read_targets(path, DERBYSHIRE)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------- the IRS importer


def _store_state(data_dir: Path) -> tuple[bytes, list[str]]:
    """What a failed import must leave alone: the manifest bytes and the fire versions on disk."""
    return (data_dir / "manifest.json").read_bytes(), sorted(p.name for p in (data_dir / "fire").iterdir())


def _fire_counts(data_dir: Path) -> dict[str, int]:
    store = Store(data_dir)
    frame = store.query("SELECT measure, sum(count)::BIGINT AS n FROM monthly WHERE dataset = 'fire' GROUP BY ALL")
    return dict(zip(frame["measure"], frame["n"]))


def test_the_avon_fixture_is_the_published_file_unchanged():
    assert hashlib.sha256(AVON.read_bytes()).hexdigest() == AVON_SHA256
    with pytest.raises(UnicodeDecodeError):
        AVON.read_bytes().decode("utf-8")  # really cp1252: 'Deliberate – ...' has byte 0x96


def test_importing_the_real_avon_export_gives_exactly_344_fires(tmp_data_dir):
    outcome = irs.run_import([AVON], tmp_data_dir, AVON_AREAS)
    counts = _fire_counts(tmp_data_dir)
    assert counts[fire.ALL_FIRES] == 344
    assert counts[fire.PRIMARY_FIRES] == 136
    assert counts[fire.SECONDARY_FIRES] == 208
    assert counts[fire.DELIBERATE_FIRES] == 208  # 113 others' property + 83 unknown owner + 12 own property
    assert counts[fire.DELIBERATE_PRIMARY] + counts[fire.DELIBERATE_SECONDARY] == counts[fire.DELIBERATE_FIRES]
    assert sum(counts[m] for m in fire.DELIBERATE_SECONDARY_BY_GROUP.values()) == counts[fire.DELIBERATE_SECONDARY]
    # Every row is kept: 344 fires + 523 false alarms + 217 special services.
    assert outcome.records["incident_category"].value_counts().to_dict() == {
        fire.FALSE_ALARM: 523, fire.FIRE: 344, fire.SPECIAL_SERVICE: 217}
    recon = outcome.reconciliation
    assert recon[["rows_read", "loaded", "outside_area", "unallocated", "rejected"]].iloc[0].tolist() == [1084, 0, 1084, 0, 0]
    assert recon["month"].tolist() == [date(2014, 7, 1)]
    store = Store(tmp_data_dir)
    stored = store.query("SELECT * FROM fire_reconciliation")
    assert (stored["rows_read"] == stored[["loaded", "outside_area", "unallocated", "rejected"]].sum(axis=1)).all()
    # Another service's areas: outside the force area, their mapped district kept per record.
    by_district = outcome.records["district"].value_counts().to_dict()
    assert by_district == {"Bristol": 525, "South Gloucestershire": 253, "Bath and North East Somerset": 156,
                           "North Somerset": 150}
    assert outcome.records["ward_code"].isna().all()
    assert list(outcome.records.columns) == list(fire.RECORD_COLUMNS)
    assert outcome.result.replaced_synthetic
    assert not store.is_synthetic("fire")


def test_unmapped_areas_are_counted_and_reported_never_dropped(tmp_data_dir, tmp_path, capsys):
    areas = pd.read_csv(AVON_AREAS, dtype=str, keep_default_na=False)
    partial = tmp_path / "areas-without-banes.csv"
    areas[areas["Unitary Authority"] != "BANES"].to_csv(partial, index=False)
    outcome = irs.run_import([AVON], tmp_data_dir, partial)
    recon = outcome.reconciliation.iloc[0]
    assert (recon["rows_read"], recon["outside_area"], recon["unallocated"]) == (1084, 928, 156)
    assert outcome.unmapped.sum() == 156
    assert outcome.unmapped.index.str.startswith("BANES / ").all()
    assert _fire_counts(tmp_data_dir)[fire.ALL_FIRES] == 344  # still in the Force Area total
    irs.report(outcome, __import__("sys").stdout)
    assert "unmapped areas, counted as 'No known area' (156 incidents): BANES / " in capsys.readouterr().out


def test_the_same_export_in_utf8_imports_identically(tmp_data_dir, tmp_path):
    utf8 = tmp_path / "avon-utf8.csv"
    utf8.write_bytes(b"\xef\xbb\xbf" + AVON.read_bytes().decode("cp1252").encode("utf-8"))
    outcome = irs.run_import([utf8], tmp_data_dir, AVON_AREAS)
    assert outcome.parsed[0].encoding == "utf-8"
    assert int(outcome.records["deliberate"].sum()) == 208
    assert outcome.records["cause"].str.contains("–").any()  # the en dash survived both decodings


def test_a_mapping_to_derbyshire_wards_places_incidents_in_their_district(tmp_data_dir, tmp_path, areas):
    chesterfield = areas[areas["csp"] == "Chesterfield"].iloc[0]
    mapping = tmp_path / "areas.csv"
    pd.DataFrame([
        {"District": "CHESTERFIELD", "Ward": chesterfield["ward_name"].upper(), "district": "Chesterfield",
         "ward_code": chesterfield["ward_code"], "ward_name": ""},
        {"District": "SHEFFIELD", "Ward": "", "district": "Sheffield", "ward_code": "", "ward_name": ""},  # any ward
    ]).to_csv(mapping, index=False)
    export = tmp_path / "derbyshire.csv"
    pd.DataFrame([
        ["A1", 3, "Aug", 2015, "Fire", "yes", "Deliberate – others property", "RoadVehicle", "Road Vehicle > Car",
         "Chesterfield", chesterfield["ward_name"]],
        ["A2", 4, 8, 2015, "Fire", "no", "Deliberate – unknown owner", "Outdoor",
         "Outdoor > Grassland, woodland and crops > Hedge", "Sheffield", "Darnall"],
        ["A3", 5, "August", 2015, "Fire", "no", "Accidental", "Outdoor",
         "Outdoor > Other outdoors (including land) > Wasteland", "", ""],
    ], columns=list(irs.REQUIRED_COLUMNS) + ["District", "Ward"]).to_csv(export, index=False)
    outcome = irs.run_import([export], tmp_data_dir, mapping)
    placed = outcome.records.set_index("record_id")
    assert placed.loc["A1", ["location", "district", "ward_code"]].tolist() == [
        geography.IN_AREA, "Chesterfield", chesterfield["ward_code"]]
    assert placed.loc["A2", ["location", "district", "property_group"]].tolist() == [
        geography.OUTSIDE_AREA, "Sheffield", fire.VEGETATION]
    assert placed.loc["A3", "location"] == geography.NO_LOCATION
    store = Store(tmp_data_dir)
    in_chesterfield = store.query(
        "SELECT sum(count) AS n FROM monthly WHERE dataset = 'fire' AND measure = ? AND csp = 'Chesterfield'",
        [fire.DELIBERATE_ROAD_VEHICLES])["n"].iloc[0]
    assert in_chesterfield == 1


@pytest.mark.parametrize("mapping, message", [
    ("Unitary Authority,Ward,district,ward_code\nBRISTOL,ABBEY,Chesterfield,E00000000\n", "line 2: Chesterfield is a CSP of Derbyshire Constabulary"),
    ("Unitary Authority,Ward,district,ward_code\nBRISTOL,ABBEY,Bristol,\nBRISTOL,abbey,Bristol,\n", "line 3: BRISTOL / ABBEY is mapped twice"),
    ("Unitary Authority,Ward,place\nBRISTOL,ABBEY,Bristol\n", "line 1: the area mapping needs columns district and ward_code"),
    ("Station,district,ward_code\nBLUE WATCH,Bristol,\n", "matches on 'Station', which this export does not have"),
    ("", "the area mapping file is empty"),
])
def test_a_bad_area_mapping_is_refused_with_its_line(tmp_data_dir, tmp_path, mapping, message):
    path = tmp_path / "areas.csv"
    path.write_text(mapping)
    before = _store_state(tmp_data_dir)
    with pytest.raises(ImportError_, match=message) as info:
        irs.run_import([AVON], tmp_data_dir, path)
    assert "areas.csv" in str(info.value)
    assert _store_state(tmp_data_dir) == before


def _avon_text() -> str:
    return AVON.read_bytes().decode("cp1252")


def _write(path: Path, text: str, encoding: str = "cp1252") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _lines() -> list[str]:
    return _avon_text().split("\r\n")


# Whole-file problems: the import stops, names the file (and line), and writes nothing.
FILE_PROBLEMS = {
    "empty file": (lambda: b"", "the file is empty"),
    "header only": (lambda: (_lines()[0] + "\r\n").encode("cp1252"), "the file has a header but no incidents"),
    "missing header": (lambda: "\r\n".join(_lines()[1:]).encode("cp1252"), "line 1: not an IRS incident export header"),
    "wrong header (a police.uk file)": (
        lambda: b"Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type\n"
                b"abc,2014-07,Derbyshire,Derbyshire,1,2,On or near,E01,Derby 1,Shoplifting\n",
        "line 1: not an IRS incident export header"),
    "a required column renamed": (
        lambda: _avon_text().replace("Cause of Fire", "Fire Cause", 1).encode("cp1252"), "the header lacks 'Cause of Fire'"),
    "bad encoding": (
        lambda: _avon_text().encode("cp1252").replace(b"ABBEY", b"ABB\x81Y", 1), "line 2: the text is neither UTF-8 nor Windows-1252"),
    "binary file": (lambda: b"PK\x03\x04\x00\x00" + b"\x00" * 100, "not a text file"),
}


@pytest.mark.parametrize("case", list(FILE_PROBLEMS))
def test_whole_file_problems_stop_the_import_and_leave_the_store_unchanged(tmp_data_dir, tmp_path, case):
    make, message = FILE_PROBLEMS[case]
    bad = tmp_path / "bad-export.csv"
    bad.write_bytes(make())
    before = _store_state(tmp_data_dir)
    with pytest.raises(ImportError_, match=message) as info:
        irs.run_import([AVON, bad], tmp_data_dir, AVON_AREAS)  # the good file is not imported either
    assert str(bad) in str(info.value)
    assert "nothing was imported" in str(info.value)
    assert _store_state(tmp_data_dir) == before
    assert not (tmp_data_dir / "fire" / "quarantine.csv").exists()


def test_bad_rows_are_quarantined_with_file_line_and_reason_and_nothing_is_lost(tmp_data_dir, tmp_path):
    lines = _lines()
    header, rows = lines[0], [line for line in lines[1:] if line]
    fields = len(header.split(","))
    bad = {
        3: rows[1].replace("1,July,2014", "1,Juyl,2014", 1),  # unparseable month
        4: "31,June,2014" + rows[2][rows[2].index(",July,2014") + len(",July,2014"):],  # not a date
        5: rows[3].replace(",Fire,", ",Fyre,", 1) if ",Fire," in rows[3] else rows[3].replace(",False Alarm,", ",Fyre,", 1),
        6: rows[0],  # duplicate Incident Number of line 2
    }
    body = [header, rows[0], bad[3], bad[4], bad[5], bad[6]] + rows[4:]
    truncated = rows[-1][: len(rows[-1]) // 3]  # the last line cut off mid-row
    body[-1] = truncated
    export = _write(tmp_path / "avon-damaged.csv", "\r\n".join(body) + "\r\n")
    outcome = irs.run_import([export], tmp_data_dir, AVON_AREAS)

    rejected = outcome.rejected.set_index("line")
    assert sorted(rejected.index) == [3, 4, 5, 6, len(body)]
    assert "unparseable Day/Month/Year: Month 'Juyl'" in rejected.loc[3, "reason"]
    assert "is not a date" in rejected.loc[4, "reason"]
    assert "unknown Incident Category 'Fyre'" in rejected.loc[5, "reason"]
    assert "duplicate Incident Number" in rejected.loc[6, "reason"] and "line 2" in rejected.loc[6, "reason"]
    assert f"where the header has {fields} (truncated" in rejected.loc[len(body), "reason"]
    assert rejected.loc[len(body), "raw"] == truncated  # the raw text, for someone to fix
    # 1,085 rows read (the file's 1,084 plus the duplicate): 1,080 loaded (outside the force area) + 5 rejected;
    # rows with no readable date count under no month.
    recon = outcome.reconciliation
    assert int(recon["rows_read"].sum()) == 1085
    assert int(recon["rejected"].sum()) == 5 and int(recon["outside_area"].sum()) == 1080
    assert (recon["rows_read"] == recon[["loaded", "outside_area", "unallocated", "rejected"]].sum(axis=1)).all()
    assert recon["month"].isna().sum() == 1  # Juyl, 31 June and the truncated line have no month
    assert int(recon.loc[recon["month"].isna(), "rejected"].iloc[0]) == 3
    quarantine = pd.read_csv(tmp_data_dir / "fire" / "quarantine.csv")
    assert len(quarantine) == 5 and set(quarantine["file"]) == {"avon-damaged.csv"}


def test_a_mostly_unreadable_file_is_refused_whole(tmp_data_dir, tmp_path):
    lines = _lines()
    body = [lines[0]] + [line.replace(",July,", ",Jly,", 1) for line in lines[1:200]] + lines[200:]
    export = _write(tmp_path / "avon-bad-months.csv", "\r\n".join(body))
    before = _store_state(tmp_data_dir)
    with pytest.raises(ImportError_, match=r"avon-bad-months.csv: 199 of 1,084 rows cannot be read"):
        irs.run_import([export], tmp_data_dir, AVON_AREAS)
    assert _store_state(tmp_data_dir) == before


def test_forcing_the_wrong_encoding_says_which_option_to_use(tmp_data_dir):
    with pytest.raises(ImportError_, match=r"line 5: the text is not UTF-8 \(byte 0x96 .*try --encoding auto"):
        irs.run_import([AVON], tmp_data_dir, AVON_AREAS, encoding="utf-8")


def test_reimporting_a_month_replaces_it_without_duplicates(tmp_data_dir):
    irs.run_import([AVON], tmp_data_dir, AVON_AREAS)
    irs.run_import([AVON], tmp_data_dir, AVON_AREAS)
    assert _fire_counts(tmp_data_dir)[fire.ALL_FIRES] == 344


def test_the_cli_imports_and_reports_the_reconciliation(tmp_data_dir, capsys):
    from queries import cli

    code = cli.main(["import", "fire", str(AVON), "--areas", str(AVON_AREAS), "--data-dir", str(tmp_data_dir)])
    out = capsys.readouterr().out
    assert code == 0
    assert "344 fires (136 primary, 208 secondary; 208 deliberate), 523 false alarms, 217 special services" in out
    assert "1,084" in out
    code = cli.main(["import", "fire", str(AVON), "--data-dir", str(tmp_data_dir)])  # no mapping given, none in the store
    err = capsys.readouterr().err
    assert code == 2 and "fire-areas.csv: no such area mapping file" in err and "store was not changed" in err


# --------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo_records(tmp_path_factory) -> pd.DataFrame:
    data_dir = tmp_path_factory.mktemp("fire-demo")
    shutil.copytree(REPO / "data" / "geography", data_dir / "geography")
    return demo_fire.fire_records(data_dir, np.random.default_rng(20142))


def test_demo_records_follow_the_schema_and_the_briefs_volumes(demo_records, areas):
    assert list(demo_records.columns) == list(fire.RECORD_COLUMNS)
    monthly = fire.monthly_from_records(demo_records, areas)
    deliberate = monthly[monthly["measure"] == fire.DELIBERATE_FIRES]
    keys = [fire.quarter_key(*fire.quarter_of(m)) for m in pd.to_datetime(deliberate["month"])]
    quarters = deliberate.groupby(keys)["count"].sum()
    assert 560 <= quarters.loc[[f"2025-Q{q}" for q in (1, 2, 3, 4)]].mean() <= 740  # ~650 a quarter force-wide
    totals = monthly.groupby("measure")["count"].sum()
    share = totals[fire.DELIBERATE_ROAD_VEHICLES] / totals[fire.DELIBERATE_PRIMARY]
    assert 0.35 <= share <= 0.41  # "38% of deliberate primary fires had involved road vehicles"
    unallocated = deliberate[deliberate["location"] == geography.NO_LOCATION]["count"].sum() / len(quarters)
    assert 1 <= unallocated <= 6  # a few a quarter, as the brief's 650 - 647


def test_demo_is_deterministic(demo_records, tmp_path):
    shutil.copytree(REPO / "data" / "geography", tmp_path / "geography")
    again = demo_fire.fire_records(tmp_path, np.random.default_rng(20142))
    pd.testing.assert_frame_equal(demo_records, again)


def test_docs_describe_every_records_column():
    text = (REPO / "docs" / "fire.md").read_text()
    schema = text[text.index("## Records schema"):]
    missing = [c for c in fire.RECORD_COLUMNS if f"| `{c}` |" not in schema]
    assert not missing, f"docs/fire.md lacks {missing}"


def test_demo_store_holds_every_fire_measure(demo_store):
    names = set(demo_store.query("SELECT DISTINCT measure FROM monthly WHERE dataset = 'fire'")["measure"])
    assert names == set(fire.MEASURE_CONDITIONS)
    assert read_manifest(demo_store.data_dir)["synthetic"]["fire"] is True
