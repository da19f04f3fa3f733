"""Grouped counts for `export counts` and the dashboard's download buttons."""
from __future__ import annotations

import pandas as pd

from queries import geography
from queries.measures import ALL_CRIME
from queries.store import Store, refuse_sensitive

def marac_release_table(store: Store, period_type: str, threshold: int, state_dir=None) -> pd.DataFrame:
    """The MARAC period tables for every MARAC area, exactly as the tab shows them (suppressed)."""
    from queries import marac

    if period_type not in marac.PERIOD_TYPES:
        raise ValueError(f"unknown period {period_type!r}; choose from: {', '.join(marac.PERIOD_TYPES)}")
    release = marac.release(store, threshold, state_dir=state_dir)
    frames = [marac.period_table(release, area, period_type).assign(Area=area) for area in marac.MARAC_AREAS]
    table = pd.concat(frames, ignore_index=True)
    return table[["Area", *[c for c in table.columns if c != "Area"]]]


# When the grouping leaves out `measure`, counts are of this measure (a record counts in
# several measures, e.g. "All crimes" and its group, so summing them all would double count).
HEADLINE = {"crime": ALL_CRIME, "fire": "All fires", "marac": "Cases discussed", "hate": "Hate crimes"}

# Fields a user may group by, and the SQL that yields each. `area` is the CSP, or where a
# record sits outside the force or has no known place, saying so (totals still reconcile).
GROUP_FIELDS = {
    "month": "strftime(month, '%Y-%m')",
    "area": "coalesce(csp, CASE location WHEN 'outside_area' THEN ? ELSE ? END)",
    "parent": "coalesce(parent, CASE location WHEN 'outside_area' THEN ? ELSE ? END)",
    "neighbourhood": "neighbourhood",
    "ward": "ward_code",
    "measure": "measure",
}
_AREA_PARAMS = {"area": [geography.OUTSIDE, geography.UNALLOCATED], "parent": [geography.OUTSIDE, geography.UNALLOCATED]}


def grouped_counts(store: Store, dataset: str, fields: list[str], measure: str | None = None) -> pd.DataFrame:
    """Counts from the monthly table grouped by `fields` (columns named as the fields, plus count).

    Without `measure` among the fields, only one measure is counted: `measure` if given,
    else the dataset's headline measure.
    """
    refuse_sensitive(dataset)
    if not store.has(dataset):
        raise ValueError(f"the store at {store.data_dir} holds no {dataset!r} data; datasets held: "
                         f"{', '.join(store.datasets) or 'none'}")
    unknown = [f for f in fields if f not in GROUP_FIELDS]
    if unknown or not fields:
        raise ValueError(f"cannot group by {', '.join(unknown) or 'nothing'}; choose from: {', '.join(GROUP_FIELDS)}")
    select, params = [], []
    for field in fields:
        select.append(f"{GROUP_FIELDS[field]} AS {field}")
        params += _AREA_PARAMS.get(field, [])
    where, where_params = "dataset = ?", [dataset]
    if measure is not None or "measure" not in fields:
        where += " AND measure = ?"
        where_params.append(measure or HEADLINE[dataset])
    sql = f"SELECT {', '.join(select)}, sum(count)::BIGINT AS count FROM monthly WHERE {where} GROUP BY ALL ORDER BY ALL"
    return store.query(sql, params + where_params)
