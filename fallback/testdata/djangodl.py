"""A Django project in one module with protected downloads through
X-Sendfile and X-Accel-Redirect (django-sendfile2's backends do the same),
for fallback/sendfile_test.go. GRAFT_DL_DIR is where the files are."""
import os

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="graft-test",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse, HttpResponseForbidden  # noqa: E402
from django.urls import path  # noqa: E402

FILES = os.environ["GRAFT_DL_DIR"]


def xsendfile(request, name):
    if request.GET.get("token") != "ok":
        return HttpResponseForbidden("no")
    response = HttpResponse(content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Sendfile"] = os.path.join(FILES, name)
    return response


def accel(request, name):
    response = HttpResponse(content_type="text/plain")
    response["X-Accel-Redirect"] = "/protected/" + name
    return response


def raw(request):
    response = HttpResponse()
    response["X-Sendfile"] = request.GET["p"]
    return response


urlpatterns = [
    path("dl/<str:name>", xsendfile),
    path("accel/<path:name>", accel),
    path("raw", raw),
]

application = get_wsgi_application()
