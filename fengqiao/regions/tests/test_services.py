from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from fengqiao.audit.models import AuditEvent
from fengqiao.regions import services
from fengqiao.regions.models import Level, Region
from fengqiao.regions.rules import code_problems, parse_level

from .factories import square, staff, tree

pytestmark = pytest.mark.django_db


@pytest.fixture
def t():
    return tree()


@pytest.fixture
def admin():
    return staff("admin", [], superuser=True)


def errors_of(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


def test_create_street_computes_path_and_audits(t, admin):
    street = services.create_region(
        actor=admin, parent=t["county"], code="440305003000", name="南头街道", level=Level.STREET
    )
    assert street.path == "440305003"
    assert street.parent == t["county"]
    event = AuditEvent.objects.get(action="region.create", object_id=str(street.pk))
    assert event.after is not None
    assert event.after["path"] == "440305003"
    assert event.region_path == "440305003"


def test_create_grid_with_boundary_sets_centroid_and_audits_only_a_digest(t, admin):
    grid = services.create_region(
        actor=admin,
        parent=t["community"],
        code="440305001001001",
        name="第一网格",
        level=Level.GRID,
        boundary=square(113.94, 22.54, 0.01),
    )
    assert grid.path == "440305001001001"
    assert grid.centroid_lng == pytest.approx(113.945)
    assert grid.centroid_lat == pytest.approx(22.545)
    event = AuditEvent.objects.get(action="region.create", object_id=str(grid.pk))
    assert event.after is not None
    digest = event.after["boundary"]
    assert set(digest) == {"sha256", "type", "area_deg2", "bytes"}
    assert digest["area_deg2"] == pytest.approx(0.0001)
    assert "coordinates" not in str(event.after)


@pytest.mark.parametrize(
    ("parent_key", "level"),
    [
        ("county", Level.COMMUNITY),  # skips the street
        ("street", Level.STREET),  # same level
        ("community", Level.STREET),  # upwards
        ("prefecture", Level.COUNTY),  # counties come from GB/T 2260
    ],
)
def test_level_must_be_parents_next_level(t, admin, parent_key, level):
    with pytest.raises(ValidationError) as exc:
        services.create_region(actor=admin, parent=t[parent_key], code="440305009000", name="x", level=level)
    assert "level" in errors_of(exc)
    assert not Region.objects.filter(code="440305009000").exists()


@pytest.mark.parametrize(
    ("parent_key", "level", "code", "fragment"),
    [
        ("county", Level.STREET, "44030500100", "12 digits"),  # too short
        ("county", Level.STREET, "44030500A000", "digits only"),
        ("county", Level.STREET, "440306001000", "440305"),  # other county
        ("county", Level.STREET, "440305000000", "all zeros"),  # own part zero
        ("county", Level.STREET, "440305001001", "zeros"),  # must end with 000
        ("street", Level.COMMUNITY, "440305002001", "440305001"),  # other street
        ("street", Level.COMMUNITY, "440305001000", "all zeros"),
        ("community", Level.GRID, "440305001001", "15 digits"),
        ("community", Level.GRID, "440305001002001", "440305001001"),
        ("community", Level.GRID, "440305001001000", "all zeros"),
    ],
)
def test_code_rules(t, admin, parent_key, level, code, fragment):
    with pytest.raises(ValidationError) as exc:
        services.create_region(actor=admin, parent=t[parent_key], code=code, name="x", level=level)
    assert "code" in errors_of(exc)
    assert fragment in " ".join(errors_of(exc)["code"])


def test_code_rules_plain():
    assert code_problems("440305001000", Level.STREET, "440305000000", Level.COUNTY) == []
    assert code_problems("440305001001", Level.COMMUNITY, "440305001000", Level.STREET) == []
    assert code_problems("440305001001001", Level.GRID, "440305001001", Level.COMMUNITY) == []


def test_duplicate_current_path_refused(t, admin):
    with pytest.raises(ValidationError) as exc:
        services.create_region(actor=admin, parent=t["county"], code="440305001000", name="重复", level=Level.STREET)
    assert "already" in errors_of(exc)["code"][0]


def test_retired_path_can_be_reused(t, admin):
    services.retire_region(actor=admin, region=t["street2"], valid_to=datetime.date(2020, 1, 1))
    again = services.create_region(
        actor=admin,
        parent=t["county"],
        code="440305002000",
        name="沙河街道(新)",
        level=Level.STREET,
        valid_from=datetime.date(2020, 1, 1),
    )
    assert again.path == "440305002"


def test_parent_must_be_current(t, admin):
    services.retire_region(actor=admin, region=t["street2"], valid_to=datetime.date(2020, 1, 1))
    with pytest.raises(ValidationError) as exc:
        services.create_region(actor=admin, parent=t["street2"], code="440305002001", name="x", level=Level.COMMUNITY)
    assert "parent" in errors_of(exc)


@pytest.mark.parametrize(
    ("boundary", "fragment"),
    [
        ('{"type": "Polygon", "coordinates": [[[0,0],[1,1]', "not valid JSON"),
        ({"type": "Point", "coordinates": [113.9, 22.5]}, "Polygon or MultiPolygon"),
        ({"type": "Polygon"}, "coordinates"),
        ({"type": "Polygon", "coordinates": [[[113.9, 22.5], [113.91, 22.5]]]}, "cannot be read"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[113.94, 22.54], [113.95, 22.55], [113.95, 22.54], [113.94, 22.55], [113.94, 22.54]]],
            },
            "Self-intersection",
        ),
        (square(22.54, 113.94), "swapped"),  # latitude/longitude the wrong way round
        (square(500000, 2500000, 100), "out of range"),  # projected metres
    ],
)
def test_invalid_boundary_refused_with_reason(t, admin, boundary, fragment):
    with pytest.raises(ValidationError) as exc:
        services.create_region(
            actor=admin,
            parent=t["community"],
            code="440305001001001",
            name="x",
            level=Level.GRID,
            boundary=boundary,
        )
    assert fragment in " ".join(errors_of(exc)["boundary"])
    assert not Region.objects.filter(level=Level.GRID).exists()


def test_feature_wrapper_accepted(t, admin):
    feature = {"type": "Feature", "properties": {}, "geometry": square(113.94, 22.54)}
    grid = services.create_region(
        actor=admin, parent=t["community"], code="440305001001001", name="x", level=Level.GRID, boundary=feature
    )
    assert grid.boundary is not None and grid.boundary["type"] == "Polygon"


def _grid(t, admin, suffix, x, y, size=0.01, community="community"):
    code = t[community].code + suffix
    return services.create_region(
        actor=admin, parent=t[community], code=code, name=f"网格{suffix}", level=Level.GRID, boundary=square(x, y, size)
    )


def test_overlapping_grid_refused_naming_the_other(t, admin):
    _grid(t, admin, "001", 113.94, 22.54)
    with pytest.raises(ValidationError) as exc:
        _grid(t, admin, "002", 113.945, 22.545)
    message = " ".join(errors_of(exc)["boundary"])
    assert "网格001" in message and "440305001001001" in message
    assert Region.objects.filter(level=Level.GRID).count() == 1


def test_touching_grids_are_fine(t, admin):
    _grid(t, admin, "001", 113.94, 22.54)
    _grid(t, admin, "002", 113.95, 22.54)  # shares an edge
    assert Region.objects.filter(level=Level.GRID).count() == 2


def test_overlap_with_grid_of_other_community_refused(t, admin):
    _grid(t, admin, "001", 113.94, 22.54)
    with pytest.raises(ValidationError) as exc:
        _grid(t, admin, "001", 113.945, 22.545, community="community2")  # community2 has no boundary
    assert "440305001001001" in " ".join(errors_of(exc)["boundary"])


def test_retired_grid_does_not_block(t, admin):
    old = _grid(t, admin, "001", 113.94, 22.54)
    services.retire_region(actor=admin, region=old, valid_to=datetime.date(2020, 1, 1))
    _grid(t, admin, "002", 113.94, 22.54)


def test_grid_outside_community_refused(t, admin):
    # community is 113.93..113.96 × 22.53..22.56; this grid is half outside
    with pytest.raises(ValidationError) as exc:
        _grid(t, admin, "001", 113.955, 22.54)
    assert "outside its community" in " ".join(errors_of(exc)["boundary"])


def test_set_boundary_checks_overlap_but_not_against_itself(t, admin):
    grid = _grid(t, admin, "001", 113.94, 22.54)
    services.set_boundary(actor=admin, region=grid, boundary=square(113.939, 22.541))
    other = _grid(t, admin, "002", 113.95, 22.54)
    with pytest.raises(ValidationError):
        services.set_boundary(actor=admin, region=other, boundary=square(113.945, 22.54))
    other.refresh_from_db()
    assert other.boundary is not None
    assert other.boundary["coordinates"][0][0] == [113.95, 22.54]
    event = AuditEvent.objects.filter(action="region.update", object_id=str(grid.pk)).get()
    assert event.before is not None and event.after is not None
    assert event.before["boundary"]["sha256"] != event.after["boundary"]["sha256"]


def test_set_boundary_none_clears(t, admin):
    grid = _grid(t, admin, "001", 113.94, 22.54)
    services.set_boundary(actor=admin, region=grid, boundary=None)
    grid.refresh_from_db()
    assert grid.boundary is None and grid.centroid_lng is None


def test_update_region_name_and_audit(t, admin):
    services.update_region(actor=admin, region=t["street"], name="粤海街道办")
    t["street"].refresh_from_db()
    assert t["street"].name == "粤海街道办"
    event = AuditEvent.objects.get(action="region.update")
    assert event.before is not None and event.after is not None
    assert event.before["name"] == "粤海街道" and event.after["name"] == "粤海街道办"


def test_update_region_empty_name_refused(t, admin):
    with pytest.raises(ValidationError) as exc:
        services.update_region(actor=admin, region=t["street"], name="  ")
    assert "name" in errors_of(exc)


def test_retire_refused_with_current_children(t, admin):
    with pytest.raises(ValidationError) as exc:
        services.retire_region(actor=admin, region=t["street"])
    assert "科技园社区" in errors_of(exc)["valid_to"][0]
    t["street"].refresh_from_db()
    assert t["street"].valid_to is None


def test_retire_leaf_sets_valid_to_and_audits(t, admin):
    services.retire_region(
        actor=admin, region=t["street2"], valid_to=datetime.date(2024, 6, 1), successor_codes="440305001000"
    )
    t["street2"].refresh_from_db()
    assert t["street2"].valid_to == datetime.date(2024, 6, 1)
    assert not Region.objects.current().filter(pk=t["street2"].pk).exists()
    assert AuditEvent.objects.filter(action="region.retire").count() == 1


def test_retire_refused_twice(t, admin):
    services.retire_region(actor=admin, region=t["street2"], valid_to=datetime.date(2024, 6, 1))
    with pytest.raises(ValidationError):
        services.retire_region(actor=admin, region=t["street2"])


def test_parse_level_words():
    assert parse_level("街道") == Level.STREET
    assert parse_level("社区") == Level.COMMUNITY
    assert parse_level("grid") == Level.GRID
    assert parse_level(6.0) == Level.GRID
    with pytest.raises(ValueError):
        parse_level("县")
