from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from fengqiao.audit.tests.factories import make_user
from fengqiao.core import notify as core_notify
from fengqiao.core.notify import DeliveryResult, LoggingChannel
from fengqiao.notifications import services
from fengqiao.notifications.models import Notification
from fengqiao.notifications.selectors import unread_count

pytestmark = pytest.mark.django_db


class Failing:
    name = "sms"

    def send(self, *args: Any, **kwargs: Any) -> DeliveryResult:
        return DeliveryResult.failed(self.name, "HTTP 503")


class Raising:
    name = "wecom"

    def send(self, *args: Any, **kwargs: Any) -> DeliveryResult:
        raise RuntimeError("gateway bug")


@pytest.fixture(autouse=True)
def _fresh_channels():
    core_notify._load.cache_clear()
    with translation.override("en"):
        yield
    core_notify._load.cache_clear()


def test_notify_stores_one_row_per_active_user_and_delivers_after_commit(
    django_capture_on_commit_callbacks, caplog
) -> None:
    alice, bob = make_user(username="alice"), make_user(username="bob")
    gone = make_user(username="gone", is_active=False)
    with caplog.at_level(logging.INFO, logger="fengqiao.notify"), django_capture_on_commit_callbacks() as callbacks:
        created = services.notify([alice, bob.pk, gone, None, alice], "case.assigned", "Case C1", "text", url="/c/1/")
        assert {n.recipient_id for n in created} == {alice.pk, bob.pk}
        assert not Notification.objects.filter(delivered=True).exists()  # nothing sent before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    rows = Notification.objects.order_by("recipient__username")
    assert [(n.recipient.username, n.delivered, n.channel, n.error) for n in rows] == [
        ("alice", True, "log", ""),
        ("bob", True, "log", ""),
    ]
    assert all(n.attempted_at is not None for n in rows)
    assert caplog.text.count("case.assigned") == 2


def test_dedupe_key_means_once_per_person(django_capture_on_commit_callbacks) -> None:
    alice, bob = make_user(username="alice"), make_user(username="bob")
    with django_capture_on_commit_callbacks(execute=True):
        first = services.notify([alice], "case.remind", "50%", "", dedupe_key="case:1:remind:0.5")
        again = services.notify([alice, bob], "case.remind", "50%", "", dedupe_key="case:1:remind:0.5")
    assert len(first) == 1 and [n.recipient_id for n in again] == [bob.pk]
    assert Notification.objects.filter(dedupe_key="case:1:remind:0.5").count() == 2
    # without a key, every call notifies
    services.notify([alice], "k", "s", "")
    services.notify([alice], "k", "s", "")
    assert Notification.objects.filter(recipient=alice, dedupe_key__isnull=True).count() == 2


def test_delivery_is_claimed_once(django_capture_on_commit_callbacks) -> None:
    alice = make_user(username="alice")
    with django_capture_on_commit_callbacks(execute=False):
        created = services.notify([alice], "k", "s", "")
    pks = [n.pk for n in created]
    assert services.deliver_pending(pks) == 1
    assert services.deliver_pending(pks) == 0  # a second worker finds nothing left to send


def test_a_failing_channel_never_breaks_the_caller(django_capture_on_commit_callbacks) -> None:
    alice = make_user(username="alice")
    with override_settings(
        FENGQIAO_NOTIFY_CHANNELS=[
            "fengqiao.notifications.tests.test_notifications.Failing",
            "fengqiao.notifications.tests.test_notifications.Raising",
            "fengqiao.core.notify.LoggingChannel",
        ]
    ):
        core_notify._load.cache_clear()
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            services.notify([alice], "k", "Subject", "")
            make_user(username="written-in-the-same-transaction")
    n = Notification.objects.get()
    assert n.delivered and n.channel == "log"
    assert "sms: HTTP 503" in n.error and "wecom: RuntimeError: gateway bug" in n.error
    assert Notification.objects.filter(recipient__username="alice").exists()


def test_rolled_back_caller_sends_nothing(django_capture_on_commit_callbacks) -> None:
    alice = make_user(username="alice")
    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                services.notify([alice], "k", "s", "")
                raise ValueError("the caller failed")
        except ValueError:
            pass
    assert callbacks == [] and not Notification.objects.exists()


def test_notify_many(django_capture_on_commit_callbacks) -> None:
    alice, bob = make_user(username="alice"), make_user(username="bob")
    items = [
        (alice, "case.remind", "C1 50%", "", "/cases/C1/", "case:1:remind:0.5"),
        (bob.pk, "case.remind", "C2 50%", "", "/cases/C2/", "case:2:remind:0.5"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notify_many(items) == 2
        assert services.notify_many(items) == 0
    assert Notification.objects.filter(delivered=True).count() == 2


def test_logging_channel_direct() -> None:
    assert LoggingChannel().send(core_notify.Recipient(1, "x"), "s", "b", kind="k", url="") == DeliveryResult(
        channel="log", ok=True
    )


# --- pages ---------------------------------------------------------------------------------------


def _rows(response):
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_inbox_badge_open_and_read(django_capture_on_commit_callbacks) -> None:
    alice, bob = make_user(username="alice"), make_user(username="bob")
    with django_capture_on_commit_callbacks(execute=True):
        services.notify([alice], "case.assigned", "Case C1 was assigned to you", "Please handle", url="/cases/C1/")
        services.notify([alice], "x", "External link", "", url="https://evil.example/")
        services.notify([bob], "x", "Bob's own", "")
    client = _client(alice)
    html = client.get(reverse("notifications:inbox")).content.decode()
    assert "Case C1 was assigned to you" in html and "Bob&#x27;s own" not in html and "Bob's own" not in html
    badge = client.get(reverse("notifications:badge"), HTTP_HX_REQUEST="true").content.decode()
    assert ">2<" in badge and "<html" not in badge
    mine = Notification.objects.get(subject="Case C1 was assigned to you")
    response = client.get(reverse("notifications:open", args=[mine.pk]))
    assert response.status_code == 302 and response["Location"] == "/cases/C1/"
    assert unread_count(alice) == 1
    evil = Notification.objects.get(subject="External link")
    response = client.get(reverse("notifications:open", args=[evil.pk]))
    assert response["Location"] == reverse("notifications:inbox")  # never an open redirect
    theirs = Notification.objects.get(recipient=bob)
    assert client.get(reverse("notifications:open", args=[theirs.pk])).status_code == 404
    assert theirs.read_at is None
    unread = client.get(reverse("notifications:inbox"), {"show": "unread"}).content.decode()
    assert "No unread notifications." in unread
    assert client.post(reverse("notifications:read_all")).status_code == 302
    assert unread_count(alice) == 0 and unread_count(bob) == 1
    assert ">0<" not in client.get(reverse("notifications:badge")).content.decode()


def test_inbox_paging_and_export(django_capture_on_commit_callbacks) -> None:
    alice = make_user(username="alice")
    for i in range(30):
        services.notify([alice], "k", f"Message {i:02d}", "")
    client = _client(alice)
    page2 = client.get(reverse("notifications:inbox"), {"page": 2}, HTTP_HX_REQUEST="true").content.decode()
    assert "Page 2 of 2" in page2 and "<html" not in page2
    response = client.get(reverse("notifications:inbox"), {"format": "xlsx"})
    assert len(_rows(response)) == 31
    assert Client().get(reverse("notifications:inbox")).status_code == 302


def test_topbar_shows_the_notifications_link() -> None:
    alice = make_user(["workdays.view_calendarday"], username="alice")
    html = _client(alice).get(reverse("workdays:index"), follow=True).content.decode()
    assert reverse("notifications:badge") in html and 'hx-trigger="load, every 60s"' in html
