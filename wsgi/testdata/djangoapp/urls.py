from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("hello/<str:name>/", views.hello, name="hello"),
    path("items/<int:item_id>/", views.item, name="item"),
    path("p/<str:name>/", views.param, name="param"),
    path("json/", views.json_echo, name="json"),
    path("form/", views.form, name="form"),
    path("upload/", views.upload, name="upload"),
    path("session/set/", views.session_set, name="session_set"),
    path("session/get/", views.session_get, name="session_get"),
    path("cookie/set/", views.cookie_set, name="cookie_set"),
    path("cookie/get/", views.cookie_get, name="cookie_get"),
    path("csrf/form/", views.csrf_form, name="csrf_form"),
    path("csrf/submit/", views.csrf_submit, name="csrf_submit"),
    path("redirect/", views.go_redirect, name="redirect"),
    path("urls/", views.urls, name="urls"),
    path("boom/", views.boom, name="boom"),
    path("whoami/", views.whoami, name="whoami"),
    path("download/", views.download, name="download"),
    path("files/<str:name>", views.files, name="files"),
    path("stream/", views.stream, name="stream"),
]
