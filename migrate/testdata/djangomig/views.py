import datetime

from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.gzip import gzip_page


def user(request, user_id):
    # Django keeps insertion order: name before id, unlike the Go handler.
    return JsonResponse({"name": "Grace", "id": user_id, "score": 10.0, "roles": ["admin"]})


def timed(request, user_id):
    now = datetime.datetime.now(datetime.timezone.utc)
    return JsonResponse({"id": user_id, "now": now.isoformat()})


@gzip_page
def catalog(request):
    # GZipMiddleware for this view: gzip when the client accepts it and the
    # body is 200 bytes or more. The Go port does not compress.
    return JsonResponse({"items": [{"id": i, "name": "item %d" % i} for i in range(20)]})


def moved(request, user_id):
    # Django's redirect: a 302 with an empty body typed text/html, for
    # every method (no CsrfViewMiddleware here: a POST reaches it).
    return redirect("user", user_id=user_id)


@xframe_options_deny
def framed(request):
    # The headers a project from startproject sends on every answer:
    # XFrameOptionsMiddleware's (here its decorator) and SecurityMiddleware's
    # defaults (set by hand: that middleware would add them to every view).
    resp = JsonResponse({"ok": True})
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Referrer-Policy"] = "same-origin"
    return resp


def docs(request, p):
    # A path converter: one character at least, so /docs/ is Django's 404.
    return JsonResponse({"p": p})


def rest(request, rest):
    # A regex group that takes the empty rest too: /r/ is Django's.
    return JsonResponse({"rest": rest})
