"""Duplicate suggestion: Chinese text segmented properly, place and time window, bounded query."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fengqiao.cases import duplicates
from fengqiao.cases.duplicates import Draft, haversine_m, profile, suggest_duplicates, text_similarity, tokens
from fengqiao.cases.models import CaseState
from fengqiao.system.models import Parameter, ParameterType
from fengqiao.system.selectors import invalidate_parameter

from . import small_world
from .small_world import make_case

# (new report, earlier report, same problem?) — realistic resident wording, typos included
LABELLED = [
    ("楼道堆放杂物", "楼道里堆满了杂物", True),
    ("噪音扰民", "楼道堆放杂物", False),
    ("3号楼2单元楼道里堆满了杂物，存在消防隐患，请尽快处理！", "3号楼楼道杂物堆积，堵塞消防通道", True),
    ("楼到堆放杂务", "楼道堆放杂物", True),
    ("小区楼上邻居装修噪音扰民，晚上十点以后还在施工", "楼上装修太吵了，晚上还在施工", True),
    ("小区楼上邻居装修噪音扰民，晚上十点以后还在施工", "广场舞音响声音太大，影响休息", False),
    ("电梯坏了一个月没人修", "5栋电梯故障停运，物业一直不修", True),
    ("电梯坏了一个月没人修", "物业费收费不合理，乱收费", False),
    ("单元门口电动车飞线充电", "有人从楼上拉电线给电动车充电，很危险", True),
    ("单元门口电动车飞线充电", "楼道里停放电动车堵塞通道", False),
    ("邻居家漏水到我家天花板", "楼上卫生间漏水，渗到我家天花板", True),
    ("邻居家漏水到我家天花板", "邻居养狗半夜叫，吵得睡不着", False),
    ("路灯不亮", "小区路灯坏了晚上很黑", True),
    ("路灯不亮", "井盖缺失存在安全隐患", False),
    ("井盖缺失存在安全隐患", "路口井盖丢了，很危险", True),
    ("夫妻吵架闹离婚要求调解", "丈夫家暴，妻子要求调解", False),
    ("拖欠农民工工资", "工地老板拖欠工资三个月", True),
    ("拖欠农民工工资", "噪音扰民", False),
    ("小区门口垃圾堆积无人清理，臭味很大", "小区大门口的垃圾好几天没人清运，气味难闻", True),
    ("小区门口垃圾堆积无人清理，臭味很大", "小区门口违章搭建彩钢棚", False),
    ("烧烤摊油烟扰民", "楼下烧烤店油烟太大，熏得没法开窗", True),
    ("烧烤摊油烟扰民", "楼下饭店占道经营", False),
    ("楼上住户高空抛物", "有人从楼上往下扔垃圾，差点砸到人", True),
    ("楼上住户高空抛物", "楼上漏水", False),
    ("共享单车乱停乱放堵塞人行道", "人行道上共享单车停得乱七八糟，轮椅过不去", True),
    ("共享单车乱停乱放堵塞人行道", "人行道地砖破损", False),
    ("物业不作为，电梯坏了一个月没人修", "电梯坏了一个月没人修", True),
    ("流浪狗咬人", "小区里有流浪狗，晚上追着人咬", True),
    ("流浪狗咬人", "邻居家狗半夜叫", False),
    ("楼道堆放杂物", "楼道灯坏了", False),
]


@pytest.fixture
def world(db):
    return small_world.build()


def test_segmentation_drops_punctuation_and_stop_words():
    assert tokens("楼道里堆满了杂物！！") == ["楼道", "堆满", "杂物"]
    assert tokens("  ，。？ ") == []
    # search mode also yields the words inside long ones
    assert {"拖欠", "工资"} <= set(tokens("工地老板拖欠工资", search=True))


def test_required_examples():
    same = text_similarity(profile("楼道堆放杂物"), profile("楼道里堆满了杂物"))
    different = text_similarity(profile("噪音扰民"), profile("楼道堆放杂物"))
    assert same >= duplicates.MIN_TEXT
    assert different < duplicates.MIN_TEXT
    assert different == 0


def test_typo_still_matches():
    assert text_similarity(profile("楼到堆放杂务"), profile("楼道堆放杂物")) >= duplicates.MIN_TEXT


def test_evaluation_on_labelled_set():
    """Precision and recall of the text test alone (the place and category filters come on top)."""
    tp = fp = fn = tn = 0
    lines = []
    for new, old, same in LABELLED:
        score = text_similarity(profile(new), profile(old))
        predicted = score >= duplicates.MIN_TEXT
        tp += predicted and same
        fp += predicted and not same
        fn += (not predicted) and same
        tn += (not predicted) and not same
        mark = "ok " if predicted == same else "ERR"
        lines.append(f"  {mark} {score:.2f} {'dup ' if same else 'diff'} {new[:16]} | {old[:16]}")
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    print(f"\nduplicate text test on {len(LABELLED)} labelled pairs (threshold {duplicates.MIN_TEXT}):")
    print("\n".join(lines))
    print(f"precision {precision:.2f}  recall {recall:.2f}  (tp {tp}, fp {fp}, fn {fn}, tn {tn})")
    assert precision >= 0.85
    assert recall >= 0.7


def test_haversine():
    # one degree of latitude is about 111.2 km
    assert haversine_m(114.0, 22.0, 114.0, 23.0) == pytest.approx(111_195, rel=1e-3)
    assert haversine_m(113.95, 22.54, 113.95, 22.54) == 0


def test_suggests_same_problem_in_same_grid(world):
    hazard = world.categories["hazard"]
    grid = world.regions["440305001001001"]
    earlier = make_case(hazard, grid, description="楼道里堆满了杂物，堵住了消防通道")
    make_case(hazard, grid, description="噪音扰民，晚上睡不着")  # same place, other problem
    new = make_case(hazard, grid, description="楼道堆放杂物", received_at=timezone.now())
    found = suggest_duplicates(new)
    assert [c.pk for c, _s in found] == [earlier.pk]
    assert 0 < found[0][1] <= 1


def test_draft_before_saving(world):
    hazard = world.categories["hazard"]
    community = world.regions["440305001001"]
    earlier = make_case(hazard, community, description="楼道里堆满了杂物")
    draft = Draft(description="楼道堆放杂物", category=hazard, community=community)
    assert [c.pk for c, _s in suggest_duplicates(draft)] == [earlier.pk]
    # the same text in another community, another category, or closed: not offered
    other = Draft(description="楼道堆放杂物", category=hazard, community=world.regions["440305002001"])
    assert suggest_duplicates(other) == []
    assert (
        suggest_duplicates(
            Draft(description="楼道堆放杂物", category=world.categories["neighbour"], community=community)
        )
        == []
    )
    earlier.state = CaseState.CLOSED
    earlier.save()
    assert suggest_duplicates(draft) == []


def test_distance_by_coordinates(world):
    hazard = world.categories["hazard"]
    community = world.regions["440305001001"]
    other_community = world.regions["440305002001"]
    # 100 m north, but recorded in another community: coordinates decide
    near = make_case(hazard, other_community, description="楼道里堆满了杂物", lng=113.9500, lat=22.5409)
    far = make_case(hazard, community, description="楼道里堆满了杂物", lng=113.9500, lat=22.5600)  # ~2 km
    draft = Draft(description="楼道堆放杂物", category=hazard, lng=113.9500, lat=22.5400)
    found = suggest_duplicates(draft)
    assert [c.pk for c, _s in found] == [near.pk]
    assert far.pk not in [c.pk for c, _s in found]


def test_time_window_parameter(world):
    hazard = world.categories["hazard"]
    grid = world.regions["440305001001001"]
    old = make_case(
        hazard, grid, description="楼道里堆满了杂物", received_at=timezone.now() - datetime.timedelta(days=20)
    )
    draft = Draft(description="楼道堆放杂物", category=hazard, grid=grid)
    assert [c.pk for c, _s in suggest_duplicates(draft)] == [old.pk]
    Parameter.objects.create(key="case.duplicate_window_days", name="w", value_type=ParameterType.INTEGER, value=10)
    invalidate_parameter("case.duplicate_window_days")
    assert suggest_duplicates(draft) == []
    # a later case is never suggested as the "earlier" one
    later = Draft(
        description="楼道堆放杂物", category=hazard, grid=grid, received_at=timezone.now() - datetime.timedelta(days=30)
    )
    assert suggest_duplicates(later) == []


def test_empty_or_placeless_draft(world):
    hazard = world.categories["hazard"]
    make_case(hazard, world.regions["440305001001"], description="楼道里堆满了杂物")
    assert suggest_duplicates(Draft(description="", category=hazard, community=world.regions["440305001001"])) == []
    assert (
        suggest_duplicates(Draft(description="楼道堆放杂物", category=None, community=world.regions["440305001001"]))
        == []
    )
    assert suggest_duplicates(Draft(description="楼道堆放杂物", category=hazard)) == []
    assert (
        suggest_duplicates(Draft(description="！！！", category=hazard, community=world.regions["440305001001"])) == []
    )


def test_restricted_to_the_users_scope(world):
    hazard = world.categories["hazard"]
    grid2 = world.regions["440305002001001"]
    earlier = make_case(hazard, grid2, description="楼道里堆满了杂物")
    draft = Draft(description="楼道堆放杂物", category=hazard, grid=grid2)
    street1 = small_world.staff("s1", ["cases.view_case"], world.units["440305001"])
    street2 = small_world.staff("s2", ["cases.view_case"], world.units["440305002"])
    assert suggest_duplicates(draft, user=street1) == []
    assert [c.pk for c, _s in suggest_duplicates(draft, user=street2)] == [earlier.pk]


def test_query_is_bounded(world):
    hazard = world.categories["hazard"]
    grid = world.regions["440305001001001"]
    for i in range(5):
        make_case(hazard, grid, description=f"楼道里堆满了杂物 {i}")
    draft = Draft(description="楼道堆放杂物", category=hazard, grid=grid)
    suggest_duplicates(draft)  # warm the parameter cache
    with CaptureQueriesContext(connection) as ctx:
        found = suggest_duplicates(draft, limit=3)
    assert len(found) == 3
    case_queries = [q["sql"] for q in ctx.captured_queries if "cases_case" in q["sql"]]
    assert len(case_queries) == 1
    sql = case_queries[0]
    assert "LIMIT" in sql and "category_id" in sql and "received_at" in sql
