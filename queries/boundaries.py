"""Ward boundaries for the map: a compact GeoJSON in the store (`geography/wards.geojson`).

The shipped file covers the demo area's wards (Derbyshire + Derby City, 2025 wards), built
from ONS boundaries (Open Government Licence v3.0). Another force brings its own with
`python app.py import boundaries FILE.geojson`: any ONS ward boundary GeoJSON in WGS84
(properties WDyyCD / WDyyNM / LADyyCD / LADyyNM, any year yy), national or already cut.

Compact means: only the wards of the store's force(s) (`geography/forces.csv`, via the national lookup),
each simplified with shapely (topology kept, ~20 m tolerance: finer than a ward map at city
zoom can show) and rounded to 4 decimals (~11 m). The Derbyshire file drops from 388 kB to
under 250 kB; a full-resolution ONS file shrinks far more.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from queries import geography
from queries.lookup_cache import reparse_when_changed

BOUNDARY_FILE = "geography/wards.geojson"
# Douglas-Peucker tolerance in degrees (about 20 m north-south at 53°N), and coordinate decimals.
SIMPLIFY_DEGREES = 0.0002
DECIMALS = 4
# Property names ONS uses for a ward's code and name, with the boundary year in the middle.
CODE_PATTERN = re.compile(r"^WD\d{2}CD$", re.IGNORECASE)
NAME_PATTERN = re.compile(r"^WD\d{2}NM$", re.IGNORECASE)
# Longitude/latitude stay within these; larger numbers mean a projected grid (e.g. metres).
MAX_DEGREES = 180.0
OUR_PROPERTIES = ("ward_code", "ward_name")


class BoundaryError(ValueError):
    """A boundary file we cannot use; the message names the file and what is wrong."""


def boundary_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / BOUNDARY_FILE


def _property(names: list[str], pattern: re.Pattern, what: str, source: Path) -> str:
    if "ward_code" in names and what == "code":
        return "ward_code"
    if "ward_name" in names and what == "name":
        return "ward_name"
    found = [n for n in names if pattern.match(n)]
    if not found:
        raise BoundaryError(
            f"{source}: no ward {what} property (expected e.g. WD25{'CD' if what == 'code' else 'NM'}); "
            f"properties found: {', '.join(names) or 'none'}"
        )
    return found[0]


def _check_degrees(geometry: Any, source: Path, code: str) -> None:
    from shapely.geometry import shape

    minx, miny, maxx, maxy = shape(geometry).bounds
    if max(abs(minx), abs(maxx)) > MAX_DEGREES or max(abs(miny), abs(maxy)) > MAX_DEGREES / 2:
        raise BoundaryError(
            f"{source}: ward {code} has coordinates like ({minx:.0f}, {miny:.0f}), not longitude/latitude. "
            "This looks like British National Grid (EPSG:27700): download the GeoJSON from the ONS "
            "Open Geography Portal in WGS84 (its GeoJSON download is) and import that."
        )


def compact(collection: dict, ward_codes: set[str] | None, source: Path) -> tuple[dict, list[str]]:
    """Keep `ward_codes` (all wards when None), simplify and round; returns (GeoJSON, missing codes)."""
    from shapely import set_precision
    from shapely.geometry import mapping, shape

    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise BoundaryError(f"{source}: not a GeoJSON FeatureCollection")
    features = collection.get("features") or []
    if not features:
        raise BoundaryError(f"{source}: the file holds no features")
    names = list((features[0].get("properties") or {}).keys())
    code_key = _property(names, CODE_PATTERN, "code", source)
    name_key = _property(names, NAME_PATTERN, "name", source)
    kept, seen = [], set()
    for number, feature in enumerate(features, start=1):
        props = feature.get("properties") or {}
        code, name = props.get(code_key), props.get(name_key)
        if not code or not name:
            raise BoundaryError(f"{source}: feature {number} has no {code_key} or {name_key}")
        if ward_codes is not None and code not in ward_codes:
            continue
        geometry = feature.get("geometry")
        if not geometry or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise BoundaryError(f"{source}: ward {code} ({name}) is not a polygon")
        _check_degrees(geometry, source, code)
        shp = shape(geometry).simplify(SIMPLIFY_DEGREES, preserve_topology=True)
        shp = set_precision(shp, 10 ** -DECIMALS)
        if shp.is_empty:  # a tiny ward rounded away: keep it unsimplified rather than lose it
            shp = shape(geometry)
        geo = json.loads(json.dumps(mapping(shp)), parse_float=lambda text: round(float(text), DECIMALS))
        kept.append({"type": "Feature", "id": code, "properties": {"ward_code": code, "ward_name": name},
                     "geometry": geo})
        seen.add(code)
    if not kept:
        raise BoundaryError(f"{source}: none of its {len(features)} wards is a ward of the store's force "
                            f"({geography.LSOA_FILE}); give the boundaries of this force's wards")
    missing = sorted((ward_codes or set()) - seen)
    return {"type": "FeatureCollection", "features": kept}, missing


def import_boundaries(source: Path, data_dir: Path) -> tuple[int, list[str], int]:
    """Compact `source` into the store's boundary file (atomic replace under the write lock).

    Returns (wards written, lookup wards with no boundary, bytes written).
    """
    from queries.store import write_lock

    source = Path(source)
    try:
        collection = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BoundaryError(f"{source}: no such file") from None
    except UnicodeDecodeError:
        raise BoundaryError(f"{source}: not UTF-8 text; give a GeoJSON file") from None
    except json.JSONDecodeError as exc:
        raise BoundaryError(f"{source}: not valid GeoJSON (line {exc.lineno}): {exc.msg}") from None
    lookup = Path(data_dir) / geography.LSOA_FILE
    codes = set(geography.lsoa_lookup(data_dir)["ward_code"]) if lookup.exists() else None  # no force: keep every ward
    compacted, missing = compact(collection, codes, source)
    target = boundary_path(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(compacted, separators=(",", ":"))
    with write_lock(data_dir):
        partial = target.with_name(target.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    return len(compacted["features"]), missing, len(text.encode())


@reparse_when_changed(lambda data_dir: boundary_path(data_dir))
def load_boundaries(data_dir: Path | str) -> dict:
    """The store's ward boundaries (re-read only when the file changes)."""
    path = boundary_path(data_dir)
    if not path.exists():
        raise BoundaryError(f"no ward boundaries at {path}: run python app.py import boundaries FILE.geojson")
    return json.loads(path.read_text(encoding="utf-8"))
