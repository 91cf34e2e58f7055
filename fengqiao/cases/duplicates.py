"""Duplicate suggestion: earlier open cases that are probably the same problem.

At intake and at triage staff are offered earlier cases to merge with
(``suggest_duplicates``). A candidate must be, in SQL first (a bounded query):

- of the same category, still open, received within the last
  ``case.duplicate_window_days`` days (system parameter, default 30) before the
  new report, inside the user's data scope when a user is given;
- near the same place: within ``case.duplicate_radius_m`` metres (default 300)
  when both have coordinates (a bounding box in SQL, then the haversine
  distance), otherwise in the same grid, otherwise in the same community.

Then the text decides. Chinese has no spaces, so the text is segmented with
jieba (the dictionary is loaded once per process, lazily, with its logging
silenced); punctuation and stop words (function words and the phrases every
report contains: 反映, 请尽快处理 …) are dropped. Two similarities are mixed:

- a cosine over the words (jieba's search mode, so 拖欠工资 also yields 拖欠 and
  工资), each weighted by its information content ``log(N / freq)`` from
  jieba's dictionary frequencies (an IDF over a large general corpus: 杂物 weighs
  far more than 里 or 了); words that only say where (楼道, 门口, 小区 …) weigh
  about a third, since the distance already scores the place;
- the overlap of character bigrams of the cleaned text (mean of Dice and overlap
  coefficients), which is robust where segmentation differs (单元楼/道 vs 楼道)
  and for typos (杂务 for 杂物).

The score is ``0.7 × text + 0.3 × place`` (place: 1 at the same spot falling to
0.5 at the radius; 0.8 same grid; 0.5 same community). Candidates whose text
similarity is below ``MIN_TEXT`` or whose score is below ``THRESHOLD`` are not
offered. The test ``test_duplicates.py`` prints precision and recall on a small
labelled set of realistic reports.
"""

from __future__ import annotations

import datetime
import logging
import math
import threading
import unicodedata
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone

from fengqiao.system.selectors import get_parameter

from .models import OPEN_STATES, Case, Category

if TYPE_CHECKING:
    from fengqiao.regions.models import Region

DEFAULT_WINDOW_DAYS = 30
DEFAULT_RADIUS_M = 300
MAX_CANDIDATES = 200
TEXT_WEIGHT = 0.7
PLACE_WEIGHT = 0.3
MIN_TEXT = 0.25
THRESHOLD = 0.4
EARTH_RADIUS_M = 6_371_008.8

#: function words and the stock phrases of residents' reports (they say nothing about *which* problem)
STOP_WORDS = frozenset(
    """
    的 了 着 过 地 得 在 是 有 和 与 及 或 并 而 且 就 都 也 还 又 再 很 太 更 最 非常 特别 十分 比较
    我 你 他 她 它 我们 你们 他们 她们 咱们 自己 本人 大家 有人 别人 这 那 这个 那个 这里 那里 这边 那边
    这些 那些 这样 那样 里 上 下 中 内 外 前 后 边 旁 吗 呢 吧 啊 呀 哦 嘛 啦 哈 把 被 让 给 对 向 从 到
    为 为了 因为 所以 但是 但 可是 如果 虽然 已经 一直 一些 一下 一个 一次 个 些 件 位 名 种 点 之 其
    请 麻烦 帮忙 帮 希望 要求 请求 反映 投诉 举报 问题 情况 事情 事 处理 解决 尽快 及时 马上 赶紧 相关
    部门 有关 领导 政府 工作人员 现在 目前 最近 近期 近来 经常 总是 天天 每天 好几天 多次 严重 影响
    居民 群众 住户 业主 市民 谢谢 感谢 您好 你好 没有 不 没 能 会 可以 要 想 说 去 来 做 看 造成 导致
    存在 出现 发生 进行 已 未 无 该 此 各 每
    """.split()  # noqa: SIM905 - a word list reads better as text
)

#: words that say *where*, not *what* (the distance already scores the place): weighed less, no bigrams
PLACE_WORDS = frozenset(
    """
    楼道 楼梯 楼梯间 楼上 楼下 楼顶 小区 门口 大门口 大门 单元 单元楼 单元门 路口 人行道 马路 楼 栋 幢 号楼 层
    家 我家 他家 邻居 邻居家 对面 隔壁 附近 旁边 周边 路边 街边 街道 社区 村 院子 院内 广场 地下室 车库
    """.split()  # noqa: SIM905 - a word list reads better as text
)
PLACE_WORD_FACTOR = 0.35


@dataclass
class Draft:
    """A report not yet saved (staff intake calls ``suggest_duplicates`` before submitting)."""

    description: str
    category: Category | int | None
    title: str = ""
    lng: float | None = None
    lat: float | None = None
    community: Region | int | None = None
    grid: Region | int | None = None
    received_at: datetime.datetime | None = None
    pk: int | None = None


# --- text -------------------------------------------------------------------------------


class _Segmenter:
    """jieba's tokenizer, initialised once per process on first use (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._log_total = 0.0

    def _load(self) -> Any:
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    with warnings.catch_warnings():  # jieba's old regexes warn when first compiled
                        warnings.simplefilter("ignore", DeprecationWarning)
                        warnings.simplefilter("ignore", SyntaxWarning)
                        import jieba

                    jieba.setLogLevel(logging.WARNING)
                    logging.getLogger("jieba").setLevel(logging.WARNING)
                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                    self._log_total = math.log(tokenizer.total)
                    self._tokenizer = tokenizer
        return self._tokenizer

    def cut(self, text: str) -> list[str]:
        return list(self._load().lcut(text))

    def cut_for_search(self, text: str) -> list[str]:
        """Words plus the shorter words inside long ones (拖欠工资 → 拖欠, 工资, 拖欠工资)."""
        return list(self._load().cut_for_search(text))

    def weight(self, word: str) -> float:
        """Information content of ``word``: ``log(N / freq)``; unknown words count as rare."""
        freq = self._load().FREQ.get(word) or 0
        weight = self._log_total if freq <= 0 else max(1.0, self._log_total - math.log(freq))
        return weight * PLACE_WORD_FACTOR if word in PLACE_WORDS else weight


_segmenter = _Segmenter()


def _is_noise(token: str) -> bool:
    """Punctuation, symbols and whitespace only."""
    return all(unicodedata.category(ch)[0] in "PSZC" for ch in token)


def tokens(text: str, *, search: bool = False) -> list[str]:
    """Meaningful words of ``text``: segmented, lower-cased, without punctuation and stop words.

    ``search``: also the shorter words inside long ones (jieba's search mode).
    """
    text = unicodedata.normalize("NFKC", text or "").lower()
    words = _segmenter.cut_for_search(text) if search else _segmenter.cut(text)
    return [t for t in (w.strip() for w in words) if t and not _is_noise(t) and t not in STOP_WORDS]


def bigrams(words: list[str]) -> set[str]:
    """Character bigrams of the cleaned text (kept words joined, place words left out);
    the single character of a one-character text."""
    joined = "".join(w for w in words if w not in PLACE_WORDS)
    if len(joined) < 2:
        return set(joined)
    return {joined[i : i + 2] for i in range(len(joined) - 1)}


@dataclass(frozen=True)
class TextProfile:
    words: Counter[str]
    norm: float
    grams: frozenset[str]


def profile(text: str) -> TextProfile:
    counts = Counter(tokens(text, search=True))
    norm = math.sqrt(sum((n * _segmenter.weight(w)) ** 2 for w, n in counts.items()))
    return TextProfile(counts, norm, frozenset(bigrams(tokens(text))))


def text_similarity(a: TextProfile, b: TextProfile) -> float:
    """0..1: half the weighted word cosine, half the bigram overlap.

    The bigram overlap is the mean of the Dice coefficient and the overlap
    coefficient (shared / smaller set), so a short report ("路灯不亮") can still
    match a long one that says the same and more.
    """
    cosine = 0.0
    if a.norm and b.norm:
        dot = sum(n * b.words[w] * _segmenter.weight(w) ** 2 for w, n in a.words.items() if w in b.words)
        cosine = dot / (a.norm * b.norm)
    overlap = 0.0
    if a.grams and b.grams:
        shared = len(a.grams & b.grams)
        dice = 2 * shared / (len(a.grams) + len(b.grams))
        overlap = (dice + shared / min(len(a.grams), len(b.grams))) / 2
    return min(1.0, 0.5 * cosine + 0.5 * overlap)


# --- place ------------------------------------------------------------------------------


def haversine_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _bbox(lng: float, lat: float, radius_m: float) -> Q:
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlng = dlat / max(0.01, math.cos(math.radians(lat)))
    return Q(lat__range=(lat - dlat, lat + dlat), lng__range=(lng - dlng, lng + dlng))


@dataclass(frozen=True)
class _Ref:
    pk: int | None
    text: str
    category_id: int | None
    lng: float | None
    lat: float | None
    grid_id: int | None
    community_id: int | None
    received_at: datetime.datetime


def _id(value: Any) -> int | None:
    if value is None:
        return None
    return int(value) if isinstance(value, int) else int(value.pk) if value.pk is not None else None


def _reference(obj: Case | Draft) -> _Ref:
    category_id: int | None
    grid_id: int | None
    community_id: int | None
    if isinstance(obj, Case):
        category_id, grid_id, community_id = obj.category_id, obj.grid_id, obj.community_id
    else:
        category_id, grid_id, community_id = _id(obj.category), _id(obj.grid), _id(obj.community)
    lng, lat = obj.lng, obj.lat
    if lng is None or lat is None:
        lng = lat = None
    elif grid_id is None:
        from fengqiao.regions.locate import locate

        grid, community = locate(lng, lat)
        grid_id = grid.pk if grid is not None else None
        community_id = community_id or (community.pk if community is not None else None)
    text = f"{obj.title or ''} {obj.description or ''}".strip()
    return _Ref(obj.pk, text, category_id, lng, lat, grid_id, community_id, obj.received_at or timezone.now())


def _place_score(ref: _Ref, case: Case, radius_m: float) -> float:
    if ref.lng is not None and ref.lat is not None and case.lng is not None and case.lat is not None:
        distance = haversine_m(ref.lng, ref.lat, case.lng, case.lat)
        return 1.0 - 0.5 * distance / radius_m if distance <= radius_m else 0.0
    if ref.grid_id is not None and case.grid_id == ref.grid_id:
        return 0.8
    if ref.community_id is not None and case.community_id == ref.community_id:
        return 0.5
    return 0.0


def _int_parameter(key: str, default: int) -> int:
    value = get_parameter(key, default)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def candidates(ref: _Ref, *, user: Any = None, radius_m: float | None = None) -> list[Case]:
    """The bounded SQL pre-selection: same category, open, in the window, near the place."""
    if ref.category_id is None:
        return []
    radius = radius_m or _int_parameter("case.duplicate_radius_m", DEFAULT_RADIUS_M)
    window = datetime.timedelta(days=_int_parameter("case.duplicate_window_days", DEFAULT_WINDOW_DAYS))
    near: list[Q] = []
    if ref.lng is not None and ref.lat is not None:
        near.append(_bbox(ref.lng, ref.lat, radius))
    if ref.grid_id is not None:
        near.append(Q(grid_id=ref.grid_id))
    if ref.community_id is not None:
        near.append(Q(community_id=ref.community_id))
    if not near:
        return []
    area = near[0]
    for q in near[1:]:
        area |= q
    qs = Case.objects.restrict(user, "view") if user is not None else Case.objects.all()
    qs = qs.filter(
        area,
        category_id=ref.category_id,
        state__in=OPEN_STATES,
        received_at__gte=ref.received_at - window,
        received_at__lte=ref.received_at,
    )
    if ref.pk is not None:
        qs = qs.exclude(pk=ref.pk)
    return list(qs.select_related("category", "community").order_by("-received_at", "-id")[:MAX_CANDIDATES])


def suggest_duplicates(
    case_or_draft: Case | Draft, limit: int = 5, *, user: Any = None, radius_m: float | None = None
) -> list[tuple[Case, float]]:
    """Earlier open cases that look like the same problem, best first, with a score in 0..1.

    ``case_or_draft``: a saved case (at triage) or a ``Draft`` (at intake, before saving).
    ``user``: restrict the candidates to what this user may see (merging needs it).
    """
    ref = _reference(case_or_draft)
    if not ref.text or ref.category_id is None:
        return []
    found = candidates(ref, user=user, radius_m=radius_m)
    if not found:
        return []
    radius = radius_m or _int_parameter("case.duplicate_radius_m", DEFAULT_RADIUS_M)
    mine = profile(ref.text)
    scored: list[tuple[Case, float]] = []
    for case in found:
        place = _place_score(ref, case, radius)
        if place <= 0:
            continue
        text = text_similarity(mine, profile(f"{case.title} {case.description}"))
        if text < MIN_TEXT:
            continue
        score = TEXT_WEIGHT * text + PLACE_WEIGHT * place
        if score >= THRESHOLD:
            scored.append((case, round(score, 3)))
    scored.sort(key=lambda pair: (-pair[1], -pair[0].received_at.timestamp()))
    return scored[:limit]
