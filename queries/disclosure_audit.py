"""What a reader can work out from every figure ever published: the one disclosure audit.

Every protected release (MARAC's, in queries/marac_audit.py; hate crime's public release, in
queries/hate_ledger.py) publishes cells that are sums of the same underlying counts. A reader
who holds every release ever published holds one linear system: the underlying counts are
unknowns x >= 0, and each shown cell is one equation (its sum vector . x = the figure shown).
This module answers, for any sum vector c (a hidden cell, or a count never published):

* `determined(c)`: is c . x the same in every solution (exact recovery)? True when c lies in
  the row space of the shown equations;
* `value(c)`: that value (one least-squares solution gives it when determined);
* `bounds(c)`: the least and greatest value of c . x by linear programming (scipy's HiGHS),
  the interval a reader can narrow the cell to; (0, inf) when nothing bounds it above.

The LP is the continuous relaxation: integer counts can occasionally pin a cell a little
tighter than it says (docs/security.md says so).

Unknowns that share no equation are independent, so the system is split into connected
blocks (a month, or a month group, typically) and each block is solved on its own: a few
small SVDs and LPs instead of one dense system, which is what makes the audit of thousands
of hate crime cells affordable.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

# scipy.optimize and scipy.sparse.csgraph (about 30 MB and a quarter of a second) are imported
# where an audit first needs them, not when the dashboard starts: the audit runs when a MARAC or
# hate crime release is checked, which most workers never do.

# Singular values below this (relative) count as zero; residuals below NULL_TOLERANCE count as zero.
RANK_TOLERANCE = 1e-9
NULL_TOLERANCE = 1e-7
# linprog's status codes (scipy.optimize.OptimizeResult.status).
LP_OPTIMAL, LP_INFEASIBLE, LP_UNBOUNDED = 0, 2, 3


class LinearSystem:
    """The shown equations A x = b, x >= 0, split into independent blocks of unknowns."""

    def __init__(self, a_eq, b_eq, n_unknowns: int | None = None):
        a = sparse.csr_matrix(a_eq, dtype=float)
        if n_unknowns is not None and a.shape[1] != n_unknowns:
            a = sparse.csr_matrix((a.data, a.indices, a.indptr), shape=(a.shape[0], n_unknowns))
        self.a = a
        self.b = np.asarray(b_eq, dtype=float)
        from scipy.sparse.csgraph import connected_components

        pattern = (abs(a).T @ abs(a)).tocsr()
        _, self.labels = connected_components(pattern, directed=False)
        self._blocks: dict[int, tuple] = {}
        self._least: dict[int, np.ndarray | None] = {}
        row_nnz = abs(a).sum(axis=1).A.ravel() > 0
        # Each equation touches one block (blocks are closed under shared equations).
        first_col = np.full(a.shape[0], -1)
        coo = a.tocoo()
        first_col[coo.row] = coo.col
        self._row_block = np.where(row_nnz, self.labels[np.maximum(first_col, 0)], -1)
        # Each unknown's position within its block, so a sum given by its unknowns maps straight in.
        self._position = np.zeros(a.shape[1], dtype=int)
        for label in np.unique(self.labels):
            members = np.flatnonzero(self.labels == label)
            self._position[members] = np.arange(len(members))

    def _block(self, label: int) -> tuple:
        """(columns, rows, row-space basis, least-squares solution, equations) of one block."""
        if label not in self._blocks:
            cols = np.flatnonzero(self.labels == label)
            rows = np.flatnonzero(self._row_block == label)
            sub = self.a[rows][:, cols].toarray()
            if len(rows):
                u, s, vt = np.linalg.svd(sub, full_matrices=False)
                rank = int(np.sum(s > RANK_TOLERANCE * max(1.0, s.max(initial=0.0))))
                basis = vt[:rank]
                solution = basis.T @ ((u[:, :rank].T @ self.b[rows]) / s[:rank]) if rank else np.zeros(len(cols))
            else:
                basis, solution = np.zeros((0, len(cols))), np.zeros(len(cols))
            self._blocks[label] = (cols, rows, basis, solution, sub)
        return self._blocks[label]

    def _parts(self, c) -> list[tuple[int, np.ndarray]]:
        """(block, c restricted to the block) for each block c touches. `c` is a dense vector, or
        the unknowns of a plain sum (a tuple, list or set of column numbers: coefficient 1 each)."""
        if isinstance(c, (tuple, list, set, frozenset)):
            idx = np.fromiter(c, dtype=int, count=len(c))
            weights = np.ones(len(idx))
        else:
            c = np.asarray(c, dtype=float)
            idx = np.flatnonzero(c)
            weights = c[idx]
        labels = self.labels[idx]
        parts = []
        for label in np.unique(labels):
            chosen = labels == label
            part = np.zeros(len(self._block(int(label))[0]))
            np.add.at(part, self._position[idx[chosen]], weights[chosen])
            parts.append((int(label), part))
        return parts

    def determined(self, c) -> bool:
        """True when c . x takes one value in every solution of the shown equations."""
        for label, part in self._parts(c):
            basis = self._block(label)[2]
            if not np.all(np.abs(part - basis.T @ (basis @ part)) < NULL_TOLERANCE):
                return False
        return True

    def value(self, c) -> float:
        """c . x for one solution: the value every solution gives when `determined(c)`."""
        return float(sum(part @ self._block(label)[3] for label, part in self._parts(c)))

    def _solve(self, label: int, objective: np.ndarray):
        from scipy.optimize import linprog

        _, rows, _, _, sub = self._block(label)
        return linprog(objective, A_eq=sub, b_eq=self.b[rows], bounds=(0, None), method="highs")

    def bounds(self, c) -> tuple[float, float]:
        """(least, greatest) value of c . x over x >= 0 with A x = b; NaN, NaN when the equations
        contradict each other (a figure shown twice with two values); upper inf when unbounded."""
        low_total, high_total = 0.0, 0.0
        for label, part in self._parts(c):
            if not len(self._block(label)[1]):
                high_total = np.inf if np.any(part > 0) else high_total
                continue
            low, high = self._solve(label, part), self._solve(label, -part)
            if LP_INFEASIBLE in (low.status, high.status):
                return np.nan, np.nan
            low_total += float(low.fun) if low.status == LP_OPTIMAL else -np.inf
            high_total += float(-high.fun) if high.status == LP_OPTIMAL else np.inf
        return low_total, high_total

    def _least_total(self, label: int) -> np.ndarray | None:
        """One solution of a block with the least total (many unknowns at zero), or None (no solution)."""
        if label not in self._least:
            cols, rows = self._block(label)[:2]
            if not len(rows):
                self._least[label] = np.zeros(len(cols))
            else:
                found = self._solve(label, np.ones(len(cols)))
                self._least[label] = found.x if found.status == LP_OPTIMAL else None
        return self._least[label]

    def can_be_zero(self, c) -> bool:
        """True when some solution gives c . x = 0 (so a reader cannot tell the count is above zero).

        Tried first on each block's least-total solution, which settles most cells without an LP
        of their own; otherwise the cell's own least value decides.
        """
        for label, part in self._parts(c):
            least = self._least_total(label)
            if least is not None and float(part @ least) <= NULL_TOLERANCE:
                continue
            if not len(self._block(label)[1]):
                continue
            low = self._solve(label, part)
            if low.status != LP_OPTIMAL or low.fun > NULL_TOLERANCE:
                return False
        return True

    def can_be_zero_many(self, sums: list) -> np.ndarray:
        """`can_be_zero` for many sums at once, with far fewer LPs.

        Per block: the least-total solution settles most; then one LP minimising the sum of all
        still-unsettled cells settles most of the rest (any solution where a cell is zero proves
        it can be zero); only what two such rounds leave gets an LP of its own.
        """
        ok = np.ones(len(sums), dtype=bool)
        pending: dict[int, list[tuple[int, np.ndarray]]] = {}
        for i, c in enumerate(sums):
            for label, part in self._parts(c):
                pending.setdefault(label, []).append((i, part))
        for label, parts in pending.items():
            if not len(self._block(label)[1]):
                continue
            least = self._least_total(label)
            if least is None:
                ok[[i for i, _ in parts]] = False
                continue
            parts = [(i, part) for i, part in parts if float(part @ least) > NULL_TOLERANCE]
            for _ in range(2):
                if not parts:
                    break
                found = self._solve(label, np.sum([part for _, part in parts], axis=0))
                if found.status != LP_OPTIMAL:
                    break
                parts = [(i, part) for i, part in parts if float(part @ found.x) > NULL_TOLERANCE]
            for i, part in parts:
                low = self._solve(label, part)
                if low.status != LP_OPTIMAL or low.fun > NULL_TOLERANCE:
                    ok[i] = False
        return ok
