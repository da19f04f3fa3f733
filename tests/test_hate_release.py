"""The public hate-crime release: small counts hidden, and no hidden count recoverable from shown totals.

Hand-worked examples use two county CSPs ("A", "B") so every sum can be checked by eye.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import COUNTY_CSPS, COUNTY, CITY, RECONCILING_AREAS
from queries import geography, hate, hate_release, marac

CITY, OUT, UNK = CITY, geography.OUTSIDE, geography.UNALLOCATED
MONTH = pd.Timestamp("2026-04-01")
RACE, RELIGION = "Race", "Religion"


def _base(rows: list[tuple[str, str, int]], month: pd.Timestamp = MONTH) -> pd.DataFrame:
    """(strand, area, count) rows for hate crimes in one month."""
    return pd.DataFrame([{"kind": hate.CRIME, "strand": s, "area": a, "month": month, "count": c} for s, a, c in rows])


def _shown(rel: hate_release.PublicRelease, strand: str, area: str, period: str = hate_release.MONTH) -> float:
    return float(rel.shown(hate.CRIME, strand, area, period)["shown"].iloc[0])


def _nothing_small_recoverable(rel: hate_release.PublicRelease, county: tuple[str, ...] = ("A", "B")) -> None:
    """Solve the whole linear system of shown figures: no count under the threshold is determined."""
    cells = rel.cells
    index = {tuple(k): i for i, k in enumerate(cells[["kind", "strand", "area", "period_type", "month"]].itertuples(index=False))}
    # Rebuild the relations the way a reader would: the sums the published tables obey.
    members = []
    for (kind, strand, area, period, month), i in index.items():
        if area == COUNTY:
            members.append(np.array([i] + [index[(kind, strand, a, period, month)] for a in county]))
        if area == geography.FORCE:
            members.append(np.array([i] + [index[(kind, strand, a, period, month)] for a in (COUNTY, CITY, OUT, UNK)]))
        if strand == hate.ALL_STRANDS and area not in (COUNTY, geography.FORCE) and period == hate_release.MONTH:
            members.append(np.array([i] + [v for (k, s, a, p, m), v in index.items()
                                           if (k, a, p, m) == (kind, area, period, month) and s != hate.ALL_STRANDS]))
    leaked = marac.disclosed(cells["suppressed"].to_numpy(), members) & (cells["value"].to_numpy() < rel.threshold)
    assert not leaked.any(), cells[leaked]


def test_counts_of_one_to_four_and_zero_show_as_under_five_and_larger_counts_exactly():
    rel = hate_release.build(_base([(RACE, "A", 3), (RACE, "B", 20), (RACE, CITY, 30), (RACE, OUT, 6), (RACE, UNK, 7),
                                    (RELIGION, "A", 0), (RELIGION, "B", 9), (RELIGION, CITY, 12), (RELIGION, OUT, 5),
                                    (RELIGION, UNK, 8)]), counties={COUNTY: ["A", "B"]}, unitaries=[CITY])
    assert np.isnan(_shown(rel, RACE, "A"))          # 3: primary
    assert np.isnan(_shown(rel, RELIGION, "A"))      # 0: suppressed too ("<5" means 0-4)
    assert _shown(rel, RACE, CITY) == 30             # shown figures are exact
    assert rel.label_of(_shown(rel, RACE, "A")) == "<5"
    assert rel.label_of(_shown(rel, RACE, CITY)) == "30"


def test_a_csp_under_five_hides_a_second_cell_so_county_minus_the_other_csp_does_not_give_it():
    # County Race = A 3 + B 20 = 23. Showing 23 and 20 would give A = 3: one of them must go too.
    rel = hate_release.build(_base([(RACE, "A", 3), (RACE, "B", 20), (RACE, CITY, 30), (RACE, OUT, 6), (RACE, UNK, 7),
                                    (RELIGION, "A", 10), (RELIGION, "B", 9), (RELIGION, CITY, 12), (RELIGION, OUT, 5),
                                    (RELIGION, UNK, 8)]), counties={COUNTY: ["A", "B"]}, unitaries=[CITY])
    county, b = _shown(rel, RACE, COUNTY), _shown(rel, RACE, "B")
    assert np.isnan(county) or np.isnan(b)
    # and A is not "All strands A - Religion A" either: All strands A = 13 is shown only if Religion A is hidden.
    all_a, religion_a = _shown(rel, hate.ALL_STRANDS, "A"), _shown(rel, RELIGION, "A")
    assert np.isnan(all_a) or np.isnan(religion_a)
    _nothing_small_recoverable(rel)


def test_a_small_city_count_is_not_force_minus_county_outside_and_unknown():
    # Force Race = County (10 + 20) + City 2 + outside 6 + unknown 7 = 45.
    rel = hate_release.build(_base([(RACE, "A", 10), (RACE, "B", 20), (RACE, CITY, 2), (RACE, OUT, 6), (RACE, UNK, 7),
                                    (RELIGION, "A", 10), (RELIGION, "B", 9), (RELIGION, CITY, 12), (RELIGION, OUT, 5),
                                    (RELIGION, UNK, 8)]), counties={COUNTY: ["A", "B"]}, unitaries=[CITY])
    assert np.isnan(_shown(rel, RACE, CITY))
    shown_parts = [_shown(rel, RACE, a) for a in (geography.FORCE, COUNTY, OUT, UNK)]
    assert sum(np.isnan(v) for v in shown_parts) >= 1
    _nothing_small_recoverable(rel)


def test_published_carries_no_true_values():
    rel = hate_release.build(_base([(RACE, "A", 3), (RACE, "B", 20), (RACE, CITY, 30), (RACE, OUT, 6), (RACE, UNK, 7)]),
                             counties={COUNTY: ["A", "B"]}, unitaries=[CITY])
    published = rel.published()
    assert "value" not in published.columns
    assert not ((published["shown"] < 5) & published["shown"].notna()).any()


def test_areas_below_district_are_refused():
    with pytest.raises(ValueError, match="not a CSP"):
        hate_release.build(_base([(RACE, "Chesterfield Town Centre", 3)]), counties={COUNTY: ["A", "B"]}, unitaries=[CITY])


@pytest.mark.parametrize("seed", range(5))
def test_random_counts_never_leave_a_small_count_recoverable(seed):
    rng = np.random.default_rng(seed)
    rows = [{"kind": hate.CRIME, "strand": s, "area": a, "month": MONTH + pd.DateOffset(months=m),
             "count": int(rng.poisson(6))}
            for s in (RACE, RELIGION, "Disability") for a in ("A", "B", CITY, OUT, UNK) for m in range(3)]
    rel = hate_release.build(pd.DataFrame(rows), counties={COUNTY: ["A", "B"]}, unitaries=[CITY])
    assert rel.cells.loc[rel.cells["value"] < 5, "suppressed"].all()
    _nothing_small_recoverable(rel)


def test_the_demo_store_release_hides_every_small_count(demo_store):
    rel = hate_release.release(demo_store)
    cells = rel.cells
    assert set(cells["area"]) <= set(RECONCILING_AREAS)
    assert cells.loc[cells["value"] < 5, "suppressed"].all()
    assert (~cells["suppressed"]).any()
    _nothing_small_recoverable(rel, tuple(COUNTY_CSPS))
