"""The disclosure audit of MARAC releases: what could a reader work out from *everything* released?

`queries.marac.protect` checks the sums of one release. A reader holds every release ever
published (the ledger), and every published cell, whatever its period, is a sum of the same
underlying counts: referrals per month, per half of the force (County, City), split two
ways (repeat or first referral; by referring agency). So the audit models those counts as
unknowns x >= 0 and each shown cell as one equation over them, for all releases at once:

* exact recovery: a hidden cell is determined when its sum vector lies in the row space
  of the shown cells' equations (a row-space test, as `marac.disclosed` does for one release);
* interval disclosure: linear programming (scipy's HiGHS) gives the least and greatest
  value each hidden cell can take; the audit fails when upper - lower is under the
  threshold (CSP_SUPPRESS_BELOW), e.g. a hidden 4 known to lie in [4, 5].

The linear algebra and the LPs are queries/disclosure_audit.py's, shared with the hate crime
public release's audit (queries/hate_ledger.py): this module only says which underlying
counts each MARAC cell adds up. Months always published together are merged into one
unknown, which keeps the programme small without changing any bound.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from queries import disclosure_audit, geography
from queries.marac import (AGENCY_PREFIX, CASES, FIRST, PARTNERS, PERIOD_MONTHS, POLICE, POLICE_AGENCY, REPEATS)

@dataclass(frozen=True)
class Published:
    """One release as a reader has it: cells (period_type, start, area, measure, shown: NaN where
    hidden) and the months the store held, which say which months each period adds up."""

    cells: pd.DataFrame
    held: tuple


@dataclass(frozen=True)
class AuditResult:
    """Hidden cells with their bounds; `exact` and `narrow` are the failures."""

    hidden: pd.DataFrame  # period_type, start, area, measure, months, lower, upper, exact
    revisions: pd.DataFrame  # cells shown with two different figures in two releases
    threshold: int
    # Unpublished counts worked out exactly and under the threshold (area, measure, months, value),
    # e.g. one quarter's referrals by an agency as a calendar year minus a financial year.
    derived: pd.DataFrame = None

    @property
    def exact(self) -> pd.DataFrame:
        return self.hidden[self.hidden["exact"]]

    @property
    def narrow(self) -> pd.DataFrame:
        return self.hidden[(self.hidden["upper"] - self.hidden["lower"]) < self.threshold]

    @property
    def ok(self) -> bool:
        return self.exact.empty and self.narrow.empty and self.revisions.empty and self.derived.empty

    def summary(self) -> str:
        if self.ok:
            return f"audit passed: {len(self.hidden)} hidden cells, none narrower than {self.threshold}"
        parts = []
        if len(self.exact):
            parts.append(f"{len(self.exact)} hidden cell(s) exactly recoverable")
        if len(self.narrow):
            parts.append(f"{len(self.narrow)} hidden cell(s) pinned to a range narrower than {self.threshold}")
        if len(self.derived):
            r = self.derived.iloc[0]
            parts.append(f"{len(self.derived)} unpublished count(s) under {self.threshold} worked out exactly "
                         f"(e.g. {r['area']}, {r['measure']}, {pd.Timestamp(r['months'][0]):%b %Y}-"
                         f"{pd.Timestamp(r['months'][-1]):%b %Y} = {r['value']:.0f})")
        if len(self.revisions):
            parts.append(f"{len(self.revisions)} figure(s) released twice with different values")
        example = self.narrow.head(1)
        if len(example):
            r = example.iloc[0]
            parts.append(f"e.g. {r['area']}, {r['measure']}, {r['period_type']} from {pd.Timestamp(r['start']):%Y-%m}: "
                         f"between {r['lower']:.0f} and {r['upper']:.0f}")
        return "; ".join(parts)


def _months_of(period_type: str, start: pd.Timestamp, held: set) -> tuple:
    end = start + pd.DateOffset(months=PERIOD_MONTHS[period_type])
    return tuple(sorted(m for m in held if start <= m < end))


def _stack(releases: list[Published]) -> pd.DataFrame:
    """Every published cell with the months it covers; one row per distinct (cell, months)."""
    frames = []
    for seq, rel in enumerate(releases):
        held = {pd.Timestamp(m) for m in rel.held}
        cells = rel.cells.assign(start=pd.to_datetime(rel.cells["start"]))
        months = {(t, s): _months_of(t, s, held) for t, s in set(zip(cells["period_type"], cells["start"]))}
        frames.append(cells.assign(months=[months[(t, s)] for t, s in zip(cells["period_type"], cells["start"])],
                                   release=seq))
    return pd.concat(frames, ignore_index=True)


def audit(releases: list[Published], threshold: int) -> AuditResult:
    """Audit everything in `releases` together (the whole ledger, plus a candidate release)."""
    cells = _stack(releases)
    key = ["period_type", "start", "area", "measure", "months"]
    shown_values = cells[cells["shown"].notna()].groupby(key, sort=False)["shown"].agg(["min", "max"]).reset_index()
    revisions = shown_values[shown_values["min"] != shown_values["max"]]
    shown = shown_values[["period_type", "start", "area", "measure", "months", "min"]].rename(columns={"min": "shown"})
    shown_keys = set(map(tuple, shown[key].itertuples(index=False, name=None)))
    hidden = cells[cells["shown"].isna()].drop_duplicates(key)
    # A boolean array, not a list: an empty list would select no columns instead of no rows.
    hidden = hidden[np.array([k not in shown_keys for k in hidden[key].itertuples(index=False, name=None)], dtype=bool)]

    # Unknowns: (month group, area, atom). Months that every cell takes together are one group.
    all_months = sorted({m for ms in cells["months"] for m in ms})
    signatures: dict = {}
    for ms in set(cells["months"]):
        for m in ms:
            signatures.setdefault(m, set()).add(ms)
    groups: dict = {}
    for m in all_months:
        groups.setdefault(frozenset(signatures[m]), []).append(m)
    group_of = {m: g for g, months in enumerate(groups.values()) for m in months}
    areas = sorted({a for a in cells["area"] if a != geography.FORCE})
    agencies = sorted({m.removeprefix(AGENCY_PREFIX) for m in cells["measure"] if m.startswith(AGENCY_PREFIX)}
                      | ({POLICE_AGENCY} if any(m.startswith(AGENCY_PREFIX) for m in cells["measure"]) else set()))
    agency_atoms = [f"agency:{a}" for a in agencies] or [POLICE, PARTNERS]
    atoms = [REPEATS, FIRST] + agency_atoms
    n_groups = len(groups)
    column = {(g, a, t): i for i, (g, a, t) in enumerate(
        (g, a, t) for g in range(n_groups) for a in areas for t in atoms)}

    def atoms_of(measure: str) -> list[str]:
        if measure == CASES:
            return [REPEATS, FIRST]
        if measure in (REPEATS, FIRST):
            return [measure]
        if not agencies:
            return [measure]
        if measure == POLICE:
            return [f"agency:{POLICE_AGENCY}"]
        if measure == PARTNERS:
            return [f"agency:{a}" for a in agencies if a != POLICE_AGENCY]
        return [f"agency:{measure.removeprefix(AGENCY_PREFIX)}"]

    def vector(area: str, measure: str, months: tuple) -> np.ndarray:
        row = np.zeros(len(column))
        for g in {group_of[m] for m in months}:
            for a in (areas if area == geography.FORCE else [area]):
                for t in atoms_of(measure):
                    row[column[(g, a, t)]] = 1.0
        return row

    rows = [vector(a, m, ms) for a, m, ms in zip(shown["area"], shown["measure"], shown["months"])]
    rhs = list(shown["shown"].astype(float))
    # The two splits of one month's referrals agree: repeats + first = all agencies.
    for g in range(n_groups):
        for a in areas:
            row = np.zeros(len(column))
            row[column[(g, a, REPEATS)]] = row[column[(g, a, FIRST)]] = 1.0
            for t in agency_atoms:
                row[column[(g, a, t)]] = -1.0
            rows.append(row)
            rhs.append(0.0)
    system = disclosure_audit.LinearSystem(np.array(rows) if rows else np.zeros((0, len(column))), rhs, len(column))
    lower, upper, exact = [], [], []
    for area, measure, months in zip(hidden["area"], hidden["measure"], hidden["months"]):
        c = vector(area, measure, months)
        exact.append(system.determined(c))
        low, high = system.bounds(c)
        lower.append(low), upper.append(high)
    hidden = hidden[["period_type", "start", "area", "measure", "months"]].assign(
        lower=lower, upper=upper, exact=exact)
    hidden["upper"] = hidden["upper"].fillna(hidden["lower"])
    hidden = hidden.assign(lower=hidden["lower"].fillna(0.0), upper=hidden["upper"].fillna(0.0))

    # Unpublished counts: every month group x area x measure a reader might want. Exactly
    # determined ones take the same value in every solution, so one least-squares solution
    # gives it; under the threshold (zeros too) is a disclosure.
    measures = sorted(set(cells["measure"]))
    derived = []
    for months in groups.values():
        for area in areas + [geography.FORCE]:
            for measure in measures:
                c = vector(area, measure, tuple(months))
                if not system.determined(c):
                    continue
                value = system.value(c)
                if round(value) < threshold:
                    derived.append((area, measure, tuple(months), round(value)))
    derived = pd.DataFrame(derived, columns=["area", "measure", "months", "value"])
    return AuditResult(hidden.reset_index(drop=True), revisions.reset_index(drop=True), threshold, derived)


def published(release) -> Published:
    """A marac.Release as a reader has it."""
    return Published(release.published(), tuple(release.held))
