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

import pandas as pd

from queries import audit, datasets, demo, limits, params, settings, users_cli
from queries import geography
from queries.geography import GroupingError, UnknownArea
from queries.national import FORCES_FILE, MissingForces, UnknownForce
from queries.series import NoData
from queries.importers.common import EXIT_WRITE_FAILED, REJECTED_LIMIT, REPLACE_SMALLER_FLAG, SHRINK_LIMIT, ImportError_
from queries.statedb import StateError
from queries.store import Store, StoreError

def _param(name: str):
    """An argparse type from the parameter's one rule (queries/params.py), so --k obeys what the URL obeys."""
    def parse(text: str):
        try:
            return params.check(name, text)
        except params.ParamError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = name
    return parse


# Importers that load no dataset (the dataset registry names the others).
OTHER_IMPORTERS = {
    # The map's ward boundaries (queries/boundaries.py).
    "boundaries": "queries.importers.boundaries",
}


def importers() -> dict[str, str]:
    """CLI word -> importer module: every dataset's, then the others."""
    return {**{word: module for word, (_key, module) in datasets.importers().items()}, **OTHER_IMPORTERS}


def _add_format(parser: argparse.ArgumentParser) -> None:
    from queries.formats import FORMATS

    parser.add_argument("--format", choices=list(FORMATS), help="file format (default: from --out's suffix, else csv)")


def _write(args, table, about: dict) -> str:
    """Write `table` in the chosen format (queries/formats.py), via a temporary file so a
    failed export never leaves half a file under the requested name. Returns the format key."""
    from queries.formats import format_for

    fmt = format_for(args.format, args.out)
    partial = args.out.with_name(args.out.name + ".partial")
    try:
        with open(partial, "wb") as stream:
            fmt.write(table, about, stream)
        partial.replace(args.out)
    finally:
        partial.unlink(missing_ok=True)
    return fmt.key


def build_parser(config: settings.Settings, importer: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python app.py", description="CSP performance dashboard and tools.")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="serve the dashboard (the default)")
    run.add_argument("--data-dir", type=Path, default=config.data_dir)

    init = sub.add_parser("init", help="make a data directory a store for a police force area (see docs/data.md)")
    init.add_argument("--force", action="append", required=True, dest="forces", metavar="SLUG_OR_NAME",
                      help="police.uk slug (leicestershire) or name (Leicestershire Police); repeat for several")
    init.add_argument("--data-dir", type=Path, required=True)

    demo_cmd = sub.add_parser("demo", help="rebuild the synthetic demo store (deterministic)")
    demo_cmd.add_argument("--data-dir", type=Path, default=config.data_dir)

    export = sub.add_parser("export", help="write a series or grouped counts to CSV or Excel (--format csv|xlsx)")
    export_sub = export.add_subparsers(dest="what", required=True)
    ser = export_sub.add_parser("series", help="the five chart series for one area and measure")
    ser.add_argument("--area", required=True)
    ser.add_argument("--force", help="in a store of several forces: the police.uk slug the area belongs to")
    ser.add_argument("--neighbourhood")
    ser.add_argument("--measure", required=True)
    ser.add_argument("--dataset", default="crime", choices=list(datasets.DATASETS))
    ser.add_argument("--fy", type=_param("fy"), required=True, help="starting year: 2015 = April 2015 - March 2016")
    ser.add_argument("--method", choices=list(limits.METHODS), default=config.limit_method)
    ser.add_argument("--k", type=_param("k"), default=config.k, help=params.PARAMS["k"].help)
    ser.add_argument("--data-dir", type=Path, default=config.data_dir)
    ser.add_argument("--out", type=Path, required=True)
    _add_format(ser)
    counts = export_sub.add_parser("counts", help="counts grouped by month, area and/or measure")
    counts.add_argument("--dataset", default="crime", choices=list(datasets.DATASETS))
    counts.add_argument("--by", default="month,area,measure")
    counts.add_argument("--measure", help="count only this measure (default without 'measure' in --by: the headline total)")
    counts.add_argument("--data-dir", type=Path, default=config.data_dir)
    counts.add_argument("--out", type=Path, required=True)
    _add_format(counts)

    tot = export_sub.add_parser("totals", help="monthly totals of each force, each region held whole, and all the store's forces")
    tot.add_argument("--dataset", default="crime", choices=list(datasets.DATASETS))
    tot.add_argument("--measure", help="default: the dataset's headline total")
    tot.add_argument("--data-dir", type=Path, default=config.data_dir)
    tot.add_argument("--out", type=Path, required=True)
    _add_format(tot)

    rec = export_sub.add_parser("records", help="every record of crime or fire, streamed (large)")
    rec.add_argument("--dataset", default="crime")
    rec.add_argument("--data-dir", type=Path, default=config.data_dir)
    rec.add_argument("--out", type=Path, required=True)
    _add_format(rec)

    mar = export_sub.add_parser("marac", help="MARAC period tables, small counts suppressed (the only MARAC export)")
    mar.add_argument("--period", default="quarter", help="quarter or financial (complete periods only)")
    mar.add_argument("--data-dir", type=Path, default=config.data_dir)
    mar.add_argument("--out", type=Path, required=True)
    _add_format(mar)

    rep = sub.add_parser("report", help="the monthly performance report as PDF, Word or HTML")
    rep.add_argument("--month", required=True, help="the report runs up to and including this month (YYYY-MM)")
    rep.add_argument("--area", action="append", help="one partnership's section alone (repeatable)")
    rep.add_argument("--force", help="in a store of several forces: the police.uk slug (or name) of the force "
                                     "reported on (default: the store's first)")
    rep.add_argument("--format", choices=("pdf", "docx", "html"), help="default: from the --out file's extension")
    rep.add_argument("--method", choices=list(limits.METHODS), default=config.limit_method)
    rep.add_argument("--k", type=_param("k"), default=config.k, help=params.PARAMS["k"].help)
    rep.add_argument("--data-dir", type=Path, default=config.data_dir)
    rep.add_argument("--out", type=Path, required=True)
    rep.add_argument("--session", choices=("open", "closed"), default="open",
                     help="closed: include MARAC (its protected release) for the board's closed session; "
                          "open (default): leave MARAC out")

    back = sub.add_parser("rollback", help="put the previous version of a dataset back (see docs/data.md)")
    back.add_argument("dataset", choices=datasets.stored())
    back.add_argument("--data-dir", type=Path, default=config.data_dir)

    users_cli.add_arguments(sub, config)

    imp = sub.add_parser("import", help="import real files into the store")
    imp_sub = imp.add_subparsers(dest="source", required=True)
    for name, module_name in importers().items():
        p = imp_sub.add_parser(name, help=f"import {name} files ({module_name.replace('.', '/')}.py)")
        p.add_argument("paths", nargs="+", type=Path)
        p.add_argument("--data-dir", type=Path, default=config.data_dir)
        p.add_argument(REPLACE_SMALLER_FLAG, action="store_true", dest="replace_smaller",
                       # argparse %-formats help texts: a percentage's sign is written %%
                       help=f"publish even if a held month would lose more than {SHRINK_LIMIT:.0%}% of its records, "
                            f"or more than {REJECTED_LIMIT:.0%}% of a file's rows are rejected")
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

    store = Store(args.data_dir).snapshot()  # one version for every query of the command
    table = series_table(
        store, args.dataset, args.area, args.measure, args.fy, args.method, args.k, config.min_significant,
        neighbourhood=args.neighbourhood, force=args.force,
    )
    from queries.export import describe_view

    table["month"] = table["month"].dt.strftime("%Y-%m")
    filters = {"force": args.force, "area": args.area, "neighbourhood": args.neighbourhood, "measure": args.measure,
               "financial year": f"{args.fy}/{str(args.fy + 1)[-2:]}"}
    about = describe_view(Store(args.data_dir), [args.dataset], title=f"{args.area} - {args.measure}",
                          filters={k: v for k, v in filters.items() if v}, method=args.method, k=args.k)
    _log_export(args, "export series", len(table))
    _write(args, table[limits.COLUMNS], about)
    print(f"wrote {len(table)} months of {args.area} - {args.measure} (FY {args.fy}/{str(args.fy + 1)[-2:]}) to {args.out}")
    return 0


def export_counts(args, config: settings.Settings) -> int:
    from queries.export import grouped_counts

    fields = [f.strip() for f in args.by.split(",") if f.strip()]
    from queries.export import describe_view

    store = Store(args.data_dir).snapshot()
    table = grouped_counts(store, args.dataset, fields, args.measure, zeros=True)
    filters = {"grouped by": ", ".join(fields), "measure": args.measure or ("each" if "measure" in fields else datasets.get(args.dataset).headline)}
    about = describe_view(store, [args.dataset], title=f"{args.dataset} counts by {', '.join(fields)}",
                          filters={k: v for k, v in filters.items() if v})
    _log_export(args, "export counts", len(table))
    _write(args, table, about)
    print(f"wrote {len(table)} rows to {args.out}")
    return 0


def export_totals(args, config: settings.Settings) -> int:
    """Totals across a store's forces (queries/series.force_totals): a gap in any force leaves its totals empty."""
    from queries.export import describe_view
    from queries.series import force_totals

    store = Store(args.data_dir).snapshot()
    measure = args.measure or datasets.get(args.dataset).headline
    table = force_totals(store, args.dataset, measure)
    table["month"] = pd.to_datetime(table["month"]).dt.strftime("%Y-%m")
    about = describe_view(store, [args.dataset], title=f"{measure} - totals across forces", filters={"measure": measure})
    _log_export(args, "export totals", len(table))
    _write(args, table, about)
    print(f"wrote {len(table)} months of {len(table.columns) - 1} totals to {args.out}")
    return 0


def export_records(args, config: settings.Settings) -> int:
    from queries.export import describe_view, record_chunks

    store = Store(args.data_dir)
    about = describe_view(store, [args.dataset], title=f"{args.dataset} records")
    rows = 0

    def counted():
        nonlocal rows
        for chunk in record_chunks(store, args.dataset):
            rows += len(chunk)
            yield chunk

    from queries.formats import format_for

    fmt = format_for(args.format, args.out)
    partial = args.out.with_name(args.out.name + ".partial")
    try:
        with open(partial, "wb") as stream:
            fmt.write_chunks(counted(), about, stream)
        partial.replace(args.out)
    finally:
        partial.unlink(missing_ok=True)
    print(f"wrote {rows:,} {args.dataset} records to {args.out}")
    return 0


def export_marac(args, config: settings.Settings) -> int:
    from queries.export import marac_release_table

    from queries.export import describe_view

    store = Store(args.data_dir).snapshot()
    state_dir = settings.state_dir_for(dict(os.environ), Path(args.data_dir))
    table = marac_release_table(store, args.period, config.suppress_below, state_dir)
    about = describe_view(store, ["marac"], title=f"MARAC by {args.period}", filters={"period": args.period},
                          suppression=f"counts under {config.suppress_below} shown as *")
    _log_export(args, "export marac", len(table))
    _write(args, table, about)
    print(f"wrote {len(table)} rows to {args.out} (counts under {config.suppress_below} suppressed as *)")
    return 0


def report_command(args, config: settings.Settings) -> int:
    """Build the report straight from the store and write it; charts are cached per store version."""
    from queries import report, report_output

    fmt = args.format or args.out.suffix.lstrip(".").lower()
    if fmt not in report_output.FORMATS:
        raise ValueError(f"--format: give pdf, docx or html (or an --out file ending in one), not {fmt!r}")
    from queries import commentary

    store = Store(args.data_dir).snapshot()
    month = report.check_month(store, args.month, force=args.force)
    # The force's own commentary only: area names ("Force Area") repeat across forces.
    notes = commentary.for_store(config.state_dir, store.data_dir).approved_for_month(
        f"{month:%Y-%m}", commentary.force_of(store.data_dir, args.force))
    built = report.build_report(store, month, args.method, args.k, config.min_significant, areas=args.area,
                                suppress_below=config.suppress_below, notes=notes,
                                closed_session=args.session == report_output.CLOSED_SESSION, state_dir=config.state_dir,
                                force=args.force)
    try:
        out = report_output.write_report(built, fmt, args.out, report_output.cache_dir_for(config), args.area)
    except report_output.RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(f"wrote {built.title} ({fmt}, store version {built.version.key}) to {out}")
    return 0


def rollback(args) -> int:
    from queries import store_writer

    try:
        done = store_writer.rollback(args.data_dir, args.dataset)
    except OSError as exc:
        print(f"error: cannot write the store at {args.data_dir}: {exc.strerror}; nothing was changed", file=sys.stderr)
        return EXIT_WRITE_FAILED
    print(f"rolled back {done['dataset']}: restored version {done['restored']} ({done['records']:,} records, "
          f"made {done['restored_created'] or 'at an unknown time'}; source: {done['source']}), "
          f"replacing {done['replaced']}")
    return 0


# Commands that read or write a store: they need a data directory made by `init` (or the demo's).
STORE_COMMANDS = ("run", "export", "import", "report", "rollback")


def check_store_dir(data_dir: Path, command: str) -> None:
    """Stop with what to run when the data directory is missing or names no police force."""
    hint = f"create it with: python app.py init --force SLUG --data-dir {data_dir}"
    if not data_dir.is_dir():
        raise MissingForces(f"the data directory {data_dir} does not exist; {hint}")
    if not (data_dir / FORCES_FILE).exists():
        raise MissingForces(f"{data_dir / FORCES_FILE} is missing: the data directory names no police force; {hint}")


def init_command(args) -> int:
    from queries.init_store import InitError, init_store

    try:
        written = init_store(args.data_dir, args.forces)
    except (InitError, UnknownForce, GroupingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    own = [geography.areas(args.data_dir, slug) for slug in geography.force_slugs(args.data_dir)]
    if not written:
        print(f"{args.data_dir} is already a store for {', '.join(o.force.name for o in own)}; nothing changed")
        return 0
    for areas in own:
        print(f"{areas.force.name}: {len(areas.csps)} CSPs ({', '.join(areas.csps)}); "
              f"{len(areas.wards)} wards; rows: {', '.join(areas.top_areas)}")
    print("wrote " + ", ".join(str(p) for p in written))
    print(f"next: python app.py import police-uk FILES --data-dir {args.data_dir}")
    print(f"for the map: python app.py import boundaries WARDS.geojson --data-dir {args.data_dir} (ONS 2025 wards)")
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
    parser = build_parser(config, importer if importer in importers() else None)
    args = parser.parse_args(argv)
    try:
        if args.command == "init":
            return init_command(args)
        if args.command in STORE_COMMANDS:
            check_store_dir(Path(getattr(args, "data_dir", None) or config.data_dir), args.command)
        if args.command == "demo":
            written = demo.build_demo(args.data_dir)
            print("wrote synthetic demo data: " + ", ".join(f"{k} {v:,} records" for k, v in written.items()))
            # The public hate-crime release is audited now, as an import would, not in the first web request.
            from queries.importers import hate as hate_importer

            return hate_importer.release_to_ledger(Path(args.data_dir))
        if args.command == "export":
            return {"series": export_series, "counts": export_counts, "marac": export_marac,
                    "records": export_records, "totals": export_totals}[args.what](args, config)
        if args.command == "report":
            return report_command(args, config)
        if args.command == "import":
            return args.importer.main(args)
        if args.command == "rollback":
            return rollback(args)
        if args.command == "users":
            return users_cli.main(args)
    except ImportError_ as exc:
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except (UnknownArea, NoData, StoreError, LookupError, ValueError, StateError, MissingForces) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if serve is None:
        parser.error("no command given")
    serve(getattr(args, "data_dir", None) or config.data_dir, config)
    return 0
