from django.urls import path

from . import views

app_name = "workdays"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:year>/", views.year_view, name="year"),
    path("<int:year>/export/", views.year_export, name="export"),
    path("<int:year>/complete/", views.year_complete, name="year_complete"),
    path("day/<str:day>/", views.day_edit, name="day"),
]
