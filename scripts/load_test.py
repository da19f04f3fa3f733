"""Many board members and analysts at once: a bounded loopback load on real gunicorn.

    python scripts/load_test.py [--data-dir DIR] [--users 50] [--workers 4] [--every 5] [--seconds 120]

Each simulated user acts every `--every` seconds (with jitter) for `--seconds`: an action
is what the browser does when someone picks an area on the Crime tab — the page's HTML,
then the tab's three card callbacks (chart, summary table, 12-month table) over HTTP
exactly as Dash sends them. The request bodies are built from the app's own
`/_dash-dependencies` and the layout it renders, so the script follows the app as it
changes. Reports requests, errors (any status but 200), and p50/p95/max latency per
request kind, with the machine; figures go in docs/benchmarks.md ("Many users at once").

The plain way beside it: the same number of requests for the static `/_dash-layout`
(no query at all), which is the floor the server's own overhead sets.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests"))

from benchmark import machine  # noqa: E402  (scripts/benchmark.py: one machine description)
from conftest import start_gunicorn, stop  # noqa: E402  (one way to start real gunicorn)

TAB = "crime"  # the first tab a board member opens
CARDS = ("chart.figure", "summary.rowData", "rolling.rowData")
SEED = 20261130
TIMEOUT_S = 60


def _post(url: str, body: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(url + "/_dash-update-component", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Origin": url})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _outputs(output: str) -> list[dict] | dict:
    parts = output.strip(".").split("...")
    specs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts if p]
    return specs if output.startswith("..") else specs[0]


def _props(node, found: dict) -> dict:
    """Every component's props in a rendered Dash layout, by id."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and isinstance(props.get("id"), str):
            found[props["id"]] = props
        for value in node.values():
            _props(value, found)
    elif isinstance(node, list):
        for value in node:
            _props(value, found)
    return found


def _body(callback: dict, props: dict, overrides: dict) -> dict:
    def value(spec: dict):
        key = f"{spec['id']}.{spec['property']}"
        return overrides.get(key, props.get(spec["id"], {}).get(spec["property"]))

    inputs = [{"id": i["id"], "property": i["property"], "value": value(i)} for i in callback["inputs"]]
    state = [{"id": s["id"], "property": s["property"], "value": value(s)} for s in callback.get("state", [])]
    return {"output": callback["output"], "outputs": _outputs(callback["output"]), "inputs": inputs,
            "state": state, "changedPropIds": [f"{TAB}-area.value"]}


def prepare(url: str) -> tuple[list[dict], dict, list[str]]:
    """The tab's card callbacks, its rendered props, and the areas its selector offers."""
    with urllib.request.urlopen(url + "/_dash-dependencies", timeout=TIMEOUT_S) as response:
        dependencies = json.load(response)
    pages = next(c for c in dependencies if "_pages_content.children" in c["output"])
    location = {"pathname": "/", "search": "", "href": url + "/", "hash": ""}
    body = {"output": pages["output"], "outputs": _outputs(pages["output"]),
            "inputs": [{"id": i["id"], "property": i["property"], "value": location.get(i["property"])}
                       for i in pages["inputs"]],
            "state": [{"id": s["id"], "property": s["property"]} for s in pages.get("state", [])],
            "changedPropIds": ["_pages_location.pathname"]}
    status, payload = _post(url, body)
    if status != 200:
        raise SystemExit(f"the page callback answered {status}")
    props = _props(json.loads(payload), {})
    wanted = {f"{TAB}-{card}" for card in CARDS}
    cards = [c for c in dependencies if wanted & set(c["output"].strip(".").split("..."))]
    areas = [o["value"] if isinstance(o, dict) else o for o in props[f"{TAB}-area"]["options"]]
    if len(cards) != len(CARDS):
        raise SystemExit(f"expected {len(CARDS)} card callbacks on the {TAB} tab, found {len(cards)}")
    for callback in cards:  # each card answers with real content before the load starts
        status, answer = _post(url, _body(callback, props, {f"{TAB}-area.value": areas[0]}))
        content = json.loads(answer or b"{}").get("response", {})
        if status != 200 or not any(v.get("figure", {}).get("data") or v.get("rowData") for v in content.values()):
            raise SystemExit(f"{callback['output'][:60]} answered {status} without a drawn chart or rows")
    return cards, props, areas


def run(url: str, users: int, every: float, seconds: float) -> dict[str, list[float]]:
    cards, props, areas = prepare(url)
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[int]] = defaultdict(list)
    lock = threading.Lock()
    stop_at = time.time() + seconds

    def user(number: int) -> None:
        rng = random.Random(SEED + number)
        time.sleep(rng.uniform(0, every))  # users arrive spread over the first interval
        while time.time() < stop_at:
            area = rng.choice(areas)
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{url}/?area={urllib.request.quote(area)}", timeout=TIMEOUT_S) as r:
                    r.read()
                    status = r.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            record("page HTML", status, started)
            for callback in cards:
                started = time.perf_counter()
                status, _ = _post(url, _body(callback, props, {f"{TAB}-area.value": area}))
                record(callback["output"].strip(".").split(".")[0], status, started)
            time.sleep(max(0.0, every + rng.uniform(-1, 1)))

    def record(kind: str, status: int, started: float) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            timings[kind].append(elapsed)
            if status != 200:
                errors[kind].append(status)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"timings": timings, "errors": errors}


def plain(url: str, requests: int, users: int) -> list[float]:
    """The floor: the same number of requests for the static layout, as fast as the clients can."""
    timings: list[float] = []
    lock = threading.Lock()

    def client(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            with urllib.request.urlopen(url + "/_dash-layout", timeout=TIMEOUT_S) as r:
                r.read()
            with lock:
                timings.append((time.perf_counter() - started) * 1000)

    per = max(1, requests // users)
    threads = [threading.Thread(target=client, args=(per,)) for _ in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return timings


def _row(kind: str, values: list[float], errors: int) -> str:
    q = statistics.quantiles(values, n=20, method="inclusive") if len(values) >= 2 else values * 19
    return f"| {kind} | {len(values):,} | {errors} | {statistics.median(values):.0f} | {q[18]:.0f} | {max(values):.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "data")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="load-test-"))
    proc, url = start_gunicorn(shutil.copytree(args.data_dir, scratch / "data", ignore=shutil.ignore_patterns(".lock", ".staging-*")), workers=args.workers)
    try:
        result = run(url, args.users, args.every, args.seconds)
        total = sum(len(v) for v in result["timings"].values())
        floor = plain(url, total, args.users)
    finally:
        stop(proc)
        shutil.rmtree(scratch, ignore_errors=True)
    every = [t for v in result["timings"].values() for t in v]
    lines = [
        f"Machine: {machine()}. Store: `{args.data_dir}`. {args.users} users on {args.workers} gunicorn workers, "
        f"each acting every {args.every:g} s (±1 s) for {args.seconds:g} s; an action = the Crime tab's HTML "
        f"and its {len(CARDS)} card callbacks for a random area.",
        "",
        "| request | count | errors | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
        *(_row(kind, values, len(result["errors"].get(kind, []))) for kind, values in sorted(result["timings"].items())),
        _row("**every request**", every, sum(len(v) for v in result["errors"].values())),
        _row("plain: static `/_dash-layout`", floor, 0),
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if any(result["errors"].values()):
        raise SystemExit(f"errors: { {k: sorted(set(v)) for k, v in result['errors'].items() if v} }")


if __name__ == "__main__":
    main()
