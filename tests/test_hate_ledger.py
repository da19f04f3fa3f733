"""The public hate release across releases: an append-only ledger, and an audit over all of it that
stops differencing (a revised month, a month beside the year to date) from giving a hidden count away.

Hand-worked examples use two or three county CSPs so every sum can be checked by eye; the
property test checks random revisions with its own rank test, not the audit's code.
"""
from __future__ import annotations

import sqlite3
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from conftest import CITY, COUNTY
from queries import geography, hate, hate_ledger, hate_release, marac, statedb
from queries.settings import DEFAULT_SUPPRESS_BELOW as THRESHOLD

OUT, UNK = geography.OUTSIDE, geography.UNALLOCATED
RACE, RELIGION = "Race", "Religion"
APRIL = pd.Timestamp("2026-04-01")


def _base(counts: dict[tuple[str, str, pd.Timestamp], int]) -> pd.DataFrame:
    """(strand, area, month) -> count, as the store's hate crimes."""
    return pd.DataFrame([{"kind": hate.CRIME, "strand": s, "area": a, "month": m, "count": c}
                         for (s, a, m), c in counts.items()])


def _shape(county: list[str]) -> dict:
    """A hand-made force: one county of these CSPs, and the city a unitary."""
    return {"counties": {COUNTY: county}, "unitaries": [CITY]}


def _builder(base: pd.DataFrame, county: list[str], ytd: bool = False):
    return lambda hidden, before: hate_release.build(base, THRESHOLD, **_shape(county), ytd=ytd, hidden=hidden,
                                                     shown_before=before)


def _hidden(rel: hate_release.PublicRelease, strand: str, area: str, period: str = hate_release.MONTH,
            month: pd.Timestamp = APRIL) -> bool:
    frame = rel.shown(hate.CRIME, strand, area, period)
    return bool(np.isnan(frame.loc[frame["month"] == month, "shown"].iloc[0]))


def _revision_store(race_b: int) -> pd.DataFrame:
    """April in three county CSPs A, B, C: Race in A is 3; Religion is large everywhere."""
    race = {"A": 3, "B": race_b, "C": 20, CITY: 30, OUT: 6, UNK: 7}
    religion = {"A": 40, "B": 50, "C": 60, CITY: 70, OUT: 80, UNK: 90}
    return _base({**{(RACE, a, APRIL): c for a, c in race.items()}, **{(RELIGION, a, APRIL): c for a, c in religion.items()}})


COUNTY3 = ["A", "B", "C"]


def test_a_revised_month_that_would_give_a_hidden_count_away_by_differencing_is_caught_and_hidden():
    # Release 1: Race A = 3 is hidden, with B = 6 as its complement (smallest other CSP); the County
    # (29) and C (20) are shown, so a reader knows A + B = 9 and nothing more.
    first = hate_release.build(_revision_store(6), THRESHOLD, **_shape(COUNTY3))
    assert _hidden(first, RACE, "A") and _hidden(first, RACE, "B") and not _hidden(first, RACE, "C")
    # A re-import revises B from 6 to 25. Protected on its own, release 2 hides C (now the smallest)
    # and shows B = 25 and the County = 48: A + C = 23, and C = 20 from release 1, so A = 3.
    alone = hate_release.build(_revision_store(25), THRESHOLD, **_shape(COUNTY3))
    assert _hidden(alone, RACE, "A") and _hidden(alone, RACE, "C") and not _hidden(alone, RACE, "B")
    assert float(alone.shown(hate.CRIME, RACE, COUNTY)["shown"].iloc[0]) == 48
    caught = hate_ledger.audit([hate_ledger.published(first), hate_ledger.published(alone)], THRESHOLD)
    race_a = caught.failing[(caught.failing["strand"] == RACE) & (caught.failing["area"] == "A")]
    assert len(race_a) == 1 and race_a["exact"].iloc[0] and race_a["lower"].iloc[0] == 3
    # Through the ledger: B stays hidden (it was hidden before), C stays shown, and A cannot be narrowed.
    second = hate_ledger.release_through_ledger(None, "2", _builder(_revision_store(25), COUNTY3), THRESHOLD,
                                                earlier=[hate_ledger.published(first)])
    assert _hidden(second, RACE, "A") and _hidden(second, RACE, "B") and not _hidden(second, RACE, "C")
    both = hate_ledger.audit([hate_ledger.published(first), hate_ledger.published(second)], THRESHOLD, only_new=False)
    assert both.ok
    race_a = both.hidden[(both.hidden["strand"] == RACE) & (both.hidden["area"] == "A")].iloc[0]
    assert not race_a["exact"] and race_a["lower"] == 0


def _ytd_store(months: int) -> pd.DataFrame:
    """April-June in two county CSPs: Race in A is 5, 7, then 2; everything else large."""
    race_a = [5, 7, 2]
    others = {(RACE, "B"): 30, (RACE, CITY): 40, (RACE, OUT): 50, (RACE, UNK): 60, (RELIGION, "A"): 31,
              (RELIGION, "B"): 41, (RELIGION, CITY): 51, (RELIGION, OUT): 61, (RELIGION, UNK): 71}
    counts = {}
    for i, month in enumerate(pd.date_range(APRIL, periods=months, freq="MS")):
        counts[(RACE, "A", month)] = race_a[i]
        counts.update({(s, a, month): c for (s, a), c in others.items()})
    return _base(counts)


def test_a_month_beside_the_year_to_date_in_two_releases_gives_nothing_away():
    june = pd.Timestamp("2026-06-01")
    may = pd.Timestamp("2026-05-01")
    # Release 1 (April, May): nothing is small, so everything is shown, the year to date to May included (A: 12).
    first = hate_release.build(_ytd_store(2), THRESHOLD, **_shape(["A", "B"]), ytd=True)
    assert not first.cells["suppressed"].any()
    # Release 2 (to June) on its own hides June's 2 and its year to date... but hides May's year to
    # date as the complement, which release 1 showed: June = 14 - 12 = 2.
    alone = hate_release.build(_ytd_store(3), THRESHOLD, **_shape(["A", "B"]), ytd=True)
    assert _hidden(alone, RACE, "A", month=june) and not _hidden(alone, RACE, "A", hate_release.YTD, june)
    caught = hate_ledger.audit([hate_ledger.published(first), hate_ledger.published(alone)], THRESHOLD)
    june_a = caught.failing[(caught.failing["strand"] == RACE) & (caught.failing["area"] == "A")
                            & (caught.failing["period_type"] == hate_release.MONTH)]
    assert june_a["exact"].all() and june_a["lower"].iloc[0] == 2
    # Through the ledger, June's year to date is hidden too, and May's stays as published.
    second = hate_ledger.release_through_ledger(None, "2", _builder(_ytd_store(3), ["A", "B"], ytd=True), THRESHOLD,
                                                earlier=[hate_ledger.published(first)])
    assert _hidden(second, RACE, "A", month=june) and _hidden(second, RACE, "A", hate_release.YTD, june)
    assert not _hidden(second, RACE, "A", hate_release.YTD, may)
    assert hate_ledger.audit([hate_ledger.published(first), hate_ledger.published(second)], THRESHOLD,
                             only_new=False).ok


def test_the_ledger_keeps_each_release_once_reads_it_back_unchanged_and_is_append_only(tmp_path):
    build = _builder(_revision_store(6), COUNTY3)
    made = hate_ledger.release_through_ledger(tmp_path, "v1", build, THRESHOLD)
    again = hate_ledger.release_through_ledger(tmp_path, "v1", build, THRESHOLD)
    assert (again.cells["suppressed"] == made.cells["suppressed"]).all()
    assert [v for v, _ in hate_ledger.entries(tmp_path)] == ["v1"]
    hate_ledger.release_through_ledger(tmp_path, "v2", _builder(_revision_store(25), COUNTY3), THRESHOLD)
    assert [v for v, _ in hate_ledger.entries(tmp_path)] == ["v1", "v2"]
    con = sqlite3.connect(tmp_path / statedb.DB_FILE)
    for statement in ("DELETE FROM hate_ledger", "UPDATE hate_ledger SET cells = '[]'"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(statement)


def test_two_successive_monthly_stores_of_the_demo_pass_the_audit_over_the_ledger(demo_store, tmp_path):
    base = hate_release.base_counts(demo_store)
    base["month"] = pd.to_datetime(base["month"])
    months = sorted(base["month"].unique())[-4:]
    for version, upto in (("through-3", months[:3]), ("through-4", months)):
        part = base[base["month"].isin(upto)]
        hate_ledger.release_through_ledger(tmp_path, version, lambda h, b, part=part: hate_release.build(
            part, THRESHOLD, **hate_release.layout(geography.areas(demo_store.data_dir)), hidden=h, shown_before=b), THRESHOLD)
    ledger = [p for _, p in hate_ledger.entries(tmp_path)]
    assert len(ledger) == 2 and hate_ledger.audit(ledger, THRESHOLD, only_new=False).ok


# --------------------------------------------------------------------------- property


AREAS = ["A", "B", CITY, OUT, UNK]
STRANDS = [RACE, RELIGION]
MONTHS = list(pd.date_range(APRIL, periods=3, freq="MS"))
# Mostly small counts, so that most cells are hidden and the relations between them matter.
COUNT = st.one_of(st.integers(0, 6), st.integers(0, 30))


def _atoms(strand: str, area: str, month: pd.Timestamp) -> list[tuple]:
    strands = STRANDS if strand == hate.ALL_STRANDS else [strand]
    areas = ["A", "B"] if area == COUNTY else AREAS if area == geography.FORCE else [area]
    return [(s, a, month) for s in strands for a in areas]


def _small_hidden_recoverable(releases: list[tuple[dict, hate_release.PublicRelease]]) -> list:
    """Hidden cells under the threshold a reader holding every release can solve for exactly, by a
    rank test of our own: an underlying count is the same unknown in two releases when its value is."""
    column: dict[tuple, int] = {}
    shown, hidden = [], []
    for counts, rel in releases:
        for row in rel.cells.itertuples():
            cols = {column.setdefault((*atom, counts.get(atom, 0)), len(column))
                    for atom in _atoms(row.strand, row.area, row.month)}
            (hidden if row.suppressed else shown).append((cols, row))
    a = np.zeros((len(shown), len(column)))
    for i, (cols, _) in enumerate(shown):
        a[i, list(cols)] = 1
    rank = np.linalg.matrix_rank(a) if len(shown) else 0
    found = []
    for cols, row in hidden:
        if row.value >= THRESHOLD:
            continue
        c = np.zeros((1, len(column)))
        c[0, list(cols)] = 1
        if np.linalg.matrix_rank(np.vstack([a, c])) == rank:
            found.append((row.strand, row.area, row.month, row.value))
    return found


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.fixed_dictionaries({(s, a, m): COUNT for s in STRANDS for a in AREAS for m in MONTHS[:2]}),
       revised=st.dictionaries(st.sampled_from([(s, a, MONTHS[1]) for s in STRANDS for a in AREAS]),
                               st.integers(-3, 8), max_size=4),
       new_month=st.fixed_dictionaries({(s, a, MONTHS[2]): COUNT for s in STRANDS for a in AREAS}))
def test_no_published_count_under_five_is_ever_recoverable_exactly_across_revised_releases(first, revised, new_month):
    """Release 1 holds two months; a re-import revises some of May's counts and adds June (release 2)."""
    second = {**first, **new_month}
    for key, change in revised.items():
        second[key] = max(0, second[key] + change)
    one = hate_ledger.release_through_ledger(None, "1", _builder(_base(first), ["A", "B"]), THRESHOLD)
    released = [(first, one)]
    try:
        two = hate_ledger.release_through_ledger(None, "2", _builder(_base(second), ["A", "B"]), THRESHOLD,
                                                 earlier=[hate_ledger.published(one)])
        released.append((second, two))
    except hate_ledger.DisclosureError:
        note("release 2 withheld: nothing more published")  # safe, though the public then sees nothing new
    assert _small_hidden_recoverable(released) == []
    # And every count under the threshold is hidden in every release.
    for _, rel in released:
        assert rel.cells.loc[rel.cells["value"] < THRESHOLD, "suppressed"].all()


# --------------------------------------------------------------------------- read back without suppression


class _CallsOf:
    """Records whether a function's code runs in this thread (a profiler hook: nothing is replaced)."""

    def __init__(self, fn):
        self.code, self.count = fn.__code__, 0

    def _hook(self, frame, event, _arg):
        if event == "call" and frame.f_code is self.code:
            self.count += 1

    def __enter__(self):
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *_exc):
        sys.setprofile(None)


def test_a_version_in_the_ledger_is_rebuilt_from_it_cell_for_cell_with_no_suppression_run(demo_store, tmp_path):
    hate_release._CACHE.clear()
    computed = hate_release.release(demo_store, THRESHOLD, state_dir=tmp_path)  # protected, audited, appended

    hate_release._CACHE.clear()  # as a fresh worker: nothing cached, the ledger holds the version
    with _CallsOf(marac.protect) as read_back:
        rebuilt = hate_release.release(demo_store, THRESHOLD, state_dir=tmp_path)
    assert read_back.count == 0
    pd.testing.assert_frame_equal(rebuilt.cells, computed.cells)
    pd.testing.assert_frame_equal(rebuilt.published(), computed.published())
    pd.testing.assert_series_equal(rebuilt.base, computed.base, check_names=False)
    assert rebuilt.counties == computed.counties and rebuilt.relations == computed.relations
    assert len(hate_ledger.entries(tmp_path)) == 1


def test_a_ledger_read_back_never_calls_the_builder_and_keeps_a_year_to_date_release(tmp_path):
    with _CallsOf(marac.protect) as first_time:
        made = hate_ledger.release_through_ledger(tmp_path, "v1", _builder(_revision_store(6), COUNTY3, ytd=True),
                                                  THRESHOLD)
    assert first_time.count >= 1  # a new version is suppressed (and the hook sees it)

    def must_not_build(_hidden, _before):
        raise AssertionError("the ledger holds v1: nothing is built or suppressed again")

    again = hate_ledger.release_through_ledger(tmp_path, "v1", must_not_build, THRESHOLD)
    pd.testing.assert_frame_equal(again.cells, made.cells)
    assert (again.cells["period_type"] == hate_release.YTD).any()
