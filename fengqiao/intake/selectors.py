"""Reads for the resident pages (no login) and the staff QR pages (data scope)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.signals import post_delete, post_save
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy

from fengqiao.cases.models import Case, Category
from fengqiao.regions.models import Level, Region

from . import ratelimit
from .models import Submission

#: how long one process trusts what it read about a community and its categories (the public form is
#: the busiest page; saving a region or category in this process forgets at once, others within this time)
PUBLIC_CACHE_SECONDS = 30.0
_public_cache: dict[tuple[str, Any], tuple[float, Any]] = {}
_public_lock = threading.Lock()


def _cached(key: tuple[str, Any], load: Callable[[], Any]) -> Any:
    now = time.monotonic()
    hit = _public_cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    with _public_lock:
        if len(_public_cache) > 5000:
            _public_cache.clear()
        _public_cache[key] = (now + PUBLIC_CACHE_SECONDS, value)
    return value


def clear_public_cache(*args: Any, **kwargs: Any) -> None:
    """Forget the cached communities and categories (connected to saves of regions and categories)."""
    with _public_lock:
        _public_cache.clear()


for _model in (Region, Category):
    post_save.connect(clear_public_cache, sender=_model, dispatch_uid=f"intake-public-cache-save-{_model.__name__}")
    post_delete.connect(clear_public_cache, sender=_model, dispatch_uid=f"intake-public-cache-del-{_model.__name__}")


def public_community(code: str) -> Region:
    """The current community with this code (public: the code is printed on the poster), or 404."""
    if not code.isdigit():
        raise Http404
    region = _cached(("community", (code, timezone.localdate())), lambda: _load_community(code))
    if region is None:
        raise Http404
    return cast(Region, region)


def _load_community(code: str) -> Region | None:
    return (
        Region.objects.current()
        .filter(code=code, level=Level.COMMUNITY)
        .select_related("parent", "parent__parent")
        .first()
    )


def place_names(community: Region) -> dict[str, str]:
    """District, street and community names of a community (for headings and posters)."""
    street = community.parent
    district = street.parent if street is not None else None
    return {
        "district": district.name if district is not None else "",
        "street": street.name if street is not None else "",
        "community": community.name,
    }


def district_of(community: Region) -> Region | None:
    if community.parent is not None and community.parent.parent is not None:
        parent = community.parent.parent
        if parent.level == Level.COUNTY:
            return parent
    return Region.objects.current().filter(level=Level.COUNTY, path=community.path[:6]).first()


def public_categories(community: Region) -> list[Category]:
    """Categories a resident of ``community`` may choose: its district's own and the global ones.

    A district's category replaces the global one with the same code.
    """
    return list(_cached(("categories", community.pk), lambda: _load_public_categories(community)))


def _load_public_categories(community: Region) -> list[Category]:
    district = district_of(community)
    where = Q(district__isnull=True)
    if district is not None:
        where |= Q(district=district)
    rows = list(Category.objects.filter(where, is_public=True, is_active=True).order_by("sort_order", "code"))
    own = {c.code for c in rows if c.district_id is not None}
    return [c for c in rows if c.district_id is not None or c.code not in own]


def category_label(category: Category) -> str:
    language = get_language() or ""
    if language.startswith("en") and category.name_en:
        return category.name_en
    return category.name


def _geometry(boundary: Any) -> dict[str, Any] | None:
    if not isinstance(boundary, dict):
        return None
    if boundary.get("type") == "Feature":
        geometry = boundary.get("geometry")
        return geometry if isinstance(geometry, dict) else None
    if boundary.get("type") == "FeatureCollection":
        return None
    return boundary


def community_map(community: Region) -> dict[str, Any] | None:
    """The community's boundary and its grids as a GeoJSON FeatureCollection, or None without a boundary."""
    features: list[dict[str, Any]] = []
    geometry = _geometry(community.boundary)
    if geometry is not None:
        features.append(
            {"type": "Feature", "geometry": geometry, "properties": {"kind": "community", "name": community.name}}
        )
    grids = Region.objects.current().filter(parent=community, level=Level.GRID).order_by("path")
    for grid in grids.only("name", "boundary"):
        grid_geometry = _geometry(grid.boundary)
        if grid_geometry is not None:
            features.append(
                {"type": "Feature", "geometry": grid_geometry, "properties": {"kind": "grid", "name": grid.name}}
            )
    if not features:
        return None
    return {"type": "FeatureCollection", "features": features}


def public_base_url(request: HttpRequest) -> str:
    """``settings.FENGQIAO_PUBLIC_BASE_URL`` (e.g. https://fengqiao.example.gov.cn) or this request's origin."""
    base = str(getattr(settings, "FENGQIAO_PUBLIC_BASE_URL", "") or "").rstrip("/")
    if base:
        return base
    return request.build_absolute_uri("/").rstrip("/")


def report_url(request: HttpRequest, community: Region) -> str:
    """The absolute URL of the community's report form (what its QR code encodes)."""
    return public_base_url(request) + reverse("intake:report", args=[community.code])


def tracking_url(request: HttpRequest, token: str) -> str:
    return public_base_url(request) + reverse("intake:track", args=[token])


# --- the inbox -----------------------------------------------------------------------------


def submission_for_token(token: str) -> Submission | None:
    """The inbox row a resident's private token belongs to (public: the token is the key)."""
    if not token or len(token) > 64:
        return None
    return Submission.objects.select_related("category", "community__parent", "case").filter(public_token=token).first()


def case_for_token(token: str) -> Case | None:
    """The case behind a private token, whether the token was the case's own or its inbox row's;
    None while the report is still in the inbox (or could not be registered) and for unknown tokens.
    (Open311's ``GET tokens/{token}``: a service request id once this returns a case.)"""
    if not token or len(token) > 64:
        return None
    case = Case.objects.select_related("category", "community").filter(public_token=token).first()
    if case is not None:
        return case
    submission = Submission.objects.filter(public_token=token).select_related("case").first()
    return submission.case if submission is not None else None


def submission_by_key(idempotency_key: str) -> Submission | None:
    """The inbox row received with this idempotency key (status, reason, case), e.g. Open311's
    ``open311:<token>``; None if no report was received with it."""
    if not idempotency_key or len(idempotency_key) > 64:
        return None
    return Submission.objects.select_related("case").filter(idempotency_key=idempotency_key).first()


def inbox(user: Any) -> QuerySet[Submission]:
    """Inbox rows in the user's scope for viewing received reports (failed first, then pending)."""
    qs: QuerySet[Submission] = Submission.objects.restrict(user, "view")
    return qs.select_related("category", "community").order_by("status", "received_at", "id")


# --- staff side ---------------------------------------------------------------------------


def staff_communities(user: Any) -> QuerySet[Region]:
    """Current communities in the user's scope for viewing regions (nothing without the permission)."""
    qs: QuerySet[Region] = Region.objects.restrict(user, "view").current().filter(level=Level.COMMUNITY)
    return qs.select_related("parent", "parent__parent").order_by("path")


def staff_community(user: Any, code: str) -> Region:
    community = staff_communities(user).filter(code=code).first()
    if community is None:
        raise Http404
    return community


def staff_streets(user: Any) -> QuerySet[Region]:
    return Region.objects.restrict(user, "view").current().filter(level=Level.STREET).order_by("path")


BUCKET_LABELS = {
    "submit": gettext_lazy("reports and additions"),
    "view": gettext_lazy("page views"),
    "track": gettext_lazy("look-ups by number and phone"),
}


@dataclass(frozen=True)
class RateLimitInfo:
    bucket: str
    label: str
    requests: int
    seconds: int


def rate_limit_table() -> list[RateLimitInfo]:
    return [
        RateLimitInfo(name, str(BUCKET_LABELS.get(name, name)), lim.requests, lim.seconds)
        for name, lim in ratelimit.limits().items()
    ]
