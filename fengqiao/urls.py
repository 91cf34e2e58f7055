from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from fengqiao.api import api
from fengqiao.dashboard import views as dashboard_views

# Django's own admin bypasses the data scope, so it is for superusers only
# (maintenance); staff work in Fengqiao's own pages, which restrict every read.
admin.site.has_permission = lambda request: bool(  # type: ignore[method-assign]
    request.user.is_active and request.user.is_superuser
)

urlpatterns = [
    path("", dashboard_views.home, name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("fengqiao.accounts.urls")),
    path("registry/", include("fengqiao.registry.urls")),
    path("audit/", include("fengqiao.audit.urls")),
    path("regions/", include("fengqiao.regions.urls")),
    path("units/", include("fengqiao.units.urls")),
    path("system/", include("fengqiao.system.urls")),
    path("workdays/", include("fengqiao.workdays.urls")),
    path("notifications/", include("fengqiao.notifications.urls")),
    path("r/", include("fengqiao.intake.urls")),
    path("cases/categories/", include("fengqiao.cases.category_urls")),
    path("figures/", include("fengqiao.cases.figures_urls")),
    path("cases/", include("fengqiao.cases.urls")),
    path("teams/", include("fengqiao.teams.urls")),
    path("grid/", include("fengqiao.grid.urls")),
    path("open311/", include("fengqiao.open311.urls")),
    path("api/v1/", api.urls),
    path("webhooks/", include("fengqiao.webhooks.urls")),
    path("django-admin/", admin.site.urls),
]

if getattr(settings, "FENGQIAO_BENCH_ENDPOINTS", False):
    from fengqiao.core import bench_views

    urlpatterns += [path("bench/bare-write/", bench_views.bare_write)]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
