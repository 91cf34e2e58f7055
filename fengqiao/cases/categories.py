"""The default category taxonomy (一码解纠纷 and 代办 services), installed idempotently.

Districts edit their own taxonomy in the staff UI; this only creates the
defaults that are missing and never overwrites an edited category.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .models import CaseKind, Category, Complexity, HandlingLevel

DEFAULT_CATEGORIES: list[dict[str, Any]] = [
    {
        "code": "family",
        "name": "婚姻家庭",
        "name_en": "Marriage and family",
        "default_complexity": Complexity.GENERAL,
        "default_level": HandlingLevel.COMMUNITY,
        "default_unit_kind": "mediation_team",
        "response_templates": [
            {"title": "已联系调解", "text": "您反映的家庭纠纷已转社区调解员，调解员将在1个工作日内与您联系。"}
        ],
    },
    {
        "code": "property",
        "name": "物业纠纷",
        "name_en": "Property management dispute",
        "default_complexity": Complexity.GENERAL,
        "default_level": HandlingLevel.COMMUNITY,
        "extra_fields": [
            {
                "code": "estate",
                "label": "小区名称",
                "label_en": "Housing estate",
                "datatype": "string",
                "required": True,
            },
        ],
    },
    {
        "code": "neighbour",
        "name": "邻里纠纷",
        "name_en": "Neighbour dispute",
        "default_complexity": Complexity.SIMPLE,
        "default_level": HandlingLevel.GRID,
        "extra_fields": [
            {
                "code": "issue",
                "label": "纠纷类型",
                "label_en": "Kind of dispute",
                "datatype": "singlevaluelist",
                "required": True,
                "values": [
                    {"key": "noise", "name": "噪音扰民"},
                    {"key": "leak", "name": "漏水"},
                    {"key": "space", "name": "占用公共空间"},
                    {"key": "pets", "name": "宠物"},
                    {"key": "other", "name": "其他"},
                ],
            }
        ],
        "response_templates": [{"title": "网格员上门", "text": "网格员将上门了解情况，协调双方沟通解决。"}],
    },
    {
        "code": "hazard",
        "name": "安全隐患",
        "name_en": "Safety hazard",
        "default_complexity": Complexity.SIMPLE,
        "default_level": HandlingLevel.GRID,
        "extra_fields": [
            {
                "code": "hazard_type",
                "label": "隐患类型",
                "label_en": "Kind of hazard",
                "datatype": "singlevaluelist",
                "required": True,
                "values": [
                    {"key": "corridor", "name": "楼道堆物"},
                    {"key": "fire", "name": "消防设施"},
                    {"key": "ebike", "name": "电动车违规充电"},
                    {"key": "gas", "name": "燃气"},
                    {"key": "structure", "name": "建筑设施"},
                    {"key": "other", "name": "其他"},
                ],
            }
        ],
        "response_templates": [
            {"title": "已清理", "text": "经网格员现场核查，楼道杂物已清理完毕，消防通道已恢复畅通。"}
        ],
    },
    {
        "code": "petition",
        "name": "信访事项",
        "name_en": "Petition (信访)",
        "kind": CaseKind.PETITION,
        "default_complexity": Complexity.COMPLEX,
        "default_level": HandlingLevel.STREET,
        "description": "按《信访工作条例》办理：15日内告知是否受理，受理后60日内办结，可延长一次不超过30日。",
    },
    {
        "code": "police",
        "name": "公安服务",
        "name_en": "Police services",
        "default_complexity": Complexity.GENERAL,
        "default_level": HandlingLevel.STREET,
        "default_unit_kind": "police_station",
    },
    {
        "code": "residence-permit",
        "name": "居住证办理（代办）",
        "name_en": "Residence permit (proxy service)",
        "kind": CaseKind.SERVICE,
        "default_complexity": Complexity.GENERAL,
        "default_level": HandlingLevel.COMMUNITY,
        "default_unit_kind": "police_station",
        "is_public": False,
    },
    {
        "code": "no-crime-certificate",
        "name": "无违法犯罪记录证明（代办）",
        "name_en": "Certificate of no criminal record (proxy service)",
        "kind": CaseKind.SERVICE,
        "default_complexity": Complexity.SIMPLE,
        "default_level": HandlingLevel.COMMUNITY,
        "default_unit_kind": "police_station",
        "is_public": False,
    },
    {
        "code": "environment",
        "name": "环境卫生",
        "name_en": "Environment and sanitation",
        "default_complexity": Complexity.SIMPLE,
        "default_level": HandlingLevel.GRID,
    },
    {
        "code": "other",
        "name": "其他问题",
        "name_en": "Other",
        "default_complexity": Complexity.GENERAL,
        "default_level": HandlingLevel.STREET,
    },
]


@transaction.atomic
def ensure_default_categories() -> int:
    """Create the default categories that don't exist yet; returns how many were created."""
    existing = set(Category.objects.filter(district__isnull=True).values_list("code", flat=True))
    created = [
        Category(sort_order=i * 10, **spec) for i, spec in enumerate(DEFAULT_CATEGORIES) if spec["code"] not in existing
    ]
    Category.objects.bulk_create(created)
    return len(created)
