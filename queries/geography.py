"""The area hierarchy of a store, derived from data: force area -> upper-tier authorities -> CSPs -> neighbourhoods -> wards.

Nothing here names a place. A store's data directory says which police force(s) it is for
(`geography/forces.csv`, written by `python app.py init`); the national tables shipped with
the product (queries/national.py) give every district of that force, its upper-tier
authority and every ward. From those:

- an upper-tier authority is either a *county* (a county council area with several
  districts: its CSPs are listed, then its own total row) or a *unitary* (one district,
  which is itself one CSP and its own total);
- a CSP is one district by default;
- a neighbourhood is one ward by default.

An optional grouping file, `geography/areas.csv`, changes names and groups, always keyed by
ONS code (ward names repeat across the country, district names are spelt differently by
different boards). Columns `key,code,name` (any other column, e.g. `ons_name`, is a note
for people and is ignored):

- `lad_code,E06000015,Derby City`: the district's CSP is called "Derby City"; several
  districts given the same name are merged into one CSP;
- `utla_code,E10000007,County Council Area`: the upper-tier authority's row is called so;
- `ward_code,E05012345,Ripley Town Centre`: the ward belongs to this named neighbourhood
  (a Safer Neighbourhood Area); wards given the same name within a CSP form one.

Report and selector order comes from the same data: for each county (by name) its CSPs
(by name) then its total row; then the unitaries (by name); then the force total.

Results are cached per data directory and the modification times of its two files, so an
edited grouping file takes effect on the next call without a restart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from queries import national

# Generic labels: the same words for every force.
FORCE = "Force Area"
OUTSIDE = "Outside force area"
UNALLOCATED = "No known area"

# Where a record sits relative to the force area.
IN_AREA = "in_area"
OUTSIDE_AREA = "outside_area"
NO_LOCATION = "unallocated"

# The optional grouping file, and the keys it may use (ONS code columns of the national tables).
AREAS_FILE = "geography/areas.csv"
AREA_KEYS = ("lad_code", "utla_code", "ward_code")
# The store's LSOA lookup is derived from the national table for the force(s) named in this file.
LSOA_FILE = national.FORCES_FILE
WARD_COLUMNS = ["ward_code", "ward_name", "neighbourhood", "csp", "parent", "force"]


class UnknownArea(ValueError):
    """An area name the store does not know; the message lists the valid ones."""


class GroupingError(ValueError):
    """The grouping file names a code the store's force(s) do not have, or has no name for it."""


@dataclass(frozen=True)
class UpperTier:
    """One row of the hierarchy above the CSPs: a county with several CSPs, or a unitary that is one CSP."""

    code: str
    name: str
    csps: tuple[str, ...]

    @property
    def county(self) -> bool:
        """A county (several CSPs) has its own total row; a unitary's total is its one CSP."""
        return len(self.csps) > 1


@dataclass(frozen=True)
class ForceAreas:
    """The areas of one force in a store: names, order and which CSPs make up each total."""

    force: national.Force
    uppers: tuple[UpperTier, ...]
    wards: pd.DataFrame = field(compare=False, repr=False)
    # (ONS district name, its CSP): other services' files name districts the ONS way ("Derby").
    district_names: tuple[tuple[str, str], ...] = ()

    @property
    def counties(self) -> list[UpperTier]:
        return [u for u in self.uppers if u.county]

    @property
    def county_names(self) -> list[str]:
        return [u.name for u in self.counties]

    @property
    def unitaries(self) -> list[str]:
        """The CSPs that are their own upper tier (a city, a unitary county), by name."""
        return [u.csps[0] for u in self.uppers if not u.county]

    @property
    def county_csps(self) -> list[str]:
        """The CSPs inside counties, county by county, in report order."""
        return [c for u in self.counties for c in u.csps]

    @property
    def csps(self) -> list[str]:
        """Every CSP in report order: the counties' CSPs, then the unitaries."""
        return self.county_csps + self.unitaries

    @property
    def upper_rows(self) -> list[str]:
        """The rows that together make the force: each county's total, then each unitary."""
        return self.county_names + self.unitaries

    @property
    def top_areas(self) -> list[str]:
        """Areas a chart can be drawn for, in selector and report order."""
        rows = []
        for upper in self.counties:
            rows += list(upper.csps) + [upper.name]
        return rows + self.unitaries + [FORCE]

    @property
    def reconciling_areas(self) -> list[str]:
        """Rows of a reconciling table: the parts (with the records outside any CSP) sum to the force."""
        return self.top_areas[:-1] + [OUTSIDE, UNALLOCATED, FORCE]

    @property
    def own_rows(self) -> list[str]:
        """The top areas plus the rows for records outside the force's CSPs (valid `area` values)."""
        return self.top_areas + [OUTSIDE, UNALLOCATED]

    def parent_of(self, csp: str) -> str:
        """The upper-tier row a CSP counts in: its county's total, or itself for a unitary."""
        for upper in self.uppers:
            if csp in upper.csps:
                return upper.name if upper.county else csp
        raise UnknownArea(f"unknown CSP {csp!r}; choose one of: {', '.join(self.csps)}")

    def csp_named(self, text: str) -> str | None:
        """The CSP a file's district name means: a CSP name, an ONS district name, or the start of exactly one CSP's."""
        text = " ".join(str(text).split())
        if text in self.csps:
            return text
        by_ons = dict(self.district_names)
        if text in by_ons:
            return by_ons[text]
        starts = [c for c in self.csps if text and c.casefold().startswith(text.casefold() + " ")]
        return starts[0] if len(starts) == 1 else None

    def members(self, area: str) -> list[str]:
        """The CSPs whose sum is `area` (a CSP is its own only member; the force is every CSP)."""
        if area == FORCE:
            return self.csps
        for upper in self.counties:
            if area == upper.name:
                return list(upper.csps)
        return [area] if area in self.csps else []


# --------------------------------------------------------------------------- loading


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def read_grouping(data_dir: Path) -> pd.DataFrame:
    """The grouping file's rows (key, code, name), or no rows when the store has none."""
    path = Path(data_dir) / AREAS_FILE
    if not path.exists():
        return pd.DataFrame(columns=["key", "code", "name"])
    table = pd.read_csv(path, dtype=str, comment="#").fillna("")
    missing = {"key", "code", "name"} - set(table.columns)
    if missing:
        raise GroupingError(f"{path}: needs the columns key, code, name (missing: {', '.join(sorted(missing))})")
    table = table.assign(**{c: table[c].str.strip() for c in ("key", "code", "name")})
    bad = table[~table["key"].isin(AREA_KEYS)]
    if len(bad):
        raise GroupingError(f"{path}: key {bad['key'].iloc[0]!r} is not one of {', '.join(AREA_KEYS)}")
    unnamed = table[table["name"] == ""]
    if len(unnamed):
        raise GroupingError(f"{path}: {unnamed['key'].iloc[0]} {unnamed['code'].iloc[0]} has no name")
    return table[["key", "code", "name"]]


def _named(codes: pd.Series, names: dict[str, str], ons_names: pd.Series) -> list[str]:
    """The grouping file's name for each code, else its ONS name."""
    return [names.get(code, ons) for code, ons in zip(codes, ons_names)]


@lru_cache(maxsize=32)
def _load(data_dir: str, _forces_stamp: int | None, _areas_stamp: int | None) -> dict[str, ForceAreas]:
    """Every force of the store by slug (the stamps make an edited file a new cache entry)."""
    chosen = national.store_forces(Path(data_dir))
    grouping = read_grouping(Path(data_dir))
    names = {key: dict(zip(rows["code"], rows["name"])) for key, rows in grouping.groupby("key")}
    districts = national.districts_of([f.slug for f in chosen])
    wards = national.lsoas()
    wards = wards[wards["lad_code"].isin(districts["lad_code"])].drop_duplicates("ward_code")
    known = {"lad_code": set(districts["lad_code"]), "utla_code": set(districts["utla_code"]),
             "ward_code": set(wards["ward_code"])}
    for key, given in names.items():
        strangers = sorted(set(given) - known[key])
        if strangers:
            raise GroupingError(
                f"{Path(data_dir) / AREAS_FILE}: {key} {strangers[0]} is not in the area of "
                f"{' or '.join(f.name for f in chosen)} ({len(strangers)} such rows)"
            )
    districts = districts.assign(
        csp=_named(districts["lad_code"], names.get("lad_code", {}), districts["lad_name"]),
        upper=_named(districts["utla_code"], names.get("utla_code", {}), districts["utla_name"]),
    )
    # Wards joined to their district once for every force (43 per-force joins were most of a
    # national store's worker start); each force's rows keep the order its own join gave them.
    columns = ["ward_code", "ward_name", "csp"]
    joined = wards.merge(districts[["lad_code", "csp", "force_slug"]], on="lad_code")
    wards_of = {slug: rows[columns] for slug, rows in joined.groupby("force_slug", sort=False)}
    result = {}
    for force in chosen:
        own = districts[districts["force_slug"] == force.slug]
        uppers = []
        for code, rows in own.groupby("utla_code"):
            uppers.append(UpperTier(code, rows["upper"].iloc[0], tuple(sorted(rows["csp"].unique()))))
        clash = {u.name for u in uppers if u.county} & set(own["csp"])
        if clash:
            raise GroupingError(
                f"{Path(data_dir) / AREAS_FILE}: {sorted(clash)[0]!r} names both a county and a CSP of {force.name}; "
                "give the county's utla_code another name"
            )
        uppers.sort(key=lambda u: (not u.county, u.name))
        force_wards = wards_of.get(force.slug, pd.DataFrame(columns=columns)).reset_index(drop=True)
        force_wards["neighbourhood"] = _named(force_wards["ward_code"], names.get("ward_code", {}),
                                              force_wards["ward_name"])
        parent = {c: (u.name if u.county else c) for u in uppers for c in u.csps}
        force_wards["parent"] = force_wards["csp"].map(parent)
        force_wards["force"] = force.slug
        force_wards = force_wards[WARD_COLUMNS].sort_values(["csp", "neighbourhood", "ward_name"], ignore_index=True)
        names_of = tuple(zip(own["lad_name"], own["csp"]))
        result[force.slug] = ForceAreas(force, tuple(uppers), force_wards, names_of)
    return result


def _forces(data_dir: Path) -> dict[str, ForceAreas]:
    data_dir = Path(data_dir).resolve()
    return _load(str(data_dir), _stamp(data_dir / national.FORCES_FILE), _stamp(data_dir / AREAS_FILE))


def force_slugs(data_dir: Path) -> list[str]:
    """The store's forces (slugs) in the order its forces file lists them."""
    return list(_forces(data_dir))


def areas(data_dir: Path, force: str | None = None) -> ForceAreas:
    """One force's areas; `force` (slug or name) may be omitted in a one-force store (the first is taken)."""
    known = _forces(data_dir)
    if force is None or force == "":
        return next(iter(known.values()))
    if force in known:
        return known[force]
    try:
        slug = national.find_force(force).slug
    except national.UnknownForce:
        slug = None
    if slug in known:
        return known[slug]
    raise UnknownArea(f"this store has no force {force!r}; choose one of: {', '.join(known)}")


def ward_areas(data_dir: Path) -> pd.DataFrame:
    """One row per ward of every force of the store: ward_code, ward_name, neighbourhood, csp, parent, force."""
    frames = [f.wards for f in _forces(data_dir).values()]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].copy()


def lsoa_table(data_dir: Path) -> pd.DataFrame:
    """Every LSOA (both vintages) of the store's forces: the national columns, ward and district."""
    lads = set(national.districts_of(force_slugs(data_dir))["lad_code"])
    table = national.lsoas()
    return table[table["lad_code"].isin(lads)].reset_index(drop=True)


def lsoa_lookup(data_dir: Path) -> pd.DataFrame:
    """LSOA code (both 2011 and 2021 vintages) -> ward code, for the store's force area(s)."""
    return lsoa_table(data_dir)[["lsoa_vintage", "lsoa_code", "ward_code"]]


def grouping_template(data_dir: Path) -> pd.DataFrame:
    """The grouping file with every district and upper tier under its ONS name (what `init` writes)."""
    districts = national.districts_of(force_slugs(data_dir))
    uppers = districts[districts.duplicated("utla_code", keep=False)].drop_duplicates("utla_code")
    rows = [("utla_code", r.utla_code, r.utla_name, r.utla_name) for r in uppers.itertuples()]
    rows += [("lad_code", r.lad_code, r.lad_name, r.lad_name) for r in districts.itertuples()]
    return pd.DataFrame(rows, columns=["key", "code", "name", "ons_name"])


# --------------------------------------------------------------------------- names and SQL


def check_area(area: str, neighbourhood: str | None = None, neighbourhoods: pd.DataFrame | None = None,
               *, data_dir: Path, force: str | None = None) -> None:
    """Raise UnknownArea, listing the choices, unless the area (and neighbourhood) exist in the force."""
    own = areas(data_dir, force)
    if area not in own.own_rows:
        elsewhere = [slug for slug, other in _forces(data_dir).items() if slug != own.force.slug and area in other.own_rows]
        hint = f" (it is an area of force {', '.join(elsewhere)}: choose that force)" if elsewhere else ""
        raise UnknownArea(f"unknown area {area!r} in {own.force.name}{hint}; choose one of: {', '.join(own.top_areas)}")
    if neighbourhood is None:
        return
    if area not in own.csps:
        raise UnknownArea(f"neighbourhoods belong to a CSP, not to {area!r}; choose one of: {', '.join(own.csps)}")
    names = [] if neighbourhoods is None else sorted(neighbourhoods.loc[neighbourhoods["csp"] == area, "neighbourhood"].unique())
    if neighbourhood not in names:
        raise UnknownArea(f"unknown neighbourhood {neighbourhood!r} in {area}; choose one of: {', '.join(names)}")


def area_condition(area: str, neighbourhood: str | None = None, *, data_dir: Path,
                   force: str | None = None) -> tuple[str, list]:
    """A parameterised SQL condition on the monthly table selecting one area's rows of one force."""
    own = areas(data_dir, force)
    scope, params = "force = ?", [own.force.slug]
    if neighbourhood is not None:
        return f"{scope} AND csp = ? AND neighbourhood = ?", params + [area, neighbourhood]
    if area == FORCE:
        return scope, params
    if area in own.county_names:
        return f"{scope} AND parent = ?", params + [area]
    if area == OUTSIDE:
        return f"{scope} AND location = ?", params + [OUTSIDE_AREA]
    if area == UNALLOCATED:
        return f"{scope} AND location = ?", params + [NO_LOCATION]
    return f"{scope} AND csp = ?", params + [area]
