import pytest
from django.contrib.auth import get_user_model


@pytest.mark.django_db
def test_django_admin_is_for_superusers_only(client):
    User = get_user_model()
    staff = User.objects.create_user("staffer", password="x", is_staff=True)
    client.force_login(staff)
    response = client.get("/django-admin/")
    assert response.status_code == 302  # sent to the admin login, not let in
    root = User.objects.create_superuser("root", password="x")
    client.force_login(root)
    assert client.get("/django-admin/").status_code == 200
