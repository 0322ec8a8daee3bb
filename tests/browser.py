"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright never downloads a browser here; it launches the system one. Screenshots go to
`test-artifacts/screenshots/` (ignored by git) so a person can look at what the test saw.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests import services

CHROMIUM = os.environ.get("PREMIUMCHAT_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"

# The flags this machine's closed network needs: no background connections, no first-run work.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if path is None:
        message = f"Chromium is not installed at {CHROMIUM}"
        if services.REQUIRE_SERVICES:
            pytest.fail(f"{message} and PREMIUMCHAT_TEST_REQUIRE_SERVICES is set", pytrace=False)
        pytest.skip(f"{message} (apt-get install chromium, or set PREMIUMCHAT_TEST_CHROMIUM)")
    return path


async def launch_chromium() -> AsyncIterator[Browser]:
    """One headless browser; use as an async generator fixture body."""
    executable = require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
