"""The browser the end-to-end tests rely on launches and renders a page served by the app."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.browser import screenshot_path
from tests.servers import ServerProcess


async def test_chromium_renders_graphiql(browser: Browser, server: ServerProcess) -> None:
    page = await browser.new_page()
    try:
        response = await page.goto(f"{server.http_url}/graphql", wait_until="domcontentloaded")
        assert response is not None
        assert response.status == 200
        assert "graphiql" in (await page.content()).lower()
        await page.screenshot(path=screenshot_path("graphiql"))
    finally:
        await page.close()
