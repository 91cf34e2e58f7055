from django.urls import path

from . import views

app_name = "teams"

urlpatterns = [
    path("", views.team_list, name="list"),
    path("resolution/", views.resolution, name="resolution"),
    path("resolution/export/", views.resolution_export, name="resolution_export"),
    path("patrols/", views.patrol_list, name="patrols"),
    path("patrols/<int:pk>/", views.patrol_detail, name="patrol"),
    path("patrols/<int:pk>/edit/", views.patrol_edit, name="patrol_edit"),
    path("members/<int:pk>/edit/", views.member_edit, name="member_edit"),
    path("members/<int:pk>/end/", views.member_end, name="member_end"),
    path("members/<int:pk>/reveal/<str:field>/", views.member_reveal, name="member_reveal"),
    path("<int:pk>/", views.team_detail, name="detail"),
    path("<int:pk>/members/add/", views.member_add, name="member_add"),
    path("<int:pk>/patrols/add/", views.patrol_add, name="patrol_add"),
]
