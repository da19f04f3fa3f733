"""The append-only ledger of public hate crime releases, and the audit over all of them.

The public release (queries/hate_release.py) is protected within itself. But a reader keeps
what was published before: when a re-import revises a month, or a release carries
overlapping periods (a month beside the year to date), two releases can differ by exactly a
hidden cell. E.g. release 1 hides Race in CSP A (3) with B (6) as its complement and shows C
(20) and the County (29); a re-import corrects B to 25, and release 2, protected on its own,
hides C instead and shows B (25) and the County (48): A + C = 23 and C = 20, so A = 3.

So, as for MARAC (queries/marac_ledger.py):

* Each release the public sees is appended here (state directory, `hate_ledger` table;
  triggers refuse UPDATE and DELETE) the first time it is made, with what was shown and the
  counts it was built from.
* A new release starts with every cell hidden in an earlier release hidden again, and is
  audited over the whole ledger plus itself with the one disclosure audit
  (queries/disclosure_audit.py): exact recovery and interval bounds (LP) of every hidden cell
  of every release. A failing hidden cell gets one more complement hidden, and the audit runs
  again; what still fails is not released (DisclosureError: the public page says so).

The reader is assumed to know which underlying counts a revision changed (the worst case):
an underlying count (kind, strand, CSP, month) is the same unknown in two releases when it
holds the same value, and a new unknown when a re-import changed it. This is why the ledger
keeps the counts each release was built from: it is as sensitive as the store itself and
lives only in the state directory, beside the MARAC ledger.

Unlike MARAC, hate figures may be revised (police recorded crime is, routinely): a shown
figure can change from one release to the next; what must never happen is a hidden count
under the threshold becoming recoverable.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from queries import disclosure_audit, geography, hate, hate_release, limits, statedb

SCHEMA = """
CREATE TABLE IF NOT EXISTS hate_ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    version TEXT NOT NULL UNIQUE,
    threshold INTEGER NOT NULL,
    county TEXT NOT NULL,
    counts TEXT NOT NULL,
    cells TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS hate_ledger_no_update BEFORE UPDATE ON hate_ledger
    BEGIN SELECT RAISE(ABORT, 'the hate crime ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS hate_ledger_no_delete BEFORE DELETE ON hate_ledger
    BEGIN SELECT RAISE(ABORT, 'the hate crime ledger is append-only'); END;
"""
# Rounds of "hide one more complement per failing cell, audit again" before giving up.
MAX_REPAIR_ROUNDS = 10
KEY = hate_release.CELL_KEY
# A lower bound above this is above zero (LP round-off aside).
LOWER_TOLERANCE = 1e-6


class DisclosureError(RuntimeError):
    """The audit over the ledger fails and more hiding did not mend it: nothing is released."""


@dataclass(frozen=True)
class Published:
    """One release as the ledger keeps it: the cells as shown (NaN where hidden), the counts they
    were built from (kind, strand, area, month -> count) and each county row's CSPs."""

    cells: pd.DataFrame
    base: pd.Series
    counties: tuple  # ((county row, (its CSPs, ...)), ...)


def published(rel: hate_release.PublicRelease) -> Published:
    shown = rel.published()
    return Published(shown[KEY + ["shown"]].reset_index(drop=True), rel.base, tuple(rel.counties))


# --------------------------------------------------------------------------- the audit


@dataclass(frozen=True)
class AuditResult:
    """Every distinct hidden cell of every release with its bounds; `failing` is what a reader pins down."""

    hidden: pd.DataFrame  # release, KEY..., value (true count), lower, upper, exact
    threshold: int

    @property
    def small(self) -> pd.DataFrame:
        """Hidden counts under the threshold: the ones the release protects. (A larger count hidden
        as a complement may be worked out: it could have been published, and whatever a reader can
        derive is already in the equations the small counts are checked against.)"""
        return self.hidden[self.hidden["value"] < self.threshold]

    @property
    def narrow(self) -> pd.DataFrame:
        """Small hidden counts a reader can show to be above zero and within fewer than `threshold` values."""
        small = self.small
        above_zero = small["lower"] > LOWER_TOLERANCE
        return small[above_zero & ((small["upper"] - small["lower"]) < self.threshold)]

    @property
    def failing(self) -> pd.DataFrame:
        return pd.concat([self.small[self.small["exact"]], self.narrow]).drop_duplicates(["release", *KEY])

    @property
    def ok(self) -> bool:
        return self.failing.empty

    def summary(self) -> str:
        if self.ok:
            return f"audit passed: {len(self.hidden)} hidden cells audited, none narrower than {self.threshold}"
        r = self.failing.iloc[0]
        how = "exactly" if r["exact"] else f"to between {r['lower']:.0f} and {r['upper']:.0f}"
        return (f"{len(self.failing)} hidden hate crime cell(s) can be worked out from what was published, e.g. "
                f"{r['kind']}, {r['strand']}, {r['area']}, {r['period_type']} {pd.Timestamp(r['month']):%b %Y} {how}")


def _atoms(cell: tuple, strands: list[str], areas: list[str], counties: dict, held: list) -> list[tuple]:
    """The underlying counts (kind, strand, area, month) one published cell adds up."""
    kind, strand, area, period_type, month = cell
    cell_strands = strands if strand == hate.ALL_STRANDS else [strand]
    cell_areas = list(counties[area]) if area in counties else areas if area == geography.FORCE else [area]
    if period_type == hate_release.YTD:
        months = [m for m in held if limits.fy_of(m) == limits.fy_of(month) and m <= month]
    else:
        months = [month]
    return [(kind, s, a, m) for s in cell_strands for a in cell_areas for m in months]


def audit(releases: list[Published], threshold: int, only_new: bool = True, cache: dict | None = None) -> AuditResult:
    """Audit every hidden cell of `releases` (the ledger, then a candidate) against everything shown.

    With `only_new`, hidden cells that the earlier releases already audited and whose part of
    the system the last release leaves unchanged are not solved again (the earlier audit
    passed them): a new month costs its own block, not the whole history. `cache` (a dict the
    caller keeps between calls) remembers each cell's answer with its block's equations, so a
    repair round solves only the blocks it changed.
    """
    column: dict[tuple, int] = {}
    shown_rows, shown_values, targets = [], [], []  # targets: (release, cell key, columns)
    for seq, rel in enumerate(releases):
        base = rel.base
        strands = sorted({k[1] for k in base.index})
        areas = sorted({k[2] for k in base.index})
        held = sorted({pd.Timestamp(k[3]) for k in base.index})
        values = base.to_dict()
        cells = rel.cells.assign(month=pd.to_datetime(rel.cells["month"]))
        for *key, shown in cells[KEY + ["shown"]].itertuples(index=False, name=None):
            cols = []
            for atom in _atoms(tuple(key), strands, areas, dict(rel.counties), held):
                # One unknown per underlying count *and value*: unchanged counts are shared by releases.
                cols.append(column.setdefault((*atom, int(values.get(atom, 0))), len(column)))
            cols = tuple(sorted(cols))
            if shown == shown:  # not NaN
                shown_rows.append((seq, cols)), shown_values.append(float(shown))
            else:
                targets.append((seq, tuple(key), cols))
    n = len(column)
    # The true count of each hidden cell (the sum of the values its unknowns stand for).
    atom_value = {i: key[-1] for key, i in column.items()}
    value_of = {cols: sum(atom_value[c] for c in cols) for _, _, cols in targets}
    seen_rows: dict[tuple, int] = {}
    for (seq, cols), value in zip(shown_rows, shown_values):
        seen_rows.setdefault((cols, value), seq)
    row_ids = [i for i, (cols, _) in enumerate(seen_rows) for _ in cols]
    col_ids = [c for cols, _ in seen_rows for c in cols]
    matrix = sparse.csr_matrix((np.ones(len(col_ids)), (row_ids, col_ids)), shape=(len(seen_rows), n))
    system = disclosure_audit.LinearSystem(matrix, [v for _, v in seen_rows], n)
    last = len(releases) - 1
    new_blocks = {int(system.labels[cols[0]]) for (cols, _), seq in seen_rows.items() if seq == last and cols}
    by_block: dict[int, list] = {}
    for cols, value in seen_rows:
        if cols:
            by_block.setdefault(int(system.labels[cols[0]]), []).append((cols, value))
    signature = {label: hash(tuple(sorted(rows))) for label, rows in by_block.items()}
    cache = {} if cache is None else cache
    earlier_targets = {cols for seq, _, cols in targets if seq < last}
    # A cell hidden now but shown before with the same underlying counts is public already: hiding
    # it again protects nothing and working it out discloses nothing new.
    shown_before = {cols for cols, _ in seen_rows}
    todo, done = [], set()
    for seq, key, cols in targets:
        if cols in done or cols in shown_before or value_of[cols] >= threshold:
            continue  # public already, or a complement of 5 or more (see AuditResult.small)
        done.add(cols)
        if only_new and last > 0 and cols in earlier_targets and not (
                {int(system.labels[c]) for c in cols} & new_blocks):
            continue
        todo.append((seq, key, cols, (cols, tuple(sorted({signature.get(int(system.labels[c]), 0) for c in cols})))))
    fresh = [t for t in todo if t[3] not in cache]
    exact = [system.determined(cols) for _, _, cols, _ in fresh]
    # A cell a reader cannot tell from zero needs no bounds: nothing more can be learnt about it.
    zero = system.can_be_zero_many([cols for (_, _, cols, _), e in zip(fresh, exact) if not e])
    zero_of = iter(zero)
    for (_, _, cols, remembered), is_exact in zip(fresh, exact):
        if not is_exact and next(zero_of):
            cache[remembered] = (0.0, np.nan, False)
            continue
        low, high = system.bounds(cols)
        if low != low:  # the releases contradict each other: treat the cell as pinned
            low = high = 0.0
        cache[remembered] = (low, high, is_exact)
    results = [(seq, *key, value_of[cols], *cache[remembered]) for seq, key, cols, remembered in todo]
    hidden = pd.DataFrame(results, columns=["release", *KEY, "value", "lower", "upper", "exact"])
    return AuditResult(hidden, threshold)


# --------------------------------------------------------------------------- the ledger


def _connect(state_dir: Path):
    con = statedb.connect(state_dir)
    con.executescript(SCHEMA)
    return con


def _encode(rel: hate_release.PublicRelease) -> tuple[str, str, str]:
    counts = [[k, s, a, f"{pd.Timestamp(m):%Y-%m-%d}", int(v)] for (k, s, a, m), v in rel.base.items()]
    cells = [[k, s, a, t, f"{pd.Timestamp(m):%Y-%m-%d}", None if np.isnan(v) else int(v)]
             for k, s, a, t, m, v in rel.published()[KEY + ["shown"]].itertuples(index=False, name=None)]
    return json.dumps({name: list(csps) for name, csps in rel.counties}), json.dumps(counts), json.dumps(cells)


def _decode(county: str, counts: str, cells: str) -> Published:
    base = pd.DataFrame(json.loads(counts), columns=["kind", "strand", "area", "month", "count"])
    base["month"] = pd.to_datetime(base["month"])
    frame = pd.DataFrame(json.loads(cells), columns=KEY + ["shown"])
    frame["month"] = pd.to_datetime(frame["month"])
    frame["shown"] = frame["shown"].astype(float)
    counties = tuple((name, tuple(csps)) for name, csps in json.loads(county).items())
    return Published(frame, base.set_index(["kind", "strand", "area", "month"])["count"], counties)


def entries(state_dir: Path) -> list[tuple[str, Published]]:
    """(store version, release as published) in the order released."""
    con = _connect(state_dir)
    try:
        rows = con.execute("SELECT version, county, counts, cells FROM hate_ledger ORDER BY seq").fetchall()
    finally:
        con.close()
    return [(version, _decode(county, counts, cells)) for version, county, counts, cells in rows]


def _append(state_dir: Path, version: str, rel: hate_release.PublicRelease) -> None:
    county, counts, cells = _encode(rel)
    con = _connect(state_dir)
    try:
        con.execute("BEGIN IMMEDIATE")
        if not con.execute("SELECT 1 FROM hate_ledger WHERE version = ?", [version]).fetchone():
            con.execute("INSERT INTO hate_ledger (at, version, threshold, county, counts, cells) VALUES (?, ?, ?, ?, ?, ?)",
                        [datetime.now(timezone.utc).isoformat(timespec="seconds"), version, rel.threshold, county,
                         counts, cells])
        con.execute("COMMIT")
    except Exception as exc:
        con.execute("ROLLBACK") if con.in_transaction else None
        raise statedb.StateError(f"the hate crime ledger in {state_dir} cannot be written ({exc}); "
                                 "nothing was released") from None
    finally:
        con.close()


def _hidden_keys(published_: list[Published]) -> pd.DataFrame:
    frames = [p.cells[p.cells["shown"].isna()][KEY] for p in published_]
    return pd.concat(frames, ignore_index=True).drop_duplicates() if frames else pd.DataFrame(columns=KEY)


def from_ledger(kept: Published, threshold: int) -> hate_release.PublicRelease:
    """A version released before, rebuilt from what the ledger kept: its counts, its county rows and
    its mask (the cells it showed as hidden). No suppression runs: the figures are the ones the
    public saw, cell for cell, and a request pays only for reading them back.

    The unitaries are the areas of the kept cells, in the order they were released, that are
    neither a county's CSP nor a summary row (so the cells come back in the same order).
    """
    counties = dict(kept.counties)
    in_counties = {c for csps in counties.values() for c in csps}
    summary_rows = {*counties, geography.FORCE, geography.OUTSIDE, geography.UNALLOCATED}
    unitaries = [a for a in dict.fromkeys(kept.cells["area"]) if a not in in_counties and a not in summary_rows]
    counts = kept.base.rename("count").reset_index()
    shape = hate_release.structure(counts, counties={name: list(csps) for name, csps in counties.items()},
                                   unitaries=unitaries, ytd=bool((kept.cells["period_type"] == hate_release.YTD).any()))
    hidden = set(map(tuple, kept.cells[kept.cells["shown"].isna()][KEY].assign(
        month=lambda f: pd.to_datetime(f["month"])).itertuples(index=False, name=None)))
    mask = np.array([key in hidden for key in shape.keys], dtype=bool)
    if len(shape.keys) != len(kept.cells):
        raise DisclosureError("the hate crime ledger's release for this version cannot be rebuilt cell for cell; "
                              "nothing was released")
    return shape.release(mask, threshold)


def _shown_keys(published_: list[Published]) -> pd.DataFrame:
    frames = [p.cells[p.cells["shown"].notna()] for p in published_]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=KEY + ["shown"])


def _complements(rel: hate_release.PublicRelease, result: AuditResult, public: pd.DataFrame) -> pd.DataFrame:
    """For each failing hidden cell, the smallest shown cell of the new release it adds up with, or
    failing that of its month (never one shown before with the same figure: hiding that again
    protects nothing)."""
    index = {k: i for i, k in enumerate(rel.cells[KEY].itertuples(index=False, name=None))}
    already = {(*k,): v for *k, v in public[KEY + ["shown"]].assign(month=pd.to_datetime(public["month"])).itertuples(
        index=False, name=None)}
    suppressed = rel.cells["suppressed"].to_numpy() | np.array(
        [already.get(k) == v for k, v in zip(index, rel.cells["value"])], dtype=bool)
    values = rel.cells["value"].to_numpy()
    kinds, months = rel.cells["kind"].to_numpy(), pd.to_datetime(rel.cells["month"]).to_numpy()
    chosen: set[int] = set()
    for row in result.failing[KEY].itertuples(index=False, name=None):
        cell = index.get((row[0], row[1], row[2], row[3], pd.Timestamp(row[4])))
        if cell is None:
            continue
        options = [c for total, parts in rel.relations if cell == total or cell in parts
                   for c in [total, *parts] if not suppressed[c] and c not in chosen]
        if not options:
            # Its own sums are all hidden or public already, yet a longer chain (e.g. two releases'
            # totals differing by a revision) narrows it: hide the smallest new figure of its month.
            same_month = (kinds == row[0]) & (months == pd.Timestamp(row[4]))
            options = [int(c) for c in np.flatnonzero(same_month & ~suppressed) if c not in chosen]
        if options:
            chosen.add(min(options, key=lambda c: (values[c], c)))
    return rel.cells.iloc[sorted(chosen)][KEY]


def release_through_ledger(state_dir: Path | None, version: str, build, threshold: int,
                           earlier: list[Published] | None = None) -> hate_release.PublicRelease:
    """The public release for `version`: read back if in the ledger, else protected with every cell
    hidden before hidden again, audited over the whole ledger and appended.

    `build(hidden, shown_before)` protects the store's counts with `hidden` (cells, KEY columns)
    pinned hidden and `shown_before` (KEY + shown) never chosen as complements.
    `state_dir` None with `earlier` audits against those releases without a database (tests).
    """
    ledger = entries(state_dir) if state_dir is not None else [(str(i), p) for i, p in enumerate(earlier or [])]
    mine = [p for v, p in ledger if v == version]
    if mine:  # released before: read back, no suppression in the request path
        return from_ledger(mine[0], threshold)
    before = [p for _, p in ledger]
    extra = pd.DataFrame(columns=KEY)
    result, cache = None, {}
    public = _shown_keys(before)
    for _ in range(MAX_REPAIR_ROUNDS):
        rel = build(pd.concat([_hidden_keys(before), extra], ignore_index=True), public)
        result = audit(before + [published(rel)], threshold, cache=cache)
        if result.ok:
            if state_dir is not None:
                _append(state_dir, version, rel)
            return rel
        more = _complements(rel, result, public)
        if more.empty:
            break
        extra = pd.concat([extra, more], ignore_index=True)
    raise DisclosureError(f"hate crime's public release is withheld: the disclosure audit over every earlier "
                          f"release fails ({result.summary()})")
