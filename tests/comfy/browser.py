"""Headless Chromium driven by selenium, for the real-browser ComfyUI test (Debian `chromium` + `chromium-driver`).

The browser runs offline-friendly (no first-run, no background networking, no component updates) with a
fresh profile in a temporary folder; the caller quits it.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_CANDIDATES = ("chromedriver",)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=2200,1300")


def find_binaries() -> tuple[str | None, str | None]:
    """(chromium path, chromedriver path), None where missing."""
    browser = next((p for p in map(shutil.which, CHROMIUM_CANDIDATES) if p), None)
    driver = next((p for p in map(shutil.which, DRIVER_CANDIDATES) if p), None)
    return browser, driver


def missing_reason() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    browser, driver = find_binaries()
    if browser is None or driver is None:
        return "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    return None


def start_chromium(profile_dir: Path) -> Any:
    """A selenium WebDriver for headless Chromium with an empty profile in `profile_dir`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = find_binaries()
    if browser is None or driver is None:
        raise RuntimeError(missing_reason())
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile_dir}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)
