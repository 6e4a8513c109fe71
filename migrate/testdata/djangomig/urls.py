from django.urls import path, re_path

from . import views

urlpatterns = [
    path("api/users/<int:user_id>", views.user, name="user"),
    path("api/time/<int:user_id>", views.timed, name="timed"),
    path("api/catalog", views.catalog, name="catalog"),
    path("api/moved/<int:user_id>", views.moved, name="moved"),
    path("api/framed", views.framed, name="framed"),
    path("docs/<path:p>", views.docs, name="docs"),
    re_path(r"^r/(?P<rest>.*)$", views.rest, name="rest"),
]
