"""The public release of hate crime: district level and above, small counts hidden so none can be worked out.

The `public` role may see hate crime only at district (CSP) level and above, with counts
under `CSP_SUPPRESS_BELOW` shown as "<5" (issue 10). Hate crime records concern
identifiable people in small communities, so a count of 1-4 for a strand in a CSP in a
month can point at a victim. This module builds every figure the public may see in one
go and hides cells with `marac.protect` (the same primary + secondary suppression the
MARAC release uses), so no hidden count can be recovered from shown totals:

* Areas: County = its eight CSPs; Force = County + City + outside the force area + no known
  area (the board's reconciling rows).
* Strands: "All strands" = the six monitored strands (each record has one strand).

Only monthly counts are released. Year-to-date totals, rolling sums and the limit lines
are sums or averages of months, so releasing them beside the months would add a relation
per month that chains a whole year into one system; measured on the demo store, protecting
seven months with year-to-date totals took 128 s against 1.7 s for all 79 months without.
The public sees each month's counts; the board and analysts see the rest.

Decisions, each documented in docs/security.md:

* Zero is suppressed too. "<5" means 0-4: a shown 0 beside a hidden cell narrows what the
  hidden cell can be (a total shown as 4 whose other parts are shown 0 pins the last part
  to 4), and the marker stays truthful for every hidden cell.
* Incidents and crimes are separate releases in one table (they never add up to each other).
* Positive outcomes and neighbourhoods are not part of the public release: below district
  level the counts are small almost everywhere.

Pure: takes a DataFrame of counts (or the store) and returns a `PublicRelease`.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from queries import geography, hate, limits, marac
from queries.settings import DEFAULT_SUPPRESS_BELOW

MONTH = "month"  # the one period type the dashboard releases
# Year-to-date totals (April to the month): not released by the dashboard (see above), but `build`
# can add them so the audit is shown to hold when a release does carry overlapping periods.
YTD = "ytd"


def public_areas(own: geography.ForceAreas) -> list[str]:
    """Areas the public may see, in the order of the board's reconciling rows."""
    return own.reconciling_areas


CELL_KEY = ["kind", "strand", "area", "period_type", "month"]


def suppressed_label(threshold: int) -> str:
    """What a hidden count shows: "<5" for the default threshold."""
    return f"<{threshold}"


@dataclass(frozen=True)
class PublicRelease:
    """Every hate count the public role may see, protected.

    `cells`: kind, strand, area, period_type ("month"), month, value (true count) and
    suppressed. Read values through `shown` or `label_of`, never `value` directly.
    """

    cells: pd.DataFrame
    threshold: int
    # The counts the release was built from (kind, strand, area, month -> count, every combination)
    # and each county row's CSPs: what the ledger's audit needs to know which cells add up what.
    base: pd.Series | None = field(default=None, repr=False)
    counties: tuple = ()  # ((county row, (its CSPs, ...)), ...)
    relations: list = field(default_factory=list, repr=False)

    def shown(self, kind: str, strand: str, area: str, period_type: str = MONTH) -> pd.DataFrame:
        """month, shown (float, NaN where suppressed) for one series, oldest first."""
        rows = self.cells[(self.cells["kind"] == kind) & (self.cells["strand"] == strand)
                          & (self.cells["area"] == area) & (self.cells["period_type"] == period_type)]
        rows = rows.sort_values("month")
        return pd.DataFrame({"month": rows["month"].to_numpy(),
                             "shown": rows["value"].astype(float).where(~rows["suppressed"]).to_numpy()})

    def label_of(self, value: float) -> str:
        """A shown count as text: the integer, or "<5" where it is hidden (NaN)."""
        return suppressed_label(self.threshold) if value is None or value != value else str(int(value))

    def published(self) -> pd.DataFrame:
        """What a public reader sees: every cell with `shown` (NaN where hidden), no true values."""
        return self.cells.assign(shown=self.cells["value"].astype(float).where(~self.cells["suppressed"])).drop(
            columns="value")


def build(base: pd.DataFrame, threshold: int = DEFAULT_SUPPRESS_BELOW, *,
          counties: dict[str, list[str]], unitaries: list[str], ytd: bool = False,
          hidden: pd.DataFrame | None = None, shown_before: pd.DataFrame | None = None) -> PublicRelease:
    """Protect every public hate figure derived from `base`.

    `base` has columns kind, strand, area (a CSP, outside or no known area), month, count:
    the finest cells. Missing combinations count as 0 (no records). `counties` maps each
    county row to its CSPs and `unitaries` lists the CSPs that are their own upper tier
    (`layout(own)` gives both for a store; tests pass a small hand-made one). `ytd` adds
    year-to-date totals (not released by the dashboard). `hidden`: cells (CELL_KEY columns)
    that must be hidden whatever their value: cells hidden in earlier releases, and the
    complements the ledger's audit asks for (queries/hate_ledger.py). `shown_before`: cells
    (CELL_KEY + shown) published earlier; one that still holds the same figure is public
    already, so it is never chosen as a complement (hiding it again would protect nothing).
    """
    shape = structure(base, counties=counties, unitaries=unitaries, ytd=ytd)
    keys, array, relations = shape.keys, shape.values, shape.relations
    pinned = None
    if hidden is not None and len(hidden):
        wanted = set(map(tuple, hidden[CELL_KEY].assign(month=pd.to_datetime(hidden["month"])).itertuples(
            index=False, name=None)))
        pinned = np.array([k in wanted for k in keys], dtype=bool)
    fixed = None
    if shown_before is not None and len(shown_before):
        earlier = {(*k, ): v for *k, v in shown_before[CELL_KEY + ["shown"]].assign(
            month=pd.to_datetime(shown_before["month"])).itertuples(index=False, name=None)}
        fixed = np.array([earlier.get(k) == v for k, v in zip(keys, array)], dtype=bool)
    suppressed, _ = marac.protect(array, relations, threshold, hidden=pinned, fixed=fixed)
    return shape.release(suppressed, threshold)


@dataclass(frozen=True)
class Structure:
    """Every public cell of a release (in release order), its true value and the sums tying cells
    together, before anything is hidden: what `build` protects, and what a release kept in the
    ledger is rebuilt on with the ledger's own mask (no suppression run again)."""

    keys: list  # CELL_KEY tuples
    values: np.ndarray  # true counts, float
    relations: list  # (total cell, [part cells])
    counts: pd.Series  # kind, strand, area, month -> count, every combination
    counties: tuple  # ((county row, (its CSPs, ...)), ...)

    def release(self, suppressed: np.ndarray, threshold: int) -> PublicRelease:
        """The release showing every cell but those `suppressed` marks."""
        cells = pd.DataFrame(self.keys, columns=CELL_KEY)
        cells["value"] = self.values.astype(int)
        cells["suppressed"] = np.asarray(suppressed, dtype=bool)
        return PublicRelease(cells=cells, threshold=threshold, base=self.counts, counties=self.counties,
                             relations=self.relations)


def structure(base: pd.DataFrame, *, counties: dict[str, list[str]], unitaries: list[str],
              ytd: bool = False) -> Structure:
    """The cells, values and sums of the release of `base` (see `build` for the arguments)."""
    county_csps = [c for csps in counties.values() for c in csps]
    base = base.assign(month=pd.to_datetime(base["month"]))
    kinds = sorted(base["kind"].unique())
    strands = [s for s in hate.STRANDS if s in set(base["strand"])] or sorted(base["strand"].unique())
    areas_base = county_csps + list(unitaries) + [geography.OUTSIDE, geography.UNALLOCATED]
    unknown = set(base["area"]) - set(areas_base)
    if unknown:
        raise ValueError(f"hate counts for areas that are not a CSP or a reconciling row: {sorted(unknown)}")
    months = pd.DatetimeIndex(sorted(base["month"].unique()))
    full = pd.MultiIndex.from_product([kinds, strands, areas_base, months], names=["kind", "strand", "area", "month"])
    counts = base.groupby(["kind", "strand", "area", "month"])["count"].sum().reindex(full, fill_value=0)

    values: list[float] = []
    keys: list[tuple] = []
    index: dict[tuple, int] = {}

    def add(key: tuple, value: float) -> int:
        index[key] = len(values)
        keys.append(key)
        values.append(float(value))
        return index[key]

    relations: list[tuple[int, list[int]]] = []
    all_strands = hate.ALL_STRANDS
    for kind in kinds:
        for position, month in enumerate(months):
            for strand in strands:
                for area in areas_base:
                    add((kind, strand, area, MONTH, month), counts[(kind, strand, area, month)])
            for area in areas_base:  # All strands = the strands
                parts = [index[(kind, s, area, MONTH, month)] for s in strands]
                relations.append((add((kind, all_strands, area, MONTH, month), sum(values[p] for p in parts)), parts))
            for strand in strands + [all_strands]:
                county_cells = []
                for name, members in counties.items():
                    csps = [index[(kind, strand, a, MONTH, month)] for a in members]
                    county_cells.append(add((kind, strand, name, MONTH, month), sum(values[p] for p in csps)))
                    relations.append((county_cells[-1], csps))
                force_parts = county_cells + [index[(kind, strand, a, MONTH, month)]
                                              for a in [*unitaries, geography.OUTSIDE, geography.UNALLOCATED]]
                relations.append((add((kind, strand, geography.FORCE, MONTH, month), sum(values[p] for p in force_parts)),
                                  force_parts))
            if ytd:  # year to date = the year to date a month before + this month (April: the month)
                previous = months[position - 1] if position else None
                chained = previous is not None and limits.fy_of(previous) == limits.fy_of(month) and (
                    previous == month - pd.DateOffset(months=1))
                for strand in strands + [all_strands]:
                    for area in areas_base + list(counties) + [geography.FORCE]:
                        parts = [index[(kind, strand, area, MONTH, month)]]
                        if chained:
                            parts.append(index[(kind, strand, area, YTD, previous)])
                        relations.append((add((kind, strand, area, YTD, month), sum(values[p] for p in parts)), parts))
    array = np.array(values)
    marac.check_relations(array, relations)
    return Structure(keys, array, relations, counts, tuple((name, tuple(csps)) for name, csps in counties.items()))


def layout(own: geography.ForceAreas) -> dict:
    """`build`'s keyword arguments for a force: its counties with their CSPs, and its unitaries."""
    return {"counties": {u.name: list(u.csps) for u in own.counties}, "unitaries": own.unitaries}


def base_counts(store) -> pd.DataFrame:
    """kind, strand, area, month, count from the store's monthly table (district level, no neighbourhoods)."""
    measures = {hate.measure_name(kind, strand): (kind, strand) for kind in hate.KINDS for strand in hate.STRANDS}
    frame = store.query(
        """SELECT measure, coalesce(csp, CASE location WHEN ? THEN ? ELSE ? END) AS area, month,
                  sum(count)::BIGINT AS count
           FROM monthly WHERE dataset = ? AND force = ? AND measure IN (SELECT unnest(?)) GROUP BY ALL""",
        [geography.OUTSIDE_AREA, geography.OUTSIDE, geography.UNALLOCATED, hate.DATASET,
         geography.areas(store.data_dir).force.slug, list(measures)],
    )
    frame[["kind", "strand"]] = pd.DataFrame(frame["measure"].map(measures).tolist(), index=frame.index)
    return frame[["kind", "strand", "area", "month", "count"]]


# Per-process cache: protecting the whole store takes seconds (and the ledger's audit more), so
# once per store version.
_CACHE: dict[tuple, PublicRelease] = {}
_CACHE_LOCK = threading.Lock()


def release(store, threshold: int = DEFAULT_SUPPRESS_BELOW, state_dir: Path | None = None) -> PublicRelease:
    """The public release of the store's hate data (cached per store version and threshold).

    With `state_dir`, the release is the one in the hate ledger (queries/hate_ledger.py): a
    version released before is read back exactly as it was shown; a new version starts with
    every cell hidden before hidden again, is audited with everything released before, and is
    appended. Raises hate_ledger.DisclosureError when no release passes the audit.
    """
    store.refresh()
    version = store.datasets.get(hate.DATASET)
    if version is None:
        raise LookupError(f"the store at {store.data_dir} holds no hate crime data")
    key = (str(store.data_dir), str(version), int(threshold), str(state_dir))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    base = base_counts(store)
    shape = layout(geography.areas(store.data_dir))
    if state_dir is None:
        result = build(base, threshold, **shape)
    else:
        from queries import hate_ledger

        def protected(hidden: pd.DataFrame, before: pd.DataFrame | None) -> PublicRelease:
            return build(base, threshold, **shape, hidden=hidden, shown_before=before)

        result = hate_ledger.release_through_ledger(state_dir, str(version), protected, threshold)
    with _CACHE_LOCK:
        _CACHE.clear()  # one version at a time is plenty
        _CACHE[key] = result
    return result
