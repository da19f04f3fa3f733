"""Fire measures and the fire service's quarterly KPI (KPM1.4 Deliberate Fires).

The fire service reports deliberate fires, split into *primary* fires (buildings, road
vehicles and other property of value) and *secondary* fires (rubbish, vegetation and
other outdoor fires), quarterly against a target per district: "KPM1.4 Deliberate
Fires", Actual, Target, Target Met? (met when incidents <= target) and the direction of
travel against the same quarter a year earlier.

Everything here is plain pandas/DuckDB, no Dash: the dashboard, the CLI and the tests call
the same functions. The KPI functions work on the *monthly* table's shape (measure, month,
csp, location, count), so a dashboard interaction never scans incident records, and
`monthly_from_records` turns hand-built records into that shape with the very SQL the
store uses, so tests pin the whole path from records to the board's table.

Records schema (one row per incident; `RECORD_COLUMNS` documents every column): fires,
false alarms and special services are all kept, so an import never loses a row; only
`incident_category = 'Fire'` rows count in the fire measures.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from queries import geography, limits, params
from queries.lookup_cache import reparse_when_changed
from queries.store import aggregate_records

DATASET = "fire"

# --------------------------------------------------------------------------- vocabulary

# IRS incident categories, exactly as the export spells them.
FIRE = "Fire"
FALSE_ALARM = "False Alarm"
SPECIAL_SERVICE = "Special Service"
INCIDENT_CATEGORIES = (FIRE, FALSE_ALARM, SPECIAL_SERVICE)

PRIMARY = "Primary"
SECONDARY = "Secondary"

# Property groups. Primary fires: the brief's "buildings, road vehicles" plus the rest
# (outdoor structures, boats, ...). Secondary fires: the brief's "rubbish, vegetation,
# other outdoor".
BUILDING = "Building"
ROAD_VEHICLE = "Road vehicle"
OTHER_PRIMARY = "Other property"
RUBBISH = "Rubbish"
VEGETATION = "Vegetation"
OTHER_OUTDOOR = "Other outdoor"
PRIMARY_GROUPS = (BUILDING, ROAD_VEHICLE, OTHER_PRIMARY)
SECONDARY_GROUPS = (RUBBISH, VEGETATION, OTHER_OUTDOOR)

# How the IRS property fields decide a group (case-insensitive).
BUILDING_CATEGORIES = {"dwelling", "nonresidential", "otherresidential"}
ROAD_VEHICLE_CATEGORY = "roadvehicle"
ROAD_VEHICLE_TYPE_PREFIX = "road vehicle"
BUILDING_TYPE_PREFIX = "building"
VEGETATION_TYPE = re.compile(r"grassland|woodland|crops|vegetation|hedge|tree", re.IGNORECASE)
RUBBISH_TYPE = re.compile(r"refuse|rubbish|wheelie bin|\bskip\b|recycl|\blitter\b", re.IGNORECASE)

# "Deliberate = Cause of Fire starting 'Deliberate'" (IRS: "Deliberate – others property",
# "Deliberate – own property", "Deliberate – unknown owner").
DELIBERATE_PREFIX = "deliberate"

# Measure names (the board's words). "Deliberate fires" is the KPI's measure.
ALL_FIRES = "All fires"
PRIMARY_FIRES = "Primary fires"
SECONDARY_FIRES = "Secondary fires"
DELIBERATE_FIRES = "Deliberate fires"
DELIBERATE_PRIMARY = "Deliberate primary fires"
DELIBERATE_ROAD_VEHICLES = "Deliberate primary fires - road vehicles"
DELIBERATE_SECONDARY = "Deliberate secondary fires"
DELIBERATE_SECONDARY_BY_GROUP = {
    RUBBISH: "Deliberate secondary fires - rubbish",
    VEGETATION: "Deliberate secondary fires - vegetation",
    OTHER_OUTDOOR: "Deliberate secondary fires - other outdoor",
}
KPI_MEASURE = DELIBERATE_FIRES
KPI_NAME = "KPM1.4 Deliberate Fires"
COUNT_LABEL = "Fire Count (Current)"

# Each measure is a condition on the records; one incident counts in several measures
# (a deliberate primary road-vehicle fire is also a deliberate fire and a primary fire).
_IS_FIRE = f"incident_category = '{FIRE}'"
MEASURE_CONDITIONS: dict[str, str] = {
    ALL_FIRES: _IS_FIRE,
    PRIMARY_FIRES: f"{_IS_FIRE} AND fire_type = '{PRIMARY}'",
    SECONDARY_FIRES: f"{_IS_FIRE} AND fire_type = '{SECONDARY}'",
    DELIBERATE_FIRES: f"{_IS_FIRE} AND deliberate",
    DELIBERATE_PRIMARY: f"{_IS_FIRE} AND deliberate AND fire_type = '{PRIMARY}'",
    DELIBERATE_ROAD_VEHICLES: f"{_IS_FIRE} AND deliberate AND fire_type = '{PRIMARY}' AND property_group = '{ROAD_VEHICLE}'",
    DELIBERATE_SECONDARY: f"{_IS_FIRE} AND deliberate AND fire_type = '{SECONDARY}'",
    **{
        name: f"{_IS_FIRE} AND deliberate AND fire_type = '{SECONDARY}' AND property_group = '{group}'"
        for group, name in DELIBERATE_SECONDARY_BY_GROUP.items()
    },
}
# SELECT over `records` giving (measure, month, ward_code, location, force); see store.build_monthly.
# The names and conditions are this module's constants, never user input.
MEASURE_SQL = "\n        UNION ALL\n".join(
    f"        SELECT '{name}' AS measure, month, ward_code, location, force FROM records WHERE {condition}"
    for name, condition in MEASURE_CONDITIONS.items()
)

# Every column of fire records.parquet, in order, with what it holds and why.
RECORD_COLUMNS: dict[str, str] = {
    "record_id": "IRS Incident Number (e.g. 005538-01072014); unique within the store. Demo: DEMO-F000000.",
    "month": "First day of the month of the incident (date): the store's monthly grain.",
    "incident_date": "Day/Month/Year of the incident (date).",
    "incident_category": "IRS Incident Category: Fire, False Alarm or Special Service. Only Fire counts in fire measures; "
                         "the others are kept so an import reconciles row for row.",
    "fire_type": "Primary or Secondary (from Is Primary Fire yes/no); empty for non-fires.",
    "cause": "IRS Cause of Fire as exported, e.g. 'Deliberate – others property', 'Accidental'.",
    "deliberate": "True when Cause of Fire starts with 'Deliberate' (fires only; always False for non-fires).",
    "property_category": "IRS Property Category as exported (Dwelling, RoadVehicle, Outdoor, ...).",
    "property_type": "IRS Property Type as exported ('Road Vehicle > Car', 'Outdoor > Grassland, ...').",
    "property_group": "Reporting group: primary fires Building / Road vehicle / Other property; secondary fires "
                      "Rubbish / Vegetation / Other outdoor; empty for non-fires (see property_groups()).",
    "source_area": "The export's area columns as read, joined with ' / ' (e.g. 'BANES / ABBEY'): what the "
                   "area mapping was matched on, kept for audit.",
    "district": "District or CSP the area mapping gave; for another service's areas the mapped name "
                "(e.g. 'Bristol') is kept here although it is not a Derbyshire CSP. Empty when unmapped.",
    "mapped_ward": "Ward code or name the area mapping gave (any authority's); empty when unmapped.",
    "ward_code": "Derbyshire 2025 ward code (in data/geography) for in-area incidents; empty otherwise.",
    "location": "in_area (a Derbyshire ward), outside_area (mapped to an area outside the force area) or "
                "unallocated (area unmapped or blank): every incident counts in the Force Area total.",
    "source_file": "File the incident was read from (name only).",
    "source_line": "Line of that file the incident starts on (1 = header).",
}

# --------------------------------------------------------------------------- classification


def _clean(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.strip()


def is_deliberate(cause: pd.Series) -> pd.Series:
    """Cause of Fire starting 'Deliberate' (any case, leading spaces ignored)."""
    return _clean(cause).str.lower().str.startswith(DELIBERATE_PREFIX)


def property_groups(fire_type: pd.Series, property_category: pd.Series, property_type: pd.Series) -> pd.Series:
    """The reporting group of each fire from the IRS property fields (None for non-fires).

    Primary: road vehicle if the category is RoadVehicle or the type starts "Road Vehicle";
    building if the category is a building one or the type starts "Building"; else other
    property. Secondary: rubbish if the type names refuse/rubbish/bins/skips; vegetation if
    it names grassland, woodland, crops, hedges or trees; else other outdoor. Rubbish is
    tested first so "Loose refuse (incl in garden)" is rubbish, not garden vegetation.
    """
    category = _clean(property_category).str.lower().str.replace(" ", "", regex=False)
    ptype = _clean(property_type)
    lower = ptype.str.lower()
    primary = np.select(
        [
            (category == ROAD_VEHICLE_CATEGORY) | lower.str.startswith(ROAD_VEHICLE_TYPE_PREFIX),
            category.isin(BUILDING_CATEGORIES) | lower.str.startswith(BUILDING_TYPE_PREFIX),
        ],
        [ROAD_VEHICLE, BUILDING],
        OTHER_PRIMARY,
    )
    secondary = np.select(
        [ptype.str.contains(RUBBISH_TYPE), ptype.str.contains(VEGETATION_TYPE)],
        [RUBBISH, VEGETATION],
        OTHER_OUTDOOR,
    )
    kind = fire_type.to_numpy(dtype=object)
    groups = np.where(kind == PRIMARY, primary, np.where(kind == SECONDARY, secondary, None))
    return pd.Series(groups, index=fire_type.index, dtype=object)


# --------------------------------------------------------------------------- quarters


def quarter_of(month: pd.Timestamp) -> tuple[int, int]:
    """(financial year, quarter) of a month: Q1 = Apr-Jun, Q2 = Jul-Sep, Q3 = Oct-Dec, Q4 = Jan-Mar."""
    month = pd.Timestamp(month)
    return limits.fy_of(month), (month.month - limits.FY_START_MONTH) % 12 // 3 + 1


def quarter_months(fy: int, quarter: int) -> pd.DatetimeIndex:
    """The three month-starts of a financial-year quarter."""
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"quarter {quarter!r} must be 1, 2, 3 or 4")
    return limits.fy_months(fy)[(quarter - 1) * 3 : quarter * 3]


def fy_text(fy: int) -> str:
    return f"{fy}/{str(fy + 1)[-2:]}"


def quarter_label(fy: int, quarter: int) -> str:
    """The fire service's wording: 'Q2 2015/16'."""
    return f"Q{quarter} {fy_text(fy)}"


def quarter_key(fy: int, quarter: int) -> str:
    """URL form: '2015-Q2' (financial year 2015/16, quarter 2)."""
    return f"{fy}-Q{quarter}"


_QUARTER_KEY = re.compile(r"^\s*(\d{4})(?:/\d{2})?\s*-?\s*Q([1-4])\s*$", re.IGNORECASE)
_QUARTER_LABEL = re.compile(r"^\s*Q([1-4])\s+(\d{4})(?:/\d{2})?\s*$", re.IGNORECASE)


def parse_quarter(text: str) -> tuple[int, int]:
    """'2015-Q2', '2015Q2', '2015/16 Q2' or 'Q2 2015/16' -> (2015, 2); ValueError otherwise."""
    text = str(text)
    match = _QUARTER_KEY.match(text)
    if match:
        return int(match.group(1)), int(match.group(2))
    match = _QUARTER_LABEL.match(text)
    if match:
        return int(match.group(2)), int(match.group(1))
    raise ValueError(f"quarter {text!r} is not like 2015-Q2 (financial year 2015/16, July-September)")


def quarters_held(held: pd.DatetimeIndex) -> pd.DataFrame:
    """Every quarter with at least one month held: fy, quarter, months_held (1-3), newest first."""
    if not len(held):
        return pd.DataFrame({"fy": [], "quarter": [], "months_held": []}, dtype=int)
    pairs = pd.DataFrame([quarter_of(m) for m in held], columns=["fy", "quarter"])
    table = pairs.value_counts().rename("months_held").reset_index()
    return table.sort_values(["fy", "quarter"], ascending=False, ignore_index=True)


# --------------------------------------------------------------------------- targets

TARGETS_FILE = "fire-targets.csv"
TARGET_COLUMNS = ["district", "financial_year", "quarter", "target"]
# The targets file may name the whole force so, besides the store's CSP names; a district may also
# be named the ONS way ("Derby" for "Derby City") or by the start of one CSP's name ("North East").
FORCE_ALIASES = ("Force", geography.FORCE)


class TargetsError(ValueError):
    """The targets file cannot be used; the message names the file and line."""


@reparse_when_changed(lambda path, own: Path(path))
def read_targets(path: Path | str, own: geography.ForceAreas) -> pd.DataFrame:
    """The editable targets file as (district, fy, quarter, target); empty if the file is absent.

    One row per district (CSP of the force `own`) and quarter, plus an optional 'Force Area'
    row (the service's own total target; without it the force target is the sum of the districts').
    """
    path = Path(path)
    if not path.exists():
        return _targets_frame([])
    valid = own.csps + [geography.FORCE]
    rows, seen = [], {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in TARGET_COLUMNS if c not in header]
        if missing:
            raise TargetsError(f"{path} line 1: missing column(s) {', '.join(missing)}; expected {', '.join(TARGET_COLUMNS)}")
        reader.fieldnames = header
        for row in reader:
            line = reader.line_num
            if not any((v or "").strip() for v in row.values()):
                continue
            district = (row["district"] or "").strip()
            district = geography.FORCE if district in FORCE_ALIASES else own.csp_named(district) or district
            if district not in valid:
                raise TargetsError(f"{path} line {line}: unknown district {row['district']!r}; use one of: {', '.join(valid)}")
            try:
                fy = int(re.match(r"^\s*(\d{4})(?:/\d{2})?\s*$", row["financial_year"] or "").group(1))
            except AttributeError:
                raise TargetsError(f"{path} line {line}: financial_year {row['financial_year']!r} is not like 2015/16") from None
            quarter_text = (row["quarter"] or "").strip().upper().removeprefix("Q")
            if quarter_text not in ("1", "2", "3", "4"):
                raise TargetsError(f"{path} line {line}: quarter {row['quarter']!r} is not Q1, Q2, Q3 or Q4")
            try:
                target = int((row["target"] or "").strip())
                if target < 0:
                    raise ValueError
            except ValueError:
                raise TargetsError(f"{path} line {line}: target {row['target']!r} is not a whole number of 0 or more") from None
            key = (district, fy, int(quarter_text))
            if key in seen:
                raise TargetsError(f"{path} line {line}: a second target for {district} {quarter_label(fy, key[2])} "
                                   f"(first on line {seen[key]})")
            seen[key] = line
            rows.append({"district": district, "fy": fy, "quarter": int(quarter_text), "target": target})
    return _targets_frame(rows)


def empty_targets() -> pd.DataFrame:
    """No targets at all (the file is absent or unusable): every Target Met? reads 'No target'."""
    return _targets_frame([])


def _targets_frame(rows: list[dict]) -> pd.DataFrame:
    types = {"district": "str", "fy": "int64", "quarter": "int64", "target": "int64"}
    return pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=t) for c, t in types.items()})


def targets(data_dir: Path | str, force: str | None = None) -> pd.DataFrame:
    return read_targets(Path(data_dir) / TARGETS_FILE, geography.areas(data_dir, force))


def target_for(targets_table: pd.DataFrame, area: str, fy: int, quarter: int, *,
               own: geography.ForceAreas) -> float | None:
    """The target for an area and quarter, or None.

    A county's is the sum of its districts' targets; Force Area is its own row if given,
    else the sum of every district's (only when every part has a target).
    """
    rows = targets_table[(targets_table["fy"] == fy) & (targets_table["quarter"] == quarter)]
    by_district = dict(zip(rows["district"], rows["target"]))
    if area in by_district:
        return float(by_district[area])
    parts = own.members(area) if area == geography.FORCE or area in own.county_names else []
    if parts and all(p in by_district for p in parts):
        return float(sum(by_district[p] for p in parts))
    return None


# --------------------------------------------------------------------------- counts


def monthly_from_records(records: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """The store's monthly table for hand-built records, through exactly the store's SQL."""
    return aggregate_records(records, MEASURE_SQL, areas)


def area_counts(monthly: pd.DataFrame, measure: str, months: pd.DatetimeIndex, *,
                own: geography.ForceAreas) -> pd.Series:
    """Counts of one measure over some months for every reconciling area of the force `own`.

    Index: `own.reconciling_areas` (for Derbyshire the eight county CSPs, County Council Area,
    Derby City, Outside force area, No known area, Force Area). The CSPs plus the last two
    parts add up to Force Area.
    """
    months = pd.DatetimeIndex(months)
    frame = monthly[(monthly["measure"] == measure) & pd.to_datetime(monthly["month"]).isin(months)]
    area = frame["csp"].astype(object).where(
        frame["csp"].notna(),
        np.where(frame["location"] == geography.OUTSIDE_AREA, geography.OUTSIDE, geography.UNALLOCATED),
    )
    counts = frame.groupby(area.to_numpy())["count"].sum()
    result = counts.reindex(own.reconciling_areas).fillna(0).astype(int)
    for county in own.counties:
        result[county.name] = int(counts.reindex(list(county.csps)).fillna(0).sum())
    result[geography.FORCE] = int(frame["count"].sum())
    return result


def direction_label(change: float | None) -> str:
    """'↓20' means 20 fewer than the same quarter last year; '↑5' five more; '↔0' no change."""
    if change is None or (isinstance(change, float) and np.isnan(change)):
        return "n/a"
    change = int(change)
    return f"↓{-change}" if change < 0 else f"↑{change}" if change > 0 else "↔0"


def direction_words(change: float | None, previous_label: str) -> str:
    if change is None or (isinstance(change, float) and np.isnan(change)):
        return f"no comparison: {previous_label} is not held"
    change = int(change)
    if change == 0:
        return f"the same as {previous_label}"
    return f"{abs(change)} {'fewer' if change < 0 else 'more'} than {previous_label}"


MET = "✓ Met"
NOT_MET = "✗ Not met"
NO_TARGET = "No target"


def met_label(met: bool | None) -> str:
    """Symbol and words, so the column reads without colour."""
    return NO_TARGET if met is None else MET if met else NOT_MET


def target_met(actual: float, target: float | None) -> bool | None:
    """The fire service's rule: met when incidents are at or below the target."""
    return None if target is None or np.isnan(target) else bool(actual <= target)


@dataclass(frozen=True)
class QuarterKpi:
    """One KPI line: 'KPM1.4 Deliberate Fires (Q2 2015/16) | 650 | 590 | ✗ | ↓20'."""

    area: str
    fy: int
    quarter: int
    actual: int
    target: float | None
    met: bool | None
    previous: int | None  # same quarter a year earlier; None when that quarter is not fully held
    change: int | None
    months_held: int  # of the quarter's three months
    previous_months_held: int

    @property
    def label(self) -> str:
        return quarter_label(self.fy, self.quarter)

    @property
    def descriptor(self) -> str:
        return f"{KPI_NAME} ({self.label})"

    @property
    def complete(self) -> bool:
        return self.months_held == 3

    @property
    def met_text(self) -> str:
        return met_label(self.met)

    @property
    def direction(self) -> str:
        return direction_label(self.change)

    @property
    def direction_text(self) -> str:
        return direction_words(self.change, quarter_label(self.fy - 1, self.quarter))


def _held_in(months: pd.DatetimeIndex, held: pd.DatetimeIndex | None) -> int:
    return len(months) if held is None else int(pd.DatetimeIndex(months).isin(pd.DatetimeIndex(held)).sum())


def quarterly_kpi(
    monthly: pd.DataFrame, targets_table: pd.DataFrame, fy: int, quarter: int,
    area: str = geography.FORCE, held: pd.DatetimeIndex | None = None, *, own: geography.ForceAreas,
) -> QuarterKpi:
    """KPM1.4 for one area and quarter. `held` is the store's coverage (None: all held).

    Actual counts every deliberate fire in the area (for Force Area: every district plus
    unallocated and outside-area incidents, so 647 in districts + 3 unallocated = 650).
    A partly held quarter reports what is held and says so (months_held); a target is
    only judged on a complete quarter. Direction of travel needs the same quarter a year
    earlier fully held, else it is None.
    """
    months = quarter_months(fy, quarter)
    previous_months = quarter_months(fy - 1, quarter)
    actual = int(area_counts(monthly, KPI_MEASURE, months, own=own)[area])
    held_now, held_before = _held_in(months, held), _held_in(previous_months, held)
    previous = int(area_counts(monthly, KPI_MEASURE, previous_months, own=own)[area]) if held_before == 3 else None
    target = target_for(targets_table, area, fy, quarter, own=own)
    met = target_met(actual, target) if held_now == 3 else None
    return QuarterKpi(area, fy, quarter, actual, target, met, previous,
                      None if previous is None or held_now < 3 else actual - previous, held_now, held_before)


DISTRICT_COLUMNS = ["District", "Incidents", "Target", "Target Met?", "Same quarter last year", "Direction of travel"]


def district_table(
    monthly: pd.DataFrame, targets_table: pd.DataFrame, fy: int, quarter: int, held: pd.DatetimeIndex | None = None,
    *, own: geography.ForceAreas,
) -> pd.DataFrame:
    """The fire service's district table for one quarter, plus the rows that make it reconcile.

    Rows: every CSP (unitaries included, alphabetical as the service lists them),
    then No known area and Outside force area (counted in the total, in no district), then
    Force Area. Target Met? is judged per row with a target on a complete quarter.
    """
    months = quarter_months(fy, quarter)
    previous_months = quarter_months(fy - 1, quarter)
    now = area_counts(monthly, KPI_MEASURE, months, own=own)
    complete = _held_in(months, held) == 3
    before = area_counts(monthly, KPI_MEASURE, previous_months, own=own) if _held_in(previous_months, held) == 3 else None
    rows = sorted(own.csps) + [geography.UNALLOCATED, geography.OUTSIDE, geography.FORCE]
    records = []
    for area in rows:
        target = target_for(targets_table, area, fy, quarter, own=own) if area not in (geography.UNALLOCATED, geography.OUTSIDE) else None
        previous = None if before is None else int(before[area])
        change = None if previous is None or not complete else int(now[area]) - previous
        met = target_met(now[area], target) if complete else None
        records.append({
            "District": area,
            "Incidents": int(now[area]),
            "Target": target,
            "Target Met?": "" if area in (geography.UNALLOCATED, geography.OUTSIDE) else met_label(met) if complete else
            ("Quarter incomplete" if target is not None else NO_TARGET),
            "Same quarter last year": previous,
            "Direction of travel": direction_label(change),
        })
    table = pd.DataFrame.from_records(records, columns=DISTRICT_COLUMNS)
    table["Target"] = table["Target"].astype("Int64")
    table["Same quarter last year"] = table["Same quarter last year"].astype("Int64")
    return table


def road_vehicle_share(monthly: pd.DataFrame, months: pd.DatetimeIndex, *, own: geography.ForceAreas) -> pd.DataFrame:
    """Per area: deliberate primary fires, those involving road vehicles, and the share (%).

    The brief's "38% of deliberate primary fires had involved road vehicles". Share is
    empty where there were no deliberate primary fires.
    """
    primary = area_counts(monthly, DELIBERATE_PRIMARY, months, own=own)
    vehicles = area_counts(monthly, DELIBERATE_ROAD_VEHICLES, months, own=own)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(primary > 0, 100 * vehicles / primary.replace(0, np.nan), np.nan)
    return pd.DataFrame({
        "Area": primary.index,
        "Deliberate primary fires": primary.to_numpy(),
        "Road vehicles": vehicles.to_numpy(),
        "Road vehicle share (%)": np.round(share.astype(float), 1),
    })


def secondary_split(monthly: pd.DataFrame, months: pd.DatetimeIndex, *, own: geography.ForceAreas) -> pd.DataFrame:
    """Per area: deliberate secondary fires by property group (rubbish, vegetation, other outdoor).

    The groups add up to the Total column, which is the Deliberate secondary fires measure.
    """
    table = pd.DataFrame({"Area": own.reconciling_areas})
    for group, measure in DELIBERATE_SECONDARY_BY_GROUP.items():
        table[group] = area_counts(monthly, measure, months, own=own).to_numpy()
    table["Total"] = area_counts(monthly, DELIBERATE_SECONDARY, months, own=own).to_numpy()
    return table


# --------------------------------------------------------------------------- from the store


def store_monthly(store, months: pd.DatetimeIndex, force: str | None = None) -> pd.DataFrame:
    """One force's fire rows of the store's monthly table for some months, in the KPI functions' shape."""
    months = pd.DatetimeIndex(months)
    return store.query(
        """SELECT measure, month, csp, location, sum(count)::BIGINT AS count FROM monthly
           WHERE dataset = ? AND force = ? AND month BETWEEN ? AND ? GROUP BY ALL""",
        [DATASET, geography.areas(store.data_dir, force).force.slug, months.min().date(), months.max().date()],
    )


@dataclass(frozen=True)
class QuarterReport:
    """Everything the Fire tab shows for one quarter."""

    kpi: QuarterKpi
    districts: pd.DataFrame
    road_vehicles: pd.DataFrame
    secondary: pd.DataFrame


def months_held(store) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(
        store.query("SELECT DISTINCT month FROM coverage WHERE dataset = ? ORDER BY month", [DATASET])["month"]))


def quarter_report(store, targets_table: pd.DataFrame, fy: int, quarter: int, area: str = geography.FORCE,
                   force: str | None = None) -> QuarterReport:
    """The KPI for `area`, the district table and the two breakdowns for one quarter of one force."""
    own = geography.areas(store.data_dir, force)
    held = months_held(store)
    months = quarter_months(fy, quarter)
    monthly = store_monthly(store, quarter_months(fy - 1, quarter).append(months), force)
    return QuarterReport(
        kpi=quarterly_kpi(monthly, targets_table, fy, quarter, area, held, own=own),
        districts=district_table(monthly, targets_table, fy, quarter, held, own=own),
        road_vehicles=road_vehicle_share(monthly, months, own=own),
        secondary=secondary_split(monthly, months, own=own),
    )


# The KPI quarter as a URL / CLI parameter: its shape here, the quarters held as its choices.
params.register(params.Param(
    "quarter", "Fire KPI quarter, e.g. 2015-Q2 (financial year 2015/16, July-September).",
    parse=lambda raw: quarter_key(*parse_quarter(raw)),
    choices=lambda ctx: [quarter_key(int(r.fy), int(r.quarter)) for r in quarters_held(months_held(ctx.store)).itertuples()],
    what="quarter",
))
