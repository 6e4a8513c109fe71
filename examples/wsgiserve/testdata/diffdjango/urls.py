from django.contrib import admin
from django.urls import path, re_path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("slash/", views.info),
    path("body", views.body),
    path("form", views.form),
    path("upload", views.upload),
    path("csrf", views.csrf_form),
    path("csrf-post", views.csrf_post),
    path("session", views.session),
    path("stream", views.stream),
    path("file", views.file),
    path("etag", views.etag),
    path("boom", views.boom),
    path("denied", views.denied),
    path("h", views.headers),
    path("bigfile", views.bigfile),
    path("redirect", views.redirect),
    re_path(r"^i/(?P<rest>.*)$", views.info),
]
