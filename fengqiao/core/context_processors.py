from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def platform(request: HttpRequest) -> dict[str, Any]:
    return {
        "FENGQIAO_TILE_URL": settings.FENGQIAO_TILE_URL,
        "FENGQIAO_TILE_ATTRIBUTION": settings.FENGQIAO_TILE_ATTRIBUTION,
    }
