"""The scoring function: monotone in the factor levels, thresholds respected, reasons add up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fengqiao.grid import scoring
from fengqiao.grid.scoring import FactorSpec, LevelSpec, ModelSpec

points = st.floats(min_value=0, max_value=50, allow_nan=False, allow_infinity=False)


@st.composite
def specs(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    factors = []
    for i in range(n):
        scores = sorted(draw(st.lists(points, min_size=2, max_size=5)))
        levels = tuple(LevelSpec(f"l{j}", f"L{j}", s) for j, s in enumerate(scores))
        factors.append(
            FactorSpec(
                code=f"f{i}",
                label=f"F{i}",
                levels=levels,
                weight=draw(st.floats(min_value=0, max_value=10, allow_nan=False)),
                required=draw(st.booleans()),
            )
        )
    yellow = draw(st.floats(min_value=0.5, max_value=50))
    orange = yellow + draw(st.floats(min_value=0.5, max_value=50))
    red = orange + draw(st.floats(min_value=0.5, max_value=50))
    return ModelSpec(tuple(factors), {"red": red, "orange": orange, "yellow": yellow})


@st.composite
def spec_and_two_answers(draw):
    """A spec and answers a <= b level by level (levels are sorted by points)."""
    spec = draw(specs())
    a, b = {}, {}
    for factor in spec.factors:
        i = draw(st.integers(min_value=0, max_value=len(factor.levels) - 1))
        j = draw(st.integers(min_value=i, max_value=len(factor.levels) - 1))
        a[factor.code] = factor.levels[i].key
        b[factor.code] = factor.levels[j].key
    return spec, a, b


@given(spec_and_two_answers())
def test_monotone_in_factor_levels(case):
    spec, low, high = case
    lo, hi = scoring.score(spec, low), scoring.score(spec, high)
    assert hi.score >= lo.score - 1e-6
    assert scoring.SEVERITY[hi.tier] >= scoring.SEVERITY[lo.tier]


@given(spec_and_two_answers())
def test_thresholds_respected_and_reasons_add_up(case):
    spec, answers, _ = case
    result = scoring.score(spec, answers)
    t = spec.thresholds
    expected = (
        "red"
        if result.score >= t["red"]
        else "orange"
        if result.score >= t["orange"]
        else ("yellow" if result.score >= t["yellow"] else "green")
    )
    assert result.tier == expected
    assert abs(sum(c.points for c in result.contributions) - result.score) < 0.05 * max(1, len(spec.factors))
    assert all(c.points > 0 for c in result.contributions)
    assert [c.points for c in result.contributions] == sorted((c.points for c in result.contributions), reverse=True)


@given(st.floats(min_value=0, max_value=1000, allow_nan=False), specs())
def test_tier_for_is_monotone_in_the_total(total, spec):
    higher = scoring.tier_for(total + 1, spec.thresholds)
    assert scoring.SEVERITY[higher] >= scoring.SEVERITY[scoring.tier_for(total, spec.thresholds)]


def test_boundaries_are_inclusive():
    thresholds = {"red": 15, "orange": 8, "yellow": 3}
    assert scoring.tier_for(15, thresholds) == "red"
    assert scoring.tier_for(14.99, thresholds) == "orange"
    assert scoring.tier_for(8, thresholds) == "orange"
    assert scoring.tier_for(3, thresholds) == "yellow"
    assert scoring.tier_for(2.99, thresholds) == "green"
    assert scoring.tier_for(0, thresholds) == "green"


def test_default_model_reasons_and_missing():
    spec = scoring.spec_from_json(scoring.DEFAULT_FACTORS, scoring.DEFAULT_THRESHOLDS, scoring.DEFAULT_FOLLOW_UP_DAYS)
    result = scoring.score(
        spec, {"emotional": "severe", "domestic_violence": "suspected", "neighbour": "minor", "police_calls": "one_two"}
    )
    assert result.tier == "red"  # 6 + 2x5 + 1 + 2 = 19
    assert result.score == 19
    assert [c.code for c in result.contributions] == ["domestic_violence", "emotional", "police_calls", "neighbour"]
    missing = scoring.missing_required(spec, {"emotional": "none"})
    assert [f.code for f in missing] == ["domestic_violence", "neighbour", "police_calls"]
    assert scoring.unknown_answers(spec, {"emotional": "nonsense", "nope": "x", "debt": ""}) == ["emotional", "nope"]
