from django.urls import path

from . import views

urlpatterns = [
    path("api/users/<int:user_id>", views.user, name="user"),
    path("api/time/<int:user_id>", views.timed, name="timed"),
    path("api/catalog", views.catalog, name="catalog"),
    path("api/moved/<int:user_id>", views.moved, name="moved"),
    path("api/framed", views.framed, name="framed"),
]
