"""The inspector at /ui in headless Chromium (Debian's `chromium`, driven by Playwright),
against a real `memstrata serve` on 127.0.0.1 with a user seeded over three weeks: the
timeline shows the sessions, a superseded fact is struck through with a link to its
replacement, recall shows hits with the turns they cite, the resume preview switches mode
as the slider crosses the planner's thresholds, the job view lists the worker's runs, and
another tenant's key sees nothing. Screenshots of every view go to evals/reports/inspector/.
"""

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.services import Serve, Service, new_tenant

CHROMIUM = os.environ.get("MEMSTRATA_TEST_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "evals" / "reports" / "inspector"
# Chromium as root on a closed network: no sandbox, and none of its background traffic.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Slider positions (0-1000, cubic up to 90 days): about 1 day and about 30 days ahead.
ONE_DAY, THIRTY_DAYS = "223", "693"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert shutil.which(CHROMIUM), (
        f"the browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium "
        "(.ci/run does), or set MEMSTRATA_TEST_CHROMIUM to a Chromium or Chrome binary"
    )
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()


async def seed(service: Service, key: str) -> None:
    """Alice over three weeks: Porto, then a move to Lisbon and an open question, then
    a session from ten minutes ago. The worker runs after each ended session, as it
    would have in those weeks."""
    now = datetime.now(UTC)
    headers = {"Authorization": f"Bearer {key}"}
    sessions = [
        (now - timedelta(days=20), ["I live in Porto.", "I love hiking in the mountains."]),
        (
            now - timedelta(days=6),
            [
                "Big news: I moved to Lisbon!",
                "I love hiking along the coast too.",
                "I'm planning a trip to the Azores next month.",
                "Should I take the ferry or fly to the Azores?",
            ],
        ),
        (now - timedelta(minutes=10), ["Can you help me plan the Azores trip?"]),
    ]
    async with httpx.AsyncClient(base_url=service.url, headers=headers, timeout=30) as client:
        for started, lines in sessions:
            sid = uuid.uuid4()
            for minute, line in enumerate(lines):
                at = (started + timedelta(minutes=minute)).isoformat()
                for role, content in (("user", line), ("assistant", "Noted.")):
                    sent = await client.post(
                        f"/v1/users/alice/sessions/{sid}/messages",
                        json={"role": role, "content": content, "device_id": "phone", "at": at},
                    )
                    assert sent.status_code == 201, sent.text
            if started < now - timedelta(days=1):  # synthesis after every new fact, here
                await service.worker_once(MEMSTRATA_REFLECTION__REFLECT_MIN_NEW_FACTS="1")


async def sign_in(page: Page, service: Service, key: str, user: str = "alice") -> None:
    await page.goto(f"{service.url}/ui/")
    await page.fill("#key", key)
    await page.fill("#user", user)
    await page.click("#who button[type=submit]")


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def test_every_view_of_a_seeded_user(
    serve: Serve, fresh_database: str, browser: Browser
) -> None:
    service, key = await serve(fresh_database)
    await seed(service, key)
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await sign_in(page, service, key)

    # Timeline: three sessions, the latest active, the two older ones archived.
    cards = page.locator("#sessions li.session")
    await expect(cards).to_have_count(3)
    await expect(cards.nth(0).locator(".status")).to_have_text("active")
    await expect(page.locator("#sessions .status.archived")).to_have_count(2)
    await expect(page.locator("#axis rect.bar")).to_have_count(3)
    await cards.nth(1).click()  # the Lisbon session: its transcript and its facts
    await expect(page.locator("#transcript li.turn")).to_have_count(8)
    await expect(page.locator("#session-facts")).to_contain_text("Lives in Lisbon")
    await shot(page, "timeline")

    # Tiers: "Lives in Porto" struck through, linking to what replaced it.
    await page.click("#tabs button[data-view=tiers]")
    porto = page.locator("#facts li.fact.superseded", has_text="Lives in Porto")
    await expect(porto.locator("s.text")).to_have_text("Lives in Porto")
    await expect(porto.locator("a.replaced-by")).to_contain_text("Lives in Lisbon")
    current = page.locator("#facts li.fact:not(.superseded)", has_text="Lives in Lisbon")
    await expect(current).to_have_count(1)
    insight = page.locator("#knowledge li.insight").first
    await expect(insight.locator(".cites li").first).to_be_visible()
    await expect(page.locator("#journal-diff ins").first).to_be_visible()
    # A plan's kind badge is a badge, not the resume view's plan box (a class they shared).
    badge = page.locator("#facts .kind.kind-plan").first
    await expect(badge).to_have_text("plan")
    assert await badge.evaluate("e => getComputedStyle(e).borderStyle") == "none"
    await shot(page, "tiers")

    # Recall: ranked hits with score parts and the turns they cite.
    await page.click("#tabs button[data-view=recall]")
    await page.fill("#query", "where do I live now?")
    await page.click("#recall-form button[type=submit]")
    fact = page.locator("#hits tbody tr.hit", has_text="Lives in Lisbon")
    await expect(fact.locator(".tier")).to_have_text("facts")
    await expect(fact.locator(".sources li")).to_contain_text("user: Big news: I moved to Lisbon!")
    await shot(page, "recall")

    # Resume: full restore now, primed in a day, a fresh start a month later.
    await page.click("#tabs button[data-view=resume]")
    mode = page.locator("#mode")
    await expect(mode).to_have_text("full restore")
    await page.locator("#moment").fill(ONE_DAY)
    await expect(mode).to_have_text("primed")
    await expect(page.locator("#injected li").first).to_be_visible()
    await expect(page.locator("#tokens")).to_contain_text("of 1500 tokens")
    await shot(page, "resume")
    await page.locator("#moment").fill(THIRTY_DAYS)
    await expect(mode).to_have_text("fresh")
    await page.locator("#moment").fill("0")
    await expect(mode).to_have_text("full restore")

    # Jobs: the worker's runs from the ledger.
    await page.click("#tabs button[data-view=jobs]")
    await expect(page.locator("#runs tbody tr.run", has_text="end_session")).to_have_count(2)
    await expect(page.locator("#runs tbody tr.run").first).to_contain_text("ok")
    await shot(page, "jobs")
    assert errors == []


async def test_another_tenants_key_sees_nothing_and_forget_empties_the_user(
    serve: Serve, fresh_database: str, browser: Browser
) -> None:
    service, key = await serve(fresh_database)
    await seed(service, key)
    stranger = await new_tenant(service.url, "globex")
    page = await browser.new_page()
    await sign_in(page, service, stranger)
    await expect(page.locator("#sessions li.empty")).to_have_text("No sessions.")
    await page.click("#tabs button[data-view=tiers]")
    await expect(page.locator("#facts li.empty")).to_have_text("No facts yet.")
    await page.click("#tabs button[data-view=jobs]")
    await expect(page.locator("#runs tbody")).to_contain_text("No runs yet.")
    await page.click("#tabs button[data-view=resume]")
    await expect(page.locator("#mode")).to_have_text("fresh")
    assert "Lisbon" not in await page.content()

    await sign_in(page, service, "ms_not-a-key")
    await expect(page.locator("#error")).to_contain_text("401")
    await expect(page.locator("#tabs")).to_be_hidden()
    await expect(page.locator("#resume")).to_be_hidden()

    # A key in the address's fragment opens the inspector without retyping it, and leaves
    # the address bar at once (the fragment never reaches the server).
    linked = await browser.new_page()
    await linked.goto(f"{service.url}/ui/#key={key}&user=alice")
    await expect(linked.locator("#tabs")).to_be_visible()
    await expect(linked.locator("#sessions li.session")).to_have_count(3)
    assert key not in linked.url and "user=alice" in linked.url
    await linked.close()

    # The one write: the owner forgets alice, after saying yes to the confirmation.
    await sign_in(page, service, key)
    await page.click("#tabs button[data-view=timeline]")
    await expect(page.locator("#sessions li.session")).to_have_count(3)
    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("#forget")
    await expect(page.locator("#sessions li.empty")).to_have_text("No sessions.")
    async with httpx.AsyncClient(base_url=service.url) as client:
        facts = await client.get(
            "/v1/users/alice/facts", headers={"Authorization": f"Bearer {key}"}
        )
    assert facts.json() == []
