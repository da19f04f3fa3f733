"""Ward boundaries for the map, from an ONS boundary file.

`python app.py import boundaries FILE.geojson [--data-dir DIR]`

FILE is an ONS ward boundary GeoJSON in WGS84 (longitude/latitude), e.g. "Wards (May 2025)
Boundaries UK BGC" from the ONS Open Geography Portal, national or cut to one force. Only
the wards of the store's force(s) (geography/forces.csv) are kept, simplified and
rounded (queries/boundaries.py), and written to geography/wards.geojson in one atomic step.
Files in British National Grid metres are refused with a message saying which download to use.
"""
from __future__ import annotations

from queries.boundaries import import_boundaries

# How many lookup wards with no boundary to name before summarising.
SHOW_MISSING = 10


def main(args) -> int:
    if len(args.paths) != 1:
        raise ValueError(f"import boundaries takes one GeoJSON file, got {len(args.paths)}")
    written, missing, size = import_boundaries(args.paths[0], args.data_dir)
    print(f"wrote {written} ward boundaries ({size / 1024:.0f} kB) to {args.data_dir}/geography/wards.geojson")
    if missing:
        shown = ", ".join(missing[:SHOW_MISSING]) + (f" and {len(missing) - SHOW_MISSING} more" if len(missing) > SHOW_MISSING else "")
        print(f"warning: {len(missing)} ward(s) in the ward lookup have no boundary in the file: {shown}")
    return 0
