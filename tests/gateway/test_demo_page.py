"""The demo page at `/` in real headless Chromium (Debian's, driven by playwright) against the
real stack: sign in, upload a real portrait, follow the progress to 100 %, see the overlay and
the score cards, send the intake, read the routine, see the history; axe-core finds no serious
accessibility problem. Screenshots are kept in build/screenshots/."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from calibration.sources import SOURCES, photo_bytes
from skin.identity import DEV_SECRET_FILE
from skin.settings import PROJECT_ROOT
from tests.gateway.conftest import gateway_settings, running_gateway

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = PROJECT_ROOT / "build" / "screenshots"
# As this machine's notes advise: no sandbox as root, and no calls home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), f"no browser at {CHROMIUM}: `make test` installs chromium"
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
def portrait(tmp_path_factory) -> Path:
    """A real portrait from the calibration set (a news photo of a single face)."""
    source = next(source for source in SOURCES if source.name == "obama")
    path = tmp_path_factory.mktemp("page") / "portrait.jpg"
    path.write_bytes(photo_bytes(source))
    return path


async def new_page(browser: Browser) -> tuple[Page, list[str]]:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    return page, problems


async def serious_accessibility_violations(page: Page) -> list[dict]:
    # Evaluated over the DevTools protocol: the page's CSP rightly refuses an injected script tag.
    await page.evaluate(AXE.read_text() + "\n;0")
    results = await page.evaluate("axe.run(document)")
    return [
        {"id": violation["id"], "nodes": [node["target"] for node in violation["nodes"]]}
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


async def test_from_upload_to_routine_in_a_real_browser(
    browser, gateway_url, make_user, token_for, portrait, client
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page, problems = await new_page(browser)
    await page.goto(f"{gateway_url}/")
    assert (await serious_accessibility_violations(page)) == []

    # Sign in by pasting a token (this gateway is not in local mode).
    token = token_for(make_user())
    await page.get_by_label("Or paste an access token").fill(token)
    await page.get_by_role("button", name="Use this token").click()
    await expect(page.locator("#analyse")).to_be_visible()

    # Upload a real portrait; the progress bar follows the event stream to 100 %.
    seen: list[int] = []
    await page.expose_function("recordProgress", lambda value: seen.append(value))
    await page.evaluate(
        """() => new MutationObserver(() => recordProgress(
               document.getElementById('analysis-progress').value)).observe(
               document.getElementById('progress-percent'), {childList: true})"""
    )
    await page.get_by_label("Choose a photo").set_input_files(portrait)
    await page.get_by_label("Your age (optional)").fill("61")
    await page.get_by_role("button", name="Analyse").click()
    await expect(page.locator("#analysis-status")).to_have_text("Done.", timeout=60_000)
    assert await page.locator("#analysis-progress").evaluate("bar => bar.value") == 100
    assert any(0 < value < 100 for value in seen), seen  # live, not only the end

    # The overlay: the measured regions and every spot and acne location the API reports.
    tasks = (await client.get("/tasks", headers={"authorization": f"Bearer {token}"})).json()[
        "tasks"
    ]
    result = tasks[0]["result"]
    blobs = sum(len(result["concerns"][kind]["details"]["locations"]) for kind in ("spots", "acne"))
    assert blobs > 0
    await expect(page.locator("#photo")).to_be_visible()
    await expect(page.locator("#overlay polygon")).to_have_count(len(result["regions"]))
    await expect(page.locator("#overlay circle")).to_have_count(blobs)
    await expect(page.locator("#score-cards .card")).to_have_count(len(result["concerns"]))
    await expect(page.locator("#score-cards")).to_contain_text("measured:")
    # Every score with its margin, as the result states it.
    margin = round(result["concerns"]["redness"]["margin"])
    await expect(page.locator("#score-cards")).to_contain_text(f"± {margin}")
    await page.screenshot(path=SCREENSHOTS / "result.png", full_page=True)

    # The intake form is built from the schema; the routine comes back with its reasons.
    await page.get_by_label("Skin type").select_option("oily")
    await page.get_by_role("checkbox", name="acne").first.check()
    await page.get_by_role("button", name="Make my routine").click()
    await expect(page.locator("#routine")).to_be_visible()
    await expect(page.locator("#routine-body")).to_contain_text("Morning")
    await expect(page.locator("#routine-body")).to_contain_text("Evening")
    await expect(page.locator("#routine-body .why li").first).to_be_visible()
    await expect(page.locator("#history-table tbody tr")).to_have_count(1)
    await page.screenshot(path=SCREENSHOTS / "routine.png", full_page=True)

    # A second analysis: progress over time appears, and two analyses can be compared.
    await page.get_by_role("button", name="Analyse").click()
    await expect(page.locator("#history-table tbody tr")).to_have_count(2, timeout=60_000)
    progress = page.locator("#progress-body table")
    await expect(progress).to_be_visible()
    await expect(progress.locator("tbody tr")).to_have_count(len(result["concerns"]))
    await page.get_by_role("button", name="Compare").click()
    await expect(page.locator("#compare-body table tbody tr")).to_have_count(
        len(result["concerns"]) + 1
    )
    await expect(page.locator("#compare-body thead")).to_contain_text("Visible past")
    await expect(page.locator("#compare-body tbody")).to_contain_text("±")
    await page.screenshot(path=SCREENSHOTS / "progress.png", full_page=True)

    assert (await serious_accessibility_violations(page)) == []
    assert problems == []


async def test_local_mode_signs_in_with_one_click(
    browser, storage_server, analyzer_server, jwt_secret, tmp_path
):
    # Local mode: no Supabase secret, the dev secret under DATA_DIR (here the test's secret,
    # so storage accepts the tokens the page gets).
    (tmp_path / DEV_SECRET_FILE).write_text(jwt_secret)
    settings = gateway_settings(
        storage_server.port,
        analyzer_server.port,
        jwt_secret,
        supabase_jwt_secret=None,
        data_dir=tmp_path,
    )
    async with running_gateway(settings) as url:
        page, problems = await new_page(browser)
        await page.goto(f"{url}/")
        await page.get_by_role("button", name="Sign in as a new local user").click()
        await expect(page.locator("#analyse")).to_be_visible()
        await expect(page.locator("#history")).to_contain_text("Progress appears after two")
        assert problems == []


async def test_without_local_mode_the_page_asks_for_a_token(browser, gateway_url):
    page, _ = await new_page(browser)
    await page.goto(f"{gateway_url}/")
    await page.get_by_role("button", name="Sign in as a new local user").click()
    await expect(page.locator("#sign-in-status")).to_contain_text("paste an access token")
    await expect(page.locator("#analyse")).to_be_hidden()
