"""Demo places, organisations and special-group memberships of the demo district.

Deterministic (a ``random.Random`` seeded with the demo seed, fixed dates),
idempotent (a grid that already has places keeps them; residents that
already have a membership are skipped) and small: one place in each of the
first grids, a few organisations, and about one resident in 25 in a special
group. Everything is invented; the names of people are masked like any other.
Written with ``bulk_create`` after ``seal_personal_fields`` (encryption, masks,
blind indexes), as the demo residents are.
"""

from __future__ import annotations

import datetime
import random

from stdnum.cn import uscc

from fengqiao.core.personal import seal_personal_fields
from fengqiao.regions.models import Level, Region

from .groups import ensure_default_groups
from .models import GroupMembership, Organisation, OrganisationKind, Place, PlaceKind, Resident, SpecialGroup

REFERENCE_DATE = datetime.date(2025, 1, 1)
PLACES = 24
ORGANISATIONS = 8
EVERY_NTH_RESIDENT = 25

_PLACE_NAMES = {
    PlaceKind.SHOP: ("便利店", "五金店", "水果店", "理发店"),
    PlaceKind.RENTAL: ("出租屋",),
    PlaceKind.SCHOOL: ("小学", "中学"),
    PlaceKind.KINDERGARTEN: ("幼儿园",),
    PlaceKind.HOSPITAL: ("社区卫生服务站",),
    PlaceKind.FACTORY: ("电子厂", "服装加工厂"),
    PlaceKind.RESTAURANT: ("快餐店", "茶餐厅"),
    PlaceKind.HOTEL: ("旅馆",),
    PlaceKind.MARKET: ("农贸市场",),
}
_ORGS = (
    (OrganisationKind.ENTERPRISE, "物业管理有限公司"),
    (OrganisationKind.ENTERPRISE, "电子科技有限公司"),
    (OrganisationKind.INDIVIDUAL, "便民超市"),
    (OrganisationKind.SOCIAL, "志愿者协会"),
    (OrganisationKind.SOCIAL, "调解促进会"),
    (OrganisationKind.COOPERATIVE, "股份合作公司"),
    (OrganisationKind.PUBLIC, "社区文化站"),
    (OrganisationKind.ENTERPRISE, "建材贸易有限公司"),
)
_SURNAMES = "陈林黄张李王吴刘蔡杨许郑谢郭洪邱曾廖赖徐周叶苏庄"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _person(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return rng.choice(("138", "139", "135", "186", "189", "177")) + f"{rng.randrange(10**8):08d}"


def _credit_code(rng: random.Random, region_code: str) -> str:
    body = "91" + region_code[:6] + "".join(rng.choice(_USCC_CHARS) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def _grids(district_path: str) -> list[Region]:
    return list(
        Region.objects.filter(level=Level.GRID, path__startswith=district_path, valid_to__isnull=True)
        .select_related("parent")
        .order_by("path")
    )


def load_demo_registry(district_path: str, seed: int) -> dict[str, int]:
    """Add the demo places, organisations and memberships under ``district_path``; returns what was created."""
    ensure_default_groups()
    rng = random.Random(f"registry-{seed}")  # noqa: S311 - reproducible demo data, nothing secret
    grids = _grids(district_path)
    created = {"places": 0, "organisations": 0, "memberships": 0}
    if not grids:
        return created
    done = set(Place.objects.filter(region_path__startswith=district_path).values_list("region_path", flat=True))
    kinds = list(_PLACE_NAMES)
    places = []
    rentals: list[tuple[Place, Region]] = []
    for i, grid in enumerate(grids[:PLACES]):
        kind = kinds[i % len(kinds)]
        if grid.path in done:
            continue
        community = grid.parent.name if grid.parent else ""
        place = Place(
            kind=kind,
            name=f"{community.removesuffix('社区').removesuffix('村')}{rng.choice(_PLACE_NAMES[kind])}",
            address=f"{community}{rng.randint(1, 120)}号",
            grid=grid,
            region_path=grid.path,
            lng=grid.centroid_lng,
            lat=grid.centroid_lat,
            contact_name=_person(rng),
            contact_phone=_phone(rng),
        )
        seal_personal_fields(place)
        places.append(place)
        if kind == PlaceKind.RENTAL:
            rentals.append((place, grid))
    Place.objects.bulk_create(places)
    created["places"] = len(places)
    for place, grid in rentals:
        people = list(Resident.objects.filter(region_path=grid.path).order_by("id")[:3])
        if people:
            place.landlord = people[0]
            place.save(update_fields=["landlord"])
            place.tenants.set(people[1:])
    if not Organisation.objects.filter(region_path__startswith=district_path).exists():
        orgs = []
        for i, (org_kind, suffix) in enumerate(_ORGS[:ORGANISATIONS]):
            grid = grids[(i * 7) % len(grids)]
            community = grid.parent.name if grid.parent else ""
            org = Organisation(
                kind=org_kind,
                name=f"深圳市枫桥{community.removesuffix('社区').removesuffix('村')}{suffix}",
                credit_code=_credit_code(rng, "440300") if org_kind != OrganisationKind.PUBLIC else "",
                address=f"{community}{rng.randint(1, 120)}号",
                grid=grid,
                region_path=grid.path,
                lng=grid.centroid_lng,
                lat=grid.centroid_lat,
                legal_representative=_person(rng),
                contact_phone=_phone(rng),
                employees=rng.randint(3, 300),
            )
            seal_personal_fields(org)
            orgs.append(org)
        Organisation.objects.bulk_create(orgs)
        created["organisations"] = len(orgs)
    created["memberships"] = _memberships(district_path, rng)
    return created


def _memberships(district_path: str, rng: random.Random) -> int:
    groups = {g.code: g for g in SpecialGroup.objects.all()}
    members = set(
        GroupMembership.objects.filter(resident__region_path__startswith=district_path).values_list(
            "resident_id", flat=True
        )
    )
    residents = (
        Resident.objects.filter(region_path__startswith=district_path)
        .filter(birth_date__isnull=False)
        .order_by("id")
        .values_list("pk", "birth_date")
    )
    adults = (
        "disabled",
        "community_correction",
        "severe_mental_illness",
        "released_prisoner",
        "drug_rehab",
        "key_petitioner",
        "subsistence_allowance",
    )
    new = []
    for n, (pk, birth) in enumerate(residents.iterator(chunk_size=2000)):
        if n % EVERY_NTH_RESIDENT or pk in members or birth is None:
            continue
        age = (REFERENCE_DATE - birth).days // 365
        if age >= 70:
            code = rng.choice(("left_behind_elderly", "elderly_living_alone"))
        elif age < 16:
            code = "left_behind_children"
        else:
            code = adults[(n // EVERY_NTH_RESIDENT) % len(adults)]
        if code not in groups:
            continue
        since = REFERENCE_DATE - datetime.timedelta(days=rng.randint(30, 900))
        new.append(GroupMembership(resident_id=pk, group=groups[code], since=since))
    GroupMembership.objects.bulk_create(new, batch_size=2000)
    return len(new)
