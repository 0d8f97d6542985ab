"""Headless Chromium for the dashboard's browser tests: Debian's chromium and chromedriver,
driven by Selenium with explicit paths, so Selenium Manager never downloads anything."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = Path(os.environ.get("FLEET_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("FLEET_CHROMEDRIVER", "/usr/bin/chromedriver"))
REQUIRE = os.environ.get("FLEET_REQUIRE_BROWSER") == "1"
WAIT = 30.0
"""Seconds a browser wait may take before failing: a hang guard, not a timing claim."""

T = TypeVar("T")


def require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    message = f"no {' or '.join(missing)}: run `make browser` (apt-get chromium chromium-driver)"
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")


@contextmanager
def chromium(downloads: Path) -> Iterator[Any]:
    require_browser()
    # Selenium Manager must not fetch drivers or browsers: offline, paths given explicitly.
    os.environ["SE_OFFLINE"] = "true"
    os.environ["SE_AVOID_STATS"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # tests may run as root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1360,860",
        f"--user-data-dir={downloads / 'profile'}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(downloads / "profile", ignore_errors=True)


def wait_for(driver: Any, condition: Callable[[Any], T], message: str) -> T:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The page swaps its main section when an event arrives: an element found a moment ago
    # may be gone (stale) by the time it is read; the wait looks again.
    ignored = (NoSuchElementException, StaleElementReferenceException)
    waiting = WebDriverWait(driver, WAIT, poll_frequency=0.1, ignored_exceptions=ignored)
    result: T = waiting.until(condition, message)
    return result
