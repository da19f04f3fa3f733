"""Time the MARAC disclosure audit (queries/marac_audit.py) beside the plain way of doing it.

    python scripts/benchmark_marac_audit.py [DATA_DIR] [--runs 5]

Variants, each in its own process (so peak memory is its own):
  release   - the audit of one release (complete quarters and financial years) as shipped:
              economy SVD for exact recovery, one LP per hidden cell on that cell's block.
  ledger2   - the audit over a ledger of two successive monthly stores (Aug, then Sep).
  plain     - the same questions the plain way: full SVD null space, and each LP over the
              whole programme (no blocks).
  baseline  - only the imports and the data load, to read peak memory against.
Prints p50/p95 seconds and peak RSS (MB) per variant; docs/benchmarks-marac-audit.md holds a run.
"""
from __future__ import annotations

import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

VARIANTS = ("baseline", "release", "ledger2", "plain")


def _load(data_dir: str):
    import pandas as pd

    from queries import marac
    from queries.store import Store

    store = Store(data_dir)
    monthly = store.query("SELECT measure, month, coalesce(parent, ?) AS area, sum(count)::BIGINT AS count "
                          "FROM monthly WHERE dataset = 'marac' GROUP BY ALL", [marac.ELSEWHERE])
    monthly["month"] = pd.to_datetime(monthly["month"])
    held = pd.DatetimeIndex(pd.to_datetime(
        store.query("SELECT DISTINCT month FROM coverage WHERE dataset = 'marac' ORDER BY month")["month"]))
    return monthly, held


def _plain_audit(published, threshold: int) -> int:
    """The straightforward version: one unknown per month (no merging), full SVD, every LP over
    every unknown. Returns the hidden cells checked."""
    import numpy as np
    from scipy.optimize import linprog

    from queries import marac_audit

    cells = marac_audit._stack(published)
    from queries import geography
    from queries.marac import AGENCY_PREFIX, CASES, FIRST, PARTNERS, POLICE, POLICE_AGENCY, REPEATS
    months = sorted({m for ms in cells["months"] for m in ms})
    areas = sorted({x for x in cells["area"] if x != geography.FORCE})
    agencies = sorted({m.removeprefix(AGENCY_PREFIX) for m in cells["measure"] if m.startswith(AGENCY_PREFIX)} | {POLICE_AGENCY})
    atoms = [REPEATS, FIRST] + [f"agency:{x}" for x in agencies]
    column = {(m, x, t): i for i, (m, x, t) in enumerate((m, x, t) for m in months for x in areas for t in atoms)}

    def atoms_of(measure):
        if measure == CASES:
            return [REPEATS, FIRST]
        if measure in (REPEATS, FIRST):
            return [measure]
        if measure == POLICE:
            return [f"agency:{POLICE_AGENCY}"]
        if measure == PARTNERS:
            return [f"agency:{x}" for x in agencies if x != POLICE_AGENCY]
        return [f"agency:{measure.removeprefix(AGENCY_PREFIX)}"]

    def vector(area, measure, ms):
        row = np.zeros(len(column))
        for m in ms:
            for x in (areas if area == geography.FORCE else [area]):
                for t in atoms_of(measure):
                    row[column[(m, x, t)]] = 1.0
        return row

    shown = cells[cells["shown"].notna()].drop_duplicates(["period_type", "start", "area", "measure", "months"])
    rows = [vector(x, m, ms) for x, m, ms in zip(shown["area"], shown["measure"], shown["months"])]
    rhs = list(shown["shown"])
    for m in months:
        for x in areas:
            row = np.zeros(len(column))
            row[column[(m, x, REPEATS)]] = row[column[(m, x, FIRST)]] = 1.0
            for t in atoms[2:]:
                row[column[(m, x, t)]] = -1.0
            rows.append(row)
            rhs.append(0.0)
    a_eq, b_eq = np.array(rows), np.array(rhs)
    _, s, vt = np.linalg.svd(a_eq, full_matrices=True)
    null = vt[int(np.sum(s > 1e-9 * s.max())):]
    hidden = cells[cells["shown"].isna()].drop_duplicates(["period_type", "start", "area", "measure", "months"])
    for x, m, ms in zip(hidden["area"], hidden["measure"], hidden["months"]):
        c = vector(x, m, ms)
        np.all(np.abs(null @ c) < 1e-7)
        linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    return len(hidden)


def child(variant: str, data_dir: str, runs: int) -> dict:
    import tempfile

    from queries import marac, marac_audit, marac_ledger
    from queries.settings import DEFAULT_SUPPRESS_BELOW as THRESHOLD

    monthly, held = _load(data_dir)
    rel = marac.build_release(monthly, held, THRESHOLD)
    times, size = [], len(rel.cells)
    for _ in range(runs if variant != "baseline" else 0):
        start = time.perf_counter()
        if variant == "release":
            marac_audit.audit([marac_audit.published(rel)], THRESHOLD)
        elif variant == "plain":
            _plain_audit([marac_audit.published(rel)], THRESHOLD)
        elif variant == "ledger2":
            with tempfile.TemporaryDirectory() as state:
                for version, last in (("aug", "2026-08-01"), ("sep", "2026-09-01")):
                    months = held[held <= last]
                    marac_ledger.release_through_ledger(Path(state), version, monthly[monthly["month"].isin(months)],
                                                        months, THRESHOLD)
        times.append(time.perf_counter() - start)
    return {"variant": variant, "cells": size, "months": len(held), "times": times,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    args = [a for a in sys.argv[1:]]
    runs = 5
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i:i + 2]
    if args and args[0] == "--child":
        print(json.dumps(child(args[1], args[2], int(args[3]))))
        return
    data_dir = args[0] if args else str(REPO / "data")
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, "
          f"{__import__('os').cpu_count()} CPUs; store: {data_dir}")
    for variant in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--child", variant, data_dir, str(runs)],
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        t = sorted(r["times"])
        p50 = statistics.median(t) if t else float("nan")
        p95 = t[min(len(t) - 1, int(round(0.95 * (len(t) - 1))))] if t else float("nan")
        print(f"{variant:9s} cells={r['cells']} months={r['months']} runs={len(t)} "
              f"p50={p50:.2f}s p95={p95:.2f}s peak={r['peak_mb']:.0f}MB")


if __name__ == "__main__":
    main()
