from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    chart = selectors.residents_by_community(user)
    return render(
        request,
        "dashboard/home.html",
        {
            "stats": selectors.overview_stats(user),
            "my_grids": selectors.my_grids(user),
            "chart_labels": [name for name, _n in chart],
            "chart_values": [n for _name, n in chart],
            "roles": selectors.my_roles(user),
        },
    )
