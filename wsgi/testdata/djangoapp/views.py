import hashlib
import json
import os
import tempfile

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST


def index(request):
    return HttpResponse("django index")


def hello(request, name):
    return HttpResponse("hello " + name)


def item(request, item_id):
    return JsonResponse({"id": item_id, "q": request.GET.get("q")})


def param(request, name):
    # name comes from PATH_INFO, decoded by Django (latin-1 bytes -> UTF-8).
    return JsonResponse({"name": name, "path": request.path, "codepoints": [ord(c) for c in name]})


@csrf_exempt
@require_POST
def json_echo(request):
    data = json.loads(request.body)
    return JsonResponse(
        {"got": data, "sum": sum(data.get("numbers", [])), "content_type": request.content_type}, status=201
    )


@csrf_exempt
@require_POST
def form(request):
    return JsonResponse({"fields": {k: request.POST.getlist(k) for k in request.POST}})


@csrf_exempt
@require_POST
def upload(request):
    files = []
    for field in request.FILES:
        for f in request.FILES.getlist(field):
            h, size = hashlib.sha256(), 0
            for chunk in f.chunks():
                h.update(chunk)
                size += len(chunk)
            files.append(
                {
                    "field": field,
                    "filename": f.name,
                    "size": size,
                    "sha256": h.hexdigest(),
                    "storage": type(f).__name__,
                }
            )
    return JsonResponse(
        {
            "files": files,
            "fields": {k: request.POST.getlist(k) for k in request.POST},
            "content_length": request.META.get("CONTENT_LENGTH"),
        }
    )


@require_GET
def session_set(request):
    for k, v in request.GET.items():
        request.session[k] = v
    return JsonResponse({"ok": True})


@require_GET
def session_get(request):
    return JsonResponse({"session": {k: request.session[k] for k in request.session.keys()}})


def cookie_set(request):
    resp = JsonResponse({"ok": True})
    resp.set_cookie("flavour", request.GET.get("v", "plain"), httponly=True)
    resp.set_cookie("size", "large", path="/")
    return resp


def cookie_get(request):
    return JsonResponse({"flavour": request.COOKIES.get("flavour")})


def csrf_form(request):
    # {% csrf_token %} puts the token in the page and sets the csrftoken cookie.
    return render(request, "form.html")


def csrf_submit(request):
    # Protected by CsrfViewMiddleware (not csrf_exempt).
    if request.method != "POST":
        return HttpResponse(status=405)
    return JsonResponse({"ok": True, "msg": request.POST.get("msg")})


def go_redirect(request):
    return redirect("hello", name="world")


def urls(request):
    return JsonResponse(
        {
            "reverse": reverse("hello", args=["x"]),
            "absolute": request.build_absolute_uri(reverse("hello", args=["x"])),
            "script_name": request.META.get("SCRIPT_NAME"),
            "path": request.path,
            "path_info": request.path_info,
        }
    )


def boom(request):
    raise RuntimeError("djangoapp boom")


def whoami(request):
    meta = request.META
    return JsonResponse(
        {
            "user": request.user.get_username() if request.user.is_authenticated else None,
            "remote_user": meta.get("REMOTE_USER"),
            "http_remote_user": meta.get("HTTP_REMOTE_USER"),
            "keys": sorted(k for k in meta if "REMOTE_USER" in k.upper()),
        }
    )


def pattern(n):
    """n bytes of the pattern download tests check: b"graft" + bytes 0..255, repeated."""
    unit = b"graft" + bytes(range(256))
    return (unit * (n // len(unit) + 1))[:n]


def files(request, name):
    # A file the test wrote into $GRAFT_FILES_DIR. FileResponse sets
    # Content-Length from the path; Django's WSGIHandler hands the file to
    # wsgi.file_wrapper, which graft turns into sendfile from Go.
    if "/" in name or name.startswith("."):
        return HttpResponse(status=404)
    path = os.path.join(os.environ["GRAFT_FILES_DIR"], name)
    return FileResponse(open(path, "rb"), content_type="application/octet-stream")


def download(request):
    # FileResponse over a real but unlinked file: no Content-Length; still
    # passed through wsgi.file_wrapper.
    f = tempfile.TemporaryFile()
    f.write(pattern(int(request.GET["n"])))
    f.seek(0)
    return FileResponse(f, content_type="application/octet-stream", filename="data.bin")


def stream(request):
    n = int(request.GET.get("n", "5"))
    return StreamingHttpResponse(("chunk %d\n" % i for i in range(n)), content_type="text/plain")
