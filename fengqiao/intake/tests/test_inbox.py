"""The write-behind inbox: one row per report in the request, cases made by the drain in batches."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone

from fengqiao.audit.models import AuditEvent
from fengqiao.cases import services as case_services
from fengqiao.cases.forms import ActionForm
from fengqiao.cases.models import Attachment, Case, CaseEvent, Category, Channel, DutyAlert
from fengqiao.cases.workflow import CASE_WORKFLOW
from fengqiao.intake import selectors, services
from fengqiao.intake.models import Submission, SubmissionStatus
from fengqiao.notifications.models import Notification
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import GridAssignment, GridRole, Unit, UnitKind

from .factories import COMMUNITY, _region, category, find, form_key, photo, report_data, square, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_kick(monkeypatch):
    """Leave received reports in the inbox (as with a real worker that has not run yet)."""
    monkeypatch.setattr(services, "kick_drain", lambda: None)


def receive(where: Any, **changes: Any) -> Submission:
    values: dict[str, Any] = {
        "community": where.community,
        "category": category("environment"),
        "description": "楼道里堆满了杂物，影响通行",
        "idempotency_key": f"key-{timezone.now().timestamp()}-{len(changes)}-{id(changes)}",
        "address": "3栋2单元楼道",
        "reporter_name": "李小梅",
        "reporter_phone": "13800138000",
    }
    values.update(changes)
    return services.receive_report(**values)


def post(client: Client, data: dict[str, Any]) -> Any:
    return client.post(f"/r/{COMMUNITY}/", data)


def stored_files() -> set[str]:
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.MEDIA_ROOT) / "intake"
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


# --- receiving: one row, nothing else -----------------------------------------------------------


def test_a_report_is_one_inbox_row_with_the_private_token(where, no_kick):
    client = Client()
    response = post(client, report_data(form_key(client), lng="113.815", lat="22.405", photos=[photo("a.jpg")]))
    assert response.status_code == 302
    row = Submission.objects.get()
    assert response["Location"] == f"/r/t/{row.public_token}/sent/"
    assert not Case.objects.exists() and not CaseEvent.objects.exists() and not DutyAlert.objects.exists()
    assert row.status == SubmissionStatus.PENDING and row.channel == Channel.QR
    assert row.community == where.community and row.region_path == where.community.path
    assert row.payload["description"] == "楼道里堆满了杂物，影响通行"
    assert row.payload["lng"] == 113.815 and row.payload["address"] == "3栋2单元楼道"
    # personal data is encrypted in the inbox too
    assert row.reporter_phone_masked == "138****8000"
    assert "13800138000" not in str(Submission.objects.values_list("reporter_phone", flat=True).get())
    [stored] = row.payload["photos"]
    assert stored["content_type"] == "image/jpeg" and stored["name"] == "a.jpg"
    assert default_storage.exists(stored["path"])


def test_the_request_makes_few_queries(where, no_kick, django_assert_max_num_queries):
    client = Client()
    data = report_data(form_key(client))
    # the community, its categories, the insert (and the session/parameter reads): no routing, no case
    with django_assert_max_num_queries(3):
        assert post(client, data).status_code == 302


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"description": "长" * 4001}, "description", "too long"),
        ({"description": "  "}, "description", "Describe the problem"),
        ({"reporter_phone": "12345"}, "reporter_phone", "not a valid phone number"),
        ({"lng": 200.0, "lat": 22.4}, "location", "not a valid longitude"),
        ({"lng": 113.8}, "location", "both longitude and latitude"),
        ({"extra": {}, "category": "neighbour"}, "extra_issue", "is required"),
        ({"extra": {"issue": "fireworks"}, "category": "neighbour"}, "extra_issue", "Choose a value"),
        ({"files": ["bad"]}, "files", "is not a photo we can read"),
        ({"files": ["big"]}, "files", "is too large"),
    ],
)
def test_the_service_refuses_bad_input_and_writes_nothing(where, no_kick, changes, field, message):
    from fengqiao.system.models import Parameter

    Parameter.objects.create(key="intake.max_photo_mb", name="max", value_type="integer", value=1)
    changes = dict(changes)
    if "category" in changes:
        changes["category"] = category(changes["category"])
    if "files" in changes:
        kinds = {
            "bad": SimpleUploadedFile("evil.jpg", b"MZ\x90 not a photo", content_type="image/jpeg"),
            "big": SimpleUploadedFile("big.jpg", b"\xff" * (1024 * 1024 + 10), content_type="image/jpeg"),
        }
        changes["files"] = [photo("good.jpg"), kinds[changes["files"][0]]]
    before = stored_files()
    with pytest.raises(ValidationError) as exc:
        receive(where, **changes)
    assert message in " ".join(exc.value.message_dict[field])
    assert not Submission.objects.exists() and not Case.objects.exists()
    assert stored_files() == before


def test_an_inactive_or_foreign_category_is_refused_up_front(where, no_kick):
    hazard = category("hazard")
    hazard.is_active = False
    hazard.save()
    with pytest.raises(ValidationError) as exc:
        receive(where, category=hazard)
    assert "no longer in use" in exc.value.message_dict["category"][0]
    other = Region.objects.create(code="440398000000", name="别区", level=Level.COUNTY, path="440398")
    foreign = Category.objects.create(code="foreign", name="别区事项", district=other)
    with pytest.raises(ValidationError) as exc:
        receive(where, category=foreign)
    assert "not used in this district" in exc.value.message_dict["category"][0]
    with pytest.raises(ValidationError) as exc:
        receive(where, community=where.street)
    assert "community" in exc.value.message_dict
    assert not Submission.objects.exists()


def test_a_wrong_photo_is_refused_in_the_form_and_the_rest_kept(where, no_kick):
    client = Client()
    fake = SimpleUploadedFile("evil.jpg", b"MZ\x90\x00 not a photo at all", content_type="image/jpeg")
    response = post(client, report_data(form_key(client), photos=[photo("ok.jpg"), fake]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not a photo we can read" in html
    assert "楼道里堆满了杂物，影响通行" in html and "3栋2单元楼道" in html and "13800138000" in html
    assert not Submission.objects.exists() and not Case.objects.exists()


def test_a_bad_form_keeps_the_typed_values_and_writes_nothing(where, no_kick):
    client = Client()
    response = post(client, report_data(form_key(client), reporter_phone="12345"))
    html = response.content.decode()
    assert "is not a valid phone number" in html
    assert "楼道里堆满了杂物，影响通行" in html and "李小梅" in html
    assert not Submission.objects.exists()


def test_resubmitting_the_form_gives_one_row_and_one_case(where):
    client = Client()
    data = report_data(form_key(client), photos=[photo("a.jpg")])
    first = post(client, data)
    before = stored_files()
    again = post(
        client,
        report_data(data["idempotency_key"], description="edited after pressing back", photos=[photo("b.jpg")]),
    )
    assert stored_files() == before  # the replay's photo was not kept
    row = Submission.objects.get()
    case = Case.objects.get()
    assert first["Location"] == f"/r/t/{row.public_token}/sent/"
    assert again["Location"] == f"/r/t/{row.public_token}/sent/?again=1"
    assert case.public_token == row.public_token and case.description == "楼道里堆满了杂物，影响通行"
    assert case.attachments.count() == 1
    assert "it was not sent twice" in client.get(again["Location"]).content.decode()


def test_the_service_returns_the_first_row_for_a_repeated_key(where, no_kick):
    first = receive(where, idempotency_key="k" * 32)
    second = receive(where, idempotency_key="k" * 32, description="another text entirely")
    assert second.pk == first.pk and second.replayed and not first.replayed
    assert Submission.objects.count() == 1
    with pytest.raises(ValidationError):
        receive(where, idempotency_key="short")


# --- the tracking page before and after ----------------------------------------------------------


def test_tracking_page_says_received_until_the_case_exists(where, no_kick):
    client = Client()
    response = post(client, report_data(form_key(client)))
    row = Submission.objects.get()
    for url in (response["Location"], f"/r/t/{row.public_token}/"):
        page = client.get(url)
        html = page.content.decode()
        assert page.status_code == 200 and page["Cache-Control"] == "no-store"
        assert "Received — being registered" in html
        assert 'http-equiv="refresh"' in html
        assert f"http://testserver/r/t/{row.public_token}/" in html
        assert 'id="tracking-number"' not in html
    # a resident action on a report still in the inbox: told to wait, nothing written
    response = client.post(f"/r/t/{row.public_token}/", {"action": "add_info", "note": "补充"})
    assert response.status_code == 302 and not CaseEvent.objects.exists()

    services.drain_inbox()
    case = Case.objects.get()
    assert case.public_token == row.public_token
    html = client.get(f"/r/t/{row.public_token}/").content.decode()
    assert case.number in html and "Received — being registered" not in html
    html = client.get(f"/r/t/{row.public_token}/sent/").content.decode()
    assert f'<p class="tracking-number" id="tracking-number">{case.number}</p>' in html
    assert selectors.case_for_token(row.public_token) == case


def test_unknown_token_is_still_a_plain_404(where):
    assert Client().get("/r/t/" + "x" * 32 + "/").status_code == 404
    assert Client().get("/r/t/" + "x" * 32 + "/sent/").status_code == 404
    assert selectors.case_for_token("x" * 32) is None


# --- the drain ---------------------------------------------------------------------------------


def test_the_drain_registers_a_batch_through_the_intake_code_path(where, no_kick, django_capture_on_commit_callbacks):
    rows = [
        receive(where, lng=113.805, lat=22.405, files=[photo("a.jpg")]),  # grid 1
        receive(where, lng=113.815, lat=22.405),  # grid 2
        receive(where, anonymous=True),  # no point: the community
    ]
    with django_capture_on_commit_callbacks(execute=True):
        result = services.drain_inbox(batch_size=2)
    assert (result.created, result.failed, result.batches) == (3, 0, 2)
    for row in rows:
        row.refresh_from_db()
        assert row.status == SubmissionStatus.DONE and row.case is not None and row.attempts == 1
        case = row.case
        assert case.public_token == row.public_token
        assert case.received_at == row.received_at and case.clock_started_at == row.received_at
        assert case.number.startswith(f"{timezone.localtime(row.received_at):%Y%m%d}")
        assert case.idempotency_key == row.idempotency_key and case.channel == Channel.QR
        assert case.triage_unit == where.centre and case.unit == where.centre
        assert list(case.events.values_list("action", flat=True)) == ["submit"]
        assert DutyAlert.objects.filter(case=case, kind=DutyAlert.Kind.NEW_CASE).exists()
        assert AuditEvent.objects.filter(action="cases.submit", object_id=str(case.pk)).exists()
    cases = [Case.objects.get(public_token=r.public_token) for r in rows]
    assert [c.grid for c in cases] == [where.grids[0], where.grids[1], None]
    assert all(c.community == where.community for c in cases)
    first = cases[0]
    assert first.reporter_phone_masked == "138****8000" and first.reporter_name_masked
    assert cases[2].anonymous and cases[2].reporter_phone_masked == ""
    attachment = Attachment.objects.get(case=first)
    assert attachment.uploaded_by_resident and attachment.original_name == "a.jpg"
    assert attachment.file.name.startswith("cases/") and default_storage.exists(attachment.file.name)
    assert not default_storage.exists(rows[0].payload["photos"][0]["path"])  # the inbox copy is gone
    # idempotent: a second drain finds nothing to do
    assert services.drain_inbox().as_dict() == {"created": 0, "linked": 0, "failed": 0, "batches": 0}
    assert Case.objects.count() == 3


def test_claim_takes_only_pending_rows_oldest_first(where, no_kick):
    rows = [receive(where) for _ in range(3)]
    Submission.objects.filter(pk=rows[0].pk).update(status=SubmissionStatus.FAILED)
    claimed = services.claim_batch(10)
    assert [r.pk for r in claimed] == [rows[1].pk, rows[2].pk]
    assert [r.pk for r in services.claim_batch(1)] == [rows[1].pk]


@pytest.mark.django_db(transaction=True)
def test_claim_skips_rows_another_drain_holds(where, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks (SKIP LOCKED) need PostgreSQL; SQLite runs one writer at a time")
    from django.db import transaction

    monkeypatch.setattr(services, "kick_drain", lambda: None)
    rows = [receive(where) for _ in range(4)]
    held, release = threading.Event(), threading.Event()
    theirs: list[int] = []

    def other_drain() -> None:
        try:
            with transaction.atomic():
                theirs.extend(r.pk for r in services.claim_batch(2))
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_drain)
    thread.start()
    assert held.wait(10)
    with transaction.atomic():
        mine = [r.pk for r in services.claim_batch(10)]
    release.set()
    thread.join()
    assert theirs == [rows[0].pk, rows[1].pk]
    assert mine == [rows[2].pk, rows[3].pk]


def test_a_row_whose_case_exists_is_linked_not_duplicated(where, no_kick):
    row = receive(where)
    existing = case_services.submit_case(
        category=category("environment"),
        description="登记过的报告",
        channel=Channel.QR,
        community=where.community,
        idempotency_key=row.idempotency_key,
    )
    result = services.drain_inbox()
    assert (result.created, result.linked) == (0, 1)
    row.refresh_from_db()
    assert row.case == existing and row.status == SubmissionStatus.DONE
    assert Case.objects.count() == 1
    # the resident's token leads to that case
    response = Client().get(f"/r/t/{row.public_token}/")
    assert response.status_code == 302 and response["Location"] == f"/r/t/{existing.public_token}/"


@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_do_not_double_create(where, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks (SKIP LOCKED) need PostgreSQL; SQLite runs one writer at a time")
    monkeypatch.setattr(services, "kick_drain", lambda: None)
    rows = [receive(where, lng=113.805, lat=22.405) for _ in range(40)]
    barrier = threading.Barrier(2)
    results: list[services.DrainResult] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(services.drain_inbox(batch_size=5))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.created for r in results) == len(rows)
    assert Case.objects.count() == len(rows)
    assert Submission.objects.filter(status=SubmissionStatus.DONE).count() == len(rows)
    assert len({c for r in results for c in r.case_ids}) == len(rows)


def test_a_row_that_cannot_become_a_case_fails_honestly(where, no_kick):
    """A community whose street and district have no governance centre: failed, told, retried."""
    street = _region("440399003000", "无中心街道", Level.STREET, where.county, square(113.9, 22.5, 0.1, 0.1))
    lonely = _region("440399003001", "无中心社区", Level.COMMUNITY, street)
    admin = staff("inbox_admin", ["intake.view_submission", "intake.change_submission"], scope="all")
    good = receive(where)
    bad = receive(where, community=lonely, address="某处")
    result = services.drain_inbox()
    assert (result.created, result.failed) == (1, 1)
    bad.refresh_from_db()
    good.refresh_from_db()
    assert good.status == SubmissionStatus.DONE
    assert bad.status == SubmissionStatus.FAILED and bad.case is None
    assert "No governance centre is set up for this place" in bad.error
    assert AuditEvent.objects.filter(action="intake.submission.fail", object_id=str(bad.pk)).exists()
    note = Notification.objects.get(recipient=admin, kind="intake.failed")
    assert "No governance centre" in note.body and note.url == "/r/inbox/"
    # the resident's page says so plainly, and a later drain leaves it alone
    html = Client().get(f"/r/t/{bad.public_token}/").content.decode()
    assert "could not be registered automatically" in html and "Nothing you wrote is lost" in html
    assert 'http-equiv="refresh"' not in html
    assert services.drain_inbox().failed == 0
    # the administrator sees it, fixes the cause and retries
    client = Client()
    client.force_login(admin)
    page = client.get("/r/inbox/").content.decode()
    assert "No governance centre is set up" in page and "某处" not in page
    Unit.objects.create(code="U-440399003", name="无中心街道综治中心", kind=UnitKind.CENTRE, region=street)
    response = client.post(f"/r/inbox/{bad.pk}/retry/")
    assert response.status_code == 302
    bad.refresh_from_db()
    assert bad.status == SubmissionStatus.PENDING and bad.error == ""
    assert services.drain_inbox().created == 1
    bad.refresh_from_db()
    assert bad.status == SubmissionStatus.DONE and bad.case is not None and bad.attempts == 2
    assert bad.case.public_token == bad.public_token and bad.case.community == lonely
    assert AuditEvent.objects.filter(action="intake.submission.retry", actor=admin).exists()
    with pytest.raises(ValidationError):
        services.retry_submission(bad, actor=admin)


def test_the_inbox_page_needs_its_permission(where):
    client = Client()
    client.force_login(staff("nobody", []))
    assert client.get("/r/inbox/").status_code == 403
    viewer = staff("viewer", ["intake.view_submission"], scope="all")
    client.force_login(viewer)
    assert client.get("/r/inbox/").status_code == 200
    assert client.post("/r/inbox/1/retry/").status_code == 403


def test_kick_is_throttled_with_a_deferred_backend(where, monkeypatch):
    from django.core.cache import cache

    calls: list[int] = []
    monkeypatch.setattr(services, "_runs_immediately", lambda: False)
    from types import SimpleNamespace

    from fengqiao.intake import tasks

    monkeypatch.setattr(tasks, "drain_inbox", SimpleNamespace(enqueue=lambda: calls.append(1)))
    cache.delete(services._KICK_KEY)
    for _ in range(5):
        services.kick_drain()
    assert calls == [1]


# --- where the case lands (issue 5: the grid's worker sees it and is offered first) ---------------


def test_a_located_report_lands_in_its_grid_and_the_grid_worker_sees_it(where):
    worker = staff("gw_grid2", ["cases.view_case", "cases.handle_case"], unit=where.centre, scope="grids")
    other = staff("gw_grid1", ["cases.view_case", "cases.handle_case"], unit=where.centre, scope="grids")
    today = timezone.localdate()
    GridAssignment.objects.create(
        grid=where.grids[1], user=worker, role=GridRole.GRID_WORKER, region_path=where.grids[1].path, valid_from=today
    )
    GridAssignment.objects.create(
        grid=where.grids[0], user=other, role=GridRole.GRID_WORKER, region_path=where.grids[0].path, valid_from=today
    )
    client = Client()
    response = post(client, report_data(form_key(client), lng="113.815", lat="22.405"))
    token = find(r"/r/t/([^/]+)/sent/", response["Location"])
    case = Case.objects.get(public_token=token)
    assert case.grid == where.grids[1] and case.community == where.community
    assert case.region_path == where.grids[1].path
    from fengqiao.accounts.models import User

    worker, other = User.objects.get(pk=worker.pk), User.objects.get(pk=other.pk)  # fresh scope caches
    assert Case.objects.restrict(worker, "view").filter(pk=case.pk).exists()
    assert not Case.objects.restrict(other, "view").filter(pk=case.pk).exists()
    # the triage "assign" form offers the grid's worker first, already chosen
    officer = staff("zx_officer", ["cases.view_case", "cases.triage_case", "units.view_unit"], unit=where.centre)
    form = ActionForm(transition=CASE_WORKFLOW.get(case.state, "assign"), case=case, user=officer)
    assert worker in form.people["on_grid"]
    assert form.people["selected"] == str(worker.pk)
    html = Client()
    html.force_login(officer)
    page = html.get(f"/cases/{case.number}/").content.decode()
    assert re.search(rf'<option value="{worker.pk}" selected>', page)


def test_a_row_whose_category_was_removed_fails_with_the_reason(where, no_kick):
    row = receive(where, category=category("other"))
    with connection.cursor() as cursor:  # behind Django's back: the inbox has no database constraint
        cursor.execute("DELETE FROM cases_category WHERE id = %s", [row.category_id])
    result = services.drain_inbox()
    row.refresh_from_db()
    assert result.failed == 1 and row.status == SubmissionStatus.FAILED
    assert "category of the report no longer exists" in row.error


def test_batch_routing_matches_one_by_one_routing(where):
    """``place_cases`` (one vectorised look-up for the batch) routes exactly as ``place_case``."""
    street = _region("440399004000", "无中心街道二", Level.STREET, where.county)
    lonely = _region("440399004001", "无中心社区二", Level.COMMUNITY, street)
    env = category("environment")

    def data(**kw: Any) -> case_services.CaseInput:
        values: dict[str, Any] = {"category": env, "description": "楼道里堆满了杂物", "channel": Channel.QR}
        values.update(kw)
        return case_services.clean_case_input(**values)

    items = [
        data(community=where.community, lng=113.805, lat=22.405),  # grid 1
        data(community=where.community, lng=113.815, lat=22.405),  # grid 2
        data(community=where.community),  # no point
        data(community=where.other_community, lng=100.0, lat=10.0),  # point outside every grid
        data(lng=113.805, lat=22.405),  # a point only
        data(lng=100.0, lat=10.0),  # nowhere
        data(community=lonely),  # no centre anywhere above
    ]
    batch = case_services.place_cases(items)
    for item, got in zip(items, batch, strict=True):
        try:
            expected: Any = case_services.place_case(item)
        except ValidationError as exc:
            expected = exc
        if isinstance(expected, ValidationError):
            assert isinstance(got, ValidationError) and got.message_dict == expected.message_dict
        else:
            assert not isinstance(got, ValidationError)
            assert (got.grid, got.community, got.region_path, got.triage_unit) == (
                expected.grid,
                expected.community,
                expected.region_path,
                expected.triage_unit,
            )
    assert batch[3].triage_unit == where.other_centre  # type: ignore[union-attr]
