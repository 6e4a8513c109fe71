import datetime
import json

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Note


def _request_id(request):
    # The id graft gave the request: also sent to the client as X-Request-ID.
    return request.META.get("graft.request_id", "")


def _served_by_python(resp):
    resp["X-Served-By"] = "python"
    return resp


def note_json(note):
    return {
        "id": note.pk,
        "title": note.title,
        "owner": note.owner.username,
        "url": note.get_absolute_url(),
    }


def index(request):
    notes = Note.objects.select_related("owner")
    return _served_by_python(render(request, "notes/index.html", {"notes": notes, "request_id": _request_id(request)}))


def note_detail(request, pk):
    note = get_object_or_404(Note.objects.select_related("owner"), pk=pk)
    return _served_by_python(render(request, "notes/detail.html", {"note": note, "request_id": _request_id(request)}))


@require_POST
def feedback(request):
    # CSRF-protected like every view: CsrfViewMiddleware has checked the
    # token that Go put in the form against the csrftoken cookie.
    message = request.POST.get("message", "").strip()
    if not message:
        return _served_by_python(HttpResponse("Empty message.", status=400, content_type="text/plain"))
    return _served_by_python(render(request, "notes/feedback.html", {"message": message, "request_id": _request_id(request)}))


def whoami(request):
    """The JSON of api/whoami/; main.go's whoami must match it."""
    user = request.user
    return {
        "username": user.get_username() if user.is_authenticated else None,
        "auth_type": request.META.get("AUTH_TYPE") if user.is_authenticated else None,
        "notes_url": reverse("api_notes"),
    }


def api_whoami(request):
    # Go serves GET now; this view is the rollback path (main.go -go=false).
    return _served_by_python(JsonResponse(whoami(request)))


# Clients of the API authenticate with a bearer token that Go checks, not
# with Django's session cookie, so there is no CSRF to protect against.
@csrf_exempt
def api_notes(request):
    if not request.user.is_authenticated:
        return _served_by_python(JsonResponse({"error": "not authenticated"}, status=401))
    if request.method == "POST":
        try:
            data = json.loads(request.body or b"{}")
            title = str(data["title"]).strip()
        except (ValueError, KeyError, TypeError):
            return _served_by_python(JsonResponse({"error": "want JSON with a title"}, status=400))
        if not title:
            return _served_by_python(JsonResponse({"error": "empty title"}, status=400))
        note = Note.objects.create(title=title[:200], body=str(data.get("body", "")), owner=request.user)
        return _served_by_python(JsonResponse(note_json(note), status=201))
    if request.method != "GET":
        return _served_by_python(HttpResponse(status=405, headers={"Allow": "GET, POST"}))
    notes = Note.objects.filter(owner=request.user).select_related("owner")
    return _served_by_python(JsonResponse({
        "user": request.user.get_username(),
        "request_id": _request_id(request),
        "notes": [note_json(n) for n in notes],
    }))


# When the API's current version was released. main.go's port of api_meta
# (migrate.go) has the same value; Django's JSON encoder writes it to the
# millisecond, Go to the microsecond, which the shadow comparison reports.
API_RELEASED = datetime.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=datetime.timezone.utc)


def api_meta(request):
    return _served_by_python(JsonResponse({
        "api": "notes",
        "version": "1.2",
        "released": API_RELEASED,
        "title_max": Note._meta.get_field("title").max_length,
        "request_id": _request_id(request),
    }))
