"""A one-file Django project with one view: the benchmark suite's Django case."""
import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only-secret",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
    DATABASES={},
)
django.setup()

from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402


def index(request):
    return HttpResponse("Hello world!\n", content_type="text/plain")


urlpatterns = [path("", index)]
app = get_wsgi_application()
