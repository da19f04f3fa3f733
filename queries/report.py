"""The monthly Community Safety Partnership Performance Report, as data and sentences.

The board's report "benchmarks current figures against the average taken across the
previous three years", lists per partnership the **Current Issues** ("those where the
current crime figures are above the trigger level and the volume is of significance")
and explains each in a **Context** paragraph. This module computes all of that with no
rendering: every series' limits in one vectorised call of the engine
(`limits.compute_limits`), the issues in the report's order, and the paragraphs.
`queries/report_output.py` turns a `Report` into HTML, PDF and Word.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from queries import geography, limits, limits_table, owners, params, series
from queries.measures import ALL_CRIME, ASB, measure_order
from queries.datasets import refuse_sensitive
from queries.store import Store

DATASET = "crime"
REPORT_TITLE = "Community Safety Partnership Performance Report"
CURRENT_ISSUES = "Current Issues"
NONE_TEXT = "None"
# "The majority of the offences were recorded in ...": neighbourhoods are named, largest
# first, until together they hold more than this share of the month's count ...
MAJORITY_SHARE = 0.5
# ... and never more than this many, so a paragraph stays a sentence a board member reads.
MAX_CONTRIBUTORS = 3
MONTHS_PER_YEAR = limits.MONTHS_PER_YEAR
WINDOW = limits.BASELINE_YEARS * MONTHS_PER_YEAR  # index of the report year's April in a window

METHOD_WORDS = {
    "classic": ("the same-month average of the previous three years plus or minus {k} standard deviations "
                "of those three values (the method as originally published)"),
    "pooled": ("the same-month average of the previous three years plus or minus {k} times one spread taken "
               "from all 36 months of those years (never below the natural variation of a count of that size)"),
}


# --------------------------------------------------------------------------- report order


def county_heading(own: geography.ForceAreas, county: str) -> str:
    """A county section's heading: "County (excluding Derby City)" where the force has one county."""
    if len(own.counties) > 1 or not own.unitaries:
        return county
    return f"County (excluding {' and '.join(own.unitaries)})"


def report_sections(own: geography.ForceAreas) -> list[tuple[str, str]]:
    """(area, heading) for each "Summary of issues": each county first, then its CSPs, in report order.

    The board's report is the county's: unitaries (a city) report on their own, so they get a
    section only in a force with no county.
    """
    sections = []
    for upper in own.counties:
        sections += [(upper.name, county_heading(own, upper.name))] + [(csp, csp) for csp in upper.csps]
    return sections or [(csp, csp) for csp in own.unitaries]


def summary_columns(own: geography.ForceAreas) -> list[str]:
    """Columns of the summary table: each county's CSPs then its total (e.g. "County Council Area"), as printed."""
    return series.county_table_areas(own)


# --------------------------------------------------------------------------- store version


@dataclass(frozen=True)
class StoreVersion:
    """Which store a report was built from: enough to say "data as at" and to rebuild it."""

    key: str  # short hash of the manifest's dataset versions; names cache folders
    datasets: dict  # dataset -> version folder (relative to the data directory)
    imported_at: pd.Timestamp | None  # when the manifest was last swapped (UTC)


def store_version(store: Store) -> StoreVersion:
    """The version of the store as currently loaded (the manifest a reader sees)."""
    store.refresh()
    datasets = dict(sorted(store.manifest.get("datasets", {}).items()))
    key = hashlib.sha256(json.dumps(datasets, sort_keys=True).encode()).hexdigest()[:12]
    updated = store.manifest.get("updated")
    return StoreVersion(key, datasets, pd.Timestamp(updated) if updated else None)


# --------------------------------------------------------------------------- every series at once


@dataclass(frozen=True)
class AllLimits:
    """Every area x measure (and neighbourhood x measure) series of a financial year.

    `keys` has one row per series (area, neighbourhood or None, measure); `window` is the
    48-month count matrix (NaN where a month is not held), `result` the engine's output
    for the report year, `column` the report month's column within the year.
    """

    keys: pd.DataFrame
    months: pd.DatetimeIndex
    window: np.ndarray
    result: limits.LimitResult
    column: int
    report_month: pd.Timestamp
    areas: geography.ForceAreas  # which CSPs make up each county total (for a county's contributors)

    def month_table(self) -> pd.DataFrame:
        """One row per series for the report month: count, expected, upper, lower, status, low_volume."""
        c = self.column
        r = self.result
        return self.keys.assign(
            count=r.count[:, c], expected=r.monthly_average_prev3[:, c], upper=r.upper[:, c], lower=r.lower[:, c],
            status=r.status[:, c], low_volume=r.low_volume[:, c],
        )

    def row(self, area: str, measure: str, neighbourhood: str | None = None) -> int:
        hood = self.keys["neighbourhood"].isna() if neighbourhood is None else self.keys["neighbourhood"] == neighbourhood
        found = np.flatnonzero((self.keys["area"] == area) & (self.keys["measure"] == measure) & hood)
        if not len(found):
            raise KeyError(f"no series for {area!r} / {neighbourhood!r} / {measure!r}")
        return int(found[0])

    def series_frame(self, area: str, measure: str) -> pd.DataFrame:
        """One series' twelve months in `limits.series_limits`' format (the chart's data)."""
        i = self.row(area, measure)
        r = self.result
        return pd.DataFrame({
            "month": limits.fy_months(limits.fy_of(self.report_month)), "count": r.count[i],
            "monthly_average_prev3": r.monthly_average_prev3[i], "average": r.average[i], "upper": r.upper[i],
            "lower": r.lower[i], "status": r.status[i], "low_volume": r.low_volume[i],
            "baseline_years": r.baseline_years[i],
        })

    def window_sum(self, i: int, months: pd.DatetimeIndex) -> float:
        """Total count of series `i` over `months`; NaN if any of them is not held (missing is not zero)."""
        positions = self.months.get_indexer(months)
        if (positions < 0).any():
            return float("nan")
        values = self.window[i, positions]
        return float("nan") if np.isnan(values).any() else float(values.sum())


def all_series_limits(
    store: Store, report_month: pd.Timestamp, method: str, k: float, min_significant: int, dataset: str = DATASET,
    force: str | None = None,
) -> AllLimits:
    """Limits for every series the report may need, in one query and one engine call.

    Series: every top area of one force of the store (`force`; the first when omitted) (each CSP, each county's total, the force
    area; for Derbyshire the county CSPs, County Council Area, Derby City and Force Area), and every
    neighbourhood of every CSP, for every measure the dataset holds. A held month with no
    records is zero; a month not held is NaN; months after the report month are blanked
    in the engine's input (the report is "up to and including" that month). `window`
    keeps them, but the year-to-date and 12-month sums never reach past the report month.
    """
    refuse_sensitive(dataset)
    report_month = pd.Timestamp(report_month)
    fy = limits.fy_of(report_month)
    months = limits.window_months(fy)
    names = series.measures(store, dataset)
    if not names:
        raise series.NoData(f"the store holds no {dataset} data; import some first")
    own = series.force_areas(store, force)
    stored = _stored_limits(store, dataset, own, names, report_month, method, k, min_significant)
    if stored is not None:
        return stored
    frame = store.query(
        """SELECT measure, csp, neighbourhood, parent, month, sum(count) AS count FROM monthly
           WHERE dataset = ? AND force = ? AND month BETWEEN ? AND ? GROUP BY ALL""",
        [dataset, own.force.slug, months[0].date(), months[-1].date()],
    )
    frame["month"] = pd.to_datetime(frame["month"])
    # Stack the frame once per level so one pivot gives every series.
    hood = frame[frame["csp"].notna()].rename(columns={"csp": "area"})
    csp = hood.assign(neighbourhood=None)
    county = frame[frame["parent"].isin(own.county_names)].assign(area=lambda f: f["parent"], neighbourhood=None)
    force = frame.assign(area=geography.FORCE, neighbourhood=None)
    stacked = pd.concat([hood, csp, county, force], ignore_index=True)[["area", "neighbourhood", "measure", "month", "count"]]
    stacked["neighbourhood"] = stacked["neighbourhood"].fillna("")
    index = _series_index(own, names)
    wide = stacked.pivot_table(index=["area", "neighbourhood", "measure"], columns="month", values="count", aggfunc="sum")
    wide = wide.reindex(index=index, columns=months).fillna(0.0)
    held = series.coverage(store, dataset, own.force.slug)
    window = wide.to_numpy(dtype=float, copy=True)
    window[:, ~months.isin(held)] = np.nan
    engine_input = window.copy()
    engine_input[:, months > report_month] = np.nan
    result = limits.compute_limits(engine_input, method, k, min_significant)
    keys = index.to_frame(index=False)
    keys["neighbourhood"] = keys["neighbourhood"].where(keys["neighbourhood"] != "", None)
    column = int(months.get_loc(report_month)) - WINDOW
    return AllLimits(keys, months, window, result, column, report_month, own)


def _series_index(own: geography.ForceAreas, names: list[str]) -> pd.MultiIndex:
    """Every series of the report, in its order: the top areas, then each CSP's neighbourhoods, each by measure."""
    areas = own.wards[["csp", "neighbourhood"]].drop_duplicates().sort_values(["csp", "neighbourhood"])
    csps = set(own.csps)  # a property that walks the geography: once, not per neighbourhood
    places = [(a, "") for a in own.top_areas]
    places += [(r.csp, r.neighbourhood) for r in areas.itertuples() if r.csp in csps]
    return pd.MultiIndex.from_tuples([(a, n, m) for a, n in places for m in names],
                                     names=["area", "neighbourhood", "measure"])


def _stored_limits(store: Store, dataset: str, own: geography.ForceAreas, names: list[str],
                   report_month: pd.Timestamp, method: str, k: float, min_significant: int) -> AllLimits | None:
    """`all_series_limits` read from the version's materialised limits (no scan of the monthly table,
    no engine call); None when a series or month is not stored, and the caller computes on demand.

    The 48-month window is the stored counts of the four financial years (a month before the
    first stored year is one the store does not hold: NaN, as on demand).
    """
    fy = limits.fy_of(report_month)
    months = limits.window_months(fy)
    index = _series_index(own, names)
    grid = limits_table.read_grid(store, dataset, own.force.slug, method, k, index.to_frame(index=False), months)
    if grid is None:
        return None
    year = slice(WINDOW, WINDOW + MONTHS_PER_YEAR)
    if not grid["present"][:, year].all():  # a series the file does not hold (a newer geography)
        return None
    window = grid["count"]
    this_year = limits_table.blank_after({c: a[:, year] for c, a in grid.items()}, months[year], report_month,
                                         min_significant)
    result = limits.LimitResult(**{c: this_year[c] for c in limits.LimitResult.__dataclass_fields__})
    keys = index.to_frame(index=False)
    keys["neighbourhood"] = keys["neighbourhood"].where(keys["neighbourhood"] != "", None)
    column = int(months.get_loc(report_month)) - WINDOW
    return AllLimits(keys, months, window, result, column, report_month, own)


# --------------------------------------------------------------------------- issues


@dataclass(frozen=True)
class Flag:
    """One series flagged in the report month."""

    area: str
    measure: str
    count: float
    expected: float  # Monthly Average (Prev. 3 Years) for this month
    upper: float
    lower: float
    status: str


@dataclass(frozen=True)
class Section:
    """One "<area> - Summary of issues": the numbered Current Issues with their Context,
    plus falls below the lower line and low-volume flags, listed apart (never as issues)."""

    area: str
    heading: str
    issues: list[Flag]
    contexts: list[str]
    below: list[Flag]
    not_significant: list[Flag]
    # Approved analyst text: one (text, approved by) or None per issue, and the area's CSP Activity.
    commentary: list[tuple[str, str] | None] = field(default_factory=list)
    activity: tuple[str, str] | None = None
    # Analysts' hand-picking, shown as theirs: who added each issue (None: computed), and
    # computed issues they dropped, each with (reason, approved by).
    added_by: list[tuple[str, str] | None] = field(default_factory=list)
    dropped: list[tuple[Flag, str, str]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.heading} - Summary of issues"


def _flags(table: pd.DataFrame) -> list[Flag]:
    """Flags for one area's rows, measures put in report order."""
    ordered = measure_order(table["measure"].tolist())
    return _flags_in_order(table.set_index("measure").loc[ordered].reset_index())


def _flags_in_order(table: pd.DataFrame) -> list[Flag]:
    """Flags for rows already in report order."""
    return [Flag(r.area, r.measure, float(r.count), float(r.expected), float(r.upper), float(r.lower), r.status)
            for r in table.itertuples()]


def area_flags(month: pd.DataFrame, area: str, min_significant: int) -> tuple[list[Flag], list[Flag], list[Flag]]:
    """(current issues, below the lower line, above but under `min_significant`) for one area.

    A Current Issue is a count above the upper line with a volume of significance
    (count >= min_significant): "Normally a monthly crime figure of less than ten crimes
    will not be regarded as significant".
    """
    rows = month[(month["area"] == area) & month["neighbourhood"].isna()]
    above = rows[rows["status"] == limits.ABOVE]
    issues = above[above["count"] >= min_significant]
    small = above[above["count"] < min_significant]
    below = rows[rows["status"] == limits.BELOW]
    return _flags(issues), _flags(below), _flags(small)


def hand_picked(month: pd.DataFrame, area: str, computed: list[Flag], notes: dict) -> tuple[list[Flag], list, list]:
    """Apply approved "drop" and "add" notes to an area's computed Current Issues.

    Returns (issues, added_by per issue, dropped). Added issues follow the computed ones in
    measure order; a note naming a measure the store does not hold is ignored.
    """
    drops = {m: v for (a, m, k), v in notes.items() if a == area and k == "drop"}
    adds = {m: v for (a, m, k), v in notes.items() if a == area and k == "add"}
    kept = [f for f in computed if f.measure not in drops]
    dropped = [(f, *drops[f.measure]) for f in computed if f.measure in drops]
    rows = month[(month["area"] == area) & month["neighbourhood"].isna() & month["measure"].isin(list(adds))]
    rows = rows[~rows["measure"].isin([f.measure for f in computed])]
    extra = _flags(rows) if len(rows) else []
    return kept + extra, [None] * len(kept) + [adds[f.measure] for f in extra], dropped


def current_issues(all_limits: AllLimits, min_significant: int) -> list[tuple[str, list[Flag]]]:
    """Every section's Current Issues in report order: what the board view walks through."""
    month = all_limits.month_table()
    return [(area, area_flags(month, area, min_significant)[0]) for area, _ in report_sections(all_limits.areas)]


@dataclass(frozen=True)
class Walk:
    """What the board view steps through for one month: the Current Issues in report order
    (county first, then each CSP, measures in report order), and apart from them the falls
    below the lower line, which are listed as the report lists them but are never issues."""

    issues: tuple[Flag, ...]
    below: tuple[Flag, ...]

    def position(self, area: str, measure: str) -> int | None:
        """1-based position of an area and measure among the issues, or None when it is not one."""
        for i, flag in enumerate(self.issues, start=1):
            if flag.area == area and flag.measure == measure:
                return i
        return None


def board_walk(store: Store, report_month: pd.Timestamp, method: str, k: float, min_significant: int,
               dataset: str = DATASET, force: str | None = None) -> Walk:
    """The month's Current Issues and falls below for the board view, memoised per store version.

    The same rule as the printed report (`area_flags`): one engine call for every series
    (`all_series_limits`), cached so stepping through issues on a projector never waits on it.
    """
    report_month = pd.Timestamp(report_month)

    def compute() -> Walk:
        table = area_month_table(store, report_month, method, k, min_significant, dataset, force)
        order = [area for area, _heading in report_sections(series.force_areas(store, force))]
        # `area_flags` for each section in turn, in one pass: sections in report order, measures in
        # report order within each (a per-area pandas filter cost a largest force ~1 s a walk).
        rows = table[table["neighbourhood"].isna() & table["area"].isin(order)]
        measures = measure_order(list(rows["measure"].unique()))
        rows = rows.assign(_area=rows["area"].map({a: i for i, a in enumerate(order)}),
                           _measure=rows["measure"].map({m: i for i, m in enumerate(measures)}))
        rows = rows.sort_values(["_area", "_measure"], kind="stable")
        above = rows[(rows["status"] == limits.ABOVE) & (rows["count"] >= min_significant)]
        return Walk(tuple(_flags_in_order(above)), tuple(_flags_in_order(rows[rows["status"] == limits.BELOW])))

    slug = series.force_areas(store, force).force.slug
    return store.cached(("board_walk", dataset, slug, report_month, method, float(k), int(min_significant)), compute)


def area_month_table(store: Store, report_month: pd.Timestamp, method: str, k: float, min_significant: int,
                     dataset: str = DATASET, force: str | None = None) -> pd.DataFrame:
    """The report month's area-level rows of one force (`AllLimits.month_table`'s columns, neighbourhood
    None): all the Current Issues and falls below need.

    The summary table's computation for every top area: the stored limits' rows of one month when
    they answer, else the engine over the area series only. Not every series of the force over four
    years (`all_series_limits`): for a national store's largest force that took 1-2 s per board step,
    and the area rows are the same figures either way (tests/test_board.py).
    """
    if not series.measures(store, dataset):
        raise series.NoData(f"the store holds no {dataset} data; import some first")
    own = series.force_areas(store, force)
    table = series.summary_table(store, dataset, pd.Timestamp(report_month), method, k, min_significant,
                                 areas=list(own.top_areas), force=force)
    return table.assign(neighbourhood=None)[
        ["area", "neighbourhood", "measure", "count", "expected", "upper", "lower", "status", "low_volume"]]


def data_as_at(store: Store, dataset: str, force: str | None = None) -> str:
    """"Data as at": when the store version being read was imported, and the latest month it holds (for the force)."""
    version = store_version(store)
    held = series.coverage(store, dataset, force)
    stamp = version.imported_at
    if stamp is not None and stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    imported = f"{stamp:%d %b %Y %H:%M} UTC" if stamp is not None else "import time not recorded"
    latest = f"latest month {max(held):%B %Y}" if len(held) else "no months held"
    return f"Data as at {imported}, {latest}"


# --------------------------------------------------------------------------- context


def noun(measure: str) -> str:
    """What a count of this measure is called in a sentence."""
    return "incidents" if measure == ASB else "offences"


def number(value: float) -> str:
    """A figure as printed: whole numbers with separators, else one decimal."""
    value = float(value)
    return f"{value:,.0f}" if abs(value - round(value)) < 0.05 else f"{value:,.1f}"


def pct(change: float, base: float) -> str:
    """A percentage change rounded to a whole number, as the packs print it ("23%")."""
    return f"{abs(round(100 * change / base)):.0f}%"


def _change_phrase(now: float, then: float, noun_word: str, count_word: str) -> str:
    """"an increase of 23% (25 additional offences)" / "a decrease of 3% (4 fewer offences)"."""
    change = now - then
    if change == 0:
        return f"no change ({number(now)} {noun_word} in each period)"
    if then == 0:
        return f"an increase of {number(change)} {noun_word} (none in the same period {count_word})"
    if change > 0:
        return f"an increase of {pct(change, then)} ({number(change)} additional {noun_word})"
    return f"a decrease of {pct(change, then)} ({number(-change)} fewer {noun_word})"


@dataclass(frozen=True)
class ContextFigures:
    """The figures one Context paragraph is written from (kept so tests and the report can show them)."""

    ytd_now: float
    ytd_then: float
    ytd_first: pd.Timestamp
    rolling_now: float
    rolling_then: float
    contributors: list[tuple[str, int]]
    contributor_kind: str  # "neighbourhoods" or "partnerships"


def context_figures(all_limits: AllLimits, flag: Flag) -> ContextFigures:
    """Year-to-date and rolling 12-month totals, and the places contributing most, for one flag."""
    month = all_limits.report_month
    i = all_limits.row(flag.area, flag.measure)
    fy = limits.fy_of(month)
    ytd = limits.fy_months(fy)
    ytd = ytd[ytd <= month]
    rolling = pd.date_range(end=month, periods=MONTHS_PER_YEAR, freq="MS")
    keys = all_limits.keys
    column = all_limits.months.get_loc(month)
    if flag.area in all_limits.areas.county_names:
        members = all_limits.areas.members(flag.area)
        parts = keys[(keys["measure"] == flag.measure) & keys["neighbourhood"].isna() & keys["area"].isin(members)]
        names, kind = parts["area"], "partnerships"
    else:
        parts = keys[(keys["measure"] == flag.measure) & (keys["area"] == flag.area) & keys["neighbourhood"].notna()]
        names, kind = parts["neighbourhood"], "neighbourhoods"
    counts = all_limits.window[parts.index.to_numpy(), column]
    ranked = sorted(((n, int(c)) for n, c in zip(names, counts) if c > 0), key=lambda x: (-x[1], x[0]))
    chosen, total = [], 0
    for name, count in ranked[:MAX_CONTRIBUTORS]:
        chosen.append((name, count))
        total += count
        if total > MAJORITY_SHARE * flag.count:
            break
    return ContextFigures(
        ytd_now=all_limits.window_sum(i, ytd),
        ytd_then=all_limits.window_sum(i, ytd - pd.DateOffset(years=1)),
        ytd_first=ytd[0],
        rolling_now=all_limits.window_sum(i, rolling),
        rolling_then=all_limits.window_sum(i, rolling - pd.DateOffset(years=1)),
        contributors=chosen,
        contributor_kind=kind,
    )


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def context_paragraph(flag: Flag, figures: ContextFigures, report_month: pd.Timestamp) -> str:
    """The Context paragraph for one issue, in the report's style.

    e.g. "Violence with injury is currently showing an increase of 23% (25 additional
    offences) year to date ... The majority of the offences were recorded in ...".
    """
    month = pd.Timestamp(report_month)
    word = noun(flag.measure)
    name = flag.measure[0].upper() + flag.measure[1:]
    first = figures.ytd_first
    span = f"April to {month:%B %Y}" if first != month else f"April {month.year}"
    parts = []
    if np.isnan(figures.ytd_now) or np.isnan(figures.ytd_then):
        parts.append(f"{name}: the store does not hold every month of this year to date and the same period last "
                     "year, so no year-to-date change is given.")
    else:
        parts.append(f"{name} is currently showing {_change_phrase(figures.ytd_now, figures.ytd_then, word, 'last year')} "
                     f"year to date ({span}, {number(figures.ytd_now)} against {number(figures.ytd_then)} "
                     "in the same period last year).")
    if np.isnan(figures.rolling_now) or np.isnan(figures.rolling_then):
        parts.append("The store does not hold all of the last 24 months, so no 12-month change is given.")
    else:
        parts.append(f"Over the 12 months to {month:%B %Y} there has been "
                     f"{_change_phrase(figures.rolling_now, figures.rolling_then, word, 'before')} "
                     "compared with the previous 12 months.")
    difference = flag.count - flag.expected
    relation = (f"{number(difference)} more than the {number(flag.expected)}" if difference > 0 else
                f"{number(-difference)} fewer than the {number(flag.expected)}" if difference < 0 else
                f"the same as the {number(flag.expected)}")
    excess = flag.count - flag.upper
    if excess <= 0:  # an issue an analyst added although it is not above the line
        above = f"{number(-excess)} below the upper line of {number(flag.upper)}"
    elif number(excess) in ("0", "0.0"):
        above = f"just above the upper line of {flag.upper:,.2f}"
    else:
        above = f"{number(excess)} above the upper line of {number(flag.upper)}"
    parts.append(f"In {month:%B %Y} there were {number(flag.count)} {word}, {above} and {relation} normally seen in {month:%B} "
                 "(the average for the month over the previous three years).")
    if figures.contributors:
        places = _listing([f"{n} ({c})" for n, c in figures.contributors])
        lead = "The majority of the" if sum(c for _, c in figures.contributors) > MAJORITY_SHARE * flag.count else "Most of the"
        parts.append(f"{lead} {word} were recorded in {places}.")
    return " ".join(parts)


# --------------------------------------------------------------------------- the whole report


@dataclass
class Report:
    """Everything the printed report shows, computed once from one store version."""

    month: pd.Timestamp
    method: str
    k: float
    min_significant: int
    version: StoreVersion
    latest_month: pd.Timestamp | None
    summary: pd.DataFrame  # measures x (CSPs + County Council Area): "Above", "Below" or ""
    rolling: pd.DataFrame  # Table 1, All crimes
    rolling_note: str
    sections: list[Section]
    all_limits: AllLimits = field(repr=False)
    fire_kpi: object | None = None  # fire.QuarterReport, or None when fire data is not held
    fire_note: str = ""
    marac: pd.DataFrame | None = None  # protected release (small counts suppressed) only
    marac_split: pd.DataFrame | None = None
    marac_note: str = ""
    hate_ytd: pd.DataFrame | None = None  # formatted as printed
    hate_note: str = ""
    areas: list[str] | None = None  # one partnership's section alone (cover and that section only)
    suppress_below: int = 5  # MARAC counts under this are suppressed
    notes_key: str = ""  # hash of the approved commentary printed, so a new approval makes a new report
    # MARAC is printed only in a report for a closed session (issue 10): an open-session report is
    # read on a projector and handed round, so it says MARAC is reported in closed session instead.
    closed_session: bool = False
    # In a store of several forces, the force reported on (slug and name; "" in a one-force store).
    force: str = ""
    force_name: str = ""

    @property
    def title(self) -> str:
        title = f"{REPORT_TITLE} up to and including {self.month:%B %Y}"
        return f"{title}: {self.force_name}" if self.force_name else title

    @property
    def data_as_at(self) -> str:
        imported = (f"imported {self.version.imported_at:%d %B %Y %H:%M} UTC" if self.version.imported_at is not None
                    else "import time not recorded")
        latest = f"latest month held {self.latest_month:%B %Y}" if self.latest_month is not None else "no months held"
        return f"Data as at: store version {self.version.key}, {imported}; {latest}."

    @property
    def session_words(self) -> str:
        """On the cover: which session the paper is for, so a closed-session paper is not handed round."""
        return ("Closed session paper: includes MARAC. Not for circulation beyond the closed session."
                if self.closed_session else "Open session paper: MARAC is reported in closed session only.")

    @property
    def method_words(self) -> str:
        k = number(self.k)
        return (f"Upper and lower lines: {METHOD_WORDS[self.method].format(k=k)}. A month above the upper line is "
                f"a Current Issue when its count is at least {self.min_significant}: \"Normally a monthly crime figure "
                f"of less than ten crimes will not be regarded as significant\".")


OPEN_SESSION_MARAC_NOTE = ("MARAC is reported in closed session only: this report was prepared for an open session, "
                           "so it holds no MARAC figures.")


def summary_grid(month: pd.DataFrame, own: geography.ForceAreas) -> pd.DataFrame:
    """The "Summary table of crimes falling above or below trigger levels": measures x areas."""
    columns = summary_columns(own)
    rows = month[month["neighbourhood"].isna() & month["area"].isin(columns)]
    grid = rows.pivot(index="measure", columns="area", values="status").reindex(columns=columns)
    grid = grid.reindex(measure_order(grid.index.tolist()))
    grid = grid.where(grid.isin([limits.ABOVE, limits.BELOW]), "")
    grid.index.name = "Crime group"
    return grid.reset_index()


def notes_key(notes: dict | None) -> str:
    """A short hash of approved commentary, part of a report's cache key."""
    if not notes:
        return ""
    flat = sorted([list(k) + list(v) for k, v in notes.items()])
    return hashlib.sha256(json.dumps(flat).encode()).hexdigest()[:12]


def check_month(store: Store, report_month: str | pd.Timestamp, dataset: str = DATASET,
                force: str | None = None) -> pd.Timestamp:
    """The report month as a month start, refused with the months held when the force (the first: omitted) lacks it."""
    try:
        month = params.parse_month(report_month.strip() if isinstance(report_month, str) else report_month)
    except ValueError:
        raise ValueError(f"--month {report_month!r}: give a month as YYYY-MM, e.g. 2026-10") from None
    own = series.force_areas(store, force)
    held = series.coverage(store, dataset, own.force.slug)
    whose = f" for {own.force.name}" if len(geography.force_slugs(store.data_dir)) > 1 else ""
    if not len(held):
        raise series.NoData(f"the store holds no {dataset} data{whose}; import some first")
    if month not in held:
        raise series.NoData(f"the store does not hold {month:%B %Y}{whose}; it holds {held.min():%Y-%m} to "
                            f"{held.max():%Y-%m}")
    return month


def build_report(
    store: Store, report_month: str | pd.Timestamp, method: str, k: float, min_significant: int,
    areas: list[str] | None = None, suppress_below: int = 5, with_other_datasets: bool = True,
    notes: dict[tuple[str, str, str], tuple[str, str]] | None = None,
    closed_session: bool = False, state_dir: Path | None = None, force: str | None = None,
) -> Report:
    """The whole report for a month; `areas` keeps only those sections (e.g. one partnership).

    `force`: in a store of several forces, the force reported on (slug or name; the first when
    omitted). Its geography names the sections. Fire, MARAC and hate crime carry no force per row:
    they are the store's first force's, so another force's report says it holds none of them.

    `notes` is the month's approved commentary and CSP Activity
    (`commentary.Commentary.approved_for_month`): {(area, measure, kind): (text, approved by)}.
    `closed_session`: print MARAC (its protected release, from the ledger in `state_dir` like
    every other MARAC figure); False (the default, the safe one) leaves MARAC out. The caller
    decides from the requester's role and session (`roles.allowed(role, "marac", "view", closed)`).
    """
    from queries import fire, hate, marac  # the other datasets' own tables, as their tabs show them

    own = series.force_areas(store, force)
    force = own.force.slug
    several = len(geography.force_slugs(store.data_dir)) > 1
    month = check_month(store, report_month, force=force)
    known = [a for a, _ in report_sections(own)]
    for area in areas or []:
        if area not in known:
            raise geography.UnknownArea(f"unknown report area {area!r}; choose one of: {', '.join(known)}")
    everything = all_series_limits(store, month, method, k, min_significant, force=force)
    table = everything.month_table()
    sections = []
    for area, heading in report_sections(own):
        if areas and area not in areas:
            continue
        notes = notes or {}
        computed, below, small = area_flags(table, area, min_significant)
        issues, added_by, dropped = hand_picked(table, area, computed, notes)
        contexts = [context_paragraph(f, context_figures(everything, f), month) for f in issues]
        remarks = [notes.get((area, f.measure, "commentary")) for f in issues]
        sections.append(Section(area, heading, issues, contexts, below, small, remarks, notes.get((area, "", "activity")),
                                added_by, dropped))
    rolling = series.rolling_12(store, DATASET, ALL_CRIME, month, force=force)
    report = Report(
        month=month, method=method, k=k, min_significant=min_significant, version=store_version(store),
        latest_month=series.latest_month(store, DATASET, force), summary=summary_grid(table, own), rolling=rolling,
        rolling_note=rolling.attrs.get("note", ""), sections=sections, all_limits=everything, areas=areas or None,
        suppress_below=suppress_below, notes_key=notes_key(notes), closed_session=closed_session,
        force=force if several else "", force_name=own.force.name if several else "",
    )
    if not with_other_datasets or areas:
        return report
    if force != owners.default_owner(store.data_dir):
        none = (f"This store's fire, MARAC and hate crime data are "
                f"{geography.areas(store.data_dir).force.name}'s: none is held for {own.force.name}.")
        report.fire_note = report.hate_note = none
        report.marac_note = none if closed_session else OPEN_SESSION_MARAC_NOTE
        return report
    if store.has(fire.DATASET):
        fy, quarter = _last_complete_quarter(store, month)
        if fy is None:
            report.fire_note = "No complete quarter of fire data is held up to this month."
        else:
            report.fire_kpi = fire.quarter_report(store, fire.targets(store.data_dir), fy, quarter)
    else:
        report.fire_note = "The store holds no fire data."
    if not closed_session:
        report.marac_note = OPEN_SESSION_MARAC_NOTE
    elif store.has(marac.DATASET):
        from queries import marac_ledger, statedb

        try:
            release = marac.release(store, suppress_below, state_dir=state_dir)
        except (marac_ledger.DisclosureError, marac.RevisionError, statedb.StateError) as exc:
            report.marac_note = f"MARAC is withheld: {exc}"
        else:
            quarters = marac.period_table(release, geography.FORCE, marac.QUARTER)
            report.marac = quarters.tail(4).reset_index(drop=True)
            report.marac_split = marac.split_table(release, marac.QUARTER, own=own).tail(4).reset_index(drop=True)
            report.marac_note = (f"Counts under {suppress_below} are suppressed (*), with further cells hidden where "
                                 "they would reveal one.")
    else:
        report.marac_note = "The store holds no MARAC data."
    if store.has(hate.DATASET) and month in series.coverage(store, hate.DATASET):
        ytd = hate.ytd_table(store, hate.CRIME, month)
        report.hate_ytd = hate.format_ytd(ytd)
        report.hate_note = ytd.attrs.get("note", "")
    else:
        report.hate_note = f"The store holds no hate crime data for {month:%B %Y}."
    return report


def _last_complete_quarter(store: Store, month: pd.Timestamp) -> tuple[int | None, int | None]:
    """The latest financial quarter ending on or before the report month that the fire data fully holds."""
    from queries import fire

    held = series.coverage(store, fire.DATASET)
    fy, quarter = fire.quarter_of(month)
    for _ in range(8):
        months = fire.quarter_months(fy, quarter)
        if months[-1] <= month and months.isin(held).all():
            return fy, quarter
        fy, quarter = (fy, quarter - 1) if quarter > 1 else (fy - 1, 4)
    return None, None
