"""gunicorn settings read automatically when gunicorn starts in the repository root (and in the
Docker image's /app). Command-line flags still override these.

limit_request_line = 0: gunicorn's default (4094) answers a long address with its own bare
"414 URI Too Long". With 0 (gunicorn caps it at 1 MB), the line reaches the app, which shows
a page saying what happened with links back (dashboard/shell.py, MAX_URL_CHARS).
"""
limit_request_line = 0
timeout = 120
