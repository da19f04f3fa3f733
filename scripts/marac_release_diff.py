"""Which MARAC figures the release no longer shows, against the tables published before.

    python scripts/marac_release_diff.py [DATA_DIR]

Before: months, quarters, calendar and financial years, part periods included. Now:
complete quarters and complete financial years. Prints the withdrawn cells by period type,
and any kept cell whose suppression changed (hidden now but shown before, or the reverse).
"""
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from queries import marac  # noqa: E402
from queries.settings import DEFAULT_DATA_DIR, DEFAULT_SUPPRESS_BELOW  # noqa: E402
from queries.store import Store  # noqa: E402

store = Store(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DATA_DIR)
monthly = store.query("SELECT measure, month, coalesce(parent, ?) AS area, sum(count)::BIGINT AS count FROM monthly WHERE dataset = ? GROUP BY ALL", [marac.ELSEWHERE, "marac"])
held = pd.DatetimeIndex(pd.to_datetime(store.query("SELECT DISTINCT month FROM coverage WHERE dataset = 'marac' ORDER BY month")["month"]))
old = marac.build_release(monthly, held, DEFAULT_SUPPRESS_BELOW, periods=tuple(marac.ALL_PERIOD_TYPES), complete_only=False)
new = marac.build_release(monthly, held, DEFAULT_SUPPRESS_BELOW)
key = ["period_type","start","area","measure"]
o = old.cells.assign(shown=old.cells.value.astype(float).where(~old.cells.suppressed))
n = new.cells.assign(shown=new.cells.value.astype(float).where(~new.cells.suppressed))
m = o.merge(n[key+["shown"]], on=key, how="left", suffixes=("_old","_new"), indicator=True)
gone = m[m._merge=="left_only"]
print("old cells", len(o), "new cells", len(n), "withdrawn", len(gone))
print(gone.groupby(["period_type"]).agg(cells=("label","size"), periods=("label", lambda x: ", ".join(sorted(set(x))[:8]))).to_string())
both = m[m._merge=="both"]
flip_hidden = both[both.shown_old.notna() & both.shown_new.isna()]
flip_shown = both[both.shown_old.isna() & both.shown_new.notna()]
print("kept cells", len(both), "now hidden (were shown)", len(flip_hidden), "now shown (were hidden)", len(flip_shown))
print(flip_hidden[["label","area","measure","shown_old"]].to_string())
print(flip_shown[["label","area","measure","shown_new"]].to_string())
