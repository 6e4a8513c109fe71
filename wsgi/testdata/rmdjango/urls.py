from django.contrib import admin
from django.urls import include, path, re_path, register_converter

from . import views


class ColorConverter:
    regex = "red|green"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(ColorConverter, "color")

api_patterns = (
    [
        path("ping/<int:version>/", views.ping, name="ping"),
        re_path(r"^legacy/(?P<code>[A-Z]{3})/$", views.legacy, name="legacy"),
    ],
    "api",
)

shop_patterns = (
    [
        path("", views.index, name="home"),
        path("items/<int:pk>/", views.ItemView.as_view(), name="item"),
        path("items/<int:pk>/edit/", views.edit, name="edit"),
        path("buy/", views.buy, name="buy"),
        path("api/", include(api_patterns, namespace="api")),
    ],
    "shop",
)

urlpatterns = [
    path("", views.index, name="index"),
    path("articles/<int:pk>/", views.article, name="article"),
    path("tags/<slug:slug>/", views.by_slug, name="tag"),
    path("u/<uuid:u>/", views.by_uuid, name="uuid"),
    path("docs/<path:rest>", views.doc, name="docs"),
    path("paint/<color:c>/", views.color, name="paint"),
    # A parameter followed by text it may hold (see rmflask's dot and post).
    path("dot/<str:name>.json", views.dot, name="dot"),
    path("post/<slug:slug>-<int:pk>/", views.post, name="post"),
    path("v/<int:pk>.json", views.article, name="version_json"),
    re_path(r"^archive/(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/$", views.archive, name="archive"),
    # \d, Django's commonest regex: [0-9] in graft's pattern, \p{Nd} in python_regex.
    re_path(r"^day/(?P<year>\d{4})/(?P<month>[\d]{2})/$", views.archive, name="day"),
    re_path(r"^n/([0-9]+)/$", views.unnamed),
    re_path(r"^shop/", include(shop_patterns, namespace="shop")),
    path("admin/", admin.site.urls),
    path("me/", views.me, name="me"),
]
