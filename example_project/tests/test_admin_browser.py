"""The admin in a real browser: Playwright drives Debian's Chromium against a live server.

An operator logs in, opens the list, filters the failed notifications, searches a
telephone number, opens a notification, and replays the failed one; on a phone too; and
an uptime monitor's browser reads the probe. The screenshots in
``docs/screenshots/`` come from this test (``make screenshots``).

Skips, saying why, without Playwright (the ``browser`` dependency group: ``pip install
--group browser`` in a checkout) or without Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from django_bw_notifications import signals
from django_bw_notifications.models import Notification, ProcessingState
from django_bw_notifications.testing import build_order_notification

CHROMIUM = os.environ.get("BW_CHROMIUM", "/usr/bin/chromium")
PAYLOADS = Path(__file__).resolve().parents[2] / "tests" / "payloads"
SCREENSHOTS = os.environ.get("BW_SCREENSHOTS_DIR")

try:
    from playwright import sync_api
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_PLAYWRIGHT = False
else:
    HAVE_PLAYWRIGHT = True

MISSING = (
    "Playwright is not installed: pip install --group browser (from the repository root)"
    if not HAVE_PLAYWRIGHT
    else f"no Chromium at {CHROMIUM}: apt-get install chromium (or set BW_CHROMIUM)"
    if shutil.which(CHROMIUM) is None
    else ""
)
if MISSING and os.environ.get("BW_REQUIRE_BROWSER") == "1":
    pytest.fail(f"BW_REQUIRE_BROWSER=1 but {MISSING}", pytrace=False)

pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=MISSING),
    pytest.mark.django_db(transaction=True),
]


#: What operators really have: a laptop, and a desktop monitor.
VIEWPORTS = [(1366, 768), (1920, 1080)]


@pytest.fixture(params=VIEWPORTS, ids=lambda size: f"{size[0]}x{size[1]}")
def viewport(request: pytest.FixtureRequest) -> tuple[int, int]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, viewport: tuple[int, int]) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls made here
    # between browser steps are ordinary blocking calls, which Django must be told.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        width, height = viewport
        page = browser.new_page(viewport={"width": width, "height": height})
        # Django's navigation sidebar open, as an operator has it by default.
        page.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'true')")
        page.set_default_timeout(15_000)
        yield page
        browser.close()


@pytest.fixture
def crm() -> Iterator[dict[str, bool]]:
    """A receiver that fails on one port-in's FOC while ``crm["down"]`` is true."""
    state = {"down": True}

    def update_crm(sender: Any, notification: Notification, **kwargs: Any) -> None:
        if state["down"] and (notification.order_id, notification.status) == ("port-7781", "FOC"):
            raise ConnectionError("CRM unreachable: connection refused (crm.internal:443)")

    signals.notification_received.connect(update_crm, weak=False)
    yield state
    signals.notification_received.disconnect(update_crm)


def deliver(live_server: Any, scratch: Path) -> None:
    """Everything goes through the real endpoint, the way Bandwidth sends it."""
    url = live_server.url + reverse("bw_notifications:webhook")
    samples = [path for path in sorted(PAYLOADS.glob("*.xml")) if "_template" not in path.name]
    files = [arg for path in samples for arg in ("--file", str(path))]
    call_command("bw_notifications_send", url, *files, stdout=io.StringIO())
    for status, day in (("SUBMITTED", 2), ("FOC", 5), ("COMPLETE", 9)):
        body = build_order_notification(
            "portins",
            status,
            order_id="port-7781",
            customer_order_id="crm-port-7781",
            numbers=["9195551234", "9195551235"],
            message="Port request " + status.lower(),
            last_modified_date=f"2026-11-{day:02d}T15:00:00.000Z",
        )
        path = scratch / f"{status}.xml"
        path.write_bytes(body)
        call_command("bw_notifications_send", url, "--file", str(path), stdout=io.StringIO())


def shoot(page: Any, name: str, tmp_path: Path, *, full_page: bool = False) -> None:
    # The README's screenshots are the laptop's; the other sizes are checked, not kept.
    if page.viewport_size["width"] != VIEWPORTS[0][0]:
        name += f"-{page.viewport_size['width']}"
    target = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=full_page)


def test_an_operator_finds_the_story_and_replays_the_failure(
    page: Any, live_server: Any, admin_user: Any, crm: dict[str, bool], tmp_path: Path
) -> None:
    deliver(live_server, tmp_path)
    assert Notification.objects.count() >= 20
    failed = Notification.objects.get(processing_state=ProcessingState.FAILED)
    assert failed.order_id == "port-7781"

    # Log in.
    page.goto(live_server.url + "/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.locator("tr.model-notification th a").click()

    # The list: badges, filters, every column without sideways scrolling, and the
    # health banner (a notification the sweeper has not taken yet).
    expect = sync_api.expect
    expect(page.locator("#result_list")).to_be_visible()
    expect(page.locator("#result_list .bw-badge.bw-danger").first).to_be_visible()
    assert_fits(page)
    Notification.objects.create(
        order_type="orders",
        order_id="stuck-1",
        fingerprint="stuck-1",
        received_at=timezone.now() - timedelta(hours=2),
    )
    page.reload()
    expect(page.locator(".bw-health")).to_contain_text("not dispatched")
    shoot(page, "admin-list", tmp_path)

    # Filter by status: every FOC (a sample and port-7781), and nothing else.
    assert Notification.objects.filter(status="FOC").count() >= 2
    filters = page.locator("#changelist-filter")
    # The status as Bandwidth spells it, its readable label beside it.
    filters.get_by_role("link", name=re.compile(r"^FOC \(firm order commitment")).click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(Notification.objects.filter(status="FOC").count())
    for text in rows.locator("td.field-what .bw-badge").first.all_inner_texts():
        assert text == "FOC"
    for row in rows.all():
        expect(row.locator("td.field-what")).to_contain_text("FOC")

    # Filter by processing state: only the failed one.
    page.goto(live_server.url + reverse("admin:bw_notifications_notification_changelist"))
    filters.get_by_role("link", name="Failed", exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("port-7781")

    # Search a telephone number typed with dashes: both stored forms come back.
    page.goto(live_server.url + reverse("admin:bw_notifications_notification_changelist"))
    page.fill("#searchbar", "919-555-1234")
    page.press("#searchbar", "Enter")
    expect(rows).to_have_count(
        Notification.objects.filter(telephone_numbers__number__in=["9195551234", "+19195551234"])
        .distinct()
        .count()
    )
    expect(page.locator("#result_list")).to_contain_text("port-7781")

    # Open the failed notification: its story, its timeline, its traceback.
    page.locator("#result_list tbody tr", has_text="FOC").locator("th a").first.click()
    expect(page.locator("#timeline")).to_contain_text("SUBMITTED")
    expect(page.locator("#timeline")).to_contain_text("COMPLETE")
    expect(page.locator(".bw-traceback").first).to_contain_text("CRM unreachable")
    expect(page.locator("#raw-xml pre").first).to_contain_text("<OrderId>port-7781</OrderId>")
    shoot(page, "admin-detail", tmp_path, full_page=True)

    # The CRM is back: replay the failed one from the list and read the outcome.
    crm["down"] = False
    page.goto(
        live_server.url
        + reverse("admin:bw_notifications_notification_changelist")
        + "?processing_state=failed"
    )
    page.locator("#result_list tbody input.action-select").first.check()
    page.select_option("select[name=action]", "replay_signals")
    page.click("button[name=index]")
    expect(page.locator("ul.messagelist:not(.bw-health)")).to_contain_text(
        "Replayed 1: 1 succeeded, 0 failed."
    )
    shoot(page, "admin-replayed", tmp_path)
    failed.refresh_from_db()
    assert failed.processing_state == ProcessingState.PROCESSED
    assert failed.attempts == 2

    # The replay succeeded, and the failure it mended is still in the history.
    page.goto(
        live_server.url + reverse("admin:bw_notifications_notification_change", args=[failed.pk])
    )
    history = page.locator("table.bw-history")
    expect(history).to_contain_text("failed")
    expect(history).to_contain_text("replay")
    expect(history).to_contain_text("CRM unreachable")
    assert_fits(page)


def assert_fits(page: Any) -> None:
    """No sideways scrolling: neither the page nor the list's table is wider than it has."""
    widths = page.evaluate(
        """() => {
            const root = document.documentElement;
            const table = document.querySelector('#result_list');
            const holder = table ? table.closest('.results') : null;
            return {
                page: root.scrollWidth, window: root.clientWidth,
                table: table ? table.scrollWidth : 0,
                room: holder ? holder.clientWidth : 0,
            };
        }"""
    )
    assert widths["page"] <= widths["window"], widths
    assert widths["table"] <= widths["room"], widths


#: A phone (an iPhone 12 to 15's CSS pixels): the on-call operator's first look.
PHONE = (390, 844)


@pytest.fixture
def phone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        width, height = PHONE
        context = browser.new_context(
            viewport={"width": width, "height": height},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def test_on_a_phone_the_list_and_the_failed_page_are_usable(
    phone: Any, live_server: Any, admin_user: Any, crm: dict[str, bool], tmp_path: Path
) -> None:
    deliver(live_server, tmp_path)
    failed = Notification.objects.get(processing_state=ProcessingState.FAILED)
    # A long value that must wrap, not widen the page.
    failed.message = "Port request FOC " + "and a very-long-unbroken-explanation" * 8
    failed.save(update_fields=["message"])
    expect = sync_api.expect

    phone.goto(live_server.url + "/admin/")
    phone.fill("#id_username", "admin")
    phone.fill("#id_password", "password")
    phone.click("input[type=submit]")

    # The list: each row's processing badge and its order are on screen, no sideways
    # scrolling of the page.
    phone.goto(live_server.url + reverse("admin:bw_notifications_notification_changelist"))
    row = phone.locator("#result_list tbody tr", has_text="port-7781").first
    expect(row).to_be_visible()
    for cell in (row.locator("td.field-what .bw-badge").last, row.locator("td.field-order")):
        box = cell.bounding_box()
        assert box is not None
        assert 0 <= box["x"] <= box["x"] + box["width"] <= PHONE[0], box
    assert_no_sideways_page(phone)
    shoot(phone, "admin-list-phone", tmp_path)

    # The failed notification's page: the failure and its replay button first, long
    # values wrapped.
    phone.goto(
        live_server.url + reverse("admin:bw_notifications_notification_change", args=[failed.pk])
    )
    panel = phone.locator("#failure")
    expect(panel).to_contain_text("CRM unreachable")
    button = panel.get_by_role("button", name="Replay its receivers")
    expect(button).to_be_in_viewport()
    assert_no_sideways_page(phone)
    message = phone.locator(".field-message .readonly")
    box = message.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= PHONE[0], box
    shoot(phone, "admin-failed-phone", tmp_path)

    # Replay from the phone: one press, once.
    crm["down"] = False
    button.click()
    expect(phone.locator("ul.messagelist")).to_contain_text("Replayed: every receiver succeeded.")
    failed.refresh_from_db()
    assert failed.processing_state == ProcessingState.PROCESSED
    assert failed.attempts == 2

    # The dispatch history, both attempts: scrolled sideways within its own box, every
    # column comes on screen (none is clipped by the form row holding it).
    history = phone.locator("table.bw-history")
    expect(history).to_contain_text("replay")
    history.scroll_into_view_if_needed()
    assert_no_sideways_page(phone)
    history.evaluate("table => { table.scrollLeft = table.scrollWidth; }")
    for cell in (history.locator("th").first, history.locator("th").last):
        cell.evaluate("th => th.scrollIntoView({inline: 'nearest', block: 'nearest'})")
        box = cell.bounding_box()
        assert box is not None
        assert 0 <= box["x"] <= box["x"] + box["width"] <= PHONE[0], box

    # The app's dashboard fits too.
    phone.goto(live_server.url + "/admin/bw_notifications/")
    expect(phone.locator(".bw-dashboard")).to_be_visible()
    assert_no_sideways_page(phone)


def assert_no_sideways_page(page: Any) -> None:
    widths = page.evaluate(
        "() => ({page: document.documentElement.scrollWidth,"
        " window: document.documentElement.clientWidth})"
    )
    assert widths["page"] <= widths["window"], widths


def test_the_probe_in_a_browser(phone: Any, live_server: Any, tmp_path: Path) -> None:
    """What an uptime monitor's browser check sees: no login, 503 then 200, no details."""
    probe = live_server.url + reverse("bw_notifications_ops:probe")
    # Nothing received yet on a fresh install: unhealthy, and says nothing more.
    response = phone.goto(probe)
    assert response.status == 503
    assert phone.locator("body").inner_text().strip() == "unhealthy"
    assert "admin" not in phone.url  # no login page in the way
    deliver(live_server, tmp_path)
    Notification.objects.filter(processing_state=ProcessingState.FAILED).delete()
    response = phone.goto(probe)
    assert response.status == 200
    assert phone.locator("body").inner_text().strip() == "ok"
