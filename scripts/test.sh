#!/usr/bin/env bash
# The README's test command: installs what a fresh Debian/Ubuntu machine lacks, then runs the suite.
#
#   bash scripts/test.sh [pytest arguments]
#
# The suite runs in TEST_WORKERS processes (default 2, pytest-xdist, one file per process at a
# time so module fixtures and test order hold); TEST_WORKERS=0 runs it in this process.
# System packages (from apt, only if missing): chromium and chromium-driver for the browser
# tests, poppler-utils for the report tests (pdftoppm/pdftotext). Python packages: a .venv
# in the repository with requirements.txt and requirements-dev.txt. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(chromium chromium-driver poppler-utils)
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "error: need ${missing[*]} (apt-get install ${SYSTEM_PACKAGES[*]}) and no root or sudo to install them" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
WORKERS="${TEST_WORKERS:-2}"
case "$WORKERS" in
  ''|*[!0-9]*) echo "error: TEST_WORKERS=$WORKERS is not a whole number of processes" >&2; exit 2 ;;
esac
exec .venv/bin/python -m pytest -n "$WORKERS" --dist loadfile "$@"
