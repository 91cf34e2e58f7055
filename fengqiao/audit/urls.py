from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("", views.operation_list, name="operations"),
    path("export/", views.operation_export, name="operation_export"),
    path("logins/", views.login_list, name="logins"),
    path("logins/export/", views.login_export, name="login_export"),
    path("verify/", views.verify, name="verify"),
    path("<int:pk>/", views.event_detail, name="event_detail"),
]
