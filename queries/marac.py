"""MARAC measures: cases discussed, repeats (from case history), referrals by agency, and
the small-number protection every MARAC figure passes through before anyone sees it.

A MARAC (Multi-Agency Risk Assessment Conference) discusses victims at the highest risk of
domestic abuse, so this module is written around two rules:

* Repeats are computed from case history, never trusted from a column. SafeLives: a repeat
  is a case referred again within 12 months of its last referral. "Last" is the most recent
  previous referral of the same (pseudonymous) victim, not the first. The window is
  INCLUSIVE: referred 2024-03-15 and again 2025-03-15 is a repeat; 2025-03-16 is not.
  Month arithmetic is DuckDB's (2024-02-29 + 12 months = 2025-02-28).
* Only aggregates leave this module, and only after `protect` has run over *every* figure
  the dashboard can show (all periods, areas and measures at once). Counts under 5 are
  suppressed (primary suppression), and further cells are hidden (secondary suppression)
  until no suppressed count can be worked out from the ones shown: not by subtracting
  shown parts from a shown total, nor by any combination of the tables' sums. Secondary
  suppression was chosen over rounding because the board reconciles exact figures
  (City 414 + County 722 = 1,136) and rounding every cell would change all of them;
  suppression leaves every shown figure exact. The price is that a few figures of 5 or
  more are hidden too; the page says so.

Everything here is pure (no Dash): functions take the store and return DataFrames.
"""
from __future__ import annotations

import csv
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from queries import geography, limits
from queries.lookup_cache import reparse_when_changed
from queries.settings import DEFAULT_SUPPRESS_BELOW

DATASET = "marac"

# Measure names in the monthly table.
CASES = "Cases discussed"
REPEATS = "Repeat cases"
POLICE = "Referrals from police"
PARTNERS = "Referrals from partner agencies"
AGENCY_PREFIX = "Referrals by agency - "
# Derived (cases - repeats). Never shown on its own, but it is public the moment cases and
# repeats are, so it is protected like any shown cell.
FIRST = "First referrals"
BASE_MEASURES = [CASES, REPEATS, FIRST, POLICE, PARTNERS]

# Referring agencies (SafeLives' MARAC data categories, condensed). The importer maps
# common spellings onto these; anything else is rejected with this list.
POLICE_AGENCY = "Police"
AGENCIES = [
    POLICE_AGENCY,
    "IDVA",
    "Health",
    "Children's Social Care",
    "Adult Social Care",
    "Housing",
    "Probation",
    "Education",
    "Substance misuse",
    "Voluntary sector",
    "Other",
]
AGENCY_ALIASES = {
    "police": POLICE_AGENCY,
    "derbyshire constabulary": POLICE_AGENCY,
    "derbyshire police": POLICE_AGENCY,
    "constabulary": POLICE_AGENCY,
    "idva": "IDVA",
    "idva service": "IDVA",
    "independent domestic violence advisor": "IDVA",
    "independent domestic violence adviser": "IDVA",
    "health": "Health",
    "nhs": "Health",
    "gp": "Health",
    "mental health": "Health",
    "acute trust": "Health",
    "children's social care": "Children's Social Care",
    "childrens social care": "Children's Social Care",
    "children's services": "Children's Social Care",
    "csc": "Children's Social Care",
    "adult social care": "Adult Social Care",
    "asc": "Adult Social Care",
    "housing": "Housing",
    "probation": "Probation",
    "national probation service": "Probation",
    "education": "Education",
    "school": "Education",
    "substance misuse": "Substance misuse",
    "drug and alcohol": "Substance misuse",
    "voluntary sector": "Voluntary sector",
    "third sector": "Voluntary sector",
    "vcs": "Voluntary sector",
    "other": "Other",
}

REPEAT_WINDOW_MONTHS = 12
# Local KPI target for the repeat rate; SafeLives: "average for a mature MARAC is 35%".
REPEAT_TARGET_PCT = 27.0
MATURE_MARAC_REPEAT_PCT = 35.0
# SafeLives' benchmark: 40 cases a year per 10,000 adult females.
SAFELIVES_BENCHMARK = 40.0
PER_POPULATION = 10_000
MONTHS_PER_YEAR = 12

# What a suppressed cell shows, everywhere (tables, chart labels, CSV exports). One marker
# for primary and secondary suppression alike, so nobody can tell which hidden cell is the
# small one.
SUPPRESSED = "*"

# MARAC is reported for the force and its upper-tier parts (Derbyshire: a City MARAC and County
# MARACs): the parts are the store's `parent` areas (queries/geography.py), never constants.


def marac_areas(own: geography.ForceAreas) -> list[str]:
    """The areas MARAC is reported for: the force, its counties, its unitaries (Force Area, County Council Area, Derby City)."""
    return [geography.FORCE] + own.county_names + own.unitaries

# Only present if a record has no parent area (the importer rejects such cases; kept so a
# store written another way still reconciles).
ELSEWHERE = "Elsewhere or not known"

MONTH, QUARTER, CALENDAR, FINANCIAL = "month", "quarter", "calendar", "financial"
ALL_PERIOD_TYPES = {MONTH: "Month", QUARTER: "Quarter", CALENDAR: "Calendar year", FINANCIAL: "Financial year"}
# What is released: complete quarters and complete financial years only. Part years grow by
# one month's count from one release to the next, and a calendar year beside a financial
# year differs from it by whole quarters, so either gives small counts away by subtraction
# (14 agency counts under 5 were recoverable from one release that had both).
RELEASED_PERIODS = (QUARTER, FINANCIAL)
PERIOD_TYPES = {t: ALL_PERIOD_TYPES[t] for t in RELEASED_PERIODS}
PERIOD_MONTHS = {MONTH: 1, QUARTER: 3, CALENDAR: 12, FINANCIAL: 12}
YEAR_TYPES = (CALENDAR, FINANCIAL)

POPULATION_FILE = "marac-population.csv"
POPULATION_COLUMNS = ["area", "adult_females", "year", "source_note"]
# Optional fourth column: "demo" lines show only on synthetic data, "real" only on imports.

# --------------------------------------------------------------------------- repeats

# The history of each victim in referral order; shared by the store build and the tests.
HISTORY_SQL = """
    SELECT *,
           lag(referral_date) OVER (PARTITION BY victim_id ORDER BY referral_date, record_id) AS previous_referral
    FROM records
"""
IS_REPEAT_SQL = f"""coalesce(
        CAST(referral_date AS DATE)
            <= CAST(previous_referral AS DATE) + INTERVAL {REPEAT_WINDOW_MONTHS} MONTH,
        false)"""

# SELECT over `records` giving (measure, month, ward_code, location, force); see store.build_monthly.
# Built from named constants only (no user input is ever formatted into SQL).
MEASURE_SQL = f"""
        WITH flagged AS (
            SELECT *, {IS_REPEAT_SQL} AS is_repeat FROM ({HISTORY_SQL}) AS history
        )
        SELECT '{CASES}' AS measure, month, ward_code, location, force FROM flagged
        UNION ALL
        SELECT '{REPEATS}', month, ward_code, location, force FROM flagged WHERE is_repeat
        UNION ALL
        SELECT '{POLICE}', month, ward_code, location, force FROM flagged WHERE referring_agency = '{POLICE_AGENCY}'
        UNION ALL
        SELECT '{PARTNERS}', month, ward_code, location, force FROM flagged WHERE referring_agency <> '{POLICE_AGENCY}'
        UNION ALL
        SELECT '{AGENCY_PREFIX}' || referring_agency, month, ward_code, location, force FROM flagged
    """


def flag_repeats(referrals: pd.DataFrame) -> pd.DataFrame:
    """Each referral with its victim's previous referral date and whether it is a repeat.

    `referrals` needs record_id, victim_id and referral_date. Runs exactly the SQL the
    store build uses, so tests of this function test the published figures' logic.
    """
    con = duckdb.connect(":memory:")
    try:
        con.register("records", referrals[["record_id", "victim_id", "referral_date"]])
        return con.execute(
            f"SELECT record_id, victim_id, referral_date, previous_referral, {IS_REPEAT_SQL} AS is_repeat "
            f"FROM ({HISTORY_SQL}) AS history ORDER BY referral_date, record_id"
        ).df()
    finally:
        con.close()


def canonical_agency(text: str) -> str | None:
    """The canonical agency for a spelling (case, spacing and curly apostrophes ignored)."""
    key = " ".join(text.replace("\u2019", "'").strip().lower().split())
    if key in AGENCY_ALIASES:
        return AGENCY_ALIASES[key]
    for name in AGENCIES:
        if key == name.lower():
            return name
    return None


# --------------------------------------------------------------------------- protection


def protect(values: np.ndarray, relations: list[tuple[int, list[int]]], threshold: int,
            hidden: np.ndarray | None = None, fixed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Which cells to hide so that no count under `threshold` can be shown or worked out.

    `values` are the true counts of every cell that can be published; `relations` say
    which cells add up: (total, [parts]) means values[total] == sum(values[parts]).
    Returns (suppressed, primary) boolean arrays.

    1. Primary: every cell under the threshold (zeros included: "under 5").
    2. Secondary, locally: no relation may have exactly one hidden cell (it would equal the
       total minus the shown parts), and where the total is shown its hidden parts must add
       up to at least the threshold (hidden parts summing to 0 would all be known to be 0).
       The complement hidden is a shown part that also mends another unsafe sum if there is
       one (so hidden cells close up into small rectangles instead of spreading), else the
       smallest shown part, else the total: small cells cost the reader least.
    3. Secondary, globally: chains of relations can still pin a cell down (e.g. a quarter
       from a year and a month from that quarter). `disclosed` solves the whole linear
       system of shown figures; any small cell it can determine gets another complement,
       and steps 2-3 repeat until nothing small can be determined.

    `hidden` and `fixed` pin earlier releases (never revised): cells hidden before start
    hidden, and cells shown before (`fixed`) are never chosen as complements.
    """
    p = _Protection(np.asarray(values, dtype=float), relations, threshold, hidden, fixed)
    while True:
        p.pair_pass()
        leaked = np.flatnonzero(disclosed(p.suppressed, p.members) & p.primary)
        if not len(leaked):
            return p.suppressed, p.primary
        hid = False
        for cell in leaked:
            for r in p.by_cell.get(int(cell), []):
                if p.hide_complement(r, exclude=int(cell)):
                    hid = True
                    break
        if not hid:
            # Every relation touching the leaked cells is fully hidden, yet a longer chain
            # still pins them down: widen the hiding to the next ring of relations.
            ring = {r for cell in leaked for c in p.linked(int(cell)) for r in p.by_cell[c]}
            if not any(p.hide_complement(r, exclude=-1) for r in sorted(ring)):
                raise RuntimeError("suppression cannot protect every small MARAC count; nothing was published")


class _Protection:
    """The working state of `protect`: cell values, sums, and which cells are hidden."""

    def __init__(self, values: np.ndarray, relations: list[tuple[int, list[int]]], threshold: int,
                 hidden: np.ndarray | None = None, fixed: np.ndarray | None = None):
        self.values = values
        self.threshold = threshold
        self.primary = values < threshold
        self.suppressed = self.primary | (np.zeros(len(values), dtype=bool) if hidden is None else np.asarray(hidden, dtype=bool))
        self.fixed = np.zeros(len(values), dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
        self.members = [np.array([total, *parts], dtype=int) for total, parts in relations]
        self.by_cell: dict[int, list[int]] = {}
        for r, m in enumerate(self.members):
            for c in m:
                self.by_cell.setdefault(int(c), []).append(r)

    def unsafe(self, r: int) -> bool:
        """Exactly one hidden cell, or a shown total whose hidden parts add up to under the threshold."""
        m = self.members[r]
        hidden = self.suppressed[m]
        count = int(hidden.sum())
        if count == 0 or count == len(m):
            return False
        return count == 1 or (not hidden[0] and self.values[m[1:]][hidden[1:]].sum() < self.threshold)

    def pair_pass(self) -> None:
        """Hide complements until every relation with a hidden cell is safe on its own."""
        changed = True
        while changed:
            changed = False
            for r, m in enumerate(self.members):
                if self.unsafe(r):
                    hidden = m[self.suppressed[m]]
                    changed |= self.hide_complement(r, exclude=int(hidden[0]) if len(hidden) == 1 else -1)

    def hide_complement(self, r: int, exclude: int) -> bool:
        """Hide one more cell of relation `r`; False if all are hidden already."""
        m = self.members[r]
        parts = [int(c) for c in m[1:] if not self.suppressed[c] and c != exclude and not self.fixed[c]]
        if parts:
            choice = min(parts, key=lambda c: (not self.mends_another(c, r), self.values[c], c))
        elif not self.suppressed[m[0]] and m[0] != exclude and not self.fixed[m[0]]:
            choice = int(m[0])
        else:
            return False
        self.suppressed[choice] = True
        return True

    def mends_another(self, cell: int, current: int) -> bool:
        return any(r != current and self.unsafe(r) for r in self.by_cell.get(cell, []))

    def linked(self, cell: int) -> set[int]:
        """Hidden cells reachable from `cell` through relations' hidden members."""
        seen, todo = {cell}, [cell]
        while todo:
            for r in self.by_cell.get(todo.pop(), []):
                for c in self.members[r]:
                    if self.suppressed[c] and int(c) not in seen:
                        seen.add(int(c))
                        todo.append(int(c))
        return seen


def disclosed(suppressed: np.ndarray, members: list[np.ndarray], tol: float = 1e-9) -> np.ndarray:
    """Hidden cells whose exact value follows from the shown cells and the relations.

    The hidden cells are the unknowns of the linear system A x = b (one row per relation,
    shown values moved to the right). A hidden cell is determined exactly when its unit
    vector lies in A's row space, i.e. when every null-space vector is zero there.
    """
    suppressed = np.asarray(suppressed, dtype=bool)
    result = np.zeros(len(suppressed), dtype=bool)
    unknown = np.flatnonzero(suppressed)
    if not len(unknown):
        return result
    position = {int(c): i for i, c in enumerate(unknown)}
    rows = []
    for m in members:
        hidden = suppressed[m]
        if not hidden.any():
            continue
        row = np.zeros(len(unknown))
        for j, c in enumerate(m):
            if suppressed[c]:
                row[position[int(c)]] += 1.0 if j == 0 else -1.0
        rows.append(row)
    if not rows:
        return result
    a = np.array(rows)
    # Independent blocks of unknowns (linked by some relation) are solved separately: the
    # system is very sparse, and a few small SVDs are far cheaper than one large one.
    for block in _blocks(a):
        sub = a[:, block]
        sub = sub[np.any(sub != 0, axis=1)]
        _, s, vt = np.linalg.svd(sub, full_matrices=True)
        rank = int(np.sum(s > tol * max(1.0, s.max(initial=0.0))))
        null = vt[rank:]
        determined = np.all(np.abs(null) < 1e-7, axis=0) if len(null) else np.ones(len(block), dtype=bool)
        result[unknown[block[determined]]] = True
    return result


def _blocks(a: np.ndarray) -> list[np.ndarray]:
    """Column groups of `a` connected through shared non-zero rows (union-find)."""
    parent = list(range(a.shape[1]))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for row in a:
        cols = np.flatnonzero(row)
        for c in cols[1:]:
            ra, rb = find(int(cols[0])), find(int(c))
            if ra != rb:
                parent[rb] = ra
    groups: dict[int, list[int]] = {}
    for c in range(a.shape[1]):
        groups.setdefault(find(c), []).append(c)
    return [np.array(g) for g in groups.values()]


# --------------------------------------------------------------------------- the release


@dataclass(frozen=True)
class Release:
    """Every MARAC figure the dashboard can show, already protected.

    `cells` has one row per (period_type, period, area, measure): label, start, months_held,
    months_in_period, value (the true count; never leaves this module unmasked) and
    suppressed. `shown` is the only way to read a value. `held` is the months the store
    covered, so the disclosure audit knows which months each period adds up.
    """

    cells: pd.DataFrame
    threshold: int
    first_month: pd.Timestamp | None
    relations: list = field(default_factory=list, repr=False)
    held: tuple = ()
    parts: tuple = ()  # the upper-tier areas that add up to the force (ELSEWHERE last, if any)

    @property
    def areas(self) -> list[str]:
        """Every area the release has figures for: the force, then its parts."""
        return [geography.FORCE] + [a for a in self.parts if a != ELSEWHERE]

    def shown(self, period_type: str, area: str, measure: str) -> pd.DataFrame:
        """label, start, months_held, value (float, NaN where suppressed) for one series."""
        rows = self.cells[
            (self.cells["period_type"] == period_type) & (self.cells["area"] == area) & (self.cells["measure"] == measure)
        ].sort_values("start")
        value = rows["value"].astype(float).where(~rows["suppressed"])
        return pd.DataFrame(
            {"label": rows["label"].to_numpy(), "start": rows["start"].to_numpy(),
             "months_held": rows["months_held"].to_numpy(), "months_in_period": rows["months_in_period"].to_numpy(),
             "value": value.to_numpy()}
        )

    def periods(self, period_type: str) -> pd.DataFrame:
        rows = self.cells[self.cells["period_type"] == period_type]
        return rows.drop_duplicates("start").sort_values("start")[["label", "start", "months_held", "months_in_period"]]

    def published(self) -> pd.DataFrame:
        """What a reader sees: period_type, start, area, measure, shown (NaN where hidden)."""
        return self.cells.assign(shown=self.cells["value"].astype(float).where(~self.cells["suppressed"]))[
            ["period_type", "start", "area", "measure", "shown"]]


class RevisionError(ValueError):
    """The store's figures differ from figures already released; released figures are never revised."""


def _period_keys(months: pd.DatetimeIndex, periods=tuple(ALL_PERIOD_TYPES)) -> dict[str, pd.DatetimeIndex]:
    """Start of the period each held month falls in, per period type."""
    keys = {
        MONTH: months,
        QUARTER: months.to_period("Q").to_timestamp(),
        CALENDAR: pd.DatetimeIndex([pd.Timestamp(m.year, 1, 1) for m in months]),
        FINANCIAL: pd.DatetimeIndex([pd.Timestamp(limits.fy_of(m), limits.FY_START_MONTH, 1) for m in months]),
    }
    return {t: keys[t] for t in periods}


def period_label(period_type: str, start: pd.Timestamp, months_held: int) -> str:
    """"Apr 2025", "Apr-Jun 2025", "2025", "2025/26"; partial periods say how much is held."""
    start = pd.Timestamp(start)
    if period_type == MONTH:
        label = f"{start:%b %Y}"
    elif period_type == QUARTER:
        label = f"{start:%b}-{start + pd.DateOffset(months=2):%b %Y}"
    elif period_type == CALENDAR:
        label = f"{start.year}"
    else:
        label = f"{start.year}/{str(start.year + 1)[-2:]}"
    full = PERIOD_MONTHS[period_type]
    return label if months_held >= full else f"{label} ({months_held} of {full} months)"


CELL_KEY = ["period_type", "start", "area", "measure"]


def build_release(monthly: pd.DataFrame, held: pd.DatetimeIndex, threshold: int = DEFAULT_SUPPRESS_BELOW,
                  periods: tuple[str, ...] = RELEASED_PERIODS, complete_only: bool = True,
                  pinned: pd.DataFrame | None = None) -> Release:
    """Protect every publishable MARAC figure at once.

    `monthly`: measure, month, area (the parent area: County Council Area, Derby City, or
    ELSEWHERE), count. `held`: the months the dataset covers (a month not held is missing,
    not zero, and belongs to no period). `periods` and `complete_only` default to what is
    released (complete quarters and financial years); other values exist only so tests can
    rebuild the tables published before, to show what they gave away. `pinned`: cells
    released earlier (CELL_KEY + shown, NaN where hidden), which are never revised: a cell
    hidden before stays hidden, a cell shown before keeps its figure or RevisionError.
    """
    held = pd.DatetimeIndex(sorted(pd.to_datetime(held))).unique()
    frame = monthly.assign(month=pd.to_datetime(monthly["month"]))
    frame = frame[frame["month"].isin(held)]
    found = {m.removeprefix(AGENCY_PREFIX) for m in frame["measure"] if m.startswith(AGENCY_PREFIX)}
    # A store built before agencies were counted has none: then only police/partners exist.
    agencies = (list(AGENCIES) + sorted(found - set(AGENCIES))) if found else []
    partner_measures = [AGENCY_PREFIX + a for a in agencies if a != POLICE_AGENCY]
    # The force's parts are the parent areas the records name, in name order (Derbyshire: County
    # Council Area, Derby City); a store's own order would differ by store, a release must not.
    named = sorted(set(frame["area"].dropna()) - {ELSEWHERE, geography.FORCE})
    parts_areas = named + ([ELSEWHERE] if (frame["area"] == ELSEWHERE).any() else [])
    measures = [CASES, REPEATS, POLICE, PARTNERS] + partner_measures
    wide = frame.pivot_table(index=["month", "area"], columns="measure", values="count", aggfunc="sum")
    wide = wide.reindex(index=pd.MultiIndex.from_product([held, parts_areas], names=["month", "area"]),
                        columns=measures).fillna(0).astype(int)
    wide[FIRST] = wide[CASES] - wide[REPEATS]

    keys = _period_keys(held, periods)
    parts = []
    for period_type, starts in keys.items():
        mapping = pd.Series(starts, index=held)
        grouped = wide.reset_index()
        grouped["start"] = grouped["month"].map(mapping)
        sums = grouped.groupby(["start", "area"])[BASE_MEASURES + partner_measures].sum()
        force = sums.groupby(level="start").sum()
        force["area"] = geography.FORCE
        force = force.set_index("area", append=True)
        sums = pd.concat([sums, force]).sort_index()
        months_held = pd.Series(1, index=held).groupby(mapping.to_numpy()).sum()
        wanted = BASE_MEASURES + (partner_measures if period_type in YEAR_TYPES else [])
        long = sums[wanted].stack().reset_index()
        long.columns = ["start", "area", "measure", "value"]
        long["period_type"] = period_type
        long["months_held"] = long["start"].map(months_held).astype(int)
        long["months_in_period"] = PERIOD_MONTHS[period_type]
        if complete_only:
            long = long[long["months_held"] == long["months_in_period"]]
        long["label"] = [period_label(period_type, s, n) for s, n in zip(long["start"], long["months_held"])]
        parts.append(long)
    cells = pd.concat(parts, ignore_index=True)
    cells["value"] = cells["value"].astype(int)
    relations = _relations(cells, parts_areas, partner_measures)
    check_relations(cells["value"].to_numpy(), relations)
    hidden = fixed = None
    if pinned is not None and len(pinned):
        hidden, fixed = _pins(cells, pinned)
    suppressed, primary = protect(cells["value"].to_numpy(), relations, threshold, hidden, fixed)
    cells["suppressed"] = suppressed
    cells["primary"] = primary
    return Release(cells, threshold, held.min() if len(held) else None, relations, tuple(held), tuple(parts_areas))


def _pins(cells: pd.DataFrame, pinned: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(hidden before, shown before) masks over `cells`; RevisionError if a shown figure changed."""
    earlier = pinned.assign(start=pd.to_datetime(pinned["start"])).drop_duplicates(CELL_KEY, keep="first")
    merged = cells[CELL_KEY + ["value"]].merge(earlier[CELL_KEY + ["shown"]], on=CELL_KEY, how="left", indicator=True)
    before = (merged["_merge"] == "both").to_numpy()
    shown_before = before & merged["shown"].notna().to_numpy()
    changed = shown_before & (merged["shown"].to_numpy() != merged["value"].to_numpy())
    if changed.any():
        rows = merged[changed].head(5)
        listed = "; ".join(f"{r.area} {r.measure} {r.period_type} from {pd.Timestamp(r.start):%Y-%m}: "
                           f"released {int(r.shown)}, now {int(r.value)}" for r in rows.itertuples())
        raise RevisionError(
            f"{int(changed.sum())} MARAC figure(s) already released would change ({listed}). Released figures are "
            "never revised; MARAC is withheld until the change is resolved (see docs/security.md)")
    return before & ~shown_before, shown_before


def check_relations(values: np.ndarray, relations: list) -> None:
    """Refuse to protect figures that do not add up: the protection assumes they do."""
    for total, parts in relations:
        if values[total] != sum(values[p] for p in parts):
            raise ValueError(
                "MARAC figures in the store do not add up (a total differs from the sum of its parts); "
                "rebuild the store with `python app.py demo` or re-import the MARAC files"
            )


def _relations(cells: pd.DataFrame, parts_areas: list[str], partner_measures: list[str]) -> list:
    """Every way the publishable cells add up (see `protect`)."""
    index = {(t, pd.Timestamp(s), a, m): i for i, (t, s, a, m) in enumerate(
        zip(cells["period_type"], cells["start"], cells["area"], cells["measure"]))}
    held = {(t, pd.Timestamp(s)): n for t, s, n in zip(cells["period_type"], cells["start"], cells["months_held"])}
    relations = []
    # Areas: Force = County + City (+ elsewhere), for every period and measure.
    for (t, s, a, m), i in index.items():
        if a == geography.FORCE:
            relations.append((i, [index[(t, s, p, m)] for p in parts_areas]))
    # Measures: cases = repeats + first referrals = police + partners; partners = its agencies.
    for (t, s, a, m), i in index.items():
        if m == CASES:
            relations.append((i, [index[(t, s, a, REPEATS)], index[(t, s, a, FIRST)]]))
            relations.append((i, [index[(t, s, a, POLICE)], index[(t, s, a, PARTNERS)]]))
            if t in YEAR_TYPES and partner_measures:
                relations.append((index[(t, s, a, PARTNERS)], [index[(t, s, a, p)] for p in partner_measures]))
    # Time: a quarter is its months, a year its quarters, wherever all of them are released.
    for big, small in ((QUARTER, MONTH), (CALENDAR, QUARTER), (FINANCIAL, QUARTER)):
        for (t, s), months in held.items():
            if t != big:
                continue
            end = s + pd.DateOffset(months=PERIOD_MONTHS[big])
            inside = [ss for (tt, ss) in held if tt == small and s <= ss < end]
            if not inside or sum(held[(small, ss)] for ss in inside) != months:
                continue
            for a in [geography.FORCE] + parts_areas:
                for m in BASE_MEASURES:
                    relations.append((index[(big, s, a, m)], [index[(small, ss, a, m)] for ss in inside]))
    return relations


# Per-process cache: the release is computed once per store version and threshold.
_CACHE: dict[tuple, Release] = {}
_CACHE_LOCK = threading.Lock()


def release(store, threshold: int = DEFAULT_SUPPRESS_BELOW, state_dir: Path | None = None) -> Release:
    """The protected release for the store's current MARAC version (cached per version).

    With `state_dir`, the release is the one in the ledger (queries/marac_ledger.py): a
    version released before is read back, never recomputed differently; a new version is
    protected with the earlier releases pinned, audited over the whole ledger, and appended.
    """
    store.refresh()
    version = store.datasets.get(DATASET)
    if version is None:
        raise LookupError(f"the store at {store.data_dir} holds no MARAC data; import some with `python app.py import marac`")
    key = (str(store.data_dir), str(version), int(threshold), str(state_dir))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    monthly = store.query(
        "SELECT measure, month, coalesce(parent, ?) AS area, sum(count)::BIGINT AS count "
        "FROM monthly WHERE dataset = ? AND force = ? GROUP BY ALL",
        [ELSEWHERE, DATASET, geography.areas(store.data_dir).force.slug],
    )
    held = pd.DatetimeIndex(pd.to_datetime(
        store.query("SELECT DISTINCT month FROM coverage WHERE dataset = ? ORDER BY month", [DATASET])["month"]))
    if state_dir is None:
        result = build_release(monthly, held, threshold)
    else:
        from queries import marac_ledger

        result = marac_ledger.release_through_ledger(state_dir, str(version), monthly, held, threshold)
    with _CACHE_LOCK:
        _CACHE.clear()  # one version at a time is plenty
        _CACHE[key] = result
    return result


# --------------------------------------------------------------------------- tables


def shown_value(value: float) -> int | str:
    """A count as published: the integer, or the suppression marker."""
    return SUPPRESSED if value is None or (isinstance(value, float) and np.isnan(value)) else int(value)


def _pct(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """A percentage (one decimal) only where both figures are shown and the denominator is not 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = (100 * numerator / denominator).round(1)
    return pct.where(numerator.notna() & denominator.notna() & (denominator > 0))


def _shown_pct(value: float) -> float | str:
    return SUPPRESSED if value is None or np.isnan(value) else float(value)


def history_incomplete(rel: Release, start: pd.Timestamp) -> bool:
    """True when less than 12 months of earlier referrals are held, so repeats are undercounted."""
    return rel.first_month is not None and pd.Timestamp(start) < rel.first_month + pd.DateOffset(months=REPEAT_WINDOW_MONTHS)


INCOMPLETE_NOTE = "repeats undercounted: under 12 months of earlier referrals held"


def period_table(rel: Release, area: str, period_type: str) -> pd.DataFrame:
    """Cases, repeats, repeat rate and referrals by police and partners, one row per period."""
    cases = rel.shown(period_type, area, CASES)
    repeats = rel.shown(period_type, area, REPEATS)["value"]
    police = rel.shown(period_type, area, POLICE)["value"]
    partners = rel.shown(period_type, area, PARTNERS)["value"]
    rate = _pct(repeats, cases["value"])
    police_share = _pct(police, cases["value"])
    return pd.DataFrame(
        {
            "Period": cases["label"],
            CASES: [shown_value(v) for v in cases["value"]],
            REPEATS: [shown_value(v) for v in repeats],
            "Repeat rate (%)": [_shown_pct(v) for v in rate],
            "Police referrals": [shown_value(v) for v in police],
            "Partner agency referrals": [shown_value(v) for v in partners],
            "Police share (%)": [_shown_pct(v) for v in police_share],
            "Note": [INCOMPLETE_NOTE if history_incomplete(rel, s) else "" for s in cases["start"]],
        }
    )


def chart_table(rel: Release, area: str, period_type: str) -> pd.DataFrame:
    """The data behind the cases and repeat-rate charts (suppressed values are NaN)."""
    cases = rel.shown(period_type, area, CASES)
    repeats = rel.shown(period_type, area, REPEATS)["value"]
    return pd.DataFrame(
        {
            "period": cases["label"],
            "start": pd.to_datetime(cases["start"]),
            "cases": cases["value"],
            "repeats": repeats,
            "repeat_rate": _pct(repeats, cases["value"]),
            "history_incomplete": [history_incomplete(rel, s) for s in cases["start"]],
        }
    )


def chart_export(table: pd.DataFrame) -> pd.DataFrame:
    """A chart's data as a CSV: suppressed cells carry the marker, never a number."""
    return pd.DataFrame(
        {
            "period": table["period"],
            "cases": [shown_value(v) for v in table["cases"]],
            "repeat_cases": [shown_value(v) for v in table["repeats"]],
            "repeat_rate_pct": [_shown_pct(v) for v in table["repeat_rate"]],
            "repeat_target_pct": REPEAT_TARGET_PCT,
        }
    )


def split_table(rel: Release, period_type: str, *, own: geography.ForceAreas) -> pd.DataFrame:
    """City/County split: cases in each upper-tier part (unitaries, then counties), its share of the force, and the total."""
    force = rel.shown(period_type, geography.FORCE, CASES)
    table = pd.DataFrame({"Period": force["label"]})
    order = own.unitaries + own.county_names
    areas = sorted(rel.areas[1:], key=lambda a: (order.index(a) if a in order else len(order), a)) + (
        [ELSEWHERE] if (rel.cells["area"] == ELSEWHERE).any() else []
    )
    for area in areas:
        values = rel.shown(period_type, area, CASES)["value"]
        table[area] = [shown_value(v) for v in values]
        table[f"{area} share (%)"] = [_shown_pct(v) for v in _pct(values, force["value"])]
    table[geography.FORCE] = [shown_value(v) for v in force["value"]]
    return table


def agency_table(rel: Release, area: str, period_type: str) -> pd.DataFrame:
    """Referrals by agency (police first, then partners), one column per year."""
    if period_type not in YEAR_TYPES:
        period_type = FINANCIAL
    periods = rel.periods(period_type)
    rows = []
    agencies = sorted(
        {m.removeprefix(AGENCY_PREFIX) for m in rel.cells["measure"] if m.startswith(AGENCY_PREFIX)},
        key=lambda a: (AGENCIES.index(a) if a in AGENCIES else len(AGENCIES), a),
    )
    lines = [(POLICE_AGENCY, POLICE)] + [(a, AGENCY_PREFIX + a) for a in agencies] + [
        ("All partner agencies", PARTNERS), ("All referrals", CASES)]
    for name, measure in lines:
        values = rel.shown(period_type, area, measure)["value"]
        rows.append([name] + [shown_value(v) for v in values])
    return pd.DataFrame(rows, columns=["Referring agency"] + periods["label"].tolist())


# --------------------------------------------------------------------------- population


class LookupFileError(ValueError):
    """An editable lookup file (population, annotations) is unreadable; the message says where."""


@reparse_when_changed(lambda data_dir: Path(data_dir) / POPULATION_FILE)
def read_population(data_dir: Path) -> pd.DataFrame:
    """Adult females (18+) by area and year from data/marac-population.csv (editable).

    Returns area, year, adult_females, source_note for the MARAC areas. County Council Area
    and Force Area are taken from the file when given, else summed from its parts.
    """
    path = Path(data_dir) / POPULATION_FILE
    if not path.exists():
        raise LookupFileError(f"{path} is missing: it holds adult females by area ({','.join(POPULATION_COLUMNS)})")
    own = geography.areas(data_dir)
    known = own.csps + own.county_names + [geography.FORCE]
    header: list[str] | None = None
    rows = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            lines = [(n, line) for n, line in enumerate(handle, start=1) if line.strip() and not line.lstrip().startswith("#")]
    except UnicodeDecodeError:
        raise LookupFileError(f"{path} is not UTF-8 text; save it as 'CSV UTF-8'") from None
    for number, fields in zip([n for n, _ in lines], csv.reader([line for _, line in lines])):
        fields = [f.strip() for f in fields]
        if header is None:
            header = [f.lower() for f in fields]
            missing = [c for c in POPULATION_COLUMNS if c not in header]
            if missing:
                raise LookupFileError(f"{path} line {number}: missing column(s) {', '.join(missing)}; "
                                      f"expected {','.join(POPULATION_COLUMNS)}")
            continue
        row = dict(zip(header, fields + [""] * len(header)))
        if row["area"] not in known:
            raise LookupFileError(f"{path} line {number}: unknown area {row['area']!r}; choose one of: {', '.join(known)}")
        try:
            females, year = int(row["adult_females"].replace(",", "")), int(row["year"])
        except ValueError:
            raise LookupFileError(f"{path} line {number}: adult_females and year must be whole numbers") from None
        if females <= 0:
            raise LookupFileError(f"{path} line {number}: adult_females must be positive")
        rows.append((row["area"], year, females, row["source_note"]))
    table = pd.DataFrame(rows, columns=["area", "year", "adult_females", "source_note"])
    out = []
    for year, group in table.groupby("year"):
        given = dict(zip(group["area"], group["adult_females"]))
        notes = "; ".join(sorted(set(group["source_note"]) - {""}))
        parts = {}
        for upper in own.counties:
            total = given.get(upper.name)
            if total is None and all(c in given for c in upper.csps):
                total = sum(given[c] for c in upper.csps)
            parts[upper.name] = total
        parts.update({u: given.get(u) for u in own.unitaries})
        force = given.get(geography.FORCE, sum(parts.values()) if all(parts.values()) else None)
        for area, value in ((geography.FORCE, force), *parts.items()):
            if value:
                out.append((area, int(year), int(value), notes))
    return pd.DataFrame(out, columns=["area", "year", "adult_females", "source_note"])


def rate_table(rel: Release, population: pd.DataFrame, period_type: str = FINANCIAL) -> pd.DataFrame:
    """Cases a year per 10,000 adult females against SafeLives' 40, per year and area.

    Part years are annualised (cases x 12 / months held) and say so. Each year uses the
    population of the latest year in the file not after it (else the earliest).
    """
    if period_type not in YEAR_TYPES:
        period_type = FINANCIAL
    rows = []
    for area in rel.areas:
        pops = population[population["area"] == area].sort_values("year")
        for r in rel.shown(period_type, area, CASES).itertuples():
            year = pd.Timestamp(r.start).year
            if pops.empty:
                females, pop_year = np.nan, None
            else:
                earlier = pops[pops["year"] <= year]
                pick = earlier.iloc[-1] if len(earlier) else pops.iloc[0]
                females, pop_year = float(pick["adult_females"]), int(pick["year"])
            annual = r.value * MONTHS_PER_YEAR / r.months_held if r.months_held else np.nan
            rate = round(annual / females * PER_POPULATION, 1) if not np.isnan(annual) and females == females else np.nan
            note = [] if r.months_held >= MONTHS_PER_YEAR else [
                f"annualised from {r.months_held} month{'s' if r.months_held != 1 else ''}"]
            if pop_year is not None and pop_year != year:
                note.append(f"population of {pop_year}")
            rows.append({
                "Year": r.label, "Area": area, CASES: shown_value(r.value),
                "Adult females (approx.)": int(females) if females == females else "",
                "Cases per 10,000 adult females a year": _shown_pct(rate),
                "SafeLives benchmark": SAFELIVES_BENCHMARK,
                "Difference from benchmark": _shown_pct(round(rate - SAFELIVES_BENCHMARK, 1) if rate == rate else np.nan),
                "Note": "; ".join(note),
                "start": r.start,
            })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    order = {a: i for i, a in enumerate(rel.areas)}
    table = table.sort_values(["start", "Area"], key=lambda s: s.map(order) if s.name == "Area" else s, ignore_index=True)
    return table.drop(columns="start")


# --------------------------------------------------------------------------- annotations



