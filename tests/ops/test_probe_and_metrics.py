"""The operators' URLs (``django_bw_notifications.ops.urls``): the uptime probe, the
readiness probe and the Prometheus scrape, as a monitor and Prometheus call them."""

from __future__ import annotations

import base64
import sys
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from django_bw_notifications.models import Notification, RejectedDelivery
from tests.support import notification_xml, payload

pytestmark = pytest.mark.django_db


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by (name, sorted labels), parsed by prometheus_client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# --- the uptime probe ----------------------------------------------------------------


def test_the_probe_is_200_ok_when_healthy_without_any_credentials(
    client: Client, deliver: Any
) -> None:
    deliver(payload("01"))
    response = client.get(reverse("bw_notifications_ops:probe"))
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize("problem", ["silent", "stuck", "failed"])
def test_the_probe_is_503_for_each_problem_and_says_nothing_more(
    client: Client, deliver: Any, settings: Any, problem: str
) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": {}, "east-secret": {}}
    first = deliver(payload("01"))
    Notification.objects.filter(pk=first.pk).update(account="default")
    if problem != "silent":
        east = deliver(payload("06"))
        Notification.objects.filter(pk=east.pk).update(account="east-secret")
    if problem == "stuck":
        Notification.objects.filter(pk=first.pk).update(
            processing_state="pending", received_at=timezone.now() - timedelta(hours=1)
        )
    if problem == "failed":
        Notification.objects.filter(pk=first.pk).update(processing_state="failed")
    response = client.get(reverse("bw_notifications_ops:probe"))
    assert response.status_code == 503
    assert response.content == b"unhealthy\n"  # no account name, no count


def test_failed_receivers_are_a_problem_from_the_threshold_on(
    client: Client, deliver: Any, settings: Any
) -> None:
    rows = [deliver(notification_xml(order_id=f"f-{i}")) for i in range(2)]
    Notification.objects.filter(pk__in=[r.pk for r in rows]).update(processing_state="failed")
    probe = reverse("bw_notifications_ops:probe")
    settings.BW_NOTIFICATIONS_FAILED_ALERT_AT = 3
    assert client.get(probe).status_code == 200
    settings.BW_NOTIFICATIONS_FAILED_ALERT_AT = 2
    assert client.get(probe).status_code == 503
    settings.BW_NOTIFICATIONS_FAILED_ALERT_AT = None
    assert client.get(probe).status_code == 200


def test_the_probe_answers_head_refuses_post_and_costs_indexed_queries_only(
    client: Client, deliver: Any, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": {}, "east": {}, "west": {}}
    deliver(payload("01"))
    probe = reverse("bw_notifications_ops:probe")
    assert client.head(probe).status_code == 503  # east and west have heard nothing
    assert client.post(probe).status_code == 405
    with CaptureQueriesContext(connection) as queries:
        client.get(probe)
    reads = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # One per account's last delivery (two for default: its rows may carry ""), one each
    # for stuck and failed; besides those, only the bounded transaction's own statements.
    assert len([sql for sql in reads if "bw_notifications_notification" in sql]) == 4 + 2
    # The rest is the bounded transaction's own: SAVEPOINT and RELEASE (in a test's
    # transaction; BEGIN and COMMIT otherwise), and on PostgreSQL its statement_timeout
    # set and, nested, reset.
    assert len(queries) - (4 + 2) <= 4


def test_a_probe_that_cannot_read_the_database_is_503_not_500(client: Client, deliver: Any) -> None:
    deliver(payload("01"))
    with mock.patch(
        "django_bw_notifications.ops.views.check_health", side_effect=OperationalError("down")
    ):
        response = client.get(reverse("bw_notifications_ops:probe"))
    assert (response.status_code, response.content) == (503, b"unhealthy\n")


def test_the_probe_reuses_its_answer_for_probe_cache_seconds(
    client: Client, deliver: Any, settings: Any
) -> None:
    from django_bw_notifications.ops import views

    row = deliver(payload("01"))
    settings.BW_NOTIFICATIONS_PROBE_CACHE = 60
    probe = reverse("bw_notifications_ops:probe")
    views._last_probe = None  # an earlier test's answer
    try:
        assert client.get(probe).status_code == 200
        Notification.objects.filter(pk=row.pk).update(processing_state="failed")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(probe).status_code == 200  # cached: not looked at again
        assert len(queries) == 0
        settings.BW_NOTIFICATIONS_PROBE_CACHE = 0
        assert client.get(probe).status_code == 503
    finally:
        views._last_probe = None


def test_the_probes_and_the_scrape_pass_login_required_middleware(
    client: Client, settings: Any, deliver: Any
) -> None:
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    settings.BW_NOTIFICATIONS_METRICS_BASIC_AUTH = [("prometheus", "scrape-secret")]
    deliver(payload("01"))
    assert client.get(reverse("bw_notifications_ops:probe")).status_code == 200
    assert client.get(reverse("bw_notifications_ops:ready")).status_code == 200
    scrape = client.get(
        reverse("bw_notifications_ops:metrics"),
        HTTP_AUTHORIZATION=_basic("prometheus", "scrape-secret"),
    )
    assert scrape.status_code == 200


# --- the readiness probe -------------------------------------------------------------


def test_ready_is_200_while_the_database_answers_even_when_unhealthy(client: Client) -> None:
    # Nothing received yet: the uptime probe is red, but deliveries can be taken.
    assert client.get(reverse("bw_notifications_ops:probe")).status_code == 503
    response = client.get(reverse("bw_notifications_ops:ready"))
    assert (response.status_code, response.content) == (200, b"ok\n")


def test_ready_without_a_database_depends_on_the_spool(
    client: Client, settings: Any, tmp_path: Any
) -> None:
    ready = reverse("bw_notifications_ops:ready")
    broken = mock.patch.object(connection, "cursor", side_effect=OperationalError("down"))
    with broken:
        assert client.get(ready).status_code == 503
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path / "spool")
    with broken:
        assert client.get(ready).status_code == 200
    (tmp_path / "file").write_text("")
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path / "file" / "spool")  # not a directory
    with broken:
        assert client.get(ready).status_code == 503


# --- the Prometheus scrape -----------------------------------------------------------


def test_metrics_need_the_api_read_permission_by_default(client: Client) -> None:
    metrics = reverse("bw_notifications_ops:metrics")
    assert client.get(metrics).status_code == 403
    assert client.get(metrics, HTTP_AUTHORIZATION=_basic("bw", "x")).status_code in (401, 403)


def test_metrics_describe_the_tables_as_they_are(
    admin_client: Client, deliver: Any, settings: Any, post: Any
) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": {}, "east": {}}
    for name in ("01", "02", "06", "18", "21"):
        deliver(payload(name))
    failed = deliver(notification_xml(order_type="portins", status="FOC", order_id="p-9"))
    Notification.objects.filter(pk=failed.pk).update(processing_state="failed")
    Notification.objects.filter(order_type="portouts").update(account="east")
    Notification.objects.filter(pk=failed.pk).update(source="reconciled")
    assert post(b"<not xml").status_code == 400
    response = admin_client.get(reverse("bw_notifications_ops:metrics"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.content.decode())

    stored = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "bw_notifications_notifications"
    }
    assert sum(stored.values()) == Notification.objects.count() == 6
    portouts = dict(next(labels for labels in stored if ("order_type", "portouts") in labels))
    assert (portouts["account"], portouts["state"], portouts["source"]) == (
        "east",
        "processed",
        "delivery",
    )
    assert samples[("bw_notifications_failed_notifications", ())] == 1
    assert samples[("bw_notifications_pending_notifications", ())] == 0
    assert samples[("bw_notifications_stuck_notifications", ())] == 0
    assert samples[("bw_notifications_reconciled_notifications", (("account", "default"),))] == 1
    assert samples[("bw_notifications_healthy", ())] == 0  # one failed
    assert samples[("bw_notifications_account_silent", (("account", "east"),))] == 0
    age = samples[("bw_notifications_seconds_since_last_delivery", (("account", "east"),))]
    assert 0 <= age < 60
    refused = (("reason", "unparseable"), ("status_code", "400"))
    assert samples[("bw_notifications_refused_deliveries", refused)] == 1
    assert RejectedDelivery.objects.count() == 1
    # The order book and the inventory: 01 put numbers in service, 18 ported one out.
    orders = sum(v for (n, _), v in samples.items() if n == "bw_notifications_orders")
    from django_bw_notifications.models import AccountNumber, Order

    assert orders == Order.objects.count() > 0
    numbers = {
        dict(labels)["state"]: v
        for (n, labels), v in samples.items()
        if n == "bw_notifications_numbers" and dict(labels)["account"] == "default"
    }
    assert (
        numbers["in_service"]
        == AccountNumber.objects.filter(account="default", state="in_service").count()
    )
    lost = samples[("bw_notifications_numbers_messaging_lost", (("account", "default"),))]
    assert lost == AccountNumber.objects.filter(messaging_lost=True).count() == 2


def test_a_scrape_costs_the_same_queries_at_any_size(admin_client: Client, deliver: Any) -> None:
    metrics = reverse("bw_notifications_ops:metrics")
    deliver(payload("01"))
    with CaptureQueriesContext(connection) as small:
        admin_client.get(metrics)
    for i in range(15):
        deliver(
            notification_xml(
                order_type=("orders", "portins", "disconnects")[i % 3], order_id=f"m-{i}"
            )
        )
    with CaptureQueriesContext(connection) as large:
        admin_client.get(metrics)
    assert len(large) == len(small)


def test_metrics_with_their_own_basic_auth_challenge_and_accept_only_that(
    client: Client, admin_client: Client, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_METRICS_BASIC_AUTH = [("prometheus", "scrape-secret")]
    metrics = reverse("bw_notifications_ops:metrics")
    anonymous = client.get(metrics)
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Basic realm=")
    assert client.get(metrics, HTTP_AUTHORIZATION=_basic("prometheus", "no")).status_code == 401
    assert admin_client.get(metrics).status_code == 401  # a session is not the pair
    good = client.get(
        metrics,
        HTTP_AUTHORIZATION=_basic("prometheus", "scrape-secret"),
        HTTP_ACCEPT="application/openmetrics-text; version=1.0.0,text/plain;q=0.5",
    )
    assert good.status_code == 200
    assert good["Content-Type"].startswith("application/openmetrics-text")
    assert good.content.endswith(b"# EOF\n")


def test_a_scrape_without_prometheus_client_says_what_to_install(
    admin_client: Client, monkeypatch: Any
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client.exposition", None)
    response = admin_client.get(reverse("bw_notifications_ops:metrics"))
    assert response.status_code == 501
    assert b"django-bw-notifications[metrics]" in response.content


def test_a_scrape_that_cannot_read_the_database_is_503(admin_client: Client) -> None:
    with mock.patch(
        "django_bw_notifications.ops.metrics.check_health", side_effect=OperationalError("down")
    ):
        response = admin_client.get(reverse("bw_notifications_ops:metrics"))
    assert response.status_code == 503


def test_an_unhealthy_probe_is_not_an_error_for_django_request(client: Client, caplog: Any) -> None:
    # django.request's ERROR records mail ADMINS: a monitor polling a red probe must not.
    for name in ("probe", "ready"):
        with mock.patch.object(connection, "cursor", side_effect=OperationalError("down")):
            assert client.get(reverse(f"bw_notifications_ops:{name}")).status_code == 503
    assert not [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.parametrize(
    ("url_name", "answer"),
    [
        ("bw_notifications_ops:metrics", b"the database cannot be read\n"),
        (
            "bw_notifications_api:health",
            b'{"detail":"The database did not answer within the time budget."}',
        ),
    ],
)
def test_a_view_whose_authentication_cannot_read_the_database_is_503(
    client: Client, caplog: Any, url_name: str, answer: bytes
) -> None:
    # DRF reads the user before the view runs: that read is in the budget, and its
    # failure an honest 503 that does not mail ADMINS through django.request.
    with mock.patch(
        "rest_framework.authentication.SessionAuthentication.authenticate",
        side_effect=OperationalError("down"),
    ):
        response = client.get(reverse(url_name))
    assert (response.status_code, response.content) == (503, answer)
    assert not [r for r in caplog.records if r.name == "django.request"]


# --- one outage told once; wrong thresholds; the default account's two names --------


def test_a_probe_outage_is_told_once_at_warning_and_its_end_once(
    client: Client, deliver: Any, caplog: Any
) -> None:
    from django_bw_notifications.ops import views

    deliver(payload("01"))
    probe = reverse("bw_notifications_ops:probe")
    views._probe_outage.since = None  # an earlier test's outage
    caplog.set_level("INFO", logger="django_bw_notifications.ops.views")
    with mock.patch(
        "django_bw_notifications.ops.views.check_health", side_effect=OperationalError("down")
    ):
        for _ in range(5):  # a monitor polling through the outage
            assert client.get(probe).status_code == 503
    assert client.get(probe).status_code == 200
    told = [r for r in caplog.records if r.name == "django_bw_notifications.ops.views"]
    assert [(r.levelname, r.getMessage().split(" (")[0]) for r in told] == [
        ("WARNING", "The uptime probe cannot read the health"),
        ("INFO", "The uptime probe reads the health again, after 0 s"),
    ]
    assert not told[0].exc_info  # an expected database error: no traceback


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SILENT_AFTER", "1d"),
        ("SILENT_AFTER", 0),
        ("SILENT_AFTER", 2**63 - 1),  # sys.maxsize as "never" overflows a date
        ("STUCK_AFTER", -5),
        ("STUCK_AFTER", None),
    ],
)
def test_a_wrong_health_threshold_is_503_with_its_reason_never_500(
    client: Client, admin_client: Client, deliver: Any, settings: Any, name: str, value: Any
) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    deliver(payload("01"))
    setattr(settings, f"BW_NOTIFICATIONS_{name}", value)
    assert client.get(reverse("bw_notifications_ops:probe")).status_code == 503
    scrape = admin_client.get(reverse("bw_notifications_ops:metrics"))
    assert scrape.status_code == 503
    assert f"BW_NOTIFICATIONS_{name} must be a number of seconds above 0" in scrape.content.decode()
    api = admin_client.get(reverse("bw_notifications_api:health"))
    assert api.status_code == 503
    assert f"BW_NOTIFICATIONS_{name}" in api.json()["detail"]
    banner = admin_client.get(reverse("admin:bw_notifications_notification_changelist"))
    assert banner.status_code == 200
    assert "Health cannot be told" in banner.content.decode()
    with pytest.raises(CommandError, match=f"BW_NOTIFICATIONS_{name} must be"):
        call_command("bw_notifications_health", "--no-alerts")


def test_the_default_account_is_not_silent_while_its_plain_endpoint_receives(
    client: Client, admin_client: Client, deliver: Any, settings: Any
) -> None:
    from django_bw_notifications.ops.health import check_health

    # Rows the plain endpoint stored before accounts were configured carry "": they are
    # the default account's, as reconcile and the inventory say.
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": {}}
    row = deliver(payload("01"))
    Notification.objects.filter(pk=row.pk).update(account="")
    health = check_health()
    assert [(e.account, e.silent) for e in health.endpoints] == [("default", False)]
    assert health.ok
    assert client.get(reverse("bw_notifications_ops:probe")).status_code == 200
    samples = _samples(admin_client.get(reverse("bw_notifications_ops:metrics")).content.decode())
    accounts = {
        dict(labels)["account"]
        for (name, labels), _ in samples.items()
        if name in ("bw_notifications_notifications", "bw_notifications_numbers")
    }
    assert accounts == {"default"}  # "" and "default" are one series, summed


def test_metrics_label_order_types_the_catalog_does_not_know_other(
    admin_client: Client, deliver: Any
) -> None:
    deliver(payload("01"))
    for i in range(3):
        row = deliver(notification_xml(order_id=f"odd-{i}"))
        Notification.objects.filter(pk=row.pk).update(order_type=f"madeup{i}")
    samples = _samples(admin_client.get(reverse("bw_notifications_ops:metrics")).content.decode())
    types = {
        dict(labels)["order_type"]: value
        for (name, labels), value in samples.items()
        if name == "bw_notifications_notifications"
    }
    assert types == {"orders": 1, "other": 3}
