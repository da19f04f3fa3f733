"""Preparing a report's files in the background, for the web app.

Drawing a report's charts takes seconds to a minute, far too long for a web request, and
gunicorn may run several workers. So the page starts a separate process
(`python -m queries.report_jobs ...`) that writes the HTML, PDF and Word files into the
report's cache folder (`report_output.report_folder`), with its progress in
`status.json` beside them; any worker reads that file to show progress and, once the
files are there, serves them. A lock file in the folder means two clicks (or two
workers) never build the same report twice at once.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from queries import commentary, report, report_output
from queries.settings import REPO_ROOT
from queries.store import Store

STATUS = "status.json"
LOCK = ".build.lock"
# A status file untouched for this long belongs to a build that died (killed, machine restarted).
STALE_SECONDS = 15 * 60
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class Job:
    """One report to prepare: the store, the cache, the store version and the report's parameters."""

    data_dir: Path
    cache_dir: Path
    version: str
    month: pd.Timestamp
    method: str
    k: float
    min_significant: int
    suppress_below: int
    state_dir: Path | None = None  # where approved commentary is read from (None: no commentary)
    notes_key: str = ""  # hash of the approved commentary the page saw
    # MARAC is printed only for a closed session; the session is part of the folder's name, so an
    # open-session request never gets the closed-session files (dashboard/report_files.py checks).
    closed_session: bool = False
    # In a store of several forces, the force reported on (its slug; "" in a one-force store), as in
    # report.Report.force: the folder's name keeps two forces' reports apart.
    force: str = ""

    @property
    def folder(self) -> Path:
        key = report_output.cache_key(self.month, self.method, self.k, self.min_significant, self.suppress_below, None,
                                      self.notes_key, self.closed_session, self.force)
        return Path(self.cache_dir) / self.version / key

    def files(self) -> dict[str, Path]:
        return {fmt: self.folder / f"report.{fmt}" for fmt in report_output.FORMATS}

    def ready(self) -> bool:
        return all(p.exists() for p in self.files().values())


def approved_notes(state_dir: Path | None, month: pd.Timestamp, data_dir: Path, force: str | None = None) -> dict:
    """One force's approved commentary and CSP Activity for the month (None: the store's first force),
    for its report: another force's "Force Area" text never prints here."""
    if state_dir is None:
        return {}
    notes = commentary.for_store(state_dir, data_dir)
    return notes.approved_for_month(f"{pd.Timestamp(month):%Y-%m}", commentary.force_of(data_dir, force))


def _write_status(folder: Path, **status) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{STATUS}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(dict(status, updated=time.time())))
    os.replace(tmp, folder / STATUS)  # readers see the old status or the new, never half of one


def read_status(job: Job) -> dict:
    """{"state": queued|running|done|failed|None, "stage", "done", "total", "error"} for the page to show."""
    if job.ready():
        return {"state": DONE, "stage": "", "done": 1, "total": 1, "error": ""}
    try:
        status = json.loads((job.folder / STATUS).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"state": None, "stage": "", "done": 0, "total": 0, "error": ""}
    if status.get("state") in (QUEUED, RUNNING) and time.time() - status.get("updated", 0) > STALE_SECONDS:
        status["state"] = None  # the build died: let the page start it again
    return status


def start(job: Job) -> dict:
    """Start preparing `job` in a separate process unless it is ready or already being prepared."""
    status = read_status(job)
    if status["state"] in (DONE, QUEUED, RUNNING):
        return status
    _write_status(job.folder, state=QUEUED, stage="starting", done=0, total=0, error="")
    command = [sys.executable, "-m", "queries.report_jobs", "--data-dir", str(job.data_dir), "--cache-dir",
               str(job.cache_dir), "--version", job.version, "--month", f"{job.month:%Y-%m}", "--method", job.method,
               "--k", repr(float(job.k)), "--min-significant", str(job.min_significant),
               "--suppress-below", str(job.suppress_below), "--notes-key", job.notes_key]
    if job.state_dir is not None:
        command += ["--state-dir", str(job.state_dir)]
    if job.closed_session:
        command += ["--closed-session"]
    if job.force:
        command += ["--force", job.force]
    subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
    return read_status(job)


def run(job: Job) -> int:
    """Build the report's files (in this process), holding the folder's lock; 0 on success."""
    job.folder.mkdir(parents=True, exist_ok=True)
    with open(job.folder / LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another process is building it
        try:
            store = Store(job.data_dir)
            current = report.store_version(store)
            if current.key != job.version:
                raise RuntimeError(f"the store changed (now version {current.key}) before this report was built; "
                                   "reload the page")
            _write_status(job.folder, state=RUNNING, stage="Calculating limits", done=0, total=0, error="")
            notes = approved_notes(job.state_dir, job.month, job.data_dir, job.force or None)
            if report.notes_key(notes) != job.notes_key:
                raise RuntimeError("the approved commentary changed before this report was built; reload the page")
            built = report.build_report(store, job.month, job.method, job.k, job.min_significant,
                                        suppress_below=job.suppress_below, notes=notes,
                                        closed_session=job.closed_session, state_dir=job.state_dir,
                                        force=job.force or None)

            def progress(stage: str, done: int, total: int) -> None:
                words = {"charts": "Drawing charts", "pdf": "Printing the PDF", "docx": "Writing the Word file"}
                _write_status(job.folder, state=RUNNING, stage=words.get(stage, stage), done=done, total=total, error="")

            report_output.build_all(built, job.cache_dir, None, progress)
            _write_status(job.folder, state=DONE, stage="", done=1, total=1, error="")
            return 0
        except Exception as exc:  # the page must say what went wrong, not spin for ever
            _write_status(job.folder, state=FAILED, stage="", done=0, total=0, error=str(exc))
            return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m queries.report_jobs")
    for name in ("--data-dir", "--cache-dir"):
        parser.add_argument(name, type=Path, required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--month", required=True)
    parser.add_argument("--method", required=True)
    parser.add_argument("--k", type=float, required=True)
    parser.add_argument("--min-significant", type=int, required=True)
    parser.add_argument("--suppress-below", type=int, required=True)
    parser.add_argument("--state-dir", type=Path)
    parser.add_argument("--notes-key", default="")
    parser.add_argument("--closed-session", action="store_true", help="print MARAC (the caller checked the role)")
    parser.add_argument("--force", default="", help="in a store of several forces: the force reported on (slug)")
    args = parser.parse_args(argv)
    return run(Job(args.data_dir, args.cache_dir, args.version, pd.Timestamp(args.month), args.method, args.k,
                   args.min_significant, args.suppress_below, args.state_dir, args.notes_key, args.closed_session,
                   args.force))


if __name__ == "__main__":
    sys.exit(main())
