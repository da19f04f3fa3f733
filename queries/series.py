"""Monthly series and the board's tables, from the pre-aggregated monthly table.

Every function takes the store and plain parameters and returns a DataFrame. Months the
dataset does not hold come back as NaN (a gap), never as zero.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from queries import datasets, geography, limits, limits_table
from queries.geography import UnknownArea
from queries.measures import measure_order
from queries.datasets import refuse_sensitive
from queries.store import Store


class NoData(LookupError):
    """The store holds nothing for this request; the message says what is missing."""


# --------------------------------------------------------------------------- lookups


def measures(store: Store, dataset: str) -> list[str]:
    def compute():
        where, params = datasets.rows_of(dataset)
        names = store.query(f"SELECT DISTINCT measure FROM monthly WHERE {where}", params)["measure"].tolist()
        return measure_order(names)

    return list(store.cached(("measures", dataset), compute))


def coverage(store: Store, dataset: str, force: str | None = None) -> pd.DatetimeIndex:
    """Months one force holds of the dataset (the first force when omitted, as for areas).

    Per force, because in a store of several forces a month held for one is not held for
    another: its count there is a gap, not a zero. Cached per store version: every callback asks.
    """
    slug = force_areas(store, force).force.slug

    def compute():
        months = store.query("SELECT DISTINCT month FROM coverage WHERE dataset = ? AND force = ? ORDER BY month",
                             [datasets.get(dataset).source, slug])["month"]
        return pd.DatetimeIndex(pd.to_datetime(months))

    return store.cached(("coverage", dataset, slug), compute)


def force_areas(store: Store, force: str | None = None) -> geography.ForceAreas:
    """The store's areas for one force (the first, in a one-force store): names, order, totals."""
    return geography.areas(store.data_dir, force)


def _areas(store: Store, force: str | None = None) -> pd.DataFrame:
    return force_areas(store, force).wards[["csp", "neighbourhood"]]


def financial_years(store: Store, dataset: str, force: str | None = None) -> list[int]:
    return sorted({limits.fy_of(m) for m in coverage(store, dataset, force)})


def latest_month(store: Store, dataset: str, force: str | None = None) -> pd.Timestamp | None:
    months = coverage(store, dataset, force)
    return months.max() if len(months) else None


def neighbourhoods(store: Store, csp: str, force: str | None = None) -> list[str]:
    areas = _areas(store, force)
    return sorted(areas.loc[areas["csp"] == csp, "neighbourhood"].unique())


def check_request(store: Store, dataset: str, area: str, measure: str, neighbourhood: str | None = None,
                  force: str | None = None) -> None:
    """Raise UnknownArea / NoData with the valid choices listed (SensitiveData for MARAC)."""
    refuse_sensitive(dataset)
    if not store.has(datasets.get(dataset).source):
        raise NoData(f"the store holds no {dataset} data; import some first")
    geography.check_area(area, neighbourhood, _areas(store, force), data_dir=store.data_dir, force=force)
    valid = measures(store, dataset)
    if measure not in valid:
        raise NoData(f"unknown measure {measure!r} for {dataset}; choose one of: {', '.join(valid)}")


def county_table_areas(own: geography.ForceAreas) -> list[str]:
    """The board's county summary table: each county's CSPs and its total (a force of unitaries: every CSP)."""
    rows = [a for a in own.top_areas if a not in own.unitaries and a != geography.FORCE]
    return rows or own.unitaries


# --------------------------------------------------------------------------- series


def monthly_counts(
    store: Store, dataset: str, area: str, measure: str, neighbourhood: str | None = None, force: str | None = None
) -> pd.Series:
    """Count per month over the dataset's whole coverage; NaN where a month is not held."""
    refuse_sensitive(dataset)
    condition, params = geography.area_condition(area, neighbourhood, data_dir=store.data_dir, force=force)
    rows, rows_params = datasets.rows_of(dataset)
    frame = store.query(
        f"SELECT month, sum(count) AS count FROM monthly WHERE {rows} AND measure = ? AND {condition} GROUP BY month",
        [*rows_params, measure, *params],
    )
    held = coverage(store, dataset, force)
    counts = pd.Series(frame["count"].to_numpy(dtype=float), index=pd.to_datetime(frame["month"]))
    return counts.reindex(held).fillna(0.0).reindex(pd.date_range(held.min(), held.max(), freq="MS")) if len(held) else counts


def series_table(
    store: Store,
    dataset: str,
    area: str,
    measure: str,
    fy: int,
    method: str,
    k: float,
    min_significant: int,
    report_month: pd.Timestamp | None = None,
    neighbourhood: str | None = None,
    force: str | None = None,
) -> pd.DataFrame:
    """The five chart series for one area and measure over one financial year."""
    check_request(store, dataset, area, measure, neighbourhood, force)
    stored = _stored_series(store, dataset, area, measure, fy, method, k, min_significant, report_month,
                            neighbourhood, force)
    if stored is not None:
        return stored
    counts = monthly_counts(store, dataset, area, measure, neighbourhood, force)
    return limits.series_limits(counts, fy, method, k, min_significant, report_month)


def _stored_series(store: Store, dataset: str, area: str, measure: str, fy: int, method: str, k: float,
                   min_significant: int, report_month: pd.Timestamp | None, neighbourhood: str | None,
                   force: str | None) -> pd.DataFrame | None:
    """One series' year from the version's materialised limits, or None (non-default k, a series not stored)."""
    months = limits.fy_months(fy)
    frame = limits_table.read(store, dataset, force_areas(store, force).force.slug, method, k, months[0], months[-1],
                              "measure = ? AND area = ? AND neighbourhood = ?",
                              [measure, area, neighbourhood or limits_table.NO_NEIGHBOURHOOD])
    if frame is None or len(frame) != len(months):
        return None
    frame = limits_table.as_reported(frame.sort_values("month", ignore_index=True), report_month, min_significant)
    # Built as `limits.series_limits` builds its table, so both give the same columns and types.
    return pd.DataFrame({
        "month": months,
        **{c: frame[c].to_numpy(dtype=float) for c in ("count", "monthly_average_prev3", "average", "upper", "lower")},
        "status": frame["status"].to_numpy(dtype=object), "low_volume": frame["low_volume"].to_numpy(dtype=bool),
        "baseline_years": frame["baseline_years"].to_numpy(dtype=np.int64),
    })


def _window_frame(store: Store, dataset: str, fy: int, group_sql: str, condition: str, params: list) -> pd.DataFrame:
    """Counts for the 48-month window of `fy`, grouped, as rows of a (group, month) frame."""
    months = limits.window_months(fy)
    rows, rows_params = datasets.rows_of(dataset)
    return store.query(
        f"""SELECT {group_sql}, month, sum(count) AS count FROM monthly
            WHERE {rows} AND month BETWEEN ? AND ? AND {condition}
            GROUP BY ALL""",
        [*rows_params, months[0].date(), months[-1].date(), *params],
    )


def _limits_for_groups(
    frame: pd.DataFrame, keys: list[str], index: pd.MultiIndex | pd.Index, held: pd.DatetimeIndex, fy: int,
    report_month: pd.Timestamp, method: str, k: float, min_significant: int,
) -> tuple[limits.LimitResult, int]:
    """Pivot grouped counts into (series x 48) windows and run the engine once."""
    months = limits.window_months(fy)
    frame = frame.assign(month=pd.to_datetime(frame["month"]))
    wide = frame.pivot_table(index=keys, columns="month", values="count", aggfunc="sum")
    wide = wide.reindex(index=index, columns=months).fillna(0.0)
    not_held = ~months.isin(held) | (months > report_month)
    wide.loc[:, not_held] = np.nan
    column = months.get_loc(report_month) - limits.BASELINE_YEARS * limits.MONTHS_PER_YEAR
    return limits.compute_limits(wide.to_numpy(), method, k, min_significant), column


def _report_month_columns(result: limits.LimitResult, col: int) -> dict:
    """The report month's figures from an engine result, as table columns."""
    return {
        "count": result.count[:, col],
        "expected": result.monthly_average_prev3[:, col],
        "upper": result.upper[:, col],
        "lower": result.lower[:, col],
        "status": result.status[:, col],
        "low_volume": result.low_volume[:, col],
    }


def index_of(measures_: list[str], areas: list[str]) -> pd.MultiIndex:
    """The summary table's rows: every measure x area."""
    return pd.MultiIndex.from_product([measures_, areas], names=["measure", "area"])


def _stored_month(store: Store, dataset: str, force: str, report_month: pd.Timestamp, method: str, k: float,
                  min_significant: int, index: pd.Index, where: str, params: list, keys: list[str]) -> pd.DataFrame | None:
    """The report month's rows for `index` from the materialised limits, as `_report_month_columns`
    gives them; None when they are not all stored (then the caller computes on demand)."""
    frame = limits_table.read(store, dataset, force, method, k, report_month, report_month, where, params)
    if frame is None:
        return None
    frame = limits_table.as_reported(frame, report_month, min_significant)
    frame = frame.drop_duplicates(keys).set_index(keys).reindex(index)
    if frame["status"].isna().any():
        return None
    return pd.DataFrame({
        **{name: index.get_level_values(name) for name in keys},
        "count": frame["count"].to_numpy(dtype=float), "expected": frame["monthly_average_prev3"].to_numpy(dtype=float),
        "upper": frame["upper"].to_numpy(dtype=float), "lower": frame["lower"].to_numpy(dtype=float),
        "status": frame["status"].to_numpy(dtype=object), "low_volume": frame["low_volume"].to_numpy(dtype=bool),
    })


def summary_table(
    store: Store, dataset: str, report_month: pd.Timestamp, method: str, k: float, min_significant: int,
    areas: list[str] | None = None, force: str | None = None,
) -> pd.DataFrame:
    """One row per measure x area for the report month: count, limits, status.

    The board's "Summary table of crimes falling above or below trigger levels". By default
    the areas are the counties' CSPs and county totals (the board's county table).
    """
    refuse_sensitive(dataset)
    report_month = pd.Timestamp(report_month)
    fy = limits.fy_of(report_month)
    own = force_areas(store, force)
    areas = areas or county_table_areas(own)
    names = measures(store, dataset)
    stored = _stored_month(store, dataset, own.force.slug, report_month, method, k, min_significant, index_of(names, areas),
                           "neighbourhood = ?", [limits_table.NO_NEIGHBOURHOOD], ["measure", "area"])
    if stored is not None:
        return stored
    frame = _window_frame(store, dataset, fy, "measure, csp, parent", "force = ?", [own.force.slug])
    county = frame[frame["parent"].isin(own.county_names)].assign(csp=lambda f: f["parent"])
    whole = frame.assign(csp=geography.FORCE)
    frame = pd.concat([frame, county, whole], ignore_index=True).rename(columns={"csp": "area"})
    index = index_of(names, areas)
    result, col = _limits_for_groups(
        frame, ["measure", "area"], index, coverage(store, dataset, force), fy, report_month, method, k, min_significant
    )
    return pd.DataFrame(
        {
            "measure": index.get_level_values(0),
            "area": index.get_level_values(1),
            **_report_month_columns(result, col),
        }
    )


def drilldown(
    store: Store, dataset: str, csp: str, measure: str, report_month: pd.Timestamp, method: str, k: float,
    min_significant: int, force: str | None = None,
) -> pd.DataFrame:
    """A CSP's neighbourhoods for the report month, ranked by how far they are above expected."""
    check_request(store, dataset, csp, measure, force=force)
    own = force_areas(store, force)
    if csp not in own.csps:
        raise UnknownArea(f"drill-down needs a CSP, not {csp!r}; choose one of: {', '.join(own.csps)}")
    report_month = pd.Timestamp(report_month)
    fy = limits.fy_of(report_month)
    index = pd.Index(neighbourhoods(store, csp, force), name="neighbourhood")
    table = _stored_month(store, dataset, own.force.slug, report_month, method, k, min_significant, index,
                          "measure = ? AND area = ? AND neighbourhood <> ?", [measure, csp, limits_table.NO_NEIGHBOURHOOD],
                          ["neighbourhood"])
    if table is None:
        frame = _window_frame(store, dataset, fy, "neighbourhood", "force = ? AND measure = ? AND csp = ?",
                              [own.force.slug, measure, csp])
        result, col = _limits_for_groups(
            frame, ["neighbourhood"], index, coverage(store, dataset, force), fy, report_month, method, k,
            min_significant
        )
        table = pd.DataFrame(
            {
                "neighbourhood": index,
                **_report_month_columns(result, col),
            }
        )
    table["above_expected"] = table["count"] - table["expected"]
    return table.sort_values(["above_expected", "count"], ascending=False, ignore_index=True)


# --------------------------------------------------------------------------- rolling 12 months


MONTHS_IN_WINDOW = 12  # Table 1 sums twelve months each side


def _held_suffix(missing: int) -> str:
    """A column label's warning that its window sums fewer than 12 months."""
    return f" ({12 - missing} of 12 months held)" if missing else ""


def rolling_12(store: Store, dataset: str, measure: str, report_month: pd.Timestamp,
               force: str | None = None) -> pd.DataFrame:
    """The board's Table 1: 12 months to the report month against the 12 months a year earlier.

    Rows reconcile: each county's CSPs add to its total; the counties + the unitaries +
    outside the force area + no known area add to the force area. A window missing any month says so
    instead of printing a misleading change.
    """
    refuse_sensitive(dataset)
    report_month = pd.Timestamp(report_month)
    current = pd.date_range(end=report_month, periods=12, freq="MS")
    previous = current - pd.DateOffset(years=1)
    held = coverage(store, dataset, force)
    rows, rows_params = datasets.rows_of(dataset)
    own = force_areas(store, force)
    frame = store.query(
        f"""SELECT coalesce(csp, CASE location WHEN 'outside_area' THEN ? ELSE ? END) AS area, parent, month,
                  sum(count) AS count
           FROM monthly WHERE {rows} AND force = ? AND measure = ? AND month BETWEEN ? AND ? GROUP BY ALL""",
        [geography.OUTSIDE, geography.UNALLOCATED, *rows_params, own.force.slug, measure, previous[0].date(),
         current[-1].date()],
    )
    frame["month"] = pd.to_datetime(frame["month"])
    frame["window"] = np.where(frame["month"] >= current[0], "current", "previous")
    by_area = frame.pivot_table(index="area", columns="window", values="count", aggfunc="sum").reindex(
        columns=["previous", "current"]
    ).fillna(0)
    for county in own.county_names:
        total = frame[frame["parent"] == county].groupby("window")["count"].sum()
        by_area.loc[county] = total.reindex(["previous", "current"]).fillna(0).to_numpy()
    by_area.loc[geography.FORCE] = frame.groupby("window")["count"].sum().reindex(["previous", "current"]).fillna(0).to_numpy()
    by_area = by_area.reindex(own.reconciling_areas).fillna(0)
    missing_current = int((~current.isin(held)).sum())
    missing_previous = int((~previous.isin(held)).sum())
    label_now = f"12 Months to {report_month:%b %Y}" + _held_suffix(missing_current)
    label_then = f"12 Months to {previous[-1]:%b %Y}" + _held_suffix(missing_previous)
    # A window holding none of its 12 months has no total: blank (NaN), never 0, since a gap is not a zero.
    table = pd.DataFrame(
        {
            "Area": by_area.index,
            label_then: by_area["previous"].to_numpy(dtype=float) if missing_previous < MONTHS_IN_WINDOW
            else np.full(len(by_area), np.nan),
            label_now: by_area["current"].to_numpy(dtype=float) if missing_current < MONTHS_IN_WINDOW
            else np.full(len(by_area), np.nan),
        }
    )
    complete = missing_current == 0 and missing_previous == 0
    table["Numerical Change"] = table[label_now] - table[label_then] if complete else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(table[label_then] > 0, 100 * table["Numerical Change"] / table[label_then], np.nan)
    table["% Change"] = np.round(pct, 1) if complete else np.nan
    table.attrs["note"] = (
        ""
        if complete
        else f"Incomplete: the store lacks {missing_current} month(s) of the latest 12 and {missing_previous} "
        f"of the 12 before, so no change is shown."
    )
    return table


# --------------------------------------------------------------------------- by view
# The pages pass one checked request (queries.params.View) rather than nine positional
# arguments; these are the same computations as above, read off the view.


def chart(store: Store, view, neighbourhood: str | None = None) -> pd.DataFrame:
    """The five chart series for the view's area (or `neighbourhood`), measure and financial year."""
    return series_table(store, view.dataset, view.area, view.measure, view.fy, view.method, view.k,
                        view.min_significant, view.month, neighbourhood=neighbourhood, force=view.force)


def summary(store: Store, view) -> pd.DataFrame:
    """The exceptions summary for the view's report month, method and k."""
    return summary_table(store, view.dataset, view.month, view.method, view.k, view.min_significant,
                         force=view.force)


def neighbourhood_table(store: Store, view) -> pd.DataFrame:
    """The view's CSP's neighbourhoods ranked for its report month."""
    return drilldown(store, view.dataset, view.area, view.measure, view.month, view.method, view.k,
                     view.min_significant, force=view.force)


# --------------------------------------------------------------------------- totals across forces

ALL_FORCES = "All forces in the store"
ENGLAND_AND_WALES = "England and Wales"


def force_totals(store: Store, dataset: str, measure: str) -> pd.DataFrame:
    """Monthly totals across the forces of a store of several: each force's area, each region
    whose every force the store holds, and the store's forces together (named "England and
    Wales" when it holds all 43 territorial forces).

    Columns: month, then one column per total, in that order. A total is empty (NaN) in a
    month that any of its forces does not hold, because a gap in one force is not a zero; a
    month a force holds with nothing recorded is 0.
    """
    from queries import national

    refuse_sensitive(dataset)
    source = datasets.get(dataset).source
    rows, rows_params = datasets.rows_of(dataset)
    counts = store.query(
        f"SELECT force, month, sum(count) AS count FROM monthly WHERE {rows} AND measure = ? GROUP BY force, month",
        [*rows_params, measure],
    )
    held = store.query("SELECT DISTINCT force, month FROM coverage WHERE dataset = ?", [source])
    own = geography.force_slugs(store.data_dir)
    held = held.assign(month=pd.to_datetime(held["month"]), count=0.0)
    counts = counts.assign(month=pd.to_datetime(counts["month"]), count=counts["count"].astype(float))
    # Held months start at 0 and take their counts; months a force does not hold stay NaN.
    wide = (pd.concat([held[["force", "month", "count"]], counts[counts["force"].isin(own)]])
            .merge(held[["force", "month"]], on=["force", "month"])
            .pivot_table(index="month", columns="force", values="count", aggfunc="sum")
            .reindex(columns=own).sort_index())
    months = wide.index
    names = {f.slug: f.name for f in national.forces().values()}
    table = pd.DataFrame({"month": months})
    for slug in own:
        table[names[slug]] = wide[slug].to_numpy()
    districts = national.districts()
    # Welsh districts have no English region: Wales is their region.
    regions = districts["region"].where(districts["region"].fillna("") != "", districts["country"])
    for region, forces in districts.groupby(regions)["force_slug"].agg(lambda s: sorted(set(s))).items():
        if set(forces) <= set(own) and len(own) > 1:
            table[f"{region} (region)"] = wide[forces].sum(axis=1, skipna=False).to_numpy()
    territorial = {f.slug for f in national.forces().values() if f.territorial}
    total = ENGLAND_AND_WALES if territorial <= set(own) else ALL_FORCES
    table[total] = wide[own].sum(axis=1, skipna=False).to_numpy()
    return table
