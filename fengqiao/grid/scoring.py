"""Household assessment scoring (家庭评估分色) as a pure function.

An assessment model is a list of factors (emotional dispute, domestic-violence
tendency, neighbour conflict, …), each with levels that carry points, a
weight and whether it is required, plus three thresholds: a weighted total at
or above ``red`` is red, else at or above ``orange`` orange, else at or above
``yellow`` yellow, else green. Every tier has a follow-up interval in days.

Nothing here touches the database: ``score(spec, answers)`` gives the total,
the tier and the contributions (which factors gave how many points: the
reasons shown), reproducible from the stored answers and model version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RED, ORANGE, YELLOW, GREEN = "red", "orange", "yellow", "green"
#: most severe first
TIERS: tuple[str, ...] = (RED, ORANGE, YELLOW, GREEN)
SEVERITY = {tier: len(TIERS) - i for i, tier in enumerate(TIERS)}  # red 4 … green 1


@dataclass(frozen=True)
class LevelSpec:
    key: str
    label: str
    score: float
    label_en: str = ""


@dataclass(frozen=True)
class FactorSpec:
    code: str
    label: str
    levels: tuple[LevelSpec, ...]
    weight: float = 1.0
    required: bool = False
    label_en: str = ""

    def level(self, key: str) -> LevelSpec | None:
        return next((lv for lv in self.levels if lv.key == key), None)


@dataclass(frozen=True)
class ModelSpec:
    factors: tuple[FactorSpec, ...]
    #: minimum weighted totals of red, orange and yellow (red > orange > yellow > 0)
    thresholds: Mapping[str, float] = field(default_factory=lambda: {RED: 15.0, ORANGE: 8.0, YELLOW: 3.0})
    #: follow-up interval in days per tier
    follow_up_days: Mapping[str, int] = field(default_factory=lambda: {RED: 7, ORANGE: 14, YELLOW: 30, GREEN: 90})

    def factor(self, code: str) -> FactorSpec | None:
        return next((f for f in self.factors if f.code == code), None)


@dataclass(frozen=True)
class Contribution:
    code: str
    label: str
    level: str
    level_label: str
    points: float


@dataclass(frozen=True)
class Result:
    score: float
    tier: str
    contributions: tuple[Contribution, ...]  # factors that gave points, most first


def tier_for(total: float, thresholds: Mapping[str, float]) -> str:
    """The tier of a weighted total: the first threshold (red, orange, yellow) it reaches."""
    for tier in (RED, ORANGE, YELLOW):
        if total >= float(thresholds[tier]):
            return tier
    return GREEN


def missing_required(spec: ModelSpec, answers: Mapping[str, str]) -> list[FactorSpec]:
    """Required factors without a valid level among ``answers``."""
    return [f for f in spec.factors if f.required and f.level(str(answers.get(f.code) or "")) is None]


def unknown_answers(spec: ModelSpec, answers: Mapping[str, str]) -> list[str]:
    """Codes answered with a level the factor does not have (or factors the model does not have)."""
    bad = []
    for code, key in answers.items():
        if key in (None, ""):
            continue
        factor = spec.factor(code)
        if factor is None or factor.level(str(key)) is None:
            bad.append(code)
    return bad


def score(spec: ModelSpec, answers: Mapping[str, str]) -> Result:
    """Weighted total, tier and contributions; unanswered optional factors count 0.

    Callers refuse assessments with missing required factors first
    (``missing_required``); here an unanswered factor simply gives no points.
    """
    contributions = []
    total = 0.0
    for factor in spec.factors:
        level = factor.level(str(answers.get(factor.code) or ""))
        if level is None:
            continue
        points = float(factor.weight) * float(level.score)
        total += points
        if round(points, 2) > 0:
            contributions.append(Contribution(factor.code, factor.label, level.key, level.label, round(points, 2)))
    contributions.sort(key=lambda c: (-c.points, c.code))
    total = round(total, 2)
    return Result(total, tier_for(total, spec.thresholds), tuple(contributions))


# --- (de)serialisation of the JSON stored on a model version ----------------------------------


def spec_from_json(
    factors: list[dict[str, Any]], thresholds: Mapping[str, Any], follow_up: Mapping[str, Any]
) -> ModelSpec:
    return ModelSpec(
        factors=tuple(
            FactorSpec(
                code=str(f["code"]),
                label=str(f.get("label") or f["code"]),
                label_en=str(f.get("label_en") or ""),
                weight=float(f.get("weight", 1)),
                required=bool(f.get("required", False)),
                levels=tuple(
                    LevelSpec(
                        key=str(lv["key"]),
                        label=str(lv.get("label") or lv["key"]),
                        label_en=str(lv.get("label_en") or ""),
                        score=float(lv.get("score", 0)),
                    )
                    for lv in f.get("levels", [])
                ),
            )
            for f in factors
        ),
        thresholds={t: float(thresholds[t]) for t in (RED, ORANGE, YELLOW)},
        follow_up_days={t: int(follow_up[t]) for t in TIERS},
    )


def _level(key: str, label: str, label_en: str, points: float) -> dict[str, Any]:
    return {"key": key, "label": label, "label_en": label_en, "score": points}


#: the default model: the factors the Yinchuan seed names (情感纠纷, 家暴倾向, 邻里矛盾)
#: and the usual others (debt disputes, mental health, earlier police calls)
DEFAULT_FACTORS: list[dict[str, Any]] = [
    {
        "code": "emotional",
        "label": "情感纠纷",
        "label_en": "Emotional dispute",
        "weight": 1,
        "required": True,
        "levels": [
            _level("none", "无", "None", 0),
            _level("minor", "偶有争吵", "Occasional quarrels", 1),
            _level("frequent", "经常争吵", "Frequent quarrels", 3),
            _level("severe", "矛盾激化", "Escalating conflict", 6),
        ],
    },
    {
        "code": "domestic_violence",
        "label": "家暴倾向",
        "label_en": "Domestic-violence tendency",
        "weight": 2,
        "required": True,
        "levels": [
            _level("none", "无", "None", 0),
            _level("threats", "言语威胁", "Verbal threats", 2),
            _level("suspected", "疑似肢体冲突", "Suspected physical violence", 5),
            _level("confirmed", "有家暴记录", "Recorded domestic violence", 8),
        ],
    },
    {
        "code": "neighbour",
        "label": "邻里矛盾",
        "label_en": "Neighbour conflict",
        "weight": 1,
        "required": True,
        "levels": [
            _level("none", "无", "None", 0),
            _level("minor", "轻微", "Minor", 1),
            _level("ongoing", "持续未解", "Ongoing", 3),
            _level("intense", "冲突激烈", "Intense", 5),
        ],
    },
    {
        "code": "debt",
        "label": "债务纠纷",
        "label_en": "Debt dispute",
        "weight": 1,
        "required": False,
        "levels": [
            _level("none", "无", "None", 0),
            _level("some", "有债务纠纷", "Some", 2),
            _level("serious", "债务纠纷严重", "Serious", 4),
        ],
    },
    {
        "code": "mental_health",
        "label": "精神健康",
        "label_en": "Mental health",
        "weight": 1.5,
        "required": False,
        "levels": [
            _level("none", "无异常", "No concern", 0),
            _level("concern", "情绪异常", "Concern", 2),
            _level("severe", "严重精神障碍未稳定", "Severe, not stable", 5),
        ],
    },
    {
        "code": "police_calls",
        "label": "既往警情",
        "label_en": "Previous police calls",
        "weight": 1,
        "required": True,
        "levels": [
            _level("none", "无", "None", 0),
            _level("one_two", "1至2次", "1 or 2", 2),
            _level("three_plus", "3次及以上", "3 or more", 5),
        ],
    },
]
DEFAULT_THRESHOLDS = {RED: 15, ORANGE: 8, YELLOW: 3}
DEFAULT_FOLLOW_UP_DAYS = {RED: 7, ORANGE: 14, YELLOW: 30, GREEN: 90}
