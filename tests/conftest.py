"""Shared fixtures: a copy of the demo store, the store opened on it, a real gunicorn server,
and a real headless Chromium driven through Debian's chromedriver.

Browser tests are marked `browser`; they need /usr/bin/chromium and /usr/bin/chromedriver
(`.ci/run` installs them). Without them those tests fail loudly rather than skip, so a
green run always means the browser tests ran.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from queries.store import Store  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SERVER_START_SECONDS = 60

# The demo store's areas as Derbyshire's board names and orders them. The product derives
# them from data (queries/geography.py); tests pin them so every figure keeps its place.
COUNTY = "County Council Area"
CITY = "Derby City"
COUNTY_CSPS = ["Amber Valley", "Bolsover", "Chesterfield", "Derbyshire Dales", "Erewash", "High Peak",
               "North East Derbyshire", "South Derbyshire"]
CSPS = COUNTY_CSPS + [CITY]
TOP_AREAS = COUNTY_CSPS + [COUNTY, CITY, "Force Area"]
RECONCILING_AREAS = COUNTY_CSPS + [COUNTY, CITY, "Outside force area", "No known area", "Force Area"]


def copy_geography(target: Path) -> Path:
    """Make `target` a Derbyshire store with no data: the demo's force and grouping files."""
    (target / "geography").mkdir(parents=True, exist_ok=True)
    for name in ("forces.csv", "areas.csv"):
        (target / "geography" / name).write_bytes((REPO / "data" / "geography" / name).read_bytes())
    return target


def copy_store(target: Path) -> Path:
    """A private copy of the repo's data/ (demo store + lookups), so tests never touch the real one."""
    shutil.copytree(REPO / "data", target, ignore=shutil.ignore_patterns(".lock", ".staging-*"))
    return target


POLICE_UK_FIXTURES = Path(__file__).parent / "fixtures" / "police-uk"
DERBYSHIRE_MARCH = POLICE_UK_FIXTURES / "derbyshire-street-2025-03.zip"  # Derbyshire's real March 2025


def run_police_uk_import(data_dir: Path, *paths, extra: tuple = ()) -> tuple[int, str, str]:
    """`python app.py import police-uk` in-process, the real CLI: (exit code, stdout, stderr)."""
    import io
    import sys

    from queries import cli

    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = cli.main(["import", "police-uk", *map(str, paths), "--data-dir", str(data_dir), "--no-progress", *extra])
    finally:
        sys.stdout, sys.stderr = old
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def march_store(tmp_path_factory) -> Path:
    """The demo store with Derbyshire's real March 2025 imported, once a session: the 'previous
    store' that bad or other forces' imports must not touch. Read-only: write into march_copy."""
    data_dir = copy_store(tmp_path_factory.mktemp("march") / "data")
    code, _, err = run_police_uk_import(data_dir, DERBYSHIRE_MARCH)
    assert code == 0, err
    return data_dir


@pytest.fixture()
def march_copy(march_store, tmp_path) -> Path:
    """A private copy of march_store for one test to write into."""
    target = tmp_path / "march-copy"
    shutil.copytree(march_store, target)
    return target


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A session-wide read-only copy of the demo store. Tests that write must use tmp_data_dir."""
    return copy_store(tmp_path_factory.mktemp("demo") / "data")


@pytest.fixture()
def tmp_data_dir(tmp_path) -> Path:
    """A fresh writable copy of the demo store for one test."""
    return copy_store(tmp_path / "data")


@pytest.fixture(scope="session")
def demo_store(demo_dir) -> Store:
    return Store(demo_dir)


@pytest.fixture(scope="session")
def demo_config(demo_dir):
    """The default settings, on the demo store copy."""
    from queries import settings

    return settings.load_settings({"CSP_DATA_DIR": str(demo_dir)})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT_ATTEMPTS = 5  # the suite runs in two processes: a port found free may be taken before gunicorn binds it


def start_gunicorn(data_dir: Path, workers: int = 2, env_extra: dict | None = None,
                   ready_path: str = "/_dash-layout") -> tuple[subprocess.Popen, str]:
    """Real gunicorn serving app:server on a free loopback port; returns (process, base URL).

    Ready when `ready_path` answers 200 (pass "/login" when visitors must sign in first). A port
    another test process took between the check and the bind is retried on a new port.
    """
    for _ in range(PORT_ATTEMPTS):
        started = _start_gunicorn_once(data_dir, workers, env_extra, ready_path)
        if started is not None:
            return started
    raise RuntimeError(f"gunicorn found no free port in {PORT_ATTEMPTS} attempts")


def _start_gunicorn_once(data_dir: Path, workers: int, env_extra: dict | None,
                         ready_path: str) -> tuple[subprocess.Popen, str] | None:
    """(process, URL) once ready; None if the port was already in use."""
    port = _free_port()
    env = dict(os.environ, CSP_DATA_DIR=str(data_dir), **(env_extra or {}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--timeout", "120", "app:server"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + SERVER_START_SECONDS
    while time.time() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read()
            if "Address already in use" in output:
                return None
            raise RuntimeError(f"gunicorn exited early:\n{output}")
        try:
            with urllib.request.urlopen(url + ready_path, timeout=5) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"gunicorn did not answer on {url} within {SERVER_START_SECONDS}s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def live_server(demo_dir):
    """Base URL of a real gunicorn (2 workers) serving the demo store copy."""
    proc, url = start_gunicorn(demo_dir)
    yield url
    stop(proc)


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium (Debian package) driven by selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"{path} is missing: install Debian's chromium and chromium-driver (bash .ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1600,2000")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


SCREENSHOTS = REPO / "screenshots"


def screenshot(driver, name: str) -> Path:
    """Save a screenshot under screenshots/ (git-ignored) for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
