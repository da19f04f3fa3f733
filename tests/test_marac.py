"""MARAC: repeats from case history, suppression that never leaks, and the importer's bad inputs."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import COUNTY_CSPS, COUNTY, CITY, REPO, copy_geography
from queries import annotations, cli, geography, marac
from queries.importers import marac as marac_importer
from queries.importers.common import ImportError_
from queries.store import Store, read_manifest

FIXTURES = Path(__file__).parent / "fixtures" / "marac"
THRESHOLD = 5
DERBYSHIRE = geography.areas(REPO / "data")
MARAC_AREAS = marac.marac_areas(DERBYSHIRE)


def history(*referrals: tuple[str, str]) -> pd.DataFrame:
    """Referrals (victim, date) in the order given, as the store holds them."""
    return pd.DataFrame(
        [(f"R{i:03d}", victim, pd.Timestamp(day).date()) for i, (victim, day) in enumerate(referrals)],
        columns=["record_id", "victim_id", "referral_date"],
    )


def repeats(*referrals: tuple[str, str]) -> dict[str, bool]:
    flagged = marac.flag_repeats(history(*referrals))
    return {f"{v} {pd.Timestamp(d):%Y-%m-%d}": bool(r)
            for v, d, r in zip(flagged["victim_id"], flagged["referral_date"], flagged["is_repeat"])}


# --------------------------------------------------------------------------- repeats


def test_referred_again_exactly_12_months_later_is_a_repeat_inclusive():
    assert repeats(("A", "2024-03-15"), ("A", "2025-03-15"))["A 2025-03-15"] is True


def test_referred_again_12_months_and_a_day_later_is_not_a_repeat():
    assert repeats(("B", "2024-03-15"), ("B", "2025-03-16"))["B 2025-03-16"] is False


def test_window_runs_from_the_most_recent_previous_referral_not_the_first():
    flags = repeats(("C", "2024-01-10"), ("C", "2024-06-01"), ("C", "2025-05-20"))
    assert flags == {"C 2024-01-10": False, "C 2024-06-01": True, "C 2025-05-20": True}


def test_a_repeat_outside_the_window_restarts_the_clock():
    flags = repeats(("D", "2022-01-01"), ("D", "2023-06-01"), ("D", "2024-05-31"), ("D", "2025-06-01"))
    assert list(flags.values()) == [False, False, True, False]


def test_leap_day_and_month_end_edges_follow_calendar_months():
    # 29 Feb 2024 + 12 months is 28 Feb 2025; 31 Jan + 12 months is 31 Jan.
    leap = repeats(("E", "2024-02-29"), ("E", "2025-02-28"), ("F", "2024-02-29"), ("F", "2025-03-01"))
    assert leap["E 2025-02-28"] is True and leap["F 2025-03-01"] is False
    month_end = repeats(("G", "2024-01-31"), ("G", "2025-01-31"), ("H", "2024-01-31"), ("H", "2025-02-01"))
    assert month_end["G 2025-01-31"] is True and month_end["H 2025-02-01"] is False


def test_first_referrals_and_other_victims_are_never_repeats():
    flags = repeats(("I", "2024-05-01"), ("J", "2024-05-02"), ("K", "2024-05-03"))
    assert not any(flags.values())


def test_imported_case_history_gives_repeats_and_ignores_a_repeat_column(tmp_data_dir):
    result, notes = marac_importer.import_files([FIXTURES / "referrals.csv"], tmp_data_dir)
    assert any("repeats are worked out from each victim's referral history" in n for n in notes)
    store = Store(tmp_data_dir)
    monthly = store.query(
        "SELECT strftime(month, '%Y-%m') AS m, measure, sum(count)::INT AS n FROM monthly "
        "WHERE dataset = 'marac' GROUP BY ALL"
    )
    repeat_months = monthly[monthly["measure"] == marac.REPEATS].set_index("m")["n"].to_dict()
    # C in 2024-06 and 2025-05 (from its last referral), D 2025-02-28 (leap day), A 2025-03-15 (exactly 12
    # months); not B 2025-03-16 nor D 2026-03-01, whatever the file's `repeat` column says.
    assert repeat_months == {"2024-06": 1, "2025-02": 1, "2025-03": 1, "2025-05": 1}
    cases = monthly[monthly["measure"] == marac.CASES]["n"].sum()
    police = monthly[monthly["measure"] == marac.POLICE]["n"].sum()
    assert (cases, police) == (12, 6)  # "Derbyshire Constabulary" is Police
    agencies = set(monthly.loc[monthly["measure"].str.startswith(marac.AGENCY_PREFIX), "measure"])
    assert f"{marac.AGENCY_PREFIX}Children's Social Care" in agencies  # curly apostrophe in the file


# --------------------------------------------------------------------------- protection


def test_a_small_part_of_a_shown_total_takes_its_smallest_neighbour_with_it():
    # 20 = 3 + 8 + 9: hiding only the 3 would leave it as 20 - 8 - 9.
    suppressed, primary = marac.protect(np.array([20, 3, 8, 9]), [(0, [1, 2, 3])], THRESHOLD)
    assert primary.tolist() == [False, True, False, False]
    assert suppressed.tolist() == [False, True, True, False]


def test_hidden_parts_of_a_shown_total_must_add_up_to_the_threshold():
    # 30 = 0 + 0 + 12 + 18: two hidden zeros would be known to be 0 (30 - 12 - 18).
    suppressed, _ = marac.protect(np.array([30, 0, 0, 12, 18]), [(0, [1, 2, 3, 4])], THRESHOLD)
    assert suppressed.tolist() == [False, True, True, True, False]


def test_a_small_cell_in_a_table_with_margins_is_protected_in_both_directions():
    # rows: a b | r1 ; c d | r2 ; column totals c1 c2 ; grand total g
    values = {"a": 3, "b": 20, "c": 30, "d": 40, "r1": 23, "r2": 70, "c1": 33, "c2": 60, "g": 93}
    names = list(values)
    index = {n: i for i, n in enumerate(names)}
    relations = [(index["r1"], [index["a"], index["b"]]), (index["r2"], [index["c"], index["d"]]),
                 (index["c1"], [index["a"], index["c"]]), (index["c2"], [index["b"], index["d"]]),
                 (index["g"], [index["r1"], index["r2"]]), (index["g"], [index["c1"], index["c2"]])]
    suppressed, primary = marac.protect(np.array(list(values.values())), relations, THRESHOLD)
    members = [np.array([t, *p]) for t, p in relations]
    assert suppressed[index["a"]]
    assert not (marac.disclosed(suppressed, members) & primary).any()
    assert attacker_by_subtraction(np.array(list(values.values())), suppressed, relations) == set()


def test_the_audit_finds_a_small_count_pinned_down_by_a_chain_of_sums():
    # x + y = 10, y + z = 14, x + z = 10: every sum hides two cells, yet x = 3 follows.
    values = np.array([3, 7, 7, 10, 14, 10])
    relations = [(3, [0, 1]), (4, [1, 2]), (5, [0, 2])]
    members = [np.array([t, *p]) for t, p in relations]
    hidden = np.array([True, True, True, False, False, False])
    assert marac.disclosed(hidden, members)[:3].all()
    suppressed, primary = marac.protect(values, relations, THRESHOLD)
    assert not (marac.disclosed(suppressed, members) & primary).any()


def attacker_by_subtraction(values: np.ndarray, suppressed: np.ndarray, relations) -> set[int]:
    """Cells an attacker recovers as (shown total) - (shown parts), repeated to a fixed point."""
    known = ~suppressed.copy()
    recovered: set[int] = set()
    changed = True
    while changed:
        changed = False
        for total, parts in relations:
            cells = [total, *parts]
            unknown = [c for c in cells if not known[c]]
            if len(unknown) == 1:
                known[unknown[0]] = True
                recovered.add(unknown[0])
                changed = True
    return {c for c in recovered if values[c] < THRESHOLD}


@pytest.fixture(scope="module")
def release(demo_store) -> marac.Release:
    return marac.release(demo_store, THRESHOLD)


def test_demo_release_hides_every_small_count_and_none_can_be_worked_out(release):
    cells = release.cells
    values = cells["value"].to_numpy()
    suppressed = cells["suppressed"].to_numpy()
    assert suppressed[values < THRESHOLD].all()
    members = [np.array([t, *p]) for t, p in release.relations]
    assert not (marac.disclosed(suppressed, members) & (values < THRESHOLD)).any()
    assert attacker_by_subtraction(values, suppressed, release.relations) == set()
    for total, parts in release.relations:  # a shown total never bounds its hidden parts below 5
        hidden = [p for p in parts if suppressed[p]]
        if hidden and not suppressed[total]:
            assert values[hidden].sum() >= THRESHOLD


def test_demo_release_sums_hold_so_the_protection_is_sound(release):
    values = release.cells["value"].to_numpy()
    for total, parts in release.relations:
        assert values[total] == values[parts].sum()
    force = release.cells[(release.cells["area"] == geography.FORCE) & (release.cells["measure"] == marac.CASES)]
    assert len(force) and not (release.cells["area"] == marac.ELSEWHERE).any()


def every_published_table(rel: marac.Release) -> list[pd.DataFrame]:
    population = marac.read_population(Path(__file__).resolve().parent.parent / "data")
    tables = []
    for period in marac.PERIOD_TYPES:
        tables.append(marac.split_table(rel, period, own=DERBYSHIRE))
        tables.append(marac.rate_table(rel, population, period))
        for area in MARAC_AREAS:
            tables.append(marac.period_table(rel, area, period))
            tables.append(marac.agency_table(rel, area, period))
            tables.append(marac.chart_export(marac.chart_table(rel, area, period)))
    return tables


def test_no_table_chart_or_export_shows_a_count_under_5(release):
    count_columns = 0
    for table in every_published_table(release):
        for column in table.columns:
            if "(%)" in column or "_pct" in column or "per 10,000" in column or "benchmark" in column.lower() \
                    or column.startswith("Adult females"):
                continue
            for value in table[column]:
                if isinstance(value, (int, np.integer)):
                    count_columns += 1
                    assert value >= THRESHOLD, f"{column}: {value}"
                elif isinstance(value, float) and not np.isnan(value):
                    raise AssertionError(f"{column}: a count as a float {value}")
    assert count_columns > 1000


def test_rates_show_only_where_both_figures_are_shown(release):
    for area, period in itertools.product(MARAC_AREAS, marac.PERIOD_TYPES):
        table = marac.period_table(release, area, period)
        hidden = (table[marac.CASES] == marac.SUPPRESSED) | (table[marac.REPEATS] == marac.SUPPRESSED)
        assert (table.loc[hidden, "Repeat rate (%)"] == marac.SUPPRESSED).all()
        chart = marac.chart_table(release, area, period)
        assert chart.loc[chart["repeats"].isna() | chart["cases"].isna(), "repeat_rate"].isna().all()


def test_city_and_county_add_up_to_the_force_where_all_are_shown(release):
    split = marac.split_table(release, marac.FINANCIAL, own=DERBYSHIRE)
    shown = split[(split[CITY] != marac.SUPPRESSED) & (split[COUNTY] != marac.SUPPRESSED)]
    assert len(shown)
    assert (shown[CITY] + shown[COUNTY] == shown[geography.FORCE]).all()


def test_a_tiny_import_is_all_suppressed_and_still_never_leaks(tmp_data_dir):
    marac_importer.import_files([FIXTURES / "referrals.csv"], tmp_data_dir)
    rel = marac.release(Store(tmp_data_dir), THRESHOLD)
    assert (rel.cells.loc[rel.cells["value"] < THRESHOLD, "suppressed"]).all()
    for table in every_published_table(rel):
        for column in table.columns:
            ints = [v for v in table[column] if isinstance(v, (int, np.integer))]
            if "(%)" not in column and "benchmark" not in column.lower() and not column.startswith("Adult"):
                assert all(v >= THRESHOLD for v in ints), column


def test_period_labels_say_when_a_period_is_not_complete():
    assert marac.period_label(marac.QUARTER, pd.Timestamp("2026-10-01"), 1) == "Oct-Dec 2026 (1 of 3 months)"
    assert marac.period_label(marac.FINANCIAL, pd.Timestamp("2025-04-01"), 12) == "2025/26"
    assert marac.period_label(marac.CALENDAR, pd.Timestamp("2026-01-01"), 10) == "2026 (10 of 12 months)"


def test_rate_per_10000_adult_females_is_annualised_against_40(release):
    population = pd.DataFrame({"area": MARAC_AREAS, "year": 2021, "adult_females": [400_000, 300_000, 100_000],
                               "source_note": "test"})
    table = marac.rate_table(release, population, marac.FINANCIAL)
    row = table[table["Area"] == geography.FORCE].iloc[-2]  # the last complete year
    assert row["Cases per 10,000 adult females a year"] == round(row[marac.CASES] / 400_000 * 10_000, 1)
    assert row["SafeLives benchmark"] == 40
    partial = table[table["Year"].str.contains(" of ")]
    assert partial["Note"].str.contains("annualised from").all()


# --------------------------------------------------------------------------- lookups


def test_population_file_reads_and_sums_the_county(tmp_path):
    copy_geography(tmp_path)
    (tmp_path / marac.POPULATION_FILE).write_text(
        "# comment\narea,adult_females,year,source_note\n" + "".join(f"{c},1000,2021,x\n" for c in COUNTY_CSPS)
        + "Derby City,500,2021,x\n")
    table = marac.read_population(tmp_path).set_index("area")["adult_females"]
    assert table.to_dict() == {geography.FORCE: 8500, COUNTY: 8000, CITY: 500}
    (tmp_path / marac.POPULATION_FILE).write_text("area,adult_females,year,source_note\nDerbyshire Dates,1,2021,x\n")
    with pytest.raises(marac.LookupFileError, match="line 2: unknown area 'Derbyshire Dates'"):
        marac.read_population(tmp_path)


def test_annotations_skip_bad_lines_with_a_reason_and_respect_scope(tmp_path):
    (tmp_path / annotations.ANNOTATIONS_FILE).write_text(
        "dataset,month,text,scope\nmarac,2022-04,Threshold change,demo\nmarac,2022-13,Bad month,\n"
        "marac,2023-01,New system,\nhate,2023-02,Other dataset,\n")
    demo, problems = annotations.read_annotations(tmp_path, "marac", synthetic=True)
    assert demo["text"].tolist() == ["Threshold change", "New system"]
    assert problems == ["annotations.csv line 3: month '2022-13' is not a month; line skipped"]
    real, _ = annotations.read_annotations(tmp_path, "marac", synthetic=False)
    assert real["text"].tolist() == ["New system"]


def test_the_shipped_annotation_marks_the_demo_threshold_change():
    from queries.demo.marac import MARAC_THRESHOLD_CHANGE

    notes, problems = annotations.read_annotations(Path(__file__).resolve().parent.parent / "data", "marac", synthetic=True)
    assert not problems
    assert pd.Timestamp(MARAC_THRESHOLD_CHANGE) in set(notes["month"])


# --------------------------------------------------------------------------- importer


def manifest_bytes(data_dir: Path) -> bytes:
    return (data_dir / "manifest.json").read_bytes()


@pytest.mark.parametrize(
    "name, message",
    [
        ("empty.csv", "empty.csv: the file is empty"),
        ("no-header.csv", "no-header.csv line 1: this is not the expected header (is the header row missing?)"),
        ("wrong-header.csv", "wrong-header.csv line 1: missing column(s) referral_date"),
        ("not-utf8.csv", "not-utf8.csv line 3: not utf-8"),
        ("unclosed-quote.csv", "unclosed-quote.csv line 3:"),
        ("no-such-file.csv", "no-such-file.csv: no such file"),
    ],
)
def test_file_problems_name_the_file_and_line_and_leave_the_store_unchanged(tmp_data_dir, name, message):
    before = manifest_bytes(tmp_data_dir)
    with pytest.raises(ImportError_) as err:
        marac_importer.import_files([FIXTURES / "referrals.csv", FIXTURES / name], tmp_data_dir)
    assert message in str(err.value)
    assert manifest_bytes(tmp_data_dir) == before
    assert not list((tmp_data_dir / "marac").glob(".staging-*"))


def test_cli_import_exits_non_zero_on_a_bad_file(tmp_data_dir, capsys):
    code = cli.main(["import", "marac", str(FIXTURES / "wrong-header.csv"), "--data-dir", str(tmp_data_dir)])
    assert code != 0
    assert "wrong-header.csv line 1: missing column(s) referral_date" in capsys.readouterr().err


def test_bad_rows_are_quarantined_with_reasons_and_nothing_is_lost(tmp_data_dir):
    # 10 of 14 rows are bad: over the mostly-rejected limit, so it publishes only when asked (issue 9).
    result, _ = marac_importer.import_files([FIXTURES / "referrals-bad-rows.csv"], tmp_data_dir, replace_smaller=True)
    recon = result.reconciliation
    data_lines = [line for line in (FIXTURES / "referrals-bad-rows.csv").read_text().splitlines()[1:] if line.strip()]
    assert recon["rows_read"].sum() == len(data_lines) == 14
    assert (recon["rows_read"] == recon[["loaded", "outside_area", "unallocated", "rejected"]].sum(axis=1)).all()
    assert (recon["loaded"].sum(), recon["rejected"].sum()) == (4, 10)
    quarantine = pd.read_csv(result.quarantine_file)
    reasons = dict(zip(quarantine["line"], quarantine["reason"]))
    assert "referral_date is not a date" in reasons[3]
    assert "unknown referring_agency; choose one of: Police" in reasons[4]
    assert "3 fields, expected 5" in reasons[5]
    assert "victim_id is blank" in reasons[7]
    assert "outside the force area" in reasons[8]
    assert "area_code is blank" in reasons[9]
    assert "duplicate referral_id (first at referrals-bad-rows.csv line 2)" in reasons[10]
    assert "in the future" in reasons[11]
    assert "area_code is not a ward" in reasons[12]
    assert "same victim is already referred" in reasons[14]
    # The quarantine never holds a victim id as given, only its pseudonym.
    assert not quarantine["raw"].str.contains("FAKE-[G-P],", regex=True).any()
    assert quarantine["raw"].str.contains(marac_importer.pseudonym("FAKE-I")).any()
    # Reasons quote nothing from the row (the Data tab lists them): no ids, dates, codes or agency text.
    for value in ("FAKE", "2025-02-30", "2025-01-", "2099", "Fire brigade", "XYZ", "E05000001"):
        assert not quarantine["reason"].str.contains(value).any(), value
    # A rejected row only in a month with nothing loaded (2099) adds no month to the store.
    months = Store(tmp_data_dir).query("SELECT month FROM coverage WHERE dataset = 'marac'")["month"]
    assert {f"{m:%Y-%m}" for m in pd.to_datetime(months)} == {"2025-01", "2025-02"}


def test_the_store_keeps_pseudonyms_never_the_victim_ids(tmp_data_dir):
    marac_importer.import_files([FIXTURES / "referrals.csv"], tmp_data_dir)
    rel = read_manifest(tmp_data_dir)["datasets"]["marac"]
    records = pd.read_parquet(tmp_data_dir / rel / "records.parquet")
    assert not records["victim_id"].str.startswith("FAKE").any()
    assert records["victim_id"].nunique() == 6


def test_reimporting_replaces_months_without_duplicates_and_refuses_known_ids(tmp_data_dir, tmp_path):
    marac_importer.import_files([FIXTURES / "referrals.csv"], tmp_data_dir)
    marac_importer.import_files([FIXTURES / "referrals.csv"], tmp_data_dir)
    store = Store(tmp_data_dir)
    total = store.query("SELECT sum(count) FROM monthly WHERE dataset = 'marac' AND measure = ?", [marac.CASES]).iat[0, 0]
    assert total == 12
    moved = tmp_path / "moved.csv"  # a known referral id, now dated in a month the store is not replacing
    moved.write_text("referral_id,victim_id,referral_date,area_code,referring_agency\n"
                     "FAKE-R001,FAKE-A,2025-07-01,E05015507,Police\nFAKE-R900,FAKE-Z,2025-07-02,E05015507,Police\n")
    result, _ = marac_importer.import_files([moved], tmp_data_dir)
    quarantine = pd.read_csv(result.quarantine_file)
    assert quarantine["reason"].str.contains("referral_id is already in the store for 2024-03").any()
