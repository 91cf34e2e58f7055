from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("export/", views.case_export, name="export"),
    path("new/", views.case_create, name="create"),
    path("new/extra-fields/", views.intake_extra_fields, name="intake_extra_fields"),
    path("new/duplicates/", views.intake_duplicates, name="intake_duplicates"),
    path("import/", views.case_import, name="import"),
    path("import/template/", views.import_template, name="import_template"),
    path("duty/", views.duty, name="duty"),
    path("duty/feed/", views.duty_feed, name="duty_feed"),
    path("duty/alerts/<int:pk>/acknowledge/", views.duty_acknowledge, name="duty_acknowledge"),
    path("<str:number>/", views.case_detail, name="detail"),
    path("<str:number>/act/<str:action>/", views.case_action, name="action"),
    path("<str:number>/act/<str:action>/people/", views.target_people, name="target_people"),
    path("<str:number>/reveal/<str:field>/", views.reveal, name="reveal"),
    path("<str:number>/files/<int:pk>/", views.attachment, name="attachment"),
    path("<str:number>/files/<int:pk>/thumbnail/", views.thumbnail, name="thumbnail"),
]
