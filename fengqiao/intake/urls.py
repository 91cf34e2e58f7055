"""Public resident pages under /r/ (no login) and the staff pages that print the codes.

Community codes are the 12-digit statistical division codes, so ``/r/<code>/``
cannot collide with the fixed words below.
"""

from django.urls import path, re_path

from . import views

app_name = "intake"

CODE = r"(?P<code>[0-9]{12})"
TOKEN = r"(?P<token>[A-Za-z0-9_-]{16,64})"  # noqa: S105 - a URL pattern, not a secret

urlpatterns = [
    # staff
    path("codes/", views.qr_list, name="qr_list"),
    path("codes/export/", views.qr_export, name="qr_export"),
    path("posters/", views.posters, name="posters"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:pk>/retry/", views.inbox_retry, name="inbox_retry"),
    re_path(rf"^poster/{CODE}/$", views.poster, name="poster"),
    # public
    re_path(rf"^qr/{CODE}\.png$", views.qr_png, name="qr_png"),
    re_path(rf"^qr/{CODE}\.svg$", views.qr_svg, name="qr_svg"),
    path("track/", views.lookup, name="lookup"),
    re_path(rf"^t/{TOKEN}/$", views.track, name="track"),
    re_path(rf"^t/{TOKEN}/sent/$", views.submitted, name="submitted"),
    re_path(rf"^{CODE}/$", views.report, name="report"),
]
