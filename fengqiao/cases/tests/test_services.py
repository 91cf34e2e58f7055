import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from fengqiao.audit.models import AuditEvent
from fengqiao.cases import services
from fengqiao.cases.models import Case, CaseEvent, CaseState, Category, DutyAlert
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import Unit


def photo(name="p.jpg", size=(40, 30), fmt="JPEG"):
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, fmt)
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/jpeg")


def grid_of(user):
    """A grid in the user's street (the first grid of its first community)."""
    street = Region.objects.get(pk=user.unit.region_id)
    return Region.objects.filter(level=Level.GRID, path__under=street.path).order_by("path").first()


def submit(category, grid, **kw):
    kw.setdefault("description", "楼道里堆满了杂物，影响通行")
    return services.submit_case(
        category=category,
        channel="qr",
        community=grid.parent,
        lng=grid.centroid_lng,
        lat=grid.centroid_lat,
        **kw,
    )


@pytest.mark.django_db
def test_submit_routes_to_grid_and_street_centre(users, category):
    grid = grid_of(users["street_centre_1"])
    case = submit(category, grid, reporter_phone="13800138000", files=[photo()])
    assert case.state == CaseState.SUBMITTED
    assert case.grid == grid and case.community == grid.parent
    assert case.region_path == grid.path
    assert case.triage_unit == users["street_centre_1"].unit
    assert case.number.startswith(case.received_at.astimezone().strftime("%Y%m%d"))
    assert case.first_response_due is not None and case.resolution_due is not None
    assert case.resolution_due > case.first_response_due
    assert case.reporter_phone_masked == "138****8000"
    assert case.attachments.count() == 1
    assert DutyAlert.objects.filter(case=case, kind="new_case").count() == 1
    assert CaseEvent.objects.filter(case=case, action="submit", public=True).exists()
    assert AuditEvent.objects.filter(action="cases.submit", object_id=str(case.pk)).exists()


@pytest.mark.django_db
def test_idempotency_key_creates_one_case(users, category):
    grid = grid_of(users["street_centre_1"])
    first = submit(category, grid, idempotency_key="k-123")
    again = submit(category, grid, idempotency_key="k-123")
    assert first.pk == again.pk
    assert Case.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"description": ""}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"reporter_phone": "12345"}, "reporter_phone"),
        ({"files": [SimpleUploadedFile("a.jpg", b"not an image")]}, "files"),
    ],
)
def test_bad_submissions_are_refused_and_store_nothing(users, category, kwargs, field):
    grid = grid_of(users["street_centre_1"])
    with pytest.raises(ValidationError) as err:
        submit(category, grid, **kwargs)
    assert field in err.value.message_dict
    assert Case.objects.count() == 0


@pytest.mark.django_db
def test_oversize_photo_is_refused(users, category, settings):

    grid = grid_of(users["street_centre_1"])
    big = photo(size=(3000, 3000), fmt="PNG")
    big.size = 11 * 1024 * 1024
    with pytest.raises(ValidationError) as err:
        submit(category, grid, files=[big])
    assert "too large" in str(err.value)
    assert Case.objects.count() == 0


@pytest.mark.django_db
def test_required_extra_field(users):
    grid = grid_of(users["street_centre_1"])
    hazard = Category.objects.get(code="hazard")
    with pytest.raises(ValidationError) as err:
        submit(hazard, grid)
    assert "extra_hazard_type" in err.value.message_dict
    case = submit(hazard, grid, extra={"hazard_type": "corridor"})
    assert case.extra == {"hazard_type": "corridor"}


@pytest.mark.django_db
def test_full_loop_assign_handle_review_close_rate(users, category):
    street = users["street_centre_1"]
    grid = grid_of(street)
    case = submit(category, grid)
    worker = services.grid_workers(case)[0]
    case = services.apply_action(case, "assign", actor=street, target_user=worker, expected_version=case.version)
    assert case.state == CaseState.ASSIGNED and case.assignee == worker
    assert case.first_responded_at is not None
    case = services.apply_action(case, "accept", actor=worker)
    assert case.state == CaseState.IN_PROGRESS
    case = services.apply_action(case, "report_findings", actor=worker, note="现场查看：楼道杂物较多")
    case = services.apply_action(case, "feedback", actor=worker, note="已清理完毕", files=[photo()])
    assert case.state == CaseState.REVIEW and case.resolved_at is not None
    case = services.apply_action(case, "rework", actor=street, reason="还有一处未清理")
    assert case.state == CaseState.IN_PROGRESS and case.resolved_at is None
    case = services.apply_action(case, "feedback", actor=worker, note="全部清理")
    case = services.apply_action(case, "pass_review", actor=street)
    assert case.state == CaseState.CLOSED and case.closed_at is not None
    case = services.resident_action(case.public_token, "rate", rating=5, note="很及时")
    assert case.rating == 5
    with pytest.raises(ValidationError):
        services.resident_action(case.public_token, "rate", rating=4)
    with pytest.raises(ValidationError):  # satisfied: no reopening
        services.resident_action(case.public_token, "reopen", reason="again")
    actions = list(case.events.values_list("action", flat=True))
    assert actions == [
        "submit",
        "assign",
        "accept",
        "report_findings",
        "feedback",
        "rework",
        "feedback",
        "pass_review",
        "rate",
    ]


@pytest.mark.django_db
def test_dissatisfied_resident_reopens(users, category):
    street = users["street_centre_1"]
    case = submit(category, grid_of(street))
    case = services.apply_action(case, "handle_here", actor=street)
    case = services.apply_action(case, "feedback", actor=street, note="done")
    case = services.apply_action(case, "pass_review", actor=street)
    case = services.resident_action(case.public_token, "rate", rating=1, note="没有解决")
    case = services.resident_action(case.public_token, "reopen", reason="杂物又堆回来了")
    assert case.state == CaseState.SUBMITTED and case.reopen_count == 1 and case.closed_at is None
    assert DutyAlert.objects.filter(case=case, kind="reopened").exists()


@pytest.mark.django_db
def test_escalation_needs_the_street_leader_then_district_dispatches(users, category):
    street, leader, district = users["street_centre_1"], users["street_leader_1"], users["district_centre"]
    case = submit(category, grid_of(street))
    case = services.apply_action(case, "escalate", actor=street, reason="涉及多个部门")
    assert case.state == CaseState.ESCALATION_PENDING
    with pytest.raises(PermissionDenied):  # the centre cannot approve its own escalation
        services.apply_action(case, "approve_escalation", actor=street)
    case = services.apply_action(case, "approve_escalation", actor=leader)
    assert case.state == CaseState.DISTRICT_TRIAGE
    assert case.unit == district.unit
    housing = users["dept_housing"].unit
    case = services.apply_action(case, "dispatch", actor=district, target_unit=housing)
    assert case.state == CaseState.ASSIGNED and case.unit == housing
    handler = users["dept_housing"]
    case = services.apply_action(case, "accept", actor=handler)
    assert case.assignee == handler
    case = services.apply_action(case, "feedback", actor=handler, note="已处理")
    case = services.apply_action(case, "pass_review", actor=district)
    assert case.state == CaseState.CLOSED


@pytest.mark.django_db
def test_reject_needs_reason_and_guidance(users, category):
    street = users["street_centre_1"]
    case = submit(category, grid_of(street))
    with pytest.raises(ValidationError) as err:
        services.apply_action(case, "reject", actor=street, reason="不属于受理范围")
    assert "guidance" in err.value.message_dict
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED and case.version == 1
    case = services.apply_action(
        case, "reject", actor=street, reason="属于法院管辖", guidance="请向区人民法院立案庭咨询"
    )
    assert case.state == CaseState.REJECTED
    event = case.events.get(action="reject")
    assert event.public and event.data["guidance"] == "请向区人民法院立案庭咨询"


@pytest.mark.django_db
def test_two_staff_at_once_one_wins(users, category):
    street = users["street_centre_1"]
    case = submit(category, grid_of(street))
    seen = case.version
    services.apply_action(case.pk, "handle_here", actor=street, expected_version=seen)
    with pytest.raises(services.ConcurrentUpdate):
        services.apply_action(case.pk, "reject", actor=street, expected_version=seen, reason="r", guidance="g")
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS
    assert case.events.count() == 2


@pytest.mark.django_db
def test_out_of_scope_staff_cannot_act(users, category):
    case = submit(category, grid_of(users["street_centre_1"]))
    with pytest.raises(PermissionDenied):
        services.apply_action(case, "handle_here", actor=users["street_centre_2"])
    assert Case.objects.get(pk=case.pk).state == CaseState.SUBMITTED


@pytest.mark.django_db
def test_suspension_stops_the_clock(users, category, monkeypatch):
    street = users["street_centre_1"]
    case = submit(category, grid_of(street))
    case = services.apply_action(case, "handle_here", actor=street)
    due = case.resolution_due
    case = services.apply_action(case, "suspend", actor=street, reason="等待当事人返回")
    with pytest.raises(ValidationError):
        services.apply_action(case, "feedback", actor=street, note="x")
    assert case.suspended_at is not None and due is not None
    later = case.suspended_at + datetime.timedelta(days=7)
    monkeypatch.setattr(services, "_now", lambda: later)
    case = services.apply_action(case, "resume", actor=street)
    assert case.suspended_at is None
    assert case.suspended_days >= 4
    assert case.resolution_due is not None and case.resolution_due > due


@pytest.mark.django_db
def test_complex_case_needs_a_deadline_at_triage(users, category):
    street = users["street_centre_1"]
    case = submit(category, grid_of(street))
    with pytest.raises(ValidationError) as err:
        services.apply_action(case, "set_complexity", actor=street, complexity="complex")
    assert "due" in err.value.message_dict
    due = case.received_at + datetime.timedelta(days=30)
    case = services.apply_action(case, "set_complexity", actor=street, complexity="complex", due=due)
    assert case.complexity == "complex"
    assert case.resolution_due == due


@pytest.mark.django_db
def test_extension_request_and_approval(users, category):
    street = users["street_centre_1"]
    case = submit(category, grid_of(street))
    case = services.apply_action(case, "handle_here", actor=street)
    due = case.resolution_due
    case = services.apply_action(case, "request_extension", actor=street, days=3, reason="需协调物业")
    with pytest.raises(ValidationError):
        services.apply_action(case, "request_extension", actor=street, days=2, reason="again")
    case = services.apply_action(case, "approve_extension", actor=street)
    assert due is not None and case.resolution_due is not None
    assert case.extension_days == 3 and case.resolution_due > due


@pytest.mark.django_db
def test_petition_limits_are_calendar_days(users):
    street = users["street_centre_1"]
    petition = Category.objects.get(code="petition")
    case = submit(petition, grid_of(street), description="要求解决拆迁补偿问题")
    assert case.kind == "petition"
    assert case.first_response_due is not None
    assert (case.first_response_due.date() - case.received_at.date()).days in (15, 16)
    case = services.apply_action(case, "handle_here", actor=street)
    assert case.resolution_due is not None and case.clock_started_at is not None
    assert (case.resolution_due - case.clock_started_at).days >= 59
    case = services.apply_action(case, "request_extension", actor=street, days=30, reason="复杂")
    case = services.apply_action(case, "approve_extension", actor=street)
    with pytest.raises(ValidationError):
        services.apply_action(case, "request_extension", actor=street, days=5, reason="again")


@pytest.mark.django_db
def test_merge_into_open_case(users, category):
    street = users["street_centre_1"]
    grid = grid_of(street)
    a = submit(category, grid)
    b = submit(category, grid, description="楼道杂物堆放")
    b = services.apply_action(b, "merge", actor=street, into=a)
    assert b.state == CaseState.MERGED and b.merged_into == a
    assert a.events.filter(action="merged_in").exists()
    c = submit(category, grid, description="又一件")
    with pytest.raises(ValidationError):
        services.apply_action(c, "merge", actor=street, into=b)  # b is closed


@pytest.mark.django_db
def test_acknowledge_alert_is_logged(users, category):
    street = users["street_centre_1"]
    case = submit(category, grid_of(street))
    alert = DutyAlert.objects.get(case=case)
    services.acknowledge_alert(alert, actor=street)
    alert.refresh_from_db()
    assert alert.acknowledged_by == street
    assert AuditEvent.objects.filter(action="cases.alert.acknowledge").count() == 1
    with pytest.raises(PermissionDenied):
        services.acknowledge_alert(alert, actor=users["street_centre_2"])


@pytest.mark.django_db
def test_no_centre_no_case(users, category):
    Unit.objects.filter(kind="centre").update(is_active=False)
    with pytest.raises(ValidationError):
        submit(category, grid_of(users["street_centre_1"]))


@pytest.mark.django_db
def test_staff_who_filed_a_case_can_follow_it(users, category):
    """Proxy filing: 'file and follow' — the filer sees the case even outside their grid scope."""
    worker = users["grid_worker_1"]
    other_street = users["street_centre_2"]
    grid = grid_of(other_street)
    assert grid is not None
    case = services.submit_case(
        category=category,
        description="代居民反映：路灯不亮",
        channel="proxy",
        actor=worker,
        community=grid.parent,
        reporter_name="王五",
        reporter_phone="13900139000",
    )
    assert Case.objects.restrict(worker, "view").filter(pk=case.pk).exists()
    # a street centre elsewhere does not
    assert not Case.objects.restrict(users["street_centre_1"], "view").filter(pk=case.pk).exists()
