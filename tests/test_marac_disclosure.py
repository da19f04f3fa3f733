"""MARAC disclosure across releases: complete periods only, an append-only ledger, never revised,
and an audit (exact and interval, over the whole ledger) that catches the differencing the
tables published before gave away."""
from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from queries import marac, marac_audit, marac_ledger, statedb
from queries.settings import DEFAULT_SUPPRESS_BELOW as THRESHOLD


@pytest.fixture(scope="module")
def monthly_and_held(demo_store):
    monthly = demo_store.query(
        "SELECT measure, month, coalesce(parent, ?) AS area, sum(count)::BIGINT AS count "
        "FROM monthly WHERE dataset = 'marac' GROUP BY ALL", [marac.ELSEWHERE])
    held = pd.DatetimeIndex(pd.to_datetime(
        demo_store.query("SELECT DISTINCT month FROM coverage WHERE dataset = 'marac' ORDER BY month")["month"]))
    return monthly.assign(month=pd.to_datetime(monthly["month"])), held


# Ledger tests use the last eighteen months of the demo store: the same figures, a quicker audit.
RECENT = "2025-04-01"


def _recent(monthly_and_held):
    monthly, held = monthly_and_held
    held = held[held >= RECENT]
    return monthly[monthly["month"].isin(held)], held


def _true_count(monthly: pd.DataFrame, area: str, measure: str, months) -> int:
    rows = monthly[(monthly["measure"] == measure) & monthly["month"].isin(list(months))]
    if area != "Force Area":
        rows = rows[rows["area"] == area]
    return int(rows["count"].sum())


def test_audit_catches_calendar_minus_financial_year_differencing_in_the_tables_published_before(monthly_and_held):
    monthly, held = monthly_and_held
    # The "Referrals by agency" tables as published before: calendar and financial years, part years included.
    before = marac.build_release(monthly, held, THRESHOLD, periods=(marac.CALENDAR, marac.FINANCIAL), complete_only=False)
    result = marac_audit.audit([marac_audit.published(before)], THRESHOLD)
    assert not result.ok
    recovered = result.derived
    assert len(recovered) >= 14
    # Every count the audit says a reader can work out is the true count, and under 5.
    for row in recovered.itertuples():
        assert row.value == _true_count(monthly, row.area, row.measure, row.months) < THRESHOLD
    # The examples: Jan-Mar 2026 = calendar 2026 (10 of 12 months) - 2026/27 (7 of 12).
    jan_mar_2026 = tuple(pd.date_range("2026-01-01", periods=3, freq="MS"))
    found = {(r.area, r.measure): r.value for r in recovered.itertuples() if r.months == jan_mar_2026}
    assert found[("Derby City", marac.AGENCY_PREFIX + "Adult Social Care")] == 1
    assert found[("Force Area", marac.AGENCY_PREFIX + "Substance misuse")] == 4
    # And hidden cells pinned to a narrow range by linear programming, not exactly.
    narrow = result.narrow
    assert len(narrow) and ((narrow["upper"] - narrow["lower"]) > 0).any()


def test_audit_catches_part_years_growing_by_one_month_between_two_monthly_releases(monthly_and_held):
    monthly, held = _recent(monthly_and_held)
    before = []
    for last in ("2026-09-01", "2026-10-01"):  # the September and October stores, as published before
        months = held[held <= last]
        rel = marac.build_release(monthly[monthly["month"].isin(months)], months, THRESHOLD,
                                  periods=(marac.FINANCIAL,), complete_only=False)
        before.append(marac_audit.published(rel))
    recovered = marac_audit.audit(before, THRESHOLD).derived
    october = {(r.area, r.measure): r.value for r in recovered.itertuples() if r.months == (pd.Timestamp("2026-10-01"),)}
    # The example: Force Area, Adult Social Care, October = 15 - 14 = 1.
    assert october[("Force Area", marac.AGENCY_PREFIX + "Adult Social Care")] == 1
    for (area, measure), value in october.items():
        assert value == _true_count(monthly, area, measure, [pd.Timestamp("2026-10-01")]) < THRESHOLD


def test_released_tables_hold_only_complete_quarters_and_financial_years(monthly_and_held):
    monthly, held = monthly_and_held
    rel = marac.build_release(monthly, held, THRESHOLD)
    assert set(rel.cells["period_type"]) == {marac.QUARTER, marac.FINANCIAL}
    assert (rel.cells["months_held"] == rel.cells["months_in_period"]).all()
    assert not rel.cells["label"].str.contains("of 12 months|of 3 months").any()


def test_ledger_of_two_successive_monthly_stores_passes_the_audit_and_never_revises(monthly_and_held, tmp_path):
    monthly, held = _recent(monthly_and_held)
    # Two monthly stores: through August, then through September (which completes Jul-Sep).
    first_held = held[held <= "2026-08-01"]
    second_held = held[held <= "2026-09-01"]
    first = marac_ledger.release_through_ledger(tmp_path, "v1", monthly[monthly["month"].isin(first_held)], first_held, THRESHOLD)
    second = marac_ledger.release_through_ledger(tmp_path, "v2", monthly[monthly["month"].isin(second_held)], second_held, THRESHOLD)
    ledger = marac_ledger.entries(tmp_path)
    assert [v for v, _ in ledger] == ["v1", "v2"]
    result = marac_audit.audit([p for _, p in ledger], THRESHOLD)
    assert result.ok, result.summary()
    assert len(result.hidden) and result.derived.empty
    # Everything released in the first is released unchanged (shown and hidden alike) in the second.
    key = ["period_type", "start", "area", "measure"]
    both = first.published().merge(second.published(), on=key, suffixes=("_1", "_2"))
    assert len(both) == len(first.cells)
    assert both["shown_1"].equals(both["shown_2"]) or np.allclose(both["shown_1"], both["shown_2"], equal_nan=True)
    assert len(second.cells) > len(first.cells)
    # Asking again for a released version reads it back exactly.
    again = marac_ledger.release_through_ledger(tmp_path, "v2", monthly[monthly["month"].isin(second_held)], second_held, THRESHOLD)
    assert np.allclose(again.published()["shown"], second.published()["shown"], equal_nan=True)


def test_a_store_that_would_revise_a_released_figure_releases_nothing(monthly_and_held, tmp_path):
    monthly, held = _recent(monthly_and_held)
    marac_ledger.release_through_ledger(tmp_path, "v1", monthly, held, THRESHOLD)
    revised = monthly.copy().reset_index(drop=True)
    # A late police referral in a quarter already released, as a re-import would bring in.
    for measure in (marac.CASES, marac.POLICE, marac.AGENCY_PREFIX + marac.POLICE_AGENCY):
        row = revised.index[(revised["measure"] == measure) & (revised["month"] == held[0]) & (revised["area"] == "Derby City")][0]
        revised.loc[row, "count"] += 1
    with pytest.raises(marac.RevisionError, match="never revised"):
        marac_ledger.release_through_ledger(tmp_path, "v2", revised, held, THRESHOLD)
    assert [v for v, _ in marac_ledger.entries(tmp_path)] == ["v1"]


def test_the_ledger_is_append_only(monthly_and_held, tmp_path):
    monthly, held = _recent(monthly_and_held)
    marac_ledger.release_through_ledger(tmp_path, "v1", monthly, held, THRESHOLD)
    con = sqlite3.connect(tmp_path / statedb.DB_FILE)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM marac_ledger")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE marac_ledger SET cells = '[]'")
