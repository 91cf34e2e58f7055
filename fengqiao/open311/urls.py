from django.urls import path, re_path

from . import views

app_name = "open311"

FMT = r"\.(?P<fmt>[A-Za-z0-9]{1,10})$"

urlpatterns = [
    re_path(r"^v2/discovery" + FMT, views.discovery, name="discovery"),
    re_path(r"^v2/services" + FMT, views.services_list, name="services"),
    re_path(r"^v2/services/(?P<code>[^/]+?)" + FMT, views.service_definition, name="service"),
    re_path(r"^v2/requests" + FMT, views.requests_endpoint, name="requests"),
    re_path(r"^v2/requests/(?P<number>[^/]+?)" + FMT, views.request_detail, name="request"),
    re_path(r"^v2/tokens/(?P<token>[^/]+?)" + FMT, views.token_detail, name="token"),
    path("clients/", views.client_list, name="clients"),
    path("clients/new/", views.client_create, name="client_create"),
    path("clients/<int:pk>/revoke/", views.client_revoke, name="client_revoke"),
]
