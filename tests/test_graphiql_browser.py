"""Issue 14: GraphiQL works in a real headless browser with no internet. Debian's chromium, driven by Playwright
(never Playwright's own browser download), opens /graphql on a real uvicorn with every request to anything but
127.0.0.1 blocked, puts the token into GraphiQL's Headers editor, runs `{ me { roles } }` and reads the answer."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from urllib.parse import quote, urlsplit

import pytest

from tenants.settings import Settings
from tenants.tenancy.roles import Role
from tests.uvicorn_kit import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("no browser: install Debian's chromium (`apt-get install -y chromium`; .ci/run does) to run the "
                "GraphiQL browser test", allow_module_level=True)
playwright = pytest.importorskip("playwright.async_api", reason="the test extra's playwright is not installed")


@pytest.fixture
async def server(app, settings: Settings) -> AsyncIterator[int]:
    async with serving(app, settings) as port:
        yield port


async def test_graphiql_runs_a_query_offline_with_the_token_in_its_headers_editor(server, three_tenants, token):
    base = f"http://127.0.0.1:{server}"
    seen: list[str] = []
    blocked: list[str] = []
    errors: list[str] = []
    console: list[str] = []

    async def only_here(route):  # type: ignore[no-untyped-def]
        url = route.request.url
        seen.append(url)
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"):
            await route.continue_()
        else:
            blocked.append(url)
            await route.abort()

    async def open_graphiql(browser, url: str):  # type: ignore[no-untyped-def]
        context = await browser.new_context()  # its own localStorage: no headers kept from another page
        await context.route("**/*", only_here)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))

        def introspection(resp) -> bool:  # type: ignore[no-untyped-def]
            return resp.request.method == "POST" and "IntrospectionQuery" in (resp.request.post_data or "")

        async with page.expect_response(introspection, timeout=30_000) as schema:
            await page.goto(url)
        try:
            await page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=30_000)
        except playwright.TimeoutError:
            pytest.fail(f"GraphiQL did not render: {errors} {console} {seen}\n{(await page.content())[:2000]}")
        return page, (await schema.value).status

    async def run(page) -> str:  # type: ignore[no-untyped-def]
        await page.locator("button.graphiql-execute-button").click()
        result = page.locator(".result-window")
        await result.get_by_text('"roles"', exact=False).wait_for(timeout=30_000)
        return await result.inner_text()

    query = quote("{ me { roles } }")
    async with playwright.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            # no name resolves but 127.0.0.1: an asset from a CDN could not load even if a route let it through
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--disable-gpu"],
        )
        try:
            # The README's flow: open GraphiQL, paste the header `serve` prints into the Headers editor, run.
            page, schema_status = await open_graphiql(browser, f"{base}/graphql?query={query}")
            assert schema_status == 401  # its first introspection had no token yet
            await page.get_by_role("button", name="Headers").click()
            await page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror").last.click()
            await page.keyboard.insert_text(f'{{"Authorization": "Bearer {token("xiahuayuan")}"}}')
            pasted = await run(page)
            # A link with the token in its fragment: the schema loads with it, and the URL forgets it.
            resident = token("xiahuayuan", Role.RESIDENT)
            page, schema_status = await open_graphiql(browser, f"{base}/graphql?query={query}#token={resident}")
            assert schema_status == 200
            linked = await run(page)
            assert "token=" not in page.url
        finally:
            await browser.close()
    assert '"roles"' in pasted and "TENANT_ADMIN" in pasted and "errors" not in pasted, pasted
    assert '"roles"' in linked and "RESIDENT" in linked and "errors" not in linked, linked
    assert blocked == [], blocked  # nothing asked for outside 127.0.0.1
    assert any("/graphiql/static/graphiql.min.js" in url for url in seen), seen
    assert errors == [], errors
