"""Helpers for the JSON API tests: token clients and a case in street 1."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from fengqiao.accounts.token_services import create_token
from fengqiao.cases import services
from fengqiao.regions.models import Level, Region


def token_for(user: Any) -> str:
    _row, raw = create_token(actor=user, name="test app", days=30)
    return raw


class ApiClient:
    """A test client that sends a bearer token (and English unless told otherwise)."""

    def __init__(self, user: Any | None = None, *, token: str | None = None, language: str = "en") -> None:
        self.client = Client()
        self.headers: dict[str, str] = {"Accept-Language": language}
        if user is not None or token is not None:
            self.headers["Authorization"] = f"Bearer {token or token_for(user)}"

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params, headers=self.headers)

    def post(self, path: str, data: Any = None) -> Any:
        return self.client.post(path, data or {}, content_type="application/json", headers=self.headers)

    def post_multipart(self, path: str, data: dict[str, Any]) -> Any:
        return self.client.post(path, data, headers=self.headers)


def photo(name: str = "p.jpg", size: tuple[int, int] = (40, 30), fmt: str = "JPEG") -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, fmt)
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/jpeg")


def grid_of(user: Any) -> Region:
    street = Region.objects.get(pk=user.unit.region_id)
    grid = Region.objects.filter(level=Level.GRID, path__under=street.path).order_by("path").first()
    assert grid is not None
    return grid


def submit(category: Any, grid: Region, **kw: Any) -> Any:
    kw.setdefault("description", "楼道里堆满了杂物，影响通行")
    return services.submit_case(
        category=category,
        channel="qr",
        community=grid.parent,
        lng=grid.centroid_lng,
        lat=grid.centroid_lat,
        **kw,
    )
