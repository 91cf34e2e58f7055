"""Visits, assessments, tiers, the case a red household opens, the model versions, overdue lists."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from fengqiao.accounts.models import User
from fengqiao.audit.models import AuditEvent
from fengqiao.cases.models import Case, CaseState, Channel, DutyAlert
from fengqiao.grid import selectors, services
from fengqiao.grid.models import Assessment, AssessmentModel, HouseholdTier, Visit, VisitPhoto

from .conftest import GREEN, ORANGE, RED, make_household


def _jpeg(name="p.jpg"):
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 10, 10)).save(buf, "JPEG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/jpeg")


def _counts():
    return (
        Visit.objects.count(),
        Assessment.objects.count(),
        HouseholdTier.objects.count(),
        Case.objects.count(),
        VisitPhoto.objects.count(),
        AuditEvent.objects.filter(action__startswith="grid.").count(),
    )


# --- visits -------------------------------------------------------------------------------------


def test_visit_inside_the_grid_with_photo(worker, household, grid):
    visit = services.record_visit(
        actor=worker, household=household, lng=grid.centroid_lng, lat=grid.centroid_lat, notes="  ok  ", files=[_jpeg()]
    )
    assert not visit.outside_grid and visit.located_grid_id == grid.pk
    assert visit.notes == "ok" and visit.region_path == grid.path
    assert visit.photos.get().content_type == "image/jpeg"
    assert not HouseholdTier.objects.exists()  # a visit without answers is no assessment
    assert AuditEvent.objects.filter(action="grid.visit.record", actor=worker).exists()


def test_visit_outside_the_grid_is_flagged_not_refused(worker, household, other_grid):
    visit = services.record_visit(
        actor=worker, household=household, lng=other_grid.centroid_lng, lat=other_grid.centroid_lat
    )
    assert visit.outside_grid and visit.located_grid_id == other_grid.pk
    nowhere = services.record_visit(actor=worker, household=household, lng=10.0, lat=10.0)
    assert nowhere.outside_grid and nowhere.located_grid_id is None
    assert list(selectors.visits(worker, flagged=True)) == [nowhere, visit]


def test_visit_without_location_is_not_flagged(worker, household):
    visit = services.record_visit(actor=worker, household=household)
    assert not visit.outside_grid and visit.lng is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"lng": 113.9}, "location"),
        ({"lng": 200.0, "lat": 22.5}, "location"),
        ({"visited_at": "future"}, "visited_at"),
        ({"visited_at": "old"}, "visited_at"),
        ({"notes": "x" * 4001}, "notes"),
        ({"files": "text"}, "photos"),
        ({"files": "many"}, "photos"),
        ({"answers": {"emotional": "none"}}, "factor_domestic_violence"),
        ({"answers": {**GREEN, "emotional": "nonsense"}}, "factor_emotional"),
    ],
)
def test_bad_visits_write_nothing(worker, household, kwargs, field):
    now = timezone.now()
    if kwargs.get("visited_at") == "future":
        kwargs["visited_at"] = now + datetime.timedelta(hours=2)
    if kwargs.get("visited_at") == "old":
        kwargs["visited_at"] = now - datetime.timedelta(days=45)
    if kwargs.get("files") == "text":
        kwargs["files"] = [SimpleUploadedFile("a.jpg", b"not an image", content_type="image/jpeg")]
    if kwargs.get("files") == "many":
        kwargs["files"] = [_jpeg(f"{i}.jpg") for i in range(services.MAX_PHOTOS + 1)]
    before = _counts()
    with pytest.raises(ValidationError) as exc:
        services.record_visit(actor=worker, household=household, **kwargs)
    assert field in exc.value.message_dict
    assert _counts() == before


def test_missing_required_factors_refused_with_the_reason(worker, household):
    with pytest.raises(ValidationError) as exc:
        services.record_visit(actor=worker, household=household, answers={"emotional": "minor"})
    reasons = " ".join(exc.value.message_dict["__all__"])
    assert "Domestic-violence tendency" in reasons and "Previous police calls" in reasons
    assert not Visit.objects.exists() and not Assessment.objects.exists()


def test_resident_must_belong_to_the_household(worker, household, grid):
    from fengqiao.registry.models import Resident

    other = make_household(grid)
    stranger = Resident.objects.create(grid=grid, region_path=grid.path, household=other, name="张三")
    with pytest.raises(ValidationError) as exc:
        services.record_visit(actor=worker, household=household, resident=stranger)
    assert "resident" in exc.value.message_dict


def test_other_grids_households_are_out_of_scope(worker, other_household):
    with pytest.raises(PermissionDenied):
        services.record_visit(actor=worker, household=other_household)
    with pytest.raises(PermissionDenied):
        services.assess_household(actor=worker, household=other_household, answers=GREEN)
    assert not Visit.objects.exists()
    assert selectors.household_tiers(worker) == []


def test_staff_without_the_permission_cannot_visit(district, household):
    leader = User.objects.get(username="leader")
    with pytest.raises(PermissionDenied):
        services.record_visit(actor=leader, household=household)


# --- tiers and the case ------------------------------------------------------------------------


def test_assessment_sets_the_tier_with_reasons(worker, household):
    visit = services.record_visit(actor=worker, household=household, answers=ORANGE)
    assessment = visit.assessments.get()
    state = HouseholdTier.objects.get(household=household)
    assert assessment.tier == state.tier == "orange"
    assert assessment.score == 3 + 4 + 1  # frequent 3, threats 2x2, minor 1
    assert [r["code"] for r in assessment.reasons] == ["domestic_violence", "emotional", "neighbour"]
    assert assessment.model.version == services.current_model().version
    assert assessment.case is None and not Case.objects.exists()


def test_red_opens_exactly_one_case_while_it_is_open(worker, household, grid):
    first = services.record_visit(actor=worker, household=household, answers=RED).assessments.get()
    case = first.case
    assert case is not None
    assert case.channel == Channel.ASSESSMENT and case.category.code == "family"
    assert case.state == CaseState.SUBMITTED and case.filed_by_id == worker.pk
    assert case.grid_id == grid.pk
    assert household.number in case.description
    assert DutyAlert.objects.filter(case=case, kind=DutyAlert.Kind.NEW_CASE).count() == 1
    assert AuditEvent.objects.filter(action="grid.tier.case_opened").count() == 1
    again = services.assess_household(actor=worker, household=household, answers={**RED, "neighbour": "intense"})
    assert again.tier == "red" and again.case is None
    assert Case.objects.count() == 1
    assert HouseholdTier.objects.get(household=household).case_id == case.pk
    # once the case is closed, a household still (or again) red opens a new one
    Case.objects.filter(pk=case.pk).update(state=CaseState.CLOSED)
    third = services.assess_household(actor=worker, household=household, answers=RED)
    assert third.case is not None and third.case.pk != case.pk
    assert Case.objects.count() == 2


def test_red_case_appears_for_the_street_centre(worker, household):
    case = services.assess_household(actor=worker, household=household, answers=RED).case
    assert case is not None
    centre = User.objects.get(username="street_centre_1")
    assert case.triage_unit_id == centre.unit_id
    assert Case.objects.restrict(centre).filter(pk=case.pk).exists()
    assert DutyAlert.objects.filter(case=case, unit=centre.unit).exists()


def test_tier_history_and_tier_since(worker, household):
    t0 = timezone.now() - datetime.timedelta(days=20)
    services.record_visit(actor=worker, household=household, answers=GREEN, visited_at=t0)
    services.record_visit(actor=worker, household=household, answers=GREEN, visited_at=t0 + datetime.timedelta(days=5))
    services.record_visit(actor=worker, household=household, answers=ORANGE, visited_at=t0 + datetime.timedelta(days=9))
    state = HouseholdTier.objects.get(household=household)
    assert state.tier == "orange" and state.tier_since == t0 + datetime.timedelta(days=9)
    assert [a.tier for a in selectors.assessments(worker, household)] == ["green", "green", "orange"]


# --- overdue ---------------------------------------------------------------------------------------


def test_overdue_follow_ups_are_one_query(worker, grid, django_assert_num_queries):
    now = timezone.now()
    homes = [make_household(grid) for _ in range(4)]
    services.assess_household(actor=worker, household=homes[0], answers=ORANGE, at=now - datetime.timedelta(days=20))
    services.assess_household(actor=worker, household=homes[1], answers=ORANGE, at=now - datetime.timedelta(days=3))
    services.assess_household(actor=worker, household=homes[2], answers=GREEN, at=now - datetime.timedelta(days=20))
    services.assess_household(actor=worker, household=homes[3], answers=GREEN, at=now - datetime.timedelta(days=91))
    services.current_model()
    worker = User.objects.get(pk=worker.pk)
    worker.get_grants("grid.view_householdtier")  # roles and grids cached on the user
    with django_assert_num_queries(2):  # the model's intervals, then the overdue households
        overdue = selectors.overdue_followups(worker, grid.path, now=now)
    assert {o.state.household_id for o in overdue} == {homes[0].pk, homes[3].pk}
    assert overdue[0].state.tier == "orange"  # most severe first
    # a visit (no assessment) counts as a follow-up
    services.record_visit(actor=worker, household=homes[0])
    assert {o.state.household_id for o in selectors.overdue_followups(worker, grid.path)} == {homes[3].pk}


def test_overdue_special_group_members(worker, grid):
    from fengqiao.registry.models import GroupMembership, Resident, SpecialGroup

    group, _ = SpecialGroup.objects.get_or_create(
        code="test-elderly", defaults={"name": "测试留守老人", "visit_every_days": 30}
    )
    home = make_household(grid)
    person = Resident.objects.create(grid=grid, region_path=grid.path, household=home, name="李四")
    since = timezone.localdate() - datetime.timedelta(days=100)
    GroupMembership.objects.create(resident=person, group=group, since=since)
    ids = lambda: {g.membership.resident_id for g in selectors.overdue_group_members(worker, grid.path)}  # noqa: E731
    assert person.pk in ids()  # never visited
    services.record_visit(actor=worker, household=home, visited_at=timezone.now() - datetime.timedelta(days=29))
    assert person.pk not in ids()  # a visit to the household counts


def test_tier_counts_and_map_selector(worker, grid, household):
    make_household(grid)
    services.assess_household(actor=worker, household=household, answers=ORANGE)
    counts = selectors.tier_counts(worker, grid.path)
    assert counts["orange"] == 1 and counts["unassessed"] == 1
    assert selectors.household_tiers(worker, grid) == [
        {"id": household.pk, "lng": household.lng, "lat": household.lat, "tier": "orange"}
    ]


# --- the model ---------------------------------------------------------------------------------


def _model_args(model):
    return {
        "factors": model.factors,
        "thresholds": model.thresholds,
        "follow_up_days": model.follow_up_days,
        "case_category_code": model.case_category_code,
    }


def test_new_model_version_keeps_old_assessments(worker, household):
    old = services.assess_household(actor=worker, household=household, answers=ORANGE)
    admin = User.objects.get(username="district_centre")
    args = _model_args(old.model)
    args["thresholds"] = {"red": 30, "orange": 20, "yellow": 5}
    args["follow_up_days"] = {**args["follow_up_days"], "orange": 3}
    new = services.save_model_version(actor=admin, note="stricter", **args)
    assert new.version == old.model.version + 1 and new.is_current
    assert AssessmentModel.objects.filter(is_current=True).get() == new
    old.refresh_from_db()
    assert old.model.version == new.version - 1 and old.tier == "orange"
    assert services.assess_household(actor=worker, household=household, answers=ORANGE).tier == "yellow"
    assert AuditEvent.objects.filter(action="grid.model.new_version", actor=admin).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"factors": []}, "factors"),
        ({"thresholds": {"red": 5, "orange": 8, "yellow": 3}}, "thresholds"),
        ({"thresholds": {"red": 15, "orange": 8, "yellow": 0}}, "threshold_yellow"),
        ({"follow_up_days": {"red": 0, "orange": 14, "yellow": 30, "green": 90}}, "days_red"),
        ({"case_category_code": "nope"}, "case_category_code"),
        ({"factors": "duplicate"}, "factors"),
        ({"factors": "one_level"}, "factors"),
    ],
)
def test_bad_model_versions_write_nothing(district, change, field):
    admin = User.objects.get(username="district_centre")
    current = services.current_model()
    args = {**_model_args(current), **change}
    if change.get("factors") == "duplicate":
        args["factors"] = [*current.factors, current.factors[0]]
    if change.get("factors") == "one_level":
        args["factors"] = [{**current.factors[0], "levels": current.factors[0]["levels"][:1]}]
    with pytest.raises(ValidationError) as exc:
        services.save_model_version(actor=admin, **args)
    assert field in exc.value.message_dict
    assert AssessmentModel.objects.count() == 1


def test_grid_worker_cannot_change_the_model(worker):
    with pytest.raises(PermissionDenied):
        services.save_model_version(actor=worker, **_model_args(services.current_model()))
