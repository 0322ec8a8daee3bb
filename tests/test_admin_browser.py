"""The admin panel in a real browser: log in, make a user premium, open a list page."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, expect

from tests.browser import screenshot_path
from tests.graphql import ME, PASSWORD, GraphQLClient
from tests.lobbies import make_users
from tests.realtime import unique_names
from tests.servers import ServerProcess


async def test_staff_logs_in_and_makes_a_user_premium(browser: Browser, server: ServerProcess) -> None:
    sam, pat = unique_names("sam", "pat")
    database = server.env["DATABASE_URL"]
    suffix = "sqlite" if database.startswith("sqlite") else "postgres"
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
        gql = GraphQLClient(http)
        users = await make_users(gql, database, [sam, pat], staff=[sam])
        page = await browser.new_page()
        try:
            await page.goto(f"{server.http_url}/admin/", wait_until="domcontentloaded")
            assert page.url.endswith("/admin/login")
            await page.fill('input[name="username"]', sam)
            await page.fill('input[name="password"]', PASSWORD)
            await page.click('button[type="submit"]')
            await page.wait_for_url(f"{server.http_url}/admin/")
            await page.screenshot(path=screenshot_path(f"admin-index-{suffix}"))

            await page.goto(
                f"{server.http_url}/admin/user/edit/{users[pat].id}", wait_until="domcontentloaded"
            )
            premium = page.locator('input[name="is_premium"]')
            await expect(premium).not_to_be_checked()
            await premium.check()
            await page.screenshot(path=screenshot_path(f"admin-user-edit-{suffix}"))
            await page.click('input[name="save"][value="Save"]')
            await page.wait_for_url(f"{server.http_url}/admin/user/list")

            me = (await gql.data(ME, token=users[pat].token))["me"]
            assert me["isPremium"] is True

            await page.goto(f"{server.http_url}/admin/user/list?search={pat}", wait_until="domcontentloaded")
            row = page.locator("table tbody tr", has_text=pat)
            await expect(row).to_have_count(1)
            await page.screenshot(path=screenshot_path(f"admin-user-list-{suffix}"), full_page=True)
        finally:
            await page.close()
