from django.urls import path

from . import figures_views

app_name = "figures"

urlpatterns = [
    path("", figures_views.figures_page, name="page"),
    path("export/", figures_views.figures_export, name="export"),
]
