"""gunicorn settings read automatically when gunicorn starts in the repository root (and in the
Docker image's /app). Command-line flags still override these. The one place for them: the
Dockerfile, README, tests and benchmark scripts all start `gunicorn app:server` from here.

limit_request_line = 0: gunicorn's default (4094) answers a long address with its own bare
"414 URI Too Long". With 0 (gunicorn caps it at 1 MB), the line reaches the app, which shows
a page saying what happened with links back (dashboard/shell.py, MAX_URL_CHARS).

preload_app = True: the master imports the app once (Dash, pandas, plotly, DuckDB's module:
about two seconds) and forks the workers, instead of every worker importing it again, so a
cold start costs one import, not one per worker competing for the cores, and the workers
share those pages (a worker's PSS is lower than its RSS). The app is built without opening
the store (app.py), so no DuckDB connection or thread exists in the master when it forks;
`pre_fork` refuses to fork if one does, and `post_worker_init` opens each worker's own.
A preloaded app is not re-imported on HUP: restart gunicorn to serve new code.
"""
limit_request_line = 0
timeout = 120
preload_app = True


def pre_fork(server, worker) -> None:
    """A DuckDB connection must never cross a fork (its threads and locks do not survive it)."""
    from dashboard import state

    if state.store().is_open:
        raise RuntimeError("the store's DuckDB connection was opened before gunicorn forked its workers")


def post_worker_init(worker) -> None:
    """Each worker opens the store (its own DuckDB connection) before it accepts a request, so the
    first page does not wait for it."""
    from dashboard import state

    state.store().refresh()
