from django.urls import path

from . import import_views, place_views, views

app_name = "registry"

urlpatterns = [
    path("residents/", views.resident_list, name="resident_list"),
    path("residents/export/", views.resident_export, name="resident_export"),
    path("residents/import/", import_views.resident_import, name="resident_import"),
    path("residents/import/template/", import_views.resident_import_template, name="resident_import_template"),
    path("residents/new/", views.resident_create, name="resident_create"),
    path("residents/<int:pk>/", views.resident_detail, name="resident_detail"),
    path("residents/<int:pk>/edit/", views.resident_edit, name="resident_edit"),
    path("residents/<int:pk>/groups/", views.membership_add, name="membership_add"),
    path("residents/<int:pk>/groups/<int:mid>/", views.membership_edit, name="membership_edit"),
    path("residents/<int:pk>/reveal/<str:field>/", views.resident_reveal, name="resident_reveal"),
    path("households/", views.household_list, name="household_list"),
    path("households/export/", views.household_export, name="household_export"),
    path("households/new/", views.household_create, name="household_create"),
    path("households/<int:pk>/", views.household_detail, name="household_detail"),
    path("households/<int:pk>/edit/", views.household_edit, name="household_edit"),
    path("places/", place_views.place_list, name="place_list"),
    path("places/export/", place_views.place_export, name="place_export"),
    path("places/import/", place_views.place_import, name="place_import"),
    path("places/new/", place_views.place_create, name="place_create"),
    path("places/<int:pk>/", place_views.place_detail, name="place_detail"),
    path("places/<int:pk>/edit/", place_views.place_edit, name="place_edit"),
    path("organisations/", place_views.organisation_list, name="organisation_list"),
    path("organisations/export/", place_views.organisation_export, name="organisation_export"),
    path("organisations/import/", place_views.organisation_import, name="organisation_import"),
    path("organisations/new/", place_views.organisation_create, name="organisation_create"),
    path("organisations/<int:pk>/", place_views.organisation_detail, name="organisation_detail"),
    path("organisations/<int:pk>/edit/", place_views.organisation_edit, name="organisation_edit"),
    path("grid-options/", views.grid_options, name="grid_options"),
]
