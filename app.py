"""Entry point: `python app.py` serves the dashboard; `python app.py --help` lists the tools.

`app.server` is the WSGI application for gunicorn (`gunicorn app:server`); each worker
opens the store read-only when it imports this module.
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

    app = create_app(settings.load_settings().data_dir)
    server = app.server
