from django.contrib.auth.middleware import RemoteUserMiddleware
from django.http import HttpResponse, JsonResponse
from django.views import View
from django.views.decorators.http import require_http_methods, require_POST


def index(request):
    return HttpResponse("rmdjango")


def article(request, pk):
    return HttpResponse("article %d" % pk)


def by_slug(request, slug):
    return HttpResponse(slug)


def dot(request, name):
    return HttpResponse(name)


def post(request, slug, pk):
    return HttpResponse("%s %d" % (slug, pk))


def archive(request, year, month):
    return HttpResponse("%s-%s" % (year, month))


def legacy(request, code):
    return HttpResponse(code)


def by_uuid(request, u):
    return HttpResponse(str(u))


def doc(request, rest):
    return HttpResponse(rest)


def color(request, c):
    return HttpResponse(c)


def unnamed(request, n):
    return HttpResponse(n)


@require_http_methods(["GET", "POST"])
def edit(request, pk):
    return HttpResponse("edit %d" % pk)


@require_POST
def buy(request):
    return HttpResponse("bought")


class ItemView(View):
    http_method_names = ["get", "put", "delete"]

    def get(self, request, pk):
        return JsonResponse({"pk": pk})

    def put(self, request, pk):
        return JsonResponse({"pk": pk})

    def delete(self, request, pk):
        return JsonResponse({"pk": pk})


def ping(request, version):
    return HttpResponse("pong")


def me(request):
    """Who Django's middleware finds for this request (request.user), to
    compare with graft:django's answer."""
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"username": None})
    return JsonResponse({"username": user.get_username()})


class HeaderRemoteUserMiddleware(RemoteUserMiddleware):
    """REMOTE_USER login from a header a front proxy sets, as Django's
    docs show it (GRAFT_TEST_REMOTE_USER=header)."""

    header = "HTTP_X_AUTH_USER"
