import datetime

from django.http import JsonResponse


def user(request, user_id):
    # Django keeps insertion order: name before id, unlike the Go handler.
    return JsonResponse({"name": "Grace", "id": user_id, "score": 10.0, "roles": ["admin"]})


def timed(request, user_id):
    now = datetime.datetime.now(datetime.timezone.utc)
    return JsonResponse({"id": user_id, "now": now.isoformat()})
