"""The dashboard in headless Chromium: list, filter, open, drift appearing live, Sync with and
without authorisation; screenshots of the three main pages.

Selenium is synchronous and the controller runs on this test's event loop, so every browser
step runs in a worker thread (`in_browser`), never blocking the loop that serves the page.
`FLEET_UPDATE_SCREENSHOTS=1` writes the screenshots into docs/images/ (for the README);
otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from fleet.kube import request_json
from tests.dashboard.browser import chromium, require_browser, wait_for
from tests.dashboard.conftest import Running

pytestmark = pytest.mark.anyio
T = TypeVar("T")
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[Any]:
    require_browser()
    with chromium(tmp_path) as made:
        yield made


async def in_browser(step: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(step)


def by_css(selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return (By.CSS_SELECTOR, selector)


def text_of(driver: Any, selector: str) -> str:
    return str(driver.find_element(*by_css(selector)).text)


def screenshots_dir(tmp_path: Path) -> Path:
    if os.environ.get("FLEET_UPDATE_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        return IMAGES
    return tmp_path


async def test_list_filter_and_open_an_application(
    running: Running, driver: Any, tmp_path: Path
) -> None:
    shots = screenshots_dir(tmp_path)
    # one drifted Application (selfHeal is off), so the pages show a problem first
    scenario = running.scenario
    await request_json(
        scenario.members["m1"],
        "PATCH",
        f"/api/v1/namespaces/{scenario.app_namespace}/configmaps/web-config",
        body={"data": {"color": "drifted"}},
        content_type="application/merge-patch+json",
    )
    dashboard = running.controller.dashboard
    assert dashboard is not None
    with anyio.fail_after(30):
        while dashboard.store.rows["web-m1"].sync != "OutOfSync":
            await anyio.sleep(0.05)

    def steps() -> None:
        from selenium.webdriver.support.ui import Select

        driver.get(running.url + "/dashboard/")
        wait_for(driver, lambda d: d.find_elements(*by_css('tr[data-cluster="m2"]')), "fleet")
        wait_for(
            driver,
            lambda d: "live on" in d.find_element(*by_css("#live")).get_attribute("class"),
            "SSE",
        )
        driver.save_screenshot(str(shots / "dashboard-fleet.png"))
        driver.find_element(*by_css("header nav a[href='/dashboard/apps']")).click()
        rows = wait_for(driver, lambda d: d.find_elements(*by_css("tr[data-app]")), "list")
        assert rows[0].get_attribute("data-app") == "web-m1", "problems first"
        assert sorted(r.get_attribute("data-app") for r in rows) == [
            "api-m1",
            "api-m2",
            "web-m1",
            "web-m2",
        ]
        driver.save_screenshot(str(shots / "dashboard-apps.png"))
        Select(driver.find_element(*by_css("select[name=cluster]"))).select_by_value("m2")
        driver.find_element(*by_css("#q")).send_keys("web")
        driver.find_element(*by_css("#filters button[type=submit]")).click()
        wait_for(driver, lambda d: "cluster=m2" in d.current_url, "filtered")
        names = [r.get_attribute("data-app") for r in driver.find_elements(*by_css("tr[data-app]"))]
        assert names == ["web-m2"]
        driver.find_element(*by_css('tr[data-app="web-m2"] a')).click()
        wait_for(driver, lambda d: d.find_elements(*by_css("#resources")), "application page")
        wait_for(driver, lambda d: text_of(d, "#app-sync") == "Synced", "web-m2 Synced")
        wait_for(driver, lambda d: "web-config" in text_of(d, "#resources"), "its resources")
        driver.get(running.url + "/dashboard/apps/web-m1")
        wait_for(driver, lambda d: text_of(d, "#app-sync") == "OutOfSync", "drifted page")
        driver.save_screenshot(str(shots / "dashboard-app.png"))

    await in_browser(steps)


async def test_drift_appears_live_without_a_reload(running: Running, driver: Any) -> None:
    scenario = running.scenario
    member = scenario.env.members[0]

    def open_page() -> None:
        driver.get(f"{running.url}/dashboard/apps/web-{member.name}")
        wait_for(
            driver,
            lambda d: "live on" in d.find_element(*by_css("#live")).get_attribute("class"),
            "SSE",
        )
        wait_for(driver, lambda d: text_of(d, "#app-sync") == "Synced", "Synced at first")
        driver.execute_script("window.__sameDocument = true;")

    await in_browser(open_page)
    await request_json(
        scenario.members[member.name],
        "PATCH",
        f"/api/v1/namespaces/{scenario.app_namespace}/configmaps/web-config",
        body={"data": {"color": "drifted"}},
        content_type="application/merge-patch+json",
    )

    def see_drift() -> None:
        wait_for(driver, lambda d: text_of(d, "#app-sync") == "OutOfSync", "OutOfSync shown")
        assert driver.execute_script("return window.__sameDocument === true;")

    await in_browser(see_drift)


async def test_sync_is_refused_without_rbac_and_done_with_it(running: Running, driver: Any) -> None:
    hub = running.scenario.env.hub
    page = f"{running.url}/dashboard/apps/web-m1"

    def sign_in(token: str) -> None:
        driver.find_element(*by_css("#login input[name=token]")).send_keys(token)
        driver.find_element(*by_css("#login button")).click()
        wait_for(driver, lambda d: d.find_elements(*by_css(".who")), "signed in")

    def press_sync(expect: str) -> str:
        """Press Sync and wait for the answer (the page before may show another message)."""
        driver.find_element(*by_css("#sync")).click()

        def answered(d: Any) -> str | None:
            texts = [str(f.text) for f in d.find_elements(*by_css(".flash"))]
            return next((t for t in texts if expect in t), None)

        return wait_for(driver, answered, f"a message saying {expect!r}")

    def steps() -> tuple[str, str, str]:
        driver.get(page)
        anonymous = press_sync("sign in with a hub token")
        sign_in(hub.readonly_token)
        denied = press_sync("may not update")
        driver.find_element(*by_css(".auth form button")).click()  # sign out
        wait_for(driver, lambda d: d.find_elements(*by_css("#login")), "signed out")
        sign_in(hub.token)
        allowed = press_sync("requested by")
        assert hub.token not in driver.page_source
        return anonymous, denied, allowed

    anonymous, denied, allowed = await in_browser(steps)
    assert "to update applications.fleet.gitops.dev" in anonymous
    assert "hub RBAC: fleet-sim:readonly may not update" in denied
    assert "sync of web-m1 requested by fleet-sim:admin" in allowed
