from django.urls import path

from . import views

app_name = "regions"

urlpatterns = [
    path("", views.tree, name="tree"),
    path("export/", views.export, name="export"),
    path("import/", views.import_view, name="import"),
    path("import/template.xlsx", views.import_template, name="import_template"),
    path("grids/<int:pk>/", views.grid_detail, name="grid_detail"),
    path("map/", views.grid_map, name="grid_map"),
    path("map/grids.geojson", views.grid_map_grids, name="grid_map_grids"),
    path("map/areas.geojson", views.grid_map_areas, name="grid_map_areas"),
    path("map/households.geojson", views.grid_map_households, name="grid_map_households"),
    path("map/grids/<int:pk>/", views.grid_map_panel, name="grid_map_panel"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/children/", views.children, name="children"),
    path("<int:pk>/geojson", views.geojson, name="geojson"),
    path("<int:parent_pk>/add/", views.create, name="create"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/retire/", views.retire, name="retire"),
]
