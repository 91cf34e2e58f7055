from django.urls import path

from . import views

app_name = "grid"

urlpatterns = [
    path("", views.my_grid, name="my_grid"),
    path("households/<int:pk>/", views.household, name="household"),
    path("visits/", views.visit_list, name="visits"),
    path("visits/new/", views.visit_new, name="visit_new"),
    path("visits/<int:pk>/photos/<int:photo>/", views.visit_photo, name="visit_photo"),
    path("model/", views.model_page, name="model"),
]
