import os

from django.conf.urls.i18n import i18n_patterns
from django.http import HttpResponse
from django.urls import include, path, re_path


def view(request, **kwargs):
    return HttpResponse(request.path)


urlpatterns = [
    re_path(r"blogx/", include([path("post/<int:id>/", view, name="post")])),
    re_path(r"noanchor/$", view, name="noanchor"),
    re_path(r"zend/(?P<x>[a-z]+)\Z", view, name="zend"),
]
urlpatterns += i18n_patterns(
    path("about/", view, name="about"),
    prefix_default_language=os.environ.get("GRAFT_I18N_PREFIX_DEFAULT") != "0",
)
