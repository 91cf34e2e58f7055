from django.urls import path

from . import category_views as views

app_name = "case_categories"

urlpatterns = [
    path("", views.category_list, name="list"),
    path("new/", views.category_create, name="create"),
    path("export/", views.category_export, name="export"),
    path("<int:pk>/edit/", views.category_edit, name="edit"),
    path("<int:pk>/delete/", views.category_delete, name="delete"),
]
