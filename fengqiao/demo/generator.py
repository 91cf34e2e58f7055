"""A deterministic plan of the fictional demo district "枫桥示范区".

Everything here is pure data: ``build_plan(seed, residents_per_grid)`` returns
the same regions, units, staff, grid responsibilities, households and residents
for the same arguments, with no database and no clock involved (all dates are
fixed). ``fengqiao.demo.loader`` writes a plan to the database.

The district is FICTIONAL. Its parents are real GB/T 2260 divisions
(44 广东省, 4403 深圳市) but the district code 440399 is unused in GB/T 2260
(Shenzhen's real districts are 440303–440311) and "枫桥示范区", its streets,
communities, grids, units, staff and residents are invented. The layout sits
around lon 113.93, lat 22.53 as a rectangle partition: the district rectangle
is cut into street strips, each strip into community blocks and each block
into grid cells, so no two polygons of one level overlap and each lies inside
its parent.

Resident ID numbers have the valid GB 11643 format (address code, birth date,
sequence code with odd = male / even = female, ISO 7064 MOD 11-2 check digit).
Their first six digits are the place of first household registration, which
must be a real county code that existed in the birth year (python-stdnum checks
this), so they are real codes (Shenzhen districts for locals, other provinces
for people who moved here) and never the fictional 440399.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field

from stdnum.cn import ric

DEFAULT_SEED = 8348
DEFAULT_RESIDENTS_PER_GRID = 20

#: The one password of every demo login. Demo only: never use it on real data.
DEMO_PASSWORD = "Fengqiao@2026"  # noqa: S105

#: Fixed dates, so the plan does not depend on the clock.
REFERENCE_DATE = datetime.date(2025, 1, 1)  # ages are computed against this day
ASSIGNMENTS_FROM = datetime.date(2024, 1, 1)  # grid responsibilities start here

PROVINCE = ("44", "广东省")
PREFECTURE = ("4403", "深圳市")
DISTRICT = ("440399", "枫桥示范区")
DISTRICT_PATH = DISTRICT[0]

#: The district rectangle (lon/lat, WGS-84), about 12 km x 9 km.
WEST, EAST = 113.870, 113.990
SOUTH, NORTH = 22.490, 22.570

#: (street name, [community names]); communities ending in 村 are villages
#: (statistical code 2xx), the others residents' committees (0xx).
STREETS: list[tuple[str, list[str]]] = [
    ("枫溪街道", ["枫溪社区", "竹园社区", "学府社区", "荔香社区"]),
    ("桥东街道", ["桥东社区", "渔港社区", "望海社区", "新围村"]),
    ("桥西街道", ["桥西社区", "榕树社区", "白石村"]),
    ("枫林街道", ["枫林社区", "科苑社区", "茶光社区"]),
    ("南湾街道", ["南湾社区", "湾厦社区", "沙河村"]),
    ("海月街道", ["海月社区", "月亮湾社区", "后海村"]),
]
TOTAL_GRIDS = 100

SURNAMES = (
    "陈李黄张林刘王吴梁杨郑谢何罗周徐朱曾邓许叶蔡彭苏钟赖卢方冯郭胡高马孙赵肖潘江余"
    "唐温丘袁邹丁欧严蒋杜沈傅范姚廖钱宋韦汪程石谭龙魏陆"
)
MALE_CHARS = "伟强磊军勇杰涛斌明超辉华建国志刚鹏海波浩俊峰宇鑫文平健成亮飞凯晨博昊宏锋振家轩睿泽航铭嘉源德荣福"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀英玲燕萍红梅琳雪慧婷倩颖欣怡佳悦雨涵梓诗琪晓婉月彤瑶萱桂兰凤"

#: Mobile prefixes in use in mainland China (all validated by libphonenumber).
MOBILE_PREFIXES = (
    *("130", "131", "132", "133", "134", "135", "136", "137", "138", "139"),
    *("150", "151", "152", "153", "155", "156", "157", "158", "159", "166"),
    *("176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188", "189", "198", "199"),
)

#: Where residents' ID numbers were first registered: (weight, codes). Locals
#: first, then people who moved to Shenzhen from other provinces.
BIRTHPLACES: list[tuple[int, tuple[str, ...]]] = [
    (45, ("440305", "440304", "440303")),  # 南山区, 福田区, 罗湖区
    (15, ("440104", "440103", "441302", "441402", "440803")),  # 广州, 惠州, 梅州, 湛江
    (10, ("430102", "430103", "430104", "430111")),  # 长沙
    (8, ("360102", "360426")),  # 江西
    (8, ("420102", "420106")),  # 武汉
    (7, ("450102", "450103")),  # 南宁
    (7, ("410105", "350102", "350203", "520102")),  # 郑州, 福州, 厦门, 贵阳
]
#: Valid in every birth year (used when a county did not exist yet).
FALLBACK_BIRTHPLACE = "440300"
#: First year each code above was in use according to the GB/T 2260 history
#: (areacodes_result.csv); codes in use since 1981 are missing (any year). A
#: person born earlier gets the city's code, so fengqiao.core.validators has no warning.
FIRST_YEAR = {
    **dict.fromkeys(("440305", "440304", "440303"), 1990),
    **dict.fromkeys(("441302", "441402", "441300", "441400"), 1988),
    **dict.fromkeys(
        (
            "440104", "440103", "440803", "440800", "430102", "430103", "430104", "430111", "360102",
            "360426", "420102", "420106", "450102", "450103", "410105", "350102", "350203", "520102",
        ),
        1983,
    ),
}  # fmt: skip

ROAD_SUFFIXES = ("路", "一路", "二路", "大道", "街")


# --- plan records ------------------------------------------------------------


@dataclass(frozen=True)
class RegionPlan:
    path: str
    name: str
    level: int  # fengqiao.regions.models.Level value
    parent_path: str | None
    #: lon/lat rectangle (west, south, east, north); None for province/prefecture
    bbox: tuple[float, float, float, float] | None = None

    @property
    def boundary(self) -> dict[str, object] | None:
        if self.bbox is None:
            return None
        w, s, e, n = self.bbox
        return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}

    @property
    def centroid(self) -> tuple[float, float] | None:
        if self.bbox is None:
            return None
        w, s, e, n = self.bbox
        return (round((w + e) / 2, 6), round((s + n) / 2, 6))


@dataclass(frozen=True)
class UnitPlan:
    code: str
    name: str
    kind: str  # fengqiao.units.models.UnitKind value
    region_path: str
    parent_code: str | None
    phone: str = ""
    address: str = ""


@dataclass(frozen=True)
class StaffPlan:
    username: str
    display_name: str
    role: str  # built-in role code (ROLES.md)
    unit_code: str
    phone: str
    is_staff: bool = False  # may open the Django admin


@dataclass(frozen=True)
class AssignmentPlan:
    grid_path: str
    username: str
    role: str  # fengqiao.units.models.GridRole value


@dataclass(frozen=True)
class HouseholdPlan:
    number: str
    grid_path: str
    address: str
    lng: float
    lat: float


@dataclass(frozen=True)
class ResidentPlan:
    household_number: str
    grid_path: str
    name: str
    id_number: str
    phone: str
    gender: str  # "M" / "F"
    birth_date: datetime.date
    relation: str


@dataclass
class DemoPlan:
    seed: int
    residents_per_grid: int
    regions: list[RegionPlan] = field(default_factory=list)
    units: list[UnitPlan] = field(default_factory=list)
    staff: list[StaffPlan] = field(default_factory=list)
    assignments: list[AssignmentPlan] = field(default_factory=list)
    households: list[HouseholdPlan] = field(default_factory=list)
    residents: list[ResidentPlan] = field(default_factory=list)

    def regions_at(self, level: int) -> list[RegionPlan]:
        return [r for r in self.regions if r.level == level]


# --- small generators ----------------------------------------------------------


class People:
    """Fictional Chinese names, phone numbers and resident ID numbers, all unique."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._names: set[str] = set()
        self._phones: set[str] = set()
        self._ids: set[str] = set()

    def given_name(self, gender: str) -> str:
        chars = MALE_CHARS if gender == "M" else FEMALE_CHARS
        if self.rng.random() < 0.25:
            return self.rng.choice(chars)
        return self.rng.choice(chars) + self.rng.choice(chars)

    def name(self, gender: str, surname: str | None = None) -> str:
        """A name; staff names are kept unique, family members may share one with someone elsewhere."""
        return (surname or self.rng.choice(SURNAMES)) + self.given_name(gender)

    def unique_name(self, gender: str) -> str:
        for _ in range(1000):
            candidate = self.name(gender)
            if candidate not in self._names:
                self._names.add(candidate)
                return candidate
        raise RuntimeError("ran out of distinct demo names")

    def phone(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self._phones:
                self._phones.add(number)
                return number

    def id_number(self, birth: datetime.date, gender: str) -> str:
        weights = [w for w, _codes in BIRTHPLACES]
        codes = self.rng.choices([c for _w, c in BIRTHPLACES], weights=weights)[0]
        place = self.rng.choice(codes)
        if not birthplace_valid(place, birth.year):  # the county was created later: use its city
            place = place[:4] + "00"
        if not birthplace_valid(place, birth.year):
            place = FALLBACK_BIRTHPLACE
        while True:
            sequence = self.rng.randrange(500) * 2 + (1 if gender == "M" else 0)
            body = f"{place}{birth:%Y%m%d}{sequence:03d}"
            number = body + id_check_digit(body)
            if number not in self._ids:
                self._ids.add(number)
                return number


_BIRTHPLACE_CACHE: dict[tuple[str, int], bool] = {}


def birthplace_valid(code: str, year: int) -> bool:
    """Whether python-stdnum accepts ``code`` as the address part for someone born in ``year``."""
    key = (code, year)
    if year < FIRST_YEAR.get(code, 0):
        return False
    if key not in _BIRTHPLACE_CACHE:
        body = f"{code}{year}0101001"
        try:
            _BIRTHPLACE_CACHE[key] = ric.is_valid(body + ric.calc_check_digit(body + "0"))
        except Exception:  # stdnum raises KeyError for codes it does not know at all
            _BIRTHPLACE_CACHE[key] = False
    return _BIRTHPLACE_CACHE[key]


def id_check_digit(body17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits of a resident ID number."""
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    remainder = sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11
    value = (12 - remainder) % 11
    return "X" if value == 10 else str(value)


def _split(rng: random.Random, low: float, high: float, parts: int, jitter: float = 0.25) -> list[float]:
    """``parts + 1`` rounded cut positions from ``low`` to ``high``, uneven but never thin."""
    weights = [1 + rng.uniform(-jitter, jitter) for _ in range(parts)]
    total = sum(weights)
    cuts = [low]
    acc = 0.0
    for weight in weights[:-1]:
        acc += weight
        cuts.append(round(low + (high - low) * acc / total, 6))
    cuts.append(high)
    return cuts


def _grid_counts(rng: random.Random, communities: int, total: int) -> list[int]:
    """Grids per community (4–6 each) adding up to ``total``."""
    counts = [total // communities] * communities
    for i in range(total - sum(counts)):
        counts[i % communities] += 1
    for _ in range(communities):  # move a grid between two communities, keeping 4..6
        a, b = rng.randrange(communities), rng.randrange(communities)
        if a != b and counts[a] > 4 and counts[b] < 6:
            counts[a] -= 1
            counts[b] += 1
    return counts


def _cells(
    rng: random.Random, bbox: tuple[float, float, float, float], count: int
) -> list[tuple[float, float, float, float]]:
    """Cut ``bbox`` into ``count`` cells: two rows (one for small counts), each cut into columns."""
    w, s, e, n = bbox
    rows = 1 if count < 4 else 2
    per_row = [count // rows + (1 if i < count % rows else 0) for i in range(rows)]
    row_cuts = _split(rng, s, n, rows, jitter=0.15)
    cells = []
    for r in range(rows - 1, -1, -1):  # north row first, so numbering runs north-west to south-east
        col_cuts = _split(rng, w, e, per_row[r])
        for c in range(per_row[r]):
            cells.append((col_cuts[c], row_cuts[r], col_cuts[c + 1], row_cuts[r + 1]))
    return cells


def _stem(community: str) -> str:
    return community.removesuffix("社区").removesuffix("村")


# --- the plan ------------------------------------------------------------------


def build_plan(seed: int = DEFAULT_SEED, residents_per_grid: int = DEFAULT_RESIDENTS_PER_GRID) -> DemoPlan:
    if residents_per_grid < 0:
        raise ValueError("residents_per_grid must be zero or more")
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, nothing secret
    people = People(rng)
    plan = DemoPlan(seed=seed, residents_per_grid=residents_per_grid)
    _plan_regions(plan, rng)
    _plan_units(plan, people)
    _plan_staff(plan, rng, people)
    _plan_registry(plan, rng, people)
    return plan


def _plan_regions(plan: DemoPlan, rng: random.Random) -> None:
    from fengqiao.regions.models import Level

    plan.regions.append(RegionPlan(PROVINCE[0], PROVINCE[1], Level.PROVINCE, None))
    plan.regions.append(RegionPlan(PREFECTURE[0], PREFECTURE[1], Level.PREFECTURE, PROVINCE[0]))
    plan.regions.append(RegionPlan(DISTRICT_PATH, DISTRICT[1], Level.COUNTY, PREFECTURE[0], (WEST, SOUTH, EAST, NORTH)))
    community_total = sum(len(c) for _s, c in STREETS)
    grid_counts = iter(_grid_counts(rng, community_total, TOTAL_GRIDS))
    street_cuts = _split(rng, WEST, EAST, len(STREETS), jitter=0.2)
    for s_index, (street_name, communities) in enumerate(STREETS, start=1):
        street_path = f"{DISTRICT_PATH}{s_index:03d}"
        street_bbox = (street_cuts[s_index - 1], SOUTH, street_cuts[s_index], NORTH)
        plan.regions.append(RegionPlan(street_path, street_name, Level.STREET, DISTRICT_PATH, street_bbox))
        community_cuts = _split(rng, SOUTH, NORTH, len(communities), jitter=0.2)
        next_committee, next_village = 1, 201
        for c_index, community_name in enumerate(communities):
            if community_name.endswith("村"):
                number, next_village = next_village, next_village + 1
            else:
                number, next_committee = next_committee, next_committee + 1
            community_path = f"{street_path}{number:03d}"
            # communities numbered north to south
            top = len(communities) - c_index
            community_bbox = (street_bbox[0], community_cuts[top - 1], street_bbox[2], community_cuts[top])
            plan.regions.append(
                RegionPlan(community_path, community_name, Level.COMMUNITY, street_path, community_bbox)
            )
            for g_index, cell in enumerate(_cells(rng, community_bbox, next(grid_counts)), start=1):
                grid_name = f"{_stem(community_name)}第{g_index}网格"
                plan.regions.append(
                    RegionPlan(f"{community_path}{g_index:03d}", grid_name, Level.GRID, community_path, cell)
                )


def _office_phone(people: People) -> str:
    return f"0755-{people.rng.randrange(2000_0000, 8999_9999)}"


def _plan_units(plan: DemoPlan, people: People) -> None:
    from fengqiao.regions.models import Level
    from fengqiao.units.models import UnitKind

    d = DISTRICT_PATH
    units = plan.units

    def add(code: str, name: str, kind: str, region: str, parent: str | None, address: str = "") -> None:
        units.append(UnitPlan(code, name, kind, region, parent, _office_phone(people), address))

    streets = plan.regions_at(Level.STREET)
    communities = plan.regions_at(Level.COMMUNITY)
    add(f"{d}-zzzx", "枫桥示范区综治中心", UnitKind.CENTRE, d, None, "枫桥示范区枫溪大道1号")
    for code, name in (
        ("zjj", "区住房和建设局"),
        ("mzj", "区民政局"),
        ("scjgj", "区市场监督管理局"),
        ("xfj", "区信访局"),
    ):
        add(f"{d}-{code}", name, UnitKind.DEPARTMENT, d, None, "枫桥示范区枫溪大道1号")
    add(f"{d}-fy", "枫桥示范区人民法院", UnitKind.COURT, d, None, "枫桥示范区桥东路88号")
    add(f"{d}-fy-zxj", "区人民法院执行局", UnitKind.COURT, d, f"{d}-fy", "枫桥示范区桥东路88号")
    add(f"{d}-gafj-zhs", "公安分局综合指挥室", UnitKind.POLICE_TEAM, d, None, "枫桥示范区枫林路9号")
    for street in streets:
        stem = street.name.removesuffix("街道")
        add(
            f"{street.path}-zzzx",
            f"{street.name}综治中心",
            UnitKind.CENTRE,
            street.path,
            f"{d}-zzzx",
            f"{street.name}{stem}路1号",
        )
    for community in communities:
        street_code = community.parent_path
        add(
            f"{community.path}-zzzx",
            f"{community.name}综治中心",
            UnitKind.CENTRE,
            community.path,
            f"{street_code}-zzzx",
            f"{community.name}{_stem(community.name)}路2号",
        )
    # three police stations, each with a case team and a community policing team (两队一室)
    for street in station_streets(plan):
        stem = street.name.removesuffix("街道")
        station = f"{street.path}-pcs"
        add(station, f"{stem}派出所", UnitKind.POLICE_STATION, street.path, None, f"{street.name}{stem}路20号")
        add(f"{station}-ajd", f"{stem}派出所案件队", UnitKind.POLICE_TEAM, street.path, station)
        add(f"{station}-sqjwd", f"{stem}派出所社区警务队", UnitKind.POLICE_TEAM, street.path, station)
    # mediation and volunteer patrol teams
    first = communities[0]
    add(f"{first.path}-tdstzs", "唐大叔调解工作室", UnitKind.MEDIATION_TEAM, first.path, f"{first.path}-zzzx")
    add(
        f"{streets[1].path}-rmtjwyh",
        f"{streets[1].name}人民调解委员会",
        UnitKind.MEDIATION_TEAM,
        streets[1].path,
        f"{streets[1].path}-zzzx",
    )
    village = next(c for c in communities if c.name.endswith("村"))
    add(
        f"{village.path}-lbtjd",
        f"{_stem(village.name)}老兵调解队",
        UnitKind.MEDIATION_TEAM,
        village.path,
        f"{village.path}-zzzx",
    )
    for street in streets:
        add(
            f"{street.path}-yjd",
            f"{street.name}平安义警巡逻队",
            UnitKind.VOLUNTEER_TEAM,
            street.path,
            f"{street.path}-zzzx",
        )


def station_streets(plan: DemoPlan) -> list[RegionPlan]:
    """The streets with a police station; each station covers its street and the next one."""
    from fengqiao.regions.models import Level

    return plan.regions_at(Level.STREET)[::2]


def _station_for(plan: DemoPlan, street_path: str) -> str:
    from fengqiao.regions.models import Level

    streets = [s.path for s in plan.regions_at(Level.STREET)]
    index = streets.index(street_path)
    return f"{streets[index - index % 2]}-pcs"


def _plan_staff(plan: DemoPlan, rng: random.Random, people: People) -> None:
    from fengqiao.regions.models import Level
    from fengqiao.units.models import GridRole

    d = DISTRICT_PATH

    def staff(username: str, role: str, unit: str, is_staff: bool = False) -> None:
        gender = rng.choice("MF")
        plan.staff.append(
            StaffPlan(username, people.unique_name(gender), role, unit, people.phone(), is_staff=is_staff)
        )

    staff("admin", "admin", f"{d}-zzzx", is_staff=True)
    staff("auditor", "auditor", f"{d}-zzzx")
    staff("leader", "district_leader", f"{d}-zzzx")
    staff("district_centre", "district_centre", f"{d}-zzzx")
    staff("risk_analyst", "risk_analyst", f"{d}-zzzx")
    staff("command_room", "command_room", f"{d}-gafj-zhs")
    staff("judge", "judge", f"{d}-fy-zxj")
    for username, code in (
        ("dept_housing", "zjj"),
        ("dept_civil", "mzj"),
        ("dept_market", "scjgj"),
        ("dept_petition", "xfj"),
    ):
        staff(username, "department_handler", f"{d}-{code}")
    for i, street in enumerate(plan.regions_at(Level.STREET), start=1):
        staff(f"street_centre_{i}", "street_centre", f"{street.path}-zzzx")
        staff(f"street_leader_{i}", "street_leader", f"{street.path}-zzzx")

    grids_by_community: dict[str, list[RegionPlan]] = {}
    for grid in plan.regions_at(Level.GRID):
        grids_by_community.setdefault(grid.parent_path or "", []).append(grid)
    worker_no = liaison_no = 0
    for i, community in enumerate(plan.regions_at(Level.COMMUNITY), start=1):
        # the community secretary leads every grid of the community (网格长);
        # one police officer per community (一村(社区)一警) covers all its grids
        leader, police = f"community_{i}", f"police_{i}"
        staff(leader, "community_centre", f"{community.path}-zzzx")
        staff(police, "community_police", f"{_station_for(plan, community.parent_path or '')}-sqjwd")
        for grid in grids_by_community[community.path]:
            plan.assignments.append(AssignmentPlan(grid.path, leader, GridRole.GRID_LEADER))
            for _ in range(2 if rng.random() < 0.3 else 1):
                worker_no += 1
                staff(f"grid_worker_{worker_no}", "grid_worker", f"{community.path}-zzzx")
                plan.assignments.append(AssignmentPlan(grid.path, f"grid_worker_{worker_no}", GridRole.GRID_WORKER))
            liaison_no += 1
            # liaisons (联络员, usually a building head) do field work like grid workers
            staff(f"liaison_{liaison_no}", "grid_worker", f"{community.path}-zzzx")
            plan.assignments.append(AssignmentPlan(grid.path, f"liaison_{liaison_no}", GridRole.LIAISON))
            plan.assignments.append(AssignmentPlan(grid.path, police, GridRole.COMMUNITY_POLICE))


#: (weight, household size)
HOUSEHOLD_SIZES = ((20, 1), (30, 2), (28, 3), (15, 4), (7, 5))


def _birth(rng: random.Random, age: int) -> datetime.date:
    year = REFERENCE_DATE.year - age - 1
    return datetime.date(year, 1, 1) + datetime.timedelta(days=rng.randrange(365))


def _family(rng: random.Random, size: int) -> list[tuple[str, str, int]]:
    """(relation, gender, age) for a household of ``size``; the head comes first."""
    head_gender = "M" if rng.random() < 0.7 else "F"
    if size == 1:
        return [("户主", rng.choice("MF"), rng.randint(22, 86))]
    head_age = rng.randint(28, 62) if size >= 3 else rng.randint(24, 80)
    members = [("户主", head_gender, head_age)]
    spouse_gender = "F" if head_gender == "M" else "M"
    members.append(("配偶", spouse_gender, max(20, head_age + rng.randint(-5, 5))))
    children = size - 2
    if size == 5 or (size == 4 and rng.random() < 0.35):  # a grandparent lives with them
        children -= 1
        parent_gender = rng.choice("MF")
        members.append(
            ("父亲" if parent_gender == "M" else "母亲", parent_gender, min(96, head_age + rng.randint(24, 32)))
        )
    for _ in range(children):
        gender = rng.choice("MF")
        members.append(("子" if gender == "M" else "女", gender, rng.randint(0, max(0, head_age - 22))))
    return members


def _plan_registry(plan: DemoPlan, rng: random.Random, people: People) -> None:
    from fengqiao.regions.models import Level

    if plan.residents_per_grid == 0:
        return
    names = {r.path: r.name for r in plan.regions}
    roads: dict[str, list[str]] = {}
    for community in plan.regions_at(Level.COMMUNITY):
        stem = _stem(community.name)
        roads[community.path] = [stem + suffix for suffix in rng.sample(ROAD_SUFFIXES, 3)]
    for grid in plan.regions_at(Level.GRID):
        if grid.bbox is None or grid.parent_path is None:
            raise ValueError(f"grid {grid.path} has no rectangle or parent")
        community_path = grid.parent_path
        street_path = community_path[:9]
        is_village = names[community_path].endswith("村")
        road = rng.choice(roads[community_path])
        door = rng.randrange(1, 180)
        w, s, e, n = grid.bbox
        left = plan.residents_per_grid
        number = 0
        while left > 0:
            number += 1
            size = min(left, rng.choices([sz for _w, sz in HOUSEHOLD_SIZES], [w for w, _sz in HOUSEHOLD_SIZES])[0])
            left -= size
            if is_village:
                door += rng.randint(1, 3)
                place = f"{road}{door}号"
            else:
                if rng.random() < 0.3:
                    door += rng.randint(1, 4)
                place = f"{road}{door}号{rng.randint(1, 8)}栋{rng.randint(1, 32)}{rng.randint(1, 6):02d}室"
            household = HouseholdPlan(
                number=f"H{grid.path}{number:03d}",
                grid_path=grid.path,
                address=f"{names[street_path]}{names[community_path]}{place}",
                # inside the cell, off its edges
                lng=round(rng.uniform(w + (e - w) * 0.08, e - (e - w) * 0.08), 6),
                lat=round(rng.uniform(s + (n - s) * 0.08, n - (n - s) * 0.08), 6),
            )
            plan.households.append(household)
            surname = rng.choice(SURNAMES)
            for relation, gender, age in _family(rng, size):
                own_surname = surname if relation in {"户主", "子", "女", "父亲"} else rng.choice(SURNAMES)
                birth = _birth(rng, age)
                plan.residents.append(
                    ResidentPlan(
                        household_number=household.number,
                        grid_path=grid.path,
                        name=people.name(gender, own_surname),
                        id_number=people.id_number(birth, gender),
                        phone=people.phone() if age >= 14 else "",
                        gender=gender,
                        birth_date=birth,
                        relation=relation,
                    )
                )
