"""Command line: `python app.py demo | export ... | import ...`.

Errors exit non-zero with one line that says what is wrong and lists the valid choices.
Importers plug in by living at `queries/importers/<name>.py` with `add_arguments(parser)`
and `main(args) -> int`; the table below names them.
"""
from __future__ import annotations

import argparse
import getpass
import importlib
import os
import sys
from pathlib import Path


from queries import audit, demo, limits, settings, users_cli
from queries.geography import UnknownArea
from queries.series import NoData
from queries.statedb import StateError
from queries.store import Store, StoreError

IMPORTERS = {
    "police-uk": "queries.importers.police_uk",
    "fire": "queries.importers.fire",
    "marac": "queries.importers.marac",
    "hate": "queries.importers.hate",
}


def _fy(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fy {text!r}: give the starting year, e.g. 2015 for April 2015 - March 2016")
    if not 1990 <= year <= 2100:
        raise argparse.ArgumentTypeError(f"--fy {year}: not a plausible financial year")
    return year


def build_parser(config: settings.Settings, importer: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python app.py", description="CSP performance dashboard and tools.")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="serve the dashboard (the default)")
    run.add_argument("--data-dir", type=Path, default=config.data_dir)

    demo_cmd = sub.add_parser("demo", help="rebuild the synthetic demo store (deterministic)")
    demo_cmd.add_argument("--data-dir", type=Path, default=config.data_dir)

    export = sub.add_parser("export", help="write a series or grouped counts to CSV")
    export_sub = export.add_subparsers(dest="what", required=True)
    ser = export_sub.add_parser("series", help="the five chart series for one area and measure")
    ser.add_argument("--area", required=True)
    ser.add_argument("--neighbourhood")
    ser.add_argument("--measure", required=True)
    ser.add_argument("--dataset", default="crime")
    ser.add_argument("--fy", type=_fy, required=True, help="starting year: 2015 = April 2015 - March 2016")
    ser.add_argument("--method", choices=settings.LIMIT_METHODS, default=config.limit_method)
    ser.add_argument("--k", type=float, default=config.k)
    ser.add_argument("--data-dir", type=Path, default=config.data_dir)
    ser.add_argument("--out", type=Path, required=True)
    counts = export_sub.add_parser("counts", help="counts grouped by month, area and/or measure")
    counts.add_argument("--dataset", default="crime")
    counts.add_argument("--by", default="month,area,measure")
    counts.add_argument("--measure", help="count only this measure (default without 'measure' in --by: the headline total)")
    counts.add_argument("--data-dir", type=Path, default=config.data_dir)
    counts.add_argument("--out", type=Path, required=True)

    mar = export_sub.add_parser("marac", help="MARAC period tables, small counts suppressed (the only MARAC export)")
    mar.add_argument("--period", default="quarter", help="quarter or financial (complete periods only)")
    mar.add_argument("--data-dir", type=Path, default=config.data_dir)
    mar.add_argument("--out", type=Path, required=True)

    users_cli.add_arguments(sub, config)

    imp = sub.add_parser("import", help="import real files into the store")
    imp_sub = imp.add_subparsers(dest="source", required=True)
    for name, module_name in IMPORTERS.items():
        p = imp_sub.add_parser(name, help=f"import {name} files ({module_name.replace('.', '/')}.py)")
        p.add_argument("paths", nargs="+", type=Path)
        p.add_argument("--data-dir", type=Path, default=config.data_dir)
        # Only the importer asked for is loaded, so one importer's problem never stops the others or the app.
        if name == importer:
            module = importlib.import_module(module_name)
            if hasattr(module, "add_arguments"):
                module.add_arguments(p)
            p.set_defaults(importer=module)
    return parser


def _log_export(args, view: str, rows: int) -> None:
    """Command-line exports go in the audit log like the dashboard's; if it cannot be written, nothing is written."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid())
    filters = {k: str(v) for k, v in vars(args).items() if k not in ("command", "what", "importer") and v is not None}
    audit.record(settings.state_dir_for(dict(os.environ), Path(args.data_dir)), f"cli:{who}", "command line",
                 audit.EXPORT, view=view, filters=filters, rows=rows)


def export_series(args, config: settings.Settings) -> int:
    from queries.series import series_table

    store = Store(args.data_dir)
    table = series_table(
        store, args.dataset, args.area, args.measure, args.fy, args.method, args.k, config.min_significant,
        neighbourhood=args.neighbourhood,
    )
    table["month"] = table["month"].dt.strftime("%Y-%m")
    _log_export(args, "export series", len(table))
    table[limits.COLUMNS].to_csv(args.out, index=False, float_format="%.2f")
    print(f"wrote {len(table)} months of {args.area} - {args.measure} (FY {args.fy}/{str(args.fy + 1)[-2:]}) to {args.out}")
    return 0


def export_counts(args, config: settings.Settings) -> int:
    from queries.export import grouped_counts

    fields = [f.strip() for f in args.by.split(",") if f.strip()]
    table = grouped_counts(Store(args.data_dir), args.dataset, fields, args.measure)
    _log_export(args, "export counts", len(table))
    table.to_csv(args.out, index=False)
    print(f"wrote {len(table)} rows to {args.out}")
    return 0


def export_marac(args, config: settings.Settings) -> int:
    from queries.export import marac_release_table

    state_dir = settings.state_dir_for(dict(os.environ), Path(args.data_dir))
    table = marac_release_table(Store(args.data_dir), args.period, config.suppress_below, state_dir)
    _log_export(args, "export marac", len(table))
    table.to_csv(args.out, index=False)
    print(f"wrote {len(table)} rows to {args.out} (counts under {config.suppress_below} suppressed as *)")
    return 0


def main(argv: list[str] | None = None, serve=None) -> int:
    """Run a command; `serve(data_dir, config)` (given by app.py, which owns Dash) runs the dashboard."""
    try:
        config = settings.load_settings()
    except settings.SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    argv = list(sys.argv[1:] if argv is None else argv)
    importer = argv[1] if len(argv) > 1 and argv[0] == "import" else None
    parser = build_parser(config, importer if importer in IMPORTERS else None)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            written = demo.build_demo(args.data_dir)
            print("wrote synthetic demo data: " + ", ".join(f"{k} {v:,} records" for k, v in written.items()))
            return 0
        if args.command == "export":
            return {"series": export_series, "counts": export_counts, "marac": export_marac}[args.what](args, config)
        if args.command == "import":
            return args.importer.main(args)
        if args.command == "users":
            return users_cli.main(args)
    except (UnknownArea, NoData, StoreError, LookupError, ValueError, StateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if serve is None:
        parser.error("no command given")
    serve(getattr(args, "data_dir", None) or config.data_dir, config)
    return 0
