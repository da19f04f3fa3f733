"""`python app.py users add|remove|list|passwd|unlock`: manage sign-in accounts on the command line.

Passwords are read with getpass (never an argument, which would sit in the shell history and
the process list), or from standard input with --password-stdin for scripts.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from queries import audit, roles, settings, users


def add_arguments(sub, config: settings.Settings) -> None:
    cmd = sub.add_parser("users", help="manage sign-in accounts (stored in the state directory)")
    cmd.add_argument("--state-dir", type=Path, default=config.state_dir)
    what = cmd.add_subparsers(dest="users_command", required=True)
    add = what.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, help=", ".join(roles.ROLE_ORDER))
    add.add_argument("--forces", default="", help="comma-separated forces this account may see (default: all)")
    add.add_argument("--password-stdin", action="store_true")
    rm = what.add_parser("remove", help="remove a user (signed out at once)")
    rm.add_argument("name")
    what.add_parser("list", help="list users, their roles and lock-outs")
    pw = what.add_parser("passwd", help="set a user's password")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true")
    un = what.add_parser("unlock", help="lift a lock-out after failed sign-ins")
    un.add_argument("name")


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise users.UserError("the two passwords differ")
    return first


def main(args: argparse.Namespace) -> int:
    state = args.state_dir
    try:
        if args.users_command == "add":
            forces = tuple(f.strip() for f in args.forces.split(",") if f.strip())
            user = users.add(state, args.name, args.role, _password(args), forces)
            print(f"added {user.name} ({user.role}) in {state}")
        elif args.users_command == "remove":
            users.remove(state, args.name)
            print(f"removed {args.name}")
        elif args.users_command == "passwd":
            users.set_password(state, args.name, _password(args))
            print(f"password changed for {args.name}")
        elif args.users_command == "unlock":
            users.unlock(state, args.name)
            audit.record(state, "command line", roles.ADMIN, audit.UNLOCK, filters=args.name)
            print(f"unlocked {args.name}")
        else:
            listed = users.list_users(state)
            if not listed:
                print(f"no users in {state}: visitors get CSP_ANONYMOUS_ROLE (see docs/security.md)")
            for u in listed:
                lock = " (locked)" if users.locked_until(state, u.name) else ""
                print(f"{u.name}\t{u.role}\t{','.join(u.forces) or 'all forces'}{lock}")
    except users.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
