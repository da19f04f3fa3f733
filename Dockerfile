# Serves the dashboard with gunicorn on the store in /app/data (mount real data over it).
FROM python:3.11-slim
WORKDIR /app
# Chromium prints the monthly report to PDF and, through kaleido, draws its charts.
RUN apt-get update && apt-get install -y --no-install-recommends chromium && rm -rf /var/lib/apt/lists/*
ENV CSP_CHROMIUM=/usr/bin/chromium BROWSER_PATH=/usr/bin/chromium
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py gunicorn.conf.py ./
COPY queries ./queries
COPY dashboard ./dashboard
COPY assets ./assets
COPY data ./data
ENV CSP_DATA_DIR=/app/data
# Users, the session secret, the audit log and the MARAC ledger: mount a volume here and back it up.
ENV CSP_STATE_DIR=/app/data-state
EXPOSE 8050
# The state folder (commentary, cached reports) sits beside the store: /app/data-state.
RUN useradd --create-home csp && mkdir -p /app/data-state && chown -R csp /app/data /app/data-state
USER csp
# gunicorn.conf.py (read from /app) holds the settings: the timeout, long addresses reaching the
# app's friendly page, and the app preloaded once in the master before the workers fork.
CMD ["gunicorn", "--workers", "3", "--bind", "0.0.0.0:8050", "app:server"]
