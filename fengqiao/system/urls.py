from django.urls import path

from . import views

app_name = "system"

urlpatterns = [
    path("", views.index, name="index"),
    path("parameters/", views.parameter_list, name="parameters"),
    path("parameters/new/", views.parameter_create, name="parameter_create"),
    path("parameters/export/", views.parameter_export, name="parameter_export"),
    path("parameters/<int:pk>/row/", views.parameter_row, name="parameter_row"),
    path("parameters/<int:pk>/edit/", views.parameter_edit, name="parameter_edit"),
    path("parameters/<int:pk>/delete/", views.parameter_delete, name="parameter_delete"),
    path("dictionaries/", views.dictionary_list, name="dictionaries"),
    path("dictionaries/new/", views.dictionary_create, name="dictionary_create"),
    path("dictionaries/export/", views.dictionary_export, name="dictionary_export"),
    path("dictionaries/<int:pk>/", views.dictionary_detail, name="dictionary_detail"),
    path("dictionaries/<int:pk>/edit/", views.dictionary_edit, name="dictionary_edit"),
    path("dictionaries/<int:pk>/delete/", views.dictionary_delete, name="dictionary_delete"),
    path("dictionaries/<int:pk>/items/", views.item_create, name="item_create"),
    path("items/<int:pk>/row/", views.item_row, name="item_row"),
    path("items/<int:pk>/edit/", views.item_edit, name="item_edit"),
    path("items/<int:pk>/delete/", views.item_delete, name="item_delete"),
]
