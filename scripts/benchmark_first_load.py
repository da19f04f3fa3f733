"""First load of the Crime tab, cold, in headless Chromium on localhost: bytes transferred and
time until the trend chart is drawn. Figures go in docs/benchmarks.md ("First load").

    python scripts/benchmark_first_load.py [--repo PATH] [--runs 7] [--against PATH]

--repo serves another checkout (e.g. the commit before compression, from `git archive`) with
this same Python, so before and after differ only in the code. --against PATH serves that
checkout too and alternates runs between the two (before, after, after, before, ...), so a
shared machine's changing load falls on both alike; the load average is printed. Each run starts a fresh
Chromium with an empty profile and the HTTP cache disabled (cold). Time is the page's own
clock (performance.now(), from navigation start) when the first Plotly trace exists; bytes
are the Resource Timing transferSize (compressed bytes on the wire, headers included) of the
page and every resource it fetched, at that moment and once the page has settled (all the
cards' callbacks answered). Peak memory is the gunicorn workers' high-water RSS (VmHWM).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900"]
CHART_DRAWN = ".js-plotly-plot .scatterlayer .trace"
SETTLE_QUIET_MS = 1500  # no new resource for this long = settled
TIMEOUT_S = 120
LINK_LATENCY_MS = 20  # round trip added by --mbps

BYTES_JS = """
const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
return {transfer: entries.reduce((s, e) => s + (e.transferSize || 0), 0),
        decoded: entries.reduce((s, e) => s + (e.decodedBodySize || 0), 0),
        count: entries.length,
        last: Math.max(...entries.map(e => e.responseEnd))};
"""
WAIT_CHART_JS = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  if (document.querySelector('%s')) return done(performance.now());
  if (Date.now() - start > %d) return done(null);
  requestAnimationFrame(poll);
})();
""" % (CHART_DRAWN, TIMEOUT_S * 1000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(repo: Path, data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--timeout", "120", "app:server"],
        cwd=repo, env=dict(os.environ, CSP_DATA_DIR=str(data_dir)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/_dash-layout", timeout=5)
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"gunicorn in {repo} did not start")


def _peak_rss_mb(parent: int) -> float:
    """Largest VmHWM among the gunicorn workers (children of the arbiter)."""
    peaks = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(parent) and "VmHWM" in fields:
            peaks.append(int(fields["VmHWM"].split()[0]) / 1024)
    return max(peaks, default=float("nan"))


def one_run(url: str, mbps: float | None = None) -> dict:
    profile = tempfile.mkdtemp(prefix="first-load-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        if mbps:  # a simulated link (e.g. an office connection to a hosted server)
            rate = mbps * 1_000_000 / 8
            driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
                "offline": False, "latency": LINK_LATENCY_MS, "downloadThroughput": rate, "uploadThroughput": rate})
        driver.set_script_timeout(TIMEOUT_S + 5)
        driver.get(url + "/")
        drawn_ms = driver.execute_async_script(WAIT_CHART_JS)
        if drawn_ms is None:
            raise SystemExit("the chart was not drawn within the timeout")
        at_chart = driver.execute_script(BYTES_JS)
        settled = at_chart
        while True:  # settled: no new resource for SETTLE_QUIET_MS
            time.sleep(SETTLE_QUIET_MS / 1000)
            now = driver.execute_script(BYTES_JS)
            if now["count"] == settled["count"]:
                break
            settled = now
        return {"ms": drawn_ms, "chart_bytes": at_chart["transfer"], "settled_bytes": settled["transfer"],
                "decoded_bytes": settled["decoded"], "requests": settled["count"]}
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _summary(name: str, runs: list[dict], peak: float) -> str:
    ms = [r["ms"] for r in runs]
    median = lambda key: statistics.median(r[key] for r in runs) / 1_000_000  # noqa: E731
    return (f"{name}: time to drawn chart (ms) p50 {statistics.median(ms):.0f}  p95 {_p95(ms):.0f}  min {min(ms):.0f}  "
            f"max {max(ms):.0f} | transferred once settled {median('settled_bytes'):.2f} MB (uncompressed "
            f"{median('decoded_bytes'):.2f} MB, {statistics.median(r['requests'] for r in runs):.0f} requests) | "
            f"worker peak RSS {peak:.0f} MB")


def _alternate(repos: dict[str, Path], runs: int, mbps: float | None) -> None:
    """Both checkouts served at once; runs alternate between them, the order flipping each round."""
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        try:
            for name, repo in repos.items():
                data = Path(tmp) / name
                shutil.copytree(repo / "data", data)
                servers[name] = _serve(repo, data)
            for _, url in servers.values():
                one_run(url)  # warm each server's own caches
            results: dict[str, list[dict]] = {name: [] for name in repos}
            loads = []
            for round_ in range(runs):
                order = list(servers) if round_ % 2 == 0 else list(servers)[::-1]
                for name in order:
                    results[name].append(one_run(servers[name][1], mbps))
                    loads.append(os.getloadavg()[0])
            peaks = {name: _peak_rss_mb(proc.pid) for name, (proc, _) in servers.items()}
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=30)
    print(f"alternating runs: {runs} each, link: {f'{mbps:g} Mbit/s' if mbps else 'localhost'}, machine: "
          f"{platform.machine()}, {os.cpu_count()} CPUs; 1-minute load average during the runs {min(loads):.1f}-{max(loads):.1f}")
    for name, repo in repos.items():
        print(f"{_summary(name, results[name], peaks[name])}  [{repo}]")
        print(f"  each run (ms): {[round(r['ms']) for r in results[name]]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--mbps", type=float, help="simulate a link of this many megabits/s (default: localhost, unthrottled)")
    parser.add_argument("--against", type=Path, help="a second checkout (\"before\"): serve both, alternate runs")
    args = parser.parse_args()
    if args.against:
        return _alternate({"before": args.against, "after": args.repo}, args.runs, args.mbps)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(args.repo / "data", data)
        proc, url = _serve(args.repo, data)
        try:
            one_run(url)  # warm the server's own caches (imports, store), not the browser's
            runs = [one_run(url, args.mbps) for _ in range(args.runs)]
            peak = _peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    ms = [r["ms"] for r in runs]
    mb = lambda n: n / 1_000_000  # noqa: E731
    print(f"repo: {args.repo}  runs: {args.runs}  link: {f'{args.mbps:g} Mbit/s, {LINK_LATENCY_MS} ms' if args.mbps else 'localhost'}  machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, data: {sum(f.stat().st_size for f in (args.repo / 'data').rglob('*') if f.is_file()) / 1e6:.1f} MB store")
    print(f"time to drawn chart (ms): p50 {statistics.median(ms):.0f}  p95 {_p95(ms):.0f}  min {min(ms):.0f}  max {max(ms):.0f}")
    print(f"transferred by chart drawn (MB): p50 {mb(statistics.median(r['chart_bytes'] for r in runs)):.2f}")
    print(f"transferred once settled (MB): p50 {mb(statistics.median(r['settled_bytes'] for r in runs)):.2f}  "
          f"(uncompressed bodies {mb(statistics.median(r['decoded_bytes'] for r in runs)):.2f}; "
          f"{statistics.median(r['requests'] for r in runs):.0f} requests)")
    print(f"gunicorn worker peak RSS (MB): {peak:.0f}")


if __name__ == "__main__":
    main()
