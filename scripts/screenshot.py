"""Screenshot dashboard pages in headless Chromium, to look at what users see.

    python scripts/screenshot.py http://127.0.0.1:8050/ out.png [--width 1600] [--height 2400] [--wait 4]
"""
from __future__ import annotations

import argparse
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def driver(width: int = 1600, height: int = 1200) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=2400)
    parser.add_argument("--wait", type=float, default=4)
    parser.add_argument("--phone", action="store_true",
                        help="emulate a phone of --width x --height (headless Chromium clamps plain windows to 500 px)")
    args = parser.parse_args()
    browser = driver(max(args.width, 500), args.height)
    try:
        if args.phone:
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": args.width, "height": args.height, "deviceScaleFactor": 1, "mobile": True})
        browser.get(args.url)
        time.sleep(args.wait)
        browser.save_screenshot(args.out)
        for entry in browser.get_log("browser") if hasattr(browser, "get_log") else []:
            if entry.get("level") == "SEVERE":
                print("console:", entry.get("message"))
    finally:
        browser.quit()


if __name__ == "__main__":
    main()
