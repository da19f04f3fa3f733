"""Entry point: `python app.py` serves the dashboard; `python app.py --help` lists the tools.

`app.server` is the WSGI application for gunicorn (`gunicorn app:server`). Importing this
module builds the app without opening the store's DuckDB connection: gunicorn.conf.py preloads
it once in the master and forks the workers, and each worker opens its own connection
(`post_worker_init`) before it serves.
"""
from __future__ import annotations

import sys

from queries import cli, settings


def _serve(data_dir, config: settings.Settings) -> None:
    from dashboard import create_app

    create_app(data_dir).run(host=config.host, port=config.port, debug=config.debug)


if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:] or ["run"], serve=_serve))
else:
    from dashboard import create_app

    app = create_app(settings.load_settings().data_dir, open_store=False)
    server = app.server
