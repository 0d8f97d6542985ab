"""The dashboard served by the controller: pages from its caches, escaping, writes decided
by hub RBAC behind CSRF, and live events from a status change."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import anyio
import pytest
import yaml

from fleet.api.resources import APPLICATION
from fleet.kube import request_json
from tests.dashboard.conftest import Running

pytestmark = pytest.mark.anyio

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def browser(running: Running) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url=running.url,
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # 127.0.0.1: aiohttp drops IP cookies else
        timeout=aiohttp.ClientTimeout(total=60),
    )


async def csrf_of(session: aiohttp.ClientSession, path: str) -> str:
    async with session.get(path) as response:
        assert response.status == 200
        found = CSRF.search(await response.text())
    assert found is not None
    return found.group(1)


async def post(
    session: aiohttp.ClientSession, running: Running, path: str, form: dict[str, str]
) -> str:
    """POST as the page's form does; returns the page it redirects to."""
    async with session.post(path, data=form, headers={"Origin": running.url}) as response:
        assert response.status == 200, await response.text()
        return await response.text()


async def test_every_page_is_served_from_the_controllers_cache(running: Running) -> None:
    async with await browser(running) as session:
        for path, expected in [
            ("/dashboard/", "m1"),
            ("/dashboard/apps", "web-m2"),
            ("/dashboard/apps?cluster=m1&q=api", "api-m1"),
            ("/dashboard/apps/web-m1", "web-config"),
            ("/dashboard/appsets/demo", "api-m2"),
        ]:
            async with session.get(path) as response:
                text = await response.text()
            assert response.status == 200, path
            assert expected in text, path
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]


async def test_filters_exclude_what_does_not_match(running: Running) -> None:
    async with (
        await browser(running) as session,
        session.get("/dashboard/apps?cluster=m2&q=web") as response,
    ):
        text = await response.text()
    assert "web-m2" in text
    assert "web-m1" not in text and "api-m2" not in text


async def test_untrusted_strings_are_escaped(running: Running) -> None:
    scenario = running.scenario
    await scenario.create_application(
        "odd",
        {
            "project": "<img src=x onerror=alert(1)>",
            "source": {"repoURL": scenario.repo_url, "path": "apps/web"},
            "destination": {"name": "m1", "namespace": scenario.app_namespace},
        },
    )
    with anyio.fail_after(30):
        while "odd" not in running.controller.dashboard.store.rows:  # type: ignore[union-attr]
            await anyio.sleep(0.1)
    async with await browser(running) as session:
        for path in ("/dashboard/apps", "/dashboard/apps/odd", "/dashboard/?by=project"):
            async with session.get(path) as response:
                text = await response.text()
            assert "<img src=x" not in text, path
            assert "&lt;img src=x onerror=alert(1)&gt;" in text, path


async def test_a_write_without_the_sessions_csrf_token_is_refused(running: Running) -> None:
    async with await browser(running) as session:
        await csrf_of(session, "/dashboard/apps/web-m1")
        async with session.post(
            "/dashboard/apps/web-m1/refresh",
            data={"csrf": "guessed"},
            headers={"Origin": running.url},
        ) as response:
            text = await response.text()
    assert "CSRF token is not this session" in text


async def test_a_write_from_another_origin_is_refused(running: Running) -> None:
    async with await browser(running) as session:
        token = await csrf_of(session, "/dashboard/apps/web-m1")
        async with session.post(
            "/dashboard/apps/web-m1/refresh",
            data={"csrf": token},
            headers={"Origin": "https://evil.example"},
        ) as response:
            assert response.status == 403
            assert "another site" in await response.text()


async def _operation(running: Running, name: str) -> Any:
    scenario = running.scenario
    app = await request_json(scenario.hub, "GET", APPLICATION.item(scenario.namespace, name))
    return app.get("operation"), (app.get("status") or {}).get("operationState") or {}


async def test_sync_without_signing_in_is_refused(running: Running) -> None:
    async with await browser(running) as session:
        token = await csrf_of(session, "/dashboard/apps/web-m1")
        page = await post(session, running, "/dashboard/apps/web-m1/sync", {"csrf": token})
    assert "sign in with a hub token to update applications.fleet.gitops.dev" in page
    operation, _state = await _operation(running, "web-m1")
    assert operation is None


async def test_a_token_without_rbac_for_update_cannot_sync(running: Running) -> None:
    readonly = running.scenario.env.hub.readonly_token
    async with await browser(running) as session:
        token = await csrf_of(session, "/dashboard/apps/web-m1")
        page = await post(session, running, "/dashboard/login", {"csrf": token, "token": readonly})
        assert "signed in as fleet-sim:readonly" in page
        page = await post(session, running, "/dashboard/apps/web-m1/sync", {"csrf": token})
    assert "hub RBAC: fleet-sim:readonly may not update applications.fleet.gitops.dev" in page
    assert readonly not in page
    operation, _state = await _operation(running, "web-m1")
    assert operation is None


async def test_a_token_with_rbac_syncs_as_the_cli_does(running: Running) -> None:
    admin = running.scenario.env.hub.token
    async with await browser(running) as session:
        token = await csrf_of(session, "/dashboard/apps/web-m1")
        await post(session, running, "/dashboard/login", {"csrf": token, "token": admin})
        page = await post(
            session, running, "/dashboard/apps/web-m1/sync", {"csrf": token, "prune": "on"}
        )
        assert "sync of web-m1 requested by fleet-sim:admin (revision main, prune)" in page
        assert admin not in page
    with anyio.fail_after(60):
        while True:
            operation, state = await _operation(running, "web-m1")
            if operation is None and state.get("phase") == "Succeeded":
                break
            await anyio.sleep(0.2)


async def events(session: aiohttp.ClientSession) -> AsyncGenerator[dict[str, Any], None]:
    async with session.get("/dashboard/events") as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        kind = ""
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                yield {"event": kind, "data": json.loads(line[6:])}


async def test_drift_on_a_member_reaches_the_event_stream(running: Running) -> None:
    scenario = running.scenario
    member = scenario.env.members[0]
    async with await browser(running) as session:
        stream = events(session)
        first = await anext(stream)
        assert first["event"] == "hello"
        await request_json(
            scenario.members[member.name],
            "PATCH",
            f"/api/v1/namespaces/{scenario.app_namespace}/configmaps/web-config",
            body={"data": {"color": "drifted"}},
            content_type="application/merge-patch+json",
        )
        with anyio.fail_after(30):
            async for message in stream:
                row = (message["data"].get("app") or {}).get(f"web-{member.name}")
                if row and row["sync"] == "OutOfSync":
                    break
        await stream.aclose()


async def test_the_application_page_names_the_synced_commit_and_its_author(
    running: Running,
) -> None:
    async with await browser(running) as session, session.get("/dashboard/apps/web-m1") as page:
        text = await page.text()
    commit = text.split("<dt>Commit</dt>", 1)[1].split("</dd>", 1)[0]
    assert "initial" in commit  # the subject of the config repository's first commit
    assert re.search(r"— .+, \d{4}-\d\d-\d\dT", commit), commit  # author, date


async def signed_in(running: Running, path: str) -> tuple[aiohttp.ClientSession, str]:
    session = await browser(running)
    token = await csrf_of(session, path)
    await post(
        session,
        running,
        "/dashboard/login",
        {"csrf": token, "token": running.scenario.env.hub.token},
    )
    return session, token


async def test_refresh_asks_the_controller_to_look_again(running: Running) -> None:
    session, token = await signed_in(running, "/dashboard/apps/api-m1")
    async with session:
        page = await post(session, running, "/dashboard/apps/api-m1/refresh", {"csrf": token})
    assert "refresh of api-m1 requested" in page
    scenario = running.scenario
    path = APPLICATION.item(scenario.namespace, "api-m1")
    app = await request_json(scenario.hub, "GET", path)
    assert "fleet.gitops.dev/refresh-requested-at" in app["metadata"]["annotations"]
    # The controller acts on Argo CD's refresh annotation, then removes it, as Argo CD does.
    with anyio.fail_after(30):
        while "argocd.argoproj.io/refresh" in app["metadata"]["annotations"]:
            await anyio.sleep(0.1)
            app = await request_json(scenario.hub, "GET", path)


async def test_rollback_under_automated_sync_is_refused_as_the_cli_refuses_it(
    running: Running,
) -> None:
    session, token = await signed_in(running, "/dashboard/apps/api-m1")
    async with session:
        page = await post(
            session, running, "/dashboard/apps/api-m1/rollback", {"csrf": token, "id": "0"}
        )
    assert "has automated sync enabled: a rollback would be undone" in page


async def test_the_live_diff_shows_a_drifted_field(running: Running) -> None:
    scenario = running.scenario
    member = scenario.env.members[0]
    await request_json(
        scenario.members[member.name],
        "PATCH",
        f"/api/v1/namespaces/{scenario.app_namespace}/configmaps/web-config",
        body={"data": {"color": "drifted"}},
        content_type="application/merge-patch+json",
    )
    session, token = await signed_in(running, f"/dashboard/apps/web-{member.name}")
    async with session:
        page = await post(
            session, running, f"/dashboard/apps/web-{member.name}/diff", {"csrf": token}
        )
    diff = page.split('<pre class="diff">', 1)[1].split("</pre>", 1)[0]
    assert "drifted" in diff and "blue" in diff


async def test_an_appset_diff_of_a_pasted_document_shows_the_plan(running: Running) -> None:
    from tests.dashboard.conftest import no_self_heal

    doc = no_self_heal(running.scenario)
    doc["spec"]["generators"][0]["matrix"]["generators"][1]["git"]["directories"] = [
        {"path": "apps/web"}
    ]
    session, token = await signed_in(running, "/dashboard/appsets/demo")
    async with session:
        page = await post(
            session,
            running,
            "/dashboard/appsets/demo/diff",
            {"csrf": token, "document": yaml.safe_dump(doc)},
        )
    plan = page.split('<pre class="diff">', 1)[1].split("</pre>", 1)[0]
    assert "api-m1" in plan and "api-m2" in plan, plan


async def test_the_appset_page_shows_each_generators_parameter_sets(running: Running) -> None:
    session, token = await signed_in(running, "/dashboard/appsets/demo")
    async with session:
        page = await post(session, running, "/dashboard/appsets/demo/params", {"csrf": token})
    section = page.split('<section id="params">', 1)[1].split("</section>", 1)[0]
    assert "spec.generators[0].matrix" in section and "4 parameter sets" in section
    assert ">path.basename</th>" in section and ">name</th>" in section
    assert all(f'<td class="mono">{value}</td>' in section for value in ("web", "api", "m1", "m2"))
