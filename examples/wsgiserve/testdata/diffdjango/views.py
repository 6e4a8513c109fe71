import hashlib
import json
import os

from django.core.exceptions import PermissionDenied
from django.http import (FileResponse, HttpResponse, HttpResponseRedirect, JsonResponse,
                         StreamingHttpResponse)
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie


def computed(request):
    """What Django computes from the request the server passed on."""
    d = {
        "method": request.method,
        "path": request.path,
        "path_info": request.path_info,
        "script_name": request.META.get("SCRIPT_NAME"),
        "full_path": request.get_full_path(),
        "GET": {k: request.GET.getlist(k) for k in request.GET},
        "scheme": request.scheme,
        "is_secure": request.is_secure(),
        "port": request.get_port(),
        "remote_addr": request.META.get("REMOTE_ADDR"),
        "query_string": request.META.get("QUERY_STRING"),
        "forwarded_headers": sorted(k for k in request.META if k.startswith("HTTP_X_FORWARDED")),
    }
    try:
        d["host"] = request.get_host()
        d["absolute_uri"] = request.build_absolute_uri()
        d["absolute_rel"] = request.build_absolute_uri("x?y=1")
    except Exception as e:  # DisallowedHost
        d["host"] = "error: " + type(e).__name__
    return d


def info(request, rest=""):
    return JsonResponse(computed(request))


@csrf_exempt
def body(request):
    b = request.body
    return JsonResponse({"len": len(b), "sha256": hashlib.sha256(b).hexdigest(),
                         "content_type": request.content_type})


@csrf_exempt
def form(request):
    return JsonResponse({k: request.POST.getlist(k) for k in request.POST})


@csrf_exempt
def upload(request):
    files = {}
    for name, f in request.FILES.items():
        data = f.read()
        files[name] = {"name": f.name, "size": f.size, "class": type(f).__name__,
                       "sha256": hashlib.sha256(data).hexdigest(),
                       "content_type": f.content_type,
                       "on_disk": hasattr(f, "temporary_file_path")}
    return JsonResponse({"files": files, "POST": {k: request.POST.getlist(k) for k in request.POST}})


@ensure_csrf_cookie
def csrf_form(request):
    return HttpResponse('<form method="post"><input name="csrfmiddlewaretoken" value="%s"></form>'
                        % get_token(request))


def csrf_post(request):
    return JsonResponse({"ok": True, "POST": {k: request.POST.getlist(k) for k in request.POST
                                              if k != "csrfmiddlewaretoken"}})


def session(request):
    n = request.session.get("n", 0) + 1
    request.session["n"] = n
    return JsonResponse({"n": n})


def stream(request):
    def gen():
        for i in range(5):
            yield ("part %d\n" % i).encode() * 100
    return StreamingHttpResponse(gen(), content_type="text/plain")


def file(request):
    return FileResponse(open(os.path.join(os.path.dirname(__file__), "..", "diffresp_file.txt"), "rb"),
                        content_type="text/plain")


def etag(request):
    return HttpResponse("etag body " * 50, content_type="text/plain")


def boom(request):
    raise RuntimeError("diffdjango boom")


def denied(request):
    raise PermissionDenied("no")


def headers(request):
    """The request's headers as Django has them, and its cookies."""
    return JsonResponse({
        "META": {k: v for k, v in request.META.items()
                 if k.startswith("HTTP_") and k not in ("HTTP_HOST", "HTTP_CONNECTION")},
        "COOKIES": request.COOKIES,
        "content_type": request.META.get("CONTENT_TYPE"),
        "content_length": request.META.get("CONTENT_LENGTH"),
    })


def bigfile(request):
    """A 1 MiB file (written once into DIFFDJANGO_TMP) as a FileResponse."""
    path = os.path.join(os.environ["DIFFDJANGO_TMP"], "big.bin")
    if not os.path.exists(path):
        tmp = "%s.%d" % (path, os.getpid())
        with open(tmp, "wb") as f:
            f.write(bytes(range(256)) * 4096)
        os.replace(tmp, path)
    return FileResponse(open(path, "rb"), as_attachment=True, filename="r\u00e9sum\u00e9.bin")


def redirect(request):
    return HttpResponseRedirect("/caf\u00e9/?q=\u20ac&r=a b")
