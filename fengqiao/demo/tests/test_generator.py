"""The demo district plan, without the database: determinism, geometry, codes, identifiers."""

from __future__ import annotations

import itertools
from collections import Counter

import phonenumbers
import pytest
from shapely.geometry import box
from stdnum.cn import ric

from fengqiao.demo.generator import (
    DEFAULT_SEED,
    DISTRICT_PATH,
    STREETS,
    TOTAL_GRIDS,
    build_plan,
    id_check_digit,
)
from fengqiao.regions.models import PATH_WIDTH, Level
from fengqiao.units.models import GridRole


@pytest.fixture(scope="module")
def plan():
    return build_plan(DEFAULT_SEED, residents_per_grid=20)


def test_same_seed_same_plan_other_seed_other_people(plan):
    again = build_plan(DEFAULT_SEED, residents_per_grid=20)
    assert again.regions == plan.regions
    assert again.units == plan.units
    assert again.staff == plan.staff
    assert again.households == plan.households
    assert again.residents == plan.residents
    other = build_plan(DEFAULT_SEED + 1, residents_per_grid=20)
    assert [r.path for r in other.regions if r.level < Level.GRID] == [
        r.path for r in plan.regions if r.level < Level.GRID
    ]
    assert other.residents != plan.residents


def test_counts(plan):
    levels = Counter(r.level for r in plan.regions)
    assert levels[Level.STREET] == len(STREETS) == 6
    assert levels[Level.COMMUNITY] == 20
    assert levels[Level.GRID] == TOTAL_GRIDS
    assert len(plan.residents) == 20 * TOTAL_GRIDS
    assert 600 <= len(plan.households) <= 1000  # about 8 households per grid
    per_grid = Counter(h.grid_path for h in plan.households)
    assert set(per_grid) == {r.path for r in plan.regions_at(Level.GRID)}


def test_codes_follow_the_hierarchy(plan):
    paths = {r.path: r for r in plan.regions}
    assert len(paths) == len(plan.regions)
    for region in plan.regions:
        assert region.path.isdigit()
        assert len(region.path) == PATH_WIDTH[Level(region.level)]
        if region.parent_path is not None:
            parent = paths[region.parent_path]
            assert parent.level == region.level - 1
            assert region.path.startswith(parent.path)
            own = region.path[len(parent.path) :]
            assert set(own) != {"0"}
        if region.level >= Level.COUNTY:
            assert region.path.startswith(DISTRICT_PATH)
    villages = [r for r in plan.regions_at(Level.COMMUNITY) if r.name.endswith("村")]
    assert villages and all(r.path[-3] == "2" for r in villages)  # village committees are 2xx


def test_polygons_partition_without_overlap(plan):
    by_level = {level: plan.regions_at(level) for level in (Level.COUNTY, Level.STREET, Level.COMMUNITY, Level.GRID)}
    shapes = {r.path: box(*r.bbox) for rs in by_level.values() for r in rs}
    for level in (Level.STREET, Level.COMMUNITY, Level.GRID):
        regions = by_level[level]
        for a, b in itertools.combinations(regions, 2):
            assert shapes[a.path].intersection(shapes[b.path]).area == 0, (a.name, b.name)
        for region in regions:
            assert shapes[region.parent_path].covers(shapes[region.path]), region.name
            assert shapes[region.path].area > 0
        # children tile their parent completely
        district_area = shapes[DISTRICT_PATH].area
        assert sum(shapes[r.path].area for r in regions) == pytest.approx(district_area, rel=1e-9)


def test_households_lie_inside_their_grid(plan):
    grids = {r.path: box(*r.bbox) for r in plan.regions_at(Level.GRID)}
    from shapely.geometry import Point

    for household in plan.households:
        assert grids[household.grid_path].contains(Point(household.lng, household.lat))
        assert household.address.startswith(tuple(s for s, _c in STREETS))
        assert "社区" in household.address or "村" in household.address


def test_resident_ids_are_valid_and_unique(plan):
    ids = [r.id_number for r in plan.residents]
    assert len(set(ids)) == len(ids)
    for resident in plan.residents:
        number = resident.id_number
        assert ric.validate(number) == number
        assert id_check_digit(number[:17]) == number[17] == ric.calc_check_digit(number)
        assert ric.get_birth_date(number) == resident.birth_date
        assert int(number[16]) % 2 == (1 if resident.gender == "M" else 0)
        assert number[:6] != DISTRICT_PATH  # fictional district code: not an address code


def test_check_digit_known_values():
    # examples of the GB 11643 check character, including the X case
    assert id_check_digit("11010519491231002") == "X"
    assert id_check_digit("36042619910101007") == "1"


def test_phones_names_and_families(plan):
    phones = [r.phone for r in plan.residents if r.phone] + [s.phone for s in plan.staff]
    assert len(set(phones)) == len(phones)
    for phone in phones[:400]:
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone, "CN")), phone
    assert all(2 <= len(r.name) <= 3 for r in plan.residents)
    assert len({s.display_name for s in plan.staff}) == len(plan.staff)
    heads = Counter(r.household_number for r in plan.residents if r.relation == "户主")
    assert set(heads.values()) == {1}
    assert set(heads) == {h.number for h in plan.households}
    children = [r for r in plan.residents if r.relation in {"子", "女"}]
    assert all(r.gender == ("M" if r.relation == "子" else "F") for r in children)


def test_every_grid_has_its_responsibilities(plan):
    roles: dict[str, Counter[str]] = {}
    for a in plan.assignments:
        roles.setdefault(a.grid_path, Counter())[a.role] += 1
    assert set(roles) == {r.path for r in plan.regions_at(Level.GRID)}
    for counts in roles.values():
        assert counts[GridRole.GRID_LEADER] == 1
        assert 1 <= counts[GridRole.GRID_WORKER] <= 2
        assert counts[GridRole.LIAISON] == 1
        assert counts[GridRole.COMMUNITY_POLICE] == 1
    usernames = {s.username for s in plan.staff}
    assert {a.username for a in plan.assignments} <= usernames
    units = {u.code for u in plan.units}
    assert {s.unit_code for s in plan.staff} <= units
    assert all(u.parent_code is None or u.parent_code in units for u in plan.units)


def test_small_and_empty_sizes():
    small = build_plan(DEFAULT_SEED, residents_per_grid=2)
    assert len(small.residents) == 2 * TOTAL_GRIDS
    assert build_plan(DEFAULT_SEED, residents_per_grid=0).residents == []
    with pytest.raises(ValueError, match="zero or more"):
        build_plan(DEFAULT_SEED, residents_per_grid=-1)
